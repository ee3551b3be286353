/* shim.h: the box monitor: one process per running box that owns QEMU, the
 * agent link, the control socket and the box's network process (the
 * README draws the processes under "What it is").
 *
 * Everything runs on one GMainContext. The whole state is one Shim, passed
 * to every function; each shim-*.c file holds one concern and its entry
 * points are declared here. Every way out ends in shim_finish() (shim-main.c).
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "bl-qmp-client.h"
#include <boxlite/boxlite-enums.h>
#include "frame-conn.h"
#include "launch.h"
#include "template-ram.h"

G_BEGIN_DECLS

/* How long a stop asked for without a timeout waits for the guest. */
#define SHIM_STOP_TIMEOUT_MS 10000
/* How long a stop caused by the creator's death waits for the guest. */
#define SHIM_LIFELINE_STOP_TIMEOUT_MS 5000
/* How long QEMU gets to act on "quit" before SIGKILL. */
#define SHIM_QUIT_GRACE_MS 3000
/* console.log is moved to console.log.1 when it reaches this size. */
#define SHIM_CONSOLE_LOG_MAX (G_GUINT64_CONSTANT (1) << 20)
/* How long a "stats" request waits for QEMU's and the guest's figures. */
#define SHIM_STATS_TIMEOUT_MS 5000
/* How long a snapshot waits for the guest's answer to "freeze" or "thaw". */
#define SHIM_FREEZE_ANSWER_MS 5000
/* Interval between attempts to connect to QEMU's sockets: short while
 * QEMU starts (a copy of a template waits for QMP before anything else,
 * and QEMU's sockets appear 50-70 ms after it was started), then longer. */
#define SHIM_CONNECT_RETRY_MS 20
#define SHIM_CONNECT_RETRY_EARLY_MS 2
#define SHIM_CONNECT_EARLY_MS 500

/* Descriptors a template's copy inherits: its state, and its disk open
 * both ways (QEMU reopens the disk when it activates it after the load,
 * by then as its unprivileged user: /dev/fdset/1 gives it these). */
/* In the order of their numbers in QEMU: BL_QEMU_DISK_FD_RW, _RO,
 * BL_QEMU_STATE_FD and BL_QEMU_RAM_FD (qemu-argv.h). */
enum { SHIM_FD_DISK_RW, SHIM_FD_DISK_RO, SHIM_FD_STATE, SHIM_FD_RAM, SHIM_N_PASS_FDS };
#define SHIM_PASS_FD_FIRST 3

typedef struct _Shim Shim;
typedef struct _ShimConsole ShimConsole;
typedef struct _ShimLogFile ShimLogFile;
typedef struct _ShimIdle ShimIdle;
typedef struct _ShimSnapshot ShimSnapshot;

/* One client of the control socket. */
typedef struct {
    Shim *shim;
    BlFrameConn *conn;
    GIOStream *stream;
    GHashTable *channels; /* client channel -> ShimRelay* (not owned) */
    gboolean watching;    /* asked for "state" events */
} ShimClient;

/* One exec channel relayed between a client and the agent. */
typedef struct {
    ShimClient *client; /* NULL once the client went away */
    guint32 client_channel;
    guint32 agent_channel;
    guint64 output_credit; /* bytes of STDOUT+STDERR the client lets the agent send */
    guint64 input_credit;  /* bytes of STDIN the agent lets the client send */
    guint pending_replies; /* requests forwarded to the agent, not yet answered */
    gboolean answered;     /* the first request (exec) got its reply */
    gboolean ended;        /* exit seen or exec refused; waits for pending replies */
    gboolean to_log;       /* a detached command: its output goes to main.log */
    BlFrameConn *starter;  /* who asked for it, answered on channel 0 once it runs */
    char *program;         /* argv[0], for the event journal */
} ShimRelay;

typedef enum {
    SHIM_AGENT_REPLY_HELLO,
    SHIM_AGENT_REPLY_SHUTDOWN,
    SHIM_AGENT_REPLY_MOUNT,
    SHIM_AGENT_REPLY_STATS,
    SHIM_AGENT_REPLY_FREEZE,
    SHIM_AGENT_REPLY_THAW,
    SHIM_AGENT_REPLY_IDENTITY,
} ShimAgentReply;

struct _Shim {
    char *box_dir;
    BlLaunch *launch;
    GMainLoop *loop;
    GCancellable *cancellable; /* cancelled in shim_finish */
    int exit_code;
    gboolean finished;

    /* The library's ends: the boot verdict, and the creator's life. */
    int ready_fd;
    int lifeline_fd;
    guint lifeline_watch;
    guint signal_watches[2];

    /* QEMU */
    GPid qemu_pid; /* 0 when not started */
    guint qemu_watch;
    gboolean qemu_running;
    gint64 qemu_started_us; /* monotonic time QEMU was started at */
    gboolean qemu_killed_by_us;
    int qemu_wait_status;
    BlQmpClient *qmp;
    guint qmp_retry;
    guint kill_timer; /* SIGKILL if "quit" was not obeyed */

    /* The box's state as last recorded: what "watch" answers and pushes. */
    BoxliteBoxState state;

    /* Boot */
    gboolean booted;
    guint boot_timeout;
    char *boot_error; /* why the boot failed, once it has */

    /* Agent link */
    BlFrameConn *agent;
    guint agent_retry;
    GQueue agent_replies; /* ShimAgentReply, in the order the requests went */
    char *crash_reason;   /* set when the agent link broke or misbehaved */
    GHashTable *relays;   /* agent channel -> ShimRelay* (owned) */
    guint32 next_agent_channel;
    GQueue stats_waiting;   /* "stats" requests the agent has yet to answer */
    ShimSnapshot *snapshot; /* the snapshot being taken, or NULL */
    gint64 disk_fdset;      /* QEMU's fd set of the disk it writes (qemu-argv.h) */

    /* Control socket */
    GSocketService *control;
    GPtrArray *clients; /* ShimClient* (owned) */

    /* Stopping */
    gboolean stop_requested;
    const char *stop_reason; /* BL_STOP_REASON_* of the first request to stop */
    gboolean stop_forced;
    guint stop_timer;
    GPtrArray *stop_waiters; /* BlFrameConn* to answer {} once QEMU is gone */

    /* The network process (boxlite-net), when the box has a network */
    GPid net_pid;
    guint net_watch;
    gboolean net_running;

    /* Start from a template (shim-template.c): what QEMU inherits as fds
     * 3, 4, 5... (SHIM_FD_*), the template's lock held until QEMU mapped
     * its RAM, the disk's size it is resized to, and how the box started. */
    int pass_fds[SHIM_N_PASS_FDS];
    int template_lock_fd;
    int ram_fd;                  /* the sealed template RAM this monitor holds (template-ram.h) */
    char *ram_record;            /* the file that says it holds it */
    BlTemplateRamFill *ram_fill; /* a new memfd still to copy and seal, once QEMU started */
    char *ram_fill_error;        /* why that failed: the copy must not run */
    char *template_dir;          /* the template a copy started from, removed if it fails */
    guint template_deadline;
    BoxliteAccel accel; /* as resolved, for a cold start after a failed copy */
    guint tsc_khz;
    guint64 disk_bytes;
    char *start_reason; /* why cold; NULL for a start from a template */

    /* The guest's console, written to a bounded log */
    ShimConsole *console;
    /* What detached commands print (main-log.h), opened on first use */
    ShimLogFile *main_log;
    /* auto_stop's watch, while the box runs with one */
    ShimIdle *idle;
};

/* shim-main.c */
void shim_finish (Shim *shim);
void shim_boot_failed (Shim *shim, const char *message);
void shim_booted (Shim *shim);

/* shim-connect.c */
typedef void (*ShimConnectFunc) (Shim *shim);
/* After a failed attempt (@error) to connect to a socket QEMU creates a
 * little after it starts: calls @again in SHIM_CONNECT_RETRY_EARLY_MS while
 * QEMU is younger than SHIM_CONNECT_EARLY_MS, else SHIM_CONNECT_RETRY_MS, with the
 * source's id in *@slot (0 once it ran), while QEMU runs and the monitor
 * is not ending. Returns whether it will. */
gboolean shim_connect_retry (Shim *shim, const GError *error, guint *slot, ShimConnectFunc again);

/* shim-console.c: listens on BOXDIR/console.sock, where QEMU sends the
 * guest's console, and keeps it in BOXDIR/console.log (rotated at
 * SHIM_CONSOLE_LOG_MAX). Returns: (transfer full): the console, or NULL
 * with @error set. */
ShimConsole *shim_console_listen (const char *box_dir, GError **error);
/* Writes what the guest's console sent and the monitor has not read yet:
 * QEMU may have died with its last words still in the socket. */
void shim_console_drain (ShimConsole *console);
void shim_console_free (ShimConsole *console);

/* shim-log.c */
gboolean shim_log_redirect (const char *box_dir, GError **error);
/* The last @max_lines lines of BOXDIR/@name joined by " | ", or NULL. */
char *shim_log_tail (const char *box_dir, const char *name, guint max_lines);

/* shim-qemu.c */
gboolean shim_qemu_start (Shim *shim, const char *const *argv, GError **error);
void shim_qemu_kill (Shim *shim);
void shim_qemu_quit (Shim *shim);
/* Why QEMU ended, as a sentence (with the end of qemu.log when @with_log);
 * NULL when it exited with status 0. */
char *shim_qemu_describe_exit (Shim *shim, gboolean with_log);
void shim_qmp_status (Shim *shim, BlFrameConn *reply_to);
void shim_qmp_set_paused (Shim *shim, gboolean pause, BlFrameConn *reply_to);

/* shim-net.c: starts boxlite-net and waits until it listens on
 * BOXDIR/net.sock (QEMU connects once, at start). Nothing when the box has
 * no network. Its death ends the box as crashed. */
gboolean shim_net_start (Shim *shim, GError **error);
/* Ends the network process and reaps it (SIGTERM, then SIGKILL). */
void shim_net_stop (Shim *shim);

/* shim-agent.c */
void shim_agent_connect (Shim *shim);
void shim_agent_protocol_error (Shim *shim, const char *message);
gboolean shim_agent_send_request (Shim *shim, guint32 channel, const char *command,
                                  JsonNode *arguments);
void shim_agent_close (Shim *shim);

/* shim-volumes.c: before QEMU starts, checks that QEMU's user may use
 * every host folder (FALSE with @error naming the fix); after "hello",
 * asks the agent to mount them and counts the box as booted once it has. */
gboolean shim_volumes_check (Shim *shim, GError **error);
void shim_volumes_mount (Shim *shim);
void shim_volumes_mount_reply (Shim *shim, JsonObject *msg);

/* shim-control.c */
gboolean shim_control_listen (Shim *shim, GError **error);
void shim_control_close_all (Shim *shim);
void shim_control_reply (BlFrameConn *conn, guint32 channel, JsonNode *ret);
void shim_control_reply_error (BlFrameConn *conn, guint32 channel, const char *klass,
                               const char *desc);
/* Records @state as the box's in the monitor and tells every watching
 * client (the record on disk is written by the caller, first). */
void shim_control_push_state (Shim *shim, BoxliteBoxState state);
/* Reads an int member, or @fallback when absent; FALSE when not an int. */
gboolean shim_json_get_int (JsonObject *obj, const char *name, gint64 fallback, gint64 *out);

/* shim-relay.c */
void shim_relay_from_client (ShimClient *client, guint32 channel, guint type, GBytes *payload);
void shim_relay_from_agent (Shim *shim, guint32 channel, guint type, GBytes *payload);
void shim_relay_client_gone (ShimClient *client);
void shim_relay_free (ShimRelay *relay);
void shim_relay_start_detached (ShimClient *client, JsonObject *args);

/* shim-logfile.c */
ShimLogFile *shim_log_file_open (const char *dir, const char *name, guint64 max, GError **error);
/* Appends @len bytes, splitting them across a rotation. */
void shim_log_file_append (ShimLogFile *log, const guint8 *data, gsize len);
/* Appends @head then @data, rotating first if both would not fit. */
void shim_log_file_append_record (ShimLogFile *log, const guint8 *head, gsize head_len,
                                  const guint8 *data, gsize len);
void shim_log_file_free (ShimLogFile *log);

/* shim-stats.c: the control request "stats" (bl_proto.h). */
void shim_stats_request (ShimClient *client);
/* The agent's answer to the oldest "stats" request. */
void shim_stats_guest_reply (Shim *shim, JsonObject *msg);
/* Drops the requests the agent will not answer any more. */
void shim_stats_clear (Shim *shim);

/* shim-template.c: chooses between a template and a cold boot before QEMU
 * starts (making the template when it is missing or unusable; any failure
 * means a cold boot, with the reason kept), then, once QMP is up, loads
 * the template's state into the box's QEMU, resizes its disk and lets it
 * run. A failure after QEMU started fails the boot. */
void shim_template_choose (Shim *shim, BoxliteAccel resolved, guint tsc_khz);
void shim_template_resume (Shim *shim);
/* A copy of a template that failed before its agent answered "hello" (a
 * QMP step refused, QEMU gone, no answer in time): its QEMU is killed, the
 * template removed, and the box boots cold, with @why recorded. Returns
 * FALSE when the box is not such a copy (the caller fails the boot). */
gboolean shim_template_fall_back (Shim *shim, const char *why);
/* The copy's agent answered: too late to boot cold. */
void shim_template_answered (Shim *shim);
void shim_template_release (Shim *shim);
/* A new memfd of the template's RAM is filled and sealed here, as the
 * copy's QEMU starts (it maps the memfd meanwhile). */
void shim_template_fill_ram (Shim *shim);
/* Stops holding the template's sealed RAM (when the monitor ends or the box
 * goes cold): others starting later no longer find it through us. */
void shim_template_drop_ram (Shim *shim);
/* Opens the box's disk read-write and read-only for QEMU's fd set, once. */
gboolean shim_template_open_disk (Shim *shim, GError **error);
/* Closes the monitor's copies of what QEMU inherits (once it has). */
void shim_template_close_fds (Shim *shim);
/* Sends "identity" (bl_proto.h) after "hello"; its answer goes to
 * shim_volumes_mount(). */
void shim_identity_send (Shim *shim);
void shim_identity_reply (Shim *shim, JsonObject *msg);

/* shim-stop.c: @reason (a BL_STOP_REASON_*) is recorded when this is the
 * first request to stop. */
void shim_stop (Shim *shim, gboolean force, guint timeout_ms, const char *reason);

/* shim-idle.c: auto_stop. Once the box has booted, stops it (as a stop
 * request would, with reason "idle") after launch->auto_stop seconds
 * without a command or a copy running, traffic on its network, or a pause.
 * Nothing when auto_stop is 0. */
void shim_idle_start (Shim *shim);
/* Something happened in the box just now: the idle time starts again. */
void shim_idle_touch (Shim *shim);
void shim_idle_free (Shim *shim);

/* shim-snapshot.c: the control request "snapshot" (bl_proto.h). */
void shim_snapshot_request (ShimClient *client);
/* The agent's answers to "freeze" and "thaw". */
void shim_snapshot_freeze_reply (Shim *shim, JsonObject *msg);
void shim_snapshot_thaw_reply (Shim *shim, JsonObject *msg);

/* shim-lifeline.c */
void shim_lifeline_watch (Shim *shim);
void shim_signals_watch (Shim *shim);
void shim_lifeline_unwatch (Shim *shim);

G_END_DECLS

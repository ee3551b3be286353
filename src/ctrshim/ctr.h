/* ctr.h: containerd-shim-boxlite-v2, containerd's runtime shim v2 that runs
 * each task in a box.
 *
 * containerd runs the binary three ways: `start` (print the address of a
 * ttrpc socket and leave a daemon serving it), `delete` (clean up after a
 * shim that is gone), and, through `start`, the daemon itself. The daemon
 * serves containerd's Task service (shim.proto) for one task, or for the
 * containers of one Kubernetes pod: Create boots a box on the bundle's root
 * filesystem, Start runs the bundle's process in it, Exec adds more; each
 * process's stdio goes through the FIFOs containerd names. A pod's
 * containers join the box of its sandbox container (ctr-pod.c). One GLib
 * main loop is the only scheduler; the state is one BlCtrShim passed
 * around.
 *
 * Everything a ttrpc client sends is checked (ttrpc-frame.h); the bundle
 * and the specs are checked against fixed bounds before use.
 */
#pragma once

#include <gio/gio.h>
#include <protobuf-c/protobuf-c.h>

#include <boxlite/boxlite.h>

#include "timestamp.pb-c.h"
#include "ttrpc-conn.h"

G_BEGIN_DECLS

#define BL_CTR_TASK_SERVICE "containerd.task.v2.Task"
/* The largest config.json or process spec read. */
#define BL_CTR_MAX_SPEC (1u << 20)
/* Most processes (the task's and its execs) one shim keeps. */
#define BL_CTR_MAX_PROCESSES 256

/* containerd's flags, as `start` and `delete` get them. */
typedef struct {
    char *namespace;
    char *address;
    char *publish_binary;
    char *id;
    char *bundle;
    char *socket; /* the daemon's: the socket `start` bound */
    char *group;  /* the daemon's: the pod's sandbox id, or the task's id */
    gboolean debug;
} BlCtrFlags;

/* What the CRI's annotations make of a container. */
typedef enum {
    BL_CTR_POD_NONE,      /* a task of its own (ctr run) */
    BL_CTR_POD_SANDBOX,   /* a pod's sandbox container: its box is the pod's */
    BL_CTR_POD_CONTAINER, /* one of the pod's application containers */
} BlCtrPodRole;

/* What a process runs, from config.json or an Exec's spec. */
typedef struct {
    char **argv;
    char **env;
    char *cwd;
    char *user; /* "uid:gid" */
    gboolean terminal;
    guint cpus;       /* 0: the box default (config.json only) */
    guint memory_mib; /* 0: the box default */
    char **allow_net; /* boxlite.io/allow-net; NULL: the default network */
    gboolean network_off;
    BlCtrPodRole pod_role;
    char *sandbox_id; /* the pod's, from the CRI's annotations; NULL: none */
} BlCtrSpec;

typedef enum {
    BL_CTR_CREATED = 1,
    BL_CTR_RUNNING = 2,
    BL_CTR_STOPPED = 3,
    BL_CTR_PAUSED = 4,
} BlCtrStatus;

/* A request's message, decoded by protobuf-c. */
typedef ProtobufCMessage BlCtrMessage;
void bl_ctr_message_free (BlCtrMessage *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlCtrMessage, bl_ctr_message_free)

typedef struct _BlCtrShim BlCtrShim;

/* A container the shim serves, with its processes. */
typedef struct {
    char *id;
    char *bundle;
    char *rootfs;          /* BUNDLE/rootfs while mounted by us */
    char *share;           /* a pod member's: its root shared into the pod's box */
    BlCtrPodRole pod_role; /* POD_CONTAINER: runs in the box of the pod's sandbox */
    GHashTable *processes; /* exec id -> BlCtrProcess * */
} BlCtrContainer;

/* One process of a container: the init one (exec id "") or an exec. */
typedef struct {
    BlCtrShim *shim;
    BlCtrContainer *container;
    char *exec_id;
    BlCtrSpec *spec;
    char *stdin_path, *stdout_path, *stderr_path;
    BlCtrStatus status;
    guint32 pid;
    guint32 exit_status;
    gint64 exited_at; /* microseconds since the epoch */
    BoxliteExecution *execution;
    int stdin_keeper; /* our write end of the stdin FIFO until CloseIO */
    guint io_pending; /* output copies still running */
    GList *waiters;   /* BlCtrWaiter * */
    GCancellable *cancellable;
} BlCtrProcess;

struct _BlCtrShim {
    BlCtrFlags flags;
    GMainLoop *loop;
    GSocketService *service;
    GList *conns; /* BlTtrpcConn * */
    char *home;   /* the task's (or pod's) BOXLITE_HOME */
    BoxliteRuntime *runtime;
    BoxliteBox *box;        /* the task's, or the pod's */
    GHashTable *containers; /* id -> BlCtrContainer * */
    GQueue events;          /* BlCtrEvent *, published one at a time */
    gboolean publishing;
    gboolean shutting_down;
    guint quit_ticks; /* waited for events to go out */
};

/* ctr-flags.c */
gboolean bl_ctr_flags_parse (BlCtrFlags *flags, int argc, char **argv, char **action,
                             GError **error);
void bl_ctr_flags_clear (BlCtrFlags *flags);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (BlCtrFlags, bl_ctr_flags_clear)
/* The socket path for a task: under the folder of containerd's socket. */
char *bl_ctr_socket_path (const BlCtrFlags *flags);
/* The task's boxlite home: $BOXLITE_CTR_ROOT (or /var/lib/boxlite/containerd)
 * and a hash of namespace and id, short enough for the box's sockets. */
char *bl_ctr_home_path (const BlCtrFlags *flags);

/* ctr-start.c: `start` and `delete`. */
int bl_ctr_cmd_start (BlCtrFlags *flags);
int bl_ctr_cmd_delete (BlCtrFlags *flags);
/* Stops and removes every box of the task's home, then the home. */
gboolean bl_ctr_cleanup_home (const char *home, GError **error);

/* ctr-serve.c: the daemon. */
int bl_ctr_serve (BlCtrFlags *flags, int listen_fd);
void bl_ctr_shim_quit_when_idle (BlCtrShim *shim);

/* ctr-spec.c */
/* The longest container or sandbox id taken where it names a folder. */
#define BL_CTR_MAX_ID 128
/* Whether @id can name a folder: letters, digits, '_', '.' and '-', not
 * starting with '.', at most BL_CTR_MAX_ID. */
gboolean bl_ctr_id_valid (const char *id);
BlCtrSpec *bl_ctr_spec_from_config (const char *bundle, GError **error);
BlCtrSpec *bl_ctr_spec_from_process_json (const guint8 *data, gsize len, GError **error);
void bl_ctr_spec_free (BlCtrSpec *spec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlCtrSpec, bl_ctr_spec_free)

/* ctr-rootfs.c: the snapshot containerd names, mounted on BUNDLE/rootfs. */
typedef struct {
    char *type;
    char *source;
    char **options;
} BlCtrMount;
gboolean bl_ctr_rootfs_mount (const char *target, const BlCtrMount *mounts, gsize n_mounts,
                              GError **error);
gboolean bl_ctr_rootfs_unmount (const char *target, GError **error);

/* ctr-events.c: task events through containerd's publish binary. */
void bl_ctr_publish (BlCtrShim *shim, const char *topic, const char *type_name,
                     const ProtobufCMessage *event);
/* Drops the events not yet sent (the shim is leaving). */
void bl_ctr_events_clear (BlCtrShim *shim);

/* ctr-pod.c: a pod's containers in one box. */
/* The guest folder where the pod's box sees its members' root filesystems. */
#define BL_CTR_POD_GUEST_SHARE "/run/boxlite/pod"
/* The guest folder of the members' roots (their writable layer beside). */
#define BL_CTR_POD_GUEST_ROOTS "/var/lib/boxlite-pod"
/* The id whose shim serves @id: the pod's sandbox id for an application
 * container the CRI names, else @id; from the bundle's config.json. */
char *bl_ctr_group_of (const char *id, const char *bundle);
/* The host folder shared into a pod's box (HOME/pod). */
char *bl_ctr_pod_share_dir (const char *home);
/* Shares @container's mounted root into the pod's box, read-only, nodev,
 * nosuid. */
gboolean bl_ctr_pod_share (BlCtrShim *shim, BlCtrContainer *container, GError **error);
/* Undoes bl_ctr_pod_share() for every member left in @home's share. */
gboolean bl_ctr_pod_unshare_all (const char *home, GError **error);
gboolean bl_ctr_pod_unshare (BlCtrContainer *container, GError **error);
/* Unmounts and removes the share folder @share, if there is one. */
gboolean bl_ctr_pod_unshare_path (const char *share, GError **error);

BlCtrContainer *bl_ctr_container_new (const char *id, const char *bundle, BlCtrPodRole role);
void bl_ctr_container_free (BlCtrContainer *container);

/* ctr-process.c */
BlCtrProcess *bl_ctr_process_new (BlCtrShim *shim, BlCtrContainer *container, const char *exec_id,
                                  BlCtrSpec *spec, const char *stdin_path, const char *stdout_path,
                                  const char *stderr_path);
void bl_ctr_process_free (BlCtrProcess *process);
/* Runs @process in the box; @done gets the outcome (a GError or none). */
void bl_ctr_process_start (BlCtrProcess *process, GAsyncReadyCallback done, gpointer user_data);
gboolean bl_ctr_process_start_finish (BlCtrProcess *process, GAsyncResult *result, GError **error);
/* Marks @process exited with @status now (if it has not), answers its
 * waiters and publishes TaskExit. */
void bl_ctr_process_exited (BlCtrProcess *process, guint32 status);
void bl_ctr_process_add_waiter (BlCtrProcess *process, BlTtrpcConn *conn, guint32 stream_id);
gboolean bl_ctr_process_kill (BlCtrProcess *process, guint signal_number, GError **error);
void bl_ctr_process_close_stdin (BlCtrProcess *process);
/* Sends @signal_number to every running process of @container. */
void bl_ctr_container_kill_all (BlCtrContainer *container, guint signal_number);

/* ctr-task.c: the Task service's methods. */
void bl_ctr_task_dispatch (BlCtrShim *shim, BlTtrpcConn *conn, BlTtrpcRequest *request);
/* The process @exec_id of task @id, or NULL once @stream_id is answered
 * NOT_FOUND. */
BlCtrProcess *bl_ctr_task_lookup (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id,
                                  const char *id, const char *exec_id);

/* ctr-task-info.c: the queries, each with its request decoded. */
void bl_ctr_task_state (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg);
void bl_ctr_task_pids (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg);
void bl_ctr_task_stats (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg);
void bl_ctr_task_connect (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id,
                          BlCtrMessage **msg);

/* @payload decoded as a @descriptor message, or NULL once @stream_id is
 * answered INVALID_ARGUMENT. */
BlCtrMessage *bl_ctr_unpack (const ProtobufCMessageDescriptor *descriptor, BlTtrpcConn *conn,
                             guint32 stream_id, GBytes *payload);

/* A protobuf Timestamp of @usec, microseconds since the epoch. */
static inline Google__Protobuf__Timestamp
bl_ctr_timestamp (gint64 usec)
{
    Google__Protobuf__Timestamp at = GOOGLE__PROTOBUF__TIMESTAMP__INIT;

    at.seconds = usec / G_USEC_PER_SEC;
    at.nanos = (gint32) (usec % G_USEC_PER_SEC) * 1000;
    return at;
}

/* Answers @request with @msg packed (NULL: an empty reply). */
void bl_ctr_reply (BlTtrpcConn *conn, guint32 stream_id, const ProtobufCMessage *msg);
void bl_ctr_reply_error (BlTtrpcConn *conn, guint32 stream_id, BlTtrpcCode code, const char *format,
                         ...) G_GNUC_PRINTF (4, 5);

G_END_DECLS

/* agent.h: the boxlite guest agent, PID 1 of every box.
 *
 * Plain libc (the binary is static, so no NSS and no GLib). The agent speaks
 * the framing of bl_proto.h on one virtio-serial port (or, for tests, on an
 * inherited file descriptor) from a single-threaded poll() loop. */
#ifndef BOXLITE_AGENT_H
#define BOXLITE_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/types.h>

#include "bl_proto.h"

#define AGENT_VERSION_STRING "0.1.0"

#define AGENT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define AGENT_NORETURN __attribute__((noreturn))

/* ---- agent_json.c: a small bounded JSON reader and writer ---------------- */

#define AGENT_JSON_MAX_INPUT BL_PROTO_MAX_PAYLOAD
#define AGENT_JSON_MAX_DEPTH 32
#define AGENT_JSON_MAX_NODES 8192

enum agent_json_type {
    AGENT_JSON_NULL,
    AGENT_JSON_BOOL,
    AGENT_JSON_INT,
    AGENT_JSON_STRING,
    AGENT_JSON_ARRAY,
    AGENT_JSON_OBJECT,
};

struct agent_json {
    enum agent_json_type type;
    bool boolean;
    long long integer;
    char *str; /* NUL-terminated; may hold NULs when str_len says so */
    size_t str_len;
    size_t n;                  /* members of an array or object */
    char **keys;               /* object member names (NUL-terminated) */
    struct agent_json **items; /* array elements or object member values */
};

struct agent_json *agent_json_parse(const char *text, size_t len);
void agent_json_free(struct agent_json *v);
/* Member @key of object @obj (the last one if repeated), or NULL. */
const struct agent_json *agent_json_get(const struct agent_json *obj, const char *key);
/* A string member without embedded NULs, or NULL. */
const char *agent_json_get_str(const struct agent_json *obj, const char *key);
bool agent_json_is_cstring(const struct agent_json *v);

struct agent_buf {
    char *data;
    size_t len;
    size_t cap;
};

void agent_buf_free(struct agent_buf *b);
void agent_buf_add(struct agent_buf *b, const void *data, size_t len);
void agent_buf_add_str(struct agent_buf *b, const char *s);
void agent_buf_addf(struct agent_buf *b, const char *fmt, ...) AGENT_PRINTF(2, 3);
/* Appends @s as a quoted, escaped JSON string. */
void agent_buf_add_json_str(struct agent_buf *b, const char *s);

/* ---- agent_frame.c: framing and the bounded output queue ---------------- */

/* Past this many queued bytes the loop stops reading (host and children). */
#define AGENT_OUTQ_HIGH (1024 * 1024)
/* Past this the link is considered broken. */
#define AGENT_OUTQ_LIMIT (8 * 1024 * 1024)

struct agent_link;
/* Returns 0, or -1 for a protocol violation (the link is then closed). */
typedef int (*agent_frame_cb)(struct agent_link *link, const struct bl_frame_header *h,
                              const uint8_t *payload, void *user_data);

struct agent_link {
    int fd;
    /* input assembly */
    uint8_t hdr[BL_PROTO_HEADER_SIZE];
    size_t hdr_got;
    struct bl_frame_header cur;
    uint8_t payload[BL_PROTO_MAX_PAYLOAD];
    size_t payload_got;
    /* output queue: bytes [start, end) of buf */
    uint8_t *out;
    size_t out_start;
    size_t out_end;
    size_t out_cap;
    bool broken;
    /* agent_splice.c: a frame staged in a pipe, written before the queue */
    int stage[2]; /* the staging pipe, once stage_ready */
    bool stage_ready;
    size_t staged;    /* its bytes not yet written to fd */
    uint64_t spliced; /* bytes written to fd by splice (header included) */
    bool splice_off;  /* fd took no splice: the read path only */
};

void agent_link_init(struct agent_link *link, int fd);
void agent_link_reset(struct agent_link *link, int fd);
/* Reads what is available and dispatches whole frames. Returns 1 when
 * something was read, 0 on EOF, -1 on a read error or protocol violation. */
int agent_link_read(struct agent_link *link, agent_frame_cb cb, void *user_data);
/* Writes what the fd takes without blocking. Returns -1 on a write error. */
int agent_link_flush(struct agent_link *link);
/* Waits (at most @timeout_ms) until the queue is written out. */
int agent_link_drain(struct agent_link *link, int timeout_ms);
/* Bytes still to write: the staged frame and the queue. */
size_t agent_link_pending(const struct agent_link *link);
/* Room for @len bytes at the head of the queue, before what is queued (a
 * staged frame's rest, taken over by the queue). */
uint8_t *agent_link_head_room(struct agent_link *link, size_t len);
/* Room for a frame of up to @max payload bytes at the end of the queue, to
 * read into in place (one copy fewer); NULL, with the link broken, when the
 * queue would pass AGENT_OUTQ_LIMIT. agent_link_commit() queues it with the
 * @len bytes that were put there. */
uint8_t *agent_link_reserve(struct agent_link *link, size_t max);
void agent_link_commit(struct agent_link *link, uint32_t channel, uint8_t type, size_t len);
void agent_link_queue(struct agent_link *link, uint32_t channel, uint8_t type, const void *data,
                      size_t len);
void agent_link_queue_json(struct agent_link *link, uint32_t channel, const struct agent_buf *json);
void agent_link_queue_error(struct agent_link *link, uint32_t channel, const char *klass,
                            const char *desc);

/* ---- agent_splice.c: output frames staged by splice(2) ------------------ */

void agent_splice_init(struct agent_link *link);
/* Closes the staging pipe and forgets what it held (the link is gone). */
void agent_splice_reset(struct agent_link *link);
/* Sends one frame of up to @max bytes (> 0) of @src, a pipe, on @channel
 * without copying them, when the queue is empty, nothing is staged and @src
 * holds enough to be worth it. Returns the payload length committed (the
 * caller's credit is spent), 0 when the caller should read instead, or -1
 * with the link broken. */
ssize_t agent_splice_output(struct agent_link *link, int src, uint32_t channel, uint8_t type,
                            size_t max);
/* Writes what the fd takes of the staged frame; a fd that takes no splice
 * gets the rest through the queue. Returns -1 on a write error. */
int agent_splice_flush(struct agent_link *link);

/* ---- agent_user.c: users and groups from /etc/passwd and /etc/group ----- */

#define AGENT_MAX_GROUPS 64

struct agent_user {
    uid_t uid;
    gid_t gid;
    char home[512];
    gid_t groups[AGENT_MAX_GROUPS];
    size_t n_groups;
};

/* Resolves "name", "uid", "uid:gid" (either part a name or a number), or NULL
 * for root. @root_dir prefixes the files (NULL or "" for /). Returns 0, or -1
 * with a message in @err. */
/* agent_root.c: a command's own root (exec's "root" and "root_lower"). */
#define AGENT_ROOT_MAX 1024
/* Lays, once, a writable overlay of @lower at @root (its upper layer in
 * @root.rw); nothing when @lower is NULL or @root is mounted already. */
int agent_root_prepare(const char *root, const char *lower, char *err, size_t err_len);
/* In a forked child: @root becomes "/", with the box's /proc, /sys and /dev
 * in a mount namespace of the child's own. Returns -1 with errno. */
int agent_root_enter(const char *root);

int agent_user_resolve(const char *spec, const char *root_dir, struct agent_user *out, char *err,
                       size_t err_len);

/* ---- agent_tty.c: pseudo-terminals -------------------------------------- */

struct agent_tty_size {
    unsigned short rows;
    unsigned short cols;
};

/* Reads {"rows": R, "cols": C} (each within the BL_PROTO_TTY_* bounds).
 * Returns 0, or -1 with a message naming @what in @err. */
int agent_tty_parse_size(const struct agent_json *obj, struct agent_tty_size *size, char *err,
                         size_t err_len, const char *what);
/* A new master (close-on-exec) whose terminal has @size, or -errno. */
int agent_tty_open(const struct agent_tty_size *size);
/* Returns 0 or -errno. */
int agent_tty_set_size(int master, const struct agent_tty_size *size);
/* In the child, after setsid(): makes the slave of @master the controlling
 * terminal and fds 0, 1 and 2, owned by @owner. Returns 0 or an errno. */
int agent_tty_child(int master, uid_t owner);
/* The terminal's end-of-file character, or -1 when it has none. */
int agent_tty_eof_char(int master);

/* ---- agent_exec.c: the processes run on behalf of the host -------------- */

/* How long a terminal's output may go on after its command exited (other
 * processes may still hold the terminal open). */
#define AGENT_TTY_DRAIN_MS 500

struct agent_chan {
    struct agent_chan *next;
    uint32_t id;
    pid_t pid;
    int out_fd; /* -1 once at EOF */
    int err_fd;
    int in_fd;                 /* -1 when closed or /dev/null */
    int tty_fd;                /* the terminal's master, or -1 without a terminal */
    int64_t drain_deadline_ms; /* terminal: when output stops being awaited */
    bool reaped;
    int status;
    bool timed_out;
    int cg_fd;        /* the exec's cgroup directory, or -1 */
    int cg_serial;    /* its name (agent_cgroup.c) */
    bool worker;      /* a file copy: stderr is its error report */
    char report[512]; /* the worker's error report, cut to fit */
    size_t report_len;
    int64_t deadline_ms; /* 0 = none */
    uint64_t credit;     /* bytes we may still send (stdout + stderr) */
    /* stdin */
    uint8_t *in_buf;
    size_t in_len;
    size_t in_window; /* bytes the host may still send */
    bool in_eof;
    /* indexes into the poll array of the current iteration, or -1 */
    int pi_out;
    int pi_err;
    int pi_in;
};

struct agent_exec_state {
    struct agent_chan *chans;
    uint32_t tombs[256]; /* recently finished channels: late frames are dropped */
    size_t n_tombs;
    size_t tomb_next;
};

/* A function run in a forked child instead of a program (file copies). */
typedef int (*agent_worker_fn)(void *arg);
/* Starts @fn (@arg) in a child whose stdin (when @want_stdin), stdout and
 * stderr are the channel's, and replies {"pid": N}. What the child writes
 * to stderr ("Class\tdescription") becomes the "error" of its exit event. */
void agent_exec_start_worker(struct agent_exec_state *st, struct agent_link *link, uint32_t channel,
                             bool want_stdin, agent_worker_fn fn, void *arg);

/* Handles "exec" on @channel: replies (and creates the channel on success). */
void agent_exec_start(struct agent_exec_state *st, struct agent_link *link, uint32_t channel,
                      const struct agent_json *args);
void agent_exec_signal(struct agent_exec_state *st, struct agent_link *link, uint32_t channel,
                       const struct agent_json *args);
void agent_exec_resize(struct agent_exec_state *st, struct agent_link *link, uint32_t channel,
                       const struct agent_json *args);
struct agent_chan *agent_exec_find(struct agent_exec_state *st, uint32_t channel);
bool agent_exec_is_tomb(struct agent_exec_state *st, uint32_t channel);
/* STDIN / CREDIT frames. Returns -1 on a protocol violation. */
int agent_exec_stdin(struct agent_exec_state *st, struct agent_link *link, struct agent_chan *ch,
                     const uint8_t *data, size_t len);
int agent_exec_credit(struct agent_chan *ch, uint32_t n);
/* Records the status of a reaped process; false if no channel owns it. */
bool agent_exec_reaped(struct agent_exec_state *st, pid_t pid, int status);
/* Polling support: fills @fds (returns how many) with what each channel waits on. */
size_t agent_exec_poll_count(const struct agent_exec_state *st);
size_t agent_exec_fill_poll(struct agent_exec_state *st, struct pollfd *fds, size_t max,
                            bool allow_output);
/* Acts on the poll results, sends output and exit events, kills on timeouts. */
void agent_exec_dispatch(struct agent_exec_state *st, struct agent_link *link, struct pollfd *fds,
                         size_t n, int64_t now_ms);
/* Milliseconds until the next timeout (-1 for none). */
int agent_exec_next_timeout(const struct agent_exec_state *st, int64_t now_ms);
/* Kills every process group and forgets every channel. */
void agent_exec_kill_all(struct agent_exec_state *st);

/* ---- agent_cgroup.c: the box's process cap and OOM accounting ----------- */

/* As PID 1: mounts cgroup2, puts the agent out of the OOM killer's reach and
 * makes the capped cgroup every exec runs under. Failures are logged; execs
 * are then refused (agent_cgroup_create). */
void agent_cgroup_setup(unsigned long pids_max);
/* Makes a cgroup for one exec and opens it into @dir_fd (-1 when the agent
 * runs without cgroups, as in --fd mode). Returns its serial (>= 0), or -1
 * with a message in @err when the limits are not in place. */
int agent_cgroup_create(int *dir_fd, char *err, size_t err_len);
/* In the child, before execve(): moves the calling process into @dir_fd and
 * gives up the agent's OOM immunity. Returns 0 or -errno. */
int agent_cgroup_join(int dir_fd);
/* Ends every process of the cgroup. */
void agent_cgroup_kill(int dir_fd);
/* Whether the OOM killer killed a process of the cgroup. */
bool agent_cgroup_oom_killed(int dir_fd);
/* Closes @dir_fd and removes the cgroup (later, if processes remain). */
void agent_cgroup_release(int *dir_fd, int serial);
/* ---- agent_tar.c: the tar streams of file copies ------------------------ */

/* Longest name or link target read or written (PATH_MAX). */
#define AGENT_TAR_MAX_NAME 4096

enum agent_tar_type {
    AGENT_TAR_REG = '0',
    AGENT_TAR_LINK = '1', /* hard link to an earlier entry */
    AGENT_TAR_SYMLINK = '2',
    AGENT_TAR_CHR = '3',
    AGENT_TAR_BLK = '4',
    AGENT_TAR_DIR = '5',
    AGENT_TAR_FIFO = '6',
};

struct agent_tar_entry {
    char name[AGENT_TAR_MAX_NAME + 1];
    char link[AGENT_TAR_MAX_NAME + 1];
    enum agent_tar_type type;
    uint32_t mode; /* permission bits only */
    uint32_t uid;
    uint32_t gid;
    int64_t mtime;
    long mtime_nsec;
    uint64_t size; /* data bytes, regular files only */
    uint32_t dev_major;
    uint32_t dev_minor;
};

/* What extended headers say about the entry that follows them. */
struct agent_tar_ext {
    char name[AGENT_TAR_MAX_NAME + 1];
    char link[AGENT_TAR_MAX_NAME + 1];
    uint64_t size;
    uint32_t uid, gid;
    int64_t mtime;
    long mtime_nsec;
    bool has_name, has_link, has_size, has_uid, has_gid, has_mtime;
};

struct agent_tar_out {
    int fd;
    size_t len;
    uint8_t buf[64 * 1024];
};

/* Header (with a pax header before it when needed), data, padding, and the
 * end marker. Each returns 0, or -1 when writing failed (errno set). */
int agent_tar_write_header(struct agent_tar_out *out, const struct agent_tar_entry *e);
int agent_tar_write_data(struct agent_tar_out *out, const void *data, size_t len);
int agent_tar_pad(struct agent_tar_out *out, uint64_t size);
int agent_tar_finish(struct agent_tar_out *out);
int agent_tar_flush(struct agent_tar_out *out);

struct agent_tar_in {
    /* Returns bytes read (> 0), 0 at the end, -1 on an error. */
    ssize_t (*read)(void *ctx, void *buf, size_t len);
    void *ctx;
    uint64_t remaining; /* data bytes of the current entry not yet read */
    uint64_t pad;
};

/* Reads the next entry's header, skipping what is left of the previous
 * entry. Returns 1 with @e filled, 0 at the end marker, or -1 with a
 * message in @err for a malformed, truncated or unsupported archive. */
int agent_tar_next(struct agent_tar_in *in, struct agent_tar_entry *e, char *err, size_t err_len);
/* Reads the current entry's data: bytes read, 0 at its end, -1 when the
 * archive is cut short. */
ssize_t agent_tar_read_data(struct agent_tar_in *in, void *buf, size_t len);

/* ---- agent_files.c: "copy_out" and "copy_in" channels -------------------- */

/* Handles "copy_out" / "copy_in" on @channel: a worker process writes or
 * reads the tar stream as a command's stdout or stdin. */
void agent_files_start(struct agent_exec_state *st, struct agent_link *link, uint32_t channel,
                       const char *cmd, const struct agent_json *args);
/* The worker's entry points (in the forked child; fds 0, 1, 2 are the
 * channel's stdin, stdout and the error report). Return the exit status. */
int agent_files_copy_out(const char *path);
int agent_files_copy_in(const char *path, bool raw, bool exact, bool owners);

/* ---- agent_identity.c: the session request "identity" -------------------- */

#define AGENT_HOSTNAME_MAX 64
#define AGENT_ENTROPY_MIN 32

struct agent_identity {
    char hostname[AGENT_HOSTNAME_MAX];
    char box_id[80];
    bool network;           /* the box has eth0 */
    unsigned long pids_max; /* the box's process cap */
    uint64_t disk_bytes;    /* the root disk's size to wait for; 0 = as found */
    int64_t time_ns;        /* the host's wall clock, ns since the epoch */
    uint8_t entropy[64];
    size_t entropy_len;
};

/* Checks and copies the arguments of "identity" (bl_proto.h). Returns 0, or
 * -1 with a message in @err. */
int agent_identity_parse(const struct agent_json *args, struct agent_identity *id, char *err,
                         size_t err_len);
/* As PID 1: sets the wall clock and reseeds the kernel's generator with the
 * host's bytes (exits the machine if it cannot). */
void agent_identity_apply(const struct agent_identity *id);
/* As PID 1, before each "ready": rekeys the kernel's generator, so that a
 * template's copies differ only by what identity gives them. */
void agent_identity_fix_rng(void);

/* ---- agent_init.c: PID 1 duties ----------------------------------------- */

/* Console, pseudo filesystems and modules: what a template VM has done
 * when it is stopped. Exits the machine through agent_fatal() on failure. */
void agent_init_early(void);
/* The box's own part, once the host said who it is: the root disk (its
 * size awaited, grown to its device), switch_root, the process limits,
 * hostname, loopback, network. Exits the machine on failure. */
void agent_init_root(const struct agent_identity *id);
/* Opens the agent's virtio-serial port (waiting for it), or returns -1. */
int agent_init_open_port(void);
/* Ends every process, syncs, makes / read-only and reboots. */
void agent_init_poweroff(void) AGENT_NORETURN;
void agent_fatal(const char *fmt, ...) AGENT_PRINTF(1, 2) AGENT_NORETURN;

/* ---- agent_net.c: eth0 when the box has a network ----------------------- */

/* With @enabled, addresses eth0 and adds the default route. Run in the
 * box's root. */
void agent_net_setup(bool enabled);
/* Addresses eth0 when the box has one at boot (nothing of one box). */
void agent_net_early(void);

/* ---- agent_etc.c: /etc/hostname, /etc/hosts, /etc/resolv.conf ---------- */

/* The box's name, localhost and (with @network) the host's alias and the
 * resolver, on /run and bind-mounted over the image's files. */
void agent_etc_setup(const char *hostname, bool network);

/* ---- agent_volumes.c: the session request "mount" ----------------------- */

/* Makes @path and its parents (0755), like mkdir -p. Returns 0 or -errno. */
int agent_make_dirs(const char *path);

/* Checks every volume of @args, then mounts each 9p tag at its path (making
 * it), and answers on channel 0: {} or the first failure. Only as PID 1. */
void agent_volumes_mount(struct agent_link *link, const struct agent_json *args);

/* ---- agent_stats.c: the session request "stats" -------------------------- */

/* Answers on channel 0 with the guest's memory, load, process count and
 * root filesystem figures (see bl_proto.h). */
void agent_stats_reply(struct agent_link *link);

/* ---- agent_freeze.c: the session requests "freeze" and "thaw" ----------- */

/* At most this many filesystems are frozen at once. */
#define AGENT_FREEZE_MAX 16
/* The longest a freeze lasts without a thaw (BL_PROTO_FREEZE_MAX_MS). */
#define AGENT_FREEZE_MAX_MS BL_PROTO_FREEZE_MAX_MS

struct agent_freeze {
    int fds[AGENT_FREEZE_MAX]; /* the frozen mount points, in freeze order */
    unsigned devs[AGENT_FREEZE_MAX][2];
    size_t n;
    int64_t deadline_ms; /* when the loop thaws by itself */
    bool expired;        /* the deadline thawed them before the host did */
};

bool agent_freeze_active(const struct agent_freeze *fz);
/* "freeze" {"timeout_ms": N}: freezes every writable block-backed mount,
 * all or none, and answers {"frozen": N} or an error. Only as PID 1. */
void agent_freeze_request(struct agent_freeze *fz, struct agent_link *link,
                          const struct agent_json *args);
/* "thaw" {}: answers {"thawed": N, "expired": bool}. */
void agent_thaw_request(struct agent_freeze *fz, struct agent_link *link);
/* Milliseconds until the deadline (-1 when nothing is frozen). */
int agent_freeze_next_timeout(const struct agent_freeze *fz, int64_t now_ms);
/* Thaws once the deadline has passed. */
void agent_freeze_tick(struct agent_freeze *fz, int64_t now_ms);
/* Thaws whatever is frozen: the link ended or the box shuts down. */
void agent_freeze_end(struct agent_freeze *fz);

/* ---- agent_main.c ------------------------------------------------------- */

extern bool agent_is_pid1;
void agent_log(const char *fmt, ...) AGENT_PRINTF(1, 2);
int64_t agent_now_ms(void);
/* Reaps every exited child (status of ours goes to its channel). */
void agent_reap(struct agent_exec_state *st);

#endif /* BOXLITE_AGENT_H */

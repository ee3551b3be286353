/* e2b.h: the E2B-compatible API under /e2b: E2B's control plane (sandboxes)
 * and the in-box API its SDKs call (envd: Connect-RPC with the JSON codec,
 * /files, /health), a sandbox being a box.
 *
 * Everything an SDK sends is hostile like any other request: bodies are
 * bounded by the server before they are read, envelopes by the reader
 * here, and the guest's answers (file listings, output) are bounded too. */
#pragma once

#include "serve.h"

G_BEGIN_DECLS

/* The envd version we report: the features the SDK gates on it up to this
 * one (stdin close, no default user) are implemented. */
#define BL_E2B_ENVD_VERSION "0.5.2"
/* A sandbox lives this long unless told otherwise (E2B's default). */
#define BL_E2B_DEFAULT_TIMEOUT_S 300
/* ... and at most this long. */
#define BL_E2B_MAX_TIMEOUT_S (24 * 3600)
/* Output of one command kept for its answer, per stream. */
#define BL_E2B_MAX_OUTPUT (16u * 1024 * 1024)
/* Bytes of one Connect envelope's message. */
#define BL_E2B_MAX_ENVELOPE BL_SERVE_MAX_JSON_BODY

/* e2b-connect.c: Connect's streaming envelope (a flags byte, a big-endian
 * 32-bit length, the message). */
#define BL_E2B_ENVELOPE_END_STREAM 0x02
/* The one message of a request stream in @data: NULL with @message and
 * @message_len set, else why not. */
const char *bl_e2b_envelope_read (const guint8 *data, gsize len, const guint8 **message,
                                  gsize *message_len);
void bl_e2b_envelope_append (GByteArray *out, guint8 flags, const char *message, gsize len);
void bl_e2b_envelope_append_json (GByteArray *out, guint8 flags, JsonNode *node);
/* A Connect error's JSON body, and the HTTP status of a unary call that
 * fails with @code. */
JsonNode *bl_e2b_connect_error_json (const char *code, const char *message);
guint bl_e2b_connect_status (const char *code);
/* Answers a unary Connect call with an error. */
void bl_e2b_connect_reply_error (BlServeCall *call, const char *code, const char *format, ...)
    G_GNUC_PRINTF (3, 4);
/* Keeps the E2b-Sandbox-Id header of an envd call (on the main context)
 * in its first capture, call->args[0] (envd routes have none), and its
 * Authorization header in call->args[1], so that a worker thread need not
 * touch the message. FALSE with an error answered
 * when it is missing. */
gboolean bl_e2b_take_sandbox_id (BlServeCall *call);
/* The user of "Authorization: Basic base64(USER:)", the header E2B's SDKs
 * send to run a command as USER: @user set (NULL without such a header, or
 * with a bearer token), else why not. */
#define BL_E2B_MAX_USER 32
#define BL_E2B_MAX_BASIC 512
const char *bl_e2b_basic_user (const char *header, char **user);
/* The JSON message of a unary call, or NULL with an error answered. */
JsonObject *bl_e2b_unary_request (BlServeCall *call, JsonParser *parser);
/* The handler of the calls we do not implement. */
void bl_e2b_unimplemented (BlServeCall *call);
/* The Connect code that fits a library or GIO error. */
const char *bl_e2b_connect_code (const GError *error);

/* A time in µs since the epoch, in UTC (NULL when out of range). */
GDateTime *bl_e2b_time_from_us (gint64 us);

/* A command run to its end in a box, its output kept (bounded). */
typedef struct {
    gint pid;
    gint exit_code;
    gboolean exited; /* not killed by a signal */
    GByteArray *out;
    GByteArray *err;
} BlE2bRun;
void bl_e2b_run_free (BlE2bRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlE2bRun, bl_e2b_run_free)
/* Runs @command in @box on the calling (worker) thread. */
BlE2bRun *bl_e2b_run (BoxliteBox *box, BoxliteCommand *command, GError **error);

/* e2b-envd.c: the records GNU find prints in the box for the filesystem
 * calls (type, size, mode, permissions, owner, group, mtime, path, link
 * target; each NUL-terminated), as EntryInfo objects added to @b (an array
 * or member being built). With @want_dir the first record (the starting
 * point) must be a directory and is left out. FALSE with @why when the
 * guest's output has another shape. */
#define BL_E2B_FIND_FIELDS 9
#define BL_E2B_MAX_ENTRIES 100000
gboolean bl_e2b_entries_parse (const guint8 *data, gsize len, gboolean want_dir, JsonBuilder *b,
                               const char **why);

/* e2b-list.c: the query of the sandbox list. */
#define BL_E2B_LIST_MAX_LIMIT 100 /* per page, E2B's maximum and default */
#define BL_E2B_LIST_MAX_ID 64     /* bytes of the id in a page token */
#define BL_E2B_LIST_MAX_TOKEN 96
#define BL_E2B_LIST_MAX_STATE 64 /* bytes of the states asked for */
enum {
    BL_E2B_LIST_RUNNING = 1 << 0,
    BL_E2B_LIST_PAUSED = 1 << 1,
};
typedef struct {
    guint states; /* BL_E2B_LIST_*: what the list shows */
    guint limit;  /* sandboxes per page */
    gboolean ascending;
    /* Set from a page token: the page starts after this sandbox. */
    gboolean after;
    gint64 after_us;
    char after_id[BL_E2B_LIST_MAX_ID + 1];
} BlE2bListQuery;
/* Fills @q from the query's state, limit, nextToken and order (each
 * nullable); NULL, else why they are refused. */
const char *bl_e2b_list_query_parse (const char *state, const char *limit, const char *token,
                                     const char *order, BlE2bListQuery *q);
/* The page token that starts after the sandbox @id started at @started_us. */
char *bl_e2b_list_token (gint64 started_us, const char *id);
/* < 0 when sandbox a comes before b in the list @q asks for, > 0 after. */
gint bl_e2b_list_compare (const BlE2bListQuery *q, gint64 a_us, const char *a_id, gint64 b_us,
                          const char *b_id);
/* Whether a sandbox is on or after the page @q asks for. */
gboolean bl_e2b_list_wants (const BlE2bListQuery *q, gint64 started_us, const char *id);

/* e2b-sandboxes.c */
/* Keeps @serve's context for the timers of sandbox timeouts. */
void bl_e2b_init (BlServe *serve);
/* Removes the sandboxes' boxes: they were the server's alone (a server
 * started again would not know them). Their processes are let go first. */
void bl_e2b_shutdown (void);
/* e2b-process.c: forgets the processes, their reads cancelled. */
void bl_e2b_processes_clear (void);
/* The running box of the sandbox the envd call names (E2b-Sandbox-Id), or
 * NULL with a Connect error answered. */
BoxliteBox *bl_e2b_sandbox_box (BlServeCall *call, const char *sandbox_id);

/* The route tables, mounted under "/e2b". */
extern const BlServeRoute bl_e2b_sandbox_routes[];
extern const guint bl_e2b_sandbox_n_routes;
extern const BlServeRoute bl_e2b_process_routes[];
extern const guint bl_e2b_process_n_routes;
extern const BlServeRoute bl_e2b_envd_routes[];
extern const guint bl_e2b_envd_n_routes;

G_END_DECLS

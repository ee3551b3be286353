/* serve.h: `boxlite serve`, boxlite's HTTP API over one runtime.
 *
 * The server is a SoupServer on the thread-default main context. Each API
 * module (serve-boxes.c, serve-exec.c, ...) owns a table of routes; the
 * server mounts tables under a prefix ("/v1", later "/e2b") and dispatches
 * by method and path. A route's handler runs on a worker thread by default,
 * where the library's blocking calls are fine; routes that keep state of the
 * server (executions, WebSockets) run on the main context instead.
 *
 * Everything a client sends is hostile: bodies are bounded before they are
 * read, JSON is checked member by member, and every failure is answered with
 * the error envelope ({"error": {"message", "type", "code", "request_id"}}). */
#pragma once

#include <boxlite/boxlite.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Request bodies larger than this are refused with 413 unless the route
 * allows more. */
#define BL_SERVE_MAX_JSON_BODY (1024 * 1024)
/* Bodies of file uploads, and archives of downloads. */
#define BL_SERVE_MAX_FILE_BYTES (256u * 1024 * 1024)
/* Captures of one route pattern. */
#define BL_SERVE_MAX_ARGS 4

typedef struct _BlServe BlServe;
typedef struct _BlServeCall BlServeCall;

typedef void (*BlServeHandler) (BlServeCall *call);

typedef enum {
    BL_SERVE_ROUTE_THREAD = 0,             /* the handler runs on a worker thread */
    BL_SERVE_ROUTE_MAIN = 1 << 0,          /* ... on the main context (it may defer) */
    BL_SERVE_ROUTE_PUBLIC = 1 << 1,        /* no token needed */
    BL_SERVE_ROUTE_JSON = 1 << 2,          /* the body must be a JSON object */
    BL_SERVE_ROUTE_RAW = 1 << 3,           /* the body is bytes, up to BL_SERVE_MAX_FILE_BYTES */
    BL_SERVE_ROUTE_JSON_OPTIONAL = 1 << 4, /* a JSON object, or no body at all */
} BlServeRouteFlags;

/* One route: @pattern is a path below the mount's prefix in which "*"
 * matches one non-empty segment ("/boxes/ * /start"), captured in order. */
typedef struct {
    const char *method;
    const char *pattern;
    BlServeHandler handler;
    BlServeRouteFlags flags;
} BlServeRoute;

/* A request being served, and its answer. The request fields are read-only
 * for handlers; a handler sets the answer with bl_serve_reply_*(). */
struct _BlServeCall {
    BlServe *serve;
    SoupServerMessage *msg; /* touch only on the main context */
    const BlServeRoute *route;
    char *args[BL_SERVE_MAX_ARGS]; /* decoded captures of the pattern */
    GHashTable *query;             /* decoded query parameters, or NULL */
    GBytes *body;                  /* the request body (may be empty) */
    JsonObject *json;              /* the body, for BL_SERVE_ROUTE_JSON */

    guint status;
    JsonNode *reply;
    GBytes *reply_bytes;
    const char *reply_type;
    char *location;
    /* Set by a BL_SERVE_ROUTE_THREAD handler to run on the main context
     * before the answer is sent (it may change the answer). */
    void (*then) (BlServeCall *call);
    gpointer then_data;
    GDestroyNotify then_data_free;
};

/* serve-server.c */
BlServe *bl_serve_new (BoxliteRuntime *runtime, const char *token, GError **error);
void bl_serve_free (BlServe *serve);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlServe, bl_serve_free)
/* Listens on "ADDR:PORT", "[V6]:PORT" or "unix:PATH"; with @tls (nullable),
 * https. */
gboolean bl_serve_listen (BlServe *serve, const char *listen, GTlsCertificate *tls, GError **error);
/* The URIs it listens on (for messages). */
char *bl_serve_describe (BlServe *serve);
/* What a whole API mounted under one prefix accepts besides our own rules. */
typedef enum {
    BL_SERVE_MOUNT_DEFAULT = 0,
    /* The token may also come as "X-API-Key" or "X-Access-Token" (E2B's
     * SDKs); the key used is kept on the message as "bl-api-key". */
    BL_SERVE_MOUNT_KEY_HEADERS = 1 << 0,
    /* Chunked request bodies are taken, bounded as they arrive. */
    BL_SERVE_MOUNT_CHUNKED_BODIES = 1 << 1,
} BlServeMountFlags;

void bl_serve_mount (BlServe *serve, const char *prefix, const BlServeRoute *routes, guint n,
                     BlServeMountFlags flags);
BoxliteRuntime *bl_serve_get_runtime (BlServe *serve);

/* Answers of a call. */
void bl_serve_reply_json (BlServeCall *call, guint status, JsonNode *node);
void bl_serve_reply_builder (BlServeCall *call, guint status, JsonBuilder *builder);
void bl_serve_reply_bytes (BlServeCall *call, guint status, const char *type, GBytes *bytes);
void bl_serve_reply_status (BlServeCall *call, guint status);
void bl_serve_reply_error (BlServeCall *call, guint status, const char *type, const char *code,
                           const char *format, ...) G_GNUC_PRINTF (5, 6);
/* The status and envelope that fit @error (the library's, GIO's, JSON's). */
void bl_serve_reply_gerror (BlServeCall *call, const GError *error);
/* The error envelope: {"error": {"message", "type", "code", "request_id"}}. */
JsonNode *bl_serve_error_envelope (SoupServerMessage *msg, const char *type, const char *code,
                                   const char *message);
/* Error envelope on a message outside any call (auth, limits, routing). */
void bl_serve_message_error (BlServe *serve, SoupServerMessage *msg, guint status, const char *type,
                             const char *code, const char *message);
/* Answers a deferred BL_SERVE_ROUTE_MAIN call and frees it. */
void bl_serve_call_complete (BlServeCall *call);
/* Keeps the answer of a BL_SERVE_ROUTE_MAIN call for later: the handler
 * then ends with bl_serve_call_complete(). */
void bl_serve_call_defer (BlServeCall *call);
/* Runs @func on a worker thread, then answers (from a MAIN handler). */
void bl_serve_call_run_in_thread (BlServeCall *call, BlServeHandler func);

/* Query and body accessors: FALSE with a 400 answered when a value is
 * present but wrong. */
const char *bl_serve_query (BlServeCall *call, const char *name);
gboolean bl_serve_query_bool (BlServeCall *call, const char *name, gboolean *value);
gboolean bl_serve_query_uint (BlServeCall *call, const char *name, guint min, guint max,
                              guint *value);
gboolean bl_serve_json_string (BlServeCall *call, JsonObject *object, const char *name,
                               const char **value);
gboolean bl_serve_json_uint (BlServeCall *call, JsonObject *object, const char *name, guint min,
                             guint max, guint *value);
gboolean bl_serve_json_bool (BlServeCall *call, JsonObject *object, const char *name,
                             gboolean *value);
/* An array of strings as a new vector (NULL when absent). */
gboolean bl_serve_json_strv (BlServeCall *call, JsonObject *object, const char *name,
                             char ***value);
/* An object of strings as "KEY=VALUE" entries (NULL when absent). */
gboolean bl_serve_json_env (BlServeCall *call, JsonObject *object, const char *name, char ***value);
/* Refuses members of @object not in @known (NULL-terminated). */
gboolean bl_serve_json_only (BlServeCall *call, JsonObject *object, const char *const *known);

/* The box named by the call's first capture, or NULL with 404 answered. */
BoxliteBox *bl_serve_find_box (BlServeCall *call);
/* ISO 8601 in UTC with milliseconds, as the API writes times. */
char *bl_serve_time (GDateTime *time);

/* serve-parse.c: control messages of the attach WebSocket, page tokens. */
#define BL_SERVE_MAX_CONTROL 4096
#define BL_SERVE_MAX_PAGE_TOKEN 1024
typedef enum {
    BL_SERVE_CONTROL_RESIZE,
    BL_SERVE_CONTROL_SIGNAL,
    BL_SERVE_CONTROL_STDIN_EOF,
} BlServeControlKind;
typedef struct {
    BlServeControlKind kind;
    guint cols, rows; /* resize: 1..65535 each */
    gint sig;         /* signal: one bl_serve_signal_allowed() takes */
} BlServeControl;
/* Parses one text frame; NULL when @out is filled, else why not. */
const char *bl_serve_control_parse (const char *data, gsize len, BlServeControl *out);
/* The signals a client may send: SIGKILL is DELETE's, which also evicts. */
gboolean bl_serve_signal_allowed (gint64 sig);
/* A list page's token: a time (µs) and a key of the last item, opaque to
 * clients (base64). */
char *bl_serve_page_token_new (gint64 time, const char *key);
gboolean bl_serve_page_token_parse (const char *text, gint64 *time, char **key);

/* The frames a WebSocket writes, followed byte by byte. */
#define BL_SERVE_WS_OPCODE_CONTINUATION 0x0
#define BL_SERVE_WS_OPCODE_BINARY 0x2
typedef struct {
    guint8 header[14]; /* the header being read, as far as seen */
    guint header_len;
    guint header_need;
    guint8 opcode;        /* of the frame whose payload comes */
    guint64 payload_left; /* bytes of it still to come */
    guint64 binary;       /* payload bytes of binary frames so far */
} BlServeWsFollow;
void bl_serve_ws_follow (BlServeWsFollow *f, const guint8 *buf, gsize len);

/* serve-token.c */
/* Reads $HOME_DIR/api-token, or creates it (random, 0600) when absent. A
 * token file that others may read, or that is not ours, is refused. */
char *bl_serve_token_load (const char *home_dir, gboolean *created, GError **error);
/* Constant-time comparison of a client's credential with the token. */
gboolean bl_serve_token_equal (const char *token, const char *offered);

/* serve-stats.c: the server's counters, read by /metrics. */
typedef struct _BlServeStats BlServeStats;
BlServeStats *bl_serve_get_stats (BlServe *serve);
void bl_serve_stats_box_started (BlServeStats *stats, gdouble seconds, gboolean ok);
void bl_serve_stats_exec (BlServeStats *stats, const char *box_id, gboolean ok);
/* @stream: 0 stdout, 1 stderr, 2 stdin. */
void bl_serve_stats_exec_bytes (BlServeStats *stats, const char *box_id, guint stream, gsize bytes);
/* The per-box counters of @box_id, into a BoxMetrics object being built. */
void bl_serve_stats_add_box (BlServeStats *stats, const char *box_id, JsonBuilder *b);
void bl_serve_stats_pull (BlServeStats *stats, gboolean ok, guint64 bytes);
void bl_serve_stats_write (BlServeStats *stats, GString *out);
/* A Prometheus label value, escaped. */
void bl_serve_stats_label (GString *out, const char *name, const char *value);

/* Starts @box, counted in the stats (a worker thread's call). */
gboolean bl_serve_start_box (BlServe *serve, BoxliteBox *box, GError **error);

/* The route tables of API v1, mounted under "/v1". */
extern const BlServeRoute bl_serve_v1_routes[];
extern const guint bl_serve_v1_n_routes;
extern const BlServeRoute bl_serve_boxes_routes[];
extern const guint bl_serve_boxes_n_routes;
extern const BlServeRoute bl_serve_exec_routes[];
extern const guint bl_serve_exec_n_routes;
extern const BlServeRoute bl_serve_files_routes[];
extern const guint bl_serve_files_n_routes;
extern const BlServeRoute bl_serve_images_routes[];
extern const guint bl_serve_images_n_routes;
extern const BlServeRoute bl_serve_metrics_routes[];
extern const guint bl_serve_metrics_n_routes;
/* Mounted at the root: GET /metrics. */
extern const BlServeRoute bl_serve_prometheus_routes[];
extern const guint bl_serve_prometheus_n_routes;

/* serve-boxes.c: a box as the API shows it. */
JsonNode *bl_serve_box_json (BoxliteBox *box);

/* serve-ws-stream.c: an attach WebSocket's connection, counting the
 * payload bytes of binary frames that went out. */
typedef void (*BlServeWrittenFunc) (gpointer data);
GIOStream *bl_serve_ws_stream_new (GIOStream *base);
guint64 bl_serve_ws_stream_binary_written (GIOStream *stream);
void bl_serve_ws_stream_set_notify (GIOStream *stream, BlServeWrittenFunc func, gpointer data);

/* serve-exec.c: the executions the server holds, by id. */
typedef struct _BlServeExecs BlServeExecs;
BlServeExecs *bl_serve_execs_new (BlServe *serve);
void bl_serve_execs_free (BlServeExecs *execs);
BlServeExecs *bl_serve_get_execs (BlServe *serve);

G_END_DECLS

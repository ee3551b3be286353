/* serve-server.c: the HTTP server: listening, routing, the token check,
 * body limits, and handlers run on worker threads.
 *
 * A request is checked when its headers arrive, before any body is read:
 * an unknown path is 404, a known path with another method 405, a missing
 * or wrong token 401, a body without a length 411 and one over the route's
 * limit 413. Only then is the body read and the route's handler called. */
#define G_LOG_DOMAIN "boxlite-serve"

#include <gio/gunixsocketaddress.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2b.h"
#include "serve.h"

/* Handlers blocked in the library at once; more wait their turn. */
#define WORKER_THREADS 32

typedef struct {
    char *prefix;
    const BlServeRoute *routes;
    guint n;
    BlServeMountFlags flags;
} Mount;

struct _BlServe {
    BoxliteRuntime *runtime;
    SoupServer *server;
    GMainContext *context;
    GThreadPool *workers;
    char *token;
    GPtrArray *mounts; /* Mount */
    BlServeExecs *execs;
    BlServeStats *stats;
    gint next_request; /* atomic */
};

/* Defined in serve-stats.c. */
BlServeStats *bl_serve_stats_new (void);
void bl_serve_stats_free (BlServeStats *stats);

static void
mount_free (gpointer data)
{
    Mount *mount = data;
    g_free (mount->prefix);
    g_free (mount);
}

void
bl_serve_mount (BlServe *serve, const char *prefix, const BlServeRoute *routes, guint n,
                BlServeMountFlags flags)
{
    Mount *mount = g_new0 (Mount, 1);
    mount->prefix = g_strdup (prefix);
    mount->routes = routes;
    mount->n = n;
    mount->flags = flags;
    g_ptr_array_add (serve->mounts, mount);
}

BoxliteRuntime *
bl_serve_get_runtime (BlServe *serve)
{
    return serve->runtime;
}

BlServeExecs *
bl_serve_get_execs (BlServe *serve)
{
    return serve->execs;
}

BlServeStats *
bl_serve_get_stats (BlServe *serve)
{
    return serve->stats;
}

/* Matches @path against @pattern; on a match fills @args (decoded, owned by
 * the caller) and returns TRUE. A segment that decodes to something with a
 * "/" or NUL in it matches nothing. */
static gboolean
match_pattern (const char *pattern, const char *path, char **args)
{
    g_auto (GStrv) want = g_strsplit (pattern, "/", -1);
    g_auto (GStrv) have = g_strsplit (path, "/", -1);
    guint n = 0;

    if (g_strv_length (want) != g_strv_length (have))
        return FALSE;
    for (guint i = 0; want[i]; i++) {
        if (g_str_equal (want[i], "*")) {
            char *value = g_uri_unescape_segment (have[i], NULL, "/");
            if (!value || !*value || n == BL_SERVE_MAX_ARGS) {
                g_free (value);
                goto mismatch;
            }
            args[n++] = value;
        } else if (!g_str_equal (want[i], have[i])) {
            goto mismatch;
        }
    }
    return TRUE;
mismatch:
    for (guint i = 0; i < n; i++)
        g_clear_pointer (&args[i], g_free);
    return FALSE;
}

/* The route for @method @path, or NULL; *@path_known says whether some
 * route has this path under another method; *@flags (nullable) gets its
 * mount's flags. */
static const BlServeRoute *
find_route (BlServe *serve, const char *method, const char *path, char **args, gboolean *path_known,
            BlServeMountFlags *flags)
{
    *path_known = FALSE;
    for (guint m = 0; m < serve->mounts->len; m++) {
        Mount *mount = serve->mounts->pdata[m];
        if (!g_str_has_prefix (path, mount->prefix))
            continue;
        const char *rest = path + strlen (mount->prefix);
        for (guint i = 0; i < mount->n; i++) {
            char *scratch[BL_SERVE_MAX_ARGS] = { NULL };
            char **into = g_str_equal (mount->routes[i].method, method) ? args : scratch;
            if (!match_pattern (mount->routes[i].pattern, rest, into))
                continue;
            if (into == args) {
                if (flags)
                    *flags = mount->flags;
                return &mount->routes[i];
            }
            for (guint a = 0; a < BL_SERVE_MAX_ARGS; a++)
                g_free (scratch[a]);
            *path_known = TRUE;
        }
    }
    return NULL;
}

static const char *
request_id (SoupServerMessage *msg)
{
    const char *id = g_object_get_data (G_OBJECT (msg), "bl-request-id");
    return id ? id : "";
}

JsonNode *
bl_serve_error_envelope (SoupServerMessage *msg, const char *type, const char *code,
                         const char *message)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "error");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "message");
    json_builder_add_string_value (b, message);
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, type);
    json_builder_set_member_name (b, "code");
    json_builder_add_string_value (b, code);
    json_builder_set_member_name (b, "request_id");
    json_builder_add_string_value (b, request_id (msg));
    json_builder_end_object (b);
    json_builder_end_object (b);
    return json_builder_get_root (b);
}

void
bl_serve_message_error (BlServe *serve, SoupServerMessage *msg, guint status, const char *type,
                        const char *code, const char *message)
{
    g_autoptr (JsonNode) node = bl_serve_error_envelope (msg, type, code, message);
    char *text = json_to_string (node, FALSE);

    soup_server_message_set_status (msg, status, NULL);
    soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, text,
                                      strlen (text));
}

/* The credential of a request: "Authorization: Bearer TOKEN"; with
 * BL_SERVE_MOUNT_KEY_HEADERS also "X-API-Key: TOKEN" (E2B's control plane)
 * or "X-Access-Token: TOKEN" (its envd calls, with the key handed back as
 * envdAccessToken). */
static gboolean
authorized (BlServe *serve, SoupServerMessage *msg, BlServeMountFlags flags)
{
    SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
    const char *value = soup_message_headers_get_one (headers, "Authorization");

    if (flags & BL_SERVE_MOUNT_KEY_HEADERS) {
        const char *key = soup_message_headers_get_one (headers, "X-API-Key");
        if (!key)
            key = soup_message_headers_get_one (headers, "X-Access-Token");
        if (key && bl_serve_token_equal (serve->token, key)) {
            g_object_set_data_full (G_OBJECT (msg), "bl-api-key", g_strdup (key), g_free);
            return TRUE;
        }
    }

    if (!value || g_ascii_strncasecmp (value, "Bearer ", 7) != 0)
        return FALSE;
    return bl_serve_token_equal (serve->token, value + 7);
}

static void
free_args (char **args)
{
    for (guint i = 0; i < BL_SERVE_MAX_ARGS; i++)
        g_clear_pointer (&args[i], g_free);
}

typedef struct {
    GIOStream *stream;
    GBytes *bytes;
} Refusal;

static void
refusal_closed (GObject *source, GAsyncResult *result, gpointer data)
{
    g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
}

static void
refusal_written (GObject *source, GAsyncResult *result, gpointer data)
{
    Refusal *r = data;

    g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);
    g_io_stream_close_async (r->stream, G_PRIORITY_DEFAULT, NULL, refusal_closed, NULL);
    g_object_unref (r->stream);
    g_bytes_unref (r->bytes);
    g_free (r);
}

static void
add_header (const char *name, const char *value, gpointer data)
{
    g_string_append_printf (data, "%s: %s\r\n", name, value);
}

/* libsoup reads a request's whole body before it answers, even one refused
 * on its headers (unless the client asked "Expect: 100-continue"). So a
 * refused request that has a body gets its answer written here, on the
 * connection taken from libsoup, which is then closed unread. */
static void
answer_before_body (SoupServerMessage *msg)
{
    SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
    guint status = soup_server_message_get_status (msg);
    g_autoptr (GBytes) body =
        soup_message_body_flatten (soup_server_message_get_response_body (msg));
    GString *text = g_string_new (NULL);
    Refusal *r = g_new0 (Refusal, 1);

    g_string_append_printf (text, "HTTP/1.1 %u %s\r\n", status, soup_status_get_phrase (status));
    soup_message_headers_foreach (headers, add_header, text);
    g_string_append_printf (text,
                            "Content-Length: %" G_GSIZE_FORMAT "\r\nConnection: close\r\n\r\n",
                            g_bytes_get_size (body));
    g_string_append_len (text, g_bytes_get_data (body, NULL), (gssize) g_bytes_get_size (body));
    r->bytes = g_string_free_to_bytes (text);
    r->stream = soup_server_message_steal_connection (msg);
    g_output_stream_write_all_async (g_io_stream_get_output_stream (r->stream),
                                     g_bytes_get_data (r->bytes, NULL), g_bytes_get_size (r->bytes),
                                     G_PRIORITY_DEFAULT, NULL, refusal_written, r);
}

/* Sets the answer of a request refused on its headers. */
static void
refuse_early (BlServe *serve, SoupServerMessage *msg, const BlServeRoute *route,
              gboolean path_known, BlServeMountFlags flags)
{
    SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);

    if (!route) {
        if (path_known)
            bl_serve_message_error (serve, msg, SOUP_STATUS_METHOD_NOT_ALLOWED,
                                    "InvalidArgumentError", "invalid_argument",
                                    "method not allowed on this path");
        else
            bl_serve_message_error (serve, msg, SOUP_STATUS_NOT_FOUND, "NotFoundError", "not_found",
                                    "no such route");
        return;
    }
    if (!(route->flags & BL_SERVE_ROUTE_PUBLIC) && !authorized (serve, msg, flags)) {
        soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                      "WWW-Authenticate", "Bearer");
        bl_serve_message_error (serve, msg, SOUP_STATUS_UNAUTHORIZED, "AuthError",
                                "unauthenticated", "missing or wrong bearer token");
        return;
    }
    SoupEncoding encoding = soup_message_headers_get_encoding (headers);
    goffset length = encoding == SOUP_ENCODING_CONTENT_LENGTH
                         ? soup_message_headers_get_content_length (headers)
                         : 0;
    goffset limit =
        route->flags & BL_SERVE_ROUTE_RAW ? BL_SERVE_MAX_FILE_BYTES : BL_SERVE_MAX_JSON_BODY;
    /* Bounded as it arrives (got_chunk). */
    gboolean chunked_ok =
        encoding == SOUP_ENCODING_CHUNKED && (flags & BL_SERVE_MOUNT_CHUNKED_BODIES);
    if (chunked_ok)
        g_object_set_data (G_OBJECT (msg), "bl-body-limit", GSIZE_TO_POINTER ((gsize) limit));
    else if (encoding != SOUP_ENCODING_CONTENT_LENGTH && encoding != SOUP_ENCODING_NONE)
        bl_serve_message_error (serve, msg, SOUP_STATUS_LENGTH_REQUIRED, "InvalidArgumentError",
                                "invalid_argument", "a request body needs a Content-Length");
    else if (length > limit)
        bl_serve_message_error (serve, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
                                "InvalidArgumentError", "invalid_argument",
                                "request body too large");
}

/* A chunked body past its route's limit: answered 413 at once, the rest
 * unread. */
static void
got_chunk (SoupServerMessage *msg, GBytes *chunk, BlServe *serve)
{
    gsize limit = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (msg), "bl-body-limit"));
    gsize seen = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (msg), "bl-body-seen"));

    if (!limit || soup_server_message_get_status (msg) != 0)
        return;
    seen += g_bytes_get_size (chunk);
    g_object_set_data (G_OBJECT (msg), "bl-body-seen", GSIZE_TO_POINTER (seen));
    if (seen <= limit)
        return;
    bl_serve_message_error (serve, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE,
                            "InvalidArgumentError", "invalid_argument", "request body too large");
    answer_before_body (msg);
}

/* Everything that can be refused before the body is read. */
static void
got_headers (SoupServerMessage *msg, BlServe *serve)
{
    const char *method = soup_server_message_get_method (msg);
    const char *path = g_uri_get_path (soup_server_message_get_uri (msg));
    char *args[BL_SERVE_MAX_ARGS] = { NULL };
    gboolean path_known;
    SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);

    if (soup_server_message_get_status (msg) != 0)
        return;
    BlServeMountFlags flags = BL_SERVE_MOUNT_DEFAULT;
    const BlServeRoute *route = find_route (serve, method, path, args, &path_known, &flags);
    free_args (args);
    refuse_early (serve, msg, route, path_known, flags);
    SoupEncoding encoding = soup_message_headers_get_encoding (headers);
    gboolean has_body =
        encoding != SOUP_ENCODING_NONE && !(encoding == SOUP_ENCODING_CONTENT_LENGTH &&
                                            soup_message_headers_get_content_length (headers) == 0);
    if (soup_server_message_get_status (msg) != 0 && has_body &&
        !(soup_message_headers_get_expectations (headers) & SOUP_EXPECTATION_CONTINUE))
        answer_before_body (msg);
}

static void
request_started (SoupServer *server, SoupServerMessage *msg, BlServe *serve)
{
    guint n = (guint) g_atomic_int_add (&serve->next_request, 1);
    char *id = g_strdup_printf ("req_%08x%08x", g_random_int (), n);

    g_object_set_data_full (G_OBJECT (msg), "bl-request-id", id, g_free);
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "X-Request-Id",
                                  id);
    g_signal_connect (msg, "got-headers", G_CALLBACK (got_headers), serve);
    g_signal_connect (msg, "got-chunk", G_CALLBACK (got_chunk), serve);
}

static void
call_free (BlServeCall *call)
{
    free_args (call->args);
    g_clear_pointer (&call->query, g_hash_table_unref);
    g_clear_pointer (&call->body, g_bytes_unref);
    g_clear_pointer (&call->json, json_object_unref);
    g_clear_pointer (&call->reply, json_node_unref);
    g_clear_pointer (&call->reply_bytes, g_bytes_unref);
    g_free (call->location);
    if (call->then_data_free)
        call->then_data_free (call->then_data);
    g_clear_object (&call->msg);
    g_free (call);
}

/* Puts the call's answer on its message. */
static void
apply_reply (BlServeCall *call)
{
    SoupServerMessage *msg = call->msg;

    if (call->location)
        soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Location",
                                      call->location);
    if (call->reply) {
        char *text = json_to_string (call->reply, FALSE);
        soup_server_message_set_status (msg, call->status, NULL);
        soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, text,
                                          strlen (text));
    } else if (call->reply_bytes) {
        soup_server_message_set_status (msg, call->status, NULL);
        soup_message_headers_set_content_type (soup_server_message_get_response_headers (msg),
                                               call->reply_type, NULL);
        soup_message_body_append_bytes (soup_server_message_get_response_body (msg),
                                        call->reply_bytes);
    } else if (call->status) {
        soup_server_message_set_status (msg, call->status, NULL);
    } else {
        bl_serve_message_error (call->serve, msg, SOUP_STATUS_INTERNAL_SERVER_ERROR,
                                "InternalError", "internal", "the handler gave no answer");
    }
}

void
bl_serve_call_complete (BlServeCall *call)
{
    if (call->then)
        call->then (call);
    apply_reply (call);
    soup_server_message_unpause (call->msg);
    call_free (call);
}

static gboolean
complete_on_main (gpointer data)
{
    bl_serve_call_complete (data);
    return G_SOURCE_REMOVE;
}

typedef struct {
    BlServeCall *call;
    BlServeHandler func;
} Work;

static void
worker (gpointer data, gpointer user_data)
{
    Work *work = data;
    BlServe *serve = user_data;

    work->func (work->call);
    g_main_context_invoke (serve->context, complete_on_main, work->call);
    g_free (work);
}

void
bl_serve_call_defer (BlServeCall *call)
{
    g_object_set_data (G_OBJECT (call->msg), "bl-deferred", GINT_TO_POINTER (TRUE));
    soup_server_message_pause (call->msg);
}

void
bl_serve_call_run_in_thread (BlServeCall *call, BlServeHandler func)
{
    Work *work = g_new0 (Work, 1);

    work->call = call;
    work->func = func;
    bl_serve_call_defer (call);
    g_thread_pool_push (call->serve->workers, work, NULL);
}

static gboolean
parse_body (BlServeCall *call)
{
    gsize len;
    const char *data = g_bytes_get_data (call->body, &len);
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (GError) error = NULL;

    if (!json_parser_load_from_data (parser, data ? data : "", (gssize) len, &error)) {
        bl_serve_reply_error (call, SOUP_STATUS_BAD_REQUEST, "InvalidArgumentError",
                              "invalid_argument", "malformed JSON body: %s", error->message);
        return FALSE;
    }
    JsonNode *root = json_parser_get_root (parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
        bl_serve_reply_error (call, SOUP_STATUS_BAD_REQUEST, "InvalidArgumentError",
                              "invalid_argument", "the body must be a JSON object");
        return FALSE;
    }
    call->json = json_object_ref (json_node_get_object (root));
    return TRUE;
}

static GHashTable *
copy_query (GHashTable *query)
{
    GHashTable *copy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    GHashTableIter iter;
    gpointer key, value;

    g_hash_table_iter_init (&iter, query);
    while (g_hash_table_iter_next (&iter, &key, &value))
        g_hash_table_insert (copy, g_strdup (key), g_strdup (value));
    return copy;
}

/* The server's one handler: every path reaches it once its body is read. */
static void
dispatch (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
          gpointer user_data)
{
    BlServe *serve = user_data;
    BlServeCall *call = g_new0 (BlServeCall, 1);
    gboolean path_known;

    call->serve = serve;
    call->msg = g_object_ref (msg);
    call->route = find_route (serve, soup_server_message_get_method (msg), path, call->args,
                              &path_known, NULL);
    if (!call->route) {
        /* got_headers answered already; this is only a safety net. */
        if (soup_server_message_get_status (msg) == 0)
            bl_serve_message_error (serve, msg, SOUP_STATUS_NOT_FOUND, "NotFoundError", "not_found",
                                    "no such route");
        call_free (call);
        return;
    }
    call->query = query ? copy_query (query) : NULL;
    call->body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
    gboolean wants_json =
        (call->route->flags & BL_SERVE_ROUTE_JSON) ||
        ((call->route->flags & BL_SERVE_ROUTE_JSON_OPTIONAL) && g_bytes_get_size (call->body) > 0);
    if (wants_json && !parse_body (call)) {
        apply_reply (call);
        call_free (call);
        return;
    }
    if (!(call->route->flags & BL_SERVE_ROUTE_MAIN)) {
        bl_serve_call_run_in_thread (call, call->route->handler);
        return;
    }
    call->route->handler (call);
    if (g_object_get_data (G_OBJECT (msg), "bl-deferred"))
        return;
    /* A handler that answered the message itself (a WebSocket upgrade)
     * leaves the call's status 0. */
    if (call->status || call->reply || call->reply_bytes)
        apply_reply (call);
    call_free (call);
}

BlServe *
bl_serve_new (BoxliteRuntime *runtime, const char *token, GError **error)
{
    BlServe *serve = g_new0 (BlServe, 1);

    serve->runtime = g_object_ref (runtime);
    serve->token = g_strdup (token);
    serve->context = g_main_context_ref_thread_default ();
    serve->mounts = g_ptr_array_new_with_free_func (mount_free);
    serve->stats = bl_serve_stats_new ();
    serve->workers = g_thread_pool_new (worker, serve, WORKER_THREADS, FALSE, error);
    if (!serve->workers) {
        bl_serve_free (serve);
        return NULL;
    }
    serve->server = soup_server_new ("server-header", "boxlite", NULL);
    serve->execs = bl_serve_execs_new (serve);
    g_signal_connect (serve->server, "request-started", G_CALLBACK (request_started), serve);
    soup_server_add_handler (serve->server, "/", dispatch, serve, NULL);
    bl_serve_mount (serve, "/v1", bl_serve_v1_routes, bl_serve_v1_n_routes, BL_SERVE_MOUNT_DEFAULT);
    bl_serve_mount (serve, "/v1", bl_serve_boxes_routes, bl_serve_boxes_n_routes,
                    BL_SERVE_MOUNT_DEFAULT);
    bl_serve_mount (serve, "/v1", bl_serve_exec_routes, bl_serve_exec_n_routes,
                    BL_SERVE_MOUNT_DEFAULT);
    bl_serve_mount (serve, "/v1", bl_serve_files_routes, bl_serve_files_n_routes,
                    BL_SERVE_MOUNT_DEFAULT);
    bl_serve_mount (serve, "/v1", bl_serve_images_routes, bl_serve_images_n_routes,
                    BL_SERVE_MOUNT_DEFAULT);
    bl_serve_mount (serve, "/v1", bl_serve_metrics_routes, bl_serve_metrics_n_routes,
                    BL_SERVE_MOUNT_DEFAULT);
    bl_serve_mount (serve, "", bl_serve_prometheus_routes, bl_serve_prometheus_n_routes,
                    BL_SERVE_MOUNT_DEFAULT);
    /* E2B's SDKs send the key in their own headers and stream their bodies. */
    const BlServeMountFlags e2b_mount = BL_SERVE_MOUNT_KEY_HEADERS | BL_SERVE_MOUNT_CHUNKED_BODIES;
    bl_serve_mount (serve, "/e2b", bl_e2b_sandbox_routes, bl_e2b_sandbox_n_routes, e2b_mount);
    bl_serve_mount (serve, "/e2b", bl_e2b_envd_routes, bl_e2b_envd_n_routes, e2b_mount);
    bl_serve_mount (serve, "/e2b", bl_e2b_process_routes, bl_e2b_process_n_routes, e2b_mount);
    bl_e2b_init (serve);
    return serve;
}

void
bl_serve_free (BlServe *serve)
{
    if (!serve)
        return;
    if (serve->server)
        soup_server_disconnect (serve->server);
    /* Handlers in flight finish before anything they use goes. */
    if (serve->workers)
        g_thread_pool_free (serve->workers, FALSE, TRUE);
    while (g_main_context_iteration (serve->context, FALSE))
        ;
    bl_e2b_shutdown ();
    g_clear_pointer (&serve->execs, bl_serve_execs_free);
    /* The cancelled reads and waits of executions end here. */
    for (guint i = 0; i < 100 && g_main_context_iteration (serve->context, FALSE); i++)
        ;
    g_clear_object (&serve->server);
    g_clear_pointer (&serve->mounts, g_ptr_array_unref);
    g_clear_pointer (&serve->stats, bl_serve_stats_free);
    g_main_context_unref (serve->context);
    g_object_unref (serve->runtime);
    g_free (serve->token);
    g_free (serve);
}

/* "unix:PATH", "ADDR:PORT" or "[ADDR]:PORT" with an IP literal, or
 * "localhost:PORT". */
gboolean
bl_serve_listen (BlServe *serve, const char *listen, GTlsCertificate *tls, GError **error)
{
    SoupServerListenOptions options = 0;

    if (tls) {
        g_object_set (serve->server, "tls-certificate", tls, NULL);
        g_object_set_data (G_OBJECT (serve->server), "bl-scheme", (gpointer) "https");
        options |= SOUP_SERVER_LISTEN_HTTPS;
    }
    if (g_str_has_prefix (listen, "unix:")) {
        const char *path = listen + 5;
        struct stat st;
        if (!*path) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                         "--listen unix: needs a path");
            return FALSE;
        }
        /* A socket left by a server that is gone; anything else stays. */
        if (lstat (path, &st) == 0 && S_ISSOCK (st.st_mode))
            unlink (path);
        g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
        mode_t old = umask (0077);
        gboolean ok = soup_server_listen (serve->server, address, options, error);
        umask (old);
        return ok;
    }
    const char *colon = strrchr (listen, ':');
    guint64 port;
    if (!colon || !g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &port, NULL)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "--listen %s: expected ADDR:PORT or unix:PATH", listen);
        return FALSE;
    }
    g_autofree char *host = g_strndup (listen, (gsize) (colon - listen));
    if (host[0] == '[' && host[strlen (host) - 1] == ']') {
        memmove (host, host + 1, strlen (host));
        host[strlen (host) - 1] = '\0';
    }
    if (g_str_equal (host, "localhost"))
        return soup_server_listen_local (serve->server, (guint) port,
                                         options | SOUP_SERVER_LISTEN_IPV4_ONLY, error);
    g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (host);
    if (!inet) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "--listen %s: %s is not an IP address", listen, host);
        return FALSE;
    }
    g_autoptr (GSocketAddress) address = g_inet_socket_address_new (inet, (guint16) port);
    return soup_server_listen (serve->server, address, options, error);
}

char *
bl_serve_describe (BlServe *serve)
{
    GSList *listeners = soup_server_get_listeners (serve->server);
    const char *scheme = g_object_get_data (G_OBJECT (serve->server), "bl-scheme");
    g_autoptr (GString) text = g_string_new (NULL);

    /* soup_server_get_uris() knows inet sockets only. */
    for (GSList *l = listeners; l; l = l->next) {
        g_autoptr (GSocketAddress) address = g_socket_get_local_address (l->data, NULL);
        if (text->len)
            g_string_append (text, " ");
        if (G_IS_UNIX_SOCKET_ADDRESS (address)) {
            g_string_append_printf (
                text, "unix:%s", g_unix_socket_address_get_path (G_UNIX_SOCKET_ADDRESS (address)));
        } else if (G_IS_INET_SOCKET_ADDRESS (address)) {
            GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
            g_autofree char *host =
                g_inet_address_to_string (g_inet_socket_address_get_address (inet));
            gboolean v6 = g_inet_address_get_family (g_inet_socket_address_get_address (inet)) ==
                          G_SOCKET_FAMILY_IPV6;
            g_string_append_printf (text, "%s://%s%s%s:%u", scheme ? scheme : "http", v6 ? "[" : "",
                                    host, v6 ? "]" : "", g_inet_socket_address_get_port (inet));
        }
    }
    g_slist_free (listeners);
    return g_string_free (g_steal_pointer (&text), FALSE);
}

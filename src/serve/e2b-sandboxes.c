/* e2b-sandboxes.c: E2B's control plane under /e2b: create, list, get,
 * kill, connect and set the timeout of sandboxes, each a box of ours.
 *
 * A sandbox is a box created here; the server remembers its template, its
 * start and its end, and removes the box when its end comes (a timer on
 * the server's context, the removal on a thread of its own since it
 * blocks). Errors have E2B's shape: {"code": HTTP status, "message"}. */
#define G_LOG_DOMAIN "boxlite-serve"

#include <string.h>

#include "e2b.h"

typedef struct {
    char *template_id;
    gint64 started_us;
    gint64 end_us;
    guint timer; /* a source on the server's context */
    JsonNode *metadata;
} Sandbox;

G_LOCK_DEFINE_STATIC (sandboxes);
static GHashTable *sandboxes; /* box id -> Sandbox */
static GMainContext *context;
static BoxliteRuntime *runtime;

static void
sandbox_free (gpointer data)
{
    Sandbox *s = data;

    if (s->timer) {
        GSource *source = g_main_context_find_source_by_id (context, s->timer);
        if (source)
            g_source_destroy (source);
    }
    g_free (s->template_id);
    g_clear_pointer (&s->metadata, json_node_unref);
    g_free (s);
}

void
bl_e2b_init (BlServe *serve)
{
    G_LOCK (sandboxes);
    if (!sandboxes) {
        sandboxes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, sandbox_free);
        context = g_main_context_ref_thread_default ();
        runtime = g_object_ref (bl_serve_get_runtime (serve));
    }
    G_UNLOCK (sandboxes);
}

void
bl_e2b_shutdown (void)
{
    g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);

    bl_e2b_processes_clear ();
    G_LOCK (sandboxes);
    if (sandboxes) {
        GHashTableIter iter;
        gpointer key;
        g_hash_table_iter_init (&iter, sandboxes);
        while (g_hash_table_iter_next (&iter, &key, NULL))
            g_ptr_array_add (ids, g_strdup (key));
        g_clear_pointer (&sandboxes, g_hash_table_unref);
    }
    G_UNLOCK (sandboxes);
    for (guint i = 0; i < ids->len; i++) {
        g_autoptr (GError) error = NULL;
        if (!boxlite_runtime_remove (runtime, ids->pdata[i], TRUE, &error) &&
            !g_error_matches (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND))
            g_warning ("sandbox %s could not be removed: %s", (char *) ids->pdata[i],
                       error->message);
    }
    g_clear_object (&runtime);
    g_clear_pointer (&context, g_main_context_unref);
}

static void reply_e2b_error (BlServeCall *call, guint status, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

static void
reply_e2b_error (BlServeCall *call, guint status, const char *format, ...)
{
    va_list args;
    g_autofree char *message = NULL;
    g_autoptr (JsonBuilder) b = json_builder_new ();

    va_start (args, format);
    message = g_strdup_vprintf (format, args);
    va_end (args);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "code");
    json_builder_add_int_value (b, status);
    json_builder_set_member_name (b, "message");
    json_builder_add_string_value (b, message);
    json_builder_end_object (b);
    bl_serve_reply_builder (call, status, b);
}

typedef struct {
    BoxliteRuntime *runtime; /* a reference: the server may stop meanwhile */
    char *id;
} Expired;

static gpointer
expire_thread (gpointer data)
{
    Expired *e = data;
    g_autoptr (GError) error = NULL;

    if (!boxlite_runtime_remove (e->runtime, e->id, TRUE, &error) &&
        !g_error_matches (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND))
        g_warning ("sandbox %s expired but could not be removed: %s", e->id, error->message);
    g_object_unref (e->runtime);
    g_free (e->id);
    g_free (e);
    return NULL;
}

static gboolean
expire (gpointer data)
{
    const char *id = data;
    guint self = g_source_get_id (g_main_current_source ());

    G_LOCK (sandboxes);
    Sandbox *s = sandboxes ? g_hash_table_lookup (sandboxes, id) : NULL;
    /* A timeout set again while this one fired wins. */
    if (s && s->timer != self)
        s = NULL;
    if (s) {
        s->timer = 0;
        g_hash_table_remove (sandboxes, id);
    }
    G_UNLOCK (sandboxes);
    if (s) {
        Expired *e = g_new0 (Expired, 1);
        e->runtime = g_object_ref (runtime);
        e->id = g_strdup (id);
        g_thread_unref (g_thread_new ("e2b-expire", expire_thread, e));
    }
    return G_SOURCE_REMOVE;
}

/* (Re)arms the end of @s, under the lock. */
static void
set_timeout (const char *id, Sandbox *s, guint seconds)
{
    if (s->timer) {
        GSource *old = g_main_context_find_source_by_id (context, s->timer);
        if (old)
            g_source_destroy (old);
    }
    s->end_us = g_get_real_time () + (gint64) seconds * G_USEC_PER_SEC;
    GSource *source = g_timeout_source_new_seconds (seconds);
    g_source_set_callback (source, expire, g_strdup (id), g_free);
    s->timer = g_source_attach (source, context);
    g_source_unref (source);
}

static void
add_time (JsonBuilder *b, const char *name, gint64 us)
{
    g_autoptr (GDateTime) t = bl_e2b_time_from_us (us);
    g_autofree char *text = bl_serve_time (t);

    json_builder_set_member_name (b, name);
    json_builder_add_string_value (b, text);
}

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name (b, name);
    json_builder_add_string_value (b, value);
}

/* A sandbox as E2B shows it; with @token (nullable), as a detail. */
static void
sandbox_json (JsonBuilder *b, BoxliteBox *box, Sandbox *s, const char *token)
{
    BoxliteBoxOptions *options = boxlite_box_get_options (box);
    BoxliteBoxState state = boxlite_box_get_state (box);

    json_builder_begin_object (b);
    add_string (b, "templateID", s->template_id);
    add_string (b, "sandboxID", boxlite_box_get_id (box));
    add_string (b, "clientID", "boxlite");
    add_string (b, "envdVersion", BL_E2B_ENVD_VERSION);
    add_time (b, "startedAt", s->started_us);
    add_time (b, "endAt", s->end_us);
    json_builder_set_member_name (b, "cpuCount");
    json_builder_add_int_value (b, boxlite_box_options_get_cpus (options));
    json_builder_set_member_name (b, "memoryMB");
    json_builder_add_int_value (b, boxlite_box_options_get_memory_mib (options));
    json_builder_set_member_name (b, "diskSizeMB");
    json_builder_add_int_value (b, boxlite_box_options_get_disk_size_gb (options) * 1024);
    add_string (b, "state", state == BOXLITE_BOX_STATE_PAUSED ? "paused" : "running");
    json_builder_set_member_name (b, "metadata");
    if (s->metadata)
        json_builder_add_value (b, json_node_copy (s->metadata));
    else {
        json_builder_begin_object (b);
        json_builder_end_object (b);
    }
    if (token)
        add_string (b, "envdAccessToken", token);
    json_builder_end_object (b);
}

/* The Sandbox answer of create and connect. */
static void
reply_sandbox (BlServeCall *call, guint status, BoxliteBox *box, const char *template_id,
               const char *token)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    add_string (b, "templateID", template_id);
    add_string (b, "sandboxID", boxlite_box_get_id (box));
    add_string (b, "clientID", "boxlite");
    add_string (b, "envdVersion", BL_E2B_ENVD_VERSION);
    /* NULL for a client that came with a bearer token: it has no key. */
    json_builder_set_member_name (b, "envdAccessToken");
    if (token)
        json_builder_add_string_value (b, token);
    else
        json_builder_add_null_value (b);
    json_builder_set_member_name (b, "domain");
    json_builder_add_null_value (b);
    json_builder_end_object (b);
    bl_serve_reply_builder (call, status, b);
}

/* The credential the SDK came with, handed back as envdAccessToken: the
 * SDK sends that as X-Access-Token on envd calls, checked like X-API-Key. */
static const char *
offered_key (BlServeCall *call)
{
    return g_object_get_data (G_OBJECT (call->msg), "bl-api-key");
}

/* Reads an optional timeout in seconds; FALSE with 400 answered. */
static gboolean
timeout_member (BlServeCall *call, guint *seconds)
{
    JsonNode *node = call->json ? json_object_get_member (call->json, "timeout") : NULL;

    if (!node || JSON_NODE_HOLDS_NULL (node))
        return TRUE;
    if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64 ||
        json_node_get_int (node) < 0 || json_node_get_int (node) > BL_E2B_MAX_TIMEOUT_S) {
        reply_e2b_error (call, 400, "timeout must be a whole number of seconds, 0 to %d",
                         BL_E2B_MAX_TIMEOUT_S);
        return FALSE;
    }
    *seconds = (guint) json_node_get_int (node);
    return TRUE;
}

static void
create_sandbox (BlServeCall *call)
{
    const char *template_id = "base";
    guint timeout = BL_E2B_DEFAULT_TIMEOUT_S;
    g_auto (GStrv) env = NULL;
    g_autoptr (GError) error = NULL;
    JsonObject *req = call->json;

    if (!bl_serve_json_string (call, req, "templateID", &template_id) ||
        !bl_serve_json_env (call, req, "envVars", &env) || !timeout_member (call, &timeout))
        return;
    JsonNode *metadata = json_object_get_member (req, "metadata");
    if (metadata && !JSON_NODE_HOLDS_NULL (metadata) && !JSON_NODE_HOLDS_OBJECT (metadata)) {
        reply_e2b_error (call, 400, "metadata must be an object");
        return;
    }
    if (!template_id || !*template_id)
        template_id = "base";
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    /* E2B's default template is our default image; any other template id
     * is an image reference. */
    if (!g_str_equal (template_id, "base"))
        boxlite_box_options_set_image (options, template_id);
    if (env)
        boxlite_box_options_set_env (options, (const char *const *) env);
    g_autoptr (BoxliteBox) box =
        boxlite_runtime_create (bl_serve_get_runtime (call->serve), options, NULL, NULL, &error);
    if (!box || !bl_serve_start_box (call->serve, box, &error)) {
        if (box)
            boxlite_runtime_remove (bl_serve_get_runtime (call->serve), boxlite_box_get_id (box),
                                    TRUE, NULL);
        reply_e2b_error (call, error->domain == BOXLITE_ERROR ? 400 : 500,
                         "the sandbox could not start: %s", error->message);
        return;
    }
    Sandbox *s = g_new0 (Sandbox, 1);
    s->template_id = g_strdup (template_id);
    s->started_us = g_get_real_time ();
    if (metadata && JSON_NODE_HOLDS_OBJECT (metadata))
        s->metadata = json_node_copy (metadata);
    G_LOCK (sandboxes);
    g_hash_table_replace (sandboxes, g_strdup (boxlite_box_get_id (box)), s);
    set_timeout (boxlite_box_get_id (box), s, timeout ? timeout : BL_E2B_DEFAULT_TIMEOUT_S);
    G_UNLOCK (sandboxes);
    reply_sandbox (call, SOUP_STATUS_CREATED, box, template_id, offered_key (call));
}

/* The box of a sandbox of ours, or NULL with 404 answered. */
static BoxliteBox *
find_sandbox (BlServeCall *call, const char *id)
{
    gboolean known;

    G_LOCK (sandboxes);
    known = g_hash_table_contains (sandboxes, id);
    G_UNLOCK (sandboxes);
    BoxliteBox *box =
        known ? boxlite_runtime_get (bl_serve_get_runtime (call->serve), id, NULL) : NULL;
    if (!box)
        reply_e2b_error (call, 404, "sandbox %s not found", id);
    return box;
}

/* Whether @s has every key=value of @want (the SDK's metadata filter). */
static gboolean
metadata_matches (Sandbox *s, GHashTable *want)
{
    GHashTableIter iter;
    gpointer key, value;
    JsonObject *have = s->metadata ? json_node_get_object (s->metadata) : NULL;

    if (!want)
        return TRUE;
    g_hash_table_iter_init (&iter, want);
    while (g_hash_table_iter_next (&iter, &key, &value)) {
        /* The SDK escapes each key and value before it joins them. */
        g_autofree char *k = g_uri_unescape_string (key, NULL);
        g_autofree char *v = g_uri_unescape_string (value, NULL);
        JsonNode *node = have && k ? json_object_get_member (have, k) : NULL;
        if (!node || !v || !JSON_NODE_HOLDS_VALUE (node) ||
            json_node_get_value_type (node) != G_TYPE_STRING ||
            !g_str_equal (json_node_get_string (node), v))
            return FALSE;
    }
    return TRUE;
}

/* A sandbox on the list, its place in it and its JSON. */
typedef struct {
    gint64 started_us;
    char *id;
    JsonNode *json;
} Listed;

static void
listed_free (gpointer data)
{
    Listed *l = data;

    g_free (l->id);
    json_node_unref (l->json);
    g_free (l);
}

static gint
listed_compare (gconstpointer a, gconstpointer b, gpointer data)
{
    const Listed *x = *(Listed *const *) a, *y = *(Listed *const *) b;

    return bl_e2b_list_compare (data, x->started_us, x->id, y->started_us, y->id);
}

/* On the main context: the token of the next page, as E2B sends it. */
static void
set_next_token (BlServeCall *call)
{
    soup_message_headers_replace (soup_server_message_get_response_headers (call->msg),
                                  "X-Next-Token", call->then_data);
}

/* GET /v2/sandboxes: the running and paused sandboxes that match the
 * query's state, metadata and template, started at or after startedAfter,
 * one page of them from nextToken on; X-Next-Token when more follow. */
static void
list_sandboxes (BlServeCall *call)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonBuilder) b = json_builder_new ();
    const char *metadata = bl_serve_query (call, "metadata");
    const char *template_id = bl_serve_query (call, "template");
    const char *after = bl_serve_query (call, "startedAfter");
    g_autoptr (GHashTable) want = NULL;
    g_autoptr (GPtrArray) listed = g_ptr_array_new_with_free_func (listed_free);
    BlE2bListQuery q;
    gint64 after_us = G_MININT64;

    const char *why = bl_e2b_list_query_parse (call->args[0], bl_serve_query (call, "limit"),
                                               bl_serve_query (call, "nextToken"),
                                               bl_serve_query (call, "order"), &q);
    if (why) {
        reply_e2b_error (call, 400, "%s", why);
        return;
    }
    if (metadata && !(want = g_uri_parse_params (metadata, -1, "&", G_URI_PARAMS_NONE, NULL))) {
        reply_e2b_error (call, 400, "metadata must be key=value pairs joined by &");
        return;
    }
    if (after) {
        g_autoptr (GDateTime) t = g_date_time_new_from_iso8601 (after, NULL);
        if (!t) {
            reply_e2b_error (call, 400, "startedAfter must be an ISO 8601 time");
            return;
        }
        after_us = g_date_time_to_unix (t) * G_USEC_PER_SEC + g_date_time_get_microsecond (t);
    }
    GList *boxes = boxlite_runtime_list (bl_serve_get_runtime (call->serve), &error);
    if (error) {
        reply_e2b_error (call, 500, "%s", error->message);
        return;
    }
    for (GList *l = boxes; l; l = l->next) {
        BoxliteBox *box = l->data;
        BoxliteBoxState state = boxlite_box_get_state (box);
        guint bit = state == BOXLITE_BOX_STATE_RUNNING  ? BL_E2B_LIST_RUNNING
                    : state == BOXLITE_BOX_STATE_PAUSED ? BL_E2B_LIST_PAUSED
                                                        : 0;
        const char *id = boxlite_box_get_id (box);
        if (!(bit & q.states))
            continue;
        G_LOCK (sandboxes);
        Sandbox *s = g_hash_table_lookup (sandboxes, id);
        if (s && metadata_matches (s, want) && s->started_us >= after_us &&
            (!template_id || g_str_equal (template_id, s->template_id)) &&
            bl_e2b_list_wants (&q, s->started_us, id)) {
            g_autoptr (JsonBuilder) one = json_builder_new ();
            Listed *item = g_new0 (Listed, 1);
            sandbox_json (one, box, s, NULL);
            item->started_us = s->started_us;
            item->id = g_strdup (id);
            item->json = json_builder_get_root (one);
            g_ptr_array_add (listed, item);
        }
        G_UNLOCK (sandboxes);
    }
    g_list_free_full (boxes, g_object_unref);
    g_ptr_array_sort_with_data (listed, listed_compare, &q);
    json_builder_begin_array (b);
    for (guint i = 0; i < listed->len && i < q.limit; i++)
        json_builder_add_value (b, json_node_ref (((Listed *) listed->pdata[i])->json));
    json_builder_end_array (b);
    if (listed->len > q.limit) {
        Listed *last = listed->pdata[q.limit - 1];
        call->then = set_next_token;
        call->then_data = bl_e2b_list_token (last->started_us, last->id);
        call->then_data_free = g_free;
    }
    bl_serve_reply_builder (call, SOUP_STATUS_OK, b);
}

/* On the main context, where the request's URI is: every state the query
 * names, whether as one comma-separated value (E2B's JS SDK) or as the key
 * given again (state=running&state=paused), kept in call->args[0] (the
 * route has no captures) for the list on a worker thread. */
static void
list_sandboxes_main (BlServeCall *call)
{
    const char *query = g_uri_get_query (soup_server_message_get_uri (call->msg));
    g_autoptr (GString) states = NULL;
    GUriParamsIter iter;
    char *name, *value;

    if (query) {
        g_uri_params_iter_init (&iter, query, -1, "&", G_URI_PARAMS_NONE);
        while (g_uri_params_iter_next (&iter, &name, &value, NULL)) {
            if (g_str_equal (name, "state") && (!states || states->len <= BL_E2B_LIST_MAX_STATE)) {
                if (!states)
                    states = g_string_new (value);
                else
                    g_string_append_printf (states, ",%s", value);
            }
            g_free (name);
            g_free (value);
        }
    }
    g_free (call->args[0]);
    call->args[0] = states ? g_string_free (g_steal_pointer (&states), FALSE) : NULL;
    bl_serve_call_run_in_thread (call, list_sandboxes);
}

static void
get_sandbox (BlServeCall *call)
{
    g_autoptr (BoxliteBox) box = find_sandbox (call, call->args[0]);
    g_autoptr (JsonBuilder) b = json_builder_new ();

    if (!box)
        return;
    G_LOCK (sandboxes);
    Sandbox *s = g_hash_table_lookup (sandboxes, call->args[0]);
    if (s)
        sandbox_json (b, box, s, offered_key (call));
    G_UNLOCK (sandboxes);
    if (!s) {
        reply_e2b_error (call, 404, "sandbox %s not found", call->args[0]);
        return;
    }
    bl_serve_reply_builder (call, SOUP_STATUS_OK, b);
}

static void
kill_sandbox (BlServeCall *call)
{
    g_autoptr (BoxliteBox) box = find_sandbox (call, call->args[0]);
    g_autoptr (GError) error = NULL;

    if (!box)
        return;
    G_LOCK (sandboxes);
    g_hash_table_remove (sandboxes, call->args[0]);
    G_UNLOCK (sandboxes);
    if (!boxlite_runtime_remove (bl_serve_get_runtime (call->serve), call->args[0], TRUE, &error))
        reply_e2b_error (call, 500, "%s", error->message);
    else
        bl_serve_reply_status (call, SOUP_STATUS_NO_CONTENT);
}

static void
set_sandbox_timeout (BlServeCall *call)
{
    g_autoptr (BoxliteBox) box = NULL;
    guint timeout = 0;

    if (!json_object_has_member (call->json, "timeout")) {
        reply_e2b_error (call, 400, "timeout is required");
        return;
    }
    if (!timeout_member (call, &timeout) || !(box = find_sandbox (call, call->args[0])))
        return;
    G_LOCK (sandboxes);
    Sandbox *s = g_hash_table_lookup (sandboxes, call->args[0]);
    if (s)
        set_timeout (call->args[0], s, timeout);
    G_UNLOCK (sandboxes);
    bl_serve_reply_status (call, SOUP_STATUS_NO_CONTENT);
}

/* Connect: the sandbox running again (a paused box resumed), its end moved
 * to now + timeout when that is later. */
static void
connect_sandbox (BlServeCall *call)
{
    g_autoptr (BoxliteBox) box = NULL;
    g_autoptr (GError) error = NULL;
    guint timeout = BL_E2B_DEFAULT_TIMEOUT_S;
    g_autofree char *template_id = NULL;

    if (!timeout_member (call, &timeout) || !(box = find_sandbox (call, call->args[0])))
        return;
    if (boxlite_box_get_state (box) == BOXLITE_BOX_STATE_PAUSED &&
        !boxlite_box_resume (box, NULL, &error)) {
        reply_e2b_error (call, 500, "the sandbox could not resume: %s", error->message);
        return;
    }
    G_LOCK (sandboxes);
    Sandbox *s = g_hash_table_lookup (sandboxes, call->args[0]);
    if (s) {
        if (s->end_us < g_get_real_time () + (gint64) timeout * G_USEC_PER_SEC)
            set_timeout (call->args[0], s, timeout);
        template_id = g_strdup (s->template_id);
    }
    G_UNLOCK (sandboxes);
    if (!template_id) {
        reply_e2b_error (call, 404, "sandbox %s not found", call->args[0]);
        return;
    }
    reply_sandbox (call, SOUP_STATUS_OK, box, template_id, offered_key (call));
}

BoxliteBox *
bl_e2b_sandbox_box (BlServeCall *call, const char *sandbox_id)
{
    gboolean known = FALSE;

    if (!sandbox_id) {
        bl_e2b_connect_reply_error (call, "invalid_argument",
                                    "the E2b-Sandbox-Id header is missing");
        return NULL;
    }
    G_LOCK (sandboxes);
    known = sandboxes && g_hash_table_contains (sandboxes, sandbox_id);
    G_UNLOCK (sandboxes);
    BoxliteBox *box =
        known ? boxlite_runtime_get (bl_serve_get_runtime (call->serve), sandbox_id, NULL) : NULL;
    if (!box || boxlite_box_get_state (box) != BOXLITE_BOX_STATE_RUNNING) {
        g_clear_object (&box);
        /* What envd behind E2B's proxy answers for a sandbox gone. */
        bl_e2b_connect_reply_error (call, "unavailable", "sandbox %s is not running", sandbox_id);
    }
    return box;
}

const BlServeRoute bl_e2b_sandbox_routes[] = {
    { "POST", "/sandboxes", create_sandbox, BL_SERVE_ROUTE_JSON },
    { "POST", "/v2/sandboxes", create_sandbox, BL_SERVE_ROUTE_JSON },
    { "GET", "/sandboxes", list_sandboxes_main, BL_SERVE_ROUTE_MAIN },
    { "GET", "/v2/sandboxes", list_sandboxes_main, BL_SERVE_ROUTE_MAIN },
    { "GET", "/sandboxes/*", get_sandbox, 0 },
    { "DELETE", "/sandboxes/*", kill_sandbox, 0 },
    { "POST", "/sandboxes/*/timeout", set_sandbox_timeout, BL_SERVE_ROUTE_JSON },
    { "POST", "/sandboxes/*/connect", connect_sandbox, BL_SERVE_ROUTE_JSON_OPTIONAL },
    { "POST", "/v2/sandboxes/*/connect", connect_sandbox, BL_SERVE_ROUTE_JSON_OPTIONAL },
};
const guint bl_e2b_sandbox_n_routes = G_N_ELEMENTS (bl_e2b_sandbox_routes);

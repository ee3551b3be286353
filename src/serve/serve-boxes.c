/* serve-boxes.c: /v1/boxes: create, list, get, head, remove, start, stop.
 *
 * Every handler here runs on a worker thread and makes the library's
 * blocking calls; the box is looked up anew on each request (by id, a
 * unique prefix of one, or its name), since other processes on the same
 * home may change it between two requests. */
#define G_LOG_DOMAIN "boxlite-serve"

#include <string.h>

#include "serve.h"

static const char *
status_name (BoxliteBoxState state)
{
    switch (state) {
    case BOXLITE_BOX_STATE_CONFIGURED:
        return "configured";
    case BOXLITE_BOX_STATE_RUNNING:
        return "running";
    case BOXLITE_BOX_STATE_STOPPED:
        return "stopped";
    case BOXLITE_BOX_STATE_CRASHED:
        return "failed";
    case BOXLITE_BOX_STATE_PAUSED:
        return "paused";
    }
    return "unknown";
}

static void
add_strv (JsonBuilder *b, const char *name, const char *const *values)
{
    json_builder_set_member_name (b, name);
    json_builder_begin_array (b);
    for (guint i = 0; values && values[i]; i++)
        json_builder_add_string_value (b, values[i]);
    json_builder_end_array (b);
}

JsonNode *
bl_serve_box_json (BoxliteBox *box)
{
    BoxliteBoxOptions *options = boxlite_box_get_options (box);
    BoxliteBoxState state = boxlite_box_get_state (box);
    g_autofree char *created = bl_serve_time (boxlite_box_get_created_at (box));
    g_autofree char *error = boxlite_box_dup_error (box);
    g_autoptr (JsonBuilder) b = json_builder_new ();
    const char *image = boxlite_box_options_get_image (options);
    const char *rootfs = boxlite_box_options_get_rootfs (options);
    gint pid = boxlite_box_get_monitor_pid (box);

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "box_id");
    json_builder_add_string_value (b, boxlite_box_get_id (box));
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, boxlite_box_get_name (box));
    json_builder_set_member_name (b, "status");
    json_builder_add_string_value (b, status_name (state));
    json_builder_set_member_name (b, "created_at");
    json_builder_add_string_value (b, created);
    /* Box records keep no time of their last change. */
    json_builder_set_member_name (b, "updated_at");
    json_builder_add_string_value (b, created);
    json_builder_set_member_name (b, "pid");
    if (pid > 0 && (state == BOXLITE_BOX_STATE_RUNNING || state == BOXLITE_BOX_STATE_PAUSED))
        json_builder_add_int_value (b, pid);
    else
        json_builder_add_null_value (b);
    json_builder_set_member_name (b, "image");
    json_builder_add_string_value (b, image ? image : rootfs ? rootfs : "default");
    json_builder_set_member_name (b, "cpus");
    json_builder_add_int_value (b, boxlite_box_options_get_cpus (options));
    json_builder_set_member_name (b, "memory_mib");
    json_builder_add_int_value (b, boxlite_box_options_get_memory_mib (options));
    json_builder_set_member_name (b, "disk_size_gb");
    json_builder_add_int_value (b, boxlite_box_options_get_disk_size_gb (options));
    json_builder_set_member_name (b, "detach");
    json_builder_add_boolean_value (b, boxlite_box_options_get_detach (options));
    json_builder_set_member_name (b, "auto_stop");
    json_builder_add_int_value (b, boxlite_box_options_get_auto_stop (options));
    json_builder_set_member_name (b, "network");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "mode");
    json_builder_add_string_value (
        b, boxlite_box_options_get_network (options) == BOXLITE_NETWORK_ENABLED ? "enabled"
                                                                                : "disabled");
    add_strv (b, "allow_net", boxlite_box_options_get_allow_net (options));
    json_builder_end_object (b);
    json_builder_set_member_name (b, "error");
    if (error)
        json_builder_add_string_value (b, error);
    else
        json_builder_add_null_value (b);
    json_builder_end_object (b);
    return json_builder_get_root (b);
}

/* The network member: {"mode", "allow_net"}, or the same inside
 * "outbound". */
static gboolean
apply_network (BlServeCall *call, JsonObject *spec, BoxliteBoxOptions *options)
{
    static const char *const known[] = { "mode", "allow_net", "outbound", NULL };
    JsonNode *outbound = json_object_get_member (spec, "outbound");
    const char *mode = NULL;
    g_auto (GStrv) allow = NULL;

    if (!bl_serve_json_only (call, spec, known))
        return FALSE;
    if (outbound && JSON_NODE_HOLDS_OBJECT (outbound)) {
        if (json_object_has_member (spec, "mode") || json_object_has_member (spec, "allow_net")) {
            bl_serve_reply_error (call, 400, "InvalidArgumentError", "invalid_argument",
                                  "network: give either outbound or mode/allow_net");
            return FALSE;
        }
        return apply_network (call, json_node_get_object (outbound), options);
    }
    if (outbound && !JSON_NODE_HOLDS_NULL (outbound)) {
        bl_serve_reply_error (call, 400, "InvalidArgumentError", "invalid_argument",
                              "network.outbound must be an object");
        return FALSE;
    }
    if (!bl_serve_json_string (call, spec, "mode", &mode) ||
        !bl_serve_json_strv (call, spec, "allow_net", &allow))
        return FALSE;
    if (mode && !g_str_equal (mode, "enabled") && !g_str_equal (mode, "disabled")) {
        bl_serve_reply_error (call, 400, "InvalidArgumentError", "invalid_argument",
                              "network mode must be enabled or disabled");
        return FALSE;
    }
    gboolean enabled = mode ? g_str_equal (mode, "enabled") : TRUE;
    boxlite_box_options_set_network (options,
                                     enabled ? BOXLITE_NETWORK_ENABLED : BOXLITE_NETWORK_DISABLED);
    if (allow)
        boxlite_box_options_set_allow_net (options, (const char *const *) allow);
    return TRUE;
}

/* The options of a CreateBoxRequest, or NULL with the call answered. */
static BoxliteBoxOptions *
options_from_request (BlServeCall *call, const char **name)
{
    static const char *const known[] = {
        "name",        "image",       "rootfs_path", "cpus", "memory_mib", "disk_size_gb",
        "working_dir", "env",         "entrypoint",  "cmd",  "user",       "network",
        "detach",      "auto_remove", "auto_stop",   NULL,
    };
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    JsonObject *req = call->json;
    const char *image = NULL, *rootfs = NULL, *working_dir = NULL, *user = NULL;
    guint cpus = boxlite_box_options_get_cpus (options);
    guint memory = boxlite_box_options_get_memory_mib (options);
    guint disk = 0, auto_stop = 0;
    gboolean detach = FALSE, auto_remove = FALSE;
    g_auto (GStrv) env = NULL, entrypoint = NULL, cmd = NULL;

    if (!bl_serve_json_only (call, req, known) || !bl_serve_json_string (call, req, "name", name) ||
        !bl_serve_json_string (call, req, "image", &image) ||
        !bl_serve_json_string (call, req, "rootfs_path", &rootfs) ||
        !bl_serve_json_uint (call, req, "cpus", 1, 64, &cpus) ||
        !bl_serve_json_uint (call, req, "memory_mib", 128, 256 * 1024, &memory) ||
        !bl_serve_json_uint (call, req, "disk_size_gb", 1, 64 * 1024, &disk) ||
        !bl_serve_json_string (call, req, "working_dir", &working_dir) ||
        !bl_serve_json_env (call, req, "env", &env) ||
        !bl_serve_json_strv (call, req, "entrypoint", &entrypoint) ||
        !bl_serve_json_strv (call, req, "cmd", &cmd) ||
        !bl_serve_json_string (call, req, "user", &user) ||
        !bl_serve_json_bool (call, req, "detach", &detach) ||
        !bl_serve_json_bool (call, req, "auto_remove", &auto_remove) ||
        !bl_serve_json_uint (call, req, "auto_stop", 0, G_MAXINT32, &auto_stop))
        return NULL;
    if (image && rootfs) {
        bl_serve_reply_error (call, 400, "InvalidArgumentError", "invalid_argument",
                              "image and rootfs_path exclude each other");
        return NULL;
    }
    JsonNode *network = json_object_get_member (req, "network");
    if (network && !JSON_NODE_HOLDS_NULL (network)) {
        if (!JSON_NODE_HOLDS_OBJECT (network)) {
            bl_serve_reply_error (call, 400, "InvalidArgumentError", "invalid_argument",
                                  "network must be an object");
            return NULL;
        }
        if (!apply_network (call, json_node_get_object (network), options))
            return NULL;
    }
    boxlite_box_options_set_image (options, image);
    boxlite_box_options_set_rootfs (options, rootfs);
    boxlite_box_options_set_cpus (options, cpus);
    boxlite_box_options_set_memory_mib (options, memory);
    boxlite_box_options_set_disk_size_gb (options, disk);
    boxlite_box_options_set_working_dir (options, working_dir);
    boxlite_box_options_set_user (options, user);
    if (env)
        boxlite_box_options_set_env (options, (const char *const *) env);
    if (entrypoint)
        boxlite_box_options_set_entrypoint (options, (const char *const *) entrypoint);
    if (cmd)
        boxlite_box_options_set_cmd (options, (const char *const *) cmd);
    boxlite_box_options_set_detach (options, detach);
    boxlite_box_options_set_auto_remove (options, auto_remove);
    boxlite_box_options_set_auto_stop (options, auto_stop);
    return g_steal_pointer (&options);
}

static void
create_box (BlServeCall *call)
{
    const char *name = NULL;
    g_autoptr (BoxliteBoxOptions) options = options_from_request (call, &name);
    g_autoptr (GError) error = NULL;

    if (!options)
        return;
    g_autoptr (BoxliteBox) box =
        boxlite_runtime_create (bl_serve_get_runtime (call->serve), options, name, NULL, &error);
    if (!box) {
        bl_serve_reply_gerror (call, error);
        return;
    }
    call->location = g_strdup_printf ("/v1/boxes/%s", boxlite_box_get_id (box));
    bl_serve_reply_json (call, SOUP_STATUS_CREATED, bl_serve_box_json (box));
}

static gint64
created_usec (BoxliteBox *box)
{
    GDateTime *t = boxlite_box_get_created_at (box);
    return g_date_time_to_unix (t) * G_USEC_PER_SEC + g_date_time_get_microsecond (t);
}

static gboolean
after_token (BoxliteBox *box, gint64 after_time, const char *after_id)
{
    gint64 t = created_usec (box);
    return t > after_time || (t == after_time && strcmp (boxlite_box_get_id (box), after_id) > 0);
}

static gint
compare_boxes (gconstpointer a, gconstpointer b)
{
    BoxliteBox *x = (BoxliteBox *) a, *y = (BoxliteBox *) b;
    gint64 tx = created_usec (x);
    gint64 ty = created_usec (y);
    return tx != ty ? (tx < ty ? -1 : 1) : strcmp (boxlite_box_get_id (x), boxlite_box_get_id (y));
}

static void
list_boxes (BlServeCall *call)
{
    const char *status = bl_serve_query (call, "status");
    const char *token = bl_serve_query (call, "pageToken");
    guint page_size = 100;
    gint64 after_time = -1;
    g_autofree char *after_id = NULL;
    g_autoptr (GError) error = NULL;

    if (!bl_serve_query_uint (call, "pageSize", 1, 1000, &page_size))
        return;
    if (token && !bl_serve_page_token_parse (token, &after_time, &after_id)) {
        bl_serve_reply_error (call, 400, "InvalidArgumentError", "invalid_argument",
                              "pageToken is not one this server gave");
        return;
    }
    GList *boxes = boxlite_runtime_list (bl_serve_get_runtime (call->serve), &error);
    if (error) {
        bl_serve_reply_gerror (call, error);
        return;
    }
    boxes = g_list_sort (boxes, compare_boxes);
    g_autoptr (JsonBuilder) b = json_builder_new ();
    BoxliteBox *last = NULL;
    guint n = 0;
    gboolean more = FALSE;
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "boxes");
    json_builder_begin_array (b);
    for (GList *l = boxes; l; l = l->next) {
        BoxliteBox *box = l->data;
        if (after_id && !after_token (box, after_time, after_id))
            continue;
        if (status && !g_str_equal (status, status_name (boxlite_box_get_state (box))))
            continue;
        if (n == page_size) {
            more = TRUE;
            break;
        }
        json_builder_add_value (b, bl_serve_box_json (box));
        last = box;
        n++;
    }
    json_builder_end_array (b);
    json_builder_set_member_name (b, "next_page_token");
    if (more && last) {
        g_autofree char *encoded =
            bl_serve_page_token_new (created_usec (last), boxlite_box_get_id (last));
        json_builder_add_string_value (b, encoded);
    } else {
        json_builder_add_null_value (b);
    }
    json_builder_end_object (b);
    g_list_free_full (boxes, g_object_unref);
    bl_serve_reply_builder (call, SOUP_STATUS_OK, b);
}

static void
get_box (BlServeCall *call)
{
    g_autoptr (BoxliteBox) box = bl_serve_find_box (call);

    if (box)
        bl_serve_reply_json (call, SOUP_STATUS_OK, bl_serve_box_json (box));
}

static void
head_box (BlServeCall *call)
{
    g_autoptr (BoxliteBox) box = bl_serve_find_box (call);

    /* HEAD answers carry no body. */
    bl_serve_reply_status (call, box ? SOUP_STATUS_NO_CONTENT : call->status);
}

static void
remove_box (BlServeCall *call)
{
    gboolean force = FALSE;
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box = NULL;

    if (!bl_serve_query_bool (call, "force", &force) || !(box = bl_serve_find_box (call)))
        return;
    if (!boxlite_runtime_remove (bl_serve_get_runtime (call->serve), boxlite_box_get_id (box),
                                 force, &error))
        bl_serve_reply_gerror (call, error);
    else
        bl_serve_reply_status (call, SOUP_STATUS_NO_CONTENT);
}

gboolean
bl_serve_start_box (BlServe *serve, BoxliteBox *box, GError **error)
{
    gint64 start = g_get_monotonic_time ();
    gboolean ok = boxlite_box_start (box, NULL, error);

    bl_serve_stats_box_started (bl_serve_get_stats (serve),
                                (gdouble) (g_get_monotonic_time () - start) / G_USEC_PER_SEC, ok);
    return ok;
}

static void
start_box (BlServeCall *call)
{
    g_autoptr (BoxliteBox) box = bl_serve_find_box (call);
    g_autoptr (GError) error = NULL;

    if (!box)
        return;
    /* Starting a running box is no error: the answer is the box. */
    if (boxlite_box_get_state (box) != BOXLITE_BOX_STATE_RUNNING &&
        !bl_serve_start_box (call->serve, box, &error)) {
        bl_serve_reply_gerror (call, error);
        return;
    }
    bl_serve_reply_json (call, SOUP_STATUS_OK, bl_serve_box_json (box));
}

static void
stop_box (BlServeCall *call)
{
    static const char *const known[] = { "timeout_seconds", "force", NULL };
    gboolean force = FALSE;
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box = NULL;

    if (call->json) {
        JsonNode *timeout = json_object_get_member (call->json, "timeout_seconds");
        if (!bl_serve_json_only (call, call->json, known) ||
            !bl_serve_json_bool (call, call->json, "force", &force))
            return;
        if (timeout && (!JSON_NODE_HOLDS_VALUE (timeout) ||
                        (json_node_get_value_type (timeout) != G_TYPE_INT64 &&
                         json_node_get_value_type (timeout) != G_TYPE_DOUBLE) ||
                        json_node_get_double (timeout) < 0)) {
            bl_serve_reply_error (call, 400, "InvalidArgumentError", "invalid_argument",
                                  "timeout_seconds must be a number of seconds, 0 or more");
            return;
        }
        /* The library's stop has its own grace period; 0 means no grace. */
        if (timeout && json_node_get_double (timeout) == 0)
            force = TRUE;
    }
    if (!(box = bl_serve_find_box (call)))
        return;
    BoxliteBoxState state = boxlite_box_get_state (box);
    if ((state == BOXLITE_BOX_STATE_RUNNING || state == BOXLITE_BOX_STATE_PAUSED) &&
        !boxlite_box_stop (box, force, NULL, &error)) {
        bl_serve_reply_gerror (call, error);
        return;
    }
    bl_serve_reply_json (call, SOUP_STATUS_OK, bl_serve_box_json (box));
}

const BlServeRoute bl_serve_boxes_routes[] = {
    { "POST", "/boxes", create_box, BL_SERVE_ROUTE_JSON },
    { "GET", "/boxes", list_boxes, 0 },
    { "GET", "/boxes/*", get_box, 0 },
    { "HEAD", "/boxes/*", head_box, 0 },
    { "DELETE", "/boxes/*", remove_box, 0 },
    { "POST", "/boxes/*/start", start_box, 0 },
    { "POST", "/boxes/*/stop", stop_box, BL_SERVE_ROUTE_JSON_OPTIONAL },
};
const guint bl_serve_boxes_n_routes = G_N_ELEMENTS (bl_serve_boxes_routes);

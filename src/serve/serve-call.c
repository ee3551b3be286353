/* serve-call.c: what a handler reads from its request and how it answers:
 * query and JSON members checked one by one, the error envelope, and the
 * status that fits each error of the library. */
#define G_LOG_DOMAIN "boxlite-serve"

#include <string.h>

#include "serve.h"

void
bl_serve_reply_json (BlServeCall *call, guint status, JsonNode *node)
{
    g_clear_pointer (&call->reply, json_node_unref);
    g_clear_pointer (&call->reply_bytes, g_bytes_unref);
    call->status = status;
    call->reply = node;
}

void
bl_serve_reply_builder (BlServeCall *call, guint status, JsonBuilder *builder)
{
    bl_serve_reply_json (call, status, json_builder_get_root (builder));
}

void
bl_serve_reply_bytes (BlServeCall *call, guint status, const char *type, GBytes *bytes)
{
    g_clear_pointer (&call->reply, json_node_unref);
    g_clear_pointer (&call->reply_bytes, g_bytes_unref);
    call->status = status;
    call->reply_type = type;
    call->reply_bytes = bytes;
}

void
bl_serve_reply_status (BlServeCall *call, guint status)
{
    g_clear_pointer (&call->reply, json_node_unref);
    g_clear_pointer (&call->reply_bytes, g_bytes_unref);
    call->status = status;
}

void
bl_serve_reply_error (BlServeCall *call, guint status, const char *type, const char *code,
                      const char *format, ...)
{
    g_autofree char *message = NULL;
    va_list args;

    va_start (args, format);
    message = g_strdup_vprintf (format, args);
    va_end (args);
    bl_serve_reply_json (call, status, bl_serve_error_envelope (call->msg, type, code, message));
}

typedef struct {
    gint code;
    guint status;
    const char *type;
    const char *api_code;
} ErrorMap;

static const ErrorMap boxlite_errors[] = {
    { BOXLITE_ERROR_INVALID_ARGUMENT, 400, "InvalidArgumentError", "invalid_argument" },
    { BOXLITE_ERROR_AMBIGUOUS, 400, "InvalidArgumentError", "invalid_argument" },
    { BOXLITE_ERROR_NOT_FOUND, 404, "NotFoundError", "not_found" },
    { BOXLITE_ERROR_EXISTS, 409, "AlreadyExistsError", "already_exists" },
    { BOXLITE_ERROR_INVALID_STATE, 409, "InvalidStateError", "invalid_state" },
    { BOXLITE_ERROR_COMMAND_NOT_FOUND, 400, "ExecutionError", "execution_failed" },
    { BOXLITE_ERROR_PERMISSION_DENIED, 403, "AuthError", "permission_denied" },
    { BOXLITE_ERROR_IMAGE, 422, "ImageError", "image_pull_failed" },
    { BOXLITE_ERROR_TIMED_OUT, 504, "TimeoutError", "timeout" },
    { BOXLITE_ERROR_BOOT_FAILED, 500, "EngineError", "engine_unavailable" },
    { BOXLITE_ERROR_CRASHED, 500, "EngineError", "engine_unavailable" },
    { BOXLITE_ERROR_PROTOCOL, 502, "EngineError", "engine_unavailable" },
};

void
bl_serve_reply_gerror (BlServeCall *call, const GError *error)
{
    if (error->domain == BOXLITE_ERROR) {
        for (guint i = 0; i < G_N_ELEMENTS (boxlite_errors); i++) {
            const ErrorMap *m = &boxlite_errors[i];
            if (m->code == error->code) {
                bl_serve_reply_error (call, m->status, m->type, m->api_code, "%s", error->message);
                return;
            }
        }
    } else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
               g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
        bl_serve_reply_error (call, 404, "NotFoundError", "not_found", "%s", error->message);
        return;
    } else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT) ||
               g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA)) {
        bl_serve_reply_error (call, 400, "InvalidArgumentError", "invalid_argument", "%s",
                              error->message);
        return;
    } else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE)) {
        bl_serve_reply_error (call, 413, "ResourceExhaustedError", "resource_exhausted", "%s",
                              error->message);
        return;
    }
    bl_serve_reply_error (call, 500, "InternalError", "internal", "%s", error->message);
}

/* 400 with "@name @what". */
static void
bad_request (BlServeCall *call, const char *what, const char *name)
{
    bl_serve_reply_error (call, SOUP_STATUS_BAD_REQUEST, "InvalidArgumentError", "invalid_argument",
                          "%s %s", name, what);
}

const char *
bl_serve_query (BlServeCall *call, const char *name)
{
    return call->query ? g_hash_table_lookup (call->query, name) : NULL;
}

gboolean
bl_serve_query_bool (BlServeCall *call, const char *name, gboolean *value)
{
    const char *text = bl_serve_query (call, name);

    if (!text)
        return TRUE;
    if (g_str_equal (text, "true") || g_str_equal (text, "1"))
        *value = TRUE;
    else if (g_str_equal (text, "false") || g_str_equal (text, "0"))
        *value = FALSE;
    else {
        bad_request (call, "must be true or false (a query parameter)", name);
        return FALSE;
    }
    return TRUE;
}

gboolean
bl_serve_query_uint (BlServeCall *call, const char *name, guint min, guint max, guint *value)
{
    const char *text = bl_serve_query (call, name);
    guint64 n;

    if (!text)
        return TRUE;
    if (!g_ascii_string_to_unsigned (text, 10, min, max, &n, NULL)) {
        bl_serve_reply_error (call, SOUP_STATUS_BAD_REQUEST, "InvalidArgumentError",
                              "invalid_argument", "query parameter %s must be an integer in %u..%u",
                              name, min, max);
        return FALSE;
    }
    *value = (guint) n;
    return TRUE;
}

/* The member @name of @object when present and not null, else NULL. */
static JsonNode *
member (JsonObject *object, const char *name)
{
    JsonNode *node = json_object_get_member (object, name);
    return node && !JSON_NODE_HOLDS_NULL (node) ? node : NULL;
}

gboolean
bl_serve_json_string (BlServeCall *call, JsonObject *object, const char *name, const char **value)
{
    JsonNode *node = member (object, name);

    if (!node)
        return TRUE;
    if (json_node_get_value_type (node) != G_TYPE_STRING) {
        bad_request (call, "must be a string", name);
        return FALSE;
    }
    *value = json_node_get_string (node);
    return TRUE;
}

gboolean
bl_serve_json_uint (BlServeCall *call, JsonObject *object, const char *name, guint min, guint max,
                    guint *value)
{
    JsonNode *node = member (object, name);

    if (!node)
        return TRUE;
    if (json_node_get_value_type (node) != G_TYPE_INT64 || json_node_get_int (node) < min ||
        json_node_get_int (node) > max) {
        bl_serve_reply_error (call, SOUP_STATUS_BAD_REQUEST, "InvalidArgumentError",
                              "invalid_argument", "%s must be an integer in %u..%u", name, min,
                              max);
        return FALSE;
    }
    *value = (guint) json_node_get_int (node);
    return TRUE;
}

gboolean
bl_serve_json_bool (BlServeCall *call, JsonObject *object, const char *name, gboolean *value)
{
    JsonNode *node = member (object, name);

    if (!node)
        return TRUE;
    if (json_node_get_value_type (node) != G_TYPE_BOOLEAN) {
        bad_request (call, "must be true or false", name);
        return FALSE;
    }
    *value = json_node_get_boolean (node);
    return TRUE;
}

gboolean
bl_serve_json_strv (BlServeCall *call, JsonObject *object, const char *name, char ***value)
{
    JsonNode *node = member (object, name);

    if (!node)
        return TRUE;
    if (!JSON_NODE_HOLDS_ARRAY (node)) {
        bad_request (call, "must be an array of strings", name);
        return FALSE;
    }
    JsonArray *array = json_node_get_array (node);
    g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
    for (guint i = 0; i < json_array_get_length (array); i++) {
        JsonNode *item = json_array_get_element (array, i);
        if (json_node_get_value_type (item) != G_TYPE_STRING) {
            bad_request (call, "must be an array of strings", name);
            return FALSE;
        }
        g_strv_builder_add (b, json_node_get_string (item));
    }
    *value = g_strv_builder_end (b);
    return TRUE;
}

gboolean
bl_serve_json_env (BlServeCall *call, JsonObject *object, const char *name, char ***value)
{
    JsonNode *node = member (object, name);

    if (!node)
        return TRUE;
    if (!JSON_NODE_HOLDS_OBJECT (node)) {
        bad_request (call, "must be an object of strings", name);
        return FALSE;
    }
    JsonObject *env = json_node_get_object (node);
    g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
    JsonObjectIter iter;
    const char *key;
    JsonNode *item;
    json_object_iter_init (&iter, env);
    while (json_object_iter_next (&iter, &key, &item)) {
        if (json_node_get_value_type (item) != G_TYPE_STRING || !*key || strchr (key, '=')) {
            bad_request (call, "must map names without '=' to strings", name);
            return FALSE;
        }
        g_autofree char *entry = g_strdup_printf ("%s=%s", key, json_node_get_string (item));
        g_strv_builder_add (b, entry);
    }
    *value = g_strv_builder_end (b);
    return TRUE;
}

gboolean
bl_serve_json_only (BlServeCall *call, JsonObject *object, const char *const *known)
{
    JsonObjectIter iter;
    const char *key;
    JsonNode *item;

    json_object_iter_init (&iter, object);
    while (json_object_iter_next (&iter, &key, &item)) {
        if (!g_strv_contains (known, key)) {
            bl_serve_reply_error (call, SOUP_STATUS_BAD_REQUEST, "UnsupportedError", "unsupported",
                                  "member %s is not supported here", key);
            return FALSE;
        }
    }
    return TRUE;
}

BoxliteBox *
bl_serve_find_box (BlServeCall *call)
{
    g_autoptr (GError) error = NULL;
    BoxliteBox *box =
        boxlite_runtime_get (bl_serve_get_runtime (call->serve), call->args[0], &error);
    if (!box)
        bl_serve_reply_gerror (call, error);
    return box;
}

char *
bl_serve_time (GDateTime *time)
{
    g_autoptr (GDateTime) utc = g_date_time_to_utc (time);
    return g_date_time_format (utc, "%Y-%m-%dT%H:%M:%S.%fZ");
}

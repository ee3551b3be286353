/* mcp-schema.c: arguments of a tool call checked against the input schema
 * the client was given, so that the schema is the one statement of what a
 * tool takes and the tools read arguments whose types are known.
 *
 * Only the keywords our schemas use are implemented; the walk follows the
 * schema, so a value nested deeper than the schema is never visited. */
#include <math.h>
#include <string.h>

#include "json-file.h"
#include "mcp-rpc.h"
#include "mcp-schema.h"

static gboolean fail (GError **error, const char *path, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError **error, const char *path, const char *format, ...)
{
    va_list ap;

    va_start (ap, format);
    g_autofree char *message = g_strdup_vprintf (format, ap);
    va_end (ap);
    g_set_error (error, BL_MCP_RPC_ERROR, BL_MCP_INVALID_PARAMS, "%s: %s", path, message);
    return FALSE;
}

static gboolean
is_integer (JsonNode *value)
{
    if (!JSON_NODE_HOLDS_VALUE (value))
        return FALSE;
    if (json_node_get_value_type (value) == G_TYPE_INT64)
        return TRUE;
    if (json_node_get_value_type (value) != G_TYPE_DOUBLE)
        return FALSE;
    double d = json_node_get_double (value);
    return isfinite (d) && d == floor (d) && fabs (d) < 9007199254740992.0; /* 2^53 */
}

static gboolean
has_type (JsonNode *value, const char *type)
{
    gboolean scalar = JSON_NODE_HOLDS_VALUE (value);
    GType value_type = scalar ? json_node_get_value_type (value) : G_TYPE_INVALID;

    if (g_str_equal (type, "object"))
        return JSON_NODE_HOLDS_OBJECT (value);
    if (g_str_equal (type, "array"))
        return JSON_NODE_HOLDS_ARRAY (value);
    if (g_str_equal (type, "string"))
        return value_type == G_TYPE_STRING;
    if (g_str_equal (type, "boolean"))
        return value_type == G_TYPE_BOOLEAN;
    if (g_str_equal (type, "integer"))
        return is_integer (value);
    if (g_str_equal (type, "number"))
        return value_type == G_TYPE_INT64 || value_type == G_TYPE_DOUBLE;
    if (g_str_equal (type, "null"))
        return JSON_NODE_HOLDS_NULL (value);
    return FALSE;
}

/* The strings of @names (a list of strings in a schema) joined by @sep,
 * for a message. */
static char *
join (JsonArray *names, const char *sep)
{
    GString *text = g_string_new (NULL);

    for (guint i = 0; i < json_array_get_length (names); i++)
        g_string_append_printf (text, "%s%s", i ? sep : "",
                                json_array_get_string_element (names, i));
    return g_string_free (text, FALSE);
}

/* The keywords @max and @min bounding @count, of @unit. */
static gboolean
check_count (JsonObject *schema, const char *max, const char *min, gint64 count, const char *unit,
             const char *path, GError **error)
{
    if (json_object_has_member (schema, max) && count > json_object_get_int_member (schema, max))
        return fail (error, path, "has more than %" G_GINT64_FORMAT " %s",
                     json_object_get_int_member (schema, max), unit);
    if (json_object_has_member (schema, min) && count < json_object_get_int_member (schema, min))
        return fail (error, path, "has fewer than %" G_GINT64_FORMAT " %s",
                     json_object_get_int_member (schema, min), unit);
    return TRUE;
}

/* The "type" keyword: one name, or a list of names of which one fits. */
static gboolean
check_type (JsonObject *schema, JsonNode *value, const char *path, GError **error)
{
    JsonNode *type = json_object_get_member (schema, "type");

    if (!type)
        return TRUE;
    if (JSON_NODE_HOLDS_VALUE (type)) {
        const char *name = json_node_get_string (type);
        return has_type (value, name) || fail (error, path, "must be of type %s", name);
    }
    JsonArray *names = json_node_get_array (type);
    for (guint i = 0; i < json_array_get_length (names); i++) {
        if (has_type (value, json_array_get_string_element (names, i)))
            return TRUE;
    }
    g_autofree char *wanted = join (names, " or ");
    return fail (error, path, "must be of type %s", wanted);
}

static gboolean
check_string (JsonObject *schema, const char *text, const char *path, GError **error)
{
    JsonArray *choices = bl_json_member_array (schema, "enum");

    if (!check_count (schema, "maxLength", "minLength", g_utf8_strlen (text, -1), "characters",
                      path, error))
        return FALSE;
    if (!choices)
        return TRUE;
    for (guint i = 0; i < json_array_get_length (choices); i++) {
        if (g_str_equal (json_array_get_string_element (choices, i), text))
            return TRUE;
    }
    g_autofree char *names = join (choices, ", ");
    return fail (error, path, "must be one of %s", names);
}

static gboolean
check_number (JsonObject *schema, JsonNode *value, const char *path, GError **error)
{
    double number = JSON_NODE_TYPE (value) == JSON_NODE_VALUE &&
                            json_node_get_value_type (value) == G_TYPE_INT64
                        ? (double) json_node_get_int (value)
                        : json_node_get_double (value);

    if (json_object_has_member (schema, "minimum") &&
        number < json_object_get_double_member (schema, "minimum"))
        return fail (error, path, "must be at least %g",
                     json_object_get_double_member (schema, "minimum"));
    if (json_object_has_member (schema, "maximum") &&
        number > json_object_get_double_member (schema, "maximum"))
        return fail (error, path, "must be at most %g",
                     json_object_get_double_member (schema, "maximum"));
    return TRUE;
}

static gboolean check_node (JsonObject *schema, JsonNode *value, const char *path, GError **error);

static gboolean
check_object (JsonObject *schema, JsonObject *obj, const char *path, GError **error)
{
    JsonObject *properties = bl_json_member_object (schema, "properties");
    JsonNode *additional = json_object_get_member (schema, "additionalProperties");
    JsonArray *required = bl_json_member_array (schema, "required");
    JsonObjectIter iter;
    const char *name;
    JsonNode *member;

    for (guint i = 0; required && i < json_array_get_length (required); i++) {
        const char *wanted = json_array_get_string_element (required, i);
        if (!json_object_has_member (obj, wanted))
            return fail (error, path, "\"%s\" is required", wanted);
    }
    json_object_iter_init (&iter, obj);
    while (json_object_iter_next (&iter, &name, &member)) {
        JsonObject *member_schema = properties && json_object_has_member (properties, name)
                                        ? json_object_get_object_member (properties, name)
                                        : NULL;
        if (!member_schema && additional && JSON_NODE_HOLDS_OBJECT (additional))
            member_schema = json_node_get_object (additional);
        /* Named in messages, but not at any length. */
        g_autofree char *text = bl_mcp_text (name, MIN (strlen (name), 64));
        if (!member_schema && additional && JSON_NODE_HOLDS_VALUE (additional) &&
            !json_node_get_boolean (additional))
            return fail (error, path, "unknown member \"%s\"", text);
        g_autofree char *member_path = g_strdup_printf ("%s.%s", path, text);
        if (member_schema && !check_node (member_schema, member, member_path, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean
check_array (JsonObject *schema, JsonArray *array, const char *path, GError **error)
{
    JsonObject *items = bl_json_member_object (schema, "items");
    guint n = json_array_get_length (array);

    if (!check_count (schema, "maxItems", "minItems", n, "items", path, error))
        return FALSE;
    for (guint i = 0; items && i < n; i++) {
        g_autofree char *item_path = g_strdup_printf ("%s[%u]", path, i);
        if (!check_node (items, json_array_get_element (array, i), item_path, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean
check_node (JsonObject *schema, JsonNode *value, const char *path, GError **error)
{
    if (!check_type (schema, value, path, error))
        return FALSE;
    if (JSON_NODE_HOLDS_OBJECT (value))
        return check_object (schema, json_node_get_object (value), path, error);
    if (JSON_NODE_HOLDS_ARRAY (value))
        return check_array (schema, json_node_get_array (value), path, error);
    if (has_type (value, "string"))
        return check_string (schema, json_node_get_string (value), path, error);
    if (has_type (value, "number"))
        return check_number (schema, value, path, error);
    return TRUE;
}

gboolean
bl_mcp_schema_check (JsonObject *schema, JsonNode *value, const char *path, GError **error)
{
    return check_node (schema, value, path, error);
}

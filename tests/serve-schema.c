/* serve-schema.c: see serve-schema.h. */
#include <string.h>

#include "serve-schema.h"

struct _ServeSchema {
    JsonParser *parser;
    JsonObject *paths;
    JsonObject *schemas;
    GHashTable *answered; /* "METHOD /template" */
};

ServeSchema *
serve_schema_load (const char *path, GError **error)
{
    ServeSchema *schema = g_new0 (ServeSchema, 1);

    schema->parser = json_parser_new ();
    schema->answered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    if (!json_parser_load_from_file (schema->parser, path, error)) {
        serve_schema_free (schema);
        return NULL;
    }
    JsonObject *root = json_node_get_object (json_parser_get_root (schema->parser));
    schema->paths = json_object_get_object_member (root, "paths");
    schema->schemas = json_object_get_object_member (
        json_object_get_object_member (root, "components"), "schemas");
    return schema;
}

void
serve_schema_free (ServeSchema *schema)
{
    g_clear_object (&schema->parser);
    g_hash_table_unref (schema->answered);
    g_free (schema);
}

/* Whether @path fits @template ("{name}" is one non-empty segment). */
static gboolean
path_matches (const char *template, const char *path)
{
    g_auto (GStrv) want = g_strsplit (template, "/", -1);
    g_auto (GStrv) have = g_strsplit (path, "/", -1);

    if (g_strv_length (want) != g_strv_length (have))
        return FALSE;
    for (guint i = 0; want[i]; i++) {
        if (want[i][0] == '{' ? !*have[i] : !g_str_equal (want[i], have[i]))
            return FALSE;
    }
    return TRUE;
}

/* Literal segments win over parameters: /v1/images/pull over
 * /v1/images/{image_id}. */
static const char *
find_template (ServeSchema *schema, const char *method, const char *path)
{
    g_autofree char *lower = g_ascii_strdown (method, -1);
    const char *best = NULL;
    guint best_literals = 0;
    JsonObjectIter iter;
    const char *template;
    JsonNode *node;

    json_object_iter_init (&iter, schema->paths);
    while (json_object_iter_next (&iter, &template, &node)) {
        if (!path_matches (template, path) ||
            !json_object_has_member (json_node_get_object (node), lower))
            continue;
        guint literals = 0;
        gboolean in_param = FALSE;
        for (const char *p = template; *p; p++) {
            if (*p == '{' || *p == '}')
                in_param = *p == '{';
            else
                literals += !in_param;
        }
        if (!best || literals > best_literals) {
            best = template;
            best_literals = literals;
        }
    }
    return best;
}

static gboolean validate (ServeSchema *schema, JsonObject *s, JsonNode *node, const char *where,
                          GError **error);

static const char *
node_type (JsonNode *node)
{
    if (JSON_NODE_HOLDS_NULL (node))
        return "null";
    if (JSON_NODE_HOLDS_OBJECT (node))
        return "object";
    if (JSON_NODE_HOLDS_ARRAY (node))
        return "array";
    GType t = json_node_get_value_type (node);
    if (t == G_TYPE_STRING)
        return "string";
    if (t == G_TYPE_BOOLEAN)
        return "boolean";
    if (t == G_TYPE_INT64)
        return "integer";
    return "number";
}

static gboolean
fail (GError **error, const char *where, const char *what)
{
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: %s", where, what);
    return FALSE;
}

static gboolean
validate_object (ServeSchema *schema, JsonObject *s, JsonObject *obj, const char *where,
                 GError **error)
{
    JsonObject *props = json_object_has_member (s, "properties")
                            ? json_object_get_object_member (s, "properties")
                            : NULL;
    JsonNode *extra = json_object_get_member (s, "additionalProperties");

    if (json_object_has_member (s, "required")) {
        JsonArray *req = json_object_get_array_member (s, "required");
        for (guint i = 0; i < json_array_get_length (req); i++) {
            const char *name = json_array_get_string_element (req, i);
            if (!json_object_has_member (obj, name)) {
                g_autofree char *what = g_strdup_printf ("missing required member %s", name);
                return fail (error, where, what);
            }
        }
    }
    JsonObjectIter iter;
    const char *name;
    JsonNode *value;
    json_object_iter_init (&iter, obj);
    while (json_object_iter_next (&iter, &name, &value)) {
        g_autofree char *inner = g_strdup_printf ("%s.%s", where, name);
        if (props && json_object_has_member (props, name)) {
            if (!validate (schema, json_object_get_object_member (props, name), value, inner,
                           error))
                return FALSE;
        } else if (extra && JSON_NODE_HOLDS_VALUE (extra) && !json_node_get_boolean (extra)) {
            return fail (error, inner, "member not in the schema");
        } else if (extra && JSON_NODE_HOLDS_OBJECT (extra)) {
            if (!validate (schema, json_node_get_object (extra), value, inner, error))
                return FALSE;
        }
    }
    return TRUE;
}

static gboolean
validate (ServeSchema *schema, JsonObject *s, JsonNode *node, const char *where, GError **error)
{
    if (json_object_has_member (s, "$ref")) {
        const char *ref = json_object_get_string_member (s, "$ref");
        const char *name = strrchr (ref, '/') + 1;
        if (!json_object_has_member (schema->schemas, name))
            return fail (error, where, "unknown $ref");
        return validate (schema, json_object_get_object_member (schema->schemas, name), node, where,
                         error);
    }
    const char *type = node_type (node);
    if (g_str_equal (type, "null")) {
        if (json_object_get_boolean_member_with_default (s, "nullable", FALSE))
            return TRUE;
        return fail (error, where, "null where the schema has no nullable");
    }
    const char *want = json_object_get_string_member_with_default (s, "type", NULL);
    if (want && !g_str_equal (want, type) &&
        !(g_str_equal (want, "number") && g_str_equal (type, "integer"))) {
        g_autofree char *what = g_strdup_printf ("a %s where the schema wants %s", type, want);
        return fail (error, where, what);
    }
    if (json_object_has_member (s, "enum")) {
        JsonArray *values = json_object_get_array_member (s, "enum");
        gboolean found = FALSE;
        for (guint i = 0; i < json_array_get_length (values) && !found; i++)
            found = json_node_equal (json_array_get_element (values, i), node);
        if (!found)
            return fail (error, where, "a value not in the enum");
    }
    if (g_str_equal (type, "object"))
        return validate_object (schema, s, json_node_get_object (node), where, error);
    if (g_str_equal (type, "array")) {
        JsonArray *array = json_node_get_array (node);
        JsonObject *items =
            json_object_has_member (s, "items") ? json_object_get_object_member (s, "items") : NULL;
        for (guint i = 0; items && i < json_array_get_length (array); i++) {
            g_autofree char *inner = g_strdup_printf ("%s[%u]", where, i);
            if (!validate (schema, items, json_array_get_element (array, i), inner, error))
                return FALSE;
        }
        return TRUE;
    }
    if (g_str_equal (type, "integer") || g_str_equal (type, "number")) {
        gdouble v = json_node_get_double (node);
        if (json_object_has_member (s, "minimum") &&
            v < json_object_get_double_member (s, "minimum"))
            return fail (error, where, "below the minimum");
        if (json_object_has_member (s, "maximum") &&
            v > json_object_get_double_member (s, "maximum"))
            return fail (error, where, "above the maximum");
    }
    if (g_str_equal (type, "string")) {
        const char *v = json_node_get_string (node);
        glong len = g_utf8_strlen (v, -1);
        if (json_object_has_member (s, "minLength") &&
            len < json_object_get_int_member (s, "minLength"))
            return fail (error, where, "shorter than minLength");
        if (json_object_has_member (s, "maxLength") &&
            len > json_object_get_int_member (s, "maxLength"))
            return fail (error, where, "longer than maxLength");
        const char *format = json_object_get_string_member_with_default (s, "format", "");
        if (g_str_equal (format, "date-time")) {
            g_autoptr (GDateTime) t = g_date_time_new_from_iso8601 (v, NULL);
            if (!t)
                return fail (error, where, "not an ISO 8601 date-time");
        }
    }
    return TRUE;
}

gboolean
serve_schema_validate (ServeSchema *schema, const char *name, JsonNode *node, GError **error)
{
    if (!json_object_has_member (schema->schemas, name))
        return fail (error, name, "no such schema");
    return validate (schema, json_object_get_object_member (schema->schemas, name), node, name,
                     error);
}

gboolean
serve_schema_check (ServeSchema *schema, const char *method, const char *path, guint status,
                    const char *content_type, GBytes *body, GError **error)
{
    const char *template = find_template (schema, method, path);
    g_autofree char *lower = g_ascii_strdown (method, -1);
    g_autofree char *code = g_strdup_printf ("%u", status);
    g_autofree char *where = g_strdup_printf ("%s %s %u", method, path, status);

    if (!template)
        return fail (error, where, "no operation of the file has this path");
    JsonObject *op = json_object_get_object_member (
        json_object_get_object_member (schema->paths, template), lower);
    JsonObject *responses = json_object_get_object_member (op, "responses");
    if (!json_object_has_member (responses, code))
        return fail (error, where, "a status the file does not list");
    if (status < 300)
        g_hash_table_add (schema->answered, g_strdup_printf ("%s %s", method, template));
    JsonObject *response = json_object_get_object_member (responses, code);
    gsize len = body ? g_bytes_get_size (body) : 0;
    if (!json_object_has_member (response, "content")) {
        if (len && !g_str_equal (method, "HEAD"))
            return fail (error, where, "a body where the file has none");
        return TRUE;
    }
    JsonObject *content = json_object_get_object_member (response, "content");
    g_autofree char *type = g_strdup (content_type ? content_type : "");
    char *semicolon = strchr (type, ';');
    if (semicolon)
        *semicolon = '\0';
    if (!json_object_has_member (content, type)) {
        g_autofree char *what = g_strdup_printf ("content type '%s' not in the file", type);
        return fail (error, where, what);
    }
    if (!g_str_equal (type, "application/json"))
        return TRUE;
    g_autoptr (JsonParser) parser = json_parser_new ();
    if (!json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), (gssize) len, error)) {
        g_prefix_error (error, "%s: ", where);
        return FALSE;
    }
    JsonObject *s = json_object_get_object_member (
        json_object_get_object_member (content, "application/json"), "schema");
    return validate (schema, s, json_parser_get_root (parser), where, error);
}

static char **
operations (ServeSchema *schema, gboolean only_unanswered)
{
    g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
    JsonObjectIter iter;
    const char *template;
    JsonNode *node;
    static const char *const methods[] = { "get", "head", "post", "put", "delete" };

    json_object_iter_init (&iter, schema->paths);
    while (json_object_iter_next (&iter, &template, &node)) {
        for (guint i = 0; i < G_N_ELEMENTS (methods); i++) {
            if (!json_object_has_member (json_node_get_object (node), methods[i]))
                continue;
            g_autofree char *upper = g_ascii_strup (methods[i], -1);
            g_autofree char *name = g_strdup_printf ("%s %s", upper, template);
            if (!only_unanswered || !g_hash_table_contains (schema->answered, name))
                g_strv_builder_add (b, name);
        }
    }
    return g_strv_builder_end (b);
}

char **
serve_schema_operations (ServeSchema *schema)
{
    return operations (schema, FALSE);
}

char **
serve_schema_unanswered (ServeSchema *schema)
{
    return operations (schema, TRUE);
}

/* json-file.c: small JSON documents on disk, written atomically, and
 * members of JSON read from outside, taken only with the expected type. */
#include "json-file.h"

gboolean
bl_json_write_file (const char *path, JsonBuilder *builder, GError **error)
{
    g_autoptr (GBytes) text = bl_json_builder_to_bytes (builder);
    gsize len = 0;
    const char *data = g_bytes_get_data (text, &len);

    return g_file_set_contents_full (path, data, (gssize) len, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                     error);
}

const char *
bl_json_member_string (JsonObject *obj, const char *name)
{
    JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

    if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        return NULL;
    return json_node_get_string (node);
}

JsonObject *
bl_json_member_object (JsonObject *obj, const char *name)
{
    JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

    return node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

JsonArray *
bl_json_member_array (JsonObject *obj, const char *name)
{
    JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

    return node && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

/* Whether arrays and objects in @data nest at most @max deep; strings (with
 * their escapes) are skipped. Malformed input is left to the parser. */
static gboolean
nesting_within (const char *data, gsize len, guint max)
{
    guint depth = 0;
    gboolean in_string = FALSE;

    for (gsize i = 0; i < len; i++) {
        char c = data[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = FALSE;
        } else if (c == '"') {
            in_string = TRUE;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return FALSE;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return TRUE;
}

gboolean
bl_json_load (JsonParser *parser, const char *data, gsize len, GError **error)
{
    if (!nesting_within (data, len, BL_JSON_DEPTH_MAX)) {
        g_set_error (error, JSON_PARSER_ERROR, JSON_PARSER_ERROR_PARSE,
                     "arrays and objects nest deeper than %u levels", BL_JSON_DEPTH_MAX);
        return FALSE;
    }
    return json_parser_load_from_data (parser, data, (gssize) len, error);
}

JsonObject *
bl_json_load_object (JsonParser *parser, const char *data, gsize len)
{
    if (!data || len == 0 || !bl_json_load (parser, data, len, NULL))
        return NULL;
    JsonNode *root = json_parser_get_root (parser);
    return root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
}

GBytes *
bl_json_builder_to_bytes (JsonBuilder *builder)
{
    g_autoptr (JsonGenerator) gen = json_generator_new ();
    g_autoptr (JsonNode) root = json_builder_get_root (builder);
    gsize len = 0;

    json_generator_set_root (gen, root);
    json_generator_set_pretty (gen, TRUE);
    char *text = json_generator_to_data (gen, &len);
    return g_bytes_new_take (text, len);
}

/* mcp-rpc.c: JSON-RPC 2.0 messages from an MCP client, and our replies.
 *
 * Every line comes from the client, which we do not trust to be well
 * formed: text that is not UTF-8, JSON nested past BL_JSON_DEPTH_MAX,
 * batches, ids that are neither strings nor integers and members of the
 * wrong type are refused with the JSON-RPC error that names the fault,
 * never taken on trust. What we write is built by json-glib on one line. */
#include <string.h>

#include "json-file.h"
#include "mcp-rpc.h"

G_DEFINE_QUARK (bl - mcp - rpc - error - quark, bl_mcp_rpc_error)

void
bl_mcp_message_clear (BlMcpMessage *msg)
{
    g_clear_pointer (&msg->id, json_node_unref);
    g_clear_pointer (&msg->method, g_free);
    g_clear_pointer (&msg->params, json_object_unref);
}

/* Whether @node may be an MCP id: a string or an integer (not null, not a
 * fraction, which would not come back the same). */
static gboolean
valid_id (JsonNode *node)
{
    if (!JSON_NODE_HOLDS_VALUE (node))
        return FALSE;
    GType type = json_node_get_value_type (node);
    return type == G_TYPE_STRING || type == G_TYPE_INT64;
}

/* Whether every string and member name under @node is UTF-8: json-glib
 * turns an escaped lone surrogate ("\udc00") into bytes that are not, and
 * they would reach our replies (an id is echoed). */
static gboolean
strings_valid (JsonNode *node)
{
    if (JSON_NODE_HOLDS_VALUE (node))
        return json_node_get_value_type (node) != G_TYPE_STRING ||
               g_utf8_validate (json_node_get_string (node), -1, NULL);
    if (JSON_NODE_HOLDS_ARRAY (node)) {
        JsonArray *array = json_node_get_array (node);
        for (guint i = 0; i < json_array_get_length (array); i++) {
            if (!strings_valid (json_array_get_element (array, i)))
                return FALSE;
        }
    } else if (JSON_NODE_HOLDS_OBJECT (node)) {
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;
        json_object_iter_init (&iter, json_node_get_object (node));
        while (json_object_iter_next (&iter, &name, &member)) {
            if (!g_utf8_validate (name, -1, NULL) || !strings_valid (member))
                return FALSE;
        }
    }
    return TRUE;
}

static gboolean
invalid (GError **error, const char *message)
{
    g_set_error_literal (error, BL_MCP_RPC_ERROR, BL_MCP_INVALID_REQUEST, message);
    return FALSE;
}

/* The members of a message object, checked one by one. */
static gboolean
read_message (JsonObject *obj, BlMcpMessage *msg, GError **error)
{
    JsonNode *version = json_object_get_member (obj, "jsonrpc");
    JsonNode *id = json_object_get_member (obj, "id");
    JsonNode *method = json_object_get_member (obj, "method");
    JsonNode *params = json_object_get_member (obj, "params");

    if (id && valid_id (id))
        msg->id = json_node_copy (id);
    if (!version || !JSON_NODE_HOLDS_VALUE (version) ||
        json_node_get_value_type (version) != G_TYPE_STRING ||
        g_strcmp0 (json_node_get_string (version), "2.0") != 0)
        return invalid (error, "not a JSON-RPC 2.0 message: \"jsonrpc\" must be \"2.0\"");
    if (id && !msg->id)
        return invalid (error, "the id must be a string or an integer");
    if (!method) {
        if (msg->id &&
            (json_object_has_member (obj, "result") || json_object_has_member (obj, "error"))) {
            msg->kind = BL_MCP_MESSAGE_RESPONSE;
            return TRUE;
        }
        return invalid (error, "a request needs a \"method\"");
    }
    if (!JSON_NODE_HOLDS_VALUE (method) || json_node_get_value_type (method) != G_TYPE_STRING)
        return invalid (error, "the method must be a string");
    if (params && !JSON_NODE_HOLDS_OBJECT (params)) {
        g_set_error_literal (error, BL_MCP_RPC_ERROR, BL_MCP_INVALID_PARAMS,
                             "the params must be an object");
        return FALSE;
    }
    msg->kind = msg->id ? BL_MCP_MESSAGE_REQUEST : BL_MCP_MESSAGE_NOTIFICATION;
    msg->method = g_strdup (json_node_get_string (method));
    if (params)
        msg->params = json_object_ref (json_node_get_object (params));
    return TRUE;
}

gboolean
bl_mcp_message_parse (const char *text, gsize len, BlMcpMessage *msg, GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();
    g_autoptr (GError) local = NULL;

    memset (msg, 0, sizeof *msg);
    if (!g_utf8_validate_len (text, len, NULL) || memchr (text, '\0', len)) {
        g_set_error_literal (error, BL_MCP_RPC_ERROR, BL_MCP_PARSE_ERROR,
                             "parse error: the message is not UTF-8 text");
        return FALSE;
    }
    if (!bl_json_load (parser, text, len, &local)) {
        g_set_error (error, BL_MCP_RPC_ERROR, BL_MCP_PARSE_ERROR, "parse error: %s",
                     local->message);
        return FALSE;
    }
    JsonNode *root = json_parser_get_root (parser);
    if (root && !strings_valid (root)) {
        g_set_error_literal (error, BL_MCP_RPC_ERROR, BL_MCP_PARSE_ERROR,
                             "parse error: a string escape is not valid Unicode");
        return FALSE;
    }
    if (root && JSON_NODE_HOLDS_ARRAY (root))
        return invalid (error, "batches are not supported: send one message per line");
    if (!root || !JSON_NODE_HOLDS_OBJECT (root))
        return invalid (error, "a message must be a JSON object");
    if (!read_message (json_node_get_object (root), msg, error)) {
        JsonNode *id = g_steal_pointer (&msg->id);
        bl_mcp_message_clear (msg);
        msg->id = id;
        return FALSE;
    }
    return TRUE;
}

/* {"jsonrpc":"2.0","id":@id,@member:@value} on one line. Takes @value. */
static char *
reply (JsonNode *id, const char *member, JsonNode *value)
{
    g_autoptr (JsonObject) obj = json_object_new ();
    g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
    g_autoptr (JsonGenerator) gen = json_generator_new ();

    json_object_set_string_member (obj, "jsonrpc", "2.0");
    json_object_set_member (obj, "id", id ? json_node_copy (id) : json_node_new (JSON_NODE_NULL));
    json_object_set_member (obj, member, value);
    json_node_set_object (root, obj);
    json_generator_set_root (gen, root);
    g_autofree char *text = json_generator_to_data (gen, NULL);
    return g_strconcat (text, "\n", NULL);
}

char *
bl_mcp_reply_result (JsonNode *id, JsonNode *result)
{
    return reply (id, "result", json_node_copy (result));
}

char *
bl_mcp_reply_error (JsonNode *id, int code, const char *message)
{
    JsonObject *error = json_object_new ();
    JsonNode *node = json_node_new (JSON_NODE_OBJECT);
    g_autofree char *text = bl_mcp_text (message, strlen (message));

    json_object_set_int_member (error, "code", code);
    json_object_set_string_member (error, "message", text);
    json_node_take_object (node, error);
    return reply (id, "error", node);
}

char *
bl_mcp_id_key (JsonNode *id)
{
    return json_to_string (id, FALSE);
}

char *
bl_mcp_text (const char *data, gsize len)
{
    g_autoptr (GString) copy = g_string_sized_new (len);
    const char *end = data + len;

    /* g_utf8_make_valid() keeps NUL bytes, which would end the C string. */
    while (data < end) {
        const char *nul = memchr (data, '\0', (gsize) (end - data));
        const char *stop = nul ? nul : end;
        g_string_append_len (copy, data, stop - data);
        if (!nul)
            break;
        g_string_append (copy, "\xef\xbf\xbd");
        data = nul + 1;
    }
    return g_utf8_make_valid (copy->str, (gssize) copy->len);
}

/* mcp-rpc.h: JSON-RPC 2.0 messages as MCP uses them: one JSON object per
 * message, ids that are strings or integers, and the replies we write. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* JSON-RPC's error codes; they are also the codes of BL_MCP_RPC_ERROR. */
#define BL_MCP_PARSE_ERROR (-32700)
#define BL_MCP_INVALID_REQUEST (-32600)
#define BL_MCP_METHOD_NOT_FOUND (-32601)
#define BL_MCP_INVALID_PARAMS (-32602)
#define BL_MCP_INTERNAL_ERROR (-32603)
/* In the range JSON-RPC leaves to servers: a call refused for now. */
#define BL_MCP_SERVER_BUSY (-32000)

#define BL_MCP_RPC_ERROR (bl_mcp_rpc_error_quark ())
GQuark bl_mcp_rpc_error_quark (void);

typedef enum {
    BL_MCP_MESSAGE_REQUEST,      /* method and id: it gets a reply */
    BL_MCP_MESSAGE_NOTIFICATION, /* method, no id: no reply */
    BL_MCP_MESSAGE_RESPONSE,     /* id and result or error: a reply to us */
} BlMcpMessageKind;

typedef struct {
    BlMcpMessageKind kind;
    JsonNode *id;       /* requests and responses; a string or an integer */
    char *method;       /* requests and notifications */
    JsonObject *params; /* an object, or NULL when absent */
} BlMcpMessage;

void bl_mcp_message_clear (BlMcpMessage *msg);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (BlMcpMessage, bl_mcp_message_clear)

/* Parses one message of @len bytes. Returns FALSE with @error in
 * BL_MCP_RPC_ERROR (BL_MCP_PARSE_ERROR for what is not JSON in UTF-8,
 * BL_MCP_INVALID_REQUEST for JSON that is not a message, a batch
 * included, BL_MCP_INVALID_PARAMS for params that are not an object); then
 * @msg->id is the message's id when it could be read, for the error reply,
 * else NULL. */
gboolean bl_mcp_message_parse (const char *text, gsize len, BlMcpMessage *msg, GError **error);

/* The reply lines, each one JSON object ending in '\n'; @id NULL is
 * JSON's null (the id of a message that could not be read). */
char *bl_mcp_reply_result (JsonNode *id, JsonNode *result);
char *bl_mcp_reply_error (JsonNode *id, int code, const char *message);

/* A key naming @id in tables: 1 and "1" are different ids. */
char *bl_mcp_id_key (JsonNode *id);

/* @len bytes as text we may put in JSON: invalid UTF-8 and NUL bytes are
 * replaced by U+FFFD. */
char *bl_mcp_text (const char *data, gsize len);

G_END_DECLS

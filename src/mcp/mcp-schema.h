/* mcp-schema.h: a tool's arguments checked against its input schema. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Checks @value against @schema in the subset of JSON Schema that our
 * tools' input schemas use: type (one name or a list), properties,
 * required, additionalProperties (false or a schema), items, enum (of
 * strings), minimum, maximum, minLength, maxLength (in characters) and
 * maxItems. @path names @value in messages ("arguments").
 *
 * Returns: TRUE when it fits, or FALSE with @error (BL_MCP_RPC_ERROR,
 *   BL_MCP_INVALID_PARAMS) naming the first member that does not */
gboolean bl_mcp_schema_check (JsonObject *schema, JsonNode *value, const char *path,
                              GError **error);

G_END_DECLS

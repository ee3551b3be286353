/* mcp-tools.h: the tools `boxlite mcp` offers, and what they return. */
#pragma once

#include <boxlite/boxlite.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Output of a command kept for the client, per stream; the rest is counted
 * and dropped, with a note. */
#define BL_MCP_OUTPUT_MAX (64 * 1024)

/* A tool's answer: text blocks in order, and whether the call failed. */
typedef struct {
    GPtrArray *texts; /* char *, valid UTF-8 */
    gboolean is_error;
} BlMcpResult;

void bl_mcp_result_init (BlMcpResult *result);
void bl_mcp_result_clear (BlMcpResult *result);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (BlMcpResult, bl_mcp_result_clear)
/* Adds a text block; bytes that are not UTF-8 become U+FFFD. */
void bl_mcp_result_add_text (BlMcpResult *result, const char *data, gsize len);
void bl_mcp_result_add (BlMcpResult *result, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* Marks the call failed, with @error's message as a block of its own. */
void bl_mcp_result_fail (BlMcpResult *result, const GError *error);
/* {"content": [{"type": "text", "text": …}…], "isError": …} */
JsonNode *bl_mcp_result_to_json (BlMcpResult *result);

/* Runs one tool call on a worker thread with arguments that passed the
 * tool's input schema. @cancellable is cancelled when the client cancels
 * the call or goes away: the tool then ends what it started (a command
 * is killed, a box made for the call removed) before it returns. */
typedef void (*BlMcpToolFunc) (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                               BlMcpResult *result);

/* {"tools": [...]}: every tool with its description and input schema, as
 * tools/list answers (owned by this module). */
JsonNode *bl_mcp_tools_list (void);
/* The input schema of tool @name, or NULL when there is no such tool. */
JsonObject *bl_mcp_tool_schema (const char *name);
BlMcpToolFunc bl_mcp_tool_func (const char *name);

/* mcp-tool-boxes.c: create_box, list_boxes, remove_box, and the box a
 * call names, started when it is not running. */
void bl_mcp_tool_create_box (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                             BlMcpResult *result);
void bl_mcp_tool_list_boxes (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                             BlMcpResult *result);
void bl_mcp_tool_remove_box (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                             BlMcpResult *result);
BoxliteBox *bl_mcp_running_box (BoxliteRuntime *runtime, const char *ref, GCancellable *cancellable,
                                GError **error);
/* The "env" argument ({"NAME": "value"…}) as NAME=value strings. */
char **bl_mcp_env_strv (JsonObject *args);

/* mcp-tool-exec.c: commands, with their output bounded. */
void bl_mcp_tool_exec (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                       BlMcpResult *result);
void bl_mcp_tool_run_code (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                           BlMcpResult *result);
void bl_mcp_tool_list_files (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                             BlMcpResult *result);

/* mcp-tool-files.c: the library's small-file copies. */
void bl_mcp_tool_read_file (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                            BlMcpResult *result);
void bl_mcp_tool_write_file (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                             BlMcpResult *result);

G_END_DECLS

/* mcp-lines.h: the messages of MCP's stdio transport, one per line, cut
 * from a byte stream with a bound on each. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One line without its '\n' (and without a '\r' before it), NUL-terminated
 * for convenience; @line is valid during the call only. When a line grows
 * past the bound, this is called once with @line NULL and @overlong TRUE,
 * and the rest of that line is dropped up to its newline. */
typedef void (*BlMcpLineFunc) (const char *line, gsize len, gboolean overlong, gpointer user_data);

typedef struct {
    GByteArray *pending; /* the start of a line whose newline has not come */
    gsize max;           /* bytes a line may have, without its newline */
    gboolean dropping;   /* inside a line past @max */
} BlMcpLines;

void bl_mcp_lines_init (BlMcpLines *lines, gsize max);
void bl_mcp_lines_clear (BlMcpLines *lines);

/* Cuts @data (@len bytes) into lines, calling @func for each one it ends
 * and keeping the start of an unfinished one for the next call. */
void bl_mcp_lines_feed (BlMcpLines *lines, const guint8 *data, gsize len, BlMcpLineFunc func,
                        gpointer user_data);

/* The end of the stream: a last line without a newline is still one. */
void bl_mcp_lines_finish (BlMcpLines *lines, BlMcpLineFunc func, gpointer user_data);

G_END_DECLS

/* mcp-server.h: `boxlite mcp`, the Model Context Protocol over a pair of
 * file descriptors (the stdio transport). */
#pragma once

#include <boxlite/boxlite.h>

G_BEGIN_DECLS

/* Longest message accepted, without its newline: room for write_file's
 * largest content in base64. A longer line is refused and skipped. */
#define BL_MCP_LINE_MAX (8 * 1024 * 1024)
/* Tool calls running at once; more are refused until one ends. */
#define BL_MCP_CALLS_MAX 8

/* Serves MCP on @in_fd and @out_fd (which it closes) with the boxes of
 * @runtime, on the thread-default main context, until @in_fd ends and the
 * calls still running are answered, or until SIGINT, SIGTERM or SIGHUP
 * arrives, which cancels them (they are waited for, so that what they
 * made is gone). Writes nothing but protocol messages to @out_fd.
 *
 * Returns: 0, or 1 when the messages could not be read or written */
int bl_mcp_serve (BoxliteRuntime *runtime, int in_fd, int out_fd);

G_END_DECLS

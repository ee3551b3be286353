/* mcp-lines.c: newline-delimited messages with a bound on each.
 *
 * The peer decides how much it sends before a newline; we keep at most
 * @max bytes of one line, so memory stays bounded whatever it sends. */
#include <string.h>

#include "mcp-lines.h"

void
bl_mcp_lines_init (BlMcpLines *lines, gsize max)
{
    lines->pending = g_byte_array_new ();
    lines->max = max;
    lines->dropping = FALSE;
}

void
bl_mcp_lines_clear (BlMcpLines *lines)
{
    g_clear_pointer (&lines->pending, g_byte_array_unref);
}

/* Hands the line in @pending to @func and empties it. */
static void
emit_pending (BlMcpLines *lines, BlMcpLineFunc func, gpointer user_data)
{
    GByteArray *line = lines->pending;
    gsize len = line->len;

    if (len > 0 && line->data[len - 1] == '\r')
        len--;
    g_byte_array_set_size (line, len + 1);
    line->data[len] = '\0';
    func ((const char *) line->data, len, FALSE, user_data);
    g_byte_array_set_size (line, 0);
}

/* Adds @len bytes of one line to @pending, or notices that the line is
 * too long. Returns FALSE when it is (and it is being dropped). */
static gboolean
take (BlMcpLines *lines, const guint8 *data, gsize len, BlMcpLineFunc func, gpointer user_data)
{
    if (lines->dropping)
        return FALSE;
    if (len > lines->max - lines->pending->len) {
        lines->dropping = TRUE;
        g_byte_array_set_size (lines->pending, 0);
        func (NULL, 0, TRUE, user_data);
        return FALSE;
    }
    g_byte_array_append (lines->pending, data, (guint) len);
    return TRUE;
}

void
bl_mcp_lines_feed (BlMcpLines *lines, const guint8 *data, gsize len, BlMcpLineFunc func,
                   gpointer user_data)
{
    while (len > 0) {
        const guint8 *newline = memchr (data, '\n', len);
        gsize part = newline ? (gsize) (newline - data) : len;

        gboolean kept = take (lines, data, part, func, user_data);
        if (!newline)
            return;
        if (kept)
            emit_pending (lines, func, user_data);
        lines->dropping = FALSE;
        data += part + 1;
        len -= part + 1;
    }
}

void
bl_mcp_lines_finish (BlMcpLines *lines, BlMcpLineFunc func, gpointer user_data)
{
    if (!lines->dropping && lines->pending->len > 0)
        emit_pending (lines, func, user_data);
    lines->dropping = FALSE;
    g_byte_array_set_size (lines->pending, 0);
}

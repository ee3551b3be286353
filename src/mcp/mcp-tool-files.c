/* mcp-tool-files.c: a box's files read and written whole, through the
 * library's small-file copies (a tar stream on a channel of its own, so
 * that the image needs no tool for it). Both are bounded: a read by
 * max_bytes, a write by the size of the message that carried it. */
#define G_LOG_DOMAIN "boxlite-mcp"

#include "mcp-tools.h"

#define DEFAULT_READ_MAX (1024 * 1024)

static gboolean
check_path (const char *path, GError **error)
{
    if (g_path_is_absolute (path))
        return TRUE;
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT, "path '%s' is not absolute",
                 path);
    return FALSE;
}

/* "644", "0755", "04755": permission bits in octal, at most 07777. */
static gboolean
parse_mode (const char *text, guint *mode, GError **error)
{
    guint64 value = 0;

    if (!text[0] || strspn (text, "01234567") != strlen (text) ||
        !g_ascii_string_to_unsigned (text, 8, 0, 07777, &value, NULL)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "mode '%s' is not permission bits in octal, such as 0644", text);
        return FALSE;
    }
    *mode = (guint) value;
    return TRUE;
}

void
bl_mcp_tool_read_file (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                       BlMcpResult *result)
{
    const char *path = json_object_get_string_member (args, "path");
    gboolean base64 = g_str_equal (
        json_object_get_string_member_with_default (args, "encoding", "text"), "base64");
    gsize max =
        (gsize) json_object_get_int_member_with_default (args, "max_bytes", DEFAULT_READ_MAX);
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box = NULL;
    g_autoptr (GBytes) data = NULL;

    if (check_path (path, &error))
        box = bl_mcp_running_box (runtime, json_object_get_string_member (args, "box"), cancellable,
                                  &error);
    if (box)
        data = boxlite_box_read_file (box, path, max, cancellable, &error);
    if (!data) {
        bl_mcp_result_fail (result, error);
        return;
    }
    gsize len = 0;
    const char *bytes = g_bytes_get_data (data, &len);
    if (base64) {
        g_autofree char *text = g_base64_encode ((const guchar *) bytes, len);
        bl_mcp_result_add_text (result, text, strlen (text));
    } else if (g_utf8_validate_len (bytes, len, NULL) && !memchr (bytes, '\0', len)) {
        bl_mcp_result_add_text (result, bytes, len);
    } else {
        result->is_error = TRUE;
        bl_mcp_result_add (result, "%s is not UTF-8 text: read it with encoding base64", path);
    }
}

/* The content argument as bytes, decoded when it is base64. */
static GBytes *
content_bytes (JsonObject *args, GError **error)
{
    const char *content = json_object_get_string_member (args, "content");
    const char *encoding = json_object_get_string_member_with_default (args, "encoding", "text");

    if (!g_str_equal (encoding, "base64"))
        return g_bytes_new (content, strlen (content));
    /* g_base64_decode() takes anything; only the alphabet, padding and
     * whitespace are base64. */
    gsize n = strspn (content,
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \t\r\n");
    if (content[n]) {
        g_set_error_literal (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                             "content is not base64");
        return NULL;
    }
    gsize len = 0;
    guchar *data = g_base64_decode (content, &len);
    return g_bytes_new_take (data, len);
}

void
bl_mcp_tool_write_file (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                        BlMcpResult *result)
{
    const char *path = json_object_get_string_member (args, "path");
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) content = NULL;
    g_autoptr (BoxliteBox) box = NULL;
    guint mode = 0644;

    if (check_path (path, &error) &&
        parse_mode (json_object_get_string_member_with_default (args, "mode", "0644"), &mode,
                    &error))
        content = content_bytes (args, &error);
    if (content)
        box = bl_mcp_running_box (runtime, json_object_get_string_member (args, "box"), cancellable,
                                  &error);
    if (!box || !boxlite_box_write_file (box, path, content, mode, cancellable, &error)) {
        bl_mcp_result_fail (result, error);
        return;
    }
    bl_mcp_result_add (result, "wrote %" G_GSIZE_FORMAT " bytes to %s (mode %04o)",
                       g_bytes_get_size (content), path, mode);
}

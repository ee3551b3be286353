/* cli-remote-cp.c: `boxlite --host URL cp`: files into and out of a box of
 * a `boxlite serve` elsewhere, through its files route, with the paths and
 * messages of a local `boxlite cp`.
 *
 * Into the box, the source is packed here as the library packs it and sent
 * whole (the server wants a length), with cp_rules so that the server
 * places it as a local copy would be placed. Out of the box, the server's
 * archive is unpacked here as it arrives, by the library's rules for what
 * comes from a box: beneath the destination, no symlink followed. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <string.h>
#include <unistd.h>

#include "cli-remote.h"
#include "copy-stream.h"

/* A memory stream's growth, refused past what a server takes: the write
 * then fails with G_IO_ERROR_NO_SPACE. */
static gpointer
bounded_realloc (gpointer data, gsize size)
{
    return size > CLI_REMOTE_MAX_FILE_BYTES ? NULL : g_realloc (data, size);
}

/* The archive to send for @src: what the library packs of a host path, or
 * our stdin's tar stream for "-". */
static GBytes *
pack (const char *src, GError **error)
{
    g_autoptr (GOutputStream) tar = g_memory_output_stream_new (NULL, 0, bounded_realloc, g_free);
    gboolean ok;

    if (g_str_equal (src, "-")) {
        g_autoptr (GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
        ok = g_output_stream_splice (tar, in, G_OUTPUT_STREAM_SPLICE_NONE, NULL, error) >= 0;
    } else {
        ok = bl_copy_pack_host (src, tar, NULL, error);
    }
    if (ok && !g_output_stream_close (tar, NULL, error))
        ok = FALSE;
    if (!ok && error && g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_NO_SPACE))
        g_prefix_error (error, "%s: more than the %u MiB a server takes: ", src,
                        CLI_REMOTE_MAX_FILE_BYTES >> 20);
    if (!ok)
        return NULL;
    return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (tar));
}

static char *
files_path (const char *box, const char *guest_path, const char *extra)
{
    g_autofree char *box_escaped = cli_remote_escape (box);
    g_autofree char *path_escaped = cli_remote_escape (guest_path);

    return g_strdup_printf ("/v1/boxes/%s/files?path=%s%s", box_escaped, path_escaped, extra);
}

static gboolean
copy_in (CliRemote *r, const char *src, const char *box, const char *dst, GError **error)
{
    gboolean from_stdin = g_str_equal (src, "-");
    g_autoptr (GBytes) tar = pack (src, error);

    if (!tar)
        return FALSE;
    g_autofree char *path = files_path (box, dst, from_stdin ? "" : "&cp_rules=true");
    g_autoptr (SoupMessage) msg = cli_remote_message (r, "PUT", path, error);
    if (!msg)
        return FALSE;
    soup_message_set_request_body_from_bytes (msg, "application/x-tar", tar);
    g_autoptr (GBytes) body = soup_session_send_and_read (r->session, msg, NULL, error);
    if (!body)
        return FALSE;
    if (cli_remote_check (msg, body, error))
        return TRUE;
    /* The prefix a local copy gives what the box said of the copy, not a
     * box that does not run (409); the server's own for "-" already says
     * what it could not copy into. */
    if (!from_stdin && soup_message_get_status (msg) != SOUP_STATUS_CONFLICT)
        g_prefix_error (error, "copying %s into the box: ", src);
    return FALSE;
}

/* An error answer's body, read up to a bound. */
static GBytes *
read_error_body (GInputStream *in)
{
    g_autoptr (GByteArray) data = g_byte_array_new ();
    guint8 buf[4096];
    gssize n;

    while (data->len < 64 * 1024 && (n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL)) > 0)
        g_byte_array_append (data, buf, (guint) n);
    return g_byte_array_free_to_bytes (g_steal_pointer (&data));
}

static gboolean
copy_out (CliRemote *r, const char *box, const char *src, const char *dst, GError **error)
{
    g_autofree char *path = files_path (box, src, "");
    g_autoptr (SoupMessage) msg = cli_remote_message (r, "GET", path, error);

    if (!msg)
        return FALSE;
    g_autoptr (GInputStream) in = soup_session_send (r->session, msg, NULL, error);
    if (!in)
        return FALSE;
    if (soup_message_get_status (msg) >= 400) {
        g_autoptr (GBytes) body = read_error_body (in);
        return cli_remote_check (msg, body, error);
    }
    if (g_str_equal (dst, "-")) {
        g_autoptr (GOutputStream) out = g_unix_output_stream_new (STDOUT_FILENO, FALSE);
        return g_output_stream_splice (out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE, NULL, error) >=
               0;
    }
    if (bl_copy_unpack_host (in, dst, NULL, error))
        return TRUE;
    g_prefix_error (error, "copying %s out of the box: ", src);
    return FALSE;
}

/* `cp SRC BOX:DST | BOX:SRC DST` */
int
cli_remote_cp (CliRemote *r, char **args)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *src_box = NULL, *src_path = NULL, *dst_box = NULL, *dst_path = NULL;

    if (args[0] && (g_str_equal (args[0], "-a") || g_str_equal (args[0], "--archive"))) {
        cli_error ("cp -a is not served through --host: files take the owner of the box's agent");
        return CLI_EXIT_FAILURE;
    }
    if (!args[0] || !args[1] || args[2]) {
        cli_error ("usage: boxlite --host URL cp SRC BOX:DST | BOX:SRC DST");
        return CLI_EXIT_FAILURE;
    }
    gboolean from_box = cli_split_box_path (args[0], &src_box, &src_path);
    gboolean to_box = cli_split_box_path (args[1], &dst_box, &dst_path);
    if (from_box == to_box) {
        cli_error ("cp copies between a box and this machine: exactly one of SRC and DST must be "
                   "BOX:PATH");
        return CLI_EXIT_FAILURE;
    }
    /* The box first, as a local cp finds it first: a wrong name is not a
     * failed copy. */
    g_autofree char *box = cli_remote_escape (to_box ? dst_box : src_box);
    g_autofree char *box_path = g_strconcat ("/v1/boxes/", box, NULL);
    g_autoptr (JsonNode) found = cli_remote_call (r, "GET", box_path, NULL, &error);
    if (!found)
        return cli_fail (error);
    gboolean ok = to_box ? copy_in (r, args[0], dst_box, dst_path, &error)
                         : copy_out (r, src_box, src_path, args[1], &error);
    return ok ? 0 : cli_fail (error);
}

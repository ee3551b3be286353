/* serve-files.c: PUT and GET /v1/boxes/ID/files?path=...: a tar archive
 * unpacked into a running box, and one of a path in it. With cp_rules=true
 * (boxlite's own, what `boxlite --host URL cp` sends) the upload holds one
 * source, placed at the path as `boxlite cp` places it: into an existing
 * directory, else as the path's new name.
 *
 * Both sides are held in memory, up to BL_SERVE_MAX_FILE_BYTES: the upload
 * is bounded before it is read (serve-server.c), and the download's buffer
 * refuses to grow past the bound, since the archive comes from the guest. */
#define G_LOG_DOMAIN "boxlite-serve"

#include "copy-stream.h"
#include "serve.h"

/* A GMemoryOutputStream's growth, refused past the bound: its write then
 * fails with G_IO_ERROR_NO_SPACE. */
static gpointer
bounded_realloc (gpointer data, gsize size)
{
    return size > BL_SERVE_MAX_FILE_BYTES ? NULL : g_realloc (data, size);
}

/* The path parameter: absolute, as the library wants it. */
static const char *
guest_path (BlServeCall *call)
{
    const char *path = bl_serve_query (call, "path");

    if (!path || path[0] != '/') {
        bl_serve_reply_error (call, 400, "InvalidArgumentError", "invalid_argument",
                              "path must be an absolute path in the box");
        return NULL;
    }
    return path;
}

static void
upload_files (BlServeCall *call)
{
    const char *path = guest_path (call);
    gboolean overwrite = TRUE, cp_rules = FALSE;
    g_autoptr (BoxliteBox) box = NULL;
    g_autoptr (GError) error = NULL;

    if (!path || !bl_serve_query_bool (call, "overwrite", &overwrite) ||
        !bl_serve_query_bool (call, "cp_rules", &cp_rules))
        return;
    if (!overwrite) {
        bl_serve_reply_error (call, 400, "UnsupportedError", "unsupported",
                              "overwrite=false is not supported: entries replace what is there");
        return;
    }
    if (!(box = bl_serve_find_box (call)))
        return;
    g_autoptr (GInputStream) tar = g_memory_input_stream_new_from_bytes (call->body);
    gboolean ok = cp_rules
                      ? bl_box_copy_in_placed (box, tar, path, NULL, &error)
                      : boxlite_box_copy_in_tar (box, tar, path, BOXLITE_COPY_NONE, NULL, &error);
    if (!ok)
        bl_serve_reply_gerror (call, error);
    else
        bl_serve_reply_status (call, SOUP_STATUS_NO_CONTENT);
}

static void
download_files (BlServeCall *call)
{
    const char *path = guest_path (call);
    g_autoptr (BoxliteBox) box = NULL;
    g_autoptr (GError) error = NULL;

    if (!path || !(box = bl_serve_find_box (call)))
        return;
    g_autoptr (GOutputStream) tar = g_memory_output_stream_new (NULL, 0, bounded_realloc, g_free);
    if (!boxlite_box_copy_out_tar (box, path, tar, NULL, &error) ||
        !g_output_stream_close (tar, NULL, &error)) {
        bl_serve_reply_gerror (call, error);
        return;
    }
    bl_serve_reply_bytes (call, SOUP_STATUS_OK, "application/x-tar",
                          g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (tar)));
}

const BlServeRoute bl_serve_files_routes[] = {
    { "PUT", "/boxes/*/files", upload_files, BL_SERVE_ROUTE_RAW },
    { "GET", "/boxes/*/files", download_files, 0 },
};
const guint bl_serve_files_n_routes = G_N_ELEMENTS (bl_serve_files_routes);

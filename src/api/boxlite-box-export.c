/* boxlite-box-export.c: a stopped box written to a .boxlite archive, and a
 * box made from one on another home directory.
 *
 * The archive (box-archive.h) carries the box's whole disk, flattened: the
 * shared ext4 a box's overlay sits on is built on each home by mkfs, whose
 * output differs from one build to the next (UUIDs, hash seeds, times), so
 * an overlay is only meaningful over the very file it was made on. */
#define G_LOG_DOMAIN "boxlite"

#include <boxlite/boxlite-box-export.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include <boxlite/boxlite-error.h>
#include "bl-task.h"
#include "box-archive.h"
#include "boxlite-image-private.h"
#include "boxlite-private.h"
#include "disk.h"
#include "fs-tree.h"
#include "image-ref.h"
#include "json-file.h"
#include "os-error.h"

/* ---- export ---- */

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
    if (!value)
        return;
    json_builder_set_member_name (b, name);
    json_builder_add_string_value (b, value);
}

/* What of the record travels: who the box is, not how it last ran. */
static GBytes *
record_to_bytes (const BlRecord *record)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    add_string (b, "id", record->id);
    add_string (b, "name", record->name);
    add_string (b, "created_at", record->created_at);
    add_string (b, "image", record->image);
    add_string (b, "image_id", record->image_id);
    add_string (b, "image_digest", record->image_digest);
    json_builder_set_member_name (b, "options");
    json_builder_add_value (b, json_node_copy (record->options));
    json_builder_end_object (b);
    return bl_json_builder_to_bytes (b);
}

/* Volumes are folders of the host the box was made on; an archive from
 * elsewhere must not choose which folders of this host a box sees. */
static gboolean
check_no_volumes (BoxliteBoxOptions *options, const char *name, GError **error)
{
    const char *const *volumes = boxlite_box_options_get_volumes (options);

    if (volumes && volumes[0]) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "box %s has volumes (host folders), which a box archive does not carry",
                     name ? name : "");
        return FALSE;
    }
    return TRUE;
}

static gboolean
export_box (const char *box_dir, const char *path, GCancellable *cancellable, GError **error)
{
    int lock = bl_record_lock (box_dir, error);
    if (lock < 0)
        return FALSE;
    g_autoptr (BlRecord) record = bl_record_load (box_dir, error);
    g_autoptr (BoxliteBoxOptions) options =
        record ? bl_box_options_from_json (record->options, error) : NULL;
    /* The record's lock is let go before the long copy; a box started
     * meanwhile is stopped by QEMU's own lock on the disk, which the copy
     * holds (bl_disk_flatten()). */
    bl_record_unlock (lock);
    if (!options || !check_no_volumes (options, record->name, error))
        return FALSE;
    if (bl_box_state_is_live (record->state)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE,
                     "box %s is %s; stop it before exporting it", record->name,
                     bl_box_state_to_string (record->state));
        return FALSE;
    }
    g_autofree char *overlay = g_build_filename (box_dir, "disk.qcow2", NULL);
    g_autofree char *flat = g_strdup_printf ("%s.disk-%d", path, (int) getpid ());
    g_autoptr (GBytes) bytes = record_to_bytes (record);
    gboolean ok = bl_disk_flatten (overlay, flat, cancellable, error) &&
                  bl_box_archive_write (path, bytes, flat, cancellable, error);
    g_unlink (flat);
    if (!ok)
        g_prefix_error (error, "cannot export box %s: ", record->name);
    return ok;
}

typedef struct {
    char *box_dir;
    char *path;
    char *name;
} ExportArgs;

static void
export_args_free (gpointer data)
{
    ExportArgs *args = data;

    g_free (args->box_dir);
    g_free (args->path);
    g_free (args->name);
    g_free (args);
}

static gpointer
export_call (gpointer source, gpointer data, GMainContext *caller_context,
             GCancellable *cancellable, GError **error)
{
    ExportArgs *args = data;

    return export_box (args->box_dir, args->path, cancellable, error) ? GINT_TO_POINTER (TRUE)
                                                                      : NULL;
}

/**
 * boxlite_box_export:
 * @self: a stopped box
 * @path: (type filename): the archive to write (conventionally FILE.boxlite);
 *   replaced if it exists
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Writes the box to one zstd-compressed archive: its name, options and
 * image (reference, id and manifest digest), and its whole disk as a
 * standalone qcow2, with a manifest giving the format version and the size
 * and sha256 of each member. boxlite_runtime_import_box() makes a box from
 * it on any home directory. The archive is written to a temporary file
 * next to @path, which is renamed only once complete.
 *
 * Returns: %TRUE on success, or %FALSE with @error set (BOXLITE_ERROR:
 *   %BOXLITE_ERROR_INVALID_STATE when the box runs or is paused,
 *   %BOXLITE_ERROR_INVALID_ARGUMENT when it has volumes; G_IO_ERROR;
 *   %G_SPAWN_EXIT_ERROR when qemu-img fails)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_export (BoxliteBox *self, const char *path, GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);
    g_return_val_if_fail (path != NULL, FALSE);

    return export_box (bl_box_get_dir (self), path, cancellable, error);
}

/**
 * boxlite_box_export_async:
 * @self: a stopped box
 * @path: (type filename): the archive to write
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context once
 *   the archive is written or could not be
 * @user_data: (closure): data for @callback
 *
 * Writes the box to an archive without blocking; see boxlite_box_export().
 * Call boxlite_box_export_finish() from @callback.
 *
 * Since: 0.1
 */
void
boxlite_box_export_async (BoxliteBox *self, const char *path, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_BOX (self));
    g_return_if_fail (path != NULL);

    ExportArgs *args = g_new0 (ExportArgs, 1);
    args->box_dir = g_strdup (bl_box_get_dir (self));
    args->path = g_strdup (path);
    bl_task_run_in_thread (self, boxlite_box_export_async, export_call, args, export_args_free,
                           NULL, cancellable, callback, user_data);
}

/**
 * boxlite_box_export_finish:
 * @self: the box
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_box_export_async().
 *
 * Returns: %TRUE once the archive is written, or %FALSE with @error set,
 *   as boxlite_box_export()
 *
 * Since: 0.1
 */
gboolean
boxlite_box_export_finish (BoxliteBox *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish_boolean (self, result, boxlite_box_export_async, error);
}

/* ---- import ---- */

/**
 * boxlite_is_box_archive:
 * @path: (type filename): a file
 *
 * Tells a box archive (boxlite_box_export()) from other files, such as
 * image tarballs, by its first member alone; whether the rest is valid is
 * only known once boxlite_runtime_import_box() read it.
 *
 * Returns: %TRUE when @path starts as a box archive of any format version
 *
 * Since: 0.1
 */
gboolean
boxlite_is_box_archive (const char *path)
{
    g_return_val_if_fail (path != NULL, FALSE);
    return g_file_test (path, G_FILE_TEST_IS_REGULAR) && bl_box_archive_probe (path);
}

/* The record in an archive, checked as a record from outside. */
static BlRecord *
record_from_bytes (GBytes *bytes, const char *path, GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();
    gsize len = 0;
    const char *data = g_bytes_get_data (bytes, &len);
    g_autoptr (GError) local = NULL;

    JsonObject *obj = bl_json_load_object (parser, data, len);
    if (!obj) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "%s: its box.json is not a JSON object", path);
        return NULL;
    }
    JsonNode *options_json = json_object_get_member (obj, "options");
    g_autoptr (BoxliteBoxOptions) options =
        options_json ? bl_box_options_from_json (options_json, &local) : NULL;
    if (!options || !boxlite_box_options_validate (options, &local) ||
        !check_no_volumes (options, bl_json_member_string (obj, "name"), &local)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "%s: its box options are refused: %s", path,
                     local ? local->message : "missing");
        return NULL;
    }
    const char *image = bl_json_member_string (obj, "image");
    const char *image_id = bl_json_member_string (obj, "image_id");
    const char *image_digest = bl_json_member_string (obj, "image_digest");
    g_autoptr (BlImageRef) ref = image ? bl_image_ref_parse (image, &local) : NULL;
    if ((image &&
         (!ref || !bl_image_ref_is_sha256 (image_id) || !bl_image_ref_is_sha256 (image_digest))) ||
        (!image && (image_id || image_digest))) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "%s: its image reference, id and digest are not valid together", path);
        return NULL;
    }
    g_autoptr (JsonNode) canonical = bl_box_options_to_json (options);
    BlRecord *record = bl_record_new ("", bl_json_member_string (obj, "name"), canonical);
    record->image = g_strdup (image);
    record->image_id = g_strdup (image_id);
    record->image_digest = g_strdup (image_digest);
    return record;
}

/* Makes sure the store has the image the box was made from, pulling it by
 * its manifest digest when it lacks it, so that what arrives is that very
 * image and not whatever the tag names now. */
static gboolean
ensure_image (BoxliteRuntime *runtime, const BlRecord *record, GMainContext *progress_context,
              GCancellable *cancellable, GError **error)
{
    g_autoptr (GError) local = NULL;

    if (!record->image)
        return TRUE;
    g_autoptr (BlImageEntry) entry =
        bl_image_store_lookup (bl_runtime_get_image_store (runtime), record->image_id, NULL, NULL);
    if (entry)
        return TRUE;
    g_autoptr (BlImageRef) ref = bl_image_ref_parse (record->image, NULL);
    g_clear_pointer (&ref->tag, g_free);
    g_free (ref->digest);
    ref->digest = g_strdup (record->image_digest);
    g_autofree char *pinned = bl_image_ref_to_string (ref);
    g_autoptr (BoxliteImage) image =
        bl_runtime_resolve_image (runtime, pinned, progress_context, cancellable, &local);
    if (!image) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "the box needs image %s (%s), which this home lacks and cannot pull: %s",
                     record->image, record->image_digest, local->message);
        return FALSE;
    }
    if (g_strcmp0 (boxlite_image_get_id (image), record->image_id) != 0) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "image %s pulled as %s is not the box's image %s", pinned,
                     boxlite_image_get_id (image), record->image_id);
        return FALSE;
    }
    return TRUE;
}

/* A qcow2 is sparse: a small member can claim a disk that the guest would
 * then fill the host's with. */
static gboolean
check_virtual_size (guint64 virtual_size, const char *path, GError **error)
{
    if (virtual_size <= BL_BOX_ARCHIVE_DISK_MAX)
        return TRUE;
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                 "%s: its disk claims %" G_GUINT64_FORMAT " bytes (at most %" G_GUINT64_FORMAT
                 " allowed)",
                 path, virtual_size, BL_BOX_ARCHIVE_DISK_MAX);
    return FALSE;
}

static BoxliteBox *
import_box (BoxliteRuntime *self, const char *path, const char *name,
            GMainContext *progress_context, GCancellable *cancellable, GError **error)
{
    /* Beside boxes/ (one file system, so the finished box is renamed into
     * place) but not in it, where a half-made box would be listed. */
    g_autofree char *staging =
        g_build_filename (boxlite_runtime_get_home_dir (self), ".import-XXXXXX", NULL);
    if (!g_mkdtemp_full (staging, 0700)) {
        bl_os_error (error, errno, "create", staging);
        return NULL;
    }
    g_autofree char *disk = g_build_filename (staging, BL_BOX_ARCHIVE_DISK, NULL);
    g_autoptr (GBytes) bytes = bl_box_archive_extract (path, staging, cancellable, error);
    g_autoptr (BlRecord) record = bytes ? record_from_bytes (bytes, path, error) : NULL;
    g_autofree char *box_dir = NULL;
    if (record && name) {
        g_free (record->name);
        record->name = g_strdup (name);
    }
    guint64 virtual_size = 0;
    if (record && bl_disk_check_standalone (disk, &virtual_size, cancellable, error) &&
        check_virtual_size (virtual_size, path, error) &&
        ensure_image (self, record, progress_context, cancellable, error) &&
        !g_cancellable_set_error_if_cancelled (cancellable, error))
        box_dir = bl_runtime_adopt_box (self, staging, record, "import", error);
    if (!box_dir) {
        g_autoptr (GError) local = NULL;
        if (!bl_tree_remove (staging, &local))
            g_warning ("%s", local->message);
        g_prefix_error (error, "cannot import %s: ", path);
        return NULL;
    }
    return boxlite_runtime_get (self, record->id, error);
}

/**
 * boxlite_runtime_import_box:
 * @self: the runtime
 * @path: (type filename): an archive written by boxlite_box_export()
 * @name: (nullable): the new box's name, or %NULL for the name in the archive
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Makes a box from an archive: a new id, the archive's options and disk,
 * and its image, pulled by digest when the store lacks it. The archive is
 * checked against its manifest as it is read, and its disk with qemu-img;
 * anything that disagrees, or is too large, refuses the whole archive and
 * leaves nothing behind. The box is not started.
 *
 * Returns: (transfer full): the box, or %NULL with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_IMAGE for an archive that fails its
 *   checks or an image that cannot be had, %BOXLITE_ERROR_EXISTS,
 *   %BOXLITE_ERROR_INVALID_ARGUMENT for an invalid @name; G_IO_ERROR,
 *   %G_IO_ERROR_NO_SPACE when the disk does not fit)
 *
 * Since: 0.1
 */
BoxliteBox *
boxlite_runtime_import_box (BoxliteRuntime *self, const char *path, const char *name,
                            GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_RUNTIME (self), NULL);
    g_return_val_if_fail (path != NULL, NULL);

    return import_box (self, path, name, NULL, cancellable, error);
}

static gpointer
import_call (gpointer source, gpointer data, GMainContext *caller_context,
             GCancellable *cancellable, GError **error)
{
    ExportArgs *args = data;
    BoxliteBox *box =
        import_box (source, args->path, args->name, caller_context, cancellable, error);

    if (box)
        bl_box_set_context (box, caller_context);
    return box;
}

/**
 * boxlite_runtime_import_box_async:
 * @self: the runtime
 * @path: (type filename): an archive written by boxlite_box_export()
 * @name: (nullable): the new box's name, or %NULL for the name in the archive
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context once
 *   the box exists or the archive was refused
 * @user_data: (closure): data for @callback
 *
 * Makes a box from an archive without blocking; see
 * boxlite_runtime_import_box(). Call boxlite_runtime_import_box_finish()
 * from @callback.
 *
 * Since: 0.1
 */
void
boxlite_runtime_import_box_async (BoxliteRuntime *self, const char *path, const char *name,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_RUNTIME (self));
    g_return_if_fail (path != NULL);

    ExportArgs *args = g_new0 (ExportArgs, 1);
    args->path = g_strdup (path);
    args->name = g_strdup (name);
    bl_task_run_in_thread (self, boxlite_runtime_import_box_async, import_call, args,
                           export_args_free, g_object_unref, cancellable, callback, user_data);
}

/**
 * boxlite_runtime_import_box_finish:
 * @self: the runtime
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_runtime_import_box_async().
 *
 * Returns: (transfer full): the box, or %NULL with @error set, as
 *   boxlite_runtime_import_box()
 *
 * Since: 0.1
 */
BoxliteBox *
boxlite_runtime_import_box_finish (BoxliteRuntime *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish (self, result, boxlite_runtime_import_box_async, error);
}

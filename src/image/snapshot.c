/* snapshot.c: a box's disk snapshots and the disks of its clones.
 *
 * A box's disk is a chain of qcow2 files over the shared raw base image,
 * each naming the one below by its absolute path:
 *
 *   BASE.ext4 <- snapshots/A.qcow2 <- snapshots/B.qcow2 <- disk.qcow2
 *
 * A snapshot is the disk frozen. Taking one links disk.qcow2 to
 * snapshots/NAME.qcow2 and renames an empty overlay on it over disk.qcow2,
 * so a crash at any point leaves the box a whole disk. Restoring one renames
 * a new empty overlay on it over disk.qcow2. A frozen file is written again
 * only when the snapshot under it is removed: each file on the removed one
 * is rebased onto what that one sat on, which keeps what it reads, and only
 * then is the removed file deleted.
 *
 * A clone's disk is an overlay on a frozen file of its source: a named
 * snapshot, or a hidden one (".clone-…", never listed) frozen from the
 * source's current disk for it. The source then reads the same file, and
 * neither sees the other's writes. A file that another box's chain reads is
 * neither removed nor rebased, and the box holding it is not removed (see
 * bl_snapshot_find_clone()): the clone would lose its disk.
 *
 * Names follow the rule of box names (no '/', no leading '.'), and the
 * files are 0600 in the box's 0700 directory. Operations run on a stopped
 * box under its record lock; QEMU holds the chain open while a box runs.
 *
 * But a snapshot can be taken of a running (or paused) box, with the same
 * files: the link and the new overlay (disk.qcow2.new, made without opening
 * the disk QEMU holds locked) are made here, then the box's monitor moves
 * QEMU onto the overlay while the guest's filesystems are frozen and
 * renames it over disk.qcow2 (src/shim/shim-snapshot.c). The overlay still
 * there after a failure means QEMU never wrote it: the link and it go.
 * Each snapshot has NAME.json beside it saying how it was taken.
 */
#define G_LOG_DOMAIN "boxlite"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "box-record.h"
#include <boxlite/boxlite-error.h>
#include "disk.h"
#include "fs-lock.h"
#include "json-file.h"
#include "monitor-ctl.h"
#include "os-error.h"
#include "snapshot.h"

#define DISK_NAME "disk.qcow2"
#define SNAPSHOTS_DIR "snapshots"
#define SUFFIX ".qcow2"
#define INFO_SUFFIX ".json"
#define NEW_DISK DISK_NAME ".new"
#define HIDDEN_PREFIX ".clone-"
/* Longer chains than this are not ours: a loop, or a damaged header. */
#define CHAIN_MAX 1024

gboolean
bl_snapshot_name_valid (const char *name)
{
    return bl_record_name_valid (name);
}

static gboolean
check_name (const char *name, GError **error)
{
    if (bl_snapshot_name_valid (name))
        return TRUE;
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                 "invalid snapshot name '%s': use letters, digits, '_', '.' and '-', starting "
                 "with a letter or digit, at most 64 characters",
                 name ? name : "");
    return FALSE;
}

/* @name is valid or one of the hidden names made here. */
static char *
layer_path (const char *box_dir, const char *name)
{
    g_autofree char *file = g_strconcat (name, SUFFIX, NULL);
    return g_build_filename (box_dir, SNAPSHOTS_DIR, file, NULL);
}

static char *
existing_snapshot (const char *box_dir, const char *name, GError **error)
{
    if (!check_name (name, error))
        return NULL;
    g_autofree char *path = layer_path (box_dir, name);
    if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND, "no snapshot named '%s'", name);
        return NULL;
    }
    return g_steal_pointer (&path);
}

/* Takes the lock of the box in @box_dir and checks it is stopped. Returns
 * the lock's fd, or -1 with @error set. */
static int
lock_stopped (const char *box_dir, const char *doing, GError **error)
{
    int lock = bl_record_lock (box_dir, error);
    if (lock < 0)
        return -1;
    g_autoptr (BlRecord) record = bl_record_load (box_dir, error);
    if (!record) {
        bl_record_unlock (lock);
        return -1;
    }
    if (bl_box_state_is_live (record->state)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE,
                     "box %s is %s: stop it before %s", record->name,
                     bl_box_state_to_string (record->state), doing);
        bl_record_unlock (lock);
        return -1;
    }
    return lock;
}

/* Puts a new empty overlay on @layer in place of the box's disk. */
static gboolean
replace_disk (const char *box_dir, const char *layer, GCancellable *cancellable, GError **error)
{
    g_autofree char *disk = g_build_filename (box_dir, DISK_NAME, NULL);
    g_autofree char *tmp = g_build_filename (box_dir, DISK_NAME ".new", NULL);

    g_unlink (tmp);
    if (!bl_disk_create_layer (layer, tmp, cancellable, error)) {
        g_unlink (tmp);
        return FALSE;
    }
    if (g_rename (tmp, disk) < 0) {
        bl_os_error (error, errno, "rename", tmp);
        g_unlink (tmp);
        return FALSE;
    }
    return TRUE;
}

/* Links the current disk as the layer @name (not checked here). */
static gboolean
link_layer (const char *box_dir, const char *name, GError **error)
{
    g_autofree char *dir = g_build_filename (box_dir, SNAPSHOTS_DIR, NULL);
    g_autofree char *disk = g_build_filename (box_dir, DISK_NAME, NULL);
    g_autofree char *layer = layer_path (box_dir, name);

    if (g_mkdir (dir, 0700) < 0 && errno != EEXIST) {
        bl_os_error (error, errno, "create", dir);
        return FALSE;
    }
    if (link (disk, layer) < 0) {
        if (errno == EEXIST)
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_EXISTS,
                         "a snapshot named '%s' exists already", name);
        else
            bl_os_error (error, errno, "link", layer);
        return FALSE;
    }
    /* The disk of a box made before snapshots existed is 0644. */
    if (g_chmod (layer, 0600) < 0) {
        bl_os_error (error, errno, "chmod", layer);
        g_unlink (layer);
        return FALSE;
    }
    return TRUE;
}

/* Freezes the current disk as the layer @name (not checked here). */
static gboolean
freeze_disk (const char *box_dir, const char *name, GCancellable *cancellable, GError **error)
{
    g_autofree char *layer = layer_path (box_dir, name);

    if (!link_layer (box_dir, name, error))
        return FALSE;
    if (!replace_disk (box_dir, layer, cancellable, error)) {
        g_unlink (layer);
        return FALSE;
    }
    return TRUE;
}

static char *
info_path (const char *box_dir, const char *name)
{
    g_autofree char *file = g_strconcat (name, INFO_SUFFIX, NULL);
    return g_build_filename (box_dir, SNAPSHOTS_DIR, file, NULL);
}

/* Writes NAME.json; failing is a warning: the snapshot is whole without. */
static void
write_info (const char *box_dir, const char *name, const BlSnapshotInfo *info)
{
    g_autofree char *path = info_path (box_dir, name);
    g_autofree char *now = bl_now_iso8601 ();
    g_autoptr (JsonBuilder) b = json_builder_new ();
    g_autoptr (GError) error = NULL;

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "taken");
    json_builder_add_string_value (b, bl_snapshot_taken_to_string (info->taken));
    json_builder_set_member_name (b, "created_at");
    json_builder_add_string_value (b, now);
    if (info->taken != BL_SNAPSHOT_TAKEN_STOPPED) {
        json_builder_set_member_name (b, "frozen_ms");
        json_builder_add_int_value (b, info->frozen_ms);
        json_builder_set_member_name (b, "filesystems");
        json_builder_add_int_value (b, info->filesystems);
    }
    json_builder_end_object (b);
    if (!bl_json_write_file (path, b, &error))
        g_warning ("%s", error->message);
}

const char *
bl_snapshot_taken_to_string (BlSnapshotTaken taken)
{
    switch (taken) {
    case BL_SNAPSHOT_TAKEN_STOPPED:
        return "stopped";
    case BL_SNAPSHOT_TAKEN_LIVE_FROZEN:
        return "live-frozen";
    case BL_SNAPSHOT_TAKEN_LIVE:
        return "live";
    }
    return "unknown";
}

/* The box was seen running: what the monitor answered, in @info. */
static gboolean
live_switch (const char *box_dir, BlSnapshotInfo *info, GCancellable *cancellable, GError **error)
{
    g_autoptr (JsonObject) ret = bl_monitor_snapshot (box_dir, cancellable, error);
    gint64 frozen_ms = -1, filesystems = -1;

    if (!ret)
        return FALSE;
    JsonNode *expired = json_object_get_member (ret, "expired");
    JsonNode *ms = json_object_get_member (ret, "frozen_ms");
    JsonNode *fs = json_object_get_member (ret, "filesystems");
    if (ms && JSON_NODE_HOLDS_VALUE (ms) && json_node_get_value_type (ms) == G_TYPE_INT64)
        frozen_ms = json_node_get_int (ms);
    if (fs && JSON_NODE_HOLDS_VALUE (fs) && json_node_get_value_type (fs) == G_TYPE_INT64)
        filesystems = json_node_get_int (fs);
    info->taken = BL_SNAPSHOT_TAKEN_LIVE_FROZEN;
    info->frozen_ms = MAX (frozen_ms, 0);
    info->filesystems = MAX (filesystems, 0);
    if (frozen_ms < 0 || filesystems < 0 || !expired || !JSON_NODE_HOLDS_VALUE (expired) ||
        json_node_get_value_type (expired) != G_TYPE_BOOLEAN || json_node_get_boolean (expired))
        info->taken = BL_SNAPSHOT_TAKEN_LIVE;
    return TRUE;
}

/* Takes @name of a box whose record said running or paused, with its
 * record lock released while the monitor works (the monitor records state
 * changes under it); @serial keeps other live snapshots of the box out. */
static gboolean
create_live (const char *box_dir, const char *name, BlSnapshotInfo *info, GCancellable *cancellable,
             GError **error)
{
    g_autofree char *disk = g_build_filename (box_dir, DISK_NAME, NULL);
    g_autofree char *overlay = g_build_filename (box_dir, NEW_DISK, NULL);
    g_autofree char *layer = layer_path (box_dir, name);

    int lock = bl_record_lock (box_dir, error);
    if (lock < 0)
        return FALSE;
    g_unlink (overlay);
    gboolean ok = link_layer (box_dir, name, error);
    if (ok && !bl_disk_create_layer (layer, overlay, cancellable, error)) {
        g_unlink (overlay);
        g_unlink (layer);
        ok = FALSE;
    }
    bl_record_unlock (lock);
    if (!ok)
        return FALSE;

    /* Not cancellable from here: the library must not delete the overlay
     * while the monitor may still hand it to QEMU. The monitor bounds its
     * waits for the guest; the request, its whole time. */
    g_autoptr (GError) local = NULL;
    ok = live_switch (box_dir, info, NULL, &local);
    if (g_file_test (overlay, G_FILE_TEST_EXISTS)) {
        if (ok) {
            /* QEMU writes the overlay; the monitor could not rename it. */
            if (g_rename (overlay, disk) == 0)
                return TRUE;
            bl_os_error (error, errno, "rename", overlay);
            return FALSE;
        }
        /* QEMU never wrote the overlay: the box is as it was. */
        lock = bl_record_lock (box_dir, NULL);
        g_unlink (overlay);
        g_unlink (layer);
        bl_record_unlock (lock);
        g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                    "cannot take a snapshot of the running box: ");
        return FALSE;
    }
    if (!ok) {
        /* QEMU moved on: the layer is the snapshot, frozen or not. */
        g_warning ("snapshot '%s' was taken, but: %s", name, local->message);
        info->taken = BL_SNAPSHOT_TAKEN_LIVE;
    }
    return TRUE;
}

gboolean
bl_snapshot_create (const char *box_dir, const char *name, BlSnapshotInfo *info,
                    GCancellable *cancellable, GError **error)
{
    BlSnapshotInfo taken = { BL_SNAPSHOT_TAKEN_STOPPED, 0, 0 };

    if (!check_name (name, error))
        return FALSE;
    g_autofree char *serial_path = g_build_filename (box_dir, "snapshot.lock", NULL);
    int serial = bl_lock_file (serial_path, TRUE, cancellable, error);
    if (serial < 0)
        return FALSE;
    g_autofree char *layer = layer_path (box_dir, name);
    g_autoptr (GError) local = NULL;
    gboolean ok = FALSE;
    int lock = lock_stopped (box_dir, "taking a snapshot", &local);
    if (lock >= 0) {
        ok = freeze_disk (box_dir, name, cancellable, error);
        bl_record_unlock (lock);
    } else if (!g_error_matches (local, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE)) {
        g_propagate_error (error, g_steal_pointer (&local));
    } else if (g_file_test (layer, G_FILE_TEST_EXISTS)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_EXISTS,
                     "a snapshot named '%s' exists already", name);
    } else {
        ok = create_live (box_dir, name, &taken, cancellable, error);
    }
    bl_record_unlock (serial);
    if (ok) {
        write_info (box_dir, name, &taken);
        if (info)
            *info = taken;
    }
    return ok;
}

JsonObject *
bl_snapshot_read_info (const char *box_dir, const char *name, GError **error)
{
    g_autofree char *layer = existing_snapshot (box_dir, name, error);
    if (!layer)
        return NULL;
    g_autofree char *path = info_path (box_dir, name);
    g_autofree char *text = NULL;
    gsize len = 0;
    g_autoptr (JsonParser) parser = json_parser_new ();
    /* A snapshot made before NAME.json existed was of a stopped box. */
    if (!g_file_get_contents (path, &text, &len, NULL)) {
        JsonObject *info = json_object_new ();
        json_object_set_string_member (info, "taken", "stopped");
        return info;
    }
    JsonObject *root = bl_json_load_object (parser, text, len);
    if (!root) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED, "%s is not a JSON object", path);
        return NULL;
    }
    return json_object_ref (root);
}

gboolean
bl_snapshot_restore (const char *box_dir, const char *name, GCancellable *cancellable,
                     GError **error)
{
    g_autofree char *layer = existing_snapshot (box_dir, name, error);
    if (!layer)
        return FALSE;
    int lock = lock_stopped (box_dir, "restoring a snapshot", error);
    if (lock < 0)
        return FALSE;
    gboolean ok = replace_disk (box_dir, layer, cancellable, error);
    bl_record_unlock (lock);
    return ok;
}

/* Every qcow2 file of the box in @box_dir: its disk and its layers. */
static GPtrArray *
box_files (const char *box_dir)
{
    GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
    g_autofree char *dir_path = g_build_filename (box_dir, SNAPSHOTS_DIR, NULL);
    g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
    const char *entry;

    g_ptr_array_add (files, g_build_filename (box_dir, DISK_NAME, NULL));
    while (dir && (entry = g_dir_read_name (dir))) {
        if (g_str_has_suffix (entry, SUFFIX))
            g_ptr_array_add (files, g_build_filename (dir_path, entry, NULL));
    }
    return files;
}

/* Whether the chain under @image reads @file, or, with @file %NULL, any
 * file in @box_dir. */
static gboolean
chain_reads (const char *image, const char *box_dir, const char *file)
{
    g_autofree char *prefix = g_strconcat (box_dir, "/", NULL);
    g_autofree char *current = g_strdup (image);

    for (int depth = 0; depth < CHAIN_MAX; depth++) {
        g_autofree char *backing = bl_disk_backing (current, NULL);
        if (!backing || !*backing)
            return FALSE;
        if (file ? g_str_equal (backing, file) : g_str_has_prefix (backing, prefix))
            return TRUE;
        if (!g_str_has_suffix (backing, SUFFIX))
            return FALSE;
        g_free (current);
        current = g_steal_pointer (&backing);
    }
    return FALSE;
}

char *
bl_snapshot_find_clone (const char *boxes_dir, const char *box_dir, const char *file)
{
    g_autoptr (GDir) dir = g_dir_open (boxes_dir, 0, NULL);
    g_autofree char *own = g_path_get_basename (box_dir);
    const char *id;

    while (dir && (id = g_dir_read_name (dir))) {
        if (g_str_equal (id, own))
            continue;
        g_autofree char *other = g_build_filename (boxes_dir, id, NULL);
        g_autoptr (GPtrArray) files = box_files (other);
        for (guint i = 0; i < files->len; i++) {
            if (!chain_reads (files->pdata[i], box_dir, file))
                continue;
            g_autoptr (BlRecord) record = bl_record_load (other, NULL);
            return g_strdup_printf ("%s (%s)", record && record->name ? record->name : "?", id);
        }
    }
    return NULL;
}

/* Moves every file of the box that sits on @layer onto what @layer sits on. */
static gboolean
unlink_layer (const char *box_dir, const char *layer, GCancellable *cancellable, GError **error)
{
    g_autofree char *below = bl_disk_backing (layer, error);
    if (!below)
        return FALSE;
    g_autoptr (GPtrArray) files = box_files (box_dir);
    for (guint i = 0; i < files->len; i++) {
        g_autofree char *backing = bl_disk_backing (files->pdata[i], NULL);
        if (!backing || !g_str_equal (backing, layer))
            continue;
        if (!*below) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED,
                         "%s has no backing file to move its children to", layer);
            return FALSE;
        }
        if (!bl_disk_rebase (files->pdata[i], below, cancellable, error))
            return FALSE;
    }
    return TRUE;
}

/* Merges @layer into what sits on it and deletes it; failing is a warning
 * (the layer then stays, one more file to read through). */
static void
drop_layer (const char *box_dir, const char *layer)
{
    g_autoptr (GError) error = NULL;

    if (!unlink_layer (box_dir, layer, NULL, &error) || g_unlink (layer) < 0)
        g_warning ("cannot drop %s: %s", layer, error ? error->message : g_strerror (errno));
}

gboolean
bl_snapshot_remove (const char *boxes_dir, const char *box_dir, const char *name,
                    GCancellable *cancellable, GError **error)
{
    g_autofree char *layer = existing_snapshot (box_dir, name, error);
    if (!layer)
        return FALSE;
    int lock = lock_stopped (box_dir, "removing a snapshot", error);
    if (lock < 0)
        return FALSE;
    g_autofree char *clone = bl_snapshot_find_clone (boxes_dir, box_dir, layer);
    gboolean ok = FALSE;
    if (clone)
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE,
                     "snapshot '%s' holds the disk of box %s: remove that box first", name, clone);
    else if (unlink_layer (box_dir, layer, cancellable, error)) {
        ok = g_unlink (layer) == 0;
        if (!ok)
            bl_os_error (error, errno, "remove", layer);
        g_autofree char *info = info_path (box_dir, name);
        if (ok && g_unlink (info) < 0 && errno != ENOENT)
            g_warning ("cannot remove %s: %s", info, g_strerror (errno));
    }
    bl_record_unlock (lock);
    return ok;
}

char *
bl_snapshot_frozen_for (const char *box_dir)
{
    g_autofree char *own = g_path_get_basename (box_dir);
    g_autofree char *file = g_strconcat (HIDDEN_PREFIX, own, SUFFIX, NULL);
    g_autoptr (GPtrArray) files = box_files (box_dir);

    for (guint i = 0; i < files->len; i++) {
        g_autofree char *backing = bl_disk_backing (files->pdata[i], NULL);
        g_autofree char *base = backing ? g_path_get_basename (backing) : NULL;
        if (base && g_str_equal (base, file))
            return g_steal_pointer (&backing);
    }
    return NULL;
}

void
bl_snapshot_drop_frozen (const char *boxes_dir, const char *layer)
{
    g_autofree char *base = g_path_get_basename (layer);
    g_autofree char *snapshots = g_path_get_dirname (layer);
    g_autofree char *source = g_path_get_dirname (snapshots);
    g_autoptr (GError) error = NULL;

    if (!g_str_has_prefix (base, HIDDEN_PREFIX))
        return;
    /* A running source keeps the layer open: it stays, costing one more
     * file to read through, and goes with the source. */
    int lock = lock_stopped (source, "dropping the layer of a removed clone", &error);
    if (lock < 0) {
        g_debug ("%s", error->message);
        return;
    }
    g_autofree char *other = bl_snapshot_find_clone (boxes_dir, source, layer);
    if (other)
        g_debug ("%s stays: box %s reads it", layer, other);
    else
        drop_layer (source, layer);
    bl_record_unlock (lock);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
    return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

GStrv
bl_snapshot_list (const char *box_dir, GError **error)
{
    g_autofree char *dir_path = g_build_filename (box_dir, SNAPSHOTS_DIR, NULL);
    g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
    g_autoptr (GError) local = NULL;
    g_autoptr (GDir) dir = g_dir_open (dir_path, 0, &local);
    const char *entry;

    if (!dir && !g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
        g_propagate_error (error, g_steal_pointer (&local));
        return NULL;
    }
    while (dir && (entry = g_dir_read_name (dir))) {
        if (!g_str_has_suffix (entry, SUFFIX))
            continue;
        g_autofree char *name = g_strndup (entry, strlen (entry) - strlen (SUFFIX));
        /* The hidden layers of clones have names no snapshot can have. */
        if (bl_snapshot_name_valid (name))
            g_ptr_array_add (names, g_steal_pointer (&name));
    }
    g_ptr_array_sort (names, compare_names);
    g_ptr_array_add (names, NULL);
    return (GStrv) g_ptr_array_steal (names, NULL);
}

gboolean
bl_snapshot_clone_disk (const char *src_dir, const char *name, const char *dest_dir,
                        GCancellable *cancellable, GError **error)
{
    g_autofree char *disk = g_build_filename (dest_dir, DISK_NAME, NULL);
    g_autofree char *layer = NULL;

    if (name) {
        /* The source may run: its snapshots are frozen, and the lock keeps
         * a removal from going on meanwhile. */
        int lock = bl_record_lock (src_dir, error);
        if (lock < 0)
            return FALSE;
        layer = existing_snapshot (src_dir, name, error);
        gboolean ok = layer && bl_disk_create_layer (layer, disk, cancellable, error);
        bl_record_unlock (lock);
        return ok;
    }
    int lock = lock_stopped (src_dir, "cloning it (or clone a snapshot of it)", error);
    if (lock < 0)
        return FALSE;
    g_autofree char *dest_id = g_path_get_basename (dest_dir);
    g_autofree char *hidden = g_strconcat (HIDDEN_PREFIX, dest_id, NULL);
    layer = layer_path (src_dir, hidden);
    gboolean ok = freeze_disk (src_dir, hidden, cancellable, error);
    if (ok && !bl_disk_create_layer (layer, disk, cancellable, error)) {
        /* No clone will read the layer: merged back, the source is as it was. */
        drop_layer (src_dir, layer);
        ok = FALSE;
    }
    bl_record_unlock (lock);
    return ok;
}

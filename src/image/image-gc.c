/* image-gc.c: removing images, and pruning what nothing uses. */
#define G_LOG_DOMAIN "boxlite-image"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boxlite/boxlite-error.h>
#include "fs-tree.h"
#include "image-store-private.h"

static void
keep_image_blobs (BlImageStore *store, const char *digest, GHashTable *blobs)
{
    g_autoptr (BlImageManifest) manifest = bl_image_store_read_manifest (store, digest, NULL);

    g_hash_table_add (blobs, g_strdup (digest));
    if (!manifest)
        return;
    g_hash_table_add (blobs, g_strdup (manifest->config.digest));
    for (guint i = 0; i < manifest->layers->len; i++)
        g_hash_table_add (blobs,
                          g_strdup (((BlImageDescriptor *) manifest->layers->pdata[i])->digest));
}

typedef struct {
    GHashTable *blobs; /* digests */
    GHashTable *ids;
} KeepSet;

static void
keep_set_clear (KeepSet *keep)
{
    g_clear_pointer (&keep->blobs, g_hash_table_unref);
    g_clear_pointer (&keep->ids, g_hash_table_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (KeepSet, keep_set_clear)

static void
keep_set_fill (BlImageStore *store, GPtrArray *entries, const BlImageUsers *users, KeepSet *keep)
{
    GHashTableIter iter;
    gpointer key;

    keep->blobs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    keep->ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < entries->len; i++) {
        BlImageEntry *e = entries->pdata[i];
        keep_image_blobs (store, e->digest, keep->blobs);
        g_hash_table_add (keep->ids, g_strdup (e->id));
    }
    if (users && users->digests) {
        g_hash_table_iter_init (&iter, users->digests);
        while (g_hash_table_iter_next (&iter, &key, NULL))
            keep_image_blobs (store, key, keep->blobs);
    }
    if (users && users->ids) {
        g_hash_table_iter_init (&iter, users->ids);
        while (g_hash_table_iter_next (&iter, &key, NULL))
            g_hash_table_add (keep->ids, g_strdup (key));
    }
}

/* Deletes @path (a file or a tree) and counts it. */
static void
delete_counted (const char *path, gboolean tree, guint64 *bytes, gint *count)
{
    g_autoptr (GError) local = NULL;
    BlTreeUsage usage;

    bl_tree_usage (path, &usage);
    *bytes += tree ? usage.file_bytes : usage.disk_bytes;
    if (!bl_tree_remove (path, &local))
        g_warning ("%s", local->message);
    (*count)++;
}

/* The trees and disks of image @id, unless @keep holds it. */
static void
drop_image_files (BlImageStore *store, const char *id, KeepSet *keep, guint64 *bytes, gint *count)
{
    if (g_hash_table_contains (keep->ids, id))
        return;
    g_autofree char *tree = bl_image_store_tree_path (store, id);
    g_autofree char *disk = bl_image_store_disk_path (store, id);
    if (g_file_test (tree, G_FILE_TEST_EXISTS))
        delete_counted (tree, TRUE, bytes, count);
    if (g_file_test (disk, G_FILE_TEST_EXISTS))
        delete_counted (disk, FALSE, bytes, count);
    /* Nobody holds it: builds take gc.lock shared, and we hold it exclusively. */
    g_autofree char *lock = bl_image_store_lock_path (store, id);
    g_unlink (lock);
}

static void
drop_blobs (BlImageStore *store, GHashTable *candidates, KeepSet *keep, guint64 *bytes, gint *count)
{
    GHashTableIter iter;
    gpointer key;

    g_hash_table_iter_init (&iter, candidates);
    while (g_hash_table_iter_next (&iter, &key, NULL)) {
        if (g_hash_table_contains (keep->blobs, key))
            continue;
        g_autofree char *path = bl_image_store_blob_path (store, key);
        if (g_file_test (path, G_FILE_TEST_EXISTS))
            delete_counted (path, FALSE, bytes, count);
    }
}

gboolean
bl_image_store_remove (BlImageStore *store, const char *text, const char *const *search,
                       const BlImageUsers *users, gboolean force, GCancellable *cancellable,
                       GError **error)
{
    int gc = bl_image_store_lock_gc (store, TRUE, cancellable, error);
    if (gc < 0)
        return FALSE;
    int lock = bl_image_store_lock_index (store, error);
    g_autoptr (GPtrArray) entries = lock >= 0 ? bl_image_store_load_index (store, error) : NULL;
    gboolean by_id = FALSE;
    BlImageEntry *target =
        entries ? bl_image_store_find_entry (entries, text, search, &by_id, error) : NULL;
    g_autofree char *id = target ? g_strdup (target->id) : NULL;
    g_autofree char *reference = target ? g_strdup (target->reference) : NULL;
    g_autoptr (GHashTable) candidates =
        g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    gboolean ok = target != NULL;

    gboolean still_named = FALSE;
    for (guint i = entries && ok ? entries->len : 0; i > 0; i--) {
        BlImageEntry *e = entries->pdata[i - 1];
        if (by_id ? g_str_equal (e->id, id) : g_str_equal (e->reference, reference)) {
            keep_image_blobs (store, e->digest, candidates);
            g_ptr_array_remove_index (entries, i - 1);
        } else if (g_str_equal (e->id, id)) {
            still_named = TRUE;
        }
    }
    /* Removing one of several names of an image a box uses loses nothing. */
    if (ok && !still_named && !force && users && users->ids &&
        g_hash_table_contains (users->ids, id)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE,
                     "image %s is used by a box; remove the box first or force the removal",
                     reference);
        ok = FALSE;
    }
    ok = ok && bl_image_store_save_index (store, entries, error);
    bl_image_store_unlock (lock);
    if (ok) {
        g_auto (KeepSet) keep = { NULL, NULL };
        guint64 bytes = 0;
        gint count = 0;
        keep_set_fill (store, entries, users, &keep);
        drop_blobs (store, candidates, &keep, &bytes, &count);
        drop_image_files (store, id, &keep, &bytes, &count);
        g_debug ("removed %s: %d files, %" G_GUINT64_FORMAT " bytes", reference, count, bytes);
    }
    bl_image_store_unlock (gc);
    return ok;
}

/* Adds to @set the names in @dir that pass @accept. */
static void
list_names (const char *dir, gboolean (*accept) (const char *name), GHashTable *set)
{
    g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name (d))) {
        if (accept (name))
            g_hash_table_add (set, g_strdup (name));
    }
}

static gboolean
is_full_hex (const char *name)
{
    return strlen (name) == 64 && bl_image_is_hex (name);
}

static gboolean
is_built_name (const char *name)
{
    if (strlen (name) < 64)
        return FALSE;
    for (guint i = 0; i < 64; i++) {
        if (!g_ascii_isdigit (name[i]) && !(name[i] >= 'a' && name[i] <= 'f'))
            return FALSE;
    }
    /* "<hex>", "<hex>.ext4", or a tree left by a build that died. */
    return name[64] == '\0' || g_str_equal (name + 64, ".ext4") ||
           g_str_has_prefix (name + 64, ".tmp-");
}

gint
bl_image_store_prune (BlImageStore *store, const BlImageUsers *users, guint64 *reclaimed,
                      GCancellable *cancellable, GError **error)
{
    int gc = bl_image_store_lock_gc (store, TRUE, cancellable, error);
    if (gc < 0)
        return -1;
    g_autoptr (GPtrArray) entries = bl_image_store_list (store, error);
    if (!entries) {
        bl_image_store_unlock (gc);
        return -1;
    }
    g_auto (KeepSet) keep = { NULL, NULL };
    g_autoptr (GHashTable) blobs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr (GHashTable) ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr (GHashTable) built = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    guint64 bytes = 0;
    gint count = 0;
    GHashTableIter iter;
    gpointer key;

    keep_set_fill (store, entries, users, &keep);
    g_autoptr (GHashTable) hexes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    list_names (store->sha_dir, is_full_hex, hexes);
    g_hash_table_iter_init (&iter, hexes);
    while (g_hash_table_iter_next (&iter, &key, NULL))
        g_hash_table_add (blobs, g_strconcat ("sha256:", key, NULL));
    drop_blobs (store, blobs, &keep, &bytes, &count);

    list_names (store->rootfs_dir, is_built_name, built);
    list_names (store->disks_dir, is_built_name, built);
    g_hash_table_iter_init (&iter, built);
    while (g_hash_table_iter_next (&iter, &key, NULL)) {
        g_autofree char *hex = g_strndup (key, 64);
        g_hash_table_add (ids, g_strconcat ("sha256:", hex, NULL));
    }
    g_hash_table_iter_init (&iter, ids);
    while (g_hash_table_iter_next (&iter, &key, NULL))
        drop_image_files (store, key, &keep, &bytes, &count);
    /* Trees of builds that died half-way (no build runs: we hold gc.lock). */
    g_hash_table_iter_init (&iter, built);
    while (g_hash_table_iter_next (&iter, &key, NULL)) {
        if (strstr (key, ".tmp-")) {
            g_autofree char *path = g_build_filename (store->rootfs_dir, key, NULL);
            delete_counted (path, TRUE, &bytes, &count);
        }
    }
    bl_image_store_unlock (gc);
    if (reclaimed)
        *reclaimed = bytes;
    return count;
}

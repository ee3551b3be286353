/* image-store.c: blobs, the index, and one shared disk per image. */
#define G_LOG_DOMAIN "boxlite-image"

#include "image-store-private.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "box-record.h"
#include <boxlite/boxlite-error.h>
#include "image-ref.h"
#include "json-file.h"
#include "disk.h"
#include "fs-lock.h"
#include "fs-tree.h"
#include "layer.h"
#include "os-error.h"

/* The index is a few hundred bytes per image. */
#define INDEX_MAX (16 * 1024 * 1024)
#define MAX_ENTRIES 100000
/* Shortest id prefix a user may type. */
#define ID_PREFIX_MIN 12

void
bl_image_entry_free (BlImageEntry *entry)
{
    if (!entry)
        return;
    g_free (entry->reference);
    g_free (entry->digest);
    g_free (entry->id);
    g_free (entry->created);
    g_free (entry);
}

BlImageEntry *
bl_image_entry_copy (const BlImageEntry *entry)
{
    BlImageEntry *copy = g_new0 (BlImageEntry, 1);

    copy->reference = g_strdup (entry->reference);
    copy->digest = g_strdup (entry->digest);
    copy->id = g_strdup (entry->id);
    copy->created = g_strdup (entry->created);
    copy->size = entry->size;
    return copy;
}

static gboolean
make_dir (const char *path, GError **error)
{
    if (g_mkdir_with_parents (path, 0700) < 0)
        return bl_os_error (error, errno, "create", path);
    return TRUE;
}

BlImageStore *
bl_image_store_new (const char *home_dir, GError **error)
{
    g_autoptr (BlImageStore) store = g_new0 (BlImageStore, 1);

    store->dir = g_build_filename (home_dir, "images", NULL);
    store->blobs_dir = g_build_filename (store->dir, "blobs", NULL);
    store->sha_dir = g_build_filename (store->blobs_dir, "sha256", NULL);
    store->rootfs_dir = g_build_filename (store->dir, "rootfs", NULL);
    store->disks_dir = g_build_filename (store->dir, "disks", NULL);
    store->index_path = g_build_filename (store->dir, "index.json", NULL);
    bl_image_store_set_limits (store, 0, 0);
    if (!make_dir (store->sha_dir, error) || !make_dir (store->rootfs_dir, error) ||
        !make_dir (store->disks_dir, error))
        return NULL;
    return g_steal_pointer (&store);
}

void
bl_image_store_free (BlImageStore *store)
{
    if (!store)
        return;
    g_free (store->dir);
    g_free (store->blobs_dir);
    g_free (store->sha_dir);
    g_free (store->rootfs_dir);
    g_free (store->disks_dir);
    g_free (store->index_path);
    g_free (store);
}

const char *
bl_image_store_get_blobs_dir (BlImageStore *store)
{
    return store->blobs_dir;
}

char *
bl_image_store_blob_path (BlImageStore *store, const char *digest)
{
    return g_build_filename (store->sha_dir, bl_image_digest_hex (digest), NULL);
}

char *
bl_image_store_disk_path (BlImageStore *store, const char *id)
{
    g_autofree char *name = g_strdup_printf ("%s.ext4", bl_image_digest_hex (id));
    return g_build_filename (store->disks_dir, name, NULL);
}

char *
bl_image_store_tree_path (BlImageStore *store, const char *id)
{
    return g_build_filename (store->rootfs_dir, bl_image_digest_hex (id), NULL);
}

/* ---- locks ---- */

void
bl_image_store_unlock (int fd)
{
    if (fd >= 0)
        close (fd);
}

int
bl_image_store_lock_gc (BlImageStore *store, gboolean exclusive, GCancellable *cancellable,
                        GError **error)
{
    g_autofree char *path = g_build_filename (store->dir, "gc.lock", NULL);
    return bl_lock_file (path, exclusive, cancellable, error);
}

int
bl_image_store_lock_index (BlImageStore *store, GError **error)
{
    g_autofree char *path = g_build_filename (store->dir, "index.lock", NULL);
    /* Held only for an index update: not worth a cancellation point. */
    return bl_lock_file (path, TRUE, NULL, error);
}

/* ---- the index ---- */

static BlImageEntry *
entry_from_json (JsonNode *node)
{
    JsonObject *obj = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
    const char *reference = obj ? bl_json_member_string (obj, "reference") : NULL;
    const char *digest = obj ? bl_json_member_string (obj, "digest") : NULL;
    const char *id = obj ? bl_json_member_string (obj, "id") : NULL;

    if (!reference || !bl_image_ref_is_sha256 (digest) || !bl_image_ref_is_sha256 (id))
        return NULL;
    BlImageEntry *entry = g_new0 (BlImageEntry, 1);
    entry->reference = g_strdup (reference);
    entry->digest = g_strdup (digest);
    entry->id = g_strdup (id);
    entry->created = g_strdup (bl_json_member_string (obj, "created"));
    entry->size = (guint64) MAX (0, json_object_get_int_member_with_default (obj, "size", 0));
    return entry;
}

/* The index as it is on disk; call with the index lock held (or accept a
 * snapshot). A damaged index is an error, not an empty store. */
GPtrArray *
bl_image_store_load_index (BlImageStore *store, GError **error)
{
    GPtrArray *entries = g_ptr_array_new_with_free_func ((GDestroyNotify) bl_image_entry_free);
    g_autofree char *text = NULL;
    gsize len = 0;
    g_autoptr (GError) local = NULL;

    if (!g_file_get_contents (store->index_path, &text, &len, &local)) {
        if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return entries;
        g_propagate_error (error, g_steal_pointer (&local));
        g_ptr_array_unref (entries);
        return NULL;
    }
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();
    JsonNode *root = NULL;
    if (len <= INDEX_MAX && bl_json_load (parser, text, len, NULL))
        root = json_parser_get_root (parser);
    JsonNode *images = root && JSON_NODE_HOLDS_OBJECT (root)
                           ? json_object_get_member (json_node_get_object (root), "images")
                           : NULL;
    if (!images || !JSON_NODE_HOLDS_ARRAY (images)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "%s is not an image index",
                     store->index_path);
        g_ptr_array_unref (entries);
        return NULL;
    }
    JsonArray *array = json_node_get_array (images);
    for (guint i = 0; i < json_array_get_length (array) && i < MAX_ENTRIES; i++) {
        BlImageEntry *entry = entry_from_json (json_array_get_element (array, i));
        if (entry)
            g_ptr_array_add (entries, entry);
        else
            g_warning ("%s: skipping damaged entry %u", store->index_path, i);
    }
    return entries;
}

gboolean
bl_image_store_save_index (BlImageStore *store, GPtrArray *entries, GError **error)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "images");
    json_builder_begin_array (b);
    for (guint i = 0; i < entries->len; i++) {
        BlImageEntry *e = entries->pdata[i];
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "reference");
        json_builder_add_string_value (b, e->reference);
        json_builder_set_member_name (b, "digest");
        json_builder_add_string_value (b, e->digest);
        json_builder_set_member_name (b, "id");
        json_builder_add_string_value (b, e->id);
        json_builder_set_member_name (b, "created");
        json_builder_add_string_value (b, e->created ? e->created : "");
        json_builder_set_member_name (b, "size");
        json_builder_add_int_value (b, (gint64) MIN (e->size, (guint64) G_MAXINT64));
        json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_end_object (b);
    return bl_json_write_file (store->index_path, b, error);
}

static gboolean
index_put (BlImageStore *store, const BlImageEntry *entry, GError **error)
{
    int lock = bl_image_store_lock_index (store, error);
    if (lock < 0)
        return FALSE;
    g_autoptr (GPtrArray) entries = bl_image_store_load_index (store, error);
    gboolean ok = entries != NULL;
    if (ok) {
        for (guint i = entries->len; i > 0; i--) {
            BlImageEntry *e = entries->pdata[i - 1];
            if (g_str_equal (e->reference, entry->reference))
                g_ptr_array_remove_index (entries, i - 1);
        }
        g_ptr_array_add (entries, bl_image_entry_copy (entry));
        ok = bl_image_store_save_index (store, entries, error);
    }
    bl_image_store_unlock (lock);
    return ok;
}

static gint
compare_newest_first (gconstpointer a, gconstpointer b)
{
    const BlImageEntry *ea = *(const BlImageEntry *const *) a;
    const BlImageEntry *eb = *(const BlImageEntry *const *) b;
    return -g_strcmp0 (ea->created, eb->created);
}

GPtrArray *
bl_image_store_list (BlImageStore *store, GError **error)
{
    int lock = bl_image_store_lock_index (store, error);
    if (lock < 0)
        return NULL;
    GPtrArray *entries = bl_image_store_load_index (store, error);
    bl_image_store_unlock (lock);
    if (entries)
        g_ptr_array_sort (entries, compare_newest_first);
    return entries;
}

gboolean
bl_image_is_hex (const char *text)
{
    for (const char *p = text; *p; p++) {
        if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
            return FALSE;
    }
    return TRUE;
}

/* Entries whose id or digest is @digest, or whose id starts with the hex
 * @prefix; NULL when @text is neither. */
static GPtrArray *
match_id (GPtrArray *entries, const char *text)
{
    gboolean full = bl_image_ref_is_sha256 (text);
    gsize len = strlen (text);

    if (!full && (len < ID_PREFIX_MIN || len > 64 || !bl_image_is_hex (text)))
        return NULL;
    GPtrArray *found = g_ptr_array_new ();
    for (guint i = 0; i < entries->len; i++) {
        BlImageEntry *e = entries->pdata[i];
        if (full ? (g_str_equal (e->id, text) || g_str_equal (e->digest, text))
                 : g_str_has_prefix (bl_image_digest_hex (e->id), text))
            g_ptr_array_add (found, e);
    }
    return found;
}

/* The entry named @ref exactly, or, for a reference by digest, an entry of
 * the same repository with that manifest digest (whatever its tag). */
static BlImageEntry *
find_reference (GPtrArray *entries, const BlImageRef *ref)
{
    g_autofree char *canonical = bl_image_ref_to_string (ref);
    g_autofree char *name = g_strdup_printf ("%s/%s", ref->registry, ref->repository);
    gsize name_len = strlen (name);

    for (guint i = 0; i < entries->len; i++) {
        BlImageEntry *e = entries->pdata[i];
        if (g_str_equal (e->reference, canonical))
            return e;
    }
    for (guint i = 0; ref->digest && i < entries->len; i++) {
        BlImageEntry *e = entries->pdata[i];
        if (g_str_equal (e->digest, ref->digest) && g_str_has_prefix (e->reference, name) &&
            (e->reference[name_len] == ':' || e->reference[name_len] == '@'))
            return e;
    }
    return NULL;
}

/* The entry @text names in @entries (borrowed), with *@by_id telling how. */
BlImageEntry *
bl_image_store_find_entry (GPtrArray *entries, const char *text, const char *const *search,
                           gboolean *by_id, GError **error)
{
    g_autoptr (GPtrArray) by_digest = match_id (entries, text);

    *by_id = FALSE;
    if (by_digest && by_digest->len > 0) {
        BlImageEntry *first = by_digest->pdata[0];
        for (guint i = 1; i < by_digest->len; i++) {
            if (!g_str_equal (((BlImageEntry *) by_digest->pdata[i])->id, first->id)) {
                g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_AMBIGUOUS,
                             "image id prefix '%s' matches more than one image", text);
                return NULL;
            }
        }
        *by_id = TRUE;
        return first;
    }
    if (bl_image_ref_is_sha256 (text)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND, "no image has id %s", text);
        return NULL;
    }
    g_autoptr (BlImageRef) ref = bl_image_ref_parse (text, error);
    if (!ref)
        return NULL;
    for (guint i = 0; !ref->qualified && search && search[i]; i++) {
        g_autoptr (BlImageRef) there = bl_image_ref_with_registry (ref, search[i]);
        BlImageEntry *e = there ? find_reference (entries, there) : NULL;
        if (e)
            return e;
    }
    BlImageEntry *e = find_reference (entries, ref);
    if (!e) {
        g_autofree char *canonical = bl_image_ref_to_string (ref);
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND, "no image %s in the store",
                     canonical);
    }
    return e;
}

BlImageEntry *
bl_image_store_lookup (BlImageStore *store, const char *text, const char *const *search,
                       GError **error)
{
    g_autoptr (GPtrArray) entries = bl_image_store_list (store, error);
    gboolean by_id = FALSE;

    if (!entries)
        return NULL;
    BlImageEntry *e = bl_image_store_find_entry (entries, text, search, &by_id, error);
    return e ? bl_image_entry_copy (e) : NULL;
}

void
bl_image_store_set_limits (BlImageStore *store, guint64 max_bytes, guint64 max_entries)
{
    store->limits.max_bytes = max_bytes ? max_bytes : BL_LAYER_DEFAULT_MAX_BYTES;
    store->limits.max_entries = max_entries ? max_entries : BL_LAYER_DEFAULT_MAX_ENTRIES;
}

/* ---- building an image's tree and disk ---- */

static gboolean
apply_layers (BlImageStore *store, BlImageManifest *manifest, const char *tree,
              GCancellable *cancellable, GError **error)
{
    BlLayerStats totals = { 0 };

    for (guint i = 0; i < manifest->layers->len; i++) {
        BlImageDescriptor *layer = manifest->layers->pdata[i];
        g_autofree char *path = bl_image_store_blob_path (store, layer->digest);
        int fd = bl_blob_open_regular (path, error);
        if (fd < 0)
            return FALSE;
        /* Applied through the descriptor: the file that was hashed is the
         * one applied, even if its name is replaced meanwhile. */
        gboolean ok =
            bl_blob_verify_fd (fd, path, layer->digest, layer->size, cancellable, error) &&
            bl_layer_apply_limited (fd, tree, &store->limits, &totals, cancellable, error);
        close (fd);
        if (!ok) {
            g_prefix_error (error, "layer %u (%s): ", i + 1, layer->digest);
            return FALSE;
        }
    }
    /* Where the guest agent mounts the pseudo filesystems; images made for
     * containers often leave them out. */
    static const char *const mount_points[] = { "proc", "sys", "dev", "tmp", "run" };
    for (guint i = 0; i < G_N_ELEMENTS (mount_points); i++) {
        g_autofree char *dir = g_build_filename (tree, mount_points[i], NULL);
        struct stat st;
        if (lstat (dir, &st) < 0 && g_mkdir (dir, 0755) < 0)
            return bl_os_error (error, errno, "create", dir);
    }
    return TRUE;
}

/* Creates the absolute @path below @tree, as container runtimes create a
 * missing WorkingDir. It stops quietly at anything but a plain directory,
 * so an image cannot make it write outside the tree through a symlink. */
static void
make_working_dir (const char *tree, const char *path)
{
    g_auto (GStrv) parts = g_strsplit (path, "/", -1);
    int fd = open (tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    for (guint i = 0; fd >= 0 && parts[i]; i++) {
        if (!*parts[i] || g_str_equal (parts[i], "."))
            continue;
        int next = -1;
        if (!g_str_equal (parts[i], "..") && (mkdirat (fd, parts[i], 0755) == 0 || errno == EEXIST))
            next = openat (fd, parts[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close (fd);
        fd = next;
    }
    if (fd >= 0)
        close (fd);
}

/* Removes what a build leaves behind; a failure is logged, as the build's
 * own outcome is what the caller hears of. */
static void
remove_quietly (const char *path)
{
    g_autoptr (GError) local = NULL;

    if (!bl_tree_remove (path, &local))
        g_warning ("%s", local->message);
}

/* Builds disks/<hex>.ext4 of @manifest from a tree unpacked in rootfs/<hex>,
 * which goes once the disk exists; call with the image's lock held. */
static gboolean
build_image (BlImageStore *store, BlImageManifest *manifest, const BlImageConfig *config,
             GCancellable *cancellable, GError **error)
{
    const char *id = manifest->config.digest;
    g_autofree char *tree = bl_image_store_tree_path (store, id);
    g_autofree char *disk = bl_image_store_disk_path (store, id);
    g_autofree char *tmp = g_strdup_printf ("%s.tmp-%d", tree, (int) getpid ());
    gint64 started = g_get_monotonic_time ();

    if (!bl_tree_remove (tmp, error) || !bl_tree_remove (tree, error))
        return FALSE;
    if (g_mkdir (tmp, 0755) < 0)
        return bl_os_error (error, errno, "create", tmp);
    gboolean built = apply_layers (store, manifest, tmp, cancellable, error);
    if (built && config->working_dir)
        make_working_dir (tmp, config->working_dir);
    if (built && g_rename (tmp, tree) < 0)
        built = bl_os_error (error, errno, "rename", tmp);
    built = built && bl_disk_build_ext4 (tree, disk, cancellable, error);
    /* Boxes use the disk; the unpacked tree would only double the space. */
    remove_quietly (tmp);
    remove_quietly (tree);
    if (!built)
        return FALSE;
    g_debug ("built image %s (%u layers) in %.2f s", id, manifest->layers->len,
             (g_get_monotonic_time () - started) / 1e6);
    return TRUE;
}

char *
bl_image_store_lock_path (BlImageStore *store, const char *id)
{
    g_autofree char *name = g_strdup_printf (".lock-%s", bl_image_digest_hex (id));
    return g_build_filename (store->dir, name, NULL);
}

static int
lock_image (BlImageStore *store, const char *id, GCancellable *cancellable, GError **error)
{
    g_autofree char *path = bl_image_store_lock_path (store, id);
    return bl_lock_file (path, TRUE, cancellable, error);
}

char *
bl_image_store_disk (BlImageStore *store, const char *id, const char *digest,
                     GCancellable *cancellable, GError **error)
{
    g_autofree char *disk = bl_image_store_disk_path (store, id);
    int gc = bl_image_store_lock_gc (store, FALSE, cancellable, error);
    if (gc < 0)
        return NULL;
    int lock = lock_image (store, id, cancellable, error);
    gboolean ok = lock >= 0;
    if (ok && !g_file_test (disk, G_FILE_TEST_EXISTS)) {
        BlImageEntry entry = { .digest = (char *) digest };
        g_autoptr (BlImageManifest) manifest = NULL;
        g_autoptr (BlImageConfig) config = NULL;
        ok = bl_image_store_read (store, &entry, &manifest, &config, NULL, error);
        if (ok && !g_str_equal (manifest->config.digest, id)) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "manifest %s is not of image %s", digest, id);
            ok = FALSE;
        }
        ok = ok && build_image (store, manifest, config, cancellable, error);
    }
    bl_image_store_unlock (lock);
    bl_image_store_unlock (gc);
    return ok ? g_steal_pointer (&disk) : NULL;
}

static gboolean
check_platform (const BlImageConfig *config, GError **error)
{
    if ((config->os && !g_str_equal (config->os, "linux")) ||
        (config->architecture && !g_str_equal (config->architecture, "amd64"))) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "the image is for %s/%s; boxes run linux/amd64", config->os ? config->os : "?",
                     config->architecture ? config->architecture : "?");
        return FALSE;
    }
    return TRUE;
}

BlImageEntry *
bl_image_store_commit (BlImageStore *store, const char *reference, const char *digest,
                       GCancellable *cancellable, GError **error)
{
    g_autoptr (BlImageEntry) entry = g_new0 (BlImageEntry, 1);
    g_autoptr (BlImageManifest) manifest = NULL;
    g_autoptr (BlImageConfig) config = NULL;

    if (!bl_image_ref_is_sha256 (digest)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "'%s' is not a sha256 digest",
                     digest);
        return NULL;
    }
    entry->reference = g_strdup (reference);
    entry->digest = g_strdup (digest);
    if (!bl_image_store_read (store, entry, &manifest, &config, NULL, error) ||
        !check_platform (config, error))
        return NULL;
    guint n_diff = config->diff_ids ? g_strv_length (config->diff_ids) : 0;
    if (config->diff_ids && n_diff != manifest->layers->len) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "the manifest has %u layers but the config lists %u", manifest->layers->len,
                     n_diff);
        return NULL;
    }
    entry->id = g_strdup (manifest->config.digest);
    g_autofree char *disk = bl_image_store_disk (store, entry->id, digest, cancellable, error);
    if (!disk)
        return NULL;
    /* What the image takes on this host: the blocks its (sparse) disk uses. */
    struct stat st;
    entry->size = stat (disk, &st) == 0 ? (guint64) st.st_blocks * 512 : 0;
    entry->created = bl_now_iso8601 ();
    if (!index_put (store, entry, error))
        return NULL;
    return g_steal_pointer (&entry);
}

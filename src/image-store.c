/* image-store.c: blobs, the index, and one shared disk per image. */
#define G_LOG_DOMAIN "boxlite-image"

#include "image-store.h"

#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "box-record.h"
#include "boxlite-error.h"
#include "image-ref.h"
#include "json-file.h"
#include "layer.h"

/* The index is a few hundred bytes per image. */
#define INDEX_MAX (16 * 1024 * 1024)
#define MAX_ENTRIES 100000
/* Shortest id prefix a user may type. */
#define ID_PREFIX_MIN 12
#define COPY_CHUNK (1024 * 1024)

struct _BlImageStore {
    char *dir;
    char *blobs_dir;
    char *sha_dir;
    char *rootfs_dir;
    char *disks_dir;
    char *index_path;
};

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
set_errno_error (GError **error, int saved, const char *what, const char *path)
{
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "cannot %s %s: %s", what, path,
                 g_strerror (saved));
    return FALSE;
}

static gboolean
make_dir (const char *path, GError **error)
{
    if (g_mkdir_with_parents (path, 0700) < 0)
        return set_errno_error (error, errno, "create", path);
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

static char *
disk_path (BlImageStore *store, const char *id)
{
    g_autofree char *name = g_strdup_printf ("%s.ext4", bl_image_digest_hex (id));
    return g_build_filename (store->disks_dir, name, NULL);
}

static char *
tree_path (BlImageStore *store, const char *id)
{
    return g_build_filename (store->rootfs_dir, bl_image_digest_hex (id), NULL);
}

/* ---- locks ---- */

static int
lock_file (const char *path, gboolean exclusive, GError **error)
{
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0) {
        set_errno_error (error, errno, "open", path);
        return -1;
    }
    while (flock (fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
        if (errno == EINTR)
            continue;
        set_errno_error (error, errno, "lock", path);
        close (fd);
        return -1;
    }
    return fd;
}

void
bl_image_store_unlock (int fd)
{
    if (fd >= 0)
        close (fd);
}

int
bl_image_store_lock_gc (BlImageStore *store, gboolean exclusive, GError **error)
{
    g_autofree char *path = g_build_filename (store->dir, "gc.lock", NULL);
    return lock_file (path, exclusive, error);
}

static int
lock_index (BlImageStore *store, GError **error)
{
    g_autofree char *path = g_build_filename (store->dir, "index.lock", NULL);
    return lock_file (path, TRUE, error);
}

/* ---- walking trees ---- */

/* Walks @path without following symlinks or crossing filesystems: removes
 * everything (@remove) or adds up the sizes of regular files. */
static guint64
walk_tree (const char *path, gboolean remove_all)
{
    char *const roots[] = {(char *)path, NULL};
    FTS *fts = fts_open (roots, FTS_PHYSICAL | FTS_XDEV | FTS_NOCHDIR, NULL);
    FTSENT *ent;
    guint64 total = 0;

    if (!fts)
        return 0;
    while ((ent = fts_read (fts))) {
        if (ent->fts_info == FTS_F)
            total += (guint64)ent->fts_statp->st_size;
        if (!remove_all || ent->fts_info == FTS_D)
            continue;
        if (remove (ent->fts_accpath) < 0 && errno != ENOENT)
            g_debug ("cannot remove %s: %s", ent->fts_path, g_strerror (errno));
    }
    fts_close (fts);
    return total;
}

static void
remove_tree (const char *path)
{
    walk_tree (path, TRUE);
}

static guint64
tree_bytes (const char *path)
{
    return walk_tree (path, FALSE);
}

/* ---- blobs ---- */

struct _BlBlobWriter {
    BlImageStore *store;
    char *tmp_path;
    int fd;
    GChecksum *sum;
    guint64 size;
};

BlBlobWriter *
bl_blob_writer_new (BlImageStore *store, GError **error)
{
    BlBlobWriter *w = g_new0 (BlBlobWriter, 1);

    w->store = store;
    w->tmp_path = g_build_filename (store->blobs_dir, ".import-XXXXXX", NULL);
    w->fd = g_mkstemp_full (w->tmp_path, O_RDWR | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        set_errno_error (error, errno, "create", w->tmp_path);
        g_free (w->tmp_path);
        g_free (w);
        return NULL;
    }
    w->sum = g_checksum_new (G_CHECKSUM_SHA256);
    return w;
}

gboolean
bl_blob_writer_write (BlBlobWriter *w, const void *data, gsize len, GError **error)
{
    const char *p = data;
    gsize left = len;

    while (left > 0) {
        ssize_t n = write (w->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return set_errno_error (error, errno, "write", w->tmp_path);
        p += n;
        left -= (gsize)n;
    }
    g_checksum_update (w->sum, data, (gssize)len);
    w->size += len;
    return TRUE;
}

void
bl_blob_writer_abort (BlBlobWriter *w)
{
    if (!w)
        return;
    close (w->fd);
    g_unlink (w->tmp_path);
    g_free (w->tmp_path);
    g_checksum_free (w->sum);
    g_free (w);
}

char *
bl_blob_writer_finish (BlBlobWriter *w, const char *expected_digest, guint64 expected_size,
                       gboolean *added, GError **error)
{
    g_autofree char *digest = g_strconcat ("sha256:", g_checksum_get_string (w->sum), NULL);

    if (expected_size != G_MAXUINT64 && w->size != expected_size) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "blob %s is %" G_GUINT64_FORMAT
                     " bytes, its descriptor says %" G_GUINT64_FORMAT,
                     expected_digest ? expected_digest : digest, w->size, expected_size);
        bl_blob_writer_abort (w);
        return NULL;
    }
    if (expected_digest && !g_str_equal (expected_digest, digest)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "blob %s does not match its digest (its content hashes to %s)",
                     expected_digest, digest);
        bl_blob_writer_abort (w);
        return NULL;
    }
    g_autofree char *dest = bl_image_store_blob_path (w->store, digest);
    *added = !g_file_test (dest, G_FILE_TEST_EXISTS);
    if (!*added) {
        bl_blob_writer_abort (w);
        return g_steal_pointer (&digest);
    }
    if (fsync (w->fd) < 0 || g_rename (w->tmp_path, dest) < 0) {
        set_errno_error (error, errno, "store blob", dest);
        bl_blob_writer_abort (w);
        return NULL;
    }
    close (w->fd);
    g_free (w->tmp_path);
    g_checksum_free (w->sum);
    g_free (w);
    return g_steal_pointer (&digest);
}

/* Hashes the open file @fd from the start: "sha256:<hex>", and its size. */
static char *
hash_fd (int fd, const char *path, guint64 *size, GCancellable *cancellable, GError **error)
{
    g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
    g_autofree guint8 *buf = g_malloc (COPY_CHUNK);
    guint64 total = 0;

    for (;;) {
        if (g_cancellable_set_error_if_cancelled (cancellable, error))
            return NULL;
        ssize_t n = read (fd, buf, COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            set_errno_error (error, errno, "read", path);
            return NULL;
        }
        if (n == 0)
            break;
        g_checksum_update (sum, buf, n);
        total += (guint64)n;
    }
    *size = total;
    return g_strconcat ("sha256:", g_checksum_get_string (sum), NULL);
}

/* Opens a regular file without following a symlink at its last component. */
static int
open_regular (const char *path, GError **error)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;

    if (fd < 0) {
        set_errno_error (error, errno, "open", path);
        return -1;
    }
    if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "%s is not a regular file", path);
        close (fd);
        return -1;
    }
    return fd;
}

/* Checks that the blob file @fd is @digest; @size G_MAXUINT64 means any. */
static gboolean
verify_fd (int fd, const char *path, const char *digest, guint64 size, GCancellable *cancellable,
           GError **error)
{
    guint64 actual_size = 0;
    g_autofree char *actual = hash_fd (fd, path, &actual_size, cancellable, error);

    if (!actual)
        return FALSE;
    if (!g_str_equal (actual, digest) || (size != G_MAXUINT64 && size != actual_size)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "blob %s is damaged: its content hashes to %s (%" G_GUINT64_FORMAT " bytes)",
                     digest, actual, actual_size);
        return FALSE;
    }
    return lseek (fd, 0, SEEK_SET) == 0;
}

gboolean
bl_image_store_add_blob_file (BlImageStore *store, const char *path, const char *digest,
                              guint64 size, gboolean *added, GCancellable *cancellable,
                              GError **error)
{
    int fd = open_regular (path, error);
    g_autofree guint8 *buf = NULL;
    BlBlobWriter *w;

    if (fd < 0)
        return FALSE;
    w = bl_blob_writer_new (store, error);
    if (!w) {
        close (fd);
        return FALSE;
    }
    buf = g_malloc (COPY_CHUNK);
    gboolean ok = TRUE;
    for (;;) {
        ssize_t n = read (fd, buf, COPY_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ok = set_errno_error (error, errno, "read", path);
            break;
        }
        if (n == 0 || g_cancellable_set_error_if_cancelled (cancellable, error)) {
            ok = n == 0;
            break;
        }
        if (!(ok = bl_blob_writer_write (w, buf, (gsize)n, error)))
            break;
        /* A blob larger than its descriptor is cut short here. */
        if (w->size > size) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "blob %s in %s is larger than its descriptor's %" G_GUINT64_FORMAT
                         " bytes",
                         digest, path, size);
            ok = FALSE;
            break;
        }
    }
    close (fd);
    if (!ok) {
        bl_blob_writer_abort (w);
        return FALSE;
    }
    g_autofree char *stored = bl_blob_writer_finish (w, digest, size, added, error);
    if (!stored)
        g_prefix_error (error, "%s: ", path);
    return stored != NULL;
}

/* Reads a small blob whole, checking its digest. Returns: (transfer full). */
static char *
read_blob (BlImageStore *store, const char *digest, gsize *len, GError **error)
{
    g_autofree char *path = bl_image_store_blob_path (store, digest);
    g_autofree char *data = NULL;
    struct stat st;
    int fd = open_regular (path, error);

    if (fd < 0)
        return NULL;
    if (fstat (fd, &st) < 0 || st.st_size > BL_IMAGE_JSON_MAX) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "blob %s is larger than a manifest or config may be", digest);
        close (fd);
        return NULL;
    }
    data = g_malloc ((gsize)st.st_size + 1);
    gsize got = 0;
    while (got < (gsize)st.st_size) {
        ssize_t n = read (fd, data + got, (gsize)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (gsize)n;
    }
    close (fd);
    data[got] = '\0';
    g_autofree char *actual = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (guchar *)data, got);
    if (got != (gsize)st.st_size || !g_str_equal (actual, bl_image_digest_hex (digest))) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "blob %s is damaged (its content hashes to sha256:%s)", digest, actual);
        return NULL;
    }
    *len = got;
    return g_steal_pointer (&data);
}

static BlImageManifest *
read_manifest (BlImageStore *store, const char *digest, GError **error)
{
    gsize len = 0;
    g_autofree char *data = read_blob (store, digest, &len, error);
    BlImageManifest *manifest = data ? bl_image_manifest_parse (data, len, error) : NULL;

    if (!manifest)
        g_prefix_error (error, "manifest %s: ", digest);
    return manifest;
}

gboolean
bl_image_store_read (BlImageStore *store, const BlImageEntry *entry, BlImageManifest **manifest_out,
                     BlImageConfig **config_out, char **config_json, GError **error)
{
    g_autoptr (BlImageManifest) manifest = read_manifest (store, entry->digest, error);
    gsize len = 0;

    if (!manifest)
        return FALSE;
    g_autofree char *data = read_blob (store, manifest->config.digest, &len, error);
    g_autoptr (BlImageConfig) config = data ? bl_image_config_parse (data, len, error) : NULL;
    if (!config) {
        g_prefix_error (error, "config %s: ", manifest->config.digest);
        return FALSE;
    }
    *manifest_out = g_steal_pointer (&manifest);
    *config_out = g_steal_pointer (&config);
    if (config_json)
        *config_json = g_steal_pointer (&data);
    return TRUE;
}

/* ---- the index ---- */

static BlImageEntry *
entry_from_json (JsonNode *node)
{
    JsonObject *obj = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
    const char *reference = obj ? bl_image_json_string (obj, "reference") : NULL;
    const char *digest = obj ? bl_image_json_string (obj, "digest") : NULL;
    const char *id = obj ? bl_image_json_string (obj, "id") : NULL;

    if (!reference || !bl_image_digest_valid (digest) || !bl_image_digest_valid (id))
        return NULL;
    BlImageEntry *entry = g_new0 (BlImageEntry, 1);
    entry->reference = g_strdup (reference);
    entry->digest = g_strdup (digest);
    entry->id = g_strdup (id);
    entry->created = g_strdup (bl_image_json_string (obj, "created"));
    entry->size = (guint64)MAX (0, json_object_get_int_member_with_default (obj, "size", 0));
    return entry;
}

/* The index as it is on disk; call with the index lock held (or accept a
 * snapshot). A damaged index is an error, not an empty store. */
static GPtrArray *
load_index (BlImageStore *store, GError **error)
{
    GPtrArray *entries = g_ptr_array_new_with_free_func ((GDestroyNotify)bl_image_entry_free);
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
    if (len <= INDEX_MAX && json_parser_load_from_data (parser, text, (gssize)len, NULL))
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

static gboolean
save_index (BlImageStore *store, GPtrArray *entries, GError **error)
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
        json_builder_add_int_value (b, (gint64)MIN (e->size, (guint64)G_MAXINT64));
        json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_end_object (b);
    return bl_json_write_file (store->index_path, b, error);
}

static gboolean
index_put (BlImageStore *store, const BlImageEntry *entry, GError **error)
{
    int lock = lock_index (store, error);
    if (lock < 0)
        return FALSE;
    g_autoptr (GPtrArray) entries = load_index (store, error);
    gboolean ok = entries != NULL;
    if (ok) {
        for (guint i = entries->len; i > 0; i--) {
            BlImageEntry *e = entries->pdata[i - 1];
            if (g_str_equal (e->reference, entry->reference))
                g_ptr_array_remove_index (entries, i - 1);
        }
        g_ptr_array_add (entries, bl_image_entry_copy (entry));
        ok = save_index (store, entries, error);
    }
    bl_image_store_unlock (lock);
    return ok;
}

static gint
compare_newest_first (gconstpointer a, gconstpointer b)
{
    const BlImageEntry *ea = *(const BlImageEntry *const *)a;
    const BlImageEntry *eb = *(const BlImageEntry *const *)b;
    return -g_strcmp0 (ea->created, eb->created);
}

GPtrArray *
bl_image_store_list (BlImageStore *store, GError **error)
{
    int lock = lock_index (store, error);
    if (lock < 0)
        return NULL;
    GPtrArray *entries = load_index (store, error);
    bl_image_store_unlock (lock);
    if (entries)
        g_ptr_array_sort (entries, compare_newest_first);
    return entries;
}

static gboolean
is_hex (const char *text)
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
    gboolean full = bl_image_digest_valid (text);
    gsize len = strlen (text);

    if (!full && (len < ID_PREFIX_MIN || len > 64 || !is_hex (text)))
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

static BlImageEntry *
find_reference (GPtrArray *entries, const char *reference)
{
    for (guint i = 0; i < entries->len; i++) {
        BlImageEntry *e = entries->pdata[i];
        if (g_str_equal (e->reference, reference))
            return e;
    }
    return NULL;
}

/* The entry @text names in @entries (borrowed), with *@by_id telling how. */
static BlImageEntry *
find_entry (GPtrArray *entries, const char *text, const char *const *search, gboolean *by_id,
            GError **error)
{
    g_autoptr (GPtrArray) by_digest = match_id (entries, text);

    *by_id = FALSE;
    if (by_digest && by_digest->len > 0) {
        BlImageEntry *first = by_digest->pdata[0];
        for (guint i = 1; i < by_digest->len; i++) {
            if (!g_str_equal (((BlImageEntry *)by_digest->pdata[i])->id, first->id)) {
                g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_AMBIGUOUS,
                             "image id prefix '%s' matches more than one image", text);
                return NULL;
            }
        }
        *by_id = TRUE;
        return first;
    }
    if (bl_image_digest_valid (text)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND, "no image has id %s", text);
        return NULL;
    }
    g_autoptr (BlImageRef) ref = bl_image_ref_parse (text, error);
    if (!ref)
        return NULL;
    for (guint i = 0; !ref->qualified && search && search[i]; i++) {
        g_autoptr (BlImageRef) there = bl_image_ref_with_registry (ref, search[i]);
        g_autofree char *name = there ? bl_image_ref_to_string (there) : NULL;
        BlImageEntry *e = name ? find_reference (entries, name) : NULL;
        if (e)
            return e;
    }
    g_autofree char *canonical = bl_image_ref_to_string (ref);
    BlImageEntry *e = find_reference (entries, canonical);
    if (!e)
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND, "no image %s in the store",
                     canonical);
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
    BlImageEntry *e = find_entry (entries, text, search, &by_id, error);
    return e ? bl_image_entry_copy (e) : NULL;
}

/* ---- building an image's tree and disk ---- */

static gboolean
apply_layers (BlImageStore *store, BlImageManifest *manifest, const char *tree,
              GCancellable *cancellable, GError **error)
{
    for (guint i = 0; i < manifest->layers->len; i++) {
        BlImageDescriptor *layer = manifest->layers->pdata[i];
        g_autofree char *path = bl_image_store_blob_path (store, layer->digest);
        int fd = open_regular (path, error);
        if (fd < 0)
            return FALSE;
        /* The layer is read through this very fd, so what was hashed is
         * what is applied. */
        g_autofree char *fd_path = g_strdup_printf ("/proc/self/fd/%d", fd);
        g_autoptr (GError) local = NULL;
        gboolean ok = verify_fd (fd, path, layer->digest, layer->size, cancellable, &local) &&
                      bl_layer_apply (fd_path, tree, NULL, cancellable, &local);
        close (fd);
        if (!ok) {
            /* bl_layer_apply() names the file it read, which here is the fd. */
            g_autofree char *noise = g_strdup_printf ("layer %s: ", fd_path);
            if (g_str_has_prefix (local->message, noise))
                memmove (local->message, local->message + strlen (noise),
                         strlen (local->message) - strlen (noise) + 1);
            g_propagate_error (error, g_steal_pointer (&local));
            g_prefix_error (error, "layer %u (%s): ", i + 1, layer->digest);
            return FALSE;
        }
    }
    /* Where the guest agent mounts the pseudo filesystems; images made for
     * containers often leave them out. */
    static const char *const mount_points[] = {"proc", "sys", "dev", "tmp", "run"};
    for (guint i = 0; i < G_N_ELEMENTS (mount_points); i++) {
        g_autofree char *dir = g_build_filename (tree, mount_points[i], NULL);
        struct stat st;
        if (lstat (dir, &st) < 0 && g_mkdir (dir, 0755) < 0)
            return set_errno_error (error, errno, "create", dir);
    }
    return TRUE;
}

/* Builds rootfs/<hex> and disks/<hex>.ext4 of @manifest; call with the
 * image's lock held. */
static gboolean
build_image (BlImageStore *store, BlImageManifest *manifest, GCancellable *cancellable,
             GError **error)
{
    const char *id = manifest->config.digest;
    g_autofree char *tree = tree_path (store, id);
    g_autofree char *disk = disk_path (store, id);
    g_autofree char *tmp = g_strdup_printf ("%s.tmp-%d", tree, (int)getpid ());
    gint64 started = g_get_monotonic_time ();

    remove_tree (tmp);
    if (g_mkdir (tmp, 0755) < 0)
        return set_errno_error (error, errno, "create", tmp);
    if (!apply_layers (store, manifest, tmp, cancellable, error)) {
        remove_tree (tmp);
        return FALSE;
    }
    remove_tree (tree);
    if (g_rename (tmp, tree) < 0) {
        set_errno_error (error, errno, "rename", tmp);
        remove_tree (tmp);
        return FALSE;
    }
    if (!bl_disk_build_ext4 (tree, disk, cancellable, error)) {
        remove_tree (tree);
        return FALSE;
    }
    g_debug ("built image %s (%u layers) in %.2f s", id, manifest->layers->len,
             (g_get_monotonic_time () - started) / 1e6);
    return TRUE;
}

static int
lock_image (BlImageStore *store, const char *id, GError **error)
{
    g_autofree char *name = g_strdup_printf (".lock-%s", bl_image_digest_hex (id));
    g_autofree char *path = g_build_filename (store->dir, name, NULL);
    return lock_file (path, TRUE, error);
}

char *
bl_image_store_disk (BlImageStore *store, const char *id, const char *digest,
                     GCancellable *cancellable, GError **error)
{
    g_autofree char *disk = disk_path (store, id);
    int gc = bl_image_store_lock_gc (store, FALSE, error);
    if (gc < 0)
        return NULL;
    int lock = lock_image (store, id, error);
    gboolean ok = lock >= 0;
    if (ok && !g_file_test (disk, G_FILE_TEST_EXISTS)) {
        g_autoptr (BlImageManifest) manifest = read_manifest (store, digest, error);
        ok = manifest != NULL;
        if (ok && !g_str_equal (manifest->config.digest, id)) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "manifest %s is not of image %s", digest, id);
            ok = FALSE;
        }
        ok = ok && build_image (store, manifest, cancellable, error);
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

    if (!bl_image_digest_valid (digest)) {
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
    g_autofree char *tree = tree_path (store, entry->id);
    entry->size = tree_bytes (tree);
    entry->created = bl_now_iso8601 ();
    if (!index_put (store, entry, error))
        return NULL;
    return g_steal_pointer (&entry);
}

/* ---- removal and pruning ---- */

static void
keep_image_blobs (BlImageStore *store, const char *digest, GHashTable *blobs)
{
    g_autoptr (BlImageManifest) manifest = read_manifest (store, digest, NULL);

    g_hash_table_add (blobs, g_strdup (digest));
    if (!manifest)
        return;
    g_hash_table_add (blobs, g_strdup (manifest->config.digest));
    for (guint i = 0; i < manifest->layers->len; i++)
        g_hash_table_add (blobs,
                          g_strdup (((BlImageDescriptor *)manifest->layers->pdata[i])->digest));
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

static guint64
file_size (const char *path)
{
    struct stat st;
    return lstat (path, &st) == 0 ? (guint64)st.st_blocks * 512 : 0;
}

/* Deletes @path (a file or a tree) and counts it. */
static void
delete_counted (const char *path, gboolean tree, guint64 *bytes, gint *count)
{
    if (tree) {
        *bytes += tree_bytes (path);
        remove_tree (path);
    } else {
        *bytes += file_size (path);
        g_unlink (path);
    }
    (*count)++;
}

/* The trees and disks of image @id, unless @keep holds it. */
static void
drop_image_files (BlImageStore *store, const char *id, KeepSet *keep, guint64 *bytes, gint *count)
{
    if (g_hash_table_contains (keep->ids, id))
        return;
    g_autofree char *tree = tree_path (store, id);
    g_autofree char *disk = disk_path (store, id);
    if (g_file_test (tree, G_FILE_TEST_EXISTS))
        delete_counted (tree, TRUE, bytes, count);
    if (g_file_test (disk, G_FILE_TEST_EXISTS))
        delete_counted (disk, FALSE, bytes, count);
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
                       const BlImageUsers *users, gboolean force, GError **error)
{
    int gc = bl_image_store_lock_gc (store, TRUE, error);
    if (gc < 0)
        return FALSE;
    int lock = lock_index (store, error);
    g_autoptr (GPtrArray) entries = lock >= 0 ? load_index (store, error) : NULL;
    gboolean by_id = FALSE;
    BlImageEntry *target = entries ? find_entry (entries, text, search, &by_id, error) : NULL;
    g_autofree char *id = target ? g_strdup (target->id) : NULL;
    g_autofree char *reference = target ? g_strdup (target->reference) : NULL;
    g_autoptr (GHashTable) candidates =
        g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    gboolean ok = target != NULL;

    if (ok && users && users->ids && g_hash_table_contains (users->ids, id) && !force) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE,
                     "image %s is used by a box; remove the box first or force the removal",
                     reference);
        ok = FALSE;
    }
    for (guint i = entries && ok ? entries->len : 0; i > 0; i--) {
        BlImageEntry *e = entries->pdata[i - 1];
        if (by_id ? g_str_equal (e->id, id) : g_str_equal (e->reference, reference)) {
            keep_image_blobs (store, e->digest, candidates);
            g_ptr_array_remove_index (entries, i - 1);
        }
    }
    ok = ok && save_index (store, entries, error);
    bl_image_store_unlock (lock);
    if (ok) {
        g_auto (KeepSet) keep = {NULL, NULL};
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
    return strlen (name) == 64 && is_hex (name);
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
                      GError **error)
{
    int gc = bl_image_store_lock_gc (store, TRUE, error);
    if (gc < 0)
        return -1;
    g_autoptr (GPtrArray) entries = bl_image_store_list (store, error);
    if (!entries) {
        bl_image_store_unlock (gc);
        return -1;
    }
    g_auto (KeepSet) keep = {NULL, NULL};
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

/* image-blob.c: blobs going into the store and read back, always checked
 * against their digest. */
#define G_LOG_DOMAIN "boxlite-image"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boxlite/boxlite-error.h>
#include "image-store-private.h"
#include "os-error.h"

#define COPY_CHUNK (1024 * 1024)

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
        bl_os_error (error, errno, "create", w->tmp_path);
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
            return bl_os_error (error, errno, "write", w->tmp_path);
        p += n;
        left -= (gsize) n;
    }
    g_checksum_update (w->sum, data, (gssize) len);
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
        bl_os_error (error, errno, "store blob", dest);
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
            bl_os_error (error, errno, "read", path);
            return NULL;
        }
        if (n == 0)
            break;
        g_checksum_update (sum, buf, n);
        total += (guint64) n;
    }
    *size = total;
    return g_strconcat ("sha256:", g_checksum_get_string (sum), NULL);
}

/* Opens a regular file without following a symlink at its last component. */
int
bl_blob_open_regular (const char *path, GError **error)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;

    if (fd < 0) {
        bl_os_error (error, errno, "open", path);
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
gboolean
bl_blob_verify_fd (int fd, const char *path, const char *digest, guint64 size,
                   GCancellable *cancellable, GError **error)
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
    if (lseek (fd, 0, SEEK_SET) != 0)
        return bl_os_error (error, errno, "rewind", path);
    return TRUE;
}

gboolean
bl_image_store_add_blob_file (BlImageStore *store, const char *path, const char *digest,
                              guint64 size, gboolean *added, GCancellable *cancellable,
                              GError **error)
{
    int fd = bl_blob_open_regular (path, error);
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
            ok = bl_os_error (error, errno, "read", path);
            break;
        }
        if (n == 0 || g_cancellable_set_error_if_cancelled (cancellable, error)) {
            ok = n == 0;
            break;
        }
        if (!(ok = bl_blob_writer_write (w, buf, (gsize) n, error)))
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
    int fd = bl_blob_open_regular (path, error);

    if (fd < 0)
        return NULL;
    if (fstat (fd, &st) < 0 || st.st_size > BL_IMAGE_JSON_MAX) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "blob %s is larger than a manifest or config may be", digest);
        close (fd);
        return NULL;
    }
    data = g_malloc ((gsize) st.st_size + 1);
    gsize got = 0;
    while (got < (gsize) st.st_size) {
        ssize_t n = read (fd, data + got, (gsize) st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (gsize) n;
    }
    close (fd);
    data[got] = '\0';
    g_autofree char *actual = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (guchar *) data, got);
    if (got != (gsize) st.st_size || !g_str_equal (actual, bl_image_digest_hex (digest))) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "blob %s is damaged (its content hashes to sha256:%s)", digest, actual);
        return NULL;
    }
    *len = got;
    return g_steal_pointer (&data);
}

BlImageManifest *
bl_image_store_read_manifest (BlImageStore *store, const char *digest, GError **error)
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
    g_autoptr (BlImageManifest) manifest =
        bl_image_store_read_manifest (store, entry->digest, error);
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

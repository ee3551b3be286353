/* qcow2-new.c: an empty qcow2 over a backing file, written directly.
 *
 * Every box's disk and every snapshot layer starts as one. Running
 * `qemu-img create` for it cost a process start (most of `create`'s
 * time); the file itself is four small tables. The layout is the one
 * qemu-img gives an empty image (QEMU's docs/interop/qcow2.txt, version 3,
 * 64 KiB clusters, 16-bit refcounts):
 *
 *   cluster 0   header, header extensions, backing file name
 *   cluster 1   refcount table (one entry: cluster 2)
 *   cluster 2   refcount block (1 for each cluster of metadata)
 *   cluster 3+  L1 table, all zero: nothing allocated, all reads fall
 *               through to the backing file
 */
#define G_LOG_DOMAIN "boxlite"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <boxlite/boxlite-error.h>
#include "os-error.h"
#include "qcow2-new.h"

#define CLUSTER_BITS 16
#define CLUSTER_SIZE (1u << CLUSTER_BITS)
#define HEADER_LENGTH 104
#define EXT_BACKING_FORMAT 0xe2792acau
/* Each L2 table maps CLUSTER_SIZE / 8 clusters. */
#define BYTES_PER_L1_ENTRY ((guint64) CLUSTER_SIZE * (CLUSTER_SIZE / 8))
/* QEMU's own limit on the L1 table (32 MiB of entries). */
#define L1_MAX_ENTRIES ((32u << 20) / 8)
#define REFCOUNT_TABLE 1
#define REFCOUNT_BLOCK 2
#define L1_TABLE 3

static void
put32 (guint8 *p, guint32 v)
{
    v = GUINT32_TO_BE (v);
    memcpy (p, &v, 4);
}

static void
put64 (guint8 *p, guint64 v)
{
    v = GUINT64_TO_BE (v);
    memcpy (p, &v, 8);
}

static void
put16 (guint8 *p, guint16 v)
{
    v = GUINT16_TO_BE (v);
    memcpy (p, &v, 2);
}

/* Header, extensions and name in @cluster (zeroed, CLUSTER_SIZE bytes). */
static void
fill_header (guint8 *cluster, const char *backing, const char *format, guint64 size,
             guint32 l1_entries)
{
    gsize name_len = strlen (backing), format_len = strlen (format);
    gsize ext = HEADER_LENGTH;

    put32 (cluster + 0, BL_QCOW2_MAGIC);
    put32 (cluster + 4, 3);
    put32 (cluster + 20, CLUSTER_BITS);
    put64 (cluster + 24, size);
    put32 (cluster + 36, l1_entries);
    put64 (cluster + 40, (guint64) L1_TABLE * CLUSTER_SIZE);
    put64 (cluster + 48, (guint64) REFCOUNT_TABLE * CLUSTER_SIZE);
    put32 (cluster + 56, 1);
    put32 (cluster + 96, 4); /* refcount_order: 16-bit refcounts */
    put32 (cluster + 100, HEADER_LENGTH);

    /* Without the format QEMU would probe the backing file, and a raw base
     * whose first bytes looked like another format would be read as it. */
    put32 (cluster + ext, EXT_BACKING_FORMAT);
    put32 (cluster + ext + 4, (guint32) format_len);
    memcpy (cluster + ext + 8, format, format_len);
    ext += 8 + ((format_len + 7) & ~(gsize) 7);
    ext += 8; /* the end of the extensions: type 0, length 0 */

    put64 (cluster + 8, ext);
    put32 (cluster + 16, (guint32) name_len);
    memcpy (cluster + ext, backing, name_len);
}

gboolean
bl_qcow2_new (const char *path, const char *backing, const char *backing_format,
              guint64 virtual_size, GError **error)
{
    g_return_val_if_fail (path && backing && backing_format, FALSE);

    gsize name_len = strlen (backing), format_len = strlen (backing_format);
    if (name_len == 0 || name_len > BL_QCOW2_BACKING_MAX) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "%s: a backing file name of %" G_GSIZE_FORMAT " bytes cannot be written", path,
                     name_len);
        return FALSE;
    }
    if (format_len == 0 || format_len > 16) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "%s: \"%s\" is not a backing file format", path, backing_format);
        return FALSE;
    }
    guint64 entries = virtual_size / BYTES_PER_L1_ENTRY + (virtual_size % BYTES_PER_L1_ENTRY != 0);
    if (virtual_size == 0 || virtual_size % 512 != 0 || entries > L1_MAX_ENTRIES) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "%s: a disk of %" G_GUINT64_FORMAT " bytes cannot be made", path,
                     virtual_size);
        return FALSE;
    }
    guint64 l1_clusters = (entries * 8 + CLUSTER_SIZE - 1) / CLUSTER_SIZE;
    guint64 clusters = L1_TABLE + MAX (l1_clusters, 1);

    g_autofree guint8 *buf = g_malloc0 ((gsize) 3 * CLUSTER_SIZE);
    fill_header (buf, backing, backing_format, virtual_size, (guint32) entries);
    put64 (buf + REFCOUNT_TABLE * CLUSTER_SIZE, (guint64) REFCOUNT_BLOCK * CLUSTER_SIZE);
    for (guint64 c = 0; c < clusters; c++)
        put16 (buf + REFCOUNT_BLOCK * CLUSTER_SIZE + c * 2, 1);

    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        bl_os_error (error, errno, "create", path);
        return FALSE;
    }
    /* The L1 table's zeroes are a hole. */
    gboolean ok = ftruncate (fd, (off_t) (clusters * CLUSTER_SIZE)) == 0;
    for (gsize done = 0; ok && done < 3 * CLUSTER_SIZE;) {
        ssize_t n = pwrite (fd, buf + done, 3 * CLUSTER_SIZE - done, (off_t) done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            errno = EIO;
        ok = n > 0;
        done += ok ? (gsize) n : 0;
    }
    ok = ok && fdatasync (fd) == 0;
    int saved = errno;
    close (fd);
    if (!ok) {
        unlink (path);
        bl_os_error (error, saved ? saved : EIO, "write", path);
        return FALSE;
    }
    return TRUE;
}

/* disk.c: a box's disk: a shared read-only ext4 per root filesystem, under a
 * per-box qcow2 overlay, so creating a box copies nothing. */
#define G_LOG_DOMAIN "boxlite"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "box-record.h"
#include <boxlite/boxlite-error.h>
#include "paths.h"
#include "disk.h"
#include "fs-tree.h"
#include "layer.h"
#include "image-store.h"
#include "os-error.h"
#include "json-file.h"
#include "qcow2-new.h"

/* Free space a box gets on top of its root filesystem's contents. The ext4
 * image is sparse, so unused space costs nothing on the host. */
#define FREE_SPACE_BYTES (G_GUINT64_CONSTANT (2) << 30)

static gboolean
run (const char *const *argv, GCancellable *cancellable, GError **error)
{
    g_autoptr (GSubprocess) proc = g_subprocess_newv (
        argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE, error);
    g_autofree char *err_text = NULL;

    if (!proc)
        return FALSE;
    if (!g_subprocess_communicate_utf8 (proc, NULL, cancellable, NULL, &err_text, error)) {
        /* Cancelled: the tool must not run on, writing a file the caller
         * is about to remove. */
        g_subprocess_force_exit (proc);
        g_subprocess_wait (proc, NULL, NULL);
        return FALSE;
    }
    /* Why the tool failed (a full disk, a bad tree) is only in its words. */
    if (!g_subprocess_get_successful (proc)) {
        int status = g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : -1;
        g_set_error (error, G_SPAWN_EXIT_ERROR, status, "%s failed: %s", argv[0],
                     err_text ? g_strstrip (err_text) : "");
        return FALSE;
    }
    return TRUE;
}

/* mkfs writes into a file made here, empty and sparse, so every block it
 * does not write reads as zeros; assume_storage_prezeroed tells it so. It
 * then writes neither the inode tables nor the journal (about 64 MiB of
 * zeros per image), and marks the inode tables zeroed, so no box's kernel
 * starts its lazy-init thread to zero them again into the box's overlay. */
static gboolean
make_ext4 (const char *tree, const char *dest, GCancellable *cancellable, GError **error)
{
    BlTreeUsage usage;

    /* The tree's blocks and a block per entry for its inode, with room. */
    bl_tree_usage (tree, &usage);
    guint64 bytes = (usage.disk_bytes + usage.entries * 4096) * 5 / 4 + FREE_SPACE_BYTES;
    g_autofree char *size = g_strdup_printf ("%" G_GUINT64_FORMAT "k", bytes / 1024);
    int fd = open (dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return bl_os_error (error, errno, "create", dest);
    close (fd);
    const char *const argv[] = { "mkfs.ext4",
                                 "-q",
                                 "-F",
                                 "-L",
                                 "boxlite-root",
                                 "-E",
                                 "assume_storage_prezeroed=1,root_owner=0:0",
                                 "-d",
                                 tree,
                                 dest,
                                 size,
                                 NULL };

    return run (argv, cancellable, error);
}

/* Declared in image-store.h: the image store builds its disks here too. */
gboolean
bl_disk_build_ext4 (const char *tree, const char *dest, GCancellable *cancellable, GError **error)
{
    g_autofree char *tmp = g_strdup_printf ("%s.tmp-%d", dest, (int) getpid ());
    gint64 started = g_get_monotonic_time ();

    g_unlink (tmp);
    gboolean ok = make_ext4 (tree, tmp, cancellable, error);
    if (ok && g_rename (tmp, dest) < 0) {
        bl_os_error (error, errno, "rename", tmp);
        ok = FALSE;
    }
    if (!ok) {
        g_unlink (tmp);
        g_prefix_error (error, "cannot make a disk from %s: ", tree);
        return FALSE;
    }
    g_debug ("built %s in %.2f s", dest, (g_get_monotonic_time () - started) / 1e6);
    return TRUE;
}

/* Unpacks the tarball @rootfs into the scratch directory @tree with the
 * image layer applier (the one extractor for archives from outside), then
 * builds @dest from it. */
static gboolean
build_from_tar (const char *rootfs, const char *tree, const char *dest, GCancellable *cancellable,
                GError **error)
{
    if (!bl_tree_remove (tree, error))
        return FALSE;
    if (g_mkdir (tree, 0755) < 0) {
        bl_os_error (error, errno, "create", tree);
        return FALSE;
    }
    gboolean ok = bl_layer_apply (rootfs, tree, NULL, cancellable, error) &&
                  bl_disk_build_ext4 (tree, dest, cancellable, error);
    g_autoptr (GError) local = NULL;
    if (!bl_tree_remove (tree, &local))
        g_warning ("%s", local->message);
    return ok;
}

/* The cache key of a root filesystem: a directory by its real path and
 * change time, a tarball by its contents. */
static char *
rootfs_key (const char *rootfs, gboolean *is_dir, GError **error)
{
    struct stat st;
    g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

    if (stat (rootfs, &st) < 0) {
        bl_os_error (error, errno, "read the root filesystem", rootfs);
        return NULL;
    }
    *is_dir = S_ISDIR (st.st_mode);
    if (*is_dir) {
        g_autofree char *real = realpath (rootfs, NULL);
        g_autofree char *stamp = g_strdup_printf ("dir\n%s\n%ld.%09ld\n%lu", real ? real : rootfs,
                                                  (long) st.st_ctim.tv_sec,
                                                  (long) st.st_ctim.tv_nsec, (gulong) st.st_ino);
        g_checksum_update (sum, (const guchar *) stamp, -1);
    } else if (S_ISREG (st.st_mode)) {
        g_autoptr (GMappedFile) map = g_mapped_file_new (rootfs, FALSE, error);
        if (!map)
            return NULL;
        g_checksum_update (sum, (const guchar *) "tar\n", -1);
        if (g_mapped_file_get_length (map) > 0)
            g_checksum_update (sum, (const guchar *) g_mapped_file_get_contents (map),
                               (gssize) g_mapped_file_get_length (map));
    } else {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "root filesystem %s is neither a directory nor a tar archive", rootfs);
        return NULL;
    }
    return g_strndup (g_checksum_get_string (sum), 32);
}

char *
bl_disk_base_image (const char *cache_dir, const char *rootfs, GCancellable *cancellable,
                    GError **error)
{
    gboolean is_dir = FALSE;
    /* Resolved once: the default image is a symlink that a new build moves,
     * and the key and the disk must come from the same tree (the tree's
     * size is measured without following links). */
    g_autofree char *resolved = realpath (rootfs, NULL);
    if (resolved)
        rootfs = resolved;
    g_autofree char *key = rootfs_key (rootfs, &is_dir, error);
    if (!key)
        return NULL;

    g_autofree char *dir = g_build_filename (cache_dir, "images", "local", NULL);
    g_autofree char *dest = g_strdup_printf ("%s/%s.ext4", dir, key);
    if (g_mkdir_with_parents (dir, 0700) < 0) {
        bl_os_error (error, errno, "create", dir);
        return NULL;
    }
    /* One builder at a time per home; the others find the result. */
    int lock = bl_record_lock (dir, error);
    if (lock < 0)
        return NULL;
    gboolean ok = TRUE;
    if (!g_file_test (dest, G_FILE_TEST_EXISTS)) {
        g_autofree char *tree = g_strdup_printf ("%s/%s.unpack", dir, key);
        gint64 started = g_get_monotonic_time ();
        ok = is_dir ? bl_disk_build_ext4 (rootfs, dest, cancellable, error)
                    : build_from_tar (rootfs, tree, dest, cancellable, error);
        if (ok)
            g_debug ("built disk image for %s in %.2f s", rootfs,
                     (g_get_monotonic_time () - started) / 1e6);
        else
            g_prefix_error (error, "root filesystem %s: ", rootfs);
    }
    bl_record_unlock (lock);
    return ok ? g_steal_pointer (&dest) : NULL;
}

/* A disk smaller than the file system on it would not mount: the guest
 * only ever grows the file system to the disk. Without a size, the disk is
 * as large as the file system image. */
static gboolean
disk_size (const char *base, guint size_gb, guint64 *size, GError **error)
{
    struct stat st;

    if (stat (base, &st) < 0) {
        bl_os_error (error, errno, "read", base);
        return FALSE;
    }
    *size = size_gb ? (guint64) size_gb << 30 : ((guint64) st.st_size + 511) & ~(guint64) 511;
    if (*size < (guint64) st.st_size) {
        guint64 least = ((guint64) st.st_size + (G_GUINT64_CONSTANT (1) << 30) - 1) >> 30;
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "a disk of %u GiB is smaller than the image's file system (%.1f GiB): "
                     "give at least %" G_GUINT64_FORMAT " GiB",
                     size_gb, st.st_size / (double) (1 << 30), least);
        return FALSE;
    }
    return TRUE;
}

gboolean
bl_disk_create_overlay (const char *base, const char *overlay, guint size_gb,
                        GCancellable *cancellable, GError **error)
{
    guint64 size = 0;

    return !g_cancellable_set_error_if_cancelled (cancellable, error) &&
           disk_size (base, size_gb, &size, error) &&
           bl_qcow2_new (overlay, base, "raw", size, error);
}

/* The backing file's size comes from its header: QEMU may hold it open and
 * locked, and nothing else of it is needed. */
static gboolean
create_layer (const char *backing, const char *dest, GError **error)
{
    guint64 virtual_size = 0;
    g_autofree char *dir = g_path_get_dirname (dest);
    g_autofree char *path =
        g_path_is_absolute (backing) ? g_strdup (backing) : g_build_filename (dir, backing, NULL);
    g_autofree char *backing_name = bl_disk_read_header (path, &virtual_size, error);

    return backing_name && bl_qcow2_new (dest, backing, "qcow2", virtual_size, error);
}

gboolean
bl_disk_create_layer (const char *backing, const char *dest, GCancellable *cancellable,
                      GError **error)
{
    return !g_cancellable_set_error_if_cancelled (cancellable, error) &&
           create_layer (backing, dest, error);
}

gboolean
bl_disk_rebase (const char *image, const char *backing, GCancellable *cancellable, GError **error)
{
    g_autofree char *qemu_img = bl_path_qemu_img (error);

    if (!qemu_img)
        return FALSE;
    /* The shared base images are raw; every file of a chain above them is
     * qcow2. Safe mode (no -u): what @image reads stays what it read. */
    const char *format = g_str_has_suffix (backing, ".qcow2") ? "qcow2" : "raw";
    const char *const argv[] = { qemu_img, "rebase", "-q",    "-f",  "qcow2", "-F",
                                 format,   "-b",     backing, image, NULL };
    return run (argv, cancellable, error);
}

char *
bl_disk_backing (const char *image, GError **error)
{
    return bl_disk_read_header (image, NULL, error);
}

char *
bl_disk_read_header (const char *image, guint64 *virtual_size, GError **error)
{
    guint8 header[32];
    int fd = open (image, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0) {
        bl_os_error (error, errno, "open", image);
        return NULL;
    }
    ssize_t got = pread (fd, header, sizeof header, 0);
    guint32 magic = 0, size = 0;
    guint64 offset = 0, vsize = 0;
    if (got == (ssize_t) sizeof header) {
        memcpy (&magic, header, 4);
        memcpy (&offset, header + 8, 8);
        memcpy (&size, header + 16, 4);
        memcpy (&vsize, header + 24, 8);
    }
    magic = GUINT32_FROM_BE (magic);
    offset = GUINT64_FROM_BE (offset);
    size = GUINT32_FROM_BE (size);
    if (virtual_size)
        *virtual_size = GUINT64_FROM_BE (vsize);
    if (magic != BL_QCOW2_MAGIC) {
        close (fd);
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED, "%s is not a qcow2 image", image);
        return NULL;
    }
    if (offset == 0 || size == 0) {
        close (fd);
        return g_strdup ("");
    }
    if (size > BL_QCOW2_BACKING_MAX || offset > (guint64) G_MAXINT64 - size) {
        close (fd);
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED, "%s: bad backing file name",
                     image);
        return NULL;
    }
    g_autofree char *name = g_malloc0 (size + 1);
    got = pread (fd, name, size, (off_t) offset);
    close (fd);
    if (got != (ssize_t) size || memchr (name, '\0', size)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED, "%s: bad backing file name",
                     image);
        return NULL;
    }
    return g_steal_pointer (&name);
}

gboolean
bl_disk_flatten (const char *overlay, const char *dest, GCancellable *cancellable, GError **error)
{
    g_autofree char *qemu_img = bl_path_qemu_img (error);

    if (!qemu_img)
        return FALSE;
    /* Without -U: qemu-img then takes QEMU's image lock, so a box started
     * meanwhile fails to open its disk (or this fails) rather than the copy
     * reading a disk that is being written. */
    const char *const argv[] = { qemu_img, "convert", "-q",    "-f", "qcow2",
                                 "-O",     "qcow2",   overlay, dest, NULL };
    return run (argv, cancellable, error);
}

/* Largest `qemu-img info` answer read; a real one is a few hundred bytes. */
#define INFO_MAX (64 * 1024)

gboolean
bl_disk_check_standalone (const char *path, guint64 *virtual_size, GCancellable *cancellable,
                          GError **error)
{
    g_autofree char *qemu_img = bl_path_qemu_img (error);
    g_autofree char *out = NULL;
    g_autofree char *err_text = NULL;

    if (!qemu_img)
        return FALSE;
    /* -f qcow2: a file of another format is refused rather than probed;
     * info opens no backing file, so naming one here reads nothing. */
    const char *const argv[] = { qemu_img, "info", "-f", "qcow2", "--output=json", path, NULL };
    g_autoptr (GSubprocess) proc = g_subprocess_newv (
        argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, error);
    if (!proc || !g_subprocess_communicate_utf8 (proc, NULL, cancellable, &out, &err_text, error))
        return FALSE;
    if (!g_subprocess_get_successful (proc)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "%s is not a qcow2 disk: %s", path,
                     err_text ? g_strstrip (err_text) : "");
        return FALSE;
    }
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();
    JsonObject *info =
        out && strlen (out) <= INFO_MAX ? bl_json_load_object (parser, out, strlen (out)) : NULL;
    if (!info) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "qemu-img info of %s is unreadable",
                     path);
        return FALSE;
    }
    /* A backing file or an external data file would make the disk read
     * (and, for the data file, write) a file outside the box. */
    JsonObject *data =
        bl_json_member_object (bl_json_member_object (info, "format-specific"), "data");
    if (json_object_has_member (info, "backing-filename") ||
        json_object_has_member (info, "full-backing-filename") ||
        (data && json_object_has_member (data, "data-file"))) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "%s refers to a file outside itself (a backing or data file)", path);
        return FALSE;
    }
    JsonNode *size = json_object_get_member (info, "virtual-size");
    if (!size || !JSON_NODE_HOLDS_VALUE (size) || json_node_get_value_type (size) != G_TYPE_INT64 ||
        json_node_get_int (size) <= 0) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "%s has no valid size", path);
        return FALSE;
    }
    if (virtual_size)
        *virtual_size = (guint64) json_node_get_int (size);
    return TRUE;
}

/* disk.c: a box's disk: a shared read-only ext4 per root filesystem, under a
 * per-box qcow2 overlay, so creating a box copies nothing. */
#define G_LOG_DOMAIN "boxlite"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "box-record.h"
#include <boxlite/boxlite-error.h>
#include "paths.h"
#include "disk.h"
#include "image-store.h"

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
    if (!g_subprocess_get_successful (proc)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "%s failed: %s", argv[0],
                     err_text ? g_strstrip (err_text) : "");
        return FALSE;
    }
    return TRUE;
}

/* Bytes the tree below @path takes, counted in blocks as a filesystem would. */
static guint64
tree_size (const char *path)
{
    struct stat st;
    guint64 total = 0;

    if (lstat (path, &st) < 0)
        return 0;
    total = (guint64) st.st_blocks * 512 + 4096;
    if (!S_ISDIR (st.st_mode))
        return total;
    g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name (dir))) {
        g_autofree char *child = g_build_filename (path, name, NULL);
        total += tree_size (child);
    }
    return total;
}

static gboolean
make_ext4 (const char *tree, const char *dest, GCancellable *cancellable, GError **error)
{
    guint64 bytes = tree_size (tree) * 5 / 4 + FREE_SPACE_BYTES;
    g_autofree char *size = g_strdup_printf ("%" G_GUINT64_FORMAT "k", bytes / 1024);
    const char *const argv[] = { "mkfs.ext4",
                                 "-q",
                                 "-F",
                                 "-L",
                                 "boxlite-root",
                                 "-E",
                                 "lazy_itable_init=1,root_owner=0:0",
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
    if (!make_ext4 (tree, tmp, cancellable, error) || g_rename (tmp, dest) < 0) {
        if (error && !*error)
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "cannot rename %s: %s", tmp,
                         g_strerror (errno));
        g_unlink (tmp);
        g_prefix_error (error, "cannot make a disk from %s: ", tree);
        return FALSE;
    }
    g_debug ("built %s in %.2f s", dest, (g_get_monotonic_time () - started) / 1e6);
    return TRUE;
}

static gboolean
name_is_safe (const char *name)
{
    if (!name || g_path_is_absolute (name))
        return FALSE;
    g_auto (GStrv) parts = g_strsplit (name, "/", -1);
    for (guint i = 0; parts[i]; i++) {
        if (g_str_equal (parts[i], ".."))
            return FALSE;
    }
    return TRUE;
}

/* Unpacks a tar archive (any compression libarchive knows) into @dest,
 * refusing entries that would land outside it. */
static gboolean
unpack_tar (const char *tarball, const char *dest, GError **error)
{
    struct archive *in = archive_read_new ();
    struct archive *out = archive_write_disk_new ();
    struct archive_entry *entry;
    gboolean ok = FALSE;
    int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
                ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                ARCHIVE_EXTRACT_SECURE_SYMLINKS;

    archive_read_support_format_tar (in);
    archive_read_support_format_gnutar (in);
    archive_read_support_filter_all (in);
    archive_write_disk_set_options (out, flags);
    if (archive_read_open_filename (in, tarball, 64 * 1024) != ARCHIVE_OK) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "cannot read %s: %s", tarball,
                     archive_error_string (in));
        goto out;
    }
    for (;;) {
        int r = archive_read_next_header (in, &entry);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "%s: %s", tarball,
                         archive_error_string (in));
            goto out;
        }
        const char *name = archive_entry_pathname (entry);
        const char *hardlink = archive_entry_hardlink (entry);
        /* Entries are rebased under @dest, so libarchive sees absolute paths:
         * the checks it would make on the archive's own names are made here. */
        if (!name_is_safe (name) || (hardlink && !name_is_safe (hardlink))) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "%s: entry '%s' points outside the root filesystem", tarball, name);
            goto out;
        }
        g_autofree char *target = g_build_filename (dest, name, NULL);
        archive_entry_set_pathname (entry, target);
        if (hardlink) {
            g_autofree char *link_target = g_build_filename (dest, hardlink, NULL);
            archive_entry_set_hardlink (entry, link_target);
        }
        if (archive_write_header (out, entry) != ARCHIVE_OK) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "%s: entry '%s': %s", tarball,
                         name, archive_error_string (out));
            goto out;
        }
        const void *buf;
        size_t len;
        la_int64_t offset;
        while ((r = archive_read_data_block (in, &buf, &len, &offset)) == ARCHIVE_OK) {
            if (archive_write_data_block (out, buf, len, offset) != ARCHIVE_OK) {
                g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "%s: '%s': %s", tarball,
                             name, archive_error_string (out));
                goto out;
            }
        }
        if (r != ARCHIVE_EOF) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "%s: '%s': %s", tarball, name,
                         archive_error_string (in));
            goto out;
        }
    }
    ok = TRUE;
out:
    archive_read_free (in);
    archive_write_free (out);
    return ok;
}

static gboolean
rm_rf (const char *path)
{
    const char *const argv[] = { "rm", "-rf", "--one-file-system", path, NULL };
    return run (argv, NULL, NULL);
}

/* The cache key of a root filesystem: a directory by its real path and
 * change time, a tarball by its contents. */
static char *
rootfs_key (const char *rootfs, gboolean *is_dir, GError **error)
{
    struct stat st;
    g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

    if (stat (rootfs, &st) < 0) {
        int saved = errno;
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "root filesystem %s: %s", rootfs,
                     g_strerror (saved));
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
    g_autofree char *key = rootfs_key (rootfs, &is_dir, error);
    if (!key)
        return NULL;

    g_autofree char *dir = g_build_filename (cache_dir, "images", "local", NULL);
    g_autofree char *dest = g_strdup_printf ("%s/%s.ext4", dir, key);
    if (g_mkdir_with_parents (dir, 0700) < 0) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "cannot create %s", dir);
        return NULL;
    }
    /* One builder at a time per home; the others find the result. */
    int lock = bl_record_lock (dir, error);
    if (lock < 0)
        return NULL;
    gboolean ok = TRUE;
    if (!g_file_test (dest, G_FILE_TEST_EXISTS)) {
        g_autofree char *tmp = g_strdup_printf ("%s.tmp", dest);
        g_autofree char *tree = NULL;
        gint64 started = g_get_monotonic_time ();
        if (!is_dir) {
            tree = g_strdup_printf ("%s/%s.unpack", dir, key);
            rm_rf (tree);
            ok = g_mkdir_with_parents (tree, 0755) == 0 && unpack_tar (rootfs, tree, error);
        }
        ok = ok && make_ext4 (tree ? tree : rootfs, tmp, cancellable, error) &&
             g_rename (tmp, dest) == 0;
        if (tree)
            rm_rf (tree);
        g_unlink (tmp);
        if (ok)
            g_debug ("built disk image for %s in %.2f s", rootfs,
                     (g_get_monotonic_time () - started) / 1e6);
        else
            g_prefix_error (error, "cannot make a disk from %s: ", rootfs);
    }
    bl_record_unlock (lock);
    return ok ? g_steal_pointer (&dest) : NULL;
}

gboolean
bl_disk_create_overlay (const char *base, const char *overlay, guint size_gb,
                        GCancellable *cancellable, GError **error)
{
    g_autofree char *qemu_img = bl_path_qemu_img (error);
    g_autofree char *size = size_gb ? g_strdup_printf ("%uG", size_gb) : NULL;

    if (!qemu_img)
        return FALSE;
    const char *const argv[] = { qemu_img, "create", "-q", "-f",    "qcow2", "-F",
                                 "raw",    "-b",     base, overlay, size,    NULL };
    return run (argv, cancellable, error);
}

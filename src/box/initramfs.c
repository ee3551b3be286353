/* initramfs.c: writes the guest's initramfs, an uncompressed cpio (newc)
 * archive: the kernel unpacks it without a decompressor, and it is small. */
#define G_LOG_DOMAIN "boxlite"

#include "initramfs.h"

#include <archive.h>
#include <archive_entry.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <errno.h>
#include <unistd.h>

#include <boxlite/boxlite-error.h>
#include "file-identity.h"
#include "os-error.h"

/* Writing our own archive fails only for the system's reasons (a full
 * disk): libarchive's errno says which. Returns FALSE. */
static gboolean
write_fail (GError **error, struct archive *a, const char *path)
{
    int code = archive_errno (a);

    g_set_error (error, G_IO_ERROR, code > 0 ? g_io_error_from_errno (code) : G_IO_ERROR_FAILED,
                 "initramfs: cannot write %s: %s", path, archive_error_string (a));
    return FALSE;
}

static gboolean
add_entry (struct archive *a, const char *path, mode_t mode, dev_t rdev, const void *data,
           gsize len, GError **error)
{
    struct archive_entry *e = archive_entry_new ();
    gboolean ok = TRUE;

    archive_entry_set_pathname (e, path);
    archive_entry_set_mode (e, mode);
    archive_entry_set_uid (e, 0);
    archive_entry_set_gid (e, 0);
    archive_entry_set_nlink (e, S_ISDIR (mode) ? 2 : 1);
    archive_entry_set_size (e, (la_int64_t) len);
    if (rdev)
        archive_entry_set_rdev (e, rdev);
    if (archive_write_header (a, e) != ARCHIVE_OK ||
        (len && archive_write_data (a, data, len) != (la_ssize_t) len)) {
        ok = write_fail (error, a, path);
    }
    archive_entry_free (e);
    return ok;
}

/**
 * bl_initramfs_write:
 * @agent_path: the static guest agent
 * @dest_path: where the archive goes (replaced atomically)
 * @error: return location for a #GError
 *
 * Returns: %TRUE when @dest_path holds the archive
 */
gboolean
bl_initramfs_write (const char *agent_path, const char *dest_path, GError **error)
{
    g_autofree char *agent = NULL;
    gsize agent_len = 0;
    g_autofree char *tmp = g_strdup_printf ("%s.%u.tmp", dest_path, (guint) getpid ());
    const char *const dirs[] = { "dev", "proc", "sys", "newroot", "tmp", "run" };

    if (!g_file_get_contents (agent_path, &agent, &agent_len, error))
        return FALSE;
    struct archive *a = archive_write_new ();
    archive_write_set_format_cpio_newc (a);
    archive_write_add_filter_none (a);
    gboolean ok = archive_write_open_filename (a, tmp) == ARCHIVE_OK;
    if (!ok)
        write_fail (error, a, tmp);
    for (guint i = 0; ok && i < G_N_ELEMENTS (dirs); i++)
        ok = add_entry (a, dirs[i], S_IFDIR | 0755, 0, NULL, 0, error);
    ok = ok && add_entry (a, "dev/console", S_IFCHR | 0600, makedev (5, 1), NULL, 0, error);
    ok = ok && add_entry (a, "init", S_IFREG | 0755, 0, agent, agent_len, error);
    if (archive_write_close (a) != ARCHIVE_OK && ok) {
        ok = write_fail (error, a, tmp);
    }
    archive_write_free (a);
    if (ok && g_rename (tmp, dest_path) < 0)
        ok = bl_os_error (error, errno, "rename the initramfs to", dest_path);
    if (!ok)
        g_unlink (tmp);
    return ok;
}

/**
 * bl_initramfs_ensure:
 * @agent_path: the static guest agent
 * @cache_dir: where built archives are kept
 * @error: return location for a #GError
 *
 * The archive is named after the agent file's identity (device, inode,
 * size, modification and change times), as templates name the kernel and
 * QEMU: hashing the 1.2 MB agent on every start cost more than the rest of
 * the library's share of it. Replacing the agent, even with its old times
 * put back, changes its change time and so the name.
 *
 * Returns: (transfer full): the path of the initramfs for this agent binary,
 *   built the first time it is asked for
 */
char *
bl_initramfs_ensure (const char *agent_path, const char *cache_dir, GError **error)
{
    struct stat st;

    if (stat (agent_path, &st) < 0) {
        bl_os_error (error, errno, "stat", agent_path);
        return NULL;
    }
    g_autofree char *identity = bl_file_identity (&st);
    g_autofree char *key = g_strconcat (agent_path, " ", identity, NULL);
    g_autofree char *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);
    g_autofree char *name = g_strdup_printf ("initramfs-%.16s.cpio", sum);
    g_autofree char *path = g_build_filename (cache_dir, name, NULL);

    if (!g_file_test (path, G_FILE_TEST_EXISTS) && !bl_initramfs_write (agent_path, path, error))
        return NULL;
    return g_steal_pointer (&path);
}

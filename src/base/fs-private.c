/* fs-private.c: the home directory's parts are ours and no one else's.
 *
 * What lives under the home directory decides what runs: box records name
 * the QEMU command line's inputs, registries.json holds passwords, and the
 * monitors' control sockets take exec requests. A directory another user
 * owns, or one that others may write, lets them change all of that, so such
 * a directory is repaired when it is ours and refused when it is not. */
#define G_LOG_DOMAIN "boxlite"

#include "fs-private.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "os-error.h"

static gboolean
refuse (GError **error, const char *path, const char *why)
{
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "refusing to use %s: %s", path,
                 why);
    return FALSE;
}

/* Checks the entry @fd (opened with O_NOFOLLOW) is ours and clears the group
 * and other bits of its mode. */
static gboolean
own_and_close_to_others (int fd, const char *path, mode_t type, GError **error)
{
    struct stat st;

    if (fstat (fd, &st) < 0)
        return bl_os_error (error, errno, "inspect", path);
    if ((st.st_mode & S_IFMT) != type)
        return refuse (error, path,
                       type == S_IFDIR ? "it is not a directory" : "it is not a regular file");
    if (st.st_uid != geteuid ()) {
        g_autofree char *why = g_strdup_printf ("it belongs to uid %u, not to uid %u",
                                                (guint) st.st_uid, (guint) geteuid ());
        return refuse (error, path, why);
    }
    if ((st.st_mode & 077) == 0)
        return TRUE;
    if (fchmod (fd, st.st_mode & 0700) < 0)
        return bl_os_error (error, errno, "restrict the mode of", path);
    g_message ("%s was open to other users (mode %04o); now %04o", path,
               (guint) (st.st_mode & 07777), (guint) (st.st_mode & 0700));
    return TRUE;
}

gboolean
bl_private_dir_ensure (const char *path, GError **error)
{
    if (g_mkdir_with_parents (path, 0700) < 0)
        return bl_os_error (error, errno, "create", path);
    int fd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
        return refuse (error, path, "it is a symbolic link or not a directory");
    if (fd < 0)
        return bl_os_error (error, errno, "open", path);
    gboolean ok = own_and_close_to_others (fd, path, S_IFDIR, error);
    close (fd);
    return ok;
}

gboolean
bl_private_file_check (const char *path, GError **error)
{
    /* O_NONBLOCK: a FIFO planted here must not block us; nothing is read. */
    int fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return TRUE;
    if (fd < 0 && errno == ELOOP)
        return refuse (error, path, "it is a symbolic link");
    if (fd < 0)
        return bl_os_error (error, errno, "open", path);
    gboolean ok = own_and_close_to_others (fd, path, S_IFREG, error);
    close (fd);
    return ok;
}

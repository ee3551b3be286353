/* ctr-rootfs.c: the snapshot containerd hands a task (Create's rootfs
 * mounts: one bind or overlay mount, usually) mounted on BUNDLE/rootfs, as
 * runc's shim does, so the box's disk can be built from the tree there. */
#define G_LOG_DOMAIN "boxlite-ctr"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>

#include "ctr.h"
#include "os-error.h"

#define MAX_MOUNTS 8

typedef struct {
    const char *name;
    unsigned long flag;
} MountFlag;

static const MountFlag mount_flags[] = {
    { "ro", MS_RDONLY },       { "rw", 0 },
    { "bind", MS_BIND },       { "rbind", MS_BIND | MS_REC },
    { "nosuid", MS_NOSUID },   { "nodev", MS_NODEV },
    { "noexec", MS_NOEXEC },   { "relatime", MS_RELATIME },
    { "noatime", MS_NOATIME },
};

/* Splits @options into mount(2) flags and the file system's data string. */
static char *
parse_options (char **options, unsigned long *flags)
{
    g_autoptr (GPtrArray) data = g_ptr_array_new ();

    *flags = 0;
    for (char **o = options; o && *o; o++) {
        gboolean known = FALSE;
        for (gsize i = 0; i < G_N_ELEMENTS (mount_flags); i++) {
            if (g_str_equal (*o, mount_flags[i].name)) {
                *flags |= mount_flags[i].flag;
                known = TRUE;
            }
        }
        if (!known)
            g_ptr_array_add (data, *o);
    }
    g_ptr_array_add (data, NULL);
    return g_strjoinv (",", (char **) data->pdata);
}

gboolean
bl_ctr_rootfs_mount (const char *target, const BlCtrMount *mounts, gsize n_mounts, GError **error)
{
    if (n_mounts > MAX_MOUNTS) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "%zu root filesystem mounts, at most %d are taken", n_mounts, MAX_MOUNTS);
        return FALSE;
    }
    if (n_mounts && g_mkdir_with_parents (target, 0711) < 0)
        return bl_os_error (error, errno, "create", target);
    for (gsize i = 0; i < n_mounts; i++) {
        unsigned long flags = 0;
        g_autofree char *data = parse_options (mounts[i].options, &flags);
        const char *type = mounts[i].type && *mounts[i].type ? mounts[i].type : "none";
        /* A read-only bind mount takes a remount; the box copies the tree
         * onto its own disk anyway, so plain bind is enough. */
        if (flags & MS_BIND)
            flags &= ~(unsigned long) MS_RDONLY;
        if (mount (mounts[i].source, target, type, flags, *data ? data : NULL) < 0) {
            bl_os_error (error, errno, "mount the root filesystem on", target);
            g_prefix_error (error, "%s mount of %s: ", type, mounts[i].source);
            /* None of the mounts stays when one fails. */
            if (i > 0)
                bl_ctr_rootfs_unmount (target, NULL);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
bl_ctr_rootfs_unmount (const char *target, GError **error)
{
    /* Each mount of bl_ctr_rootfs_mount() stacked on the last. */
    for (int i = 0; i <= MAX_MOUNTS; i++) {
        if (umount2 (target, MNT_DETACH) == 0)
            continue;
        if (errno == EINVAL || errno == ENOENT)
            return TRUE;
        return bl_os_error (error, errno, "unmount", target);
    }
    return TRUE;
}

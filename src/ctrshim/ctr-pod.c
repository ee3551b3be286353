/* ctr-pod.c: a Kubernetes pod's containers in one box, as Kata runs them.
 *
 * The CRI creates a pod's sandbox container first, then its application
 * containers, each with annotations naming the pod (its sandbox id). `start`
 * hands them all to one shim, the sandbox's, whose box is the pod's. A
 * microvm takes no new device once it runs, so the box gets one read-only
 * share at boot (HOME/pod, seen as BL_CTR_POD_GUEST_SHARE) and each member
 * container's mounted root is bind-mounted into it when it is created:
 * read-only, nodev and nosuid on the host, with the host's owners shown
 * (an `ro,owners` volume). In the guest each member runs with that tree
 * under a writable layer of its own, as its root (BoxliteCommand's
 * root-dir and root-base-dir), so nothing it writes reaches the host. */
#define G_LOG_DOMAIN "boxlite-ctr"

#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctr.h"
#include "os-error.h"

char *
bl_ctr_pod_share_dir (const char *home)
{
    return g_build_filename (home, "pod", NULL);
}

BlCtrContainer *
bl_ctr_container_new (const char *id, const char *bundle, BlCtrPodRole role)
{
    BlCtrContainer *container = g_new0 (BlCtrContainer, 1);

    container->id = g_strdup (id);
    container->bundle = g_strdup (bundle);
    container->pod_role = role;
    container->processes =
        g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) bl_ctr_process_free);
    return container;
}

void
bl_ctr_container_free (BlCtrContainer *container)
{
    g_hash_table_unref (container->processes);
    g_free (container->id);
    g_free (container->bundle);
    g_free (container->rootfs);
    g_free (container->share);
    g_free (container);
}

gboolean
bl_ctr_pod_share (BlCtrShim *shim, BlCtrContainer *container, GError **error)
{
    g_autofree char *dir = bl_ctr_pod_share_dir (shim->home);
    g_autofree char *target = g_build_filename (dir, container->id, NULL);
    const unsigned long locked = MS_RDONLY | MS_NOSUID | MS_NODEV;

    if (mkdir (target, 0755) < 0 && errno != EEXIST)
        return bl_os_error (error, errno, "create", target);
    if (mount (container->rootfs, target, NULL, MS_BIND | MS_REC, NULL) < 0) {
        bl_os_error (error, errno, "share the root filesystem on", target);
        rmdir (target);
        return FALSE;
    }
    container->share = g_steal_pointer (&target);
    /* A bind mount takes its flags from a second, remounting call. */
    if (mount (NULL, container->share, NULL, MS_REMOUNT | MS_BIND | locked, NULL) < 0) {
        bl_os_error (error, errno, "make read-only", container->share);
        bl_ctr_pod_unshare (container, NULL);
        return FALSE;
    }
    return TRUE;
}

gboolean
bl_ctr_pod_unshare_path (const char *share, GError **error)
{
    if (!bl_ctr_rootfs_unmount (share, error))
        return FALSE;
    if (rmdir (share) < 0 && errno != ENOENT)
        return bl_os_error (error, errno, "remove", share);
    return TRUE;
}

gboolean
bl_ctr_pod_unshare (BlCtrContainer *container, GError **error)
{
    if (container->share && !bl_ctr_pod_unshare_path (container->share, error))
        return FALSE;
    g_clear_pointer (&container->share, g_free);
    return TRUE;
}

/* The home goes with a tree removal that stops at mount points: every
 * member's share is unmounted first (a shim killed before its Delete left
 * them). */
gboolean
bl_ctr_pod_unshare_all (const char *home, GError **error)
{
    g_autofree char *dir = bl_ctr_pod_share_dir (home);
    g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
    const char *name;

    while (listing && (name = g_dir_read_name (listing))) {
        g_autofree char *share = g_build_filename (dir, name, NULL);
        if (!bl_ctr_pod_unshare_path (share, error))
            return FALSE;
    }
    return TRUE;
}

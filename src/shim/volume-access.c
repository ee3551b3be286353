/* volume-access.c: asking the kernel whether QEMU's user can use a folder.
 *
 * The monitor runs as root when it runs QEMU as another user. Linux keeps
 * credentials per thread and the raw set*id system calls change only the
 * calling thread's (glibc's wrappers would change every thread of the
 * process), so a short-lived thread takes the user's groups and filesystem
 * ids, asks faccessat2(AT_EACCESS), and ends: nothing else in the monitor
 * ever runs with those credentials, and none are left to restore. */
#define G_LOG_DOMAIN "boxlite-shim"

#include "volume-access.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gio/gio.h>

#define MAX_GROUPS 256

typedef struct {
    int dir_fd;
    int mode;
    uid_t uid;
    gid_t gid;
    gid_t groups[MAX_GROUPS];
    int n_groups;
    int result; /* 0 or an errno */
} Probe;

static int
probe_access (int dir_fd, int mode)
{
    if (syscall (SYS_faccessat2, dir_fd, ".", mode, AT_EACCESS) < 0)
        return errno;
    return 0;
}

static gpointer
probe_as_user (gpointer data)
{
    Probe *probe = data;

    /* setfsuid away from 0 also clears the capabilities that would
     * override the permission bits. */
    if (syscall (SYS_setgroups, (size_t) probe->n_groups, probe->groups) < 0) {
        probe->result = errno;
        return NULL;
    }
    syscall (SYS_setfsgid, probe->gid);
    syscall (SYS_setfsuid, probe->uid);
    if ((uid_t) syscall (SYS_setfsuid, (uid_t) -1) != probe->uid) {
        probe->result = EPERM;
        return NULL;
    }
    probe->result = probe_access (probe->dir_fd, probe->mode);
    return NULL;
}

static gboolean
probe_user (Probe *probe, const char *user, GError **error)
{
    struct passwd *pw = getpwnam (user);

    if (!pw) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no user %s", user);
        return FALSE;
    }
    probe->uid = pw->pw_uid;
    probe->gid = pw->pw_gid;
    probe->n_groups = MAX_GROUPS;
    if (getgrouplist (user, pw->pw_gid, probe->groups, &probe->n_groups) < 0) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "user %s is in more than %d groups",
                     user, MAX_GROUPS);
        return FALSE;
    }
    GThread *thread = g_thread_new ("volume-access", probe_as_user, probe);
    g_thread_join (thread);
    return TRUE;
}

gboolean
bl_volume_access_check (const char *host, gboolean read_only, const char *user, GError **error)
{
    Probe probe = { .mode = R_OK | X_OK | (read_only ? 0 : W_OK) };

    probe.dir_fd = open (host, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (probe.dir_fd < 0) {
        int saved = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "volume %s: %s", host,
                     g_strerror (saved));
        return FALSE;
    }
    gboolean asked = TRUE;
    if (user)
        asked = probe_user (&probe, user, error);
    else
        probe.result = probe_access (probe.dir_fd, probe.mode);
    close (probe.dir_fd);
    if (!asked) {
        g_prefix_error (error, "volume %s: ", host);
        return FALSE;
    }
    if (probe.result == 0)
        return TRUE;
    const char *needs = read_only ? "read" : "read and write";
    const char *perms = read_only ? "rx" : "rwx";
    if (user) {
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (probe.result),
                     "volume %s: QEMU runs as the user %s, which cannot %s this folder (%s); "
                     "give it access, e.g. `setfacl -m u:%s:%s %s` (with -R and a default "
                     "entry, -d, for what is inside)%s",
                     host, user, needs, g_strerror (probe.result), user, perms, host,
                     read_only ? "" : ", or share the folder read-only (:ro) if that is enough");
    } else {
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (probe.result),
                     "volume %s: this user cannot %s the folder (%s)", host, needs,
                     g_strerror (probe.result));
    }
    return FALSE;
}

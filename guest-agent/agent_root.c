/* agent_root.c: commands that run in a root of their own, as containers
 * do in a box that holds several (a Kubernetes pod).
 *
 * The host shares each container's tree read-only; the agent lays a
 * writable layer over it once (an overlay whose upper half lives on the
 * box's own disk beside the root), so that the container's first process
 * and every later exec see one filesystem and each other's writes, and
 * nothing the container writes reaches the host. */
#include "agent.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* Whether @path is the root of a mount (its device differs from its
 * parent's): the overlay was laid already. */
static bool is_mount_point(const char *path)
{
    char parent[AGENT_ROOT_MAX + 8];
    struct stat a, b;

    snprintf(parent, sizeof parent, "%s/..", path);
    return stat(path, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

int agent_root_prepare(const char *root, const char *lower, char *err, size_t err_len)
{
    char upper[AGENT_ROOT_MAX + 16], work[AGENT_ROOT_MAX + 16];
    char data[3 * AGENT_ROOT_MAX + 64];
    struct stat st;

    if (!lower || is_mount_point(root))
        return 0;
    if (stat(lower, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "the root's lower tree %s: %s", lower,
                 errno ? strerror(errno) : "not a directory");
        return -1;
    }
    snprintf(upper, sizeof upper, "%s.rw/upper", root);
    snprintf(work, sizeof work, "%s.rw/work", root);
    snprintf(data, sizeof data, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
    int rc = agent_make_dirs(root);
    if (!rc)
        rc = agent_make_dirs(upper);
    if (!rc)
        rc = agent_make_dirs(work);
    if (!rc && mount("overlay", root, "overlay", 0, data) < 0)
        rc = -errno;
    if (rc < 0) {
        snprintf(err, err_len, "cannot make the root %s: %s", root, strerror(-rc));
        return -1;
    }
    return 0;
}

int agent_root_enter(const char *root)
{
    static const struct {
        const char *dir, *source, *type;
        unsigned long flags;
    } mounts[] = {
        { "/proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC },
        { "/sys", "sysfs", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY },
        { "/dev", "/dev", NULL, MS_BIND | MS_REC },
    };
    char path[AGENT_ROOT_MAX + 16];

    /* The mounts below are the command's alone: they go with its last
     * process and leave nothing for anyone to undo. */
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
        return -1;
    for (size_t i = 0; i < sizeof mounts / sizeof mounts[0]; i++) {
        snprintf(path, sizeof path, "%s%s", root, mounts[i].dir);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return -1;
        if (mount(mounts[i].source, path, mounts[i].type, mounts[i].flags, NULL) < 0)
            return -1;
    }
    if (chroot(root) < 0 || chdir("/") < 0)
        return -1;
    return 0;
}

/* agent_cgroup.c: the box's processes under cgroup v2 limits.
 *
 * The agent stays in the root cgroup, outside every limit, and tells the
 * OOM killer never to pick it (oom_score_adj -1000), so that a fork bomb or a
 * runaway allocation inside the box cannot take the host's link down with
 * it. Everything it runs for the host goes under /sys/fs/cgroup/box, whose
 * pids.max is the box's process cap (from the host's "identity"), each
 * exec in a child cgroup of its own: its memory.events count the OOM kills
 * among its processes, and writing its cgroup.kill ends everything the exec
 * started, wherever it moved in the process tree.
 *
 * A cgroup whose processes outlive their exec (a daemon left behind) cannot
 * be removed yet; it is remembered and removed once it is empty. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#define BOX_GROUP "box"
#define MAX_LINGERING 64

static struct {
    bool wanted;     /* PID 1: every exec must run under the limits */
    int box_fd;      /* directory of the box's cgroup, or -1 */
    char error[160]; /* why the limits are not in place */
    unsigned serial; /* names of exec cgroups */
    unsigned lingering[MAX_LINGERING];
    size_t n_lingering;
} cg = { .box_fd = -1 };

/* Writes @text into @name under the directory @dir_fd. Returns 0 or -errno. */
static int write_at(int dir_fd, const char *name, const char *text)
{
    int fd = openat(dir_fd, name, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int err = n < 0 ? errno : 0;
    close(fd);
    if (n < 0)
        return -err;
    return (size_t)n == len ? 0 : -EIO;
}

static void fail(const char *what, int err)
{
    snprintf(cg.error, sizeof cg.error, "%s: %s", what, strerror(err));
    agent_log("process limits: %s", cg.error);
}

void agent_cgroup_setup(unsigned long pids_max)
{
    char pids[32];
    int err;

    cg.wanted = true;
    snprintf(cg.error, sizeof cg.error, "not set up");
    if ((err = write_at(AT_FDCWD, "/proc/self/oom_score_adj", "-1000")) < 0)
        agent_log("oom_score_adj: %s", strerror(-err));
    if (mkdir(CGROUP_ROOT, 0755) < 0 && errno != EEXIST)
        return fail("mkdir " CGROUP_ROOT, errno);
    /* Each exec moves its child into a cgroup of its own. Without
     * favordynmods that move waits for an RCU grace period, which on one
     * vCPU under TCG was a quarter of an exec's round trip. */
    const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (mount("cgroup2", CGROUP_ROOT, "cgroup2", flags, "favordynmods") < 0 &&
        (errno != EINVAL || mount("cgroup2", CGROUP_ROOT, "cgroup2", flags, NULL) < 0))
        return fail("mount cgroup2", errno);
    int root = open(CGROUP_ROOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return fail("open " CGROUP_ROOT, errno);
    if ((err = write_at(root, "cgroup.subtree_control", "+memory +pids")) < 0) {
        close(root);
        return fail("enable memory and pids", -err);
    }
    if (mkdirat(root, BOX_GROUP, 0755) < 0 && errno != EEXIST) {
        close(root);
        return fail("mkdir " BOX_GROUP, errno);
    }
    int box = openat(root, BOX_GROUP, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(root);
    if (box < 0)
        return fail("open " BOX_GROUP, errno);
    snprintf(pids, sizeof pids, "%lu", pids_max);
    if ((err = write_at(box, "pids.max", pids)) < 0 ||
        (err = write_at(box, "cgroup.subtree_control", "+memory +pids")) < 0) {
        close(box);
        return fail("limit " BOX_GROUP, -err);
    }
    cg.box_fd = box;
    cg.error[0] = '\0';
}

static void exec_group_name(unsigned serial, char *name, size_t cap)
{
    snprintf(name, cap, "exec-%u", serial);
}

/* Removes exec cgroups left behind earlier that have emptied since. */
static void sweep_lingering(void)
{
    char name[32];
    size_t kept = 0;

    for (size_t i = 0; i < cg.n_lingering; i++) {
        exec_group_name(cg.lingering[i], name, sizeof name);
        if (unlinkat(cg.box_fd, name, AT_REMOVEDIR) < 0 && errno == EBUSY)
            cg.lingering[kept++] = cg.lingering[i];
    }
    cg.n_lingering = kept;
}

int agent_cgroup_create(int *dir_fd, char *err, size_t err_len)
{
    char name[32];

    *dir_fd = -1;
    if (!cg.wanted)
        return 0;
    if (cg.box_fd < 0) {
        snprintf(err, err_len, "the box's process limits are not in place (%s)", cg.error);
        return -1;
    }
    sweep_lingering();
    unsigned serial = ++cg.serial;
    exec_group_name(serial, name, sizeof name);
    if (mkdirat(cg.box_fd, name, 0755) < 0) {
        snprintf(err, err_len, "cannot make a cgroup for the command: %s", strerror(errno));
        return -1;
    }
    *dir_fd = openat(cg.box_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dir_fd < 0) {
        snprintf(err, err_len, "cannot open the command's cgroup: %s", strerror(errno));
        unlinkat(cg.box_fd, name, AT_REMOVEDIR);
        return -1;
    }
    return (int)serial;
}

int agent_cgroup_join(int dir_fd)
{
    if (dir_fd < 0)
        return 0;
    int err = write_at(dir_fd, "cgroup.procs", "0");
    if (err < 0)
        return err;
    /* The agent's own immunity from the OOM killer is inherited: give it up. */
    return write_at(AT_FDCWD, "/proc/self/oom_score_adj", "0");
}

void agent_cgroup_kill(int dir_fd)
{
    int err;
    if (dir_fd >= 0 && (err = write_at(dir_fd, "cgroup.kill", "1")) < 0)
        agent_log("cgroup.kill: %s", strerror(-err));
}

bool agent_cgroup_oom_killed(int dir_fd)
{
    char buf[512];

    if (dir_fd < 0)
        return false;
    int fd = openat(dir_fd, "memory.events", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    for (char *line = buf; line;) {
        unsigned long long count;
        if (sscanf(line, "oom_kill %llu", &count) == 1)
            return count > 0;
        char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

void agent_cgroup_release(int *dir_fd, int serial)
{
    char name[32];

    if (*dir_fd < 0)
        return;
    close(*dir_fd);
    *dir_fd = -1;
    exec_group_name((unsigned)serial, name, sizeof name);
    if (unlinkat(cg.box_fd, name, AT_REMOVEDIR) == 0 || errno != EBUSY)
        return;
    if (cg.n_lingering < MAX_LINGERING)
        cg.lingering[cg.n_lingering++] = (unsigned)serial;
}

/* agent_freeze.c: the session requests "freeze" and "thaw": the guest's
 * writable block-backed filesystems held still while the host takes a
 * snapshot of the box's disk.
 *
 * FIFREEZE flushes a filesystem to its device and blocks every writer until
 * FITHAW, so the host sees a clean filesystem on the disk. A guest stuck
 * frozen would be a dead box, so the freeze carries its own end: the loop
 * thaws by itself at the deadline, when the link to the host is lost and
 * before a shutdown, whatever the host does. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Reads /proc/self/mountinfo into @buf (at most @cap - 1 bytes). */
static int read_mountinfo(char *buf, size_t cap)
{
    int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    size_t len = 0;

    if (fd < 0)
        return -errno;
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n < 0 ? -errno : 0;
            close(fd);
            if (err)
                return err;
            break;
        }
        len += (size_t)n;
        if (len == cap - 1) {
            close(fd);
            return -EFBIG;
        }
    }
    buf[len] = '\0';
    return 0;
}

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
    char *out = s;

    for (char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
            p[3] >= '0' && p[3] <= '7') {
            *out++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        } else {
            *out++ = *p;
        }
    }
    *out = '\0';
}

/* From one mountinfo line ("ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ..."):
 * the mount point, when the mount is writable and backed by a block device
 * (anonymous devices, such as proc, tmpfs and 9p, have major 0). */
static char *writable_block_mount(char *line, unsigned *major, unsigned *minor)
{
    char *fields[6];
    char *save = NULL;
    char *tok = strtok_r(line, " ", &save);

    for (int i = 0; i < 6; i++) {
        if (!tok)
            return NULL;
        fields[i] = tok;
        tok = strtok_r(NULL, " ", &save);
    }
    if (sscanf(fields[2], "%u:%u", major, minor) != 2 || *major == 0)
        return NULL;
    if (strncmp(fields[5], "rw", 2) != 0 || (fields[5][2] != ',' && fields[5][2] != '\0'))
        return NULL;
    unescape(fields[4]);
    return fields[4];
}

bool agent_freeze_active(const struct agent_freeze *fz)
{
    return fz->n > 0;
}

/* Thaws in the reverse order of the freeze; the number thawed. */
static size_t thaw_all(struct agent_freeze *fz)
{
    size_t thawed = 0;

    while (fz->n > 0) {
        int fd = fz->fds[--fz->n];
        if (ioctl(fd, FITHAW, 0) == 0)
            thawed++;
        else
            agent_log("thaw: %s", strerror(errno));
        close(fd);
    }
    fz->deadline_ms = 0;
    return thawed;
}

/* Whether the device @major:@minor is frozen already (bind mounts). */
static bool seen(const struct agent_freeze *fz, unsigned major, unsigned minor)
{
    for (size_t i = 0; i < fz->n; i++) {
        if (fz->devs[i][0] == major && fz->devs[i][1] == minor)
            return true;
    }
    return false;
}

/* Freezes every writable block-backed mount. Returns 0, or -errno with
 * @what naming the mount that failed; nothing is left frozen then. */
static int freeze_all(struct agent_freeze *fz, char *what, size_t what_len)
{
    static char info[64 * 1024];
    char *save = NULL;
    int rc = read_mountinfo(info, sizeof info);

    if (rc < 0) {
        snprintf(what, what_len, "/proc/self/mountinfo");
        return rc;
    }
    for (char *line = strtok_r(info, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        unsigned major, minor;
        char *path = writable_block_mount(line, &major, &minor);
        if (!path || seen(fz, major, minor))
            continue;
        if (fz->n == AGENT_FREEZE_MAX) {
            snprintf(what, what_len, "%.200s (more than %d filesystems)", path, AGENT_FREEZE_MAX);
            thaw_all(fz);
            return -E2BIG;
        }
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || ioctl(fd, FIFREEZE, 0) < 0) {
            int err = errno;
            if (fd >= 0)
                close(fd);
            snprintf(what, what_len, "%.200s", path);
            thaw_all(fz);
            return -err;
        }
        fz->devs[fz->n][0] = major;
        fz->devs[fz->n][1] = minor;
        fz->fds[fz->n++] = fd;
    }
    return 0;
}

void agent_freeze_request(struct agent_freeze *fz, struct agent_link *link,
                          const struct agent_json *args)
{
    const struct agent_json *t = agent_json_get(args, "timeout_ms");
    long long timeout = AGENT_FREEZE_MAX_MS;
    char what[256] = "";
    char desc[400];

    if (t && (t->type != AGENT_JSON_INT || t->integer < 1 || t->integer > AGENT_FREEZE_MAX_MS)) {
        snprintf(desc, sizeof desc, "'timeout_ms' must be an integer from 1 to %d",
                 AGENT_FREEZE_MAX_MS);
        agent_link_queue_error(link, 0, "InvalidArgument", desc);
        return;
    }
    if (t)
        timeout = t->integer;
    /* In --fd mode the agent runs on the host: freezing there would hold
     * the host's own filesystems. */
    if (!agent_is_pid1) {
        agent_link_queue_error(link, 0, "Failed", "the agent is not PID 1 of a box");
        return;
    }
    if (agent_freeze_active(fz)) {
        agent_link_queue_error(link, 0, "Failed", "the filesystems are frozen already");
        return;
    }
    int rc = freeze_all(fz, what, sizeof what);
    if (rc < 0) {
        snprintf(desc, sizeof desc, "cannot freeze %s: %s", what, strerror(-rc));
        agent_link_queue_error(link, 0, "Failed", desc);
        return;
    }
    fz->deadline_ms = agent_now_ms() + timeout;
    fz->expired = false;
    struct agent_buf b = { 0 };
    agent_buf_addf(&b, "{\"return\":{\"frozen\":%zu}}", fz->n);
    agent_link_queue_json(link, 0, &b);
    agent_buf_free(&b);
}

void agent_thaw_request(struct agent_freeze *fz, struct agent_link *link)
{
    bool expired = fz->expired;
    size_t thawed = thaw_all(fz);
    struct agent_buf b = { 0 };

    fz->expired = false;
    agent_buf_addf(&b, "{\"return\":{\"thawed\":%zu,\"expired\":%s}}", thawed,
                   expired ? "true" : "false");
    agent_link_queue_json(link, 0, &b);
    agent_buf_free(&b);
}

int agent_freeze_next_timeout(const struct agent_freeze *fz, int64_t now_ms)
{
    if (!agent_freeze_active(fz))
        return -1;
    return fz->deadline_ms > now_ms ? (int)(fz->deadline_ms - now_ms) : 0;
}

void agent_freeze_tick(struct agent_freeze *fz, int64_t now_ms)
{
    if (!agent_freeze_active(fz) || now_ms < fz->deadline_ms)
        return;
    agent_log("no thaw came in time: thawing the filesystems");
    thaw_all(fz);
    fz->expired = true;
}

void agent_freeze_end(struct agent_freeze *fz)
{
    if (agent_freeze_active(fz)) {
        agent_log("thawing the filesystems: the freeze ends with the link");
        thaw_all(fz);
    }
    fz->expired = false;
}

/* agent_volumes.c: mounting the box's host folders (session "mount").
 *
 * Each volume is a virtio-9p device whose mount tag the host chose; the
 * host has already made QEMU refuse writes to a read-only one, and the
 * guest's read-only mount only says so early. Every volume is checked
 * before any is mounted, and the first failure is the answer: the host
 * then fails the start, so no command ever sees an empty folder where a
 * volume should be. */
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#define MAX_VOLUMES 16
#define MAX_PATH 1024
#define TAG_PREFIX "boxlite"
/* msize: the largest message the guest's virtio transport takes (it lowers
 * anything larger to this). cache=mmap: nothing is cached, so host and guest
 * see each other's writes at once, except the pages of a shared writable
 * mmap, which 9p cannot offer without a page cache. */
#define MOUNT_OPTIONS "trans=virtio,version=9p2000.L,access=client,msize=512000,cache=mmap"

struct volume {
    const char *tag;
    const char *path;
    bool read_only;
};

static bool tag_valid(const char *tag)
{
    size_t prefix = strlen(TAG_PREFIX);
    size_t len = strlen(tag);

    if (strncmp(tag, TAG_PREFIX, prefix) != 0 || len == prefix || len > prefix + 2)
        return false;
    for (const char *p = tag + prefix; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* Absolute, not "/", bounded, no ".." component. */
static bool path_valid(const char *path)
{
    size_t len = strlen(path);

    if (path[0] != '/' || len > MAX_PATH || strspn(path, "/") == len)
        return false;
    for (const char *p = path; (p = strstr(p, "..")); p += 2) {
        bool starts = p == path || p[-1] == '/';
        bool ends = p[2] == '\0' || p[2] == '/';
        if (starts && ends)
            return false;
    }
    return true;
}

static int parse_volumes(const struct agent_json *args, struct volume *out, size_t *n, char *err,
                         size_t err_len)
{
    const struct agent_json *list = agent_json_get(args, "volumes");

    if (!list || list->type != AGENT_JSON_ARRAY || list->n > MAX_VOLUMES) {
        snprintf(err, err_len, "'volumes' must be a list of at most %d volumes", MAX_VOLUMES);
        return -1;
    }
    for (size_t i = 0; i < list->n; i++) {
        const struct agent_json *v = list->items[i];
        const struct agent_json *ro = agent_json_get(v, "read_only");
        out[i].tag = agent_json_get_str(v, "tag");
        out[i].path = agent_json_get_str(v, "path");
        if (v->type != AGENT_JSON_OBJECT || !out[i].tag || !tag_valid(out[i].tag) || !out[i].path ||
            !path_valid(out[i].path) || (ro && ro->type != AGENT_JSON_BOOL)) {
            snprintf(err, err_len,
                     "volume %zu: needs a tag " TAG_PREFIX "N, an absolute path "
                     "without '..' and an optional boolean read_only",
                     i);
            return -1;
        }
        out[i].read_only = ro && ro->boolean;
    }
    *n = list->n;
    return 0;
}

int agent_make_dirs(const char *path)
{
    char buf[4096];

    if (strlen(path) >= sizeof buf)
        return -ENAMETOOLONG;

    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = saved;
        if (!saved)
            return 0;
    }
}

static int mount_one(const struct volume *v, char *err, size_t err_len)
{
    int rc = agent_make_dirs(v->path);
    if (rc < 0) {
        snprintf(err, err_len, "cannot make the mount point %s: %s", v->path, strerror(-rc));
        return -1;
    }
    unsigned long flags = v->read_only ? MS_RDONLY : 0;
    if (mount(v->tag, v->path, "9p", flags, MOUNT_OPTIONS) < 0) {
        snprintf(err, err_len, "mount %s on %s: %s", v->tag, v->path, strerror(errno));
        return -1;
    }
    agent_log("mounted %s on %s%s", v->tag, v->path, v->read_only ? " (read-only)" : "");
    return 0;
}

void agent_volumes_mount(struct agent_link *link, const struct agent_json *args)
{
    struct volume volumes[MAX_VOLUMES];
    size_t n = 0;
    char err[MAX_PATH + 200];

    if (parse_volumes(args, volumes, &n, err, sizeof err) < 0) {
        agent_link_queue_error(link, 0, "InvalidArgument", err);
        return;
    }
    if (!agent_is_pid1) {
        agent_link_queue_error(link, 0, "Failed", "volumes are mounted only by the box's PID 1");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (mount_one(&volumes[i], err, sizeof err) < 0) {
            agent_log("%s", err);
            agent_link_queue_error(link, 0, "Failed", err);
            return;
        }
    }
    struct agent_buf b = { 0 };
    agent_buf_add_str(&b, "{\"return\":{}}");
    agent_link_queue_json(link, 0, &b);
    agent_buf_free(&b);
}

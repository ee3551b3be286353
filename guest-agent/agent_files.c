/* agent_files.c: files copied out of and into the box as tar streams.
 *
 * Each copy runs in a worker process (agent_exec_start_worker()), so the
 * agent's loop never blocks on a disk: the worker's stdout or stdin is the
 * channel, moved with the same credit as a command's.
 *
 * Copy-out walks with O_NOFOLLOW and trusts only fstat() of what it opened:
 * a directory swapped for a symlink during the walk is sent as a link (or
 * skipped), never followed. Copy-in resolves every entry's parent beneath
 * the destination with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or a
 * walk of O_NOFOLLOW opens on a kernel without it: a link already in the
 * box cannot redirect an entry, and "..", absolute names and entries under
 * a link are refused. Where a copy lands follows the container tools' cp:
 * into an existing directory, or under the destination's own name. */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_DEPTH 256
#define MAX_PATH_ARG 4096

struct copy_request {
    char path[MAX_PATH_ARG + 1];
    bool raw;    /* copy_in: the stream is the caller's tar, the path a directory */
    bool owners; /* copy_in: keep the archive's owners */
    bool exact;  /* copy_in: the path is the file itself, never a directory */
};

/* Reports "Class\tdesc" on stderr for the exit event and returns 1. */
static int AGENT_PRINTF(2, 3) report(const char *klass, const char *fmt, ...)
{
    char msg[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dprintf(2, "%s\t%s\n", klass, msg);
    return 1;
}

static const char *errno_class(int e)
{
    if (e == ENOENT || e == ENOTDIR)
        return "NotFound";
    if (e == EACCES || e == EPERM || e == EROFS)
        return "PermissionDenied";
    if (e == ENOSPC || e == EDQUOT)
        return "NoSpace";
    return "Failed";
}

static int report_errno(const char *what, const char *name)
{
    int e = errno;
    return report(errno_class(e), "cannot %s %s: %s", what, name, strerror(e));
}

static int worker_copy_out(void *arg)
{
    const struct copy_request *req = arg;
    return agent_files_copy_out(req->path);
}

static int worker_copy_in(void *arg)
{
    const struct copy_request *req = arg;
    return agent_files_copy_in(req->path, req->raw, req->exact, req->owners);
}

void agent_files_start(struct agent_exec_state *st, struct agent_link *link, uint32_t channel,
                       const char *cmd, const struct agent_json *args)
{
    static struct copy_request req;
    const char *path = agent_json_get_str(args, "path");
    const struct agent_json *raw = agent_json_get(args, "raw");
    const struct agent_json *owners = agent_json_get(args, "owners");
    const struct agent_json *exact = agent_json_get(args, "exact");

    if (!path || path[0] != '/' || strlen(path) > MAX_PATH_ARG) {
        agent_link_queue_error(link, channel, "InvalidArgument",
                               "copy: path must be an absolute path");
        return;
    }
    if ((raw && raw->type != AGENT_JSON_BOOL) || (owners && owners->type != AGENT_JSON_BOOL) ||
        (exact && exact->type != AGENT_JSON_BOOL)) {
        agent_link_queue_error(link, channel, "InvalidArgument",
                               "copy: raw, exact and owners must be booleans");
        return;
    }
    memset(&req, 0, sizeof req);
    memcpy(req.path, path, strlen(path) + 1);
    req.raw = raw && raw->boolean;
    req.owners = owners && owners->boolean;
    req.exact = exact && exact->boolean;
    /* The child gets its own copy of @req with the fork. */
    if (strcmp(cmd, "copy_out") == 0)
        agent_exec_start_worker(st, link, channel, false, worker_copy_out, &req);
    else
        agent_exec_start_worker(st, link, channel, true, worker_copy_in, &req);
}

/* ---- copy-out ----------------------------------------------------------- */

struct walk {
    struct agent_tar_out out;
    char path[AGENT_TAR_MAX_NAME + 2]; /* the archive name being sent */
    uint8_t buf[64 * 1024];
};

static void entry_from_stat(struct agent_tar_entry *e, const struct stat *st)
{
    e->mode = st->st_mode & 07777;
    e->uid = st->st_uid;
    e->gid = st->st_gid;
    e->mtime = st->st_mtim.tv_sec;
    e->mtime_nsec = st->st_mtim.tv_nsec;
}

/* Sends the regular file open at @fd; exactly st_size bytes, whatever the
 * file does meanwhile, so the archive stays well formed. */
static int send_file(struct walk *w, int fd, const struct stat *st, struct agent_tar_entry *e)
{
    uint64_t left = (uint64_t)st->st_size;

    e->type = AGENT_TAR_REG;
    e->size = left;
    if (agent_tar_write_header(&w->out, e) < 0)
        return -1;
    while (left > 0) {
        size_t want = left < sizeof w->buf ? (size_t)left : sizeof w->buf;
        ssize_t n = read(fd, w->buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) { /* shrunk or unreadable: zeros keep the size */
            memset(w->buf, 0, want);
            n = (ssize_t)want;
        }
        if (agent_tar_write_data(&w->out, w->buf, (size_t)n) < 0)
            return -1;
        left -= (uint64_t)n;
    }
    return agent_tar_pad(&w->out, e->size);
}

static int send_tree(struct walk *w, int dirfd, const char *name, int depth);

static int send_dir_children(struct walk *w, int fd, int depth)
{
    int list_fd = dup(fd);
    DIR *dir = list_fd < 0 ? NULL : fdopendir(list_fd);
    struct dirent *de;
    size_t base = strlen(w->path);
    int rc = 0;

    if (!dir) {
        if (list_fd >= 0)
            close(list_fd);
        return report_errno("list", w->path);
    }
    while (rc == 0 && (de = readdir(dir))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        size_t nlen = strlen(de->d_name);
        if (base + 1 + nlen > AGENT_TAR_MAX_NAME) {
            rc = report("Failed", "a name below %s is longer than %d bytes", w->path,
                        AGENT_TAR_MAX_NAME);
            break;
        }
        w->path[base] = '/';
        memcpy(w->path + base + 1, de->d_name, nlen + 1);
        rc = send_tree(w, fd, de->d_name, depth + 1);
        w->path[base] = '\0';
    }
    closedir(dir);
    return rc;
}

/* Sends @name in @dirfd as w->path, and what is below it. Returns 0, -1
 * when the stream broke (the host went away), or 1 after a report. */
static int send_tree(struct walk *w, int dirfd, const char *name, int depth)
{
    struct agent_tar_entry e;
    struct stat st;

    if (depth > MAX_DEPTH)
        return report("Failed", "%s is nested deeper than %d levels", w->path, MAX_DEPTH);
    memset(&e, 0, sizeof e);
    memcpy(e.name, w->path, strlen(w->path) + 1);
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return depth == 0 ? report_errno("read", w->path) : 0; /* gone meanwhile */
    if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlinkat(dirfd, name, e.link, AGENT_TAR_MAX_NAME);
        if (n <= 0)
            return 0; /* replaced meanwhile: no longer a link */
        e.link[n] = '\0';
        entry_from_stat(&e, &st);
        e.type = AGENT_TAR_SYMLINK;
        return agent_tar_write_header(&w->out, &e);
    }
    if (S_ISFIFO(st.st_mode)) {
        entry_from_stat(&e, &st);
        e.type = AGENT_TAR_FIFO;
        return agent_tar_write_header(&w->out, &e);
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return 0; /* devices and sockets are not copied */

    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ELOOP)
        return send_tree(w, dirfd, name, depth); /* became a link: send it as one */
    if (fd < 0)
        return depth == 0 || errno != ENOENT ? report_errno("open", w->path) : 0;
    int rc = 0;
    /* What was opened is what counts, not what the name showed before. */
    if (fstat(fd, &st) < 0) {
        rc = report_errno("read", w->path);
    } else if (S_ISREG(st.st_mode)) {
        entry_from_stat(&e, &st);
        rc = send_file(w, fd, &st, &e);
    } else if (S_ISDIR(st.st_mode)) {
        entry_from_stat(&e, &st);
        e.type = AGENT_TAR_DIR;
        rc = agent_tar_write_header(&w->out, &e);
        if (rc == 0)
            rc = send_dir_children(w, fd, depth);
    }
    close(fd);
    return rc;
}

int agent_files_copy_out(const char *path)
{
    static struct walk w;
    char dir[MAX_PATH_ARG + 1];
    size_t len = strlen(path);
    bool contents = len >= 2 && strcmp(path + len - 2, "/.") == 0;
    bool want_dir = contents || path[len - 1] == '/';
    const char *leaf = ".";

    w.out.fd = 1;
    memcpy(dir, path, len + 1);
    /* Drop trailing "/" and "/." to find the source itself. */
    while (len > 1 && (dir[len - 1] == '/' || (dir[len - 1] == '.' && dir[len - 2] == '/')))
        dir[--len] = '\0';
    char *slash = strrchr(dir, '/');
    const char *parent = "/";
    if (slash[1]) { /* not the root itself */
        leaf = slash + 1;
        *slash = '\0';
        if (slash != dir)
            parent = dir;
    }
    int dirfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return report_errno("open", path);
    struct stat st;
    if (fstatat(dirfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        close(dirfd);
        return report_errno("copy", path);
    }
    if (want_dir && !S_ISDIR(st.st_mode)) {
        close(dirfd);
        return report("NotADirectory", "%s is not a directory", path);
    }
    /* "SRC/." sends the directory's contents: its entry is named ".". */
    snprintf(w.path, sizeof w.path, "%s", contents ? "." : leaf);
    int rc = send_tree(&w, dirfd, leaf, 0);
    close(dirfd);
    if (rc == 0)
        rc = agent_tar_finish(&w.out);
    if (rc < 0)
        return report("Failed", "writing the archive failed: %s", strerror(errno));
    return rc;
}

/* ---- copy-in ------------------------------------------------------------ */

struct dir_fixup {
    char *path;
    uint32_t mode;
    struct timespec times[2];
};

struct extract {
    struct agent_tar_in in;
    int root;           /* where entries land */
    const char *rename; /* the top entry's new name, or NULL */
    char top[AGENT_TAR_MAX_NAME + 1];
    bool top_known;  /* the first entry was seen */
    bool top_is_dot; /* ... and it was "." */
    bool seen_first;
    bool dest_is_file; /* the destination exists and is not a directory */
    bool dest_slash;   /* the destination was named with a trailing '/' */
    bool owners;
    const char *dest;
    struct dir_fixup *fixups;
    size_t n_fixups, cap_fixups;
    uint8_t buf[64 * 1024];
};

static ssize_t read_stdin(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    for (;;) {
        ssize_t n = read(0, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        return n;
    }
}

/* Opens directory @rel beneath @root without following any symlink;
 * missing directories are made when @create. Returns a descriptor, or -1
 * with errno set (ELOOP: a symlink on the way). */
static int open_beneath(int root, const char *rel, bool create)
{
    struct open_how how = {
        .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    int fd = (int)syscall(SYS_openat2, root, rel[0] ? rel : ".", &how, sizeof how);
    if (fd >= 0 || (errno != ENOSYS && !(errno == ENOENT && create)))
        return fd;
    /* One component at a time, each opened with O_NOFOLLOW. */
    char copy[AGENT_TAR_MAX_NAME + 1];
    snprintf(copy, sizeof copy, "%s", rel);
    fd = dup(root);
    for (char *save = NULL, *c = strtok_r(copy, "/", &save); fd >= 0 && c;
         c = strtok_r(NULL, "/", &save)) {
        int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && create && mkdirat(fd, c, 0755) == 0)
            next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOTDIR) {
            struct stat st;
            if (fstatat(fd, c, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                errno = ELOOP;
        }
        int saved = errno;
        close(fd);
        errno = saved;
        fd = next;
    }
    return fd;
}

/* Normalises an archive name into @out ("a/b/c", "" for the top itself).
 * With a rename, the archive's top entry takes the destination's name: a
 * named top is replaced, a "." top (SRC/.) gets the name put before it.
 * Returns 0, or 1 after a report. */
static int map_name(struct extract *x, const char *name, char *out, size_t cap)
{
    char copy[AGENT_TAR_MAX_NAME + 1];
    size_t len = 0;
    bool first = true;

    if (name[0] == '/')
        return report("InvalidArgument", "archive entry %.200s has an absolute name", name);
    snprintf(copy, sizeof copy, "%s", name);
    out[0] = '\0';
    if (x->rename && x->top_known && x->top_is_dot) {
        len = strlen(x->rename);
        memcpy(out, x->rename, len + 1);
        first = false;
    }
    for (char *save = NULL, *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (strcmp(c, ".") == 0)
            continue;
        if (strcmp(c, "..") == 0)
            return report("InvalidArgument", "archive entry %.200s climbs with ..", name);
        if (first && x->rename) {
            if (!x->top_known)
                snprintf(x->top, sizeof x->top, "%s", c);
            else if (strcmp(x->top, c) != 0)
                return report("InvalidArgument",
                              "archive entry %.200s is not below the copied %.200s", name, x->top);
            x->top_known = true;
            c = (char *)x->rename;
        }
        size_t clen = strlen(c);
        if (len + clen + 2 > cap)
            return report("InvalidArgument", "archive entry %.200s is too long", name);
        if (len)
            out[len++] = '/';
        memcpy(out + len, c, clen + 1);
        len += clen;
        first = false;
    }
    if (x->rename && !x->top_known) {
        /* The first entry is "." itself: it becomes the destination. */
        x->top_known = x->top_is_dot = true;
        snprintf(out, cap, "%s", x->rename);
    }
    return 0;
}

static void split_leaf(char *rel, char **parent, char **leaf)
{
    char *slash = strrchr(rel, '/');
    if (slash) {
        *slash = '\0';
        *parent = rel;
        *leaf = slash + 1;
    } else {
        *parent = (char *)"";
        *leaf = rel;
    }
}

/* Removes what stands at @leaf unless it is a directory and @keep_dir. */
static int clear_leaf(int dir, const char *leaf, bool keep_dir, bool *is_dir)
{
    struct stat st;
    *is_dir = false;
    if (fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(st.st_mode)) {
        *is_dir = true;
        if (keep_dir)
            return 0;
        errno = EISDIR;
        return -1;
    }
    return unlinkat(dir, leaf, 0);
}

static int write_data(struct extract *x, int fd, const char *rel)
{
    for (;;) {
        ssize_t n = agent_tar_read_data(&x->in, x->buf, sizeof x->buf);
        if (n == 0)
            return 0;
        if (n < 0)
            return report("InvalidArgument", "the archive ends inside %.200s", rel);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, x->buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                return report_errno("write", rel);
            off += w;
        }
    }
}

static int add_fixup(struct extract *x, const char *rel, const struct agent_tar_entry *e)
{
    if (x->n_fixups == x->cap_fixups) {
        x->cap_fixups = x->cap_fixups ? x->cap_fixups * 2 : 64;
        x->fixups = realloc(x->fixups, x->cap_fixups * sizeof *x->fixups);
        if (!x->fixups)
            abort();
    }
    struct dir_fixup *f = &x->fixups[x->n_fixups++];
    f->path = strdup(rel);
    if (!f->path)
        abort();
    f->mode = e->mode;
    f->times[0].tv_sec = f->times[1].tv_sec = e->mtime;
    f->times[0].tv_nsec = f->times[1].tv_nsec = e->mtime_nsec;
    return 0;
}

static int set_owner_times(struct extract *x, int dir, const char *leaf,
                           const struct agent_tar_entry *e, const char *rel)
{
    struct timespec times[2] = { { e->mtime, e->mtime_nsec }, { e->mtime, e->mtime_nsec } };
    if (x->owners && fchownat(dir, leaf, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
        return report_errno("set the owner of", rel);
    if (e->type != AGENT_TAR_SYMLINK && fchmodat(dir, leaf, e->mode, 0) < 0)
        return report_errno("set the mode of", rel);
    if (utimensat(dir, leaf, times, AT_SYMLINK_NOFOLLOW) < 0)
        return report_errno("set the times of", rel);
    return 0;
}

static int extract_hardlink(struct extract *x, int dir, const char *leaf,
                            const struct agent_tar_entry *e, const char *rel)
{
    char target[AGENT_TAR_MAX_NAME + 1];
    char *tparent, *tleaf;
    bool is_dir;

    if (map_name(x, e->link, target, sizeof target))
        return 1;
    split_leaf(target, &tparent, &tleaf);
    int tdir = open_beneath(x->root, tparent, false);
    if (tdir < 0)
        return report("InvalidArgument", "hard link %.200s: its target %.200s is not in the copy",
                      rel, e->link);
    int rc = 0;
    if (clear_leaf(dir, leaf, false, &is_dir) < 0 || linkat(tdir, tleaf, dir, leaf, 0) < 0)
        rc = report_errno("link", rel);
    close(tdir);
    return rc;
}

static int extract_entry(struct extract *x, struct agent_tar_entry *e)
{
    char rel[AGENT_TAR_MAX_NAME + 1];
    char *parent, *leaf;
    bool is_dir;

    if (map_name(x, e->name, rel, sizeof rel))
        return 1;
    if (!x->seen_first && x->rename) {
        x->seen_first = true;
        bool under = strchr(rel, '/') != NULL;
        if (x->dest_is_file && (e->type == AGENT_TAR_DIR || under))
            return report("InvalidArgument", "cannot copy a directory onto the file %.200s",
                          x->dest);
        if (x->dest_slash && e->type != AGENT_TAR_DIR && !under)
            return report(x->dest_is_file ? "NotADirectory" : "NotFound",
                          "%.200s is not a directory", x->dest);
    }
    if (!rel[0])
        return 0; /* the destination directory itself: left as it is */
    char whole[AGENT_TAR_MAX_NAME + 1];
    memcpy(whole, rel, strlen(rel) + 1);
    split_leaf(rel, &parent, &leaf);
    int dir = open_beneath(x->root, parent, true);
    if (dir < 0) {
        if (errno == ELOOP || errno == EXDEV || errno == ENOTDIR)
            return report("InvalidArgument", "archive entry %.200s lies under a symbolic link",
                          e->name);
        return report_errno("open the directory of", rel);
    }
    int rc = 0;
    switch (e->type) {
    case AGENT_TAR_DIR:
        if (clear_leaf(dir, leaf, true, &is_dir) < 0 || (!is_dir && mkdirat(dir, leaf, 0700) < 0))
            rc = report_errno("create the directory", whole);
        else if (x->owners && fchownat(dir, leaf, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
            rc = report_errno("set the owner of", whole);
        else
            rc = add_fixup(x, whole, e);
        break;
    case AGENT_TAR_REG: {
        int fd = -1;
        if (clear_leaf(dir, leaf, false, &is_dir) < 0 ||
            (fd = openat(dir, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) <
                0) {
            rc = report_errno("create", whole);
            break;
        }
        rc = write_data(x, fd, whole);
        close(fd);
        if (rc == 0)
            rc = set_owner_times(x, dir, leaf, e, whole);
        break;
    }
    case AGENT_TAR_SYMLINK:
        if (clear_leaf(dir, leaf, false, &is_dir) < 0 || symlinkat(e->link, dir, leaf) < 0)
            rc = report_errno("create the link", whole);
        else
            rc = set_owner_times(x, dir, leaf, e, whole);
        break;
    case AGENT_TAR_LINK:
        rc = extract_hardlink(x, dir, leaf, e, whole);
        break;
    default: {
        mode_t type = e->type == AGENT_TAR_CHR   ? S_IFCHR
                      : e->type == AGENT_TAR_BLK ? S_IFBLK
                                                 : S_IFIFO;
        if (clear_leaf(dir, leaf, false, &is_dir) < 0 ||
            mknodat(dir, leaf, type | 0600, makedev(e->dev_major, e->dev_minor)) < 0)
            rc = report_errno("create", whole);
        else
            rc = set_owner_times(x, dir, leaf, e, whole);
        break;
    }
    }
    close(dir);
    return rc;
}

/* Directories get their mode and times once everything below is written,
 * the deepest first. */
static int apply_fixups(struct extract *x)
{
    int rc = 0;
    for (size_t i = x->n_fixups; i > 0; i--) {
        struct dir_fixup *f = &x->fixups[i - 1];
        int fd = rc == 0 ? open_beneath(x->root, f->path, false) : -1;
        if (rc == 0 && fd < 0)
            rc = report_errno("reopen the directory", f->path);
        if (fd >= 0) {
            if (fchmod(fd, f->mode) < 0 || futimens(fd, f->times) < 0)
                rc = report_errno("set the mode and times of", f->path);
            close(fd);
        }
        free(f->path);
    }
    free(x->fixups);
    return rc;
}

/* Where the archive goes: into @path when it is a directory, else into its
 * parent under @path's name. Returns 0, or 1 after a report. */
static int open_destination(struct extract *x, const char *path, bool raw, bool exact, char *leaf,
                            size_t cap)
{
    struct stat st;
    size_t len = strlen(path);

    x->dest = path;
    x->dest_slash = path[len - 1] == '/';
    bool exists = stat(path, &st) == 0;
    if (!exists && errno != ENOENT && errno != ENOTDIR)
        return report_errno("look up", path);
    if (exists && S_ISDIR(st.st_mode) && exact)
        return report("InvalidArgument", "%.200s is a directory", path);
    if (exists && S_ISDIR(st.st_mode)) {
        x->root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return x->root < 0 ? report_errno("open", path) : 0;
    }
    if (raw)
        return report(exists ? "NotADirectory" : "NotFound", "%.200s is not a directory", path);
    x->dest_is_file = exists;
    char copy[MAX_PATH_ARG + 1];
    snprintf(copy, sizeof copy, "%s", path);
    while (len > 1 && copy[len - 1] == '/')
        copy[--len] = '\0';
    char *slash = strrchr(copy, '/');
    snprintf(leaf, cap, "%s", slash + 1);
    if (!leaf[0] || strcmp(leaf, ".") == 0 || strcmp(leaf, "..") == 0)
        return report("InvalidArgument", "%.200s names no file", path);
    slash[slash == copy ? 1 : 0] = '\0';
    x->root = open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (x->root < 0)
        return report_errno("open the directory", copy);
    x->rename = leaf;
    return 0;
}

int agent_files_copy_in(const char *path, bool raw, bool exact, bool owners)
{
    static struct extract x;
    static struct agent_tar_entry e;
    char leaf[MAX_PATH_ARG + 1];
    char err[256];
    int rc;

    x.in.read = read_stdin;
    x.owners = owners;
    if (open_destination(&x, path, raw, exact, leaf, sizeof leaf))
        return 1;
    while ((rc = agent_tar_next(&x.in, &e, err, sizeof err)) == 1)
        if (extract_entry(&x, &e))
            return 1;
    if (rc < 0)
        return report("InvalidArgument", "%s", err);
    if (!x.seen_first && x.rename && !raw)
        return report("InvalidArgument", "the archive holds nothing");
    return apply_fixups(&x);
}

/* fs-tree.c: removing a directory tree.
 *
 * Trees removed here may hold what an image or a guest put there, so the
 * walk never follows a symlink: every directory is opened with O_NOFOLLOW
 * from the one above it, and climbing back up through ".." is checked
 * against the device and inode recorded on the way down, so a directory
 * moved meanwhile stops the walk instead of sending it elsewhere. At most
 * two descriptors are open at a time, however deep the tree. */
#define G_LOG_DOMAIN "boxlite"

#include "fs-tree.h"
#include "os-error.h"
#include "os-error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <sys/stat.h>
#include <unistd.h>

/* A directory being emptied: where it is, and its subdirectories not yet
 * entered. */
typedef struct {
    char *name; /* in the directory above */
    dev_t dev;
    ino_t ino;
    GPtrArray *pending;
} Level;

typedef struct {
    const char *top; /* how messages name the walk's root */
    dev_t dev;       /* the root's filesystem: the walk stays on it */
    GArray *levels;  /* of Level, the root first */
    GError *first;   /* the first failure; the walk goes on past it */
} Walk;

static void
clear_level (gpointer data)
{
    Level *level = data;
    g_free (level->name);
    g_ptr_array_unref (level->pending);
}

/* The path of @name in the current directory, for messages. */
static char *
walk_path (Walk *w, const char *name)
{
    GString *path = g_string_new (w->top);

    for (guint i = 1; i < w->levels->len; i++)
        g_string_append_printf (path, "/%s", g_array_index (w->levels, Level, i).name);
    if (name)
        g_string_append_printf (path, "/%s", name);
    return g_string_free (path, FALSE);
}

/* Records a failure with errno @saved on @name (NULL: the current
 * directory). */
static void
walk_fail (Walk *w, int saved, const char *what, const char *name)
{
    g_autofree char *path = walk_path (w, name);

    if (w->first) {
        g_debug ("cannot %s %s: %s", what, path, g_strerror (saved));
        return;
    }
    bl_os_error (&w->first, saved, what, path);
}

/* Opens directory @name in @dirfd for listing and removal, making it
 * writable by its owner first. Returns -1 with errno set (ENOTDIR for
 * anything but a directory, EXDEV for one on another filesystem). */
static int
open_subdir (Walk *w, int dirfd, const char *name, struct stat *st)
{
    int path_fd = openat (dirfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

    if (path_fd < 0)
        return errno == ELOOP ? (errno = ENOTDIR, -1) : -1;
    int failed = fstat (path_fd, st) < 0 ? errno : st->st_dev != w->dev ? EXDEV : 0;
    if (failed) {
        close (path_fd);
        errno = failed;
        return -1;
    }
    /* Through the descriptor: whatever is at @name now is not touched. */
    if ((st->st_mode & 0700) != 0700) {
        g_autofree char *proc = g_strdup_printf ("/proc/self/fd/%d", path_fd);
        if (chmod (proc, (st->st_mode & 07777) | 0700) < 0)
            g_debug ("cannot make %s writable: %s", name, g_strerror (errno));
    }
    int fd = openat (path_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int saved = errno;
    close (path_fd);
    errno = saved;
    return fd;
}

/* Removes what is not a directory in @fd and returns the names of the
 * subdirectories. */
static GPtrArray *
scan_dir (Walk *w, int fd)
{
    GPtrArray *dirs = g_ptr_array_new_with_free_func (g_free);
    int list_fd = fcntl (fd, F_DUPFD_CLOEXEC, 0);
    DIR *dir = list_fd < 0 ? NULL : fdopendir (list_fd);
    struct dirent *de;

    if (!dir) {
        walk_fail (w, errno, "list", NULL);
        if (list_fd >= 0)
            close (list_fd);
        return dirs;
    }
    while ((de = readdir (dir))) {
        const char *name = de->d_name;
        struct stat st;
        if (g_str_equal (name, ".") || g_str_equal (name, ".."))
            continue;
        gboolean is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN)
            is_dir = fstatat (fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode);
        if (!is_dir && unlinkat (fd, name, 0) == 0)
            continue;
        if (is_dir || errno == EISDIR)
            g_ptr_array_add (dirs, g_strdup (name));
        else if (errno != ENOENT)
            walk_fail (w, errno, "remove", name);
    }
    closedir (dir);
    return dirs;
}

static void
push_level (Walk *w, int fd, const char *name, const struct stat *st)
{
    Level level = { g_strdup (name), st->st_dev, st->st_ino, scan_dir (w, fd) };
    g_array_append_val (w->levels, level);
}

/* Goes from the emptied directory @fd to the one above it, which must be
 * the one recorded on the way down. Returns its descriptor or -1. */
static int
climb (Walk *w, int fd)
{
    Level *above = &g_array_index (w->levels, Level, w->levels->len - 2);
    int up = openat (fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;

    if (up >= 0 && fstat (up, &st) == 0 && st.st_dev == above->dev && st.st_ino == above->ino)
        return up;
    walk_fail (w, up < 0 ? errno : ESTALE, "climb out of", NULL);
    if (up >= 0)
        close (up);
    return -1;
}

/* Empties the directory open as @fd, the walk's root, depth first. */
static void
empty_tree (Walk *w, int fd)
{
    while (fd >= 0 && w->levels->len > 0) {
        Level *level = &g_array_index (w->levels, Level, w->levels->len - 1);
        if (level->pending->len > 0) {
            g_autofree char *name = g_ptr_array_steal_index (level->pending, 0);
            struct stat st;
            int sub = open_subdir (w, fd, name, &st);
            if (sub >= 0) {
                close (fd);
                fd = sub;
                push_level (w, fd, name, &st);
            } else if (errno == ENOTDIR) {
                /* Replaced by something else meanwhile. */
                if (unlinkat (fd, name, 0) < 0 && errno != ENOENT)
                    walk_fail (w, errno, "remove", name);
            } else if (errno == EXDEV) {
                walk_fail (w, EBUSY, "remove the mount point", name);
            } else if (errno != ENOENT) {
                walk_fail (w, errno, "open", name);
            }
            continue;
        }
        if (w->levels->len == 1)
            break;
        g_autofree char *name = g_strdup (level->name);
        int up = climb (w, fd);
        close (fd);
        fd = up;
        g_array_set_size (w->levels, w->levels->len - 1);
        if (fd >= 0 && unlinkat (fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
            walk_fail (w, errno, "remove", name);
    }
    if (fd >= 0)
        close (fd);
}

static gboolean
remove_at (int dirfd, const char *name, const char *shown, GError **error)
{
    struct stat st;

    if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        return errno == ENOENT || bl_os_error (error, errno, "inspect", shown);
    }
    Walk w = { .top = shown, .dev = st.st_dev };
    if (S_ISDIR (st.st_mode)) {
        w.levels = g_array_new (FALSE, FALSE, sizeof (Level));
        g_array_set_clear_func (w.levels, clear_level);
        int fd = open_subdir (&w, dirfd, name, &st);
        if (fd >= 0) {
            push_level (&w, fd, name, &st);
            empty_tree (&w, fd);
        }
        if (fd < 0 && errno != ENOENT)
            walk_fail (&w, errno, "open", NULL);
        g_array_unref (w.levels);
    }
    if (unlinkat (dirfd, name, S_ISDIR (st.st_mode) ? AT_REMOVEDIR : 0) < 0 && errno != ENOENT &&
        !w.first)
        bl_os_error (&w.first, errno, "remove", shown);
    if (w.first) {
        g_propagate_error (error, w.first);
        return FALSE;
    }
    return TRUE;
}

gboolean
bl_tree_remove_at (int dirfd, const char *name, GError **error)
{
    g_return_val_if_fail (name != NULL && *name != '\0', FALSE);
    return remove_at (dirfd, name, name, error);
}

gboolean
bl_tree_remove (const char *path, GError **error)
{
    g_autofree char *parent = g_path_get_dirname (path);
    g_autofree char *name = g_path_get_basename (path);

    g_return_val_if_fail (path != NULL, FALSE);
    if (g_str_equal (name, "/") || g_str_equal (name, ".") || g_str_equal (name, "..")) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "refusing to remove %s: it names no single entry", path);
        return FALSE;
    }
    int dirfd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        return errno == ENOENT || bl_os_error (error, errno, "open", parent);
    }
    gboolean ok = remove_at (dirfd, name, path, error);
    close (dirfd);
    return ok;
}

void
bl_tree_usage (const char *path, BlTreeUsage *usage)
{
    char *const roots[] = { (char *) path, NULL };
    FTS *fts = fts_open (roots, FTS_PHYSICAL | FTS_XDEV | FTS_NOCHDIR, NULL);
    FTSENT *ent;

    *usage = (BlTreeUsage){ 0 };
    while (fts && (ent = fts_read (fts))) {
        /* Directories are met twice, before and after their contents. */
        if (ent->fts_info == FTS_DP || ent->fts_info == FTS_DNR || ent->fts_info == FTS_NS ||
            ent->fts_info == FTS_ERR)
            continue;
        usage->entries++;
        usage->disk_bytes += (guint64) ent->fts_statp->st_blocks * 512;
        if (ent->fts_info == FTS_F)
            usage->file_bytes += (guint64) ent->fts_statp->st_size;
    }
    if (fts)
        fts_close (fts);
}

/* layer.c: applies one OCI image layer (a tar stream, compressed or not) onto
 * a root filesystem directory, honouring whiteouts and opaque directories.
 *
 * The archive is hostile. Every path is resolved one component at a time
 * below the root with O_NOFOLLOW; symlinks on the way are followed by hand,
 * inside the root, so no entry reaches outside it through "..", an absolute
 * name or a symlink, whichever layer placed it.
 * Nothing here changes the working directory. */
#define G_LOG_DOMAIN "boxlite-layer"

#include "layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <boxlite/boxlite-error.h>
#include "fs-tree.h"
#include "os-error.h"

#define MAX_NAME_LEN 4096
#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_MARKER ".wh..wh..opq"

/* A directory whose mode and times are set once the whole layer is written,
 * so that writing its children neither fails on a read-only mode nor moves
 * its modification time. */
typedef struct {
    char *path;
    mode_t perm;
    struct timespec times[2];
} DirFixup;

typedef struct {
    int root_fd;
    gboolean set_owner; /* running as root: owners come from the archive */
    GHashTable *keep;   /* paths this layer wrote, and all their ancestors */
    GArray *dir_fixups; /* of DirFixup, in archive order */
    BlLayerStats stats;
    BlLayerLimits limits;
    BlLayerStats before; /* what the image's earlier layers did */
    /* A box's copy (bl_copy_extract()) rather than an image's layer: no
     * symlink is followed anywhere, there are no whiteouts, no device
     * nodes, no extended attributes, and the top entry may be renamed. */
    gboolean copy;
    const BlCopyOptions *copy_opts;
    char *top;           /* the archive's top component, once seen */
    gboolean top_is_dot; /* the archive's first entry was "." (SRC/.) */
} Apply;

/* Where an entry goes. */
typedef struct {
    const char *path; /* below the root, normalised: "a/b/c" */
    int parent;       /* the directory that holds it */
    const char *leaf; /* its name in @parent */
} Target;

static gboolean fail (const Apply *ap, GError **error, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

/* Sets an error for what the archive itself gets wrong: BOXLITE_ERROR_IMAGE
 * for an image's layer, BOXLITE_ERROR_PROTOCOL for a box's copy (@ap NULL
 * for the former); returns FALSE. */
static gboolean
fail (const Apply *ap, GError **error, const char *format, ...)
{
    va_list args;

    va_start (args, format);
    g_autofree char *message = g_strdup_vprintf (format, args);
    va_end (args);
    g_set_error_literal (error, BOXLITE_ERROR,
                         ap && ap->copy ? BOXLITE_ERROR_PROTOCOL : BOXLITE_ERROR_IMAGE, message);
    return FALSE;
}

/* Fails with the current errno, which the operating system set: a full
 * disk is a full disk, whatever was being written. */
static gboolean
fail_errno (GError **error, const char *what, const char *name)
{
    return bl_os_error (error, errno, what, name);
}

static const char *
archive_message (struct archive *a)
{
    const char *message = archive_error_string (a);
    return message ? message : "unknown archive error";
}

/* Declared in layer.h: image imports read archives too. */
gboolean
bl_layer_archive_error (GError **error, struct archive *a)
{
    int code = archive_errno (a);

    /* libarchive reports a bad archive as EILSEQ, itself misused as EINVAL
     * and anything else it cannot name as -1. */
    if (code > 0 && code != EILSEQ && code != EINVAL) {
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (code), "%s", archive_message (a));
        return FALSE;
    }
    return fail (NULL, error, "%s", archive_message (a));
}

/* bl_layer_archive_error() in the code of what is being unpacked. */
static gboolean
archive_fail (const Apply *ap, GError **error, struct archive *a)
{
    int code = archive_errno (a);

    if (code > 0 && code != EILSEQ && code != EINVAL)
        return bl_layer_archive_error (error, a);
    return fail (ap, error, "%s", archive_message (a));
}

static void
clear_fixup (gpointer data)
{
    DirFixup *fixup = data;
    g_free (fixup->path);
}

static char *
join_prefix (char **parts, guint n)
{
    GString *path = g_string_new (NULL);

    for (guint i = 0; i < n; i++) {
        if (i > 0)
            g_string_append_c (path, '/');
        g_string_append (path, parts[i]);
    }
    return g_string_free (path, FALSE);
}

static char *
child_path (const char *dir_path, const char *name)
{
    return *dir_path ? g_strconcat (dir_path, "/", name, NULL) : g_strdup (name);
}

/* Gives a copy's top entry the destination's name: a named top is
 * replaced in every entry (all must be below it), a "." top (SRC/.) gets
 * the name put in front. The first entry decides which. */
static gboolean
rename_top (Apply *ap, GStrv *partsp, const char *name, GError **error)
{
    GStrv parts = *partsp;
    const char *rename = ap->copy_opts->rename;

    if (!ap->top && !ap->top_is_dot) {
        if (parts[0])
            ap->top = g_strdup (parts[0]);
        else
            ap->top_is_dot = TRUE;
    }
    if (ap->top_is_dot) {
        guint n = g_strv_length (parts);
        parts = g_renew (char *, parts, n + 2);
        memmove (parts + 1, parts, (n + 1) * sizeof (char *));
        parts[0] = g_strdup (rename);
        *partsp = parts;
        return TRUE;
    }
    if (!parts[0] || !g_str_equal (parts[0], ap->top))
        return fail (ap, error, "'%s' is not below the copied '%s'", name, ap->top);
    g_free (parts[0]);
    parts[0] = g_strdup (rename);
    return TRUE;
}

/* Splits an archive name into its components below the root: leading '/',
 * empty and "." components go, ".." is refused. An empty vector is the root
 * itself. Returns NULL with @error set. */
static GStrv
split_name (const Apply *ap, const char *name, GError **error)
{
    if (strlen (name) > MAX_NAME_LEN) {
        fail (ap, error, "name is longer than %d bytes", MAX_NAME_LEN);
        return NULL;
    }
    if (ap && ap->copy && name[0] == '/') {
        fail (ap, error, "absolute names are not allowed in a copy");
        return NULL;
    }
    g_auto (GStrv) raw = g_strsplit (name, "/", -1);
    g_autoptr (GStrvBuilder) parts = g_strv_builder_new ();
    for (guint i = 0; raw[i]; i++) {
        if (*raw[i] == '\0' || g_str_equal (raw[i], "."))
            continue;
        if (g_str_equal (raw[i], "..")) {
            fail (ap, error, "'..' is not allowed in a path");
            return NULL;
        }
        g_strv_builder_add (parts, raw[i]);
    }
    g_auto (GStrv) out = g_strv_builder_end (parts);
    if (ap && ap->copy && ap->copy_opts->rename && !rename_top ((Apply *) ap, &out, name, error))
        return NULL;
    return g_steal_pointer (&out);
}

/* Records that this layer wrote the path made of the first @n components of
 * @parts, so opaque markers and whiteouts leave it alone. */
static void
keep_path (Apply *ap, char **parts, guint n)
{
    for (guint i = n; i > 0; i--) {
        char *path = join_prefix (parts, i);
        if (g_hash_table_contains (ap->keep, path)) {
            g_free (path);
            return;
        }
        g_hash_table_add (ap->keep, path);
    }
}

/* Symlinks followed while resolving one path, as the kernel's limit. */
#define MAX_LINK_HOPS 40

/* Replaces the component at @i of @path (a symlink whose target is @target)
 * by the target's components: from the root for an absolute target, from
 * the symlink's directory otherwise. Returns the index to resume at, or -1
 * with @error set when the target climbs above the root. */
static gint
splice_link (const Apply *ap, GPtrArray *path, guint i, const char *target, const char *where,
             GError **error)
{
    g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
    g_auto (GStrv) comps = g_strsplit (target, "/", -1);

    if (target[0] != '/') {
        for (guint k = 0; k < i; k++)
            g_ptr_array_add (out, g_strdup (g_ptr_array_index (path, k)));
    }
    for (guint k = 0; comps[k]; k++) {
        if (*comps[k] == '\0' || g_str_equal (comps[k], "."))
            continue;
        if (g_str_equal (comps[k], "..")) {
            if (out->len == 0) {
                fail (ap, error, "the symlink '%s' points outside the root", where);
                return -1;
            }
            g_ptr_array_remove_index (out, out->len - 1);
            continue;
        }
        g_ptr_array_add (out, g_strdup (comps[k]));
    }
    guint resume = out->len;
    for (guint k = i + 1; k < path->len; k++)
        g_ptr_array_add (out, g_strdup (g_ptr_array_index (path, k)));
    g_ptr_array_set_size (path, 0);
    for (guint k = 0; k < out->len; k++)
        g_ptr_array_add (path, g_strdup (g_ptr_array_index (out, k)));
    return (gint) resume;
}

/* Opens the directory made of the first @n components of @parts below the
 * root, creating missing directories (mode 0755) when @create is set.
 * Symlinks on the way (from this layer or an earlier one) are followed as
 * container tools do, but inside the root: an absolute target starts at the
 * root, and one that climbs above it fails. Each step opens one component
 * with O_NOFOLLOW, so nothing outside the root is ever opened. Returns a
 * descriptor, or -1 with @error set. */
static int
open_dir (Apply *ap, char **parts, guint n, gboolean create, GError **error)
{
    g_autoptr (GPtrArray) path = g_ptr_array_new_with_free_func (g_free);
    guint hops = 0;

    if (ap->copy) {
        /* The kernel resolves it, following no symlink and leaving nothing
         * beneath the root; only missing directories take the walk. */
        g_autofree char *joined = n ? join_prefix (parts, n) : g_strdup (".");
        struct open_how how = {
            .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int dir = (int) syscall (SYS_openat2, ap->root_fd, joined, &how, sizeof how);
        if (dir >= 0)
            return dir;
        if (errno == ELOOP || errno == EXDEV || errno == ENOTDIR) {
            fail (ap, error, "'%s' lies under a symbolic link or a file", joined);
            return -1;
        }
        /* Without openat2 (an old kernel, valgrind) the walk below does the
         * same: O_NOFOLLOW at each step, no link followed. */
        if (errno != ENOSYS && (errno != ENOENT || !create)) {
            fail_errno (error, "open directory", joined);
            return -1;
        }
    }
    int fd = fcntl (ap->root_fd, F_DUPFD_CLOEXEC, 0);

    if (fd < 0) {
        fail_errno (error, "duplicate", "root directory");
        return -1;
    }
    for (guint k = 0; k < n; k++)
        g_ptr_array_add (path, g_strdup (parts[k]));
    for (guint i = 0; i < path->len;) {
        const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        const char *name = g_ptr_array_index (path, i);
        int next = openat (fd, name, flags);
        if (next < 0 && errno == ENOENT && create) {
            gboolean made = mkdirat (fd, name, 0755) == 0;
            if (made || errno == EEXIST)
                next = openat (fd, name, flags);
            if (made && next >= 0 && fchmod (next, 0755) < 0)
                g_debug ("cannot set the mode of '%s': %s", name, g_strerror (errno));
        }
        if (next >= 0) {
            close (fd);
            fd = next;
            i++;
            continue;
        }
        int saved = errno;
        g_autoptr (GString) where = g_string_new (NULL);
        for (guint k = 0; k <= i; k++)
            g_string_append_printf (where, "%s%s", k ? "/" : "",
                                    (char *) g_ptr_array_index (path, k));
        char target[MAX_NAME_LEN + 1];
        ssize_t len = (saved == ELOOP || saved == ENOTDIR)
                          ? readlinkat (fd, name, target, sizeof target - 1)
                          : -1;
        if (len > 0 && ap->copy) {
            fail (ap, error, "'%s' is a symbolic link, which a copy does not follow", where->str);
            close (fd);
            return -1;
        }
        if (len <= 0) {
            fail (ap, error, "cannot open directory '%s': %s", where->str, g_strerror (saved));
            close (fd);
            return -1;
        }
        target[len] = '\0';
        gint resume = ++hops > MAX_LINK_HOPS
                          ? (fail (ap, error, "too many symlinks resolving '%s'", where->str), -1)
                          : splice_link (ap, path, i, target, where->str, error);
        close (fd);
        if (resume < 0)
            return -1;
        /* Walk again from the root: the target may lie anywhere in it. */
        fd = fcntl (ap->root_fd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) {
            fail_errno (error, "duplicate", "root directory");
            return -1;
        }
        i = 0;
    }
    return fd;
}

/* Opens directory @name in @dirfd without following a symlink and lists
 * its entries into *@names. Returns the directory's descriptor, or -1 with
 * @error set. */
static int
list_dir (int dirfd, const char *name, GPtrArray **names, GError **error)
{
    int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int list_fd = fd < 0 ? -1 : fcntl (fd, F_DUPFD_CLOEXEC, 0);
    DIR *dir = list_fd < 0 ? NULL : fdopendir (list_fd);
    struct dirent *de;

    if (!dir) {
        fail_errno (error, "open directory", name);
        if (list_fd >= 0)
            close (list_fd);
        if (fd >= 0)
            close (fd);
        return -1;
    }
    *names = g_ptr_array_new_with_free_func (g_free);
    while ((de = readdir (dir))) {
        if (!g_str_equal (de->d_name, ".") && !g_str_equal (de->d_name, ".."))
            g_ptr_array_add (*names, g_strdup (de->d_name));
    }
    closedir (dir);
    return fd;
}

static gboolean prune (Apply *ap, int dirfd, const char *name, const char *path, GError **error);

/* Removes from directory @name in @dirfd (at @path below the root)
 * everything lower layers put there, keeping what this layer wrote. */
static gboolean
prune_children (Apply *ap, int dirfd, const char *name, const char *path, GError **error)
{
    g_autoptr (GPtrArray) names = NULL;
    int fd = list_dir (dirfd, name, &names, error);
    gboolean ok = TRUE;

    if (fd < 0)
        return FALSE;
    for (guint i = 0; ok && i < names->len; i++) {
        const char *child = g_ptr_array_index (names, i);
        g_autofree char *sub = child_path (path, child);
        ok = prune (ap, fd, child, sub, error);
    }
    close (fd);
    return ok;
}

/* Removes what lower layers put at @name in @dirfd (at @path): a path this
 * layer did not write goes whole, a directory it wrote into is pruned. */
static gboolean
prune (Apply *ap, int dirfd, const char *name, const char *path, GError **error)
{
    struct stat st;

    if (!g_hash_table_contains (ap->keep, path))
        return bl_tree_remove_at (dirfd, name, error);
    if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? TRUE : fail_errno (error, "inspect", name);
    if (!S_ISDIR (st.st_mode))
        return TRUE;
    return prune_children (ap, dirfd, name, path, error);
}

static void
entry_times (struct archive_entry *entry, struct timespec times[2])
{
    times[1].tv_sec = archive_entry_mtime (entry);
    times[1].tv_nsec = archive_entry_mtime_nsec (entry);
    if (!archive_entry_mtime_is_set (entry))
        times[1].tv_nsec = UTIME_OMIT;
    else if (times[1].tv_nsec < 0 || times[1].tv_nsec >= 1000000000)
        times[1].tv_nsec = 0;
    times[0] = times[1];
    if (archive_entry_atime_is_set (entry)) {
        times[0].tv_sec = archive_entry_atime (entry);
        times[0].tv_nsec = archive_entry_atime_nsec (entry);
        if (times[0].tv_nsec < 0 || times[0].tv_nsec >= 1000000000)
            times[0].tv_nsec = 0;
    }
}

/* The owner the archive gives, checked to fit in uid_t and gid_t. */
static gboolean
entry_owner (const Apply *ap, struct archive_entry *entry, uid_t *uid, gid_t *gid, GError **error)
{
    la_int64_t u = archive_entry_uid (entry);
    la_int64_t g = archive_entry_gid (entry);

    if (u < 0 || u >= G_MAXUINT32 || g < 0 || g >= G_MAXUINT32)
        return fail (ap, error, "invalid owner %" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, (gint64) u,
                     (gint64) g);
    *uid = (uid_t) u;
    *gid = (gid_t) g;
    return TRUE;
}

/* Sets the extended attributes the archive carries on @fd, those in the
 * user and security namespaces only; the filesystem may refuse them. */
static void
set_xattrs (int fd, struct archive_entry *entry, const char *path)
{
    const char *key;
    const void *value;
    size_t size;

    archive_entry_xattr_reset (entry);
    while (archive_entry_xattr_next (entry, &key, &value, &size) == ARCHIVE_OK) {
        if (!g_str_has_prefix (key, "user.") && !g_str_has_prefix (key, "security.")) {
            g_debug ("'%s': ignoring extended attribute %s", path, key);
            continue;
        }
        if (fsetxattr (fd, key, value, size, 0) < 0)
            g_debug ("'%s': extended attribute %s not set: %s", path, key, g_strerror (errno));
    }
}

/* Owner, mode, extended attributes and, unless @times is NULL, times of a
 * freshly written file or directory, in the order that keeps set-id bits
 * and capabilities (a change of owner clears both). */
static gboolean
finish_fd (Apply *ap, int fd, struct archive_entry *entry, const Target *t, mode_t perm,
           const struct timespec *times, GError **error)
{
    uid_t uid = 0;
    gid_t gid = 0;

    if (ap->set_owner) {
        if (!entry_owner (ap, entry, &uid, &gid, error))
            return FALSE;
        if (fchown (fd, uid, gid) < 0)
            return fail_errno (error, "set the owner of", t->path);
    }
    if (fchmod (fd, perm) < 0)
        return fail_errno (error, "set the mode of", t->path);
    if (!ap->copy) /* a guest's security.capability must not land on the host */
        set_xattrs (fd, entry, t->path);
    if (times && futimens (fd, times) < 0)
        return fail_errno (error, "set the times of", t->path);
    return TRUE;
}

/* Owner, mode (unless @set_mode is unset) and times of a symlink or a
 * special file, which cannot be opened to be changed. */
static gboolean
finish_at (Apply *ap, struct archive_entry *entry, const Target *t, gboolean set_mode,
           GError **error)
{
    struct timespec times[2];
    uid_t uid = 0;
    gid_t gid = 0;

    if (ap->set_owner) {
        if (!entry_owner (ap, entry, &uid, &gid, error))
            return FALSE;
        if (fchownat (t->parent, t->leaf, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
            return fail_errno (error, "set the owner of", t->path);
    }
    /* Not a symlink: write_node() has just created it. */
    if (set_mode && fchmodat (t->parent, t->leaf, archive_entry_perm (entry) & 07777, 0) < 0)
        return fail_errno (error, "set the mode of", t->path);
    entry_times (entry, times);
    if (utimensat (t->parent, t->leaf, times, AT_SYMLINK_NOFOLLOW) < 0)
        return fail_errno (error, "set the times of", t->path);
    return TRUE;
}

static void
add_dir_fixup (Apply *ap, struct archive_entry *entry, const char *path)
{
    DirFixup fixup = { .path = g_strdup (path), .perm = archive_entry_perm (entry) & 07777 };

    entry_times (entry, fixup.times);
    g_array_append_val (ap->dir_fixups, fixup);
}

/* Unprivileged, a read-only directory from a lower layer would refuse this
 * layer's entries: it is made writable and its mode put back at the end. */
static void
make_writable (Apply *ap, int dir_fd, char **parts, guint n)
{
    struct stat st;

    if (ap->set_owner || fstat (dir_fd, &st) < 0 || (st.st_mode & 0700) == 0700)
        return;
    if (fchmod (dir_fd, (st.st_mode & 07777) | 0700) < 0) {
        g_debug ("cannot make a directory writable: %s", g_strerror (errno));
        return;
    }
    DirFixup fixup = { .path = join_prefix (parts, n), .perm = st.st_mode & 07777 };
    fixup.times[0].tv_nsec = fixup.times[1].tv_nsec = UTIME_OMIT;
    g_array_append_val (ap->dir_fixups, fixup);
}

static gboolean
write_dir (Apply *ap, struct archive_entry *entry, const Target *t, GError **error)
{
    mode_t perm = archive_entry_perm (entry) & 07777;
    struct stat st;

    if (mkdirat (t->parent, t->leaf, 0700) < 0) {
        if (errno != EEXIST)
            return fail_errno (error, "create directory", t->path);
        if (fstatat (t->parent, t->leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
            return fail_errno (error, "inspect", t->path);
        if (!S_ISDIR (st.st_mode)) {
            if (!bl_tree_remove_at (t->parent, t->leaf, error))
                return FALSE;
            if (mkdirat (t->parent, t->leaf, 0700) < 0)
                return fail_errno (error, "create directory", t->path);
        }
    }
    int fd = openat (t->parent, t->leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fail_errno (error, "open directory", t->path);
    /* The final mode comes with the fixups; until then the directory stays
     * writable by its owner, which matters when not running as root. */
    gboolean ok = finish_fd (ap, fd, entry, t, ap->set_owner ? perm : perm | 0700, NULL, error);
    close (fd);
    if (ok)
        add_dir_fixup (ap, entry, t->path);
    return ok;
}

/* Makes room for a file, link or node: what stands there goes, but a copy
 * never replaces a directory (and all in it) with something else. */
static gboolean
clear_leaf (Apply *ap, const Target *t, GError **error)
{
    struct stat st;

    if (ap->copy && fstatat (t->parent, t->leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR (st.st_mode))
        return fail (ap, error, "cannot replace the directory '%s' with a non-directory", t->path);
    return bl_tree_remove_at (t->parent, t->leaf, error);
}

static gboolean
write_all (int fd, const char *buf, size_t len, off_t offset, const char *path, GError **error)
{
    while (len > 0) {
        ssize_t n = pwrite (fd, buf, len, offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            errno = EIO;
        if (n <= 0)
            return fail_errno (error, "write", path);
        buf += n;
        len -= (size_t) n;
        offset += n;
    }
    return TRUE;
}

/* Whether @more bytes of file contents keep the image within its limit. */
static gboolean
within_bytes (Apply *ap, guint64 more, GError **error)
{
    guint64 used = ap->before.bytes + ap->stats.bytes;
    if ((more > ap->limits.max_bytes || used > ap->limits.max_bytes - more) && ap->copy)
        return fail (ap, error, "the copy holds more than %" G_GUINT64_FORMAT " bytes",
                     ap->limits.max_bytes);
    if (more > ap->limits.max_bytes || used > ap->limits.max_bytes - more)
        return fail (ap, error,
                     "the image unpacks to more than %" G_GUINT64_FORMAT
                     " bytes, the limit of the store (image-max-bytes)",
                     ap->limits.max_bytes);
    return TRUE;
}

/* Copies the current entry's data into @fd, holes and all, counting the
 * bytes in *@written against the image's limit. */
static gboolean
copy_data (Apply *ap, struct archive *in, struct archive_entry *entry, int fd, const char *path,
           guint64 *written, GError **error)
{
    const void *buf;
    size_t len;
    la_int64_t offset;
    int r;

    while ((r = archive_read_data_block (in, &buf, &len, &offset)) == ARCHIVE_OK) {
        if (offset < 0)
            return fail (ap, error, "negative data offset");
        if (!within_bytes (ap, *written + len, error))
            return FALSE;
        if (!write_all (fd, buf, len, (off_t) offset, path, error))
            return FALSE;
        *written += len;
    }
    if (r != ARCHIVE_EOF)
        return archive_fail (ap, error, in);
    if (archive_entry_size_is_set (entry) && ftruncate (fd, archive_entry_size (entry)) < 0)
        return fail_errno (error, "size", path);
    return TRUE;
}

static gboolean
write_file (Apply *ap, struct archive *in, struct archive_entry *entry, const Target *t,
            GError **error)
{
    struct timespec times[2];
    guint64 declared = archive_entry_size_is_set (entry) && archive_entry_size (entry) > 0
                           ? (guint64) archive_entry_size (entry)
                           : 0;
    guint64 written = 0;

    /* A file costs its declared size or its data, whichever is more: a
     * sparse file costs nothing to send but as much as it claims to build
     * a disk from. The declared size is checked before a byte is written. */
    if (!within_bytes (ap, declared, error))
        return FALSE;
    if (!clear_leaf (ap, t, error))
        return FALSE;
    int fd =
        openat (t->parent, t->leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail_errno (error, "create", t->path);
    entry_times (entry, times);
    gboolean ok = copy_data (ap, in, entry, fd, t->path, &written, error) &&
                  finish_fd (ap, fd, entry, t, archive_entry_perm (entry) & 07777, times, error);
    close (fd);
    ap->stats.bytes += MAX (declared, written);
    return ok;
}

static gboolean
write_symlink (Apply *ap, struct archive_entry *entry, const Target *t, GError **error)
{
    const char *target = archive_entry_symlink (entry);

    /* Where it points is not checked: it is never followed here. */
    if (!target || !*target || strlen (target) > MAX_NAME_LEN)
        return fail (ap, error, "symlink target is empty or longer than %d bytes", MAX_NAME_LEN);
    if (!clear_leaf (ap, t, error))
        return FALSE;
    if (symlinkat (target, t->parent, t->leaf) < 0)
        return fail_errno (error, "create symlink", t->path);
    return finish_at (ap, entry, t, FALSE, error);
}

/* Device nodes and fifos; a node the process may not create is skipped. */
static gboolean
write_node (Apply *ap, struct archive_entry *entry, const Target *t, GError **error)
{
    mode_t type = archive_entry_filetype (entry);

    if (!clear_leaf (ap, t, error))
        return FALSE;
    if (mknodat (t->parent, t->leaf, type | 0600, archive_entry_rdev (entry)) < 0) {
        if (errno == EPERM) {
            g_debug ("skipping special file '%s': not permitted", t->path);
            return TRUE;
        }
        return fail_errno (error, "create special file", t->path);
    }
    return finish_at (ap, entry, t, TRUE, error);
}

/* A hard link to @link_name, a file of this layer or a lower one, resolved
 * below the root like any other path. */
static gboolean
write_hardlink (Apply *ap, const char *link_name, const Target *t, GError **error)
{
    g_auto (GStrv) parts = split_name (ap, link_name, error);
    struct stat st;

    if (!parts) {
        g_prefix_error (error, "hard link target '%s': ", link_name);
        return FALSE;
    }
    guint n = g_strv_length (parts);
    g_autofree char *target_path = join_prefix (parts, n);
    if (n == 0 || g_str_equal (target_path, t->path))
        return fail (ap, error, "hard link to '%s' links to itself or the root", link_name);
    int dir = open_dir (ap, parts, n - 1, FALSE, error);
    if (dir < 0) {
        g_prefix_error (error, "hard link target '%s': ", link_name);
        return FALSE;
    }
    gboolean ok = FALSE;
    if (fstatat (dir, parts[n - 1], &st, AT_SYMLINK_NOFOLLOW) < 0)
        fail (ap, error, "hard link target '%s': %s", link_name, g_strerror (errno));
    else if (S_ISDIR (st.st_mode))
        fail (ap, error, "hard link target '%s' is a directory", link_name);
    else if (clear_leaf (ap, t, error))
        ok = linkat (dir, parts[n - 1], t->parent, t->leaf, 0) == 0 ||
             fail_errno (error, "create hard link", t->path);
    close (dir);
    return ok;
}

static gboolean
write_entry (Apply *ap, struct archive *in, struct archive_entry *entry, const Target *t,
             GError **error)
{
    const char *link_name = archive_entry_hardlink (entry);

    if (link_name)
        return write_hardlink (ap, link_name, t, error);
    switch (archive_entry_filetype (entry)) {
    case AE_IFDIR:
        return write_dir (ap, entry, t, error);
    case AE_IFREG:
        return write_file (ap, in, entry, t, error);
    case AE_IFLNK:
        return write_symlink (ap, entry, t, error);
    case AE_IFCHR:
    case AE_IFBLK:
        if (ap->copy)
            return fail (ap, error, "device nodes are not copied");
        return write_node (ap, entry, t, error);
    case AE_IFIFO:
        return write_node (ap, entry, t, error);
    default:
        g_debug ("skipping '%s' of unsupported type", t->path);
        return TRUE;
    }
}

/* `dir/.wh.NAME` removes NAME that lower layers put in dir; `dir/.wh..wh..opq`
 * removes everything they put there. What this layer writes stays, wherever
 * the marker sits in the archive. */
static gboolean
apply_whiteout (Apply *ap, char **parts, guint n, GError **error)
{
    const char *leaf = parts[n - 1];
    const char *victim = leaf + strlen (WHITEOUT_PREFIX);
    gboolean opaque = g_str_equal (leaf, OPAQUE_MARKER);

    if (!opaque && (!*victim || g_str_equal (victim, ".") || g_str_equal (victim, "..")))
        return fail (ap, error, "whiteout names no valid file");
    ap->stats.whiteouts++;
    if (!opaque && g_str_has_prefix (victim, WHITEOUT_PREFIX)) {
        g_debug ("ignoring unknown whiteout marker '%s'", leaf);
        return TRUE;
    }
    int dir = open_dir (ap, parts, n - 1, TRUE, error);
    if (dir < 0)
        return FALSE;
    make_writable (ap, dir, parts, n - 1);
    g_autofree char *dir_path = join_prefix (parts, n - 1);
    g_autofree char *victim_path = child_path (dir_path, victim);
    gboolean ok = opaque ? prune_children (ap, dir, ".", dir_path, error)
                         : prune (ap, dir, victim, victim_path, error);
    close (dir);
    if (ok)
        keep_path (ap, parts, n - 1);
    return ok;
}

/* An entry for the root itself ("./"): only its metadata can change. */
static gboolean
apply_root_entry (Apply *ap, struct archive_entry *entry, GError **error)
{
    Target t = { .path = "", .parent = ap->root_fd, .leaf = "." };
    mode_t perm = archive_entry_perm (entry) & 07777;

    if (archive_entry_hardlink (entry) || archive_entry_filetype (entry) != AE_IFDIR)
        return fail (ap, error, "only a directory can stand for the root");
    if (!finish_fd (ap, ap->root_fd, entry, &t, ap->set_owner ? perm : perm | 0700, NULL, error))
        return FALSE;
    add_dir_fixup (ap, entry, "");
    return TRUE;
}

/* A copy's first entry says what is copied: a directory may not land on
 * a file, and a destination named "DIR/" must end up a directory. */
static gboolean
copy_first_entry_fits (Apply *ap, struct archive_entry *entry, char **parts, GError **error)
{
    const BlCopyOptions *opts = ap->copy_opts;
    gboolean is_dir = archive_entry_filetype (entry) == AE_IFDIR || (parts[0] && parts[1]);

    if (ap->stats.entries > 1 || !opts->rename)
        return TRUE;
    /* The caller's request and the source disagree: not the archive's fault. */
    if (opts->dest_is_file && is_dir)
        return g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                            "cannot copy a directory onto the file '%s'", opts->rename),
               FALSE;
    if (opts->dest_slash && !is_dir)
        return g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY,
                            "'%s/' does not exist, and what is copied is not a directory",
                            opts->rename),
               FALSE;
    return TRUE;
}

static gboolean
apply_entry (Apply *ap, struct archive *in, struct archive_entry *entry, GError **error)
{
    const char *name = archive_entry_pathname (entry);
    g_auto (GStrv) parts = NULL;
    gboolean ok;

    if (!name)
        return fail (ap, error, "entry %" G_GUINT64_FORMAT " has no usable name",
                     ap->stats.entries);
    parts = split_name (ap, name, error);
    if (!parts) {
        ok = FALSE;
    } else if (ap->copy && !copy_first_entry_fits (ap, entry, parts, error)) {
        ok = FALSE;
    } else if (!parts[0]) {
        /* A copy leaves the directory it lands in as it was. */
        ok = ap->copy || apply_root_entry (ap, entry, error);
    } else {
        guint n = g_strv_length (parts);
        if (!ap->copy && g_str_has_prefix (parts[n - 1], WHITEOUT_PREFIX)) {
            ok = apply_whiteout (ap, parts, n, error);
        } else {
            g_autofree char *path = join_prefix (parts, n);
            Target t = { .path = path, .leaf = parts[n - 1] };
            t.parent = open_dir (ap, parts, n - 1, TRUE, error);
            if (t.parent >= 0)
                make_writable (ap, t.parent, parts, n - 1);
            ok = t.parent >= 0 && write_entry (ap, in, entry, &t, error);
            if (t.parent >= 0)
                close (t.parent);
            if (ok)
                keep_path (ap, parts, n);
        }
    }
    if (!ok) {
        g_autofree char *shown = g_utf8_make_valid (name, MIN (strlen (name), 256));
        g_prefix_error (error, "entry '%s': ", shown);
    }
    return ok;
}

/* Gives this layer's directories their final mode and times, the deepest
 * (latest in the archive) first, so an unprivileged process can still walk
 * into directories that end up without search permission. */
static gboolean
apply_dir_fixups (Apply *ap, GError **error)
{
    g_autoptr (GHashTable) done = g_hash_table_new (g_str_hash, g_str_equal);

    for (guint i = ap->dir_fixups->len; i > 0; i--) {
        DirFixup *fixup = &g_array_index (ap->dir_fixups, DirFixup, i - 1);
        g_autoptr (GError) local = NULL;

        /* The last entry for a directory is the one that counts. */
        if (!g_hash_table_add (done, fixup->path))
            continue;
        g_auto (GStrv) parts = g_strsplit (fixup->path, "/", -1);
        int fd = open_dir (ap, parts, g_strv_length (parts), FALSE, &local);
        if (fd < 0) {
            g_debug ("directory '%s' is gone: %s", fixup->path, local->message);
            continue;
        }
        gboolean ok = (fchmod (fd, fixup->perm) == 0 && futimens (fd, fixup->times) == 0) ||
                      fail_errno (error, "set the mode and times of", fixup->path);
        close (fd);
        if (!ok)
            return FALSE;
    }
    return TRUE;
}

static gboolean
read_entries (Apply *ap, struct archive *in, GCancellable *cancellable, GError **error)
{
    struct archive_entry *entry;

    for (;;) {
        int r = archive_read_next_header (in, &entry);
        if (r == ARCHIVE_EOF)
            return TRUE;
        if (r < ARCHIVE_WARN)
            return archive_fail (ap, error, in);
        if (r == ARCHIVE_WARN)
            g_debug ("%s", archive_message (in));
        if (g_cancellable_set_error_if_cancelled (cancellable, error))
            return FALSE;
        if (ap->stats.entries >= ap->limits.max_entries && ap->copy)
            return fail (ap, error, "the copy holds more than %" G_GUINT64_FORMAT " entries",
                         ap->limits.max_entries);
        if (ap->before.entries + ap->stats.entries >= ap->limits.max_entries)
            return fail (ap, error,
                         "the image has more than %" G_GUINT64_FORMAT
                         " entries, the limit of the store (image-max-entries)",
                         ap->limits.max_entries);
        ap->stats.entries++;
        if (!apply_entry (ap, in, entry, error))
            return FALSE;
    }
}

/**
 * bl_layer_apply_fd:
 * @layer_fd: a layer open for reading at its start: a tar archive,
 *   uncompressed or compressed with gzip, zstd, xz or bzip2
 * @rootfs_dir: the root filesystem the layers below it were applied to
 * @stats_or_null: (out) (optional): what was done, filled on success
 * @cancellable: (nullable): checked between entries
 * @error: return location for a #BOXLITE_ERROR_IMAGE error when the
 *   archive is at fault, a #G_IO_ERROR when the system is (a full disk),
 *   or %G_IO_ERROR_CANCELLED
 *
 * Writes the entries of @layer_fd into @rootfs_dir, applying OCI
 * whiteouts and opaque markers to what lower layers left there. Modes,
 * times, symlinks, hard links, fifos, extended attributes and, when running
 * as root, owners and device nodes are kept. Reading the descriptor rather
 * than a name lets the caller apply exactly the file it checked.
 *
 * An entry that would reach outside @rootfs_dir fails the whole layer. On
 * failure @rootfs_dir is left half-written and should be discarded.
 *
 * Returns: %TRUE on success
 */
gboolean
bl_layer_apply_fd (int layer_fd, const char *rootfs_dir, BlLayerStats *stats_or_null,
                   GCancellable *cancellable, GError **error)
{
    const BlLayerLimits limits = { BL_LAYER_DEFAULT_MAX_BYTES, BL_LAYER_DEFAULT_MAX_ENTRIES };
    BlLayerStats totals = { 0 };

    if (!bl_layer_apply_limited (layer_fd, rootfs_dir, &limits, &totals, cancellable, error))
        return FALSE;
    if (stats_or_null)
        *stats_or_null = totals;
    return TRUE;
}

gboolean
bl_layer_apply_limited (int layer_fd, const char *rootfs_dir, const BlLayerLimits *limits,
                        BlLayerStats *totals, GCancellable *cancellable, GError **error)
{
    Apply ap = {
        .root_fd = -1, .set_owner = geteuid () == 0, .limits = *limits, .before = *totals
    };
    struct archive *in;
    gboolean ok = FALSE;

    g_return_val_if_fail (layer_fd >= 0 && rootfs_dir != NULL, FALSE);
    g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

    ap.root_fd = open (rootfs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ap.root_fd < 0)
        return fail_errno (error, "open the root filesystem", rootfs_dir);
    ap.keep = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    ap.dir_fixups = g_array_new (FALSE, FALSE, sizeof (DirFixup));
    g_array_set_clear_func (ap.dir_fixups, clear_fixup);

    in = archive_read_new ();
    archive_read_support_format_tar (in);
    archive_read_support_format_empty (in);
    archive_read_support_filter_gzip (in);
    archive_read_support_filter_zstd (in);
    archive_read_support_filter_xz (in);
    archive_read_support_filter_bzip2 (in);
    if (archive_read_open_fd (in, layer_fd, 64 * 1024) != ARCHIVE_OK)
        bl_layer_archive_error (error, in);
    else
        ok = read_entries (&ap, in, cancellable, error) && apply_dir_fixups (&ap, error);
    archive_read_free (in);

    if (ok) {
        totals->entries += ap.stats.entries;
        totals->bytes += ap.stats.bytes;
        totals->whiteouts += ap.stats.whiteouts;
    }
    g_array_unref (ap.dir_fixups);
    g_hash_table_unref (ap.keep);
    close (ap.root_fd);
    return ok;
}

/**
 * bl_copy_extract:
 * @in: an archive open for reading (a tar stream from a box, or a caller's)
 * @dest_fd: the directory the entries land in
 * @opts: the rename of the top entry, the limits, whether owners are kept
 * @stats_or_null: (out) (optional): what was written
 * @cancellable: (nullable): checked between entries
 * @error: return location for a #BOXLITE_ERROR_PROTOCOL error when the
 *   archive is at fault, a #G_IO_ERROR when the system is
 *
 * Writes a copied archive beneath @dest_fd with the layer code's care and
 * none of its leniency: every parent is opened by the kernel with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, so no symlink (from the archive or
 * already there) is followed; links pointing anywhere are written as links;
 * hard links must name an entry beneath @dest_fd; device nodes and extended
 * attributes are refused or ignored; owners are kept only when asked and
 * running as root.
 *
 * Returns: %TRUE on success
 */
gboolean
bl_copy_extract (struct archive *in, int dest_fd, const BlCopyOptions *opts,
                 BlLayerStats *stats_or_null, GCancellable *cancellable, GError **error)
{
    Apply ap = {
        .root_fd = dest_fd,
        .set_owner = opts->owners && geteuid () == 0,
        .limits = opts->limits,
        .copy = TRUE,
        .copy_opts = opts,
    };

    ap.keep = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    ap.dir_fixups = g_array_new (FALSE, FALSE, sizeof (DirFixup));
    g_array_set_clear_func (ap.dir_fixups, clear_fixup);
    gboolean ok = read_entries (&ap, in, cancellable, error) && apply_dir_fixups (&ap, error);
    if (ok && opts->rename && ap.stats.entries == 0)
        ok = fail (&ap, error, "the archive holds nothing");
    if (ok && stats_or_null)
        *stats_or_null = ap.stats;
    g_array_unref (ap.dir_fixups);
    g_hash_table_unref (ap.keep);
    g_free (ap.top);
    return ok;
}

/* bl_layer_apply_fd() of the file @layer_path; errors name it. */
gboolean
bl_layer_apply (const char *layer_path, const char *rootfs_dir, BlLayerStats *stats_or_null,
                GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (layer_path != NULL, FALSE);

    int fd = open (layer_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno (error, "open layer", layer_path);
    gboolean ok = bl_layer_apply_fd (fd, rootfs_dir, stats_or_null, cancellable, error);
    close (fd);
    if (!ok)
        g_prefix_error (error, "layer %s: ", layer_path);
    return ok;
}

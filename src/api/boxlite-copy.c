/* boxlite-copy.c: files into and out of a box, as tar streams.
 *
 * A copy is a channel that runs like a command: "copy_out" makes the agent
 * send a tar stream of a guest path as the channel's stdout, "copy_in" makes
 * it unpack the channel's stdin, and the exit event says whether it worked
 * (see bl_proto.h). Both streams go through the execution's pipes with the
 * protocol's credit, so a copy of any size holds a window or two in memory.
 *
 * What comes out of the box is hostile: it is written by bl_copy_extract()
 * (src/image/layer.c), beneath the destination directory with no symlink
 * followed. Where a copy lands follows the container tools' cp: an existing
 * directory receives the source inside it, another destination is the
 * source's new name, "SRC/." copies a directory's contents, and a trailing
 * '/' on the destination insists on a directory. The agent applies the same
 * rules to copies into the box.
 *
 * The blocking calls run on the caller's thread and report progress there;
 * the async ones run them on a worker thread and report on the caller's
 * thread-default main context.
 */
#define G_LOG_DOMAIN "boxlite"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boxlite/boxlite-box.h>
#include <boxlite/boxlite-error.h>
#include "bl-task.h"
#include "fs-tree.h"
#include "boxlite-private.h"
#include "copy-stream.h"
#include "layer.h"
#include "os-error.h"

#define PROGRESS_STEP (1024 * 1024)
#define IO_CHUNK (64 * 1024)
#define MAX_DEPTH 256

/* ---- progress ----------------------------------------------------------- */

typedef struct {
    BoxliteBox *box;
    GMainContext *context; /* NULL: emit on this thread */
    guint64 done;
    guint64 total;
    guint64 reported;
} Progress;

typedef struct {
    BoxliteBox *box;
    guint64 done;
    guint64 total;
} Report;

static gboolean
emit_report (gpointer data)
{
    Report *report = data;

    bl_box_emit_copy_progress (report->box, report->done, report->total);
    return G_SOURCE_REMOVE;
}

static void
report_free (gpointer data)
{
    Report *report = data;

    g_object_unref (report->box);
    g_free (report);
}

static void
progress_emit (Progress *p)
{
    p->reported = p->done;
    if (!p->box) /* a copy between streams: nobody to tell */
        return;
    if (!p->context) {
        bl_box_emit_copy_progress (p->box, p->done, p->total);
        return;
    }
    Report *report = g_new0 (Report, 1);
    report->box = g_object_ref (p->box);
    report->done = p->done;
    report->total = p->total;
    g_autoptr (GSource) source = g_idle_source_new ();
    /* Ahead of the task's own completion, which has this priority. */
    g_source_set_priority (source, G_PRIORITY_DEFAULT);
    g_source_set_callback (source, emit_report, report, report_free);
    g_source_attach (source, p->context);
}

static void
progress_add (Progress *p, gsize bytes)
{
    p->done += bytes;
    if (p->done - p->reported >= PROGRESS_STEP)
        progress_emit (p);
}

/* ---- SIGPIPE ------------------------------------------------------------ */

/* Writing into a channel whose copy already failed must give EPIPE, not end
 * the application: SIGPIPE is held on this thread while a copy writes, and
 * one it caused is taken off before it is let through again. */
typedef struct {
    sigset_t old;
    gboolean was_pending;
} PipeGuard;

static void
pipe_guard_begin (PipeGuard *guard)
{
    sigset_t set, pending;

    sigemptyset (&set);
    sigaddset (&set, SIGPIPE);
    pthread_sigmask (SIG_BLOCK, &set, &guard->old);
    sigpending (&pending);
    guard->was_pending = sigismember (&pending, SIGPIPE);
}

static void
pipe_guard_end (PipeGuard *guard)
{
    sigset_t set, pending;
    const struct timespec zero = { 0, 0 };

    sigemptyset (&set);
    sigaddset (&set, SIGPIPE);
    sigpending (&pending);
    if (!guard->was_pending && sigismember (&pending, SIGPIPE))
        sigtimedwait (&set, NULL, &zero);
    pthread_sigmask (SIG_SETMASK, &guard->old, NULL);
}

/* ---- the channel -------------------------------------------------------- */

static JsonNode *
copy_request (const char *command, const char *path, gboolean raw, gboolean exact, gboolean owners)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "execute");
    json_builder_add_string_value (b, command);
    json_builder_set_member_name (b, "arguments");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "path");
    json_builder_add_string_value (b, path);
    json_builder_set_member_name (b, "raw");
    json_builder_add_boolean_value (b, raw);
    json_builder_set_member_name (b, "exact");
    json_builder_add_boolean_value (b, exact);
    json_builder_set_member_name (b, "owners");
    json_builder_add_boolean_value (b, owners);
    json_builder_end_object (b);
    json_builder_end_object (b);
    return json_builder_get_root (b);
}

static BoxliteExecution *
open_copy (BoxliteBox *box, const char *command, const char *guest_path, gboolean raw,
           gboolean exact, gboolean owners, GCancellable *cancellable, GError **error)
{
    if (!g_path_is_absolute (guest_path)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "the path in the box '%s' is not absolute", guest_path);
        return NULL;
    }
    g_autoptr (JsonNode) request = copy_request (command, guest_path, raw, exact, owners);
    return bl_box_open_channel (box, request, g_str_equal (command, "copy_in"), cancellable, error);
}

/* Ends a copy's channel. On success (@ok) the agent's verdict decides. On
 * a failure here the agent's worker is stopped first, unless its stream
 * had already ended (@stream_ended): then the agent's reason, when it has
 * one, explains the failure better than a cut stream does. */
static gboolean
close_copy (BoxliteExecution *exe, gboolean ok, gboolean stream_ended, GError **error)
{
    g_autoptr (GError) remote = NULL;

    if (!ok && !stream_ended)
        boxlite_execution_kill (exe, SIGKILL, NULL);
    g_input_stream_close (boxlite_execution_get_stdout (exe), NULL, NULL);
    if (boxlite_execution_get_stdin (exe))
        g_output_stream_close (boxlite_execution_get_stdin (exe), NULL, NULL);
    gboolean agent_ok = boxlite_execution_wait (exe, NULL, &remote);
    if (ok && !agent_ok) {
        g_propagate_error (error, g_steal_pointer (&remote));
        return FALSE;
    }
    if (!ok && !agent_ok && stream_ended && remote && error && *error) {
        g_clear_error (error);
        g_propagate_error (error, g_steal_pointer (&remote));
    }
    if (ok && boxlite_execution_get_term_signal (exe) != 0) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED,
                     "the copy in the box was killed by signal %d",
                     boxlite_execution_get_term_signal (exe));
        return FALSE;
    }
    return ok;
}

/* ---- reading the box's tar stream --------------------------------------- */

typedef struct {
    GInputStream *stream;
    GCancellable *cancellable;
    Progress *progress;
    gboolean ended;
    GError *error;
    guint8 buf[IO_CHUNK];
} Reader;

static la_ssize_t
reader_read (struct archive *a, void *data, const void **out)
{
    Reader *r = data;
    gssize n = g_input_stream_read (r->stream, r->buf, sizeof r->buf, r->cancellable,
                                    r->error ? NULL : &r->error);

    if (n < 0) {
        archive_set_error (a, EIO, "%s", r->error ? r->error->message : "read failed");
        return -1;
    }
    if (n == 0)
        r->ended = TRUE;
    progress_add (r->progress, (gsize) n);
    *out = r->buf;
    return n;
}

static struct archive *
reader_open (Reader *r, GError **error)
{
    struct archive *a = archive_read_new ();

    archive_read_support_format_tar (a);
    if (archive_read_open (a, r, NULL, reader_read, NULL) != ARCHIVE_OK) {
        bl_layer_archive_error (error, a);
        archive_read_free (a);
        return NULL;
    }
    return a;
}

/* A failure while reading: the stream's own error (cancellation, I/O) when
 * it had one, else what libarchive says of the archive. */
static gboolean
reader_fail (Reader *r, GError **error)
{
    if (error && *error && r->error) {
        g_clear_error (error);
        g_propagate_error (error, g_steal_pointer (&r->error));
    }
    return FALSE;
}

/* Where a copy out of the box lands on the host: into @host_path when it is
 * a directory, else into its parent under its name. Returns the directory's
 * descriptor, or -1 with @error set. */
static int
open_host_dest (const char *host_path, BlCopyOptions *opts, char **rename, GError **error)
{
    struct stat st;
    gsize len = strlen (host_path);

    opts->dest_slash = len > 0 && host_path[len - 1] == '/';
    gboolean exists = stat (host_path, &st) == 0;
    if (!exists && errno != ENOENT && errno != ENOTDIR) {
        bl_os_error (error, errno, "look up", host_path);
        return -1;
    }
    if (exists && S_ISDIR (st.st_mode)) {
        int fd = open (host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            bl_os_error (error, errno, "open", host_path);
        return fd;
    }
    if (!exists && opts->dest_slash && errno == ENOTDIR)
        exists = TRUE; /* "FILE/" */
    if (exists && opts->dest_slash) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, "%s is not a directory",
                     host_path);
        return -1;
    }
    g_autofree char *trimmed = g_strdup (host_path);
    while (len > 1 && trimmed[len - 1] == '/')
        trimmed[--len] = '\0';
    g_autofree char *parent = g_path_get_dirname (trimmed);
    g_autofree char *base = g_path_get_basename (trimmed);
    if (!*base || g_str_equal (base, ".") || g_str_equal (base, "..") || g_str_equal (base, "/")) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT, "%s names no file",
                     host_path);
        return -1;
    }
    int fd = open (parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        bl_os_error (error, errno, "open the directory", parent);
        return -1;
    }
    opts->dest_is_file = exists;
    *rename = g_steal_pointer (&base);
    return fd;
}

/* Unpacks the tar stream @in beneath @dest by @opts; *@ended says whether
 * @in reached its end. */
static gboolean
extract_stream (GInputStream *in, int dest, BlCopyOptions *opts, Progress *progress,
                gboolean *ended, GCancellable *cancellable, GError **error)
{
    g_autofree Reader *r = g_new0 (Reader, 1);

    r->stream = in;
    r->cancellable = cancellable;
    r->progress = progress;
    struct archive *a = reader_open (r, error);
    gboolean ok =
        a && (bl_copy_extract (a, dest, opts, NULL, cancellable, error) || reader_fail (r, error));
    if (a)
        archive_read_free (a);
    g_clear_error (&r->error);
    *ended = r->ended;
    return ok;
}

static gboolean
copy_out (BoxliteBox *box, const char *guest_path, const char *host_path, BoxliteCopyFlags flags,
          Progress *progress, GCancellable *cancellable, GError **error)
{
    BlCopyOptions opts = {
        .owners = (flags & BOXLITE_COPY_OWNERS) != 0,
        .limits = { BL_LAYER_DEFAULT_MAX_BYTES, BL_LAYER_DEFAULT_MAX_ENTRIES },
    };
    g_autofree char *rename = NULL;
    int dest = open_host_dest (host_path, &opts, &rename, error);

    if (dest < 0)
        return FALSE;
    opts.rename = rename;
    g_autoptr (BoxliteExecution) exe =
        open_copy (box, "copy_out", guest_path, FALSE, FALSE, FALSE, cancellable, error);
    if (!exe) {
        close (dest);
        return FALSE;
    }
    gboolean ended = FALSE;
    gboolean ok = extract_stream (boxlite_execution_get_stdout (exe), dest, &opts, progress, &ended,
                                  cancellable, error);
    close (dest);
    ok = close_copy (exe, ok, ended, error);
    progress_emit (progress);
    if (!ok)
        g_prefix_error (error, "copying %s out of the box: ", guest_path);
    return ok;
}

/* ---- writing a tar stream into the box ---------------------------------- */

typedef struct {
    GOutputStream *stream;
    GCancellable *cancellable;
    Progress *progress;
    GError *error;
    guint8 buf[IO_CHUNK];
} Writer;

static la_ssize_t
writer_write (struct archive *a, void *data, const void *buf, size_t len)
{
    Writer *w = data;

    if (!g_output_stream_write_all (w->stream, buf, len, NULL, w->cancellable,
                                    w->error ? NULL : &w->error)) {
        archive_set_error (a, EIO, "%s", w->error ? w->error->message : "write failed");
        return -1;
    }
    progress_add (w->progress, len);
    return (la_ssize_t) len;
}

static struct archive *
writer_open (Writer *w, GError **error)
{
    struct archive *a = archive_write_new ();

    archive_write_set_format_pax (a);
    archive_write_set_bytes_in_last_block (a, 1);
    if (archive_write_open (a, w, NULL, writer_write, NULL) != ARCHIVE_OK) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED, "%s", archive_error_string (a));
        archive_write_free (a);
        return NULL;
    }
    return a;
}

static gboolean
writer_fail (Writer *w, struct archive *a, GError **error)
{
    if (w->error)
        g_propagate_error (error, g_steal_pointer (&w->error));
    else
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED, "%s", archive_error_string (a));
    return FALSE;
}

static gboolean add_tree (Writer *w, struct archive *a, int dirfd, const char *name,
                          const char *archive_name, guint depth, GError **error);

/* Sends exactly @size bytes of @fd: a file that shrinks meanwhile is
 * padded with zeros, one that grows is cut, so the archive stays whole. */
static gboolean
add_file_data (Writer *w, struct archive *a, int fd, guint64 size, const char *name, GError **error)
{
    while (size > 0) {
        gsize want = MIN (size, sizeof w->buf);
        ssize_t n = read (fd, w->buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bl_os_error (error, errno, "read", name);
        if (n == 0) {
            memset (w->buf, 0, want);
            n = (ssize_t) want;
        }
        if (archive_write_data (a, w->buf, (size_t) n) < 0)
            return writer_fail (w, a, error);
        size -= (guint64) n;
    }
    return TRUE;
}

static gboolean
add_children (Writer *w, struct archive *a, int fd, const char *archive_name, guint depth,
              GError **error)
{
    int list_fd = fcntl (fd, F_DUPFD_CLOEXEC, 0);
    DIR *dir = list_fd < 0 ? NULL : fdopendir (list_fd);
    struct dirent *de;
    gboolean ok = TRUE;

    if (!dir) {
        if (list_fd >= 0)
            close (list_fd);
        return bl_os_error (error, errno, "list", archive_name);
    }
    while (ok && (de = readdir (dir))) {
        if (g_str_equal (de->d_name, ".") || g_str_equal (de->d_name, ".."))
            continue;
        g_autofree char *child = g_strconcat (archive_name, "/", de->d_name, NULL);
        ok = add_tree (w, a, fd, de->d_name, child, depth + 1, error);
    }
    closedir (dir);
    return ok;
}

/* Adds @name of @dirfd as @archive_name, and what is below it; symlinks
 * are added as links, devices and sockets are left out. */
static gboolean
add_tree (Writer *w, struct archive *a, int dirfd, const char *name, const char *archive_name,
          guint depth, GError **error)
{
    struct stat st;
    int fd = -1;

    if (depth > MAX_DEPTH)
        return g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                            "%s is nested deeper than %d levels", archive_name, MAX_DEPTH),
               FALSE;
    if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return bl_os_error (error, errno, "look up", archive_name);
    if (S_ISREG (st.st_mode) || S_ISDIR (st.st_mode)) {
        fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (fd < 0 || fstat (fd, &st) < 0) {
            gboolean ok = bl_os_error (error, errno, "open", archive_name);
            if (fd >= 0)
                close (fd);
            return ok;
        }
    } else if (!S_ISLNK (st.st_mode) && !S_ISFIFO (st.st_mode)) {
        g_debug ("not copying %s: not a file, directory, link or fifo", archive_name);
        return TRUE;
    }
    struct archive_entry *entry = archive_entry_new ();
    archive_entry_copy_stat (entry, &st);
    archive_entry_set_pathname (entry, archive_name);
    gboolean ok = TRUE;
    if (S_ISLNK (st.st_mode)) {
        char target[4097];
        ssize_t n = readlinkat (dirfd, name, target, sizeof target - 1);
        if (n < 0)
            ok = bl_os_error (error, errno, "read the link", archive_name);
        else
            target[n] = '\0', archive_entry_set_symlink (entry, target);
    }
    if (ok && archive_write_header (a, entry) != ARCHIVE_OK)
        ok = writer_fail (w, a, error);
    archive_entry_free (entry);
    if (ok && S_ISREG (st.st_mode))
        ok = add_file_data (w, a, fd, (guint64) st.st_size, archive_name, error);
    else if (ok && S_ISDIR (st.st_mode))
        ok = add_children (w, a, fd, archive_name, depth, error);
    if (fd >= 0)
        close (fd);
    return ok;
}

/* Splits a source path by the cp rules: the directory it is in, its name
 * there, and its name in the archive ("." for "DIR/."). Fails for "FILE/". */
static gboolean
parse_source (const char *path, char **dir, char **leaf, char **archive_name, GError **error)
{
    gsize len = strlen (path);
    gboolean contents = g_str_has_suffix (path, "/.") || g_str_equal (path, ".");
    gboolean want_dir = contents || (len > 0 && path[len - 1] == '/');
    g_autofree char *trimmed = g_strdup (path);
    struct stat st;

    while (len > 1 &&
           (trimmed[len - 1] == '/' || (trimmed[len - 1] == '.' && trimmed[len - 2] == '/')))
        trimmed[--len] = '\0';
    *dir = g_path_get_dirname (trimmed);
    *leaf = g_path_get_basename (trimmed);
    if (g_str_equal (*leaf, "/")) {
        g_free (*leaf);
        *leaf = g_strdup (".");
        contents = TRUE;
    }
    *archive_name = g_strdup (contents ? "." : *leaf);
    if (lstat (path, &st) < 0 && lstat (trimmed, &st) < 0)
        return bl_os_error (error, errno, "copy", path);
    if (want_dir && stat (trimmed, &st) == 0 && !S_ISDIR (st.st_mode)) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, "%s is not a directory", path);
        return FALSE;
    }
    return TRUE;
}

/* Writes a tar stream of @leaf of @dirfd, named @archive_name in it, to
 * @stream (which stays open). */
static gboolean
write_tree (GOutputStream *stream, int dirfd, const char *leaf, const char *archive_name,
            Progress *progress, GCancellable *cancellable, GError **error)
{
    g_autofree Writer *w = g_new0 (Writer, 1);

    w->stream = stream;
    w->cancellable = cancellable;
    w->progress = progress;
    struct archive *a = writer_open (w, error);
    gboolean ok = a && add_tree (w, a, dirfd, leaf, archive_name, 0, error) &&
                  (archive_write_close (a) == ARCHIVE_OK || writer_fail (w, a, error));
    if (a)
        archive_write_free (a);
    g_clear_error (&w->error);
    return ok;
}

static gboolean
copy_in (BoxliteBox *box, const char *host_path, const char *guest_path, BoxliteCopyFlags flags,
         Progress *progress, GCancellable *cancellable, GError **error)
{
    g_autofree char *dir = NULL, *leaf = NULL, *archive_name = NULL;
    BlTreeUsage usage = { 0 };
    PipeGuard guard;

    if (!parse_source (host_path, &dir, &leaf, &archive_name, error))
        return FALSE;
    int dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return bl_os_error (error, errno, "open the directory", dir);
    g_autofree char *measured = g_build_filename (dir, leaf, NULL);
    bl_tree_usage (measured, &usage);
    progress->total = usage.file_bytes;
    g_autoptr (BoxliteExecution) exe =
        open_copy (box, "copy_in", guest_path, FALSE, FALSE, (flags & BOXLITE_COPY_OWNERS) != 0,
                   cancellable, error);
    if (!exe) {
        close (dirfd);
        return FALSE;
    }
    GOutputStream *stream = boxlite_execution_get_stdin (exe);
    pipe_guard_begin (&guard);
    gboolean ok = write_tree (stream, dirfd, leaf, archive_name, progress, cancellable, error) &&
                  g_output_stream_close (stream, cancellable, error);
    close (dirfd);
    /* A write that failed because the box's side ended tells less than the
     * box's own reason. */
    gboolean ended =
        !ok && error && *error && g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    ok = close_copy (exe, ok, ended, error);
    pipe_guard_end (&guard);
    progress_emit (progress);
    if (!ok)
        g_prefix_error (error, "copying %s into the box: ", host_path);
    return ok;
}

/* ---- small files -------------------------------------------------------- */

static GBytes *
read_file (BoxliteBox *box, const char *guest_path, gsize max_size, Progress *progress,
           GCancellable *cancellable, GError **error)
{
    g_autoptr (BoxliteExecution) exe =
        open_copy (box, "copy_out", guest_path, FALSE, FALSE, FALSE, cancellable, error);
    struct archive_entry *entry;

    if (!exe)
        return NULL;
    g_autofree Reader *r = g_new0 (Reader, 1);
    r->stream = boxlite_execution_get_stdout (exe);
    r->cancellable = cancellable;
    r->progress = progress;
    g_autoptr (GByteArray) data = g_byte_array_new ();
    struct archive *a = reader_open (r, error);
    gboolean ok = a != NULL;
    int header = ok ? archive_read_next_header (a, &entry) : ARCHIVE_FATAL;
    if (ok && header == ARCHIVE_EOF)
        ok = (g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                           "the box sent an empty archive"),
              FALSE);
    else if (ok && header < ARCHIVE_WARN)
        ok = bl_layer_archive_error (error, a) || reader_fail (r, error);
    else if (ok && archive_entry_filetype (entry) != AE_IFREG)
        ok = (g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                           "%s is not a regular file", guest_path),
              FALSE);
    else if (ok && archive_entry_size (entry) > 0 &&
             (guint64) archive_entry_size (entry) > max_size)
        ok = (g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                           "%s holds %" G_GINT64_FORMAT " bytes, more than the %" G_GSIZE_FORMAT
                           " asked for",
                           guest_path, (gint64) archive_entry_size (entry), max_size),
              FALSE);
    while (ok) {
        guint8 buf[IO_CHUNK];
        la_ssize_t n = archive_read_data (a, buf, sizeof buf);
        if (n < 0)
            ok = bl_layer_archive_error (error, a) || reader_fail (r, error);
        else if (n == 0)
            break;
        else if (data->len + (gsize) n > max_size)
            ok = (g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                               "%s holds more than the %" G_GSIZE_FORMAT " bytes asked for",
                               guest_path, max_size),
                  FALSE);
        else
            g_byte_array_append (data, buf, (guint) n);
    }
    if (a)
        archive_read_free (a);
    g_clear_error (&r->error);
    ok = close_copy (exe, ok, r->ended, error);
    progress_emit (progress);
    if (!ok) {
        g_prefix_error (error, "reading %s in the box: ", guest_path);
        return NULL;
    }
    return g_byte_array_free_to_bytes (g_steal_pointer (&data));
}

static gboolean
write_file (BoxliteBox *box, const char *guest_path, GBytes *contents, guint mode,
            Progress *progress, GCancellable *cancellable, GError **error)
{
    g_autofree char *name = g_path_get_basename (guest_path);
    gsize size = 0;
    const void *bytes = g_bytes_get_data (contents, &size);
    PipeGuard guard;

    g_autoptr (BoxliteExecution) exe =
        open_copy (box, "copy_in", guest_path, FALSE, TRUE, FALSE, cancellable, error);
    if (!exe)
        return FALSE;
    progress->total = size;
    g_autofree Writer *w = g_new0 (Writer, 1);
    w->stream = boxlite_execution_get_stdin (exe);
    w->cancellable = cancellable;
    w->progress = progress;
    pipe_guard_begin (&guard);
    struct archive *a = writer_open (w, error);
    struct archive_entry *entry = archive_entry_new ();
    archive_entry_set_pathname (entry, name);
    archive_entry_set_filetype (entry, AE_IFREG);
    archive_entry_set_perm (entry, mode & 07777);
    archive_entry_set_size (entry, (la_int64_t) size);
    archive_entry_set_mtime (entry, (time_t) (g_get_real_time () / G_USEC_PER_SEC), 0);
    gboolean ok = a && (archive_write_header (a, entry) == ARCHIVE_OK || writer_fail (w, a, error));
    if (ok && size && archive_write_data (a, bytes, size) < 0)
        ok = writer_fail (w, a, error);
    ok = ok && (archive_write_close (a) == ARCHIVE_OK || writer_fail (w, a, error)) &&
         g_output_stream_close (w->stream, cancellable, error);
    archive_entry_free (entry);
    if (a)
        archive_write_free (a);
    gboolean ended =
        !ok && error && *error && g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    g_clear_error (&w->error);
    ok = close_copy (exe, ok, ended, error);
    pipe_guard_end (&guard);
    progress_emit (progress);
    if (!ok)
        g_prefix_error (error, "writing %s in the box: ", guest_path);
    return ok;
}

/* ---- tar streams as they are -------------------------------------------- */

/* Moves @in to @out until @in ends; on failure *@in_failed tells which side. */
static gboolean
pump (GInputStream *in, GOutputStream *out, Progress *progress, GCancellable *cancellable,
      gboolean *in_failed, GError **error)
{
    g_autofree guint8 *buf = g_malloc (IO_CHUNK);

    for (;;) {
        gssize n = g_input_stream_read (in, buf, IO_CHUNK, cancellable, error);
        *in_failed = n < 0;
        if (n <= 0)
            return n == 0;
        if (!g_output_stream_write_all (out, buf, (gsize) n, NULL, cancellable, error))
            return FALSE;
        progress_add (progress, (gsize) n);
    }
}

/**
 * boxlite_box_copy_out_tar:
 * @self: a running box
 * @guest_path: an absolute path in the box; "DIR/." for a directory's contents
 * @tar: where the tar stream goes
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Writes a tar stream (ustar with pax headers) of @guest_path to @tar, as
 * the box sends it, without unpacking it: what `boxlite cp BOX:SRC -`
 * prints. The stream comes from the box and is not checked: unpack it with
 * care. Blocks; emits #BoxliteBox::copy-progress on this thread.
 *
 * Returns: %TRUE once the whole stream was written, or %FALSE with @error
 *   set (BOXLITE_ERROR: %BOXLITE_ERROR_NOT_FOUND, %BOXLITE_ERROR_INVALID_STATE
 *   when the box does not run; G_IO_ERROR from the box's side or @tar, or
 *   %G_IO_ERROR_CANCELLED)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_copy_out_tar (BoxliteBox *self, const char *guest_path, GOutputStream *tar,
                          GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);
    g_return_val_if_fail (guest_path != NULL && G_IS_OUTPUT_STREAM (tar), FALSE);

    Progress progress = { .box = self };
    gboolean in_failed = FALSE;
    g_autoptr (BoxliteExecution) exe =
        open_copy (self, "copy_out", guest_path, FALSE, FALSE, FALSE, cancellable, error);
    if (!exe)
        return FALSE;
    gboolean ok =
        pump (boxlite_execution_get_stdout (exe), tar, &progress, cancellable, &in_failed, error);
    ok = close_copy (exe, ok, ok || in_failed, error);
    progress_emit (&progress);
    if (!ok)
        g_prefix_error (error, "copying %s out of the box: ", guest_path);
    return ok;
}

/* Pumps @tar into a "copy_in" of @guest_path: @raw, a directory the
 * stream is unpacked into; else cp's destination of the one source the
 * stream holds. */
static gboolean
copy_in_stream (BoxliteBox *self, GInputStream *tar, const char *guest_path, gboolean raw,
                BoxliteCopyFlags flags, GCancellable *cancellable, GError **error)
{
    Progress progress = { .box = self };
    gboolean in_failed = FALSE;
    PipeGuard guard;
    g_autoptr (BoxliteExecution) exe =
        open_copy (self, "copy_in", guest_path, raw, FALSE, (flags & BOXLITE_COPY_OWNERS) != 0,
                   cancellable, error);
    if (!exe)
        return FALSE;
    GOutputStream *stdin_stream = boxlite_execution_get_stdin (exe);
    pipe_guard_begin (&guard);
    gboolean ok = pump (tar, stdin_stream, &progress, cancellable, &in_failed, error) &&
                  g_output_stream_close (stdin_stream, cancellable, error);
    gboolean ended = !ok && !in_failed && error && *error &&
                     g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
    ok = close_copy (exe, ok, ended, error);
    pipe_guard_end (&guard);
    progress_emit (&progress);
    return ok;
}

/**
 * boxlite_box_copy_in_tar:
 * @self: a running box
 * @tar: a tar stream (ustar, pax or GNU)
 * @guest_dir: an existing directory in the box, as an absolute path
 * @flags: %BOXLITE_COPY_OWNERS to keep the archive's owners
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Unpacks the tar stream @tar into @guest_dir in the box: what
 * `boxlite cp - BOX:DIR` does. Entries are placed beneath @guest_dir with
 * no symlink followed; absolute names, ".." and entries under a link are
 * refused. Blocks; emits #BoxliteBox::copy-progress on this thread.
 *
 * Returns: %TRUE once everything was unpacked, or %FALSE with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_INVALID_ARGUMENT for a malformed or
 *   refused archive, %BOXLITE_ERROR_NOT_FOUND; G_IO_ERROR:
 *   %G_IO_ERROR_NOT_DIRECTORY, %G_IO_ERROR_NO_SPACE, %G_IO_ERROR_CANCELLED)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_copy_in_tar (BoxliteBox *self, GInputStream *tar, const char *guest_dir,
                         BoxliteCopyFlags flags, GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);
    g_return_val_if_fail (G_IS_INPUT_STREAM (tar) && guest_dir != NULL, FALSE);

    if (copy_in_stream (self, tar, guest_dir, TRUE, flags, cancellable, error))
        return TRUE;
    g_prefix_error (error, "copying into %s in the box: ", guest_dir);
    return FALSE;
}

/* ---- cp's rules on streams, for copies through a server ----------------- */

gboolean
bl_copy_pack_host (const char *host_path, GOutputStream *tar, GCancellable *cancellable,
                   GError **error)
{
    g_autofree char *dir = NULL, *leaf = NULL, *archive_name = NULL;
    Progress progress = { 0 };

    if (!parse_source (host_path, &dir, &leaf, &archive_name, error))
        return FALSE;
    int dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return bl_os_error (error, errno, "open the directory", dir);
    gboolean ok = write_tree (tar, dirfd, leaf, archive_name, &progress, cancellable, error);
    close (dirfd);
    return ok;
}

gboolean
bl_copy_unpack_host (GInputStream *tar, const char *host_path, GCancellable *cancellable,
                     GError **error)
{
    BlCopyOptions opts = {
        .limits = { BL_LAYER_DEFAULT_MAX_BYTES, BL_LAYER_DEFAULT_MAX_ENTRIES },
    };
    g_autofree char *rename = NULL;
    Progress progress = { 0 };
    gboolean ended;
    int dest = open_host_dest (host_path, &opts, &rename, error);

    if (dest < 0)
        return FALSE;
    opts.rename = rename;
    gboolean ok = extract_stream (tar, dest, &opts, &progress, &ended, cancellable, error);
    close (dest);
    return ok;
}

gboolean
bl_box_copy_in_placed (BoxliteBox *self, GInputStream *tar, const char *guest_path,
                       GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);
    g_return_val_if_fail (G_IS_INPUT_STREAM (tar) && guest_path != NULL, FALSE);

    return copy_in_stream (self, tar, guest_path, FALSE, BOXLITE_COPY_NONE, cancellable, error);
}

/* ---- the public calls --------------------------------------------------- */

typedef struct {
    char *from;
    char *to;
    BoxliteCopyFlags flags;
    gsize max_size;
    GBytes *contents;
    guint mode;
} CopyCall;

static void
copy_call_free (gpointer data)
{
    CopyCall *call = data;

    g_free (call->from);
    g_free (call->to);
    g_clear_pointer (&call->contents, g_bytes_unref);
    g_free (call);
}

static CopyCall *
copy_call_new (const char *from, const char *to)
{
    CopyCall *call = g_new0 (CopyCall, 1);

    call->from = g_strdup (from);
    call->to = g_strdup (to);
    return call;
}

static gpointer
copy_in_call (gpointer source, gpointer data, GMainContext *caller_context,
              GCancellable *cancellable, GError **error)
{
    CopyCall *call = data;
    Progress progress = { .box = source, .context = caller_context };

    return GINT_TO_POINTER (
        copy_in (source, call->from, call->to, call->flags, &progress, cancellable, error));
}

static gpointer
copy_out_call (gpointer source, gpointer data, GMainContext *caller_context,
               GCancellable *cancellable, GError **error)
{
    CopyCall *call = data;
    Progress progress = { .box = source, .context = caller_context };

    return GINT_TO_POINTER (
        copy_out (source, call->from, call->to, call->flags, &progress, cancellable, error));
}

static gpointer
read_file_call (gpointer source, gpointer data, GMainContext *caller_context,
                GCancellable *cancellable, GError **error)
{
    CopyCall *call = data;
    Progress progress = { .box = source, .context = caller_context };

    return read_file (source, call->from, call->max_size, &progress, cancellable, error);
}

static gpointer
write_file_call (gpointer source, gpointer data, GMainContext *caller_context,
                 GCancellable *cancellable, GError **error)
{
    CopyCall *call = data;
    Progress progress = { .box = source, .context = caller_context };

    return GINT_TO_POINTER (
        write_file (source, call->to, call->contents, call->mode, &progress, cancellable, error));
}

/**
 * boxlite_box_copy_in:
 * @self: a running box
 * @host_path: a file, directory or symlink on the host; "DIR/." for a
 *   directory's contents
 * @guest_path: where it goes in the box, as an absolute path
 * @flags: %BOXLITE_COPY_OWNERS to keep owners (the agent runs as root)
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Copies @host_path into the box with its modes, times and symlinks (as
 * links), as `cp` of the container tools does: an existing directory
 * @guest_path receives the source inside it; otherwise the source is
 * created as @guest_path, in a directory that must exist. A @guest_path
 * ending in '/' must be a directory, or the source one. In the box, nothing
 * is written through a symlink that is already there. Emits
 * #BoxliteBox::copy-progress with the total of file bytes.
 *
 * Returns: %TRUE when everything was copied, or %FALSE with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_NOT_FOUND when the destination's
 *   directory does not exist, %BOXLITE_ERROR_INVALID_ARGUMENT for a
 *   directory onto a file or an entry under a link,
 *   %BOXLITE_ERROR_PERMISSION_DENIED, %BOXLITE_ERROR_INVALID_STATE when
 *   the box does not run; G_IO_ERROR for the host's side and
 *   %G_IO_ERROR_NOT_DIRECTORY, %G_IO_ERROR_NO_SPACE, %G_IO_ERROR_CANCELLED)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_copy_in (BoxliteBox *self, const char *host_path, const char *guest_path,
                     BoxliteCopyFlags flags, GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);
    g_return_val_if_fail (host_path != NULL && guest_path != NULL, FALSE);

    Progress progress = { .box = self };
    return copy_in (self, host_path, guest_path, flags, &progress, cancellable, error);
}

/**
 * boxlite_box_copy_in_async:
 * @self: a running box
 * @host_path: what to copy, see boxlite_box_copy_in()
 * @guest_path: where it goes in the box
 * @flags: how to copy
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context when done
 * @user_data: (closure): data for @callback
 *
 * Copies into the box without blocking; see boxlite_box_copy_in(). The
 * progress signal is emitted on the caller's thread-default main context.
 *
 * Since: 0.1
 */
void
boxlite_box_copy_in_async (BoxliteBox *self, const char *host_path, const char *guest_path,
                           BoxliteCopyFlags flags, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_BOX (self));
    g_return_if_fail (host_path != NULL && guest_path != NULL);

    CopyCall *call = copy_call_new (host_path, guest_path);
    call->flags = flags;
    bl_task_run_in_thread (self, boxlite_box_copy_in_async, copy_in_call, call, copy_call_free,
                           NULL, cancellable, callback, user_data);
}

/**
 * boxlite_box_copy_in_finish:
 * @self: the box
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_box_copy_in_async().
 *
 * Returns: %TRUE on success, or %FALSE with @error set, as
 *   boxlite_box_copy_in() (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_copy_in_finish (BoxliteBox *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish_boolean (self, result, boxlite_box_copy_in_async, error);
}

/**
 * boxlite_box_copy_out:
 * @self: a running box
 * @guest_path: an absolute path in the box; "DIR/." for a directory's contents
 * @host_path: where it goes on the host
 * @flags: %BOXLITE_COPY_OWNERS to keep owners (when the caller is root)
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Copies @guest_path out of the box with its modes, times and symlinks (as
 * links), with the destination rules of boxlite_box_copy_in(). What the box
 * sends is not trusted: every entry is written beneath the destination
 * with no symlink followed, whatever links the box sends or the host
 * already has there; names with "..", absolute names and device nodes fail
 * the copy, and so do more than 32 GiB or a million entries. On failure
 * what was written so far stays. Emits #BoxliteBox::copy-progress (with a
 * total of 0: the size is not known in advance).
 *
 * Returns: %TRUE when everything was copied, or %FALSE with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_NOT_FOUND when @guest_path does not
 *   exist, %BOXLITE_ERROR_PROTOCOL for an archive from the box that breaks
 *   those rules, %BOXLITE_ERROR_INVALID_STATE when the box does not run;
 *   G_IO_ERROR for the host's side, %G_IO_ERROR_NOT_DIRECTORY,
 *   %G_IO_ERROR_CANCELLED)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_copy_out (BoxliteBox *self, const char *guest_path, const char *host_path,
                      BoxliteCopyFlags flags, GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);
    g_return_val_if_fail (host_path != NULL && guest_path != NULL, FALSE);

    Progress progress = { .box = self };
    return copy_out (self, guest_path, host_path, flags, &progress, cancellable, error);
}

/**
 * boxlite_box_copy_out_async:
 * @self: a running box
 * @guest_path: what to copy, see boxlite_box_copy_out()
 * @host_path: where it goes on the host
 * @flags: how to copy
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context when done
 * @user_data: (closure): data for @callback
 *
 * Copies out of the box without blocking; see boxlite_box_copy_out().
 *
 * Since: 0.1
 */
void
boxlite_box_copy_out_async (BoxliteBox *self, const char *guest_path, const char *host_path,
                            BoxliteCopyFlags flags, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_BOX (self));
    g_return_if_fail (host_path != NULL && guest_path != NULL);

    CopyCall *call = copy_call_new (guest_path, host_path);
    call->flags = flags;
    bl_task_run_in_thread (self, boxlite_box_copy_out_async, copy_out_call, call, copy_call_free,
                           NULL, cancellable, callback, user_data);
}

/**
 * boxlite_box_copy_out_finish:
 * @self: the box
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_box_copy_out_async().
 *
 * Returns: %TRUE on success, or %FALSE with @error set, as
 *   boxlite_box_copy_out() (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_copy_out_finish (BoxliteBox *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish_boolean (self, result, boxlite_box_copy_out_async, error);
}

/**
 * boxlite_box_read_file:
 * @self: a running box
 * @guest_path: a regular file in the box, as an absolute path
 * @max_size: the most bytes accepted
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Reads a small file of the box into memory.
 *
 * Returns: (transfer full): the file's contents, or %NULL with @error set
 *   (G_IO_ERROR: %G_IO_ERROR_MESSAGE_TOO_LARGE past @max_size,
 *   %G_IO_ERROR_NOT_REGULAR_FILE for anything but a regular file,
 *   %G_IO_ERROR_CANCELLED; BOXLITE_ERROR: %BOXLITE_ERROR_NOT_FOUND,
 *   %BOXLITE_ERROR_INVALID_STATE when the box does not run)
 *
 * Since: 0.1
 */
GBytes *
boxlite_box_read_file (BoxliteBox *self, const char *guest_path, gsize max_size,
                       GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), NULL);
    g_return_val_if_fail (guest_path != NULL, NULL);

    Progress progress = { .box = self };
    return read_file (self, guest_path, max_size, &progress, cancellable, error);
}

/**
 * boxlite_box_read_file_async:
 * @self: a running box
 * @guest_path: a regular file in the box, as an absolute path
 * @max_size: the most bytes accepted
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context when done
 * @user_data: (closure): data for @callback
 *
 * Reads a small file without blocking; see boxlite_box_read_file().
 *
 * Since: 0.1
 */
void
boxlite_box_read_file_async (BoxliteBox *self, const char *guest_path, gsize max_size,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_BOX (self));
    g_return_if_fail (guest_path != NULL);

    CopyCall *call = copy_call_new (guest_path, NULL);
    call->max_size = max_size;
    bl_task_run_in_thread (self, boxlite_box_read_file_async, read_file_call, call, copy_call_free,
                           (GDestroyNotify) g_bytes_unref, cancellable, callback, user_data);
}

/**
 * boxlite_box_read_file_finish:
 * @self: the box
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_box_read_file_async().
 *
 * Returns: (transfer full): the file's contents, or %NULL with @error set,
 *   as boxlite_box_read_file() (G_IO_ERROR or BOXLITE_ERROR)
 *
 * Since: 0.1
 */
GBytes *
boxlite_box_read_file_finish (BoxliteBox *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish (self, result, boxlite_box_read_file_async, error);
}

/**
 * boxlite_box_write_file:
 * @self: a running box
 * @guest_path: the file to write in the box, as an absolute path; its
 *   directory must exist
 * @contents: what the file holds
 * @mode: its permission bits, e.g. 0644
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Creates or replaces a file of the box with @contents. A symlink at
 * @guest_path is replaced, not followed; a directory there is an error.
 *
 * Returns: %TRUE when the file was written, or %FALSE with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_NOT_FOUND when the directory does not
 *   exist, %BOXLITE_ERROR_INVALID_ARGUMENT for a directory at @guest_path,
 *   %BOXLITE_ERROR_INVALID_STATE when the box does not run; G_IO_ERROR:
 *   %G_IO_ERROR_NO_SPACE, %G_IO_ERROR_CANCELLED)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_write_file (BoxliteBox *self, const char *guest_path, GBytes *contents, guint mode,
                        GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);
    g_return_val_if_fail (guest_path != NULL && contents != NULL, FALSE);

    Progress progress = { .box = self };
    return write_file (self, guest_path, contents, mode, &progress, cancellable, error);
}

/**
 * boxlite_box_write_file_async:
 * @self: a running box
 * @guest_path: the file to write in the box, as an absolute path
 * @contents: what the file holds
 * @mode: its permission bits
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context when done
 * @user_data: (closure): data for @callback
 *
 * Writes a file without blocking; see boxlite_box_write_file().
 *
 * Since: 0.1
 */
void
boxlite_box_write_file_async (BoxliteBox *self, const char *guest_path, GBytes *contents,
                              guint mode, GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_BOX (self));
    g_return_if_fail (guest_path != NULL && contents != NULL);

    CopyCall *call = copy_call_new (NULL, guest_path);
    call->contents = g_bytes_ref (contents);
    call->mode = mode;
    bl_task_run_in_thread (self, boxlite_box_write_file_async, write_file_call, call,
                           copy_call_free, NULL, cancellable, callback, user_data);
}

/**
 * boxlite_box_write_file_finish:
 * @self: the box
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_box_write_file_async().
 *
 * Returns: %TRUE on success, or %FALSE with @error set, as
 *   boxlite_box_write_file() (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_write_file_finish (BoxliteBox *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish_boolean (self, result, boxlite_box_write_file_async, error);
}

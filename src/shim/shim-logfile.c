/* shim-logfile.c: a file the guest can write to without bound, kept bounded.
 *
 * The file is moved to NAME.1 (replacing the one before) whenever it is
 * full, so at most twice the limit sits on disk and the newest bytes are
 * always at the end of NAME. Writes that fail are dropped with a warning:
 * a guest must not be able to stop the monitor by filling a disk. */
#define G_LOG_DOMAIN "boxlite-shim"

#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "os-error.h"

struct _ShimLogFile {
    char *path;
    char *old_path;
    guint64 max;
    guint64 size; /* bytes in the current file */
    int fd;
};

static gboolean
open_current (ShimLogFile *log, GError **error)
{
    log->fd = open (log->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (log->fd < 0)
        return bl_os_error (error, errno, "open", log->path);
    struct stat st;
    log->size = fstat (log->fd, &st) == 0 ? (guint64) st.st_size : 0;
    return TRUE;
}

static gboolean
rotate (ShimLogFile *log)
{
    g_autoptr (GError) error = NULL;

    close (log->fd);
    log->fd = -1;
    if (g_rename (log->path, log->old_path) < 0)
        bl_os_error (&error, errno, "rotate", log->path);
    else
        open_current (log, &error);
    if (error)
        g_warning ("%s", error->message);
    return log->fd >= 0;
}

static gboolean
write_all (ShimLogFile *log, const guint8 *data, gsize len)
{
    while (len > 0) {
        ssize_t n = write (log->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_warning ("cannot write %s: %s", log->path, g_strerror (errno));
            return FALSE;
        }
        log->size += (guint64) n;
        data += n;
        len -= (gsize) n;
    }
    return TRUE;
}

ShimLogFile *
shim_log_file_open (const char *dir, const char *name, guint64 max, GError **error)
{
    ShimLogFile *log = g_new0 (ShimLogFile, 1);
    g_autofree char *old_name = g_strconcat (name, ".1", NULL);

    log->path = g_build_filename (dir, name, NULL);
    log->old_path = g_build_filename (dir, old_name, NULL);
    log->max = max;
    if (!open_current (log, error)) {
        shim_log_file_free (log);
        return NULL;
    }
    return log;
}

void
shim_log_file_append (ShimLogFile *log, const guint8 *data, gsize len)
{
    while (len > 0 && log->fd >= 0) {
        if (log->size >= log->max && !rotate (log))
            return;
        gsize room = (gsize) MIN ((guint64) len, log->max - log->size);
        if (!write_all (log, data, room))
            return;
        data += room;
        len -= room;
    }
}

void
shim_log_file_append_record (ShimLogFile *log, const guint8 *head, gsize head_len,
                             const guint8 *data, gsize len)
{
    if (log->fd < 0)
        return;
    if (log->size > 0 && log->size + head_len + len > log->max && !rotate (log))
        return;
    /* One buffer, one write: a reader never sees a header without its data
     * unless the monitor died between the two halves of a short write. */
    g_autofree guint8 *buf = g_malloc (head_len + len);
    memcpy (buf, head, head_len);
    memcpy (buf + head_len, data, len);
    write_all (log, buf, head_len + len);
}

void
shim_log_file_free (ShimLogFile *log)
{
    if (!log)
        return;
    if (log->fd >= 0)
        close (log->fd);
    g_free (log->path);
    g_free (log->old_path);
    g_free (log);
}

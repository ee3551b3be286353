/* console-log.c: appending the guest's console to a capped, rotated file. */
#include "console-log.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

struct _BlConsoleLog {
    char *path;
    char *old_path;
    int fd;
    gsize size; /* bytes in the current file */
    gsize cap;
};

static gboolean
open_current (BlConsoleLog *log, GError **error)
{
    struct stat st;

    log->fd = g_open (log->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log->fd < 0 || fstat (log->fd, &st) < 0) {
        int saved = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot open %s: %s",
                     log->path, g_strerror (saved));
        return FALSE;
    }
    log->size = (gsize) st.st_size;
    return TRUE;
}

BlConsoleLog *
bl_console_log_open (const char *path, gsize cap, GError **error)
{
    g_return_val_if_fail (path != NULL && cap > 0, NULL);

    BlConsoleLog *log = g_new0 (BlConsoleLog, 1);
    log->path = g_strdup (path);
    log->old_path = g_strconcat (path, ".1", NULL);
    log->cap = cap;
    if (!open_current (log, error)) {
        bl_console_log_free (log);
        return NULL;
    }
    return log;
}

static gboolean
rotate (BlConsoleLog *log, GError **error)
{
    if (log->fd >= 0)
        close (log->fd);
    log->fd = -1;
    if (g_rename (log->path, log->old_path) < 0 && errno != ENOENT) {
        int saved = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot rotate %s: %s",
                     log->path, g_strerror (saved));
        return FALSE;
    }
    return open_current (log, error);
}

gboolean
bl_console_log_write (BlConsoleLog *log, const guint8 *data, gsize len, GError **error)
{
    if (len > log->cap) {
        data += len - log->cap;
        len = log->cap;
    }
    while (len > 0) {
        if (log->size >= log->cap && !rotate (log, error))
            return FALSE;
        if (log->fd < 0 && !open_current (log, error))
            return FALSE;
        gsize n = MIN (len, log->cap - log->size);
        ssize_t w = write (log->fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int saved = w < 0 ? errno : EIO;
            g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot write %s: %s",
                         log->path, g_strerror (saved));
            return FALSE;
        }
        log->size += (gsize) w;
        data += w;
        len -= (gsize) w;
    }
    return TRUE;
}

void
bl_console_log_free (BlConsoleLog *log)
{
    if (!log)
        return;
    if (log->fd >= 0)
        close (log->fd);
    g_free (log->path);
    g_free (log->old_path);
    g_free (log);
}

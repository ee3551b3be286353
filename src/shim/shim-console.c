/* shim-console.c: the guest's console, from QEMU's serial port to
 * console.log.
 *
 * QEMU's serial port is a unix socket (tty.sock) the monitor listens
 * on before QEMU starts, so that what the guest writes passes here and
 * console.log stays capped (console-log.h) however much the guest writes;
 * QEMU writing a file itself would let it grow without bound. */
#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "console-log.h"
#include "shim.h"

/* Bytes read from the socket at a time. */
#define READ_CHUNK 65536

static void
console_write (Shim *shim, const guint8 *data, gsize len)
{
    g_autoptr (GError) error = NULL;

    if (!bl_console_log_write (shim->console_log, data, len, &error) &&
        !shim->console_write_failed) {
        shim->console_write_failed = TRUE; /* said once */
        g_warning ("%s", error->message);
    }
}

static void
console_close (Shim *shim)
{
    g_clear_handle_id (&shim->console_watch, g_source_remove);
    if (shim->console_fd >= 0)
        close (shim->console_fd);
    shim->console_fd = -1;
}

/* Reads what QEMU has written; FALSE once the connection is over. */
static gboolean
console_read (Shim *shim)
{
    g_autofree guint8 *buf = g_malloc (READ_CHUNK);

    for (;;) {
        ssize_t n = read (shim->console_fd, buf, READ_CHUNK);
        if (n > 0) {
            console_write (shim, buf, (gsize) n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
}

static gboolean
on_console_data (int fd, GIOCondition condition, gpointer user_data)
{
    Shim *shim = user_data;

    if (console_read (shim))
        return G_SOURCE_CONTINUE;
    shim->console_watch = 0;
    console_close (shim);
    return G_SOURCE_REMOVE;
}

static gboolean
on_console_connection (int fd, GIOCondition condition, gpointer user_data)
{
    Shim *shim = user_data;
    int conn = accept4 (fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (conn < 0)
        return errno == EINTR || errno == EAGAIN || errno == ECONNABORTED ? G_SOURCE_CONTINUE
                                                                          : G_SOURCE_REMOVE;
    /* One QEMU, one connection. */
    close (shim->console_listen_fd);
    shim->console_listen_fd = -1;
    shim->console_listen_watch = 0;
    shim->console_fd = conn;
    shim->console_watch =
        g_unix_fd_add (conn, G_IO_IN | G_IO_HUP | G_IO_ERR, on_console_data, shim);
    return G_SOURCE_REMOVE;
}

gboolean
shim_console_listen (Shim *shim, GError **error)
{
    g_autofree char *path = g_build_filename (shim->box_dir, "tty.sock", NULL);
    g_autofree char *log_path = g_build_filename (shim->box_dir, "console.log", NULL);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };

    shim->console_log = bl_console_log_open (log_path, BL_CONSOLE_LOG_MAX, error);
    if (!shim->console_log)
        return FALSE;
    if (strlen (path) >= sizeof addr.sun_path) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG, "%s is too long", path);
        return FALSE;
    }
    strcpy (addr.sun_path, path);
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 || listen (fd, 1) < 0) {
        int saved = errno;
        if (fd >= 0)
            close (fd);
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot listen on %s: %s",
                     path, g_strerror (saved));
        return FALSE;
    }
    shim->console_listen_fd = fd;
    shim->console_listen_watch = g_unix_fd_add (fd, G_IO_IN, on_console_connection, shim);
    return TRUE;
}

void
shim_console_drain (Shim *shim)
{
    if (shim->console_fd >= 0 && !console_read (shim))
        console_close (shim);
}

void
shim_console_free (Shim *shim)
{
    console_close (shim);
    g_clear_handle_id (&shim->console_listen_watch, g_source_remove);
    if (shim->console_listen_fd >= 0)
        close (shim->console_listen_fd);
    shim->console_listen_fd = -1;
    g_clear_pointer (&shim->console_log, bl_console_log_free);
}

/* shim-console.c: the guest's serial console, kept in a bounded log.
 *
 * The guest writes what it likes to its console, as fast as it likes: a
 * file QEMU appended to would grow until the host's disk is full. QEMU
 * sends the console to BOXDIR/console.sock instead, and the monitor keeps
 * it in console.log, moved to console.log.1 (replacing the one before) each
 * time it reaches SHIM_CONSOLE_LOG_MAX bytes: at most twice that on disk,
 * and the newest output always at the end of console.log, where the crash
 * diagnosis reads it. */
#define G_LOG_DOMAIN "boxlite-shim"

#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "os-error.h"

#define READ_CHUNK (64 * 1024)

struct _ShimConsole {
    char *log_path;
    char *old_path;
    GSocketListener *listener;
    GSocketConnection *connection;
    GCancellable *cancellable;
    int fd;
    guint64 size; /* bytes in console.log */
    guint8 buffer[READ_CHUNK];
};

static void read_more (ShimConsole *console);

static gboolean
open_log (ShimConsole *console, GError **error)
{
    console->fd =
        open (console->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (console->fd < 0)
        return bl_os_error (error, errno, "open", console->log_path);
    struct stat st;
    console->size = fstat (console->fd, &st) == 0 ? (guint64) st.st_size : 0;
    return TRUE;
}

static gboolean
rotate (ShimConsole *console, GError **error)
{
    close (console->fd);
    console->fd = -1;
    if (g_rename (console->log_path, console->old_path) < 0)
        return bl_os_error (error, errno, "rotate", console->log_path);
    return open_log (console, error);
}

/* Writes @len bytes, moving to a fresh file whenever the current one is
 * full; output that cannot be written is dropped (the guest must not be
 * able to stop the monitor through its console). */
static void
append (ShimConsole *console, const guint8 *data, gsize len)
{
    while (len > 0 && console->fd >= 0) {
        g_autoptr (GError) error = NULL;
        if (console->size >= SHIM_CONSOLE_LOG_MAX && !rotate (console, &error)) {
            g_warning ("%s", error->message);
            return;
        }
        gsize room = (gsize) MIN ((guint64) len, SHIM_CONSOLE_LOG_MAX - console->size);
        ssize_t n = write (console->fd, data, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            g_warning ("cannot write %s: %s", console->log_path, g_strerror (errno));
            return;
        }
        console->size += (guint64) n;
        data += n;
        len -= (gsize) n;
    }
}

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr (GError) error = NULL;
    gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

    if (n <= 0) {
        /* QEMU closed its end (it is ending) or the monitor is: nothing
         * more will come. */
        if (error && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_debug ("console: %s", error->message);
        return;
    }
    ShimConsole *console = user_data;
    append (console, console->buffer, (gsize) n);
    read_more (console);
}

static void
read_more (ShimConsole *console)
{
    GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (console->connection));
    g_input_stream_read_async (in, console->buffer, sizeof console->buffer, G_PRIORITY_DEFAULT,
                               console->cancellable, on_read, console);
}

static void
on_accept (GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr (GError) error = NULL;
    GSocketConnection *connection =
        g_socket_listener_accept_finish (G_SOCKET_LISTENER (source), result, NULL, &error);

    if (!connection) {
        if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_warning ("console: %s", error->message);
        return;
    }
    ShimConsole *console = user_data;
    /* QEMU connects once; no one else gets in after it. */
    console->connection = connection;
    g_socket_listener_close (console->listener);
    read_more (console);
}

void
shim_console_drain (ShimConsole *console)
{
    if (!console || !console->connection)
        return;
    GSocket *socket = g_socket_connection_get_socket (console->connection);
    for (;;) {
        gssize n = g_socket_receive_with_blocking (socket, (char *) console->buffer,
                                                   sizeof console->buffer, FALSE, NULL, NULL);
        if (n <= 0)
            return;
        append (console, console->buffer, (gsize) n);
    }
}

ShimConsole *
shim_console_listen (const char *box_dir, GError **error)
{
    g_autofree char *path = g_build_filename (box_dir, "console.sock", NULL);
    g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
    ShimConsole *console = g_new0 (ShimConsole, 1);

    console->fd = -1;
    console->log_path = g_build_filename (box_dir, "console.log", NULL);
    console->old_path = g_build_filename (box_dir, "console.log.1", NULL);
    console->cancellable = g_cancellable_new ();
    console->listener = g_socket_listener_new ();
    if (!open_log (console, error) ||
        !g_socket_listener_add_address (console->listener, address, G_SOCKET_TYPE_STREAM,
                                        G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, error)) {
        g_prefix_error (error, "console: ");
        shim_console_free (console);
        return NULL;
    }
    g_socket_listener_accept_async (console->listener, console->cancellable, on_accept, console);
    return console;
}

void
shim_console_free (ShimConsole *console)
{
    if (!console)
        return;
    g_cancellable_cancel (console->cancellable);
    g_socket_listener_close (console->listener);
    g_clear_object (&console->listener);
    g_clear_object (&console->connection);
    g_clear_object (&console->cancellable);
    if (console->fd >= 0)
        close (console->fd);
    g_free (console->log_path);
    g_free (console->old_path);
    g_free (console);
}

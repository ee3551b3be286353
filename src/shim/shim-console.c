/* shim-console.c: the guest's serial console, kept in a bounded log.
 *
 * The guest writes what it likes to its console, as fast as it likes: a
 * file QEMU appended to would grow until the host's disk is full. QEMU
 * sends the console to BOXDIR/console.sock instead, and the monitor keeps
 * it in console.log, rotated at SHIM_CONSOLE_LOG_MAX bytes (shim-logfile.c),
 * with the newest output always at the end of console.log, where the crash
 * diagnosis reads it. */
#define G_LOG_DOMAIN "boxlite-shim"

#include "shim.h"

#define READ_CHUNK (64 * 1024)

struct _ShimConsole {
    ShimLogFile *log;
    GSocketListener *listener;
    GSocketConnection *connection;
    GCancellable *cancellable;
    guint8 buffer[READ_CHUNK];
};

static void read_more (ShimConsole *console);

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
    shim_log_file_append (console->log, console->buffer, (gsize) n);
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
        shim_log_file_append (console->log, console->buffer, (gsize) n);
    }
}

ShimConsole *
shim_console_listen (const char *box_dir, GError **error)
{
    g_autofree char *path = g_build_filename (box_dir, "console.sock", NULL);
    g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
    ShimConsole *console = g_new0 (ShimConsole, 1);

    console->cancellable = g_cancellable_new ();
    console->listener = g_socket_listener_new ();
    console->log = shim_log_file_open (box_dir, "console.log", SHIM_CONSOLE_LOG_MAX, error);
    if (!console->log ||
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
    shim_log_file_free (console->log);
    g_free (console);
}

/* ctr-serve.c: the daemon: the ttrpc socket `start` bound, a link per
 * containerd connection, and the way out (Shutdown, SIGTERM) that leaves
 * no box, mount or socket behind. */
#define G_LOG_DOMAIN "boxlite-ctr"

#include <glib-unix.h>
#include <signal.h>
#include <unistd.h>

#include "ctr.h"
#include "shim.pb-c.h"

void
bl_ctr_reply (BlTtrpcConn *conn, guint32 stream_id, const ProtobufCMessage *msg)
{
    gsize size = msg ? protobuf_c_message_get_packed_size (msg) : 0;
    guint8 *buf = g_malloc (size ? size : 1);

    if (msg)
        protobuf_c_message_pack (msg, buf);
    g_autoptr (GBytes) payload = g_bytes_new_take (buf, size);
    bl_ttrpc_conn_reply (conn, stream_id, BL_TTRPC_OK, NULL, payload);
}

void
bl_ctr_message_free (BlCtrMessage *msg)
{
    if (msg)
        protobuf_c_message_free_unpacked (msg, NULL);
}

BlCtrMessage *
bl_ctr_unpack (const ProtobufCMessageDescriptor *descriptor, BlTtrpcConn *conn, guint32 stream_id,
               GBytes *payload)
{
    gsize len = 0;
    const guint8 *data = g_bytes_get_data (payload, &len);
    BlCtrMessage *msg = protobuf_c_message_unpack (descriptor, NULL, len, data);

    if (!msg)
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_INVALID_ARGUMENT, "not a valid %s",
                            descriptor->name);
    return msg;
}

void
bl_ctr_reply_error (BlTtrpcConn *conn, guint32 stream_id, BlTtrpcCode code, const char *format, ...)
{
    va_list args;

    va_start (args, format);
    g_autofree char *text = g_strdup_vprintf (format, args);
    va_end (args);
    g_debug ("reply %d: %s", code, text);
    bl_ttrpc_conn_reply (conn, stream_id, code, text, NULL);
}

static void
on_request (BlTtrpcConn *conn, gpointer data, gpointer user_data)
{
    BlTtrpcRequest *request = data;
    BlCtrShim *shim = user_data;

    g_debug ("%s/%s on stream %u", request->service, request->method, request->stream_id);
    if (!g_str_equal (request->service, BL_CTR_TASK_SERVICE)) {
        bl_ctr_reply_error (conn, request->stream_id, BL_TTRPC_UNIMPLEMENTED,
                            "service %s is not served", request->service);
        return;
    }
    bl_ctr_task_dispatch (shim, conn, request);
}

static void
on_closed (BlTtrpcConn *conn, const GError *reason, gpointer user_data)
{
    BlCtrShim *shim = user_data;
    GList *link = g_list_find (shim->conns, conn);

    if (link) {
        shim->conns = g_list_delete_link (shim->conns, link);
        g_object_unref (conn);
    }
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source,
             gpointer user_data)
{
    BlCtrShim *shim = user_data;
    BlTtrpcConn *conn = bl_ttrpc_conn_new (G_IO_STREAM (connection));

    g_signal_connect (conn, "request", G_CALLBACK (on_request), shim);
    g_signal_connect (conn, "closed", G_CALLBACK (on_closed), shim);
    shim->conns = g_list_prepend (shim->conns, conn);
    return TRUE;
}

/* Events still queued (a TaskDelete) are worth a few seconds' wait. */
#define QUIT_TICKS_MAX 50

static gboolean
quit_now (gpointer data)
{
    BlCtrShim *shim = data;

    if (!g_queue_is_empty (&shim->events) && ++shim->quit_ticks < QUIT_TICKS_MAX)
        return G_SOURCE_CONTINUE;
    g_main_loop_quit (shim->loop);
    return G_SOURCE_REMOVE;
}

/* Leaves the loop once the replies and events in flight had a moment to go
 * out. */
void
bl_ctr_shim_quit_when_idle (BlCtrShim *shim)
{
    if (shim->shutting_down)
        return;
    shim->shutting_down = TRUE;
    g_timeout_add (100, quit_now, shim);
}

static gboolean
on_signal (gpointer data)
{
    g_message ("terminated; removing the task's box");
    g_main_loop_quit (((BlCtrShim *) data)->loop);
    return G_SOURCE_REMOVE;
}

/* Whatever the way out, the box, its home, the mount and the socket go. */
static void
cleanup (BlCtrShim *shim)
{
    g_autoptr (GError) error = NULL;

    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, shim->containers);
    while (g_hash_table_iter_next (&iter, NULL, &value)) {
        BlCtrContainer *container = value;
        /* Its executions go before the box does. */
        g_hash_table_remove_all (container->processes);
        if (!bl_ctr_pod_unshare (container, &error) ||
            (container->rootfs && !bl_ctr_rootfs_unmount (container->rootfs, &error))) {
            g_warning ("%s", error->message);
            g_clear_error (&error);
        }
    }
    g_hash_table_remove_all (shim->containers);
    g_clear_object (&shim->box);
    g_clear_object (&shim->runtime);
    if (shim->home && !bl_ctr_cleanup_home (shim->home, &error))
        g_warning ("%s", error->message);
    unlink (shim->flags.socket);
}

int
bl_ctr_serve (BlCtrFlags *flags, int listen_fd)
{
    BlCtrShim shim = { .flags = *flags };
    g_autoptr (GError) error = NULL;
    g_autoptr (GSocket) socket = g_socket_new_from_fd (listen_fd, &error);

    if (!socket) {
        g_printerr ("containerd-shim-boxlite-v2: %s\n", error->message);
        return 1;
    }
    /* A containerd that went away must not kill us through a pipe. */
    signal (SIGPIPE, SIG_IGN);
    shim.loop = g_main_loop_new (NULL, FALSE);
    shim.containers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                             (GDestroyNotify) bl_ctr_container_free);
    g_queue_init (&shim.events);
    shim.home = bl_ctr_home_path (flags);
    shim.service = g_socket_service_new ();
    if (!g_socket_listener_add_socket (G_SOCKET_LISTENER (shim.service), socket, NULL, &error)) {
        g_printerr ("containerd-shim-boxlite-v2: %s\n", error->message);
        return 1;
    }
    g_signal_connect (shim.service, "incoming", G_CALLBACK (on_incoming), &shim);
    g_unix_signal_add (SIGTERM, on_signal, &shim);
    g_unix_signal_add (SIGINT, on_signal, &shim);
    g_main_loop_run (shim.loop);

    g_socket_service_stop (shim.service);
    g_socket_listener_close (G_SOCKET_LISTENER (shim.service));
    g_list_free_full (shim.conns, g_object_unref);
    cleanup (&shim);
    bl_ctr_events_clear (&shim);
    g_hash_table_unref (shim.containers);
    g_clear_object (&shim.service);
    g_main_loop_unref (shim.loop);
    g_free (shim.home);
    /* The flags belong to the caller. */
    return 0;
}

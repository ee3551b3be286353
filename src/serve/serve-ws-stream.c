/* serve-ws-stream.c: the stream under an attach WebSocket, counting what
 * of the binary frames the server handed to libsoup has left for the
 * client.
 *
 * libsoup 3.2 queues every frame it is given and says nothing of how much
 * it still holds, so a client that stops reading would let the server read
 * a command's output into that queue without end. Between libsoup and the
 * connection this stream sees every byte written: it follows the frames
 * (bl_serve_ws_follow()) and adds up the payload bytes of binary ones. What was handed minus what
 * was written is what waits; serve-exec.c reads no more output while that is too much, and is told
 * after each write.
 *
 * Input and closing are the connection's own. */
#define G_LOG_DOMAIN "boxlite-serve"

#include "serve.h"

/* ---- the output side ---------------------------------------------------- */

#define BL_TYPE_WS_OUTPUT (bl_ws_output_get_type ())
G_DECLARE_FINAL_TYPE (BlWsOutput, bl_ws_output, BL, WS_OUTPUT, GOutputStream)

struct _BlWsOutput {
    GOutputStream parent;
    GOutputStream *base; /* pollable */

    BlServeWsFollow written;
    BlServeWrittenFunc notify;
    gpointer notify_data;
};

static void bl_ws_output_pollable_init (GPollableOutputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (BlWsOutput, bl_ws_output, G_TYPE_OUTPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                bl_ws_output_pollable_init))

static void
wrote (BlWsOutput *self, const void *buf, gssize n)
{
    if (n <= 0)
        return;
    bl_serve_ws_follow (&self->written, buf, (gsize) n);
    if (self->notify)
        self->notify (self->notify_data);
}

static gssize
bl_ws_output_write (GOutputStream *stream, const void *buf, gsize count, GCancellable *cancellable,
                    GError **error)
{
    BlWsOutput *self = BL_WS_OUTPUT (stream);
    gssize n = g_output_stream_write (self->base, buf, count, cancellable, error);

    wrote (self, buf, n);
    return n;
}

static gboolean
bl_ws_output_flush (GOutputStream *stream, GCancellable *cancellable, GError **error)
{
    return g_output_stream_flush (BL_WS_OUTPUT (stream)->base, cancellable, error);
}

/* The connection closes the base (see bl_ws_stream_close). */
static gboolean
bl_ws_output_close (GOutputStream *stream, GCancellable *cancellable, GError **error)
{
    return TRUE;
}

static gboolean
bl_ws_output_can_poll (GPollableOutputStream *stream)
{
    return TRUE;
}

static gboolean
bl_ws_output_is_writable (GPollableOutputStream *stream)
{
    return g_pollable_output_stream_is_writable (
        G_POLLABLE_OUTPUT_STREAM (BL_WS_OUTPUT (stream)->base));
}

static GSource *
bl_ws_output_create_source (GPollableOutputStream *stream, GCancellable *cancellable)
{
    BlWsOutput *self = BL_WS_OUTPUT (stream);
    g_autoptr (GSource) base =
        g_pollable_output_stream_create_source (G_POLLABLE_OUTPUT_STREAM (self->base), NULL);

    return g_pollable_source_new_full (stream, base, cancellable);
}

static gssize
bl_ws_output_write_nonblocking (GPollableOutputStream *stream, const void *buf, gsize count,
                                GError **error)
{
    BlWsOutput *self = BL_WS_OUTPUT (stream);
    gssize n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (self->base),
                                                           buf, count, NULL, error);

    wrote (self, buf, n);
    return n;
}

static void
bl_ws_output_pollable_init (GPollableOutputStreamInterface *iface)
{
    iface->can_poll = bl_ws_output_can_poll;
    iface->is_writable = bl_ws_output_is_writable;
    iface->create_source = bl_ws_output_create_source;
    iface->write_nonblocking = bl_ws_output_write_nonblocking;
}

static void
bl_ws_output_finalize (GObject *object)
{
    g_clear_object (&BL_WS_OUTPUT (object)->base);
    G_OBJECT_CLASS (bl_ws_output_parent_class)->finalize (object);
}

static void
bl_ws_output_class_init (BlWsOutputClass *klass)
{
    GOutputStreamClass *stream_class = G_OUTPUT_STREAM_CLASS (klass);

    G_OBJECT_CLASS (klass)->finalize = bl_ws_output_finalize;
    stream_class->write_fn = bl_ws_output_write;
    stream_class->flush = bl_ws_output_flush;
    stream_class->close_fn = bl_ws_output_close;
}

static void
bl_ws_output_init (BlWsOutput *self)
{
}

/* ---- the connection ----------------------------------------------------- */

#define BL_TYPE_WS_STREAM (bl_ws_stream_get_type ())
G_DECLARE_FINAL_TYPE (BlWsStream, bl_ws_stream, BL, WS_STREAM, GIOStream)

struct _BlWsStream {
    GIOStream parent;
    GIOStream *base;
    BlWsOutput *output;
};

G_DEFINE_TYPE (BlWsStream, bl_ws_stream, G_TYPE_IO_STREAM)

static GInputStream *
bl_ws_stream_get_input (GIOStream *stream)
{
    return g_io_stream_get_input_stream (BL_WS_STREAM (stream)->base);
}

static GOutputStream *
bl_ws_stream_get_output (GIOStream *stream)
{
    return G_OUTPUT_STREAM (BL_WS_STREAM (stream)->output);
}

static gboolean
bl_ws_stream_close (GIOStream *stream, GCancellable *cancellable, GError **error)
{
    return g_io_stream_close (BL_WS_STREAM (stream)->base, cancellable, error);
}

static void
base_closed (GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr (GTask) task = data;
    GError *error = NULL;

    if (g_io_stream_close_finish (G_IO_STREAM (source), result, &error))
        g_task_return_boolean (task, TRUE);
    else
        g_task_return_error (task, error);
}

/* On this thread, as libsoup closes it: the base may be a TLS connection
 * that is not to be closed from a worker thread. */
static void
bl_ws_stream_close_async (GIOStream *stream, int priority, GCancellable *cancellable,
                          GAsyncReadyCallback callback, gpointer data)
{
    GTask *task = g_task_new (stream, cancellable, callback, data);

    g_io_stream_close_async (BL_WS_STREAM (stream)->base, priority, cancellable, base_closed, task);
}

static gboolean
bl_ws_stream_close_finish (GIOStream *stream, GAsyncResult *result, GError **error)
{
    return g_task_propagate_boolean (G_TASK (result), error);
}

static void
bl_ws_stream_finalize (GObject *object)
{
    BlWsStream *self = BL_WS_STREAM (object);

    g_clear_object (&self->output);
    g_clear_object (&self->base);
    G_OBJECT_CLASS (bl_ws_stream_parent_class)->finalize (object);
}

static void
bl_ws_stream_class_init (BlWsStreamClass *klass)
{
    GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

    G_OBJECT_CLASS (klass)->finalize = bl_ws_stream_finalize;
    stream_class->get_input_stream = bl_ws_stream_get_input;
    stream_class->get_output_stream = bl_ws_stream_get_output;
    stream_class->close_fn = bl_ws_stream_close;
    stream_class->close_async = bl_ws_stream_close_async;
    stream_class->close_finish = bl_ws_stream_close_finish;
}

static void
bl_ws_stream_init (BlWsStream *self)
{
}

/**
 * bl_serve_ws_stream_new:
 * @base: a connection whose streams can be polled
 *
 * Returns: (transfer full): @base with its output followed
 */
GIOStream *
bl_serve_ws_stream_new (GIOStream *base)
{
    BlWsStream *self = g_object_new (BL_TYPE_WS_STREAM, NULL);

    self->base = g_object_ref (base);
    self->output = g_object_new (BL_TYPE_WS_OUTPUT, NULL);
    self->output->base = g_object_ref (g_io_stream_get_output_stream (base));
    return G_IO_STREAM (self);
}

/* The payload bytes of binary frames written so far. */
guint64
bl_serve_ws_stream_binary_written (GIOStream *stream)
{
    return BL_WS_STREAM (stream)->output->written.binary;
}

/* @func (@data) is called after each write; NULL to stop. */
void
bl_serve_ws_stream_set_notify (GIOStream *stream, BlServeWrittenFunc func, gpointer data)
{
    BlWsOutput *output = BL_WS_STREAM (stream)->output;

    output->notify = func;
    output->notify_data = data;
}

/* ttrpc-conn.c: one ttrpc link: bounded reads, replies queued in order. */
#define G_LOG_DOMAIN "boxlite-ctr"

#include "ttrpc-conn.h"

#include <boxlite/boxlite-error.h>

struct _BlTtrpcConn {
    GObject parent_instance;

    GIOStream *stream;
    GCancellable *cancellable;

    guint8 header_buf[BL_TTRPC_HEADER_SIZE];
    BlTtrpcHeader header;
    guint8 *body;
    guint32 last_stream_id;
    GHashTable *in_flight; /* stream id -> itself */

    GQueue out;        /* GBytes *, whole messages */
    gsize out_bytes;   /* queued and not yet written */
    gsize head_offset; /* written from the head of out */
    gboolean writing;
    gboolean closed;
};

G_DEFINE_FINAL_TYPE (BlTtrpcConn, bl_ttrpc_conn, G_TYPE_OBJECT)

enum { SIGNAL_REQUEST, SIGNAL_CLOSED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void read_next (BlTtrpcConn *self);
static void write_next (BlTtrpcConn *self);

void
bl_ttrpc_conn_close (BlTtrpcConn *self, const GError *reason)
{
    if (self->closed)
        return;
    self->closed = TRUE;
    g_cancellable_cancel (self->cancellable);
    g_queue_clear_full (&self->out, (GDestroyNotify) g_bytes_unref);
    self->out_bytes = 0;
    if (reason)
        g_debug ("ttrpc client dropped: %s", reason->message);
    g_io_stream_close (self->stream, NULL, NULL);
    g_object_ref (self);
    g_signal_emit (self, signals[SIGNAL_CLOSED], 0, reason);
    g_object_unref (self);
}

gboolean
bl_ttrpc_conn_is_closed (BlTtrpcConn *self)
{
    return self->closed;
}

/* Ends the link on @error (owned) unless it is closing already. */
static void
fail (BlTtrpcConn *self, GError *error)
{
    if (!self->closed)
        bl_ttrpc_conn_close (self, error);
    g_error_free (error);
}

static void
dispatch (BlTtrpcConn *self, const guint8 *body, gsize len)
{
    GError *error = NULL;
    g_autoptr (BlTtrpcRequest) request =
        bl_ttrpc_request_parse (self->header.stream_id, body, len, &error);

    if (!request) {
        fail (self, error);
        return;
    }
    if (g_hash_table_size (self->in_flight) >= BL_TTRPC_MAX_IN_FLIGHT) {
        fail (self, g_error_new (BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                                 "ttrpc client has %u requests in flight", BL_TTRPC_MAX_IN_FLIGHT));
        return;
    }
    g_hash_table_add (self->in_flight, GUINT_TO_POINTER (request->stream_id));
    g_signal_emit (self, signals[SIGNAL_REQUEST], 0, request);
}

/* Finishes a read_all; FALSE (link closed) on an error or a short read. */
static gboolean
read_done (BlTtrpcConn *self, GAsyncResult *res, gsize want, gboolean *eof)
{
    GError *error = NULL;
    gsize got = 0;

    if (!g_input_stream_read_all_finish (g_io_stream_get_input_stream (self->stream), res, &got,
                                         &error)) {
        fail (self, error);
        return FALSE;
    }
    if (got == want)
        return TRUE;
    if (got == 0 && eof) {
        *eof = TRUE;
        bl_ttrpc_conn_close (self, NULL);
        return FALSE;
    }
    fail (self,
          g_error_new (BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL, "ttrpc link ended inside a message"));
    return FALSE;
}

static void
on_body (GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr (BlTtrpcConn) self = user_data;
    g_autofree guint8 *body = g_steal_pointer (&self->body);

    if (!read_done (self, res, self->header.length, NULL))
        return;
    dispatch (self, body, self->header.length);
    if (!self->closed)
        read_next (self);
}

static void
on_header (GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr (BlTtrpcConn) self = user_data;
    GError *error = NULL;
    gboolean eof = FALSE;

    if (!read_done (self, res, BL_TTRPC_HEADER_SIZE, &eof))
        return;
    if (!bl_ttrpc_header_parse_request (self->header_buf, sizeof self->header_buf,
                                        self->last_stream_id, &self->header, &error)) {
        fail (self, error);
        return;
    }
    self->last_stream_id = self->header.stream_id;
    if (self->header.length == 0) {
        dispatch (self, NULL, 0);
        if (!self->closed)
            read_next (self);
        return;
    }
    /* Bounded by the header check. */
    self->body = g_malloc (self->header.length);
    g_input_stream_read_all_async (g_io_stream_get_input_stream (self->stream), self->body,
                                   self->header.length, G_PRIORITY_DEFAULT, self->cancellable,
                                   on_body, g_object_ref (self));
}

static void
read_next (BlTtrpcConn *self)
{
    g_input_stream_read_all_async (g_io_stream_get_input_stream (self->stream), self->header_buf,
                                   sizeof self->header_buf, G_PRIORITY_DEFAULT, self->cancellable,
                                   on_header, g_object_ref (self));
}

static void
on_written (GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr (BlTtrpcConn) self = user_data;
    GError *error = NULL;
    gssize n = g_output_stream_write_bytes_finish (G_OUTPUT_STREAM (source), res, &error);

    self->writing = FALSE;
    if (n < 0) {
        fail (self, error);
        return;
    }
    if (self->closed)
        return;
    GBytes *head = g_queue_peek_head (&self->out);
    self->head_offset += (gsize) n;
    self->out_bytes -= (gsize) n;
    if (self->head_offset == g_bytes_get_size (head)) {
        g_bytes_unref (g_queue_pop_head (&self->out));
        self->head_offset = 0;
    }
    write_next (self);
}

static void
write_next (BlTtrpcConn *self)
{
    if (self->writing || self->closed || g_queue_is_empty (&self->out))
        return;
    GBytes *head = g_queue_peek_head (&self->out);
    g_autoptr (GBytes) rest = g_bytes_new_from_bytes (head, self->head_offset,
                                                      g_bytes_get_size (head) - self->head_offset);
    self->writing = TRUE;
    g_output_stream_write_bytes_async (g_io_stream_get_output_stream (self->stream), rest,
                                       G_PRIORITY_DEFAULT, self->cancellable, on_written,
                                       g_object_ref (self));
}

gboolean
bl_ttrpc_conn_reply (BlTtrpcConn *self, guint32 stream_id, BlTtrpcCode code, const char *message,
                     GBytes *payload)
{
    g_return_val_if_fail (BL_IS_TTRPC_CONN (self), FALSE);

    if (self->closed || !g_hash_table_remove (self->in_flight, GUINT_TO_POINTER (stream_id)))
        return FALSE;
    GBytes *msg = bl_ttrpc_response_encode (stream_id, code, message, payload);
    gsize size = g_bytes_get_size (msg);
    if (self->out_bytes + size > BL_TTRPC_MAX_QUEUED) {
        g_bytes_unref (msg);
        fail (self, g_error_new (BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                                 "ttrpc client is not reading its replies"));
        return FALSE;
    }
    g_queue_push_tail (&self->out, msg);
    self->out_bytes += size;
    write_next (self);
    return TRUE;
}

static void
bl_ttrpc_conn_dispose (GObject *object)
{
    BlTtrpcConn *self = BL_TTRPC_CONN (object);

    g_cancellable_cancel (self->cancellable);
    G_OBJECT_CLASS (bl_ttrpc_conn_parent_class)->dispose (object);
}

static void
bl_ttrpc_conn_finalize (GObject *object)
{
    BlTtrpcConn *self = BL_TTRPC_CONN (object);

    g_queue_clear_full (&self->out, (GDestroyNotify) g_bytes_unref);
    g_hash_table_unref (self->in_flight);
    g_clear_object (&self->cancellable);
    g_clear_object (&self->stream);
    g_free (self->body);
    G_OBJECT_CLASS (bl_ttrpc_conn_parent_class)->finalize (object);
}

static void
bl_ttrpc_conn_class_init (BlTtrpcConnClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS (klass);

    object_class->dispose = bl_ttrpc_conn_dispose;
    object_class->finalize = bl_ttrpc_conn_finalize;
    signals[SIGNAL_REQUEST] = g_signal_new ("request", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                            0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
    signals[SIGNAL_CLOSED] = g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
bl_ttrpc_conn_init (BlTtrpcConn *self)
{
    g_queue_init (&self->out);
    self->in_flight = g_hash_table_new (NULL, NULL);
    self->cancellable = g_cancellable_new ();
}

BlTtrpcConn *
bl_ttrpc_conn_new (GIOStream *stream)
{
    BlTtrpcConn *self = g_object_new (BL_TYPE_TTRPC_CONN, NULL);

    self->stream = g_object_ref (stream);
    read_next (self);
    return self;
}

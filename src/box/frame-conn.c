/* frame-conn.c: framed, validated, queued I/O for agent and monitor links. */
#define G_LOG_DOMAIN "boxlite"

#include "frame-conn.h"

#include <boxlite/boxlite-error.h>

struct _BlFrameConn {
    GObject parent_instance;

    GIOStream *stream;
    GInputStream *in;
    GOutputStream *out;
    char *peer_name;
    GCancellable *cancellable;

    guint8 header[BL_PROTO_HEADER_SIZE];
    struct bl_frame_header hdr;
    guint8 *payload;

    GQueue out_queue; /* GBytes *, each a whole frame */
    gsize out_queued;
    gsize out_offset; /* into the head of out_queue */
    gboolean writing;
    gboolean closed;
};

G_DEFINE_FINAL_TYPE (BlFrameConn, bl_frame_conn, G_TYPE_OBJECT)

enum { SIGNAL_FRAME, SIGNAL_CLOSED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void read_header (BlFrameConn *self);
static void flush (BlFrameConn *self);

void
bl_frame_conn_close (BlFrameConn *self, const GError *reason)
{
    if (self->closed)
        return;
    self->closed = TRUE;
    g_cancellable_cancel (self->cancellable);
    g_queue_clear_full (&self->out_queue, (GDestroyNotify) g_bytes_unref);
    self->out_queued = 0;
    if (reason)
        g_debug ("%s: link closed: %s", self->peer_name, reason->message);
    g_io_stream_close (self->stream, NULL, NULL);
    g_object_ref (self);
    g_signal_emit (self, signals[SIGNAL_CLOSED], 0, reason);
    g_object_unref (self);
}

static void
fail (BlFrameConn *self, GError *error)
{
    /* Our own cancellation on close is not news. */
    if (!self->closed)
        bl_frame_conn_close (self, error);
    g_error_free (error);
}

/* Finishes a read; on failure closes the link and drops the read's reference. */
static gboolean
read_finished (BlFrameConn *self, GObject *source, GAsyncResult *res, gsize *got)
{
    GError *error = NULL;

    if (g_input_stream_read_all_finish (G_INPUT_STREAM (source), res, got, &error))
        return TRUE;
    fail (self, error);
    g_object_unref (self);
    return FALSE;
}

static void
on_payload (GObject *source, GAsyncResult *res, gpointer user_data)
{
    BlFrameConn *self = user_data;
    gsize got = 0;

    if (!read_finished (self, source, res, &got))
        return;
    if (got != self->hdr.len) {
        fail (self, g_error_new (BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                                 "%s: link ended inside a frame", self->peer_name));
        g_object_unref (self);
        return;
    }
    g_autoptr (GBytes) payload = g_bytes_new_take (g_steal_pointer (&self->payload), got);
    g_signal_emit (self, signals[SIGNAL_FRAME], 0, (guint) self->hdr.channel,
                   (guint) self->hdr.type, payload);
    if (!self->closed)
        read_header (self);
    g_object_unref (self);
}

static void
on_header (GObject *source, GAsyncResult *res, gpointer user_data)
{
    BlFrameConn *self = user_data;
    gsize got = 0;

    if (!read_finished (self, source, res, &got))
        return;
    if (got == 0) {
        bl_frame_conn_close (self, NULL);
        g_object_unref (self);
        return;
    }
    if (got != BL_PROTO_HEADER_SIZE || bl_proto_decode_header (self->header, &self->hdr) < 0) {
        fail (self, g_error_new (BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                                 "%s sent a malformed frame header", self->peer_name));
        g_object_unref (self);
        return;
    }
    if (self->hdr.len == 0) {
        g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
        g_signal_emit (self, signals[SIGNAL_FRAME], 0, (guint) self->hdr.channel,
                       (guint) self->hdr.type, empty);
        if (!self->closed)
            read_header (self);
        g_object_unref (self);
        return;
    }
    /* The header was validated, so this allocation is bounded. */
    self->payload = g_malloc (self->hdr.len);
    g_input_stream_read_all_async (self->in, self->payload, self->hdr.len, G_PRIORITY_DEFAULT,
                                   self->cancellable, on_payload, self);
}

static void
read_header (BlFrameConn *self)
{
    g_input_stream_read_all_async (self->in, self->header, sizeof self->header, G_PRIORITY_DEFAULT,
                                   self->cancellable, on_header, g_object_ref (self));
}

static void
on_written (GObject *source, GAsyncResult *res, gpointer user_data)
{
    BlFrameConn *self = user_data;
    g_autoptr (GError) error = NULL;
    gssize n = g_output_stream_write_bytes_finish (G_OUTPUT_STREAM (source), res, &error);

    self->writing = FALSE;
    if (n < 0) {
        fail (self, g_steal_pointer (&error));
        g_object_unref (self);
        return;
    }
    if (!self->closed) {
        GBytes *head = g_queue_peek_head (&self->out_queue);
        self->out_offset += (gsize) n;
        self->out_queued -= (gsize) n;
        if (self->out_offset == g_bytes_get_size (head)) {
            g_bytes_unref (g_queue_pop_head (&self->out_queue));
            self->out_offset = 0;
        }
        flush (self);
    }
    g_object_unref (self);
}

static void
flush (BlFrameConn *self)
{
    if (self->writing || self->closed || g_queue_is_empty (&self->out_queue))
        return;
    GBytes *head = g_queue_peek_head (&self->out_queue);
    g_autoptr (GBytes) rest =
        g_bytes_new_from_bytes (head, self->out_offset, g_bytes_get_size (head) - self->out_offset);
    self->writing = TRUE;
    g_output_stream_write_bytes_async (self->out, rest, G_PRIORITY_DEFAULT, self->cancellable,
                                       on_written, g_object_ref (self));
}

gboolean
bl_frame_conn_send (BlFrameConn *self, guint32 channel, guint8 type, const void *data, gsize len)
{
    g_return_val_if_fail (len <= BL_PROTO_MAX_PAYLOAD, FALSE);

    if (self->closed)
        return FALSE;
    if (self->out_queued + len > BL_FRAME_CONN_MAX_QUEUED) {
        fail (self, g_error_new (BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                                 "%s is not reading; dropped the link", self->peer_name));
        return FALSE;
    }
    guint8 *frame = g_malloc (BL_PROTO_HEADER_SIZE + len);
    struct bl_frame_header h = { .len = (uint32_t) len, .channel = channel, .type = type };
    bl_proto_encode_header (frame, &h);
    if (len)
        memcpy (frame + BL_PROTO_HEADER_SIZE, data, len);
    g_queue_push_tail (&self->out_queue, g_bytes_new_take (frame, BL_PROTO_HEADER_SIZE + len));
    self->out_queued += BL_PROTO_HEADER_SIZE + len;
    flush (self);
    return TRUE;
}

gboolean
bl_frame_conn_send_json (BlFrameConn *self, guint32 channel, JsonNode *node)
{
    gsize len = 0;
    g_autofree char *text = json_to_string (node, FALSE);

    len = strlen (text);
    if (len > BL_PROTO_MAX_PAYLOAD) {
        g_warning ("%s: control message of %zu bytes is too large", self->peer_name, len);
        return FALSE;
    }
    return bl_frame_conn_send (self, channel, BL_FRAME_CONTROL, text, len);
}

gboolean
bl_frame_conn_send_credit (BlFrameConn *self, guint32 channel, guint32 bytes)
{
    guint8 buf[4];

    bl_proto_put_u32 (buf, bytes);
    return bl_frame_conn_send (self, channel, BL_FRAME_CREDIT, buf, sizeof buf);
}

gboolean
bl_frame_conn_is_closed (BlFrameConn *self)
{
    return self->closed;
}

const char *
bl_frame_conn_get_peer_name (BlFrameConn *self)
{
    return self->peer_name;
}

JsonObject *
bl_frame_parse_control (GBytes *payload, GError **error)
{
    gsize len = 0;
    const char *data = g_bytes_get_data (payload, &len);
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();
    g_autoptr (GError) local = NULL;

    if (!g_utf8_validate (data, (gssize) len, NULL)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL, "control message is not UTF-8");
        return NULL;
    }
    if (!json_parser_load_from_data (parser, data, (gssize) len, &local)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                     "control message is not JSON: %s", local->message);
        return NULL;
    }
    JsonNode *root = json_parser_get_root (parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                     "control message is not a JSON object");
        return NULL;
    }
    return json_object_ref (json_node_get_object (root));
}

static void
bl_frame_conn_dispose (GObject *object)
{
    BlFrameConn *self = BL_FRAME_CONN (object);

    if (self->cancellable)
        g_cancellable_cancel (self->cancellable);
    G_OBJECT_CLASS (bl_frame_conn_parent_class)->dispose (object);
}

static void
bl_frame_conn_finalize (GObject *object)
{
    BlFrameConn *self = BL_FRAME_CONN (object);

    g_queue_clear_full (&self->out_queue, (GDestroyNotify) g_bytes_unref);
    g_clear_object (&self->cancellable);
    g_clear_object (&self->stream);
    g_free (self->payload);
    g_free (self->peer_name);
    G_OBJECT_CLASS (bl_frame_conn_parent_class)->finalize (object);
}

static void
bl_frame_conn_class_init (BlFrameConnClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS (klass);

    object_class->dispose = bl_frame_conn_dispose;
    object_class->finalize = bl_frame_conn_finalize;

    signals[SIGNAL_FRAME] =
        g_signal_new ("frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                      G_TYPE_NONE, 3, G_TYPE_UINT, G_TYPE_UINT, G_TYPE_BYTES);
    signals[SIGNAL_CLOSED] = g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
bl_frame_conn_init (BlFrameConn *self)
{
    g_queue_init (&self->out_queue);
    self->cancellable = g_cancellable_new ();
}

BlFrameConn *
bl_frame_conn_new (GIOStream *stream, const char *peer_name)
{
    BlFrameConn *self = g_object_new (BL_TYPE_FRAME_CONN, NULL);

    self->stream = g_object_ref (stream);
    self->in = g_io_stream_get_input_stream (stream);
    self->out = g_io_stream_get_output_stream (stream);
    self->peer_name = g_strdup (peer_name);
    read_header (self);
    return self;
}

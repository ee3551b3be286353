/* frame-conn.h: a boxlite frame link (see protocol/bl_proto.h) over a GIOStream.
 *
 * Reads frames with async I/O on the thread-default GMainContext that was
 * current at bl_frame_conn_new(), validates every header, and hands each frame
 * to the "frame" signal. Writes are queued and flushed in order. The first
 * error (peer closed, malformed header, write failure, queue overflow) closes
 * the link and emits "closed" once with the reason.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "bl_proto.h"

G_BEGIN_DECLS

#define BL_TYPE_FRAME_CONN (bl_frame_conn_get_type ())
G_DECLARE_FINAL_TYPE (BlFrameConn, bl_frame_conn, BL, FRAME_CONN, GObject)

/* Bytes of unsent output after which the peer is judged not to be reading. */
#define BL_FRAME_CONN_MAX_QUEUED (16 * 1024 * 1024)

/* Takes a reference on @stream. Reading starts at once.
 * Signals:
 *   "frame"  (guint channel, guint type, GBytes *payload)
 *   "closed" (const GError *reason)   reason is NULL for a clean EOF
 */
BlFrameConn *bl_frame_conn_new (GIOStream *stream, const char *peer_name);

/* Queues one frame; @len must be <= BL_PROTO_MAX_PAYLOAD. Returns FALSE when
 * the link is closed or the queue overflowed (which closes it). */
gboolean bl_frame_conn_send (BlFrameConn *self, guint32 channel, guint8 type, const void *data,
                             gsize len);
/* Queues a CONTROL frame holding @node serialized as JSON. */
gboolean bl_frame_conn_send_json (BlFrameConn *self, guint32 channel, JsonNode *node);
gboolean bl_frame_conn_send_credit (BlFrameConn *self, guint32 channel, guint32 bytes);

/* Closes the link; "closed" is emitted with @reason (may be NULL). */
void bl_frame_conn_close (BlFrameConn *self, const GError *reason);
gboolean bl_frame_conn_is_closed (BlFrameConn *self);
const char *bl_frame_conn_get_peer_name (BlFrameConn *self);

/* Parses a CONTROL payload: must be one JSON object. */
JsonObject *bl_frame_parse_control (GBytes *payload, GError **error);

G_END_DECLS

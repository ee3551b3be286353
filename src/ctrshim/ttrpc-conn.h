/* ttrpc-conn.h: the server end of one ttrpc link over a GIOStream.
 *
 * Reads requests with async I/O on the thread-default GMainContext current
 * at bl_ttrpc_conn_new(), checks each one (ttrpc-frame.h) and hands it to
 * the "request" signal. The handler answers at once or later with
 * bl_ttrpc_conn_reply() (a Wait answers when the process exits), so many
 * requests may be in flight; past BL_TTRPC_MAX_IN_FLIGHT the client is
 * judged hostile. The first error closes the link and emits "closed" once.
 */
#pragma once

#include <gio/gio.h>

#include "ttrpc-frame.h"

G_BEGIN_DECLS

#define BL_TTRPC_MAX_IN_FLIGHT 128
/* Bytes of unsent replies after which the client is judged not to read. */
#define BL_TTRPC_MAX_QUEUED (16u << 20)

#define BL_TYPE_TTRPC_CONN (bl_ttrpc_conn_get_type ())
G_DECLARE_FINAL_TYPE (BlTtrpcConn, bl_ttrpc_conn, BL, TTRPC_CONN, GObject)

/* Takes a reference on @stream; reading starts at once.
 * Signals:
 *   "request" (gpointer BlTtrpcRequest *, owned by the link for the call)
 *   "closed"  (const GError *reason)   NULL for a clean end
 */
BlTtrpcConn *bl_ttrpc_conn_new (GIOStream *stream);

/* Answers the request in flight on @stream_id. Returns FALSE when the link
 * is closed, the stream has no request in flight, or the queue overflowed. */
gboolean bl_ttrpc_conn_reply (BlTtrpcConn *self, guint32 stream_id, BlTtrpcCode code,
                              const char *message, GBytes *payload);

void bl_ttrpc_conn_close (BlTtrpcConn *self, const GError *reason);
gboolean bl_ttrpc_conn_is_closed (BlTtrpcConn *self);

G_END_DECLS

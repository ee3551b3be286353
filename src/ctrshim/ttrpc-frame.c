/* ttrpc-frame.c: ttrpc headers and envelopes, checked before use. */
#define G_LOG_DOMAIN "boxlite-ctr"

#include "ttrpc-frame.h"

#include <string.h>

#include "bl_proto.h"
#include "ttrpc.pb-c.h"
#include <boxlite/boxlite-error.h>

void
bl_ttrpc_header_encode (guint8 out[BL_TTRPC_HEADER_SIZE], const BlTtrpcHeader *header)
{
    bl_proto_put_u32 (out, header->length);
    bl_proto_put_u32 (out + 4, header->stream_id);
    out[8] = header->type;
    out[9] = header->flags;
}

/* Sets @error (a client breaking the protocol) and yields FALSE. */
#define protocol_error(error, ...)                                                                 \
    (g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL, __VA_ARGS__), FALSE)

gboolean
bl_ttrpc_header_parse_request (const guint8 *buf, gsize len, guint32 last_stream_id,
                               BlTtrpcHeader *out, GError **error)
{
    if (len < BL_TTRPC_HEADER_SIZE)
        return protocol_error (error, "ttrpc header of %zu bytes, need %d", len,
                               BL_TTRPC_HEADER_SIZE);
    out->length = bl_proto_get_u32 (buf);
    out->stream_id = bl_proto_get_u32 (buf + 4);
    out->type = buf[8];
    out->flags = buf[9];
    if (out->type != BL_TTRPC_TYPE_REQUEST)
        return protocol_error (error, "ttrpc message of type %u where a request was due",
                               out->type);
    if (out->flags != 0)
        return protocol_error (error, "ttrpc request with flags 0x%x", out->flags);
    if (out->length > BL_TTRPC_MAX_MESSAGE)
        return protocol_error (error, "ttrpc request of %u bytes, the limit is %u", out->length,
                               BL_TTRPC_MAX_MESSAGE);
    if (out->stream_id % 2 != 1)
        return protocol_error (error, "ttrpc request on even stream %u", out->stream_id);
    /* Increasing ids make a reused one (two replies to one stream) impossible. */
    if (out->stream_id <= last_stream_id)
        return protocol_error (error, "ttrpc request on stream %u after stream %u", out->stream_id,
                               last_stream_id);
    return TRUE;
}

static gboolean
check_name (const char *what, const char *name, GError **error)
{
    gsize len = name ? strlen (name) : 0;

    if (len == 0)
        return protocol_error (error, "ttrpc request without a %s", what);
    if (len > BL_TTRPC_MAX_NAME)
        return protocol_error (error, "ttrpc request %s of %zu bytes", what, len);
    if (!g_utf8_validate (name, (gssize) len, NULL))
        return protocol_error (error, "ttrpc request %s is not UTF-8", what);
    return TRUE;
}

BlTtrpcRequest *
bl_ttrpc_request_parse (guint32 stream_id, const guint8 *buf, gsize len, GError **error)
{
    if (len > BL_TTRPC_MAX_MESSAGE) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL, "ttrpc request of %zu bytes",
                     len);
        return NULL;
    }
    Boxlite__Ttrpc__Request *msg = boxlite__ttrpc__request__unpack (NULL, len, buf);
    if (!msg) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                     "ttrpc request on stream %u is not a valid Request", stream_id);
        return NULL;
    }
    BlTtrpcRequest *request = NULL;
    if (check_name ("service", msg->service, error) && check_name ("method", msg->method, error)) {
        if (msg->n_metadata > BL_TTRPC_MAX_METADATA) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                         "ttrpc request with %zu metadata pairs", msg->n_metadata);
        } else {
            request = g_new0 (BlTtrpcRequest, 1);
            request->stream_id = stream_id;
            request->service = g_strdup (msg->service);
            request->method = g_strdup (msg->method);
            request->payload = g_bytes_new (msg->payload.data, msg->payload.len);
            request->timeout_nano = msg->timeout_nano;
        }
    }
    boxlite__ttrpc__request__free_unpacked (msg, NULL);
    return request;
}

void
bl_ttrpc_request_free (BlTtrpcRequest *request)
{
    if (!request)
        return;
    g_free (request->service);
    g_free (request->method);
    g_bytes_unref (request->payload);
    g_free (request);
}

/* Packs @msg behind a header of @type on @stream_id. */
static GBytes *
frame_message (guint32 stream_id, guint8 type, const ProtobufCMessage *msg)
{
    gsize size = protobuf_c_message_get_packed_size (msg);
    guint8 *buf = g_malloc (BL_TTRPC_HEADER_SIZE + size);
    BlTtrpcHeader header = { .length = (guint32) size, .stream_id = stream_id, .type = type };

    bl_ttrpc_header_encode (buf, &header);
    protobuf_c_message_pack (msg, buf + BL_TTRPC_HEADER_SIZE);
    return g_bytes_new_take (buf, BL_TTRPC_HEADER_SIZE + size);
}

GBytes *
bl_ttrpc_response_encode (guint32 stream_id, BlTtrpcCode code, const char *message, GBytes *payload)
{
    Boxlite__Ttrpc__Response response = BOXLITE__TTRPC__RESPONSE__INIT;
    Boxlite__Ttrpc__Status status = BOXLITE__TTRPC__STATUS__INIT;

    status.code = code;
    status.message = (char *) (message ? message : "");
    response.status = &status;
    if (payload)
        response.payload.data = (guint8 *) g_bytes_get_data (payload, &response.payload.len);
    return frame_message (stream_id, BL_TTRPC_TYPE_RESPONSE, &response.base);
}

GBytes *
bl_ttrpc_request_encode (guint32 stream_id, const char *service, const char *method,
                         GBytes *payload)
{
    Boxlite__Ttrpc__Request request = BOXLITE__TTRPC__REQUEST__INIT;

    request.service = (char *) service;
    request.method = (char *) method;
    if (payload)
        request.payload.data = (guint8 *) g_bytes_get_data (payload, &request.payload.len);
    return frame_message (stream_id, BL_TTRPC_TYPE_REQUEST, &request.base);
}

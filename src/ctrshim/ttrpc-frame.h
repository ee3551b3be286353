/* ttrpc-frame.h: the ttrpc wire as a server reads it.
 *
 * A ttrpc link is a stream of messages, each a 10-byte header followed by
 * `length` bytes:
 *
 *   offset 0  u32 BE  length of what follows the header
 *          4  u32 BE  stream id (one request and its response share it)
 *          8  u8      type: 1 request, 2 response
 *          9  u8      flags (none defined for requests and responses)
 *
 * A request's bytes are a protobuf `Request` (service, method, payload,
 * timeout, metadata; see ttrpc.proto) and its response a `Response` (a
 * gRPC status and the method's reply message). The client picks odd stream
 * ids, each one larger than the last.
 *
 * What a client sends is hostile: a header whose length passes
 * BL_TTRPC_MAX_MESSAGE, an even or reused stream id, a type other than
 * request or nonzero flags is a protocol error, and the link ends.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define BL_TTRPC_HEADER_SIZE 10
/* ttrpc's own limit on one message: the peer refuses more. */
#define BL_TTRPC_MAX_MESSAGE (4u << 20)
/* Longest service or method name taken, and most metadata pairs. */
#define BL_TTRPC_MAX_NAME 256
#define BL_TTRPC_MAX_METADATA 64

typedef enum {
    BL_TTRPC_TYPE_REQUEST = 1,
    BL_TTRPC_TYPE_RESPONSE = 2,
} BlTtrpcType;

/* gRPC status codes a response carries (google.rpc.Code). */
typedef enum {
    BL_TTRPC_OK = 0,
    BL_TTRPC_CANCELLED = 1,
    BL_TTRPC_UNKNOWN = 2,
    BL_TTRPC_INVALID_ARGUMENT = 3,
    BL_TTRPC_DEADLINE_EXCEEDED = 4,
    BL_TTRPC_NOT_FOUND = 5,
    BL_TTRPC_ALREADY_EXISTS = 6,
    BL_TTRPC_FAILED_PRECONDITION = 9,
    BL_TTRPC_UNIMPLEMENTED = 12,
    BL_TTRPC_INTERNAL = 13,
    BL_TTRPC_UNAVAILABLE = 14,
} BlTtrpcCode;

typedef struct {
    guint32 length;
    guint32 stream_id;
    guint8 type;
    guint8 flags;
} BlTtrpcHeader;

/* A request as the server acts on it. */
typedef struct {
    guint32 stream_id;
    char *service;
    char *method;
    GBytes *payload;
    gint64 timeout_nano;
} BlTtrpcRequest;

void bl_ttrpc_header_encode (guint8 out[BL_TTRPC_HEADER_SIZE], const BlTtrpcHeader *header);

/* Decodes the header at @buf (@len bytes, at least BL_TTRPC_HEADER_SIZE)
 * into @out and checks it as a request a server may accept after
 * @last_stream_id (0 before the first).
 * Return: TRUE, or FALSE with @error set (BOXLITE_ERROR_PROTOCOL). */
gboolean bl_ttrpc_header_parse_request (const guint8 *buf, gsize len, guint32 last_stream_id,
                                        BlTtrpcHeader *out, GError **error);

/* Decodes a request message of @len bytes for @stream_id.
 * Return: (transfer full): the request, or NULL with @error set when the
 *   protobuf is malformed or a name is empty, too long or not UTF-8. */
BlTtrpcRequest *bl_ttrpc_request_parse (guint32 stream_id, const guint8 *buf, gsize len,
                                        GError **error);
void bl_ttrpc_request_free (BlTtrpcRequest *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlTtrpcRequest, bl_ttrpc_request_free)

/* Encodes a whole response message, header included: @code and @message
 * (NULL for none) as its status and @payload (NULL for none) as its reply.
 * Return: (transfer full): the bytes to write. */
GBytes *bl_ttrpc_response_encode (guint32 stream_id, BlTtrpcCode code, const char *message,
                                  GBytes *payload);

/* Encodes a whole request message (the client side, for tests and tools). */
GBytes *bl_ttrpc_request_encode (guint32 stream_id, const char *service, const char *method,
                                 GBytes *payload);

G_END_DECLS

/* http_host.h: the Host header of a plain HTTP/1.x request.
 *
 * Reads the first bytes a client sent on a TCP flow. The caller keeps them
 * in one buffer and asks again after each segment while the answer is
 * BL_HOST_NEED_MORE. Only the first BL_NET_HTTP_HEAD_MAX bytes are ever
 * looked at; a request head that does not end within them is
 * BL_HOST_MALFORMED, so a caller never needs to buffer more than that.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "allowlist.h"

G_BEGIN_DECLS

/* The most bytes of a flow's start the parser reads: request line, header
 * lines and the empty line that ends them. */
#define BL_NET_HTTP_HEAD_MAX 16384

typedef enum {
    BL_HOST_FOUND,      /* the head is complete and has one valid Host */
    BL_HOST_NEED_MORE,  /* a request has begun and its head has not ended */
    BL_HOST_NO_HOST,    /* the head is complete; no Host, or an empty one */
    BL_HOST_NOT_HTTP,   /* the flow does not start with an HTTP/1.x request line */
    BL_HOST_MALFORMED,  /* a request line, then an invalid or too long head */
    BL_HOST_H2_PREFACE, /* the HTTP/2 connection preface (prior knowledge) */
} BlHostResult;

/* What follows a request head on the connection. */
typedef enum {
    BL_HTTP_BODY_NONE,    /* nothing: the next request, if any */
    BL_HTTP_BODY_LENGTH,  /* content_length bytes */
    BL_HTTP_BODY_CHUNKED, /* a chunked body (RFC 9112 7.1) */
    BL_HTTP_BODY_TUNNEL,  /* CONNECT: another protocol, once the proxy agrees */
    BL_HTTP_BODY_UNKNOWN, /* something a reader cannot follow (Upgrade) */
} BlHttpBody;

/**
 * BlHttpHead:
 * @host: the Host value as bl_net_http_host_parse() gives it, or ""
 * @target: the host an absolute-form request target (`GET http://h/`) or a
 *   CONNECT authority (`CONNECT h:443`) names, in the same form, or ""
 * @head_len: bytes of the head, its final empty line included
 * @body: what follows the head
 * @content_length: for BL_HTTP_BODY_LENGTH
 */
typedef struct {
    char host[BL_NET_NAME_CAP];
    char target[BL_NET_NAME_CAP];
    size_t head_len;
    BlHttpBody body;
    guint64 content_length;
} BlHttpHead;

/* Parses the @len bytes at @buf, the start of a flow from the client.
 *
 * The request line must be `METHOD SP target SP HTTP/1.<digit> CRLF`;
 * header lines end with CRLF (a bare CR or LF, a line folded onto the next,
 * or space before the colon are BL_HOST_MALFORMED, as is a second Host).
 * On BL_HOST_FOUND the Host value, without surrounding whitespace and port,
 * is written NUL-terminated to @host_out (@cap bytes, caller-owned; pass
 * BL_NET_NAME_CAP): a host name normalised as by bl_net_name_normalize(),
 * or an IPv4 address, or an IPv6 address in lowercase without brackets.
 * On any other result @host_out is set to "" if @cap > 0. */
BlHostResult bl_net_http_host_parse (const uint8_t *buf, size_t len, char *host_out, size_t cap);

/* The same reading of the request head at the start of @buf (@len bytes),
 * with what a caller needs to check every request of a connection: the
 * request target's host, where the head ends and what follows it. Also
 * BL_HOST_H2_PREFACE for `PRI * HTTP/2.0`, and BL_HOST_MALFORMED for a
 * request target that is neither origin-form, absolute-form with an http
 * or https scheme, `*` nor (for CONNECT only) authority-form, and for a
 * body whose length is ambiguous (Content-Length twice or with
 * Transfer-Encoding). @out (caller-owned) is filled on BL_HOST_FOUND and
 * BL_HOST_NO_HOST. */
BlHostResult bl_net_http_head_parse (const uint8_t *buf, size_t len, BlHttpHead *out);

G_END_DECLS

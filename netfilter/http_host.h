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

G_BEGIN_DECLS

/* The most bytes of a flow's start the parser reads: request line, header
 * lines and the empty line that ends them. */
#define BL_NET_HTTP_HEAD_MAX 16384

typedef enum {
    BL_HOST_FOUND,     /* the head is complete and has one valid Host */
    BL_HOST_NEED_MORE, /* a request has begun and its head has not ended */
    BL_HOST_NO_HOST,   /* the head is complete; no Host, or an empty one */
    BL_HOST_NOT_HTTP,  /* the flow does not start with an HTTP/1.x request line */
    BL_HOST_MALFORMED, /* a request line, then an invalid or too long head */
} BlHostResult;

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

G_END_DECLS

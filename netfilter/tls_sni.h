/* tls_sni.h: the server name in a TLS ClientHello.
 *
 * Reads the first bytes a client sent on a TCP flow. The ClientHello may be
 * split over several TLS records and over several segments: the caller
 * keeps the flow's first bytes in one buffer and asks again after each
 * segment while the answer is BL_SNI_NEED_MORE. Only the first
 * BL_NET_TLS_SNI_BUFFER_MAX bytes are ever looked at; a ClientHello that
 * does not end within them is BL_SNI_MALFORMED, so a caller never needs to
 * buffer more than that.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

G_BEGIN_DECLS

/* The most bytes of a flow's start the parser reads, records included. */
#define BL_NET_TLS_SNI_BUFFER_MAX 16384

typedef enum {
    BL_SNI_FOUND,     /* a server_name host_name was copied out */
    BL_SNI_NEED_MORE, /* a handshake record has begun; send more bytes */
    BL_SNI_NO_SNI,    /* a complete ClientHello without server_name */
    BL_SNI_NOT_TLS,   /* the flow does not start with a TLS handshake record */
    BL_SNI_MALFORMED, /* TLS, but a length or field is invalid or too big */
} BlSniResult;

/* Parses the @len bytes at @buf, the start of a flow from the client.
 * On BL_SNI_FOUND the host name, validated and normalised as by
 * bl_net_name_normalize() (lowercase, no trailing dot), is written
 * NUL-terminated to @name_out (@name_cap bytes, caller-owned; pass
 * BL_NET_NAME_CAP so that any valid name fits, a smaller buffer turns a
 * longer name into BL_SNI_MALFORMED). On any other result @name_out is
 * set to "" if @name_cap > 0. */
BlSniResult bl_net_tls_sni_parse (const uint8_t *buf, size_t len, char *name_out, size_t name_cap);

G_END_DECLS

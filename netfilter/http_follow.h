/* http_follow.h: finding where one HTTP/1.1 request body ends.
 *
 * On a plain HTTP connection every request must be checked, not only the
 * first, so the filter reads the bytes after each request head to find the
 * next head: a body of Content-Length bytes or a chunked body (RFC 9112 6,
 * 7.1). The state is a few numbers, whatever the body's size; a body that
 * cannot be followed ends the connection instead.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

G_BEGIN_DECLS

/* Longest chunk-size line (with extensions) and trailer section, bytes. */
#define BL_NET_HTTP_CHUNK_LINE_MAX 4096
#define BL_NET_HTTP_TRAILER_MAX 16384

typedef enum {
    BL_FOLLOW_LENGTH,     /* counting down a Content-Length */
    BL_FOLLOW_CHUNK_SIZE, /* in a chunk-size line */
    BL_FOLLOW_CHUNK_DATA, /* in a chunk's data */
    BL_FOLLOW_CHUNK_END,  /* at the CRLF after a chunk's data */
    BL_FOLLOW_TRAILER,    /* in the trailer section */
    BL_FOLLOW_DONE,       /* the body has ended */
    BL_FOLLOW_BAD,        /* the body is malformed */
} BlFollowState;

typedef struct {
    BlFollowState state;
    guint64 remaining;  /* bytes left in the body or chunk */
    guint line_len;     /* bytes of the current line so far */
    gboolean size_done; /* the chunk size's digits have ended */
    gboolean seen_cr;   /* the last byte was CR */
    guint trailer_len;
} BlHttpFollow;

/* Starts following a body of @length bytes (0: none), or a chunked one. */
void bl_net_http_follow_start (BlHttpFollow *follow, gboolean chunked, guint64 length);

/* Reads @len bytes of the body at @buf. Returns how many belong to the
 * body: fewer than @len only when the body ended (state BL_FOLLOW_DONE; the
 * rest is the next request) or is malformed (BL_FOLLOW_BAD). */
size_t bl_net_http_follow_feed (BlHttpFollow *follow, const uint8_t *buf, size_t len);

G_END_DECLS

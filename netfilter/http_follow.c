/* http_follow.c: the end of an HTTP/1.1 request body, byte by byte.
 *
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk   = 1*("0") [ chunk-ext ] CRLF
 *
 * Strict where a lax reader and the server could disagree on where the
 * body ends: bare LF, sizes longer than 15 hex digits and overlong lines
 * are malformed. */
#include "http_follow.h"

void
bl_net_http_follow_start (BlHttpFollow *follow, gboolean chunked, guint64 length)
{
    *follow = (BlHttpFollow){ 0 };
    if (chunked)
        follow->state = BL_FOLLOW_CHUNK_SIZE;
    else if (length > 0) {
        follow->state = BL_FOLLOW_LENGTH;
        follow->remaining = length;
    } else
        follow->state = BL_FOLLOW_DONE;
}

/* One byte of a line that must end in CRLF. Returns TRUE at its LF. */
static gboolean
line_byte (BlHttpFollow *f, uint8_t c, guint max)
{
    if (f->seen_cr) {
        f->seen_cr = FALSE;
        if (c != '\n')
            f->state = BL_FOLLOW_BAD;
        return c == '\n';
    }
    if (c == '\r')
        f->seen_cr = TRUE;
    else if (c == '\n' || ++f->line_len > max)
        f->state = BL_FOLLOW_BAD;
    return FALSE;
}

static void
size_byte (BlHttpFollow *f, uint8_t c)
{
    gboolean was_cr = f->seen_cr;

    if (line_byte (f, c, BL_NET_HTTP_CHUNK_LINE_MAX)) {
        if (f->line_len == 0) {
            f->state = BL_FOLLOW_BAD; /* no size at all */
            return;
        }
        f->line_len = 0;
        f->size_done = FALSE;
        f->state = f->remaining ? BL_FOLLOW_CHUNK_DATA : BL_FOLLOW_TRAILER;
        return;
    }
    if (f->state == BL_FOLLOW_BAD || was_cr || c == '\r')
        return;
    if (!f->size_done && g_ascii_isxdigit (c)) {
        if (f->line_len > 15) {
            f->state = BL_FOLLOW_BAD;
            return;
        }
        f->remaining = f->remaining << 4 | (guint64) g_ascii_xdigit_value (c);
        return;
    }
    /* The size ends at an extension (";") or whitespace before one. */
    if (f->line_len == 1 || (c != ';' && c != ' ' && c != '\t' && !f->size_done))
        f->state = BL_FOLLOW_BAD;
    f->size_done = TRUE;
}

size_t
bl_net_http_follow_feed (BlHttpFollow *f, const uint8_t *buf, size_t len)
{
    size_t i = 0;

    while (i < len && f->state != BL_FOLLOW_DONE && f->state != BL_FOLLOW_BAD) {
        switch (f->state) {
        case BL_FOLLOW_LENGTH:
        case BL_FOLLOW_CHUNK_DATA: {
            size_t n = (size_t) MIN ((guint64) (len - i), f->remaining);
            f->remaining -= n;
            i += n;
            if (f->remaining == 0)
                f->state = f->state == BL_FOLLOW_LENGTH ? BL_FOLLOW_DONE : BL_FOLLOW_CHUNK_END;
            break;
        }
        case BL_FOLLOW_CHUNK_SIZE:
            size_byte (f, buf[i++]);
            break;
        case BL_FOLLOW_CHUNK_END:
            if (line_byte (f, buf[i++], 0))
                f->state = BL_FOLLOW_CHUNK_SIZE;
            break;
        case BL_FOLLOW_TRAILER: {
            gboolean empty = f->line_len == 0;
            if (++f->trailer_len > BL_NET_HTTP_TRAILER_MAX) {
                f->state = BL_FOLLOW_BAD;
                break;
            }
            if (line_byte (f, buf[i++], BL_NET_HTTP_TRAILER_MAX)) {
                if (empty)
                    f->state = BL_FOLLOW_DONE;
                f->line_len = 0;
            }
            break;
        }
        case BL_FOLLOW_DONE:
        case BL_FOLLOW_BAD:
            break;
        }
    }
    return i;
}

/* tls_sni.c: the server name a TLS client asks for.
 *
 * Layers, outermost first (all integers big-endian):
 *
 *   record     type(1)=22 version(2)=3.x length(2) fragment[length]
 *                (RFC 8446 5.1; fragments of one handshake message may
 *                span records, a fragment is 1 to 2^14 bytes)
 *   handshake  msg_type(1)=1 length(3) ClientHello[length]
 *   ClientHello  legacy_version(2) random(32) session_id<0..32>
 *                cipher_suites<2..2^16-2> compression_methods<1..2^8-1>
 *                [ extensions<0..2^16-1> ]
 *   extension  type(2) data<0..2^16-1>
 *   server_name (type 0, RFC 6066 3)  server_name_list<1..2^16-1> of
 *                name_type(1) name<1..2^16-1>; name_type 0 is host_name
 *
 * A <a..b> vector is a length of 1, 2 or 3 bytes (enough for b) followed
 * by that many bytes. Every length is checked against the bytes its
 * container has left before anything inside is read.
 */
#define G_LOG_DOMAIN "boxlite-net"

#include "tls_sni.h"

#include <string.h>

#include "allowlist.h"
#include "bytes.h"

/* Record header: type(1) version(2) length(2). */
#define RECORD_HEADER_LEN 5
#define RECORD_TYPE 0
#define RECORD_VERSION 1
#define RECORD_LENGTH 3
#define RECORD_TYPE_HANDSHAKE 0x16
#define RECORD_FRAGMENT_MAX 16384
/* Handshake header: msg_type(1) length(3). */
#define HANDSHAKE_HEADER_LEN 4
#define HANDSHAKE_TYPE 0
#define HANDSHAKE_LENGTH 1
#define HANDSHAKE_CLIENT_HELLO 0x01
#define RANDOM_LEN 32
#define SESSION_ID_MAX 32
#define EXT_SERVER_NAME 0x0000
#define NAME_TYPE_HOST_NAME 0
/* The largest handshake message (header included) that can end within
 * BL_NET_TLS_SNI_BUFFER_MAX bytes: one record header is always needed. */
#define HANDSHAKE_MAX (BL_NET_TLS_SNI_BUFFER_MAX - RECORD_HEADER_LEN)

/* Unread bytes [p, p + left) of some container; p is borrowed. */
typedef struct {
    const uint8_t *p;
    size_t left;
} Cursor;

static gboolean
take (Cursor *c, size_t n, const uint8_t **out)
{
    const uint8_t *p = bl_bytes_at (c->p, c->left, 0, n);

    if (!p)
        return FALSE;
    *out = p;
    c->p += n;
    c->left -= n;
    return TRUE;
}

/* Reads an @n-byte (1 to 3) big-endian unsigned integer into @value. */
static gboolean
take_uint (Cursor *c, size_t n, size_t *value)
{
    const uint8_t *b;

    if (n < 1 || n > 3 || !take (c, n, &b))
        return FALSE;
    *value = n == 1 ? b[0] : n == 2 ? bl_be16 (b) : bl_be24 (b);
    return TRUE;
}

/* Reads a vector with an @n-byte length prefix into @inner, which must
 * hold @min to @max bytes. */
static gboolean
take_vector (Cursor *c, size_t n, size_t min, size_t max, Cursor *inner)
{
    size_t len;

    if (!take_uint (c, n, &len) || len < min || len > max || !take (c, len, &inner->p))
        return FALSE;
    inner->left = len;
    return TRUE;
}

/* TRUE if the (up to 3) bytes available at @rec can begin a handshake
 * record: content type 22 and a version of 3.0 to 3.4. */
static gboolean
record_start_plausible (const uint8_t *rec, size_t avail)
{
    if (avail >= 1 && rec[RECORD_TYPE] != RECORD_TYPE_HANDSHAKE)
        return FALSE;
    if (avail >= 2 && rec[RECORD_VERSION] != 3)
        return FALSE;
    if (avail >= 3 && rec[RECORD_VERSION + 1] > 4)
        return FALSE;
    return TRUE;
}

typedef enum {
    GATHER_DONE,  /* all wanted bytes copied */
    GATHER_SHORT, /* the records present so far hold fewer bytes */
    GATHER_BAD,   /* a record header is invalid */
} GatherResult;

/* Copies the first @want handshake bytes carried by the records in
 * [@buf, @buf + @len) to @out (caller-owned, @want bytes). */
static GatherResult
gather (const uint8_t *buf, size_t len, uint8_t *out, size_t want)
{
    size_t pos = 0, got = 0;

    while (got < want) {
        size_t avail = len - pos, frag_len, need, have;

        if (avail == 0)
            return GATHER_SHORT;
        if (!record_start_plausible (buf + pos, MIN (avail, 3)))
            return GATHER_BAD;
        const uint8_t *rec = bl_bytes_at (buf, len, pos, RECORD_HEADER_LEN);
        if (!rec)
            return GATHER_SHORT;
        frag_len = bl_be16 (rec + RECORD_LENGTH);
        if (frag_len == 0 || frag_len > RECORD_FRAGMENT_MAX)
            return GATHER_BAD;
        pos += RECORD_HEADER_LEN;
        need = MIN (frag_len, want - got);
        have = MIN (need, len - pos);
        memcpy (out + got, buf + pos, have);
        got += have;
        if (have < need)
            return GATHER_SHORT; /* this record is cut short */
        pos += frag_len;         /* past @len only once got == want */
    }
    return GATHER_DONE;
}

/* Parses a server_name extension's data into @name_out. */
static BlSniResult
parse_server_name (Cursor data, char *name_out, size_t name_cap)
{
    Cursor list;
    gboolean have_host = FALSE;

    if (!take_vector (&data, 2, 1, G_MAXUINT16, &list) || data.left != 0)
        return BL_SNI_MALFORMED;
    while (list.left > 0) {
        size_t type;
        Cursor name;

        if (!take_uint (&list, 1, &type) || !take_vector (&list, 2, 1, G_MAXUINT16, &name))
            return BL_SNI_MALFORMED;
        /* Only host_name is defined; two of one type are forbidden. */
        if (type != NAME_TYPE_HOST_NAME || have_host)
            return BL_SNI_MALFORMED;
        if (!bl_net_name_normalize ((const char *) name.p, name.left, name_out, name_cap))
            return BL_SNI_MALFORMED;
        have_host = TRUE;
    }
    return BL_SNI_FOUND;
}

/* Parses the ClientHello body (after the handshake header). */
static BlSniResult
parse_client_hello (Cursor body, char *name_out, size_t name_cap)
{
    size_t version;
    const uint8_t *random;
    Cursor session_id, suites, compression, extensions;
    BlSniResult result = BL_SNI_NO_SNI;

    if (!take_uint (&body, 2, &version) || (version >> 8) != 3 ||
        !take (&body, RANDOM_LEN, &random) ||
        !take_vector (&body, 1, 0, SESSION_ID_MAX, &session_id) ||
        !take_vector (&body, 2, 2, G_MAXUINT16 - 1, &suites) || suites.left % 2 != 0 ||
        !take_vector (&body, 1, 1, G_MAXUINT8, &compression))
        return BL_SNI_MALFORMED;
    if (body.left == 0)
        return BL_SNI_NO_SNI; /* no extensions at all */
    if (!take_vector (&body, 2, 0, G_MAXUINT16, &extensions) || body.left != 0)
        return BL_SNI_MALFORMED;

    while (extensions.left > 0) {
        size_t type;
        Cursor data;

        if (!take_uint (&extensions, 2, &type) ||
            !take_vector (&extensions, 2, 0, G_MAXUINT16, &data))
            return BL_SNI_MALFORMED;
        if (type != EXT_SERVER_NAME)
            continue;
        if (result == BL_SNI_FOUND)
            return BL_SNI_MALFORMED; /* the extension twice */
        result = parse_server_name (data, name_out, name_cap);
        if (result != BL_SNI_FOUND)
            return result;
    }
    return result;
}

BlSniResult
bl_net_tls_sni_parse (const uint8_t *buf, size_t len, char *name_out, size_t name_cap)
{
    uint8_t header[HANDSHAKE_HEADER_LEN];
    g_autofree uint8_t *joined = NULL;
    const uint8_t *msg;
    size_t msg_len, first_frag_len;
    gboolean at_bound = len >= BL_NET_TLS_SNI_BUFFER_MAX;
    BlSniResult result;

    if (name_cap > 0)
        name_out[0] = '\0';
    if (len == 0)
        return BL_SNI_NEED_MORE;
    if (buf == NULL || !record_start_plausible (buf, MIN (len, 3)))
        return BL_SNI_NOT_TLS;
    len = MIN (len, BL_NET_TLS_SNI_BUFFER_MAX);

    switch (gather (buf, len, header, sizeof header)) {
    case GATHER_DONE:
        break;
    case GATHER_SHORT:
        return at_bound ? BL_SNI_MALFORMED : BL_SNI_NEED_MORE;
    case GATHER_BAD:
    default:
        return BL_SNI_MALFORMED;
    }
    if (header[HANDSHAKE_TYPE] != HANDSHAKE_CLIENT_HELLO)
        return BL_SNI_MALFORMED;
    msg_len = HANDSHAKE_HEADER_LEN + bl_be24 (header + HANDSHAKE_LENGTH);
    if (msg_len > HANDSHAKE_MAX)
        return BL_SNI_MALFORMED;

    /* The usual case: the whole message in the first record, read in place. */
    const uint8_t *first = bl_bytes_at (buf, len, 0, RECORD_HEADER_LEN);
    first_frag_len = first ? bl_be16 (first + RECORD_LENGTH) : 0;
    if (first_frag_len >= msg_len && len >= RECORD_HEADER_LEN + msg_len) {
        msg = buf + RECORD_HEADER_LEN;
    } else {
        joined = g_malloc (msg_len);
        switch (gather (buf, len, joined, msg_len)) {
        case GATHER_DONE:
            break;
        case GATHER_SHORT:
            return at_bound ? BL_SNI_MALFORMED : BL_SNI_NEED_MORE;
        case GATHER_BAD:
        default:
            return BL_SNI_MALFORMED;
        }
        msg = joined;
    }

    result = parse_client_hello (
        (Cursor){ msg + HANDSHAKE_HEADER_LEN, msg_len - HANDSHAKE_HEADER_LEN }, name_out, name_cap);
    if (result != BL_SNI_FOUND && name_cap > 0)
        name_out[0] = '\0';
    return result;
}

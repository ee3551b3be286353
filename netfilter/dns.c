/* dns.c: parsing the guest's DNS queries and writing our responses
 * (RFC 1035 messages, RFC 6891 OPT records). No I/O, no allocation. */
#define G_LOG_DOMAIN "boxlite-net"

#include "dns.h"

#include <string.h>

#include "bytes.h"

/* Header flag bits, host order. */
#define FLAG_QR 0x8000u
#define FLAG_OPCODE 0x7800u
#define FLAG_RD 0x0100u
#define FLAG_RA 0x0080u

#define OPCODE_QUERY 0
/* Largest DNS message, in bytes (the TCP length prefix is 16 bits). */
#define MESSAGE_MAX 65535u
/* A name that is a pointer to offset 12: the question's name. */
#define NAME_POINTER_TO_QUESTION 0xc00cu
/* OPT record, fixed part: root name, type, class, TTL, RDLENGTH. */
#define OPT_FIXED_LEN 11
/* Resource record after its 2-byte name: type, class, TTL, RDLENGTH. */
#define RR_FIXED_LEN 10
#define TTL_MAX 0x7fffffffu

/* Field offsets: the header (RFC 1035 4.1.1), a question's type and class
 * after its name, the OPT record (RFC 6891 6.1.2) and an option in it. */
enum {
    HDR_ID = 0,
    HDR_FLAGS = 2,
    HDR_QDCOUNT = 4,
    HDR_ANCOUNT = 6,
    HDR_NSCOUNT = 8,
    HDR_ARCOUNT = 10,
    Q_TYPE = 0,
    Q_CLASS = 2,
    Q_FIXED_LEN = 4,
    OPT_NAME = 0,
    OPT_TYPE = 1,
    OPT_PAYLOAD = 3,
    OPT_VERSION = 6,
    OPT_RDLEN = 9,
    OPTION_LEN = 2,
    OPTION_HLEN = 4,
};

/* ---- reading ------------------------------------------------------------- */

/* TRUE if @c may appear in a label: printable ASCII except '.', so that the
 * dotted form reads back as the same labels. */
static gboolean
label_byte_ok (uint8_t c)
{
    return c > 0x20 && c < 0x7f && c != '.';
}

/* Decodes the uncompressed name at @*pos of @buf (@len bytes) into @name
 * (BL_DNS_NAME_MAX + 1 bytes), lowercase and dotted, and moves @*pos past
 * it. Returns FALSE if the name is truncated, compressed, uses an extended
 * label type, or breaks the length or character rules. */
static gboolean
read_name (const uint8_t *buf, size_t len, size_t *pos, char *name)
{
    size_t p = *pos;
    size_t n = 0;

    for (;;) {
        if (p >= len)
            return FALSE;
        uint8_t label = buf[p++];
        if (label == 0)
            break;
        if (label > BL_DNS_LABEL_MAX) /* pointer (0xc0) or extended type */
            return FALSE;
        if (label > len - p)
            return FALSE;
        size_t need = (n > 0 ? 1 : 0) + label;
        if (need > BL_DNS_NAME_MAX - n)
            return FALSE;
        if (n > 0)
            name[n++] = '.';
        for (size_t i = 0; i < label; i++) {
            uint8_t c = buf[p + i];
            if (!label_byte_ok (c))
                return FALSE;
            name[n++] = g_ascii_tolower ((char) c);
        }
        p += label;
    }
    name[n] = '\0';
    *pos = p;
    return TRUE;
}

/* Checks the OPT record at @*pos of @buf (@len bytes), stores the UDP
 * response size it allows (bytes, at least BL_DNS_UDP_MIN) in @udp_size and
 * moves @*pos past it. Returns FALSE if it is not an OPT record of version
 * 0 or its options overrun it. */
static gboolean
read_opt (const uint8_t *buf, size_t len, size_t *pos, uint16_t *udp_size)
{
    const uint8_t *opt = bl_bytes_at (buf, len, *pos, OPT_FIXED_LEN);

    if (!opt || opt[OPT_NAME] != 0 || bl_be16 (opt + OPT_TYPE) != BL_DNS_TYPE_OPT)
        return FALSE;
    uint16_t payload = bl_be16 (opt + OPT_PAYLOAD);
    size_t rdlen = bl_be16 (opt + OPT_RDLEN);
    size_t p = *pos + OPT_FIXED_LEN;
    const uint8_t *options = bl_bytes_at (buf, len, p, rdlen);
    if (opt[OPT_VERSION] != 0 || !options)
        return FALSE;

    /* Options are (code, length, data); we use none but they must fit. */
    size_t at = 0;
    while (at < rdlen) {
        const uint8_t *option = bl_bytes_at (options, rdlen, at, OPTION_HLEN);
        if (!option)
            return FALSE;
        size_t optlen = bl_be16 (option + OPTION_LEN);
        at += OPTION_HLEN;
        if (!bl_bytes_at (options, rdlen, at, optlen))
            return FALSE;
        at += optlen;
    }

    *udp_size = MAX (payload, BL_DNS_UDP_MIN);
    *pos = p + rdlen;
    return TRUE;
}

int
bl_dns_parse_query (const uint8_t *buf, size_t len, BlDnsQuery *out)
{
    g_return_val_if_fail (out != NULL, BL_DNS_ERR_DROP);
    memset (out, 0, sizeof *out);
    out->udp_size = BL_DNS_UDP_MIN;
    const uint8_t *hdr = bl_bytes_at (buf, len, 0, BL_DNS_HEADER_LEN);
    if (!hdr)
        return BL_DNS_ERR_DROP;

    out->has_header = TRUE;
    out->id = bl_be16 (hdr + HDR_ID);
    out->flags = bl_be16 (hdr + HDR_FLAGS);
    if (out->flags & FLAG_QR)
        return BL_DNS_ERR_DROP;
    if ((out->flags & FLAG_OPCODE) >> 11 != OPCODE_QUERY)
        return BL_DNS_ERR_NOTIMP;

    uint16_t qdcount = bl_be16 (hdr + HDR_QDCOUNT);
    uint16_t ancount = bl_be16 (hdr + HDR_ANCOUNT);
    uint16_t nscount = bl_be16 (hdr + HDR_NSCOUNT);
    uint16_t arcount = bl_be16 (hdr + HDR_ARCOUNT);
    if (qdcount != 1 || ancount != 0 || nscount != 0 || arcount > 1)
        return BL_DNS_ERR_FORMERR;

    size_t pos = BL_DNS_HEADER_LEN;
    char name[BL_DNS_NAME_MAX + 1];
    if (!read_name (buf, len, &pos, name))
        return BL_DNS_ERR_FORMERR;
    const uint8_t *q = bl_bytes_at (buf, len, pos, Q_FIXED_LEN);
    if (!q)
        return BL_DNS_ERR_FORMERR;
    uint16_t qtype = bl_be16 (q + Q_TYPE);
    uint16_t qclass = bl_be16 (q + Q_CLASS);
    pos += Q_FIXED_LEN;
    size_t question_len = pos - BL_DNS_HEADER_LEN;

    uint16_t udp_size = BL_DNS_UDP_MIN;
    if (arcount == 1 && !read_opt (buf, len, &pos, &udp_size))
        return BL_DNS_ERR_FORMERR;
    if (pos != len)
        return BL_DNS_ERR_FORMERR;

    memcpy (out->name, name, sizeof name);
    memcpy (out->question, buf + BL_DNS_HEADER_LEN, question_len);
    out->question_len = question_len;
    out->qtype = qtype;
    out->qclass = qclass;
    out->edns = arcount == 1;
    out->udp_size = udp_size;
    if (out->qclass != BL_DNS_CLASS_IN)
        return BL_DNS_ERR_REFUSED;
    return 0;
}

/* ---- writing ------------------------------------------------------------- */

/* A response being written into a caller's buffer. Writes past the end
 * are dropped and remembered. */
typedef struct {
    uint8_t *buf;
    size_t len; /* bytes available, already capped at MESSAGE_MAX */
    size_t pos;
    gboolean overflow;
} Writer;

static void
writer_init (Writer *w, uint8_t *buf, size_t len)
{
    w->buf = buf;
    w->len = MIN (len, MESSAGE_MAX);
    w->pos = 0;
    w->overflow = FALSE;
}

static void
put_bytes (Writer *w, const void *data, size_t n)
{
    if (w->overflow || n > w->len - w->pos) {
        w->overflow = TRUE;
        return;
    }
    memcpy (w->buf + w->pos, data, n);
    w->pos += n;
}

static void
put_u16 (Writer *w, uint16_t v)
{
    uint8_t b[2];

    bl_put16 (b, v);
    put_bytes (w, b, sizeof b);
}

static void
put_u32 (Writer *w, uint32_t v)
{
    uint8_t b[4];

    bl_put32 (b, v);
    put_bytes (w, b, sizeof b);
}

/* The response's length in bytes, or -1 if it did not fit. */
static int
writer_finish (const Writer *w)
{
    return w->overflow ? -1 : (int) w->pos;
}

/* Writes the header of the response to @q with @rcode and the given
 * section counts. */
static void
put_header (Writer *w, const BlDnsQuery *q, int rcode, uint16_t qd, uint16_t an, uint16_t ar)
{
    uint16_t flags = FLAG_QR | (q->flags & (FLAG_OPCODE | FLAG_RD)) | FLAG_RA | (uint16_t) rcode;

    put_u16 (w, q->id);
    put_u16 (w, flags);
    put_u16 (w, qd);
    put_u16 (w, an);
    put_u16 (w, 0);
    put_u16 (w, ar);
}

/* Writes our OPT record: version 0, no flags, no options. */
static void
put_opt (Writer *w)
{
    uint8_t root = 0;

    put_bytes (w, &root, 1);
    put_u16 (w, BL_DNS_TYPE_OPT);
    put_u16 (w, BL_DNS_EDNS_PAYLOAD);
    put_u32 (w, 0);
    put_u16 (w, 0);
}

/* Writes one IN record for the question's name with @rdlen bytes @rdata. */
static void
put_record (Writer *w, uint16_t type, uint32_t ttl, const void *rdata, uint16_t rdlen)
{
    put_u16 (w, NAME_POINTER_TO_QUESTION);
    put_u16 (w, type);
    put_u16 (w, BL_DNS_CLASS_IN);
    put_u32 (w, MIN (ttl, TTL_MAX));
    put_u16 (w, rdlen);
    put_bytes (w, rdata, rdlen);
}

/* TRUE if @q holds a complete IN query that may be answered. */
static gboolean
answerable (const BlDnsQuery *q)
{
    return q->has_header && q->question_len > 0 && q->qclass == BL_DNS_CLASS_IN;
}

int
bl_dns_build_answer (const BlDnsQuery *q, const uint32_t *ipv4, size_t n4,
                     const uint8_t (*ipv6)[16], size_t n6, uint32_t ttl, uint8_t *out,
                     size_t out_len)
{
    g_return_val_if_fail (q != NULL && out != NULL, -1);
    g_return_val_if_fail (ipv4 != NULL || n4 == 0, -1);
    g_return_val_if_fail (ipv6 != NULL || n6 == 0, -1);
    if (!answerable (q))
        return -1;

    size_t count = 0;
    if (q->qtype == BL_DNS_TYPE_A)
        count = n4;
    else if (q->qtype == BL_DNS_TYPE_AAAA)
        count = n6;
    /* Each record takes at least 16 bytes, so more than this cannot fit. */
    if (count > MESSAGE_MAX / (2 + RR_FIXED_LEN + 4))
        return -1;

    Writer w;
    writer_init (&w, out, out_len);
    put_header (&w, q, BL_DNS_RCODE_NOERROR, 1, (uint16_t) count, q->edns ? 1 : 0);
    put_bytes (&w, q->question, q->question_len);
    for (size_t i = 0; i < count && !w.overflow; i++) {
        if (q->qtype == BL_DNS_TYPE_A)
            put_record (&w, BL_DNS_TYPE_A, ttl, &ipv4[i], 4);
        else
            put_record (&w, BL_DNS_TYPE_AAAA, ttl, ipv6[i], 16);
    }
    if (q->edns)
        put_opt (&w);
    return writer_finish (&w);
}

int
bl_dns_build_error (const BlDnsQuery *q, int rcode, uint8_t *out, size_t out_len)
{
    g_return_val_if_fail (q != NULL && out != NULL, -1);
    if (rcode != BL_DNS_RCODE_FORMERR && rcode != BL_DNS_RCODE_SERVFAIL &&
        rcode != BL_DNS_RCODE_NXDOMAIN && rcode != BL_DNS_RCODE_NOTIMP &&
        rcode != BL_DNS_RCODE_REFUSED)
        return -1;
    if (!q->has_header)
        return -1;

    gboolean formerr = rcode == BL_DNS_RCODE_FORMERR;
    gboolean question = !formerr && q->question_len > 0;
    gboolean opt = !formerr && q->edns;

    Writer w;
    writer_init (&w, out, out_len);
    put_header (&w, q, rcode, question ? 1 : 0, 0, opt ? 1 : 0);
    if (question)
        put_bytes (&w, q->question, q->question_len);
    if (opt)
        put_opt (&w);
    return writer_finish (&w);
}

int
bl_dns_build_sinkhole (const BlDnsQuery *q, uint8_t *out, size_t out_len)
{
    static const uint32_t any4 = 0;
    static const uint8_t any6[1][16] = { { 0 } };

    return bl_dns_build_answer (q, &any4, 1, any6, 1, BL_DNS_SINKHOLE_TTL, out, out_len);
}

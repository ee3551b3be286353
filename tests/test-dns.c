/* test-dns.c: DNS query parsing (well-formed, EDNS, every malformed class),
 * responses read back field by field, buffers too small, and a replay of
 * random and mutated packets. */
#include <string.h>

#include "dns.h"

/* ---- building queries ---------------------------------------------------- */

static void
append_u16 (GByteArray *m, uint16_t v)
{
    uint8_t b[2] = { (uint8_t) (v >> 8), (uint8_t) v };
    g_byte_array_append (m, b, 2);
}

static void
append_header (GByteArray *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
               uint16_t ar)
{
    append_u16 (m, id);
    append_u16 (m, flags);
    append_u16 (m, qd);
    append_u16 (m, an);
    append_u16 (m, ns);
    append_u16 (m, ar);
}

/* Appends @dotted as labels and the root label; "" is the root. */
static void
append_name (GByteArray *m, const char *dotted)
{
    g_auto (GStrv) labels = g_strsplit (dotted, ".", -1);
    for (char **l = labels; *dotted && *l; l++) {
        uint8_t n = (uint8_t) strlen (*l);
        g_byte_array_append (m, &n, 1);
        g_byte_array_append (m, (const uint8_t *) *l, n);
    }
    uint8_t root = 0;
    g_byte_array_append (m, &root, 1);
}

/* Appends an OPT record of @version with @payload bytes and no options. */
static void
append_opt (GByteArray *m, uint16_t payload, uint8_t version)
{
    uint8_t root = 0;
    g_byte_array_append (m, &root, 1);
    append_u16 (m, BL_DNS_TYPE_OPT);
    append_u16 (m, payload);
    uint8_t ttl[4] = { 0, version, 0, 0 };
    g_byte_array_append (m, ttl, 4);
    append_u16 (m, 0);
}

/* A standard recursive query for @name / @qtype, optionally with EDNS. */
static GByteArray *
make_query (uint16_t id, const char *name, uint16_t qtype, gboolean edns)
{
    GByteArray *m = g_byte_array_new ();
    append_header (m, id, 0x0100, 1, 0, 0, edns ? 1 : 0);
    append_name (m, name);
    append_u16 (m, qtype);
    append_u16 (m, BL_DNS_CLASS_IN);
    if (edns)
        append_opt (m, 4096, 0);
    return m;
}

/* Parses @len bytes of @data from an exact-size heap copy, so that a read
 * past the end is caught by the address sanitizer. */
static int
parse_exact (const uint8_t *data, size_t len, BlDnsQuery *q)
{
    g_autofree uint8_t *copy = g_memdup2 (data, len);
    return bl_dns_parse_query (copy, len, q);
}

static int
parse_bytes (GByteArray *m, BlDnsQuery *q)
{
    return parse_exact (m->data, m->len, q);
}

/* Real query bytes: "example.com" A, RD, no EDNS. */
// clang-format off
static const uint8_t plain_query[] = {
    0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* header */
    0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'c', 'o', 'm', 0x00,    /* name */
    0x00, 0x01, 0x00, 0x01,                                                 /* A, IN */
};

/* Real query bytes as a modern stub sends them: "Example.COM" AAAA, RD and
 * AD, EDNS with a 1232-byte payload, the DO bit and a client cookie. */
static const uint8_t edns_query[] = {
    0x5a, 0x17, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* header */
    0x07, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 0x03, 'C', 'O', 'M', 0x00,    /* name */
    0x00, 0x1c, 0x00, 0x01,                         /* AAAA, IN */
    0x00, 0x00, 0x29, 0x04, 0xd0,                   /* root, OPT, payload 1232 */
    0x00, 0x00, 0x80, 0x00,                         /* ext rcode 0, version 0, DO */
    0x00, 0x0c,                                     /* RDLENGTH 12 */
    0x00, 0x0a, 0x00, 0x08,                         /* COOKIE, 8 bytes */
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* client cookie */
};
// clang-format on

/* ---- reading responses back ---------------------------------------------- */

typedef struct {
    uint16_t type;
    uint16_t klass;
    uint32_t ttl;
    uint16_t rdlen;
    const uint8_t *rdata;
} Record;

typedef struct {
    uint16_t id, flags, qd, an, ns, ar;
    const uint8_t *question;
    size_t question_len;
    Record answers[8];
    gboolean has_opt;
    uint16_t opt_payload;
    uint32_t opt_ttl;
} Response;

static uint16_t
rd16 (const uint8_t *p)
{
    return (uint16_t) ((p[0] << 8) | p[1]);
}

static uint32_t
rd32 (const uint8_t *p)
{
    return ((uint32_t) rd16 (p) << 16) | rd16 (p + 2);
}

/* Reads the response in @buf (@len bytes) into @r, asserting at every step
 * that it is well formed: answer names are pointers to the question. */
static void
read_response (const uint8_t *buf, size_t len, Response *r)
{
    memset (r, 0, sizeof *r);
    g_assert_cmpuint (len, >=, BL_DNS_HEADER_LEN);
    r->id = rd16 (buf);
    r->flags = rd16 (buf + 2);
    r->qd = rd16 (buf + 4);
    r->an = rd16 (buf + 6);
    r->ns = rd16 (buf + 8);
    r->ar = rd16 (buf + 10);
    g_assert_cmpuint (r->qd, <=, 1);
    g_assert_cmpuint (r->an, <=, G_N_ELEMENTS (r->answers));
    g_assert_cmpuint (r->ns, ==, 0);
    g_assert_cmpuint (r->ar, <=, 1);

    size_t pos = BL_DNS_HEADER_LEN;
    if (r->qd == 1) {
        while (pos < len && buf[pos] != 0) {
            g_assert_cmpuint (buf[pos], <=, 63);
            pos += 1 + buf[pos];
        }
        pos += 1 + 4;
        g_assert_cmpuint (pos, <=, len);
        r->question = buf + BL_DNS_HEADER_LEN;
        r->question_len = pos - BL_DNS_HEADER_LEN;
    }
    for (unsigned i = 0; i < r->an; i++) {
        Record *rec = &r->answers[i];
        g_assert_cmpuint (len - pos, >=, 12);
        g_assert_cmphex (rd16 (buf + pos), ==, 0xc00c);
        rec->type = rd16 (buf + pos + 2);
        rec->klass = rd16 (buf + pos + 4);
        rec->ttl = rd32 (buf + pos + 6);
        rec->rdlen = rd16 (buf + pos + 10);
        pos += 12;
        g_assert_cmpuint (len - pos, >=, rec->rdlen);
        rec->rdata = buf + pos;
        pos += rec->rdlen;
    }
    if (r->ar == 1) {
        g_assert_cmpuint (len - pos, ==, 11);
        g_assert_cmpuint (buf[pos], ==, 0);
        g_assert_cmpuint (rd16 (buf + pos + 1), ==, BL_DNS_TYPE_OPT);
        r->has_opt = TRUE;
        r->opt_payload = rd16 (buf + pos + 3);
        r->opt_ttl = rd32 (buf + pos + 5);
        g_assert_cmpuint (rd16 (buf + pos + 9), ==, 0);
        pos += 11;
    }
    g_assert_cmpuint (pos, ==, len);
}

#define QR 0x8000
#define RD 0x0100
#define RA 0x0080

/* ---- parsing ------------------------------------------------------------- */

static void
test_parse_plain (void)
{
    BlDnsQuery q;

    g_assert_cmpint (parse_exact (plain_query, sizeof plain_query, &q), ==, 0);
    g_assert_true (q.has_header);
    g_assert_cmphex (q.id, ==, 0xabcd);
    g_assert_cmphex (q.flags, ==, 0x0100);
    g_assert_cmpstr (q.name, ==, "example.com");
    g_assert_cmpuint (q.qtype, ==, BL_DNS_TYPE_A);
    g_assert_cmpuint (q.qclass, ==, BL_DNS_CLASS_IN);
    g_assert_false (q.edns);
    g_assert_cmpuint (q.udp_size, ==, 512);
    g_assert_cmpmem (q.question, q.question_len, plain_query + 12, sizeof plain_query - 12);
}

static void
test_parse_edns (void)
{
    BlDnsQuery q;

    g_assert_cmpint (parse_exact (edns_query, sizeof edns_query, &q), ==, 0);
    g_assert_cmphex (q.id, ==, 0x5a17);
    g_assert_cmphex (q.flags, ==, 0x0120);
    g_assert_cmpstr (q.name, ==, "example.com");
    g_assert_cmpuint (q.qtype, ==, BL_DNS_TYPE_AAAA);
    g_assert_true (q.edns);
    g_assert_cmpuint (q.udp_size, ==, 1232);
    /* The question is kept as written, letter case included. */
    g_assert_cmpmem (q.question, q.question_len, edns_query + 12, 17);

    /* An advertised payload below 512 still allows 512. */
    g_autoptr (GByteArray) m = g_byte_array_new ();
    append_header (m, 1, 0, 1, 0, 0, 1);
    append_name (m, "a.b");
    append_u16 (m, BL_DNS_TYPE_A);
    append_u16 (m, BL_DNS_CLASS_IN);
    append_opt (m, 100, 0);
    g_assert_cmpint (parse_bytes (m, &q), ==, 0);
    g_assert_true (q.edns);
    g_assert_cmpuint (q.udp_size, ==, 512);
}

static void
test_parse_names (void)
{
    static const struct {
        const char *wire;
        const char *name;
    } cases[] = {
        { "WWW.Example.COM", "www.example.com" },
        { "MiXeD-CaSe_1.Io", "mixed-case_1.io" },
        { "x", "x" },
        { "", "" },
        { "xn--bcher-kva.example", "xn--bcher-kva.example" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_autoptr (GByteArray) m = make_query (7, cases[i].wire, BL_DNS_TYPE_A, FALSE);
        BlDnsQuery q;
        g_assert_cmpint (parse_bytes (m, &q), ==, 0);
        g_assert_cmpstr (q.name, ==, cases[i].name);
    }
}

/* A dotted name of @len bytes: labels of 63 and a last one for the rest. */
static char *
long_name (size_t len, size_t label)
{
    GString *s = g_string_new (NULL);
    while (s->len < len) {
        if (s->len > 0)
            g_string_append_c (s, '.');
        size_t n = MIN (label, len - s->len);
        for (size_t i = 0; i < n; i++)
            g_string_append_c (s, (char) ('a' + i % 26));
    }
    return g_string_free (s, FALSE);
}

static void
test_parse_limits (void)
{
    BlDnsQuery q;
    g_autofree char *label63 = long_name (63, 63);
    g_autofree char *label64 = long_name (64, 64);
    g_autofree char *name253 = long_name (253, 63);
    g_autofree char *name254 = long_name (254, 63);
    g_assert_cmpuint (strlen (name253), ==, 253);
    g_assert_cmpuint (strlen (name254), ==, 254);

    g_autoptr (GByteArray) m1 = make_query (1, label63, BL_DNS_TYPE_A, FALSE);
    g_assert_cmpint (parse_bytes (m1, &q), ==, 0);
    g_assert_cmpstr (q.name, ==, label63);

    g_autoptr (GByteArray) m2 = make_query (2, label64, BL_DNS_TYPE_A, FALSE);
    g_assert_cmpint (parse_bytes (m2, &q), ==, BL_DNS_ERR_FORMERR);
    g_assert_cmphex (q.id, ==, 2);

    g_autoptr (GByteArray) m3 = make_query (3, name253, BL_DNS_TYPE_A, TRUE);
    g_assert_cmpint (parse_bytes (m3, &q), ==, 0);
    g_assert_cmpstr (q.name, ==, name253);
    g_assert_cmpuint (q.question_len, ==, 255 + 4);

    g_autoptr (GByteArray) m4 = make_query (4, name254, BL_DNS_TYPE_A, FALSE);
    g_assert_cmpint (parse_bytes (m4, &q), ==, BL_DNS_ERR_FORMERR);
    g_assert_cmphex (q.id, ==, 4);
}

/* Overwrites the 16-bit value at @offset of @m. */
static void
set_u16 (GByteArray *m, size_t offset, uint16_t v)
{
    m->data[offset] = (uint8_t) (v >> 8);
    m->data[offset + 1] = (uint8_t) v;
}

static void
expect (GByteArray *m, int code, uint16_t id)
{
    BlDnsQuery q;
    g_assert_cmpint (parse_bytes (m, &q), ==, code);
    g_assert_true (q.has_header);
    g_assert_cmphex (q.id, ==, id);
    if (code != BL_DNS_ERR_REFUSED)
        g_assert_cmpuint (q.question_len, ==, 0);
}

static void
test_parse_truncated (void)
{
    BlDnsQuery q;

    /* Truncated header: nothing to answer. */
    for (size_t len = 0; len < BL_DNS_HEADER_LEN; len++) {
        g_assert_cmpint (parse_exact (plain_query, len, &q), ==, BL_DNS_ERR_DROP);
        g_assert_false (q.has_header);
    }
    g_assert_cmpint (bl_dns_parse_query (NULL, 0, &q), ==, BL_DNS_ERR_DROP);

    /* Truncated question or OPT record: FORMERR, with the id. */
    for (size_t len = BL_DNS_HEADER_LEN; len < sizeof plain_query; len++) {
        g_assert_cmpint (parse_exact (plain_query, len, &q), ==, BL_DNS_ERR_FORMERR);
        g_assert_cmphex (q.id, ==, 0xabcd);
    }
    for (size_t len = BL_DNS_HEADER_LEN; len < sizeof edns_query; len++) {
        g_assert_cmpint (parse_exact (edns_query, len, &q), ==, BL_DNS_ERR_FORMERR);
        g_assert_cmphex (q.id, ==, 0x5a17);
    }
}

static void
test_parse_header (void)
{
    /* QR set: a response, not a query. */
    g_autoptr (GByteArray) response = make_query (10, "a.com", BL_DNS_TYPE_A, FALSE);
    set_u16 (response, 2, 0x8180);
    expect (response, BL_DNS_ERR_DROP, 10);

    /* Opcodes other than QUERY (IQUERY, STATUS, NOTIFY, UPDATE). */
    for (uint16_t opcode = 1; opcode < 16; opcode++) {
        g_autoptr (GByteArray) m = make_query (11, "a.com", BL_DNS_TYPE_A, FALSE);
        set_u16 (m, 2, (uint16_t) (RD | opcode << 11));
        expect (m, BL_DNS_ERR_NOTIMP, 11);
    }

    /* Section counts. */
    static const uint16_t counts[][4] = {
        { 0, 0, 0, 0 }, { 2, 0, 0, 0 }, { 1, 1, 0, 0 },
        { 1, 0, 1, 0 }, { 1, 0, 0, 2 }, { 0xffff, 0, 0, 0 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS (counts); i++) {
        g_autoptr (GByteArray) m = make_query (12, "a.com", BL_DNS_TYPE_A, FALSE);
        for (int j = 0; j < 4; j++)
            set_u16 (m, 4 + 2 * j, counts[i][j]);
        expect (m, BL_DNS_ERR_FORMERR, 12);
    }

    /* QDCOUNT 2 with two real questions is still refused. */
    g_autoptr (GByteArray) two = g_byte_array_new ();
    append_header (two, 13, RD, 2, 0, 0, 0);
    for (int i = 0; i < 2; i++) {
        append_name (two, "a.com");
        append_u16 (two, BL_DNS_TYPE_A);
        append_u16 (two, BL_DNS_CLASS_IN);
    }
    expect (two, BL_DNS_ERR_FORMERR, 13);
}

static void
test_parse_question (void)
{
    /* A compression pointer as the whole name, and after a first label. */
    static const uint8_t pointer[] = {
        0, 14, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1
    };
    static const uint8_t pointer_after[] = { 0, 15, 1, 0,   0,    1,    0, 0, 0, 0,
                                             0, 0,  1, 'a', 0xc0, 0x0c, 0, 1, 0, 1 };
    /* Extended label types 0x40 and 0x80. */
    static const uint8_t ext40[] = {
        0, 16, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'a', 0, 0, 1, 0, 1
    };
    static const uint8_t ext80[] = {
        0, 17, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x81, 'a', 0, 0, 1, 0, 1
    };
    /* Label bytes that would not read back from the dotted form. */
    static const uint8_t dot[] = { 0, 18, 1,   0,   0,   1, 0, 0, 0, 0, 0,
                                   0, 3,  'a', '.', 'b', 0, 0, 1, 0, 1 };
    static const uint8_t nul[] = { 0, 19, 1,   0, 0,   1, 0, 0, 0, 0, 0,
                                   0, 3,  'a', 0, 'b', 0, 0, 1, 0, 1 };
    static const uint8_t space[] = {
        0, 20, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 'a', ' ', 0, 0, 1, 0, 1
    };
    static const uint8_t high[] = {
        0, 21, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 'a', 0xe9, 0, 0, 1, 0, 1
    };
    static const struct {
        const uint8_t *bytes;
        size_t len;
    } cases[] = {
        { pointer, sizeof pointer }, { pointer_after, sizeof pointer_after },
        { ext40, sizeof ext40 },     { ext80, sizeof ext80 },
        { dot, sizeof dot },         { nul, sizeof nul },
        { space, sizeof space },     { high, sizeof high },
    };

    for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
        BlDnsQuery q;
        g_assert_cmpint (parse_exact (cases[i].bytes, cases[i].len, &q), ==, BL_DNS_ERR_FORMERR);
        g_assert_cmphex (q.id, ==, rd16 (cases[i].bytes));
    }

    /* A byte after the question. */
    g_autoptr (GByteArray) trailing = make_query (22, "a.com", BL_DNS_TYPE_A, FALSE);
    g_byte_array_append (trailing, (const uint8_t *) "", 1);
    expect (trailing, BL_DNS_ERR_FORMERR, 22);

    /* Class CH: well formed, refused, question kept. */
    g_autoptr (GByteArray) chaos = make_query (23, "version.bind", 16, FALSE);
    set_u16 (chaos, chaos->len - 2, 3);
    expect (chaos, BL_DNS_ERR_REFUSED, 23);
    BlDnsQuery q;
    parse_bytes (chaos, &q);
    g_assert_cmpstr (q.name, ==, "version.bind");
    g_assert_cmpuint (q.question_len, ==, chaos->len - 12);
}

static void
test_parse_additional (void)
{
    /* The additional record is not an OPT. */
    g_autoptr (GByteArray) not_opt = make_query (30, "a.com", BL_DNS_TYPE_A, TRUE);
    set_u16 (not_opt, not_opt->len - 10, BL_DNS_TYPE_A);
    expect (not_opt, BL_DNS_ERR_FORMERR, 30);

    /* An OPT with a name other than the root. */
    g_autoptr (GByteArray) named = make_query (31, "a.com", BL_DNS_TYPE_A, FALSE);
    set_u16 (named, 10, 1);
    append_name (named, "x");
    append_u16 (named, BL_DNS_TYPE_OPT);
    append_u16 (named, 1232);
    append_u16 (named, 0);
    append_u16 (named, 0);
    append_u16 (named, 0);
    expect (named, BL_DNS_ERR_FORMERR, 31);

    /* EDNS version 1. */
    g_autoptr (GByteArray) v1 = g_byte_array_new ();
    append_header (v1, 32, RD, 1, 0, 0, 1);
    append_name (v1, "a.com");
    append_u16 (v1, BL_DNS_TYPE_A);
    append_u16 (v1, BL_DNS_CLASS_IN);
    append_opt (v1, 1232, 1);
    expect (v1, BL_DNS_ERR_FORMERR, 32);

    /* RDLENGTH past the end, and an option longer than RDLENGTH. */
    uint8_t overrun[sizeof edns_query];
    memcpy (overrun, edns_query, sizeof overrun);
    overrun[sizeof overrun - 13] = 13;
    BlDnsQuery q;
    g_assert_cmpint (parse_exact (overrun, sizeof overrun, &q), ==, BL_DNS_ERR_FORMERR);
    memcpy (overrun, edns_query, sizeof overrun);
    overrun[sizeof overrun - 9] = 9;
    g_assert_cmpint (parse_exact (overrun, sizeof overrun, &q), ==, BL_DNS_ERR_FORMERR);
    /* RDLENGTH covering only the option's code and length, its data
     * following outside the record. */
    memcpy (overrun, edns_query, sizeof overrun);
    overrun[sizeof overrun - 13] = 4;
    g_assert_cmpint (parse_exact (overrun, sizeof overrun, &q), ==, BL_DNS_ERR_FORMERR);

    /* RDATA ending inside an option's code and length, at the message's end. */
    g_autoptr (GByteArray) partial = make_query (33, "a.com", BL_DNS_TYPE_A, TRUE);
    partial->data[partial->len - 1] = 2;
    g_byte_array_append (partial, (const uint8_t[]){ 0x00, 0x0a }, 2);
    expect (partial, BL_DNS_ERR_FORMERR, 33);
}

/* ---- responses ----------------------------------------------------------- */

/* Checks the header and question of the response @r to @q. */
static void
check_reply_to (const Response *r, const BlDnsQuery *q, int rcode)
{
    g_assert_cmphex (r->id, ==, q->id);
    g_assert_cmphex (r->flags & QR, ==, QR);
    g_assert_cmphex (r->flags & RA, ==, RA);
    g_assert_cmphex (r->flags & RD, ==, q->flags & RD);
    g_assert_cmphex (r->flags & 0x7800, ==, q->flags & 0x7800);
    g_assert_cmphex (r->flags & 0x0400, ==, 0); /* not authoritative */
    g_assert_cmphex (r->flags & 0x0200, ==, 0); /* not truncated */
    g_assert_cmpint (r->flags & 0xf, ==, rcode);
    if (r->qd == 1)
        g_assert_cmpmem (r->question, r->question_len, q->question, q->question_len);
}

static void
test_answer_a (void)
{
    BlDnsQuery q;
    g_assert_cmpint (parse_exact (plain_query, sizeof plain_query, &q), ==, 0);

    uint32_t v4[2];
    memcpy (&v4[0], (const uint8_t[]){ 192, 0, 2, 1 }, 4);
    memcpy (&v4[1], (const uint8_t[]){ 198, 51, 100, 7 }, 4);
    uint8_t v6[1][16] = { { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 } };
    uint8_t out[512];
    int n = bl_dns_build_answer (&q, v4, 2, (const uint8_t (*)[16]) v6, 1, 300, out, sizeof out);
    g_assert_cmpint (n, ==, 12 + 17 + 2 * 16);

    Response r;
    read_response (out, (size_t) n, &r);
    check_reply_to (&r, &q, BL_DNS_RCODE_NOERROR);
    g_assert_cmpuint (r.qd, ==, 1);
    g_assert_cmpuint (r.an, ==, 2);
    g_assert_false (r.has_opt);
    g_assert_cmpmem (r.question, r.question_len, plain_query + 12, sizeof plain_query - 12);
    for (int i = 0; i < 2; i++) {
        g_assert_cmpuint (r.answers[i].type, ==, BL_DNS_TYPE_A);
        g_assert_cmpuint (r.answers[i].klass, ==, BL_DNS_CLASS_IN);
        g_assert_cmpuint (r.answers[i].ttl, ==, 300);
        g_assert_cmpmem (r.answers[i].rdata, r.answers[i].rdlen, &v4[i], 4);
    }
}

static void
test_answer_aaaa_edns (void)
{
    BlDnsQuery q;
    g_assert_cmpint (parse_exact (edns_query, sizeof edns_query, &q), ==, 0);

    uint8_t v6[2][16] = { { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, { 0xfe, 0x80, [14] = 0xab, 0xcd } };
    uint32_t v4 = 0x01020304;
    uint8_t out[512];
    int n = bl_dns_build_answer (&q, &v4, 1, (const uint8_t (*)[16]) v6, 2, 60, out, sizeof out);
    g_assert_cmpint (n, ==, 12 + 17 + 2 * 28 + 11);

    Response r;
    read_response (out, (size_t) n, &r);
    check_reply_to (&r, &q, BL_DNS_RCODE_NOERROR);
    /* The question keeps the guest's letter case. */
    g_assert_cmpmem (r.question, r.question_len, edns_query + 12, 17);
    g_assert_cmpuint (r.an, ==, 2);
    for (int i = 0; i < 2; i++) {
        g_assert_cmpuint (r.answers[i].type, ==, BL_DNS_TYPE_AAAA);
        g_assert_cmpuint (r.answers[i].klass, ==, BL_DNS_CLASS_IN);
        g_assert_cmpuint (r.answers[i].ttl, ==, 60);
        g_assert_cmpmem (r.answers[i].rdata, r.answers[i].rdlen, v6[i], 16);
    }
    g_assert_true (r.has_opt);
    g_assert_cmpuint (r.opt_payload, ==, BL_DNS_EDNS_PAYLOAD);
    g_assert_cmphex (r.opt_ttl, ==, 0);
}

static void
test_answer_empty (void)
{
    uint32_t v4 = 0x01020304;
    uint8_t out[512];
    Response r;
    BlDnsQuery q;

    /* Another type: NOERROR without records. */
    g_autoptr (GByteArray) mx = make_query (40, "mail.example", 15, FALSE);
    g_assert_cmpint (parse_bytes (mx, &q), ==, 0);
    int n = bl_dns_build_answer (&q, &v4, 1, NULL, 0, 300, out, sizeof out);
    g_assert_cmpint (n, ==, 12 + (int) q.question_len);
    read_response (out, (size_t) n, &r);
    check_reply_to (&r, &q, BL_DNS_RCODE_NOERROR);
    g_assert_cmpuint (r.qd, ==, 1);
    g_assert_cmpuint (r.an, ==, 0);

    /* A with no addresses. */
    g_autoptr (GByteArray) a = make_query (41, "a.example", BL_DNS_TYPE_A, FALSE);
    g_assert_cmpint (parse_bytes (a, &q), ==, 0);
    n = bl_dns_build_answer (&q, NULL, 0, NULL, 0, 300, out, sizeof out);
    read_response (out, (size_t) n, &r);
    g_assert_cmpuint (r.an, ==, 0);

    /* TTLs are capped at 2^31 - 1. */
    n = bl_dns_build_answer (&q, &v4, 1, NULL, 0, G_MAXUINT32, out, sizeof out);
    read_response (out, (size_t) n, &r);
    g_assert_cmpuint (r.answers[0].ttl, ==, 0x7fffffff);
}

static void
test_sinkhole (void)
{
    static const uint8_t zero[16] = { 0 };
    static const uint16_t types[] = { BL_DNS_TYPE_A, BL_DNS_TYPE_AAAA, 16 };

    for (size_t i = 0; i < G_N_ELEMENTS (types); i++) {
        g_autoptr (GByteArray) m = make_query (50, "blocked.example", types[i], i == 1);
        BlDnsQuery q;
        g_assert_cmpint (parse_bytes (m, &q), ==, 0);
        uint8_t out[512];
        int n = bl_dns_build_sinkhole (&q, out, sizeof out);
        g_assert_cmpint (n, >, 0);

        Response r;
        read_response (out, (size_t) n, &r);
        check_reply_to (&r, &q, BL_DNS_RCODE_NOERROR);
        g_assert_cmpuint (r.has_opt, ==, i == 1);
        if (types[i] == 16) {
            g_assert_cmpuint (r.an, ==, 0);
            continue;
        }
        g_assert_cmpuint (r.an, ==, 1);
        g_assert_cmpuint (r.answers[0].type, ==, types[i]);
        g_assert_cmpuint (r.answers[0].klass, ==, BL_DNS_CLASS_IN);
        g_assert_cmpuint (r.answers[0].ttl, ==, BL_DNS_SINKHOLE_TTL);
        g_assert_cmpmem (r.answers[0].rdata, r.answers[0].rdlen, zero,
                         types[i] == BL_DNS_TYPE_A ? 4 : 16);
    }
}

static void
test_errors (void)
{
    uint8_t out[512];
    Response r;
    BlDnsQuery q;
    int n;

    /* FORMERR from a header alone: id and RD echoed, nothing else. */
    g_assert_cmpint (parse_exact (edns_query, 20, &q), ==, BL_DNS_ERR_FORMERR);
    n = bl_dns_build_error (&q, BL_DNS_RCODE_FORMERR, out, sizeof out);
    g_assert_cmpint (n, ==, 12);
    read_response (out, (size_t) n, &r);
    check_reply_to (&r, &q, BL_DNS_RCODE_FORMERR);
    g_assert_cmpuint (r.qd + r.an + r.ar, ==, 0);

    /* FORMERR to a parsed query still carries neither question nor OPT. */
    g_assert_cmpint (parse_exact (edns_query, sizeof edns_query, &q), ==, 0);
    n = bl_dns_build_error (&q, BL_DNS_RCODE_FORMERR, out, sizeof out);
    g_assert_cmpint (n, ==, 12);

    /* NXDOMAIN and SERVFAIL: question and OPT. */
    static const int rcodes[] = { BL_DNS_RCODE_NXDOMAIN, BL_DNS_RCODE_SERVFAIL };
    for (size_t i = 0; i < G_N_ELEMENTS (rcodes); i++) {
        n = bl_dns_build_error (&q, rcodes[i], out, sizeof out);
        g_assert_cmpint (n, ==, 12 + 17 + 11);
        read_response (out, (size_t) n, &r);
        check_reply_to (&r, &q, rcodes[i]);
        g_assert_cmpuint (r.qd, ==, 1);
        g_assert_cmpuint (r.an, ==, 0);
        g_assert_true (r.has_opt);
    }

    /* REFUSED to a class it does not serve, question echoed. */
    g_autoptr (GByteArray) chaos = make_query (60, "version.bind", 16, FALSE);
    set_u16 (chaos, chaos->len - 2, 3);
    g_assert_cmpint (parse_bytes (chaos, &q), ==, BL_DNS_ERR_REFUSED);
    n = bl_dns_build_error (&q, BL_DNS_RCODE_REFUSED, out, sizeof out);
    read_response (out, (size_t) n, &r);
    check_reply_to (&r, &q, BL_DNS_RCODE_REFUSED);
    g_assert_cmpuint (r.qd, ==, 1);
    g_assert_cmpmem (r.question, r.question_len, chaos->data + 12, chaos->len - 12);
    /* ... and such a query gets no IN answer. */
    g_assert_cmpint (bl_dns_build_sinkhole (&q, out, sizeof out), ==, -1);

    /* NOTIMP echoes the opcode. */
    g_autoptr (GByteArray) notify = make_query (61, "a.com", 6, FALSE);
    set_u16 (notify, 2, 4 << 11);
    g_assert_cmpint (parse_bytes (notify, &q), ==, BL_DNS_ERR_NOTIMP);
    n = bl_dns_build_error (&q, BL_DNS_RCODE_NOTIMP, out, sizeof out);
    g_assert_cmpint (n, ==, 12);
    read_response (out, (size_t) n, &r);
    check_reply_to (&r, &q, BL_DNS_RCODE_NOTIMP);
    g_assert_cmphex (r.flags & 0x7800, ==, 4 << 11);

    /* Codes that are not errors, and queries without a header. */
    g_assert_cmpint (parse_exact (plain_query, sizeof plain_query, &q), ==, 0);
    g_assert_cmpint (bl_dns_build_error (&q, BL_DNS_RCODE_NOERROR, out, sizeof out), ==, -1);
    g_assert_cmpint (bl_dns_build_error (&q, 6, out, sizeof out), ==, -1);
    g_assert_cmpint (bl_dns_build_error (&q, -1, out, sizeof out), ==, -1);
    g_assert_cmpint (parse_exact (plain_query, 5, &q), ==, BL_DNS_ERR_DROP);
    g_assert_cmpint (bl_dns_build_error (&q, BL_DNS_RCODE_FORMERR, out, sizeof out), ==, -1);
    g_assert_cmpint (bl_dns_build_sinkhole (&q, out, sizeof out), ==, -1);
}

/* Calls one builder for @q into @out (@out_len bytes). */
typedef int (*Builder) (const BlDnsQuery *q, uint8_t *out, size_t out_len);

static int
build_two_a (const BlDnsQuery *q, uint8_t *out, size_t out_len)
{
    static const uint32_t v4[2] = { 0x01020304, 0x05060708 };
    return bl_dns_build_answer (q, v4, 2, NULL, 0, 30, out, out_len);
}

static int
build_nxdomain (const BlDnsQuery *q, uint8_t *out, size_t out_len)
{
    return bl_dns_build_error (q, BL_DNS_RCODE_NXDOMAIN, out, out_len);
}

static void
test_small_buffers (void)
{
    static const Builder builders[] = { build_two_a, build_nxdomain, bl_dns_build_sinkhole };
    BlDnsQuery q;
    g_autofree char *name253 = long_name (253, 63);
    g_autoptr (GByteArray) m = make_query (70, name253, BL_DNS_TYPE_A, TRUE);
    g_assert_cmpint (parse_bytes (m, &q), ==, 0);

    for (size_t b = 0; b < G_N_ELEMENTS (builders); b++) {
        uint8_t big[1024];
        int full = builders[b](&q, big, sizeof big);
        g_assert_cmpint (full, >, 0);
        for (size_t len = 0; len <= (size_t) full; len++) {
            /* Exact-size heap buffers: a write past the end is caught. */
            g_autofree uint8_t *out = g_malloc (MAX (len, 1));
            int n = builders[b](&q, out, len);
            if (len == (size_t) full) {
                g_assert_cmpint (n, ==, full);
                g_assert_cmpmem (out, len, big, len);
            } else {
                g_assert_cmpint (n, ==, -1);
            }
        }
    }

    /* More records than a DNS message (65535 bytes) holds, whatever the
     * buffer: header 12, question 259, OPT 11, then 16 per A record. */
    size_t many = 70000;
    size_t huge_len = many * 16 + 1024;
    g_autofree uint32_t *v4 = g_new0 (uint32_t, many);
    g_autofree uint8_t *huge = g_malloc (huge_len);
    g_assert_cmpint (bl_dns_build_answer (&q, v4, many, NULL, 0, 1, huge, huge_len), ==, -1);
    g_assert_cmpint (bl_dns_build_answer (&q, v4, 4079, NULL, 0, 1, huge, huge_len), ==, -1);
    g_assert_cmpint (bl_dns_build_answer (&q, v4, 4078, NULL, 0, 1, huge, huge_len), ==,
                     12 + 259 + 11 + 4078 * 16);
}

/* ---- replay -------------------------------------------------------------- */

/* Checks what a successful parse promises about @q. */
static void
check_parsed (const BlDnsQuery *q)
{
    size_t len = strlen (q->name);
    g_assert_cmpuint (len, <=, BL_DNS_NAME_MAX);
    g_assert_cmpuint (q->question_len, ==, (len ? len + 2 : 1) + 4);
    for (size_t i = 0; i < len; i++) {
        g_assert_false (g_ascii_isupper (q->name[i]));
        g_assert_true (g_ascii_isgraph (q->name[i]));
    }
    g_assert_true (len == 0 || (q->name[0] != '.' && q->name[len - 1] != '.'));
    g_assert_null (strstr (q->name, ".."));
}

/* Feeds @len bytes of @data to the parser and, depending on the result,
 * to every builder with a random (exact-size) output buffer. */
static void
replay_one (GRand *rand, const uint8_t *data, size_t len)
{
    BlDnsQuery q;
    int rc = parse_exact (data, len, &q);
    g_assert_true (rc == 0 || rc == BL_DNS_ERR_DROP || rc == BL_DNS_ERR_FORMERR ||
                   rc == BL_DNS_ERR_NOTIMP || rc == BL_DNS_ERR_REFUSED);
    if (rc == 0)
        check_parsed (&q);

    size_t out_len = (size_t) g_rand_int_range (rand, 0, 700);
    g_autofree uint8_t *out = g_malloc (MAX (out_len, 1));
    static const uint32_t v4[3] = { 1, 2, 3 };
    static const uint8_t v6[2][16] = { { 1 }, { 2 } };
    int n;
    if (rc == 0) {
        n = bl_dns_build_answer (&q, v4, 3, v6, 2, 5, out, out_len);
        g_assert_cmpint (n, <=, (int) out_len);
        n = bl_dns_build_sinkhole (&q, out, out_len);
        g_assert_cmpint (n, <=, (int) out_len);
    }
    for (int rcode = BL_DNS_RCODE_FORMERR; rcode <= BL_DNS_RCODE_REFUSED; rcode++) {
        n = bl_dns_build_error (&q, rcode, out, out_len);
        g_assert_cmpint (n, <=, (int) out_len);
        g_assert_true (n == -1 || n >= BL_DNS_HEADER_LEN);
        g_assert_true (q.has_header || n == -1);
    }
}

static void
test_replay (void)
{
    g_autoptr (GRand) rand = g_rand_new_with_seed (0x444e53);
    g_autofree char *name253 = long_name (253, 63);
    g_autoptr (GByteArray) seed_long = make_query (1, name253, BL_DNS_TYPE_AAAA, TRUE);
    g_autoptr (GByteArray) seed_short = make_query (2, "A.b-C.example", BL_DNS_TYPE_A, FALSE);
    const struct {
        const uint8_t *bytes;
        size_t len;
    } seeds[] = {
        { plain_query, sizeof plain_query },
        { edns_query, sizeof edns_query },
        { seed_long->data, seed_long->len },
        { seed_short->data, seed_short->len },
    };
    unsigned accepted = 0;
    uint8_t buf[600];

    for (int i = 0; i < 100000; i++) {
        size_t len;
        if (i % 4 == 0) {
            /* Random bytes, mostly with a plausible header. */
            len = (size_t) g_rand_int_range (rand, 0, sizeof buf);
            for (size_t j = 0; j < len; j++)
                buf[j] = (uint8_t) g_rand_int (rand);
            if (len >= 12 && g_rand_boolean (rand)) {
                memcpy (buf + 2, (const uint8_t[]){ 1, 0, 0, 1, 0, 0, 0, 0, 0 }, 9);
                buf[11] = (uint8_t) g_rand_int_range (rand, 0, 2);
            }
        } else {
            /* A seed with a few bytes changed, cut or extended. */
            size_t s = (size_t) g_rand_int_range (rand, 0, G_N_ELEMENTS (seeds));
            len = seeds[s].len;
            memcpy (buf, seeds[s].bytes, len);
            int edits = g_rand_int_range (rand, 0, 4);
            for (int e = 0; e < edits; e++) {
                size_t at = (size_t) g_rand_int_range (rand, 0, (gint32) len);
                switch (g_rand_int_range (rand, 0, 4)) {
                case 0:
                    buf[at] = (uint8_t) g_rand_int (rand);
                    break;
                case 1:
                    buf[at] ^= (uint8_t) (1u << g_rand_int_range (rand, 0, 8));
                    break;
                case 2:
                    buf[at] = (uint8_t[]){ 0, 0x3f, 0x40, 0xc0, 0xff, 0x29 }[at % 6];
                    break;
                default:
                    len = MAX (at, 1);
                    break;
                }
            }
            if (g_rand_int_range (rand, 0, 8) == 0) {
                size_t extra = (size_t) g_rand_int_range (rand, 1, 16);
                for (size_t j = 0; j < extra && len < sizeof buf; j++)
                    buf[len++] = (uint8_t) g_rand_int (rand);
            }
        }
        BlDnsQuery q;
        if (parse_exact (buf, len, &q) == 0)
            accepted++;
        replay_one (rand, buf, len);
    }
    /* The mutations must reach past the parser's first checks. */
    g_test_message ("%u of 100000 packets parsed", accepted);
    g_assert_cmpuint (accepted, >, 1000);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);

    g_test_add_func ("/dns/parse/plain", test_parse_plain);
    g_test_add_func ("/dns/parse/edns", test_parse_edns);
    g_test_add_func ("/dns/parse/names", test_parse_names);
    g_test_add_func ("/dns/parse/limits", test_parse_limits);
    g_test_add_func ("/dns/parse/truncated", test_parse_truncated);
    g_test_add_func ("/dns/parse/header", test_parse_header);
    g_test_add_func ("/dns/parse/question", test_parse_question);
    g_test_add_func ("/dns/parse/additional", test_parse_additional);
    g_test_add_func ("/dns/answer/a", test_answer_a);
    g_test_add_func ("/dns/answer/aaaa-edns", test_answer_aaaa_edns);
    g_test_add_func ("/dns/answer/empty", test_answer_empty);
    g_test_add_func ("/dns/sinkhole", test_sinkhole);
    g_test_add_func ("/dns/errors", test_errors);
    g_test_add_func ("/dns/small-buffers", test_small_buffers);
    g_test_add_func ("/dns/replay", test_replay);

    return g_test_run ();
}

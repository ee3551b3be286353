/* dns.h: DNS messages for the box's own DNS answerer, without any I/O.
 *
 * The guest's queries arrive in UDP datagrams (or TCP segments with their
 * length prefix removed) addressed to the gateway; everything here reads a
 * message the guest wrote, which is untrusted: parsers read within @len
 * only. Responses are written into a buffer the caller owns.
 *
 * A response echoes the query's id, opcode and RD bit, sets QR and RA, and
 * copies the question as the guest wrote it (letter case included). When
 * the query carried an EDNS OPT record, the response carries one too,
 * advertising BL_DNS_EDNS_PAYLOAD bytes.
 */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

#define BL_DNS_HEADER_LEN 12
/* Longest name, as a dotted string without the trailing dot. */
#define BL_DNS_NAME_MAX 253
#define BL_DNS_LABEL_MAX 63
/* A question on the wire: the encoded name (at most 255 bytes), type, class. */
#define BL_DNS_QUESTION_MAX (255 + 4)
/* Largest response over UDP to a client without EDNS, in bytes. */
#define BL_DNS_UDP_MIN 512
/* UDP payload size we advertise in our OPT records, in bytes. */
#define BL_DNS_EDNS_PAYLOAD 1232
/* TTL of sinkhole answers, in seconds: short, so a name allowed later
 * does not stay unreachable in the guest's cache. */
#define BL_DNS_SINKHOLE_TTL 10

enum {
    BL_DNS_TYPE_A = 1,
    BL_DNS_TYPE_AAAA = 28,
    BL_DNS_TYPE_OPT = 41,
};

enum {
    BL_DNS_CLASS_IN = 1,
};

enum {
    BL_DNS_RCODE_NOERROR = 0,
    BL_DNS_RCODE_FORMERR = 1,
    BL_DNS_RCODE_SERVFAIL = 2,
    BL_DNS_RCODE_NXDOMAIN = 3,
    BL_DNS_RCODE_NOTIMP = 4,
    BL_DNS_RCODE_REFUSED = 5,
};

/* What bl_dns_parse_query() returns when it does not return 0. Each code
 * but DROP names the response to send, built with bl_dns_build_error(). */
enum {
    /* Not a query (shorter than a header, or QR set): send nothing. */
    BL_DNS_ERR_DROP = -1,
    /* A malformed query: answer FORMERR (id and flags are valid). */
    BL_DNS_ERR_FORMERR = -2,
    /* An opcode other than QUERY: answer NOTIMP (id and flags are valid). */
    BL_DNS_ERR_NOTIMP = -3,
    /* A well-formed query in a class other than IN: answer REFUSED (the
     * whole query is valid, so the question is echoed). */
    BL_DNS_ERR_REFUSED = -4,
};

typedef struct {
    /* Valid whenever the message held a full header. */
    gboolean has_header;
    uint16_t id;
    uint16_t flags; /* the query's header flags, host order */

    /* Valid when the parse returned 0 or BL_DNS_ERR_REFUSED. */
    char name[BL_DNS_NAME_MAX + 1]; /* lowercase, dotted, no trailing dot;
                                     * "" for the root */
    uint16_t qtype;
    uint16_t qclass;
    uint8_t question[BL_DNS_QUESTION_MAX]; /* wire form, as received */
    size_t question_len;                   /* 0: no question parsed */

    /* TRUE when the query carried a (valid, version 0) OPT record. */
    gboolean edns;
    /* Largest UDP response the client accepts, in bytes: BL_DNS_UDP_MIN
     * without EDNS, otherwise its advertised size but at least that. */
    uint16_t udp_size;
} BlDnsQuery;

/* Parses the DNS query in @buf (@len bytes, the DNS message alone) into
 * @out, which the caller owns; @buf is not referenced afterwards.
 *
 * Accepted: QR clear, opcode QUERY, exactly one question and no answer or
 * authority records, at most one additional record which must be an EDNS
 * OPT (version 0). The question's name must be written out label by label
 * (no compression pointer), labels 1 to 63 bytes of printable ASCII other
 * than '.', the dotted name at most 253 bytes. Nothing may follow the
 * records.
 *
 * Returns 0, or one of BL_DNS_ERR_* (see there for what is valid in @out
 * in each case). */
int bl_dns_parse_query (const uint8_t *buf, size_t len, BlDnsQuery *out);

/* Writes the NOERROR response to @q, a query parsed with result 0, into
 * @out (@out_len bytes, owned by the caller): for qtype A one A record per
 * address of @ipv4 (@n4 addresses, each in network byte order as in
 * struct in_addr), for AAAA one AAAA record per address of @ipv6 (@n6
 * addresses of 16 bytes), and no records for any other type or when there
 * are no addresses. Each record has TTL @ttl seconds (capped at 2^31 - 1)
 * and its name is a compression pointer to the question's name.
 *
 * Returns the length of the response in bytes, or -1 if it does not fit
 * in @out_len bytes or in a DNS message, or if @q has no IN question. */
int bl_dns_build_answer (const BlDnsQuery *q, const uint32_t *ipv4, size_t n4,
                         const uint8_t (*ipv6)[16], size_t n6, uint32_t ttl, uint8_t *out,
                         size_t out_len);

/* Writes an error response with @rcode (BL_DNS_RCODE_FORMERR, SERVFAIL,
 * NXDOMAIN, NOTIMP or REFUSED) to @q into @out (@out_len bytes, owned by
 * the caller). @q needs only its header: the question is copied when @q
 * has one, except for FORMERR, which never carries the question nor an
 * OPT record.
 *
 * Returns the length of the response in bytes, or -1 if it does not fit,
 * if @q has no header or if @rcode is not one of the above. */
int bl_dns_build_error (const BlDnsQuery *q, int rcode, uint8_t *out, size_t out_len);

/* Writes the sinkhole response to @q, a query parsed with result 0, into
 * @out (@out_len bytes, owned by the caller): A 0.0.0.0 for qtype A,
 * AAAA :: for AAAA, no records for other types, with TTL
 * BL_DNS_SINKHOLE_TTL.
 *
 * Returns the length of the response in bytes, or -1 as
 * bl_dns_build_answer() does. */
int bl_dns_build_sinkhole (const BlDnsQuery *q, uint8_t *out, size_t out_len);

G_END_DECLS

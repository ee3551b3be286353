/* test-netfilter.c: the filter's frame path without a box: frames the guest
 * could send are built here, passed to bl_net_filter_frame(), and what the
 * filter sends to the guest or releases to libslirp is captured and read
 * back through the same parsers. Names resolve from a hosts override only,
 * so nothing here touches the host's DNS. */
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "dns.h"
#include "filter.h"
#include "packet.h"
#include "private_addr.h"

#define GUEST 0xc0a87f02u
#define GATEWAY 0xc0a87f01u
#define ALIAS 0xc0a87ffeu
#define ALLOWED 0xc6120002u /* 198.18.0.2, allowed.test in the override */
#define OTHER 0xc6120003u   /* 198.18.0.3, other.test */
#define PRIVATE 0x0acb0009u /* 10.203.0.9, private.test */

static const guint8 guest_mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
static const guint8 gw_mac[6] = { 0x52, 0x55, 0xc0, 0xa8, 0x7f, 0x01 };

typedef struct {
    BlNetFilter *filter;
    BlAllowlist *allowlist;
    GPtrArray *to_guest; /* GBytes */
    GPtrArray *to_slirp; /* GBytes */
    char *dir;
} Fixture;

static void
capture_guest (const uint8_t *frame, size_t len, gpointer user_data)
{
    g_ptr_array_add (((Fixture *) user_data)->to_guest, g_bytes_new (frame, len));
}

static void
capture_slirp (const uint8_t *frame, size_t len, gpointer user_data)
{
    g_ptr_array_add (((Fixture *) user_data)->to_slirp, g_bytes_new (frame, len));
}

/* A filter on the fixture's allowlist, record and hosts file, as the
 * monitor makes one each time the box starts. */
static BlNetFilter *
filter_new (Fixture *fx)
{
    g_autofree char *hosts = g_build_filename (fx->dir, "hosts", NULL);
    g_autofree char *audit = g_build_filename (fx->dir, "netlog.jsonl", NULL);
    g_autoptr (GError) error = NULL;
    BlNetFilterConfig config = {
        .allowlist = fx->allowlist,
        .audit_path = audit,
        .hosts_path = hosts,
        .to_guest = capture_guest,
        .to_slirp = capture_slirp,
        .user_data = fx,
    };
    BlNetFilter *filter = bl_net_filter_new (&config, &error);
    g_assert_no_error (error);
    return filter;
}

static void
fixture_set_up (Fixture *fx, gconstpointer rules_data)
{
    const char *const *rules = rules_data;
    g_autoptr (GError) error = NULL;

    fx->dir = g_dir_make_tmp ("boxlite-netfilter-XXXXXX", &error);
    g_assert_no_error (error);
    g_autofree char *hosts = g_build_filename (fx->dir, "hosts", NULL);
    g_assert_true (g_file_set_contents (hosts,
                                        "198.18.0.2 allowed.test a.wild.test\n"
                                        "198.18.0.3 other.test # a comment\n"
                                        "10.203.0.9 private.test\n"
                                        "169.254.169.254 meta.test\n"
                                        "127.0.0.1 loop.test\n",
                                        -1, NULL));
    fx->allowlist = bl_net_allowlist_new (rules, &error);
    g_assert_no_error (error);
    fx->to_guest = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
    fx->to_slirp = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
    fx->filter = filter_new (fx);
}

static void
fixture_tear_down (Fixture *fx, gconstpointer data)
{
    bl_net_filter_free (fx->filter);
    bl_net_allowlist_free (fx->allowlist);
    g_ptr_array_unref (fx->to_guest);
    g_ptr_array_unref (fx->to_slirp);
    const char *const rm[] = { "rm", "-rf", fx->dir, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
    g_free (fx->dir);
}

/* ---- building guest frames -------------------------------------------- */

static void
put16 (guint8 *p, guint v)
{
    p[0] = (guint8) (v >> 8);
    p[1] = (guint8) v;
}

static void
put32 (guint8 *p, guint32 v)
{
    put16 (p, v >> 16);
    put16 (p + 2, v & 0xffff);
}

static guint32
pseudo_sum (guint32 src, guint32 dst, guint proto, gsize len)
{
    return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + (guint32) len;
}

/* An IPv4 frame from the guest with @l4 (@l4_len bytes, checksum field
 * already zero) as its transport part; fills in the transport checksum at
 * @csum_off. */
static GBytes *
ipv4_frame (guint32 src, guint32 dst, guint proto, guint8 *l4, gsize l4_len, gsize csum_off)
{
    gsize len = BL_ETH_HLEN + 20 + l4_len;
    guint8 *f = g_malloc0 (len);
    guint8 *ip = f + BL_ETH_HLEN;

    memcpy (f, gw_mac, 6);
    memcpy (f + 6, guest_mac, 6);
    put16 (f + 12, BL_ETH_TYPE_IPV4);
    ip[0] = 0x45;
    put16 (ip + 2, (guint) (20 + l4_len));
    put16 (ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = (guint8) proto;
    put32 (ip + 12, src);
    put32 (ip + 16, dst);
    put16 (ip + 10, bl_net_checksum (ip, 20, 0));
    put16 (l4 + csum_off, bl_net_checksum (l4, l4_len, pseudo_sum (src, dst, proto, l4_len)));
    memcpy (ip + 20, l4, l4_len);
    return g_bytes_new_take (f, len);
}

static GBytes *
udp_frame (guint32 dst, guint sport, guint dport, const guint8 *payload, gsize len)
{
    g_autofree guint8 *udp = g_malloc0 (8 + len);

    put16 (udp, sport);
    put16 (udp + 2, dport);
    put16 (udp + 4, (guint) (8 + len));
    memcpy (udp + 8, payload, len);
    return ipv4_frame (GUEST, dst, BL_IP_PROTO_UDP, udp, 8 + len, 6);
}

static GBytes *
tcp_frame_from (guint32 src, guint32 dst, guint sport, guint dport, guint32 seq, guint32 ack,
                guint flags, const guint8 *payload, gsize len)
{
    g_autofree guint8 *tcp = g_malloc0 (20 + len);

    put16 (tcp, sport);
    put16 (tcp + 2, dport);
    put32 (tcp + 4, seq);
    put32 (tcp + 8, ack);
    tcp[12] = 5 << 4;
    tcp[13] = (guint8) flags;
    put16 (tcp + 14, 65535);
    if (len > 0)
        memcpy (tcp + 20, payload, len);
    return ipv4_frame (src, dst, BL_IP_PROTO_TCP, tcp, 20 + len, 16);
}

static GBytes *
tcp_frame (guint32 dst, guint sport, guint dport, guint32 seq, guint32 ack, guint flags,
           const guint8 *payload, gsize len)
{
    return tcp_frame_from (GUEST, dst, sport, dport, seq, ack, flags, payload, len);
}

/* Shows the filter a segment libslirp sends the guest from @src:@sport to
 * the guest's @dport; returns whether the filter lets it through. */
static gboolean
from_slirp (Fixture *fx, guint32 src, guint sport, guint dport, guint32 seq, guint32 ack,
            guint flags, const guint8 *payload, gsize len)
{
    g_autoptr (GBytes) frame =
        tcp_frame_from (src, GUEST, sport, dport, seq, ack, flags, payload, len);
    gsize n;
    const guint8 *data = g_bytes_get_data (frame, &n);

    return bl_net_filter_observe (fx->filter, data, n);
}

static gboolean
feed (Fixture *fx, GBytes *frame)
{
    gsize len;
    const guint8 *data = g_bytes_get_data (frame, &len);
    gboolean pass = bl_net_filter_frame (fx->filter, data, len);

    g_bytes_unref (frame);
    return pass;
}

/* Parses a captured frame and checks its IPv4 and transport checksums. */
static void
parse_checked (GBytes *frame, BlNetPacket *pkt)
{
    gsize len;
    const guint8 *data = g_bytes_get_data (frame, &len);

    g_assert_true (bl_net_packet_parse (data, len, pkt));
    g_assert_true (pkt->ip_valid && pkt->l4_valid);
    const guint8 *ip = data + BL_ETH_HLEN;
    g_assert_cmpuint (bl_net_checksum (ip, 20, 0), ==, 0);
    gsize l4_len = (gsize) (ip[2] << 8 | ip[3]) - 20;
    g_assert_cmpuint (
        bl_net_checksum (ip + 20, l4_len, pseudo_sum (pkt->src, pkt->dst, pkt->proto, l4_len)), ==,
        0);
}

/* A DNS query for @name, type @qtype, id @id. */
static gsize
dns_query (guint8 *out, const char *name, guint qtype, guint id)
{
    gsize n = 0;

    put16 (out, id);
    put16 (out + 2, 0x0100);
    put16 (out + 4, 1);
    memset (out + 6, 0, 6);
    n = 12;
    g_auto (GStrv) labels = g_strsplit (name, ".", -1);
    for (guint i = 0; labels[i]; i++) {
        gsize l = strlen (labels[i]);
        out[n++] = (guint8) l;
        memcpy (out + n, labels[i], l);
        n += l;
    }
    out[n++] = 0;
    put16 (out + n, qtype);
    put16 (out + n + 2, 1);
    return n + 4;
}

/* Asks the filter for @name's A record; returns the first address of the
 * answer (host order), 0 for the sinkhole, G_MAXUINT32 for no answer. */
static guint32
resolve (Fixture *fx, const char *name)
{
    guint8 q[300];
    gsize qlen = dns_query (q, name, BL_DNS_TYPE_A, 0x1234);

    g_ptr_array_set_size (fx->to_guest, 0);
    g_assert_false (feed (fx, udp_frame (GATEWAY, 40000, 53, q, qlen)));
    g_assert_cmpuint (fx->to_guest->len, ==, 1);
    BlNetPacket pkt;
    parse_checked (g_ptr_array_index (fx->to_guest, 0), &pkt);
    g_assert_cmphex (pkt.src, ==, GATEWAY);
    g_assert_cmphex (pkt.dst, ==, GUEST);
    g_assert_cmpuint (pkt.sport, ==, 53);
    g_assert_cmpuint (pkt.dport, ==, 40000);
    const guint8 *r = pkt.payload;
    g_assert_cmpuint (pkt.payload_len, >=, qlen);
    g_assert_cmpuint (r[0] << 8 | r[1], ==, 0x1234);
    g_assert_cmpuint (r[3] & 0x0f, ==, 0); /* NOERROR */
    if ((r[6] << 8 | r[7]) == 0)
        return G_MAXUINT32;
    /* The first answer follows the question: pointer, type, class, TTL,
     * length 4, address. */
    const guint8 *a = r + qlen + 12;
    g_assert_cmpuint (a[-2] << 8 | a[-1], ==, 4);
    return (guint32) a[0] << 24 | (guint32) a[1] << 16 | (guint32) a[2] << 8 | a[3];
}

/* ---- cases ------------------------------------------------------------- */

static const char *const restrictive[] = { "allowed.test", "*.wild.test", NULL };

static void
test_dns_answers (Fixture *fx, gconstpointer data)
{
    g_assert_cmphex (resolve (fx, "allowed.test"), ==, ALLOWED);
    g_assert_cmphex (resolve (fx, "a.wild.test"), ==, ALLOWED);
    g_assert_cmphex (resolve (fx, "other.test"), ==, 0);
    g_assert_cmphex (resolve (fx, "host.boxlite.internal"), ==, ALIAS);

    /* A truncated query gets FORMERR with the id it carried. */
    guint8 q[300];
    gsize qlen = dns_query (q, "allowed.test", BL_DNS_TYPE_A, 0x4242);
    g_ptr_array_set_size (fx->to_guest, 0);
    g_assert_false (feed (fx, udp_frame (GATEWAY, 40001, 53, q, qlen - 3)));
    g_assert_cmpuint (fx->to_guest->len, ==, 1);
    BlNetPacket pkt;
    parse_checked (g_ptr_array_index (fx->to_guest, 0), &pkt);
    g_assert_cmpuint (pkt.payload[0] << 8 | pkt.payload[1], ==, 0x4242);
    g_assert_cmpuint (pkt.payload[3] & 0x0f, ==, BL_DNS_RCODE_FORMERR);
}

static void
expect_reset (Fixture *fx, guint32 from, guint sport, guint32 ack)
{
    g_assert_cmpuint (fx->to_guest->len, ==, 1);
    BlNetPacket rst;
    parse_checked (g_ptr_array_index (fx->to_guest, 0), &rst);
    g_assert_cmphex (rst.src, ==, from);
    g_assert_cmpuint (rst.dport, ==, sport);
    g_assert_true (rst.flags & BL_TCP_RST);
    g_assert_cmphex (rst.ack, ==, ack);
    g_ptr_array_set_size (fx->to_guest, 0);
}

static gboolean audit_has (Fixture *fx, const char *reason);

static void
test_syn_admission (Fixture *fx, gconstpointer data)
{
    /* Before any answer, allowed.test's address is a direct IP. */
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 50000, 80, 1000, 0, BL_TCP_SYN, NULL, 0)));
    expect_reset (fx, ALLOWED, 50000, 1001);
    g_assert_cmphex (resolve (fx, "allowed.test"), ==, ALLOWED);
    g_ptr_array_set_size (fx->to_guest, 0);
    g_assert_true (feed (fx, tcp_frame (ALLOWED, 50001, 80, 1000, 0, BL_TCP_SYN, NULL, 0)));
    g_assert_cmpuint (fx->to_guest->len, ==, 0);
    /* Data on a SYN would go out uninspected: refused. */
    const char req[] = "GET / HTTP/1.1\r\nHost: other.test\r\n\r\n";
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 50007, 80, 1000, 0, BL_TCP_SYN,
                                         (const guint8 *) req, sizeof req - 1)));
    expect_reset (fx, ALLOWED, 50007, 1001 + sizeof req - 1);
    /* A sinkholed name's address stays refused. */
    g_assert_cmphex (resolve (fx, "other.test"), ==, 0);
    g_ptr_array_set_size (fx->to_guest, 0);
    g_assert_false (feed (fx, tcp_frame (OTHER, 50002, 443, 7, 0, BL_TCP_SYN, NULL, 0)));
    expect_reset (fx, OTHER, 50002, 8);
    /* The host alias always; the rest of the subnet never. */
    g_assert_true (feed (fx, tcp_frame (ALIAS, 50003, 8080, 1, 0, BL_TCP_SYN, NULL, 0)));
    g_assert_false (feed (fx, tcp_frame (0xc0a87f03u, 50004, 53, 1, 0, BL_TCP_SYN, NULL, 0)));
    expect_reset (fx, 0xc0a87f03u, 50004, 2);
    g_assert_true (feed (fx, tcp_frame (GATEWAY, 50005, 53, 1, 0, BL_TCP_SYN, NULL, 0)));
    /* The gateway's port 53 is the filter's own DNS service, not tracked. */
    g_assert_true (from_slirp (fx, GATEWAY, 53, 50005, 9, 2, BL_TCP_SYN | BL_TCP_ACK, NULL, 0));
    g_assert_false (feed (fx, tcp_frame (GATEWAY, 50006, 80, 1, 0, BL_TCP_SYN, NULL, 0)));
    /* UDP to a direct IP is dropped silently; so is UDP to an allowed
     * name's address (nothing in it names the name), QUIC included. */
    guint8 junk[4] = { 1, 2, 3, 4 };
    g_assert_false (feed (fx, udp_frame (OTHER, 5000, 5000, junk, sizeof junk)));
    g_assert_false (feed (fx, udp_frame (ALLOWED, 5000, 5000, junk, sizeof junk)));
    g_assert_false (feed (fx, udp_frame (ALLOWED, 5001, 443, junk, sizeof junk)));
    g_assert_true (audit_has (fx, "datagram-to-name"));
    g_assert_true (audit_has (fx, "quic-to-name"));
    /* The host alias stays reachable. */
    g_assert_true (feed (fx, udp_frame (ALIAS, 5000, 5000, junk, sizeof junk)));
}

/* A minimal TLS 1.2 ClientHello record naming @sni. */
static GByteArray *
client_hello (const char *sni)
{
    GByteArray *b = g_byte_array_new ();
    gsize n = strlen (sni);
    guint8 hdr[5] = { 0x16, 3, 1, 0, 0 };
    guint8 hs[4] = { 1, 0, 0, 0 };
    guint8 body[2 + 32 + 1 + 4 + 2] = { 3, 3 };
    guint8 ext_hdr[2 + 4 + 2 + 1 + 2];

    body[34] = 0;         /* session id */
    put16 (body + 35, 2); /* cipher suites */
    put16 (body + 37, 0x002f);
    body[39] = 1; /* compression */
    body[40] = 0;
    put16 (ext_hdr, (guint) (4 + 2 + 1 + 2 + n)); /* extensions length */
    put16 (ext_hdr + 2, 0);                       /* server_name */
    put16 (ext_hdr + 4, (guint) (2 + 1 + 2 + n));
    put16 (ext_hdr + 6, (guint) (1 + 2 + n));
    ext_hdr[8] = 0;
    put16 (ext_hdr + 9, (guint) n);
    gsize hs_len = sizeof body + sizeof ext_hdr + n;
    hs[1] = (guint8) (hs_len >> 16);
    put16 (hs + 2, (guint) hs_len);
    put16 (hdr + 3, (guint) (4 + hs_len));
    g_byte_array_append (b, hdr, 5);
    g_byte_array_append (b, hs, 4);
    g_byte_array_append (b, body, sizeof body);
    g_byte_array_append (b, ext_hdr, sizeof ext_hdr);
    g_byte_array_append (b, (const guint8 *) sni, (guint) n);
    return b;
}

static void
test_sni_held_then_released (Fixture *fx, gconstpointer data)
{
    g_assert_cmphex (resolve (fx, "allowed.test"), ==, ALLOWED);
    g_ptr_array_set_size (fx->to_guest, 0);
    g_assert_true (feed (fx, tcp_frame (ALLOWED, 51000, 443, 100, 0, BL_TCP_SYN, NULL, 0)));
    g_assert_true (from_slirp (fx, ALLOWED, 443, 51000, 8, 101, BL_TCP_SYN | BL_TCP_ACK, NULL, 0));
    g_assert_true (feed (fx, tcp_frame (ALLOWED, 51000, 443, 101, 9, BL_TCP_ACK, NULL, 0)));

    /* The hello in two segments: the first is held, nothing goes out. */
    g_autoptr (GByteArray) hello = client_hello ("allowed.test");
    guint half = hello->len / 2;
    g_assert_false (feed (
        fx, tcp_frame (ALLOWED, 51000, 443, 101, 9, BL_TCP_ACK | BL_TCP_PSH, hello->data, half)));
    g_assert_cmpuint (fx->to_slirp->len, ==, 0);
    /* A retransmission of it changes nothing. */
    g_assert_false (feed (
        fx, tcp_frame (ALLOWED, 51000, 443, 101, 9, BL_TCP_ACK | BL_TCP_PSH, hello->data, half)));
    g_assert_cmpuint (fx->to_slirp->len, ==, 0);
    g_assert_false (
        feed (fx, tcp_frame (ALLOWED, 51000, 443, 101 + half, 9, BL_TCP_ACK | BL_TCP_PSH,
                             hello->data + half, hello->len - half)));
    /* Both released, in order; later segments pass straight through. */
    g_assert_cmpuint (fx->to_slirp->len, ==, 2);
    BlNetPacket a, b;
    parse_checked (g_ptr_array_index (fx->to_slirp, 0), &a);
    parse_checked (g_ptr_array_index (fx->to_slirp, 1), &b);
    g_assert_cmpuint (a.seq, ==, 101);
    g_assert_cmpuint (b.seq, ==, 101 + half);
    g_assert_cmpuint (fx->to_guest->len, ==, 0);
    g_assert_true (feed (fx, tcp_frame (ALLOWED, 51000, 443, 101 + hello->len, 9, BL_TCP_ACK,
                                        (const guint8 *) "x", 1)));
}

static void
test_sni_mismatch_cut (Fixture *fx, gconstpointer data)
{
    g_assert_cmphex (resolve (fx, "allowed.test"), ==, ALLOWED);
    g_ptr_array_set_size (fx->to_guest, 0);
    g_assert_true (feed (fx, tcp_frame (ALLOWED, 52000, 443, 500, 0, BL_TCP_SYN, NULL, 0)));
    g_assert_true (from_slirp (fx, ALLOWED, 443, 52000, 76, 501, BL_TCP_SYN | BL_TCP_ACK, NULL, 0));
    g_autoptr (GByteArray) hello = client_hello ("other.test");
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 52000, 443, 501, 77, BL_TCP_ACK | BL_TCP_PSH,
                                         hello->data, hello->len)));
    /* libslirp gets only a reset at the first data byte; the guest a reset
     * at what it acknowledged. */
    g_assert_cmpuint (fx->to_slirp->len, ==, 1);
    BlNetPacket abort;
    parse_checked (g_ptr_array_index (fx->to_slirp, 0), &abort);
    g_assert_true (abort.flags & BL_TCP_RST);
    g_assert_cmpuint (abort.payload_len, ==, 0);
    g_assert_cmpuint (abort.seq, ==, 501);
    g_assert_cmphex (abort.src, ==, GUEST);
    g_assert_cmpuint (fx->to_guest->len, ==, 1);
    BlNetPacket rst;
    parse_checked (g_ptr_array_index (fx->to_guest, 0), &rst);
    g_assert_true (rst.flags & BL_TCP_RST);
    g_assert_cmpuint (rst.seq, ==, 77);
    /* Whatever the guest sends on it later is refused, not forwarded. */
    g_assert_false (
        feed (fx, tcp_frame (ALLOWED, 52000, 443, 501, 77, BL_TCP_ACK, hello->data, 10)));
    g_assert_cmpuint (fx->to_slirp->len, ==, 1);

    /* Plain HTTP with a Host that is not listed, and a non-TLS flow on 443. */
    const char req[] = "GET / HTTP/1.1\r\nHost: other.test\r\n\r\n";
    g_assert_true (feed (fx, tcp_frame (ALLOWED, 52001, 80, 1, 0, BL_TCP_SYN, NULL, 0)));
    g_assert_true (from_slirp (fx, ALLOWED, 80, 52001, 4, 2, BL_TCP_SYN | BL_TCP_ACK, NULL, 0));
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 52001, 80, 2, 5, BL_TCP_ACK, (const guint8 *) req,
                                         sizeof req - 1)));
    g_assert_cmpuint (fx->to_slirp->len, ==, 2);
    g_assert_true (feed (fx, tcp_frame (ALLOWED, 52002, 443, 1, 0, BL_TCP_SYN, NULL, 0)));
    g_assert_true (from_slirp (fx, ALLOWED, 443, 52002, 4, 2, BL_TCP_SYN | BL_TCP_ACK, NULL, 0));
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 52002, 443, 2, 5, BL_TCP_ACK,
                                         (const guint8 *) "SSH-2.0-x\r\n", 11)));
    g_assert_cmpuint (fx->to_slirp->len, ==, 3);
}

/* ---- a connection's view kept in step with libslirp's ------------------ */

static const char allowed_req[] = "GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n";
static const char unlisted_req[] = "GET / HTTP/1.1\r\nHost: other.test\r\n\r\n";

/* TRUE if the record has a line with reason @reason. */
static gboolean
audit_has (Fixture *fx, const char *reason)
{
    g_autofree char *path = g_build_filename (fx->dir, "netlog.jsonl", NULL);
    g_autofree char *text = NULL;
    g_autofree char *needle = g_strdup_printf ("\"reason\":\"%s\"", reason);

    if (!g_file_get_contents (path, &text, NULL, NULL))
        return FALSE;
    return strstr (text, needle) != NULL;
}

/* A copy of @frame (consumed) with the byte at @off replaced by @value. */
static GBytes *
patched (GBytes *frame, gsize off, guint8 value)
{
    gsize len;
    const guint8 *data = g_bytes_get_data (frame, &len);
    guint8 *copy = g_memdup2 (data, len);

    g_assert_cmpuint (off, <, len);
    copy[off] = value;
    g_bytes_unref (frame);
    return g_bytes_new_take (copy, len);
}

/* A copy of @frame (consumed) with its IPv4 header checksum made valid. */
static GBytes *
ip_checksum_fixed (GBytes *frame)
{
    gsize len;
    const guint8 *data = g_bytes_get_data (frame, &len);
    guint8 *copy = g_memdup2 (data, len);
    guint8 *ip = copy + BL_ETH_HLEN;

    put16 (ip + 10, 0);
    put16 (ip + 10, bl_net_checksum (ip, 20, 0));
    g_bytes_unref (frame);
    return g_bytes_new_take (copy, len);
}

#define TCP_CSUM_OFF (BL_ETH_HLEN + 20 + 16)

/* An inspected connection to allowed.test port @dport from guest port
 * @sport: the guest's SYN at 1000, libslirp's SYN-ACK at 5000 with a
 * 65535-byte window, the guest's ACK. Its data starts at 1001. */
static void
open_inspected (Fixture *fx, guint sport, guint dport)
{
    g_assert_cmphex (resolve (fx, "allowed.test"), ==, ALLOWED);
    g_ptr_array_set_size (fx->to_guest, 0);
    g_assert_true (feed (fx, tcp_frame (ALLOWED, sport, dport, 1000, 0, BL_TCP_SYN, NULL, 0)));
    g_assert_true (
        from_slirp (fx, ALLOWED, dport, sport, 5000, 1001, BL_TCP_SYN | BL_TCP_ACK, NULL, 0));
    g_assert_true (feed (fx, tcp_frame (ALLOWED, sport, dport, 1001, 5001, BL_TCP_ACK, NULL, 0)));
}

/* The guest sends a request naming other.test at 1001: it is cut, and
 * libslirp gets a reset at 1001 and not one byte of it. */
static void
expect_unlisted_cut (Fixture *fx, guint sport)
{
    g_ptr_array_set_size (fx->to_slirp, 0);
    g_assert_false (feed (fx, tcp_frame (ALLOWED, sport, 80, 1001, 5001, BL_TCP_ACK | BL_TCP_PSH,
                                         (const guint8 *) unlisted_req, sizeof unlisted_req - 1)));
    g_assert_cmpuint (fx->to_slirp->len, ==, 1);
    BlNetPacket rst;
    parse_checked (g_ptr_array_index (fx->to_slirp, 0), &rst);
    g_assert_true (rst.flags & BL_TCP_RST);
    g_assert_cmpuint (rst.payload_len, ==, 0);
    g_assert_cmpuint (rst.seq, ==, 1001);
    g_assert_true (audit_has (fx, "host-not-listed"));
}

static void
test_forged_rst_ignored (Fixture *fx, gconstpointer data)
{
    open_inspected (fx, 54000, 80);
    /* A reset with a random sequence number and a wrong checksum: libslirp
     * would drop it, so the filter must not forget the connection. */
    GBytes *bad = tcp_frame (ALLOWED, 54000, 80, 0x7a3b1c2du, 0, BL_TCP_RST, NULL, 0);
    g_assert_false (feed (fx, patched (bad, TCP_CSUM_OFF, 0x5a)));
    /* A valid one far outside the window: the same. */
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 54000, 80, 0x7a3b1c2du, 0, BL_TCP_RST, NULL, 0)));
    g_assert_cmpuint (fx->to_slirp->len, ==, 0);
    expect_unlisted_cut (fx, 54000);
}

static void
test_repeated_syn_ignored (Fixture *fx, gconstpointer data)
{
    open_inspected (fx, 54001, 80);
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 54001, 80, 90000, 0, BL_TCP_SYN, NULL, 0)));
    expect_unlisted_cut (fx, 54001);
}

static void
test_unacceptable_segments_ignored (Fixture *fx, gconstpointer data)
{
    open_inspected (fx, 54002, 80);
    g_ptr_array_set_size (fx->to_slirp, 0);
    /* libslirp drops data without ACK, with an ACK of what it never sent,
     * and with a bad checksum: none of it may count as the first bytes. */
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 54002, 80, 1001, 0, BL_TCP_PSH,
                                         (const guint8 *) allowed_req, sizeof allowed_req - 1)));
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 54002, 80, 1001, 9000, BL_TCP_ACK,
                                         (const guint8 *) allowed_req, sizeof allowed_req - 1)));
    GBytes *bad = tcp_frame (ALLOWED, 54002, 80, 1001, 5001, BL_TCP_ACK,
                             (const guint8 *) allowed_req, sizeof allowed_req - 1);
    g_assert_false (feed (fx, patched (bad, TCP_CSUM_OFF, 0)));
    /* Nor data past the window libslirp advertised. */
    g_autofree guint8 *big = g_malloc0 (1200);
    g_assert_false (
        feed (fx, tcp_frame (ALLOWED, 54002, 80, 1001 + 65000, 5001, BL_TCP_ACK, big, 1200)));
    g_assert_cmpuint (fx->to_slirp->len, ==, 0);
    expect_unlisted_cut (fx, 54002);
}

static void
test_data_before_synack_ignored (Fixture *fx, gconstpointer data)
{
    g_assert_cmphex (resolve (fx, "allowed.test"), ==, ALLOWED);
    g_assert_true (feed (fx, tcp_frame (ALLOWED, 54003, 80, 1000, 0, BL_TCP_SYN, NULL, 0)));
    /* libslirp is still connecting: it drops whatever comes. */
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 54003, 80, 1001, 5001, BL_TCP_ACK,
                                         (const guint8 *) allowed_req, sizeof allowed_req - 1)));
    g_assert_cmpuint (fx->to_slirp->len, ==, 0);
    g_assert_true (
        from_slirp (fx, ALLOWED, 80, 54003, 5000, 1001, BL_TCP_SYN | BL_TCP_ACK, NULL, 0));
    expect_unlisted_cut (fx, 54003);
}

static void
test_rst_in_window_closes (Fixture *fx, gconstpointer data)
{
    open_inspected (fx, 54004, 80);
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 54004, 80, 1001, 5001, BL_TCP_ACK,
                                         (const guint8 *) "GET / HTTP/1.1\r\n", 16)));
    /* The guest's reset at what it sent: libslirp has none of the held
     * bytes, so it gets a reset at the first of them instead. */
    g_assert_false (
        feed (fx, tcp_frame (ALLOWED, 54004, 80, 1017, 5001, BL_TCP_RST | BL_TCP_ACK, NULL, 0)));
    g_assert_cmpuint (fx->to_slirp->len, ==, 1);
    BlNetPacket rst;
    parse_checked (g_ptr_array_index (fx->to_slirp, 0), &rst);
    g_assert_true (rst.flags & BL_TCP_RST);
    g_assert_cmpuint (rst.seq, ==, 1001);
    /* Nothing more goes out on it. */
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 54004, 80, 1017, 5001, BL_TCP_ACK,
                                         (const guint8 *) "Host: allowed.test\r\n\r\n", 22)));
    g_assert_cmpuint (fx->to_slirp->len, ==, 1);

    /* On a connection that was let through, a reset in the window goes to
     * libslirp as it is. */
    open_inspected (fx, 54005, 80);
    /* A whole request that is allowed goes at once, not held. */
    g_assert_true (feed (fx, tcp_frame (ALLOWED, 54005, 80, 1001, 5001, BL_TCP_ACK,
                                        (const guint8 *) allowed_req, sizeof allowed_req - 1)));
    guint32 end = 1001 + sizeof allowed_req - 1;
    g_assert_true (from_slirp (fx, ALLOWED, 80, 54005, 5001, end, BL_TCP_ACK, NULL, 0));
    g_assert_false (
        feed (fx, tcp_frame (ALLOWED, 54005, 80, end + 5000, 5001, BL_TCP_RST, NULL, 0)));
    g_assert_true (feed (fx, tcp_frame (ALLOWED, 54005, 80, end, 5001, BL_TCP_RST, NULL, 0)));
}

static void
test_unknown_connection_refused (Fixture *fx, gconstpointer data)
{
    g_assert_cmphex (resolve (fx, "allowed.test"), ==, ALLOWED);
    g_ptr_array_set_size (fx->to_guest, 0);
    /* No SYN passed for it: refused on both sides, not let through. */
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 54006, 80, 1001, 5001, BL_TCP_ACK,
                                         (const guint8 *) unlisted_req, sizeof unlisted_req - 1)));
    expect_reset (fx, ALLOWED, 54006, 0);
    g_assert_cmpuint (fx->to_slirp->len, ==, 1);
    BlNetPacket rst;
    parse_checked (g_ptr_array_index (fx->to_slirp, 0), &rst);
    g_assert_true (rst.flags & BL_TCP_RST);
    g_assert_cmpuint (rst.payload_len, ==, 0);
    /* A SYN-ACK the guest makes up is refused; one answering libslirp's
     * SYN (a port forward) passes, and so does what follows. */
    g_assert_false (
        feed (fx, tcp_frame (ALIAS, 8080, 40000, 3000, 778, BL_TCP_SYN | BL_TCP_ACK, NULL, 0)));
    g_assert_true (from_slirp (fx, ALIAS, 40000, 8080, 777, 0, BL_TCP_SYN, NULL, 0));
    g_assert_true (
        feed (fx, tcp_frame (ALIAS, 8080, 40000, 3000, 778, BL_TCP_SYN | BL_TCP_ACK, NULL, 0)));
    g_assert_true (
        from_slirp (fx, ALIAS, 40000, 8080, 778, 3001, BL_TCP_ACK, (const guint8 *) "hi", 2));
    g_assert_true (feed (
        fx, tcp_frame (ALIAS, 8080, 40000, 3001, 780, BL_TCP_ACK, (const guint8 *) "hello", 5)));
}

static void
test_bad_headers_dropped (Fixture *fx, gconstpointer data)
{
    guint8 q[300];
    gsize qlen = dns_query (q, "allowed.test", BL_DNS_TYPE_A, 0x1234);
    const gsize udp_csum = BL_ETH_HLEN + 20 + 6;

    g_ptr_array_set_size (fx->to_guest, 0);
    /* A bad UDP checksum, a bad IPv4 header checksum, a TTL of 0. */
    GBytes *f = udp_frame (GATEWAY, 40000, 53, q, qlen);
    gsize len;
    const guint8 *d = g_bytes_get_data (f, &len);
    guint8 c = d[udp_csum];
    g_assert_false (feed (fx, patched (g_bytes_ref (f), udp_csum, (guint8) (c ^ 1))));
    g_assert_false (
        feed (fx, patched (g_bytes_ref (f), BL_ETH_HLEN + 10, (guint8) (d[BL_ETH_HLEN + 10] ^ 1))));
    g_assert_false (feed (fx, ip_checksum_fixed (patched (g_bytes_ref (f), BL_ETH_HLEN + 8, 0))));
    g_assert_cmpuint (fx->to_guest->len, ==, 0);
    /* The same query intact is answered. */
    g_assert_false (feed (fx, f));
    g_assert_cmpuint (fx->to_guest->len, ==, 1);
}

/* ---- bounded memory ----------------------------------------------------- */

static void
test_budgets (Fixture *fx, gconstpointer data)
{
    g_assert_cmphex (resolve (fx, "allowed.test"), ==, ALLOWED);
    /* Half-open connections: 64, then refused. */
    for (guint i = 0; i < 64; i++)
        g_assert_true (feed (fx, tcp_frame (ALLOWED, 10000 + i, 80, i, 0, BL_TCP_SYN, NULL, 0)));
    g_ptr_array_set_size (fx->to_guest, 0);
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 12000, 80, 7, 0, BL_TCP_SYN, NULL, 0)));
    expect_reset (fx, ALLOWED, 12000, 8);
    g_assert_true (audit_has (fx, "budget-exceeded"));

    /* Once libslirp has connected one, there is room for one more. */
    g_assert_true (from_slirp (fx, ALLOWED, 80, 10000, 5000, 1, BL_TCP_SYN | BL_TCP_ACK, NULL, 0));
    g_assert_true (feed (fx, tcp_frame (ALLOWED, 12001, 80, 7, 0, BL_TCP_SYN, NULL, 0)));
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 12002, 80, 7, 0, BL_TCP_SYN, NULL, 0)));

    /* Connected ones count against the whole budget: 256 records. */
    for (guint i = 1; i < 64; i++)
        g_assert_true (
            from_slirp (fx, ALLOWED, 80, 10000 + i, 5000, i + 1, BL_TCP_SYN | BL_TCP_ACK, NULL, 0));
    g_assert_true (from_slirp (fx, ALLOWED, 80, 12001, 5000, 8, BL_TCP_SYN | BL_TCP_ACK, NULL, 0));
    for (guint i = 65; i < 256; i++) {
        guint16 sport = (guint16) (20000 + i);
        g_assert_true (feed (fx, tcp_frame (ALLOWED, sport, 80, 7, 0, BL_TCP_SYN, NULL, 0)));
        g_assert_true (
            from_slirp (fx, ALLOWED, 80, sport, 5000, 8, BL_TCP_SYN | BL_TCP_ACK, NULL, 0));
    }
    g_ptr_array_set_size (fx->to_guest, 0);
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 12003, 80, 7, 0, BL_TCP_SYN, NULL, 0)));
    expect_reset (fx, ALLOWED, 12003, 8);

    /* A reset connection's socket is gone at once, and so is its place. */
    g_assert_true (feed (fx, tcp_frame (ALLOWED, 20100, 80, 8, 5001, BL_TCP_RST, NULL, 0)));
    g_assert_true (feed (fx, tcp_frame (ALLOWED, 12004, 80, 7, 0, BL_TCP_SYN, NULL, 0)));
}

static gboolean slirp_got_only_reset (Fixture *fx);

static void
test_held_budget (Fixture *fx, gconstpointer data)
{
    g_autofree guint8 *first = g_malloc (1400);
    g_autofree guint8 *more = g_malloc (1400);
    guint denied = 0;

    /* Heads that never end, 11 segments (15 KiB) held per connection: past
     * 1 MiB held in all, a connection is cut instead of holding more. */
    memset (first, 'a', 1400);
    memcpy (first, "GET / HTTP/1.1\r\nX: ", 19);
    memset (more, 'a', 1400);
    g_assert_cmphex (resolve (fx, "allowed.test"), ==, ALLOWED);
    for (guint i = 0; i < 80; i++) {
        guint sport = 30000 + i;
        g_assert_true (feed (fx, tcp_frame (ALLOWED, sport, 80, 1000, 0, BL_TCP_SYN, NULL, 0)));
        g_assert_true (
            from_slirp (fx, ALLOWED, 80, sport, 5000, 1001, BL_TCP_SYN | BL_TCP_ACK, NULL, 0));
        g_ptr_array_set_size (fx->to_slirp, 0);
        for (guint k = 0; k < 11; k++)
            g_assert_false (feed (fx, tcp_frame (ALLOWED, sport, 80, 1001 + k * 1400, 5001,
                                                 BL_TCP_ACK, k ? more : first, 1400)));
        if (fx->to_slirp->len > 0) {
            g_assert_true (slirp_got_only_reset (fx));
            denied++;
        }
    }
    /* 1 MiB / (11 frames of 1454 bytes) is 65 connections held. */
    g_assert_cmpuint (denied, >=, 80 - 66);
    g_assert_cmpuint (denied, <=, 80 - 60);
    g_assert_true (audit_has (fx, "budget-exceeded"));
}

/* ---- every request checked ---------------------------------------------- */

/* The guest sends @text at @seq on the connection from @sport to port 80. */
static gboolean
send_text (Fixture *fx, guint sport, guint32 seq, const char *text)
{
    return feed (fx, tcp_frame (ALLOWED, sport, 80, seq, 5001, BL_TCP_ACK | BL_TCP_PSH,
                                (const guint8 *) text, strlen (text)));
}

/* TRUE if libslirp was given nothing since the last clear but one reset. */
static gboolean
slirp_got_only_reset (Fixture *fx)
{
    BlNetPacket pkt;

    if (fx->to_slirp->len != 1)
        return FALSE;
    parse_checked (g_ptr_array_index (fx->to_slirp, 0), &pkt);
    return (pkt.flags & BL_TCP_RST) && pkt.payload_len == 0;
}

static void
test_request_targets (Fixture *fx, gconstpointer data)
{
    const struct {
        const char *text;
        const char *reason;
    } cut[] = {
        { "GET http://other.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n", "target-not-listed" },
        { "GET http://allowed.test@other.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
          "malformed-http" },
        { "CONNECT other.test:443 HTTP/1.1\r\nHost: allowed.test\r\n\r\n", "target-not-listed" },
        { "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "http2-prior-knowledge" },
    };

    for (guint i = 0; i < G_N_ELEMENTS (cut); i++) {
        guint sport = 56000 + i;
        open_inspected (fx, sport, 80);
        g_ptr_array_set_size (fx->to_slirp, 0);
        g_assert_false (send_text (fx, sport, 1001, cut[i].text));
        g_assert_true (slirp_got_only_reset (fx));
        if (!audit_has (fx, cut[i].reason))
            g_error ("no record %s for %s", cut[i].reason, cut[i].text);
    }

    /* An allowed absolute-form target goes; a CONNECT to an allowed name
     * too, and then the tunnel's first bytes are judged. */
    open_inspected (fx, 56010, 80);
    g_ptr_array_set_size (fx->to_slirp, 0);
    g_assert_true (send_text (
        fx, 56010, 1001, "GET http://allowed.test:80/x HTTP/1.1\r\nHost: allowed.test\r\n\r\n"));
    const char connect[] = "CONNECT allowed.test:443 HTTP/1.1\r\nHost: allowed.test:443\r\n\r\n";
    open_inspected (fx, 56011, 80);
    g_ptr_array_set_size (fx->to_slirp, 0);
    g_assert_true (send_text (fx, 56011, 1001, connect));
    g_autoptr (GByteArray) hello = client_hello ("other.test");
    g_assert_false (feed (fx, tcp_frame (ALLOWED, 56011, 80, 1001 + sizeof connect - 1, 5001,
                                         BL_TCP_ACK, hello->data, hello->len)));
    g_assert_true (slirp_got_only_reset (fx));
    g_assert_true (audit_has (fx, "sni-not-listed"));
}

static void
test_every_request_checked (Fixture *fx, gconstpointer data)
{
    /* Two requests in one segment, the second not listed. */
    g_autofree char *two = g_strconcat (allowed_req, unlisted_req, NULL);
    open_inspected (fx, 57000, 80);
    g_ptr_array_set_size (fx->to_slirp, 0);
    g_assert_false (send_text (fx, 57000, 1001, two));
    g_assert_true (slirp_got_only_reset (fx));
    g_assert_true (audit_has (fx, "host-not-listed"));

    /* A kept-alive connection: the second request, in its own segment. */
    guint32 seq = 1001;
    open_inspected (fx, 57001, 80);
    g_ptr_array_set_size (fx->to_slirp, 0);
    g_assert_true (send_text (fx, 57001, seq, allowed_req));
    seq += sizeof allowed_req - 1;
    g_assert_true (from_slirp (fx, ALLOWED, 80, 57001, 5001, seq, BL_TCP_ACK, NULL, 0));
    g_ptr_array_set_size (fx->to_slirp, 0);
    g_assert_false (send_text (fx, 57001, seq, unlisted_req));
    g_assert_true (slirp_got_only_reset (fx));

    /* A body that looks like a request is a body; the request after it is
     * read, in pieces too. */
    const char post[] = "POST /u HTTP/1.1\r\nHost: allowed.test\r\nContent-Length: 36\r\n\r\n";
    seq = 1001;
    open_inspected (fx, 57002, 80);
    g_assert_true (send_text (fx, 57002, seq, post));
    seq += sizeof post - 1;
    g_assert_true (send_text (fx, 57002, seq, unlisted_req)); /* 36 bytes of body */
    seq += sizeof unlisted_req - 1;
    const char piece[] = "GET / HTTP/1.1\r\nHost: allo";
    g_assert_cmpuint (sizeof unlisted_req - 1, ==, 36);
    g_assert_false (send_text (fx, 57002, seq, piece));
    g_ptr_array_set_size (fx->to_slirp, 0);
    g_assert_false (send_text (fx, 57002, seq + sizeof piece - 1, "wed.test\r\n\r\n"));
    g_assert_cmpuint (fx->to_slirp->len, ==, 2);       /* both pieces, once whole */
    g_assert_true (send_text (fx, 57002, seq, piece)); /* sent again */

    /* A chunked body, then a request that is not listed. */
    const char chunked[] =
        "POST /c HTTP/1.1\r\nHost: allowed.test\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n";
    g_autofree char *chunked_then = g_strconcat (chunked, unlisted_req, NULL);
    open_inspected (fx, 57003, 80);
    g_ptr_array_set_size (fx->to_slirp, 0);
    g_assert_false (send_text (fx, 57003, 1001, chunked_then));
    g_assert_true (slirp_got_only_reset (fx));

    /* After an Upgrade nothing can be followed: the next byte cuts. */
    const char upgrade[] = "GET /ws HTTP/1.1\r\nHost: allowed.test\r\nUpgrade: websocket\r\n\r\n";
    open_inspected (fx, 57004, 80);
    g_ptr_array_set_size (fx->to_slirp, 0);
    g_assert_true (send_text (fx, 57004, 1001, upgrade));
    g_assert_false (send_text (fx, 57004, 1001 + sizeof upgrade - 1, "\x81\x05hello"));
    g_assert_true (slirp_got_only_reset (fx));
    g_assert_true (audit_has (fx, "http-unfollowable"));
}

/* ---- answers that lead to private addresses --------------------------- */

static const char *const with_private[] = { "allowed.test", "private.test", "meta.test",
                                            "loop.test", NULL };
static const char *const with_private_range[] = {
    "allowed.test", "private.test", "meta.test", "loop.test", "10.203.0.0/16", NULL,
};

static gboolean
syn_passes (Fixture *fx, guint32 dst, guint sport)
{
    g_ptr_array_set_size (fx->to_guest, 0);
    return feed (fx, tcp_frame (dst, sport, 80, 1000, 0, BL_TCP_SYN, NULL, 0));
}

static void
test_private_answers (Fixture *fx, gconstpointer data)
{
    gboolean range = data == with_private_range;

    /* The guest gets the answers as they are... */
    g_assert_cmphex (resolve (fx, "private.test"), ==, PRIVATE);
    g_assert_cmphex (resolve (fx, "meta.test"), ==, 0xa9fea9feu);
    g_assert_cmphex (resolve (fx, "loop.test"), ==, 0x7f000001u);
    g_assert_cmphex (resolve (fx, "allowed.test"), ==, ALLOWED);
    /* ...but connections go only where a range rule says. */
    g_assert_true (syn_passes (fx, ALLOWED, 55000));
    g_assert_cmpint (syn_passes (fx, PRIVATE, 55001), ==, range);
    g_assert_false (syn_passes (fx, 0xa9fea9feu, 55002));
    expect_reset (fx, 0xa9fea9feu, 55002, 1001);
    g_assert_false (syn_passes (fx, 0x7f000001u, 55003));
    g_assert_true (audit_has (fx, "private-address"));
    /* Datagrams go where a range rule says, and nowhere else. */
    guint8 ping[4] = { 1, 2, 3, 4 };
    g_assert_cmpint (feed (fx, udp_frame (PRIVATE, 5000, 5000, ping, sizeof ping)), ==, range);
}

static void
test_private_classes (void)
{
    const char *const private[] = {
        "127.0.0.1",   "10.1.2.3",        "172.16.0.1",       "172.31.255.255",
        "192.168.0.1", "169.254.169.254", "100.64.0.1",       "100.127.255.255",
        "0.0.0.0",     "224.0.0.1",       "255.255.255.255",  "::1",
        "::",          "fc00::1",         "fd12::1",          "fe80::1",
        "ff02::1",     "::ffff:10.0.0.1", "::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe",
    };
    const char *const public[] = {
        "8.8.8.8", "100.128.0.1", "172.32.0.1", "198.18.0.2", "2001:db8::1", "::ffff:8.8.8.8",
    };

    for (guint i = 0; i < G_N_ELEMENTS (private); i++) {
        g_autoptr (GInetAddress) a = g_inet_address_new_from_string (private[i]);
        g_assert_nonnull (a);
        if (!bl_net_address_is_private (g_inet_address_to_bytes (a),
                                        g_inet_address_get_native_size (a)))
            g_error ("%s is not private", private[i]);
    }
    for (guint i = 0; i < G_N_ELEMENTS (public); i++) {
        g_autoptr (GInetAddress) a = g_inet_address_new_from_string (public[i]);
        if (bl_net_address_is_private (g_inet_address_to_bytes (a),
                                       g_inet_address_get_native_size (a)))
            g_error ("%s is private", public[i]);
    }
    const guint8 loopback[4] = { 127, 0, 0, 1 };
    g_assert_true (bl_net_address_is_host_own (loopback, 4));
}

static void
test_other_frames (Fixture *fx, gconstpointer data)
{
    guint8 arp[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    memcpy (arp + 6, guest_mac, 6);
    put16 (arp + 12, BL_ETH_TYPE_ARP);
    g_assert_true (bl_net_filter_frame (fx->filter, arp, sizeof arp));
    put16 (arp + 12, BL_ETH_TYPE_IPV6);
    g_assert_false (bl_net_filter_frame (fx->filter, arp, sizeof arp));
    g_assert_false (bl_net_filter_frame (fx->filter, arp, 10));

    /* Another source address than the guest's is dropped. */
    g_autofree guint8 *udp = g_malloc0 (8);
    put16 (udp + 4, 8);
    GBytes *spoofed = ipv4_frame (0x0a000001u, ALIAS, BL_IP_PROTO_UDP, udp, 8, 6);
    g_assert_false (feed (fx, spoofed));
}

static void
test_empty_allows_all (Fixture *fx, gconstpointer data)
{
    g_assert_cmphex (resolve (fx, "other.test"), ==, OTHER);
    g_assert_true (feed (fx, tcp_frame (0x08080808u, 53000, 443, 1, 0, BL_TCP_SYN, NULL, 0)));
    g_autoptr (GByteArray) hello = client_hello ("anything.example");
    g_assert_true (
        feed (fx, tcp_frame (0x08080808u, 53000, 443, 2, 5, BL_TCP_ACK, hello->data, hello->len)));
    g_assert_cmpuint (fx->to_guest->len, ==, 1); /* only the DNS answer */
}

/* Makes the IPv4 and transport checksums of @frame valid again, so that a
 * mutation reaches the connection tracking instead of the checksum check. */
static void
fix_checksums (guint8 *frame, gsize len)
{
    BlNetPacket pkt;

    if (!bl_net_packet_parse (frame, len, &pkt) || !pkt.ip_valid)
        return;
    guint8 *ip = frame + BL_ETH_HLEN;
    put16 (ip + 10, 0);
    put16 (ip + 10, bl_net_checksum (ip, pkt.ip_hlen, 0));
    if (!pkt.l4_valid || pkt.fragment)
        return;
    guint8 *l4 = (guint8 *) pkt.l4;
    gsize off = pkt.proto == BL_IP_PROTO_TCP ? 16 : 6;
    put16 (l4 + off, 0);
    put16 (l4 + off,
           bl_net_checksum (l4, pkt.l4_len, pseudo_sum (pkt.src, pkt.dst, pkt.proto, pkt.l4_len)));
}

/* Random and mutated frames: the filter must neither crash nor emit
 * anything malformed, and each frame yields at most a couple of replies.
 * Some mutations keep the checksums valid and move sequence and
 * acknowledgement numbers, so that they reach the connection tracking;
 * libslirp's side of the connections is played too. */
static void
test_replay (Fixture *fx, gconstpointer data)
{
    GRand *rand = g_rand_new_with_seed (0x6e6574u);
    g_autoptr (GByteArray) hello = client_hello ("allowed.test");
    guint8 q[300];
    gsize qlen = dns_query (q, "allowed.test", BL_DNS_TYPE_A, 1);
    const char req[] = "GET / HTTP/1.1\r\nHost: other.test\r\n\r\n";
    GBytes *seeds[] = {
        udp_frame (GATEWAY, 1000, 53, q, qlen),
        tcp_frame (ALLOWED, 2000, 443, 1, 0, BL_TCP_SYN, NULL, 0),
        tcp_frame (ALLOWED, 2000, 443, 2, 101, BL_TCP_ACK, hello->data, hello->len),
        tcp_frame (ALLOWED, 2000, 443, 2, 101, BL_TCP_RST | BL_TCP_ACK, NULL, 0),
        tcp_frame (ALLOWED, 2001, 80, 2, 101, BL_TCP_ACK, (const guint8 *) req, sizeof req - 1),
        tcp_frame (ALIAS, 2001, 80, 2, 0, BL_TCP_ACK, (const guint8 *) "GET /", 5),
        /* From libslirp: */
        tcp_frame_from (ALLOWED, GUEST, 443, 2000, 100, 2, BL_TCP_SYN | BL_TCP_ACK, NULL, 0),
        tcp_frame_from (ALLOWED, GUEST, 80, 2001, 100, 2, BL_TCP_SYN | BL_TCP_ACK, NULL, 0),
        tcp_frame_from (ALIAS, GUEST, 4000, 8080, 100, 0, BL_TCP_SYN, NULL, 0),
    };
    const guint from_slirp_first = 6;

    for (guint i = 0; i < 100000; i++) {
        guint which = i % G_N_ELEMENTS (seeds);
        gsize len;
        const guint8 *seed = g_bytes_get_data (seeds[which], &len);
        g_autofree guint8 *frame = g_memdup2 (seed, len);
        guint kind = (guint) g_rand_int_range (rand, 0, 4);
        if (kind == 0 && g_rand_boolean (rand))
            len = (gsize) g_rand_int_range (rand, 0, (gint32) len + 1);
        if (kind <= 1) {
            guint flips = (guint) g_rand_int_range (rand, 1, 8);
            for (guint k = 0; k < flips && len > 0; k++)
                frame[g_rand_int_range (rand, 0, (gint32) len)] = (guint8) g_rand_int (rand);
        } else if (len >= BL_ETH_HLEN + 40 && frame[BL_ETH_HLEN + 9] == BL_IP_PROTO_TCP) {
            /* Sequence, acknowledgement, flags: near the real ones or anywhere. */
            guint8 *tcp = frame + BL_ETH_HLEN + 20;
            guint32 delta =
                kind == 2 ? (guint32) g_rand_int_range (rand, -70000, 70000) : g_rand_int (rand);
            guint off = g_rand_boolean (rand) ? 4 : 8;
            guint32 v = (guint32) tcp[off] << 24 | (guint32) tcp[off + 1] << 16 |
                        (guint32) tcp[off + 2] << 8 | tcp[off + 3];
            put32 (tcp + off, v + delta);
            if (g_rand_int_range (rand, 0, 4) == 0)
                tcp[13] = (guint8) g_rand_int_range (rand, 0, 0x40);
        }
        if (kind >= 1)
            fix_checksums (frame, len);
        guint before = fx->to_guest->len + fx->to_slirp->len;
        if (which >= from_slirp_first)
            bl_net_filter_observe (fx->filter, frame, len);
        else
            bl_net_filter_frame (fx->filter, frame, len);
        g_assert_cmpuint (fx->to_guest->len + fx->to_slirp->len - before, <=, 64);
        /* Whatever the filter hands libslirp has valid checksums. */
        for (guint k = 0; k < fx->to_slirp->len; k++) {
            BlNetPacket pkt;
            gsize n;
            const guint8 *out = g_bytes_get_data (g_ptr_array_index (fx->to_slirp, k), &n);
            g_assert_true (bl_net_packet_parse (out, n, &pkt));
            g_assert_true (bl_net_packet_verify (&pkt));
        }
        g_ptr_array_set_size (fx->to_slirp, 0);
        if (fx->to_guest->len > 1000)
            g_ptr_array_set_size (fx->to_guest, 0);
    }
    for (guint i = 0; i < G_N_ELEMENTS (seeds); i++)
        g_bytes_unref (seeds[i]);
    g_rand_free (rand);
}

/* The record rotates away its oldest lines; the counts beside it do not: a
 * guest that floods denials cannot hide how many there were. */
static void
test_counts_survive_rotation (Fixture *fx, gconstpointer data)
{
    const guint lookups = 12000;
    g_autofree char *older = g_build_filename (fx->dir, "netlog.jsonl.1", NULL);
    g_autofree char *counts = g_build_filename (fx->dir, "netcounts.json", NULL);
    g_autofree char *text = NULL;

    for (guint i = 0; i < lookups; i++)
        g_assert_cmphex (resolve (fx, "other.test"), ==, 0);
    g_assert_cmphex (resolve (fx, "allowed.test"), ==, ALLOWED);
    g_assert_true (g_file_test (older, G_FILE_TEST_IS_REGULAR));
    /* Closing the record writes the last counts; the next start of the box
     * counts on from them. */
    g_clear_pointer (&fx->filter, bl_net_filter_free);
    fx->filter = filter_new (fx);
    g_assert_cmphex (resolve (fx, "other.test"), ==, 0);
    g_clear_pointer (&fx->filter, bl_net_filter_free);

    g_assert_true (g_file_get_contents (counts, &text, NULL, NULL));
    g_autoptr (JsonNode) root = json_from_string (text, NULL);
    g_assert_nonnull (root);
    JsonObject *obj = json_node_get_object (root);
    g_assert_cmpint (json_object_get_int_member (obj, "dns sinkholed not-listed"), ==, lookups + 1);
    g_assert_cmpint (json_object_get_int_member (obj, "dns allowed hosts-override"), ==, 1);
}

/* The bytes let through each way are counted with the decisions; what is
 * refused is not. */
static void
test_bytes_counted (Fixture *fx, gconstpointer data)
{
    g_autofree char *counts = g_build_filename (fx->dir, "netcounts.json", NULL);
    g_autofree char *text = NULL;
    GBytes *out = tcp_frame (ALIAS, 50010, 8080, 1, 0, BL_TCP_SYN, NULL, 0);
    gsize out_len = g_bytes_get_size (out);
    g_autoptr (GBytes) in =
        tcp_frame_from (ALIAS, GUEST, 8080, 50010, 9, 2, BL_TCP_SYN | BL_TCP_ACK, NULL, 0);

    g_assert_true (feed (fx, out));
    g_assert_true (
        bl_net_filter_observe (fx->filter, g_bytes_get_data (in, NULL), g_bytes_get_size (in)));
    g_assert_false (feed (fx, tcp_frame (OTHER, 50011, 443, 7, 0, BL_TCP_SYN, NULL, 0)));
    g_clear_pointer (&fx->filter, bl_net_filter_free);

    g_assert_true (g_file_get_contents (counts, &text, NULL, NULL));
    g_autoptr (JsonNode) root = json_from_string (text, NULL);
    g_assert_nonnull (root);
    JsonObject *obj = json_node_get_object (root);
    g_assert_cmpint (json_object_get_int_member (obj, "bytes out"), ==, (gint64) out_len);
    g_assert_cmpint (json_object_get_int_member (obj, "bytes in"), ==,
                     (gint64) g_bytes_get_size (in));
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);

#define ADD(path, func, rules)                                                                     \
    g_test_add ("/netfilter/" path, Fixture, rules, fixture_set_up, func, fixture_tear_down)
    ADD ("dns-answers", test_dns_answers, restrictive);
    ADD ("counts-survive-rotation", test_counts_survive_rotation, restrictive);
    ADD ("bytes-counted", test_bytes_counted, restrictive);
    ADD ("syn-admission", test_syn_admission, restrictive);
    ADD ("sni-held-then-released", test_sni_held_then_released, restrictive);
    ADD ("sni-mismatch-cut", test_sni_mismatch_cut, restrictive);
    ADD ("other-frames", test_other_frames, restrictive);
    ADD ("private-answers-refused", test_private_answers, with_private);
    ADD ("private-answers-in-range", test_private_answers, with_private_range);
    g_test_add_func ("/netfilter/private-classes", test_private_classes);
    ADD ("forged-rst-ignored", test_forged_rst_ignored, restrictive);
    ADD ("repeated-syn-ignored", test_repeated_syn_ignored, restrictive);
    ADD ("unacceptable-segments-ignored", test_unacceptable_segments_ignored, restrictive);
    ADD ("data-before-synack-ignored", test_data_before_synack_ignored, restrictive);
    ADD ("rst-in-window-closes", test_rst_in_window_closes, restrictive);
    ADD ("unknown-connection-refused", test_unknown_connection_refused, restrictive);
    ADD ("bad-headers-dropped", test_bad_headers_dropped, restrictive);
    ADD ("request-targets", test_request_targets, restrictive);
    ADD ("budgets", test_budgets, restrictive);
    ADD ("held-budget", test_held_budget, restrictive);
    ADD ("every-request-checked", test_every_request_checked, restrictive);
    ADD ("empty-allows-all", test_empty_allows_all, NULL);
    ADD ("replay", test_replay, restrictive);
#undef ADD
    return g_test_run ();
}

/* flow.c: egress decisions for TCP connections and datagrams.
 *
 * A TCP connection is judged on its SYN by its destination address
 * (filter.c's bl_net_filter_admits). With a non-empty allowlist, a
 * connection admitted because of a name or an address rule is then
 * inspected: the guest's first bytes are held back from libslirp (so none
 * reaches the remote) until they show a TLS ClientHello whose SNI is
 * allowed, an HTTP request whose Host is allowed, or some other protocol on
 * a port other than 443. Then the held segments are released in order, or
 * the guest gets a reset and libslirp an abort for its socket.
 *
 * What the filter believes about a connection must be what libslirp
 * believes, or bytes the filter never saw reach the remote. So the filter
 * follows both directions (bl_net_flows_observe() sees what libslirp sends
 * the guest) and lets a guest segment change its view, or reach libslirp,
 * only when libslirp will take it too: not before libslirp's SYN-ACK
 * (libslirp drops everything while it connects), with ACK set and
 * acknowledging only what libslirp sent, with data inside the window
 * libslirp advertised, and a RST only between what libslirp acknowledged
 * and what the guest sent. A repeated SYN changes nothing, and a segment of
 * a connection the filter does not know is refused (fail closed); a
 * connection libslirp opened to the guest (a port forward) is known from
 * libslirp's SYN. With an empty allowlist nothing is inspected and nothing
 * tracked.
 *
 * Datagrams (UDP, ICMP) are judged by address alone, each time: with a
 * non-empty allowlist they go only to addresses an address or range rule
 * lists (and the host alias), not to addresses a name resolved to, as
 * nothing in them can be checked against the name. A decision is recorded
 * once a minute per destination. */
#define G_LOG_DOMAIN "boxlite-net"

#include "filter-private.h"

#include <string.h>

#include "http_follow.h"
#include "http_host.h"
#include "tls_sni.h"

/* Connections libslirp holds a socket for, per box; beyond that new
 * connections are refused. libslirp reserves 128 KiB for each direction of
 * every socket as soon as it sees the SYN, so this is what bounds the
 * network process's memory: 256 sockets are at most 64 MiB of buffers. */
#define MAX_LIVE 256
/* Of those, connections still waiting for the remote to answer. Holding a
 * half-open connection costs the guest one frame, so a flood to an
 * address that never answers would otherwise fill the whole budget with
 * buffers for nothing (16 MiB here). */
#define MAX_CONNECTING 64
/* Connection records, ended ones included. */
#define MAX_FLOWS 4096
/* How long libslirp keeps a socket that closed first (TIME_WAIT, twice its
 * 5 s segment lifetime), with a margin. */
#define LINGER_US (G_GINT64_CONSTANT (15) * G_USEC_PER_SEC)
/* Bytes of guest frames held for inspection, all connections together. */
#define HELD_BYTES_MAX (1024 * 1024)
/* Segments held per connection while its first bytes are inspected. */
#define MAX_HELD 64
/* From libslirp's SYN-ACK (or a request's first byte) to a verdict. */
#define INSPECT_US (G_GINT64_CONSTANT (20) * G_USEC_PER_SEC)
/* From the SYN to libslirp's SYN-ACK: longer than libslirp tries to
 * connect (75 s), so that a record outlives libslirp's socket and the
 * record budget bounds libslirp's connecting sockets too. */
#define CONNECT_US (G_GINT64_CONSTANT (90) * G_USEC_PER_SEC)
/* Connections idle this long are aborted on both sides (libslirp itself
 * keeps an idle connection for ever). */
#define IDLE_US (G_GINT64_CONSTANT (2) * 3600 * G_USEC_PER_SEC)
/* Closed or refused connections are forgotten after this. */
#define CLOSED_US (G_GINT64_CONSTANT (60) * G_USEC_PER_SEC)
/* How far before what libslirp acknowledged a retransmission may start. */
#define BEHIND_MAX (256 * 1024)
/* How often a datagram destination's verdict is recorded again. */
#define DATAGRAM_LOG_US (G_GINT64_CONSTANT (60) * G_USEC_PER_SEC)
#define MAX_DATAGRAM_DESTS 4096

typedef enum {
    FLOW_PASS,    /* let through, nothing more read */
    FLOW_INSPECT, /* reading a head: the first bytes, or a request */
    FLOW_FOLLOW,  /* reading a request body, to find the next request */
    FLOW_DENIED,
} FlowState;

typedef struct {
    guint64 key;
    FlowState state;
    guint admit;
    char *name;       /* the name the destination resolved from, or NULL */
    gboolean inbound; /* libslirp opened it (a port forward) */
    gboolean synced;  /* both sides' initial sequence numbers are known */
    uint8_t guest_mac[6];
    uint8_t gateway_mac[6];
    uint32_t dst;
    uint16_t sport, dport;

    /* The guest's side. */
    uint32_t guest_isn;
    uint32_t fwd_nxt; /* after the last sequence number handed to libslirp */
    gboolean guest_fin;

    /* libslirp's side, from what it sent the guest. */
    uint32_t peer_isn;
    uint32_t peer_nxt;   /* after the last sequence number it sent */
    uint32_t peer_ack;   /* the most it acknowledged: it has every byte before */
    uint32_t peer_right; /* the right edge of the window it advertised */
    uint16_t peer_win;   /* the window on its SYN (a port forward) */
    gboolean peer_fin;
    gboolean peer_fin_first; /* so libslirp's socket lingers after the close */

    gboolean closed; /* reset, by either side */

    /* The guest's byte stream, while it is read. */
    uint32_t stream_nxt;   /* after the last byte read */
    uint32_t approved_nxt; /* after the last byte let through */
    gboolean first;        /* the head is a connection's (or tunnel's) first bytes */
    gboolean unfollowable; /* no next request can be found */
    GByteArray *head;      /* the head being read, ending at stream_nxt */
    BlHttpFollow follow;   /* in FLOW_FOLLOW */
    GPtrArray *held;       /* GBytes frames not yet let through */
    gsize held_bytes;
    gint64 deadline_us; /* for a verdict on a head begun */
    gint64 last_us;
} Flow;

struct _BlNetFlows {
    GHashTable *tcp;      /* &Flow.key -> Flow* */
    GHashTable *datagram; /* guint64 key -> gint64 time last recorded */
    gsize held_bytes;     /* sum of the flows' held_bytes */
    gint64 last_sweep_us;
    gint64 last_budget_log_us;
};

static gboolean
seq_lt (uint32_t a, uint32_t b)
{
    return (int32_t) (a - b) < 0;
}

static gboolean
seq_le (uint32_t a, uint32_t b)
{
    return (int32_t) (a - b) <= 0;
}

static uint32_t
seq_max (uint32_t a, uint32_t b)
{
    return seq_lt (a, b) ? b : a;
}

static void
flow_drop_held (BlNetFlows *flows, Flow *f)
{
    flows->held_bytes -= f->held_bytes;
    f->held_bytes = 0;
    g_clear_pointer (&f->head, g_byte_array_unref);
    g_clear_pointer (&f->held, g_ptr_array_unref);
}

static void
flow_free (gpointer data)
{
    Flow *f = data;

    g_free (f->name);
    if (f->head)
        g_byte_array_unref (f->head);
    if (f->held)
        g_ptr_array_unref (f->held);
    g_free (f);
}

BlNetFlows *
bl_net_flows_new (void)
{
    BlNetFlows *flows = g_new0 (BlNetFlows, 1);

    flows->tcp = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, flow_free);
    flows->datagram = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
    return flows;
}

void
bl_net_flows_free (BlNetFlows *flows)
{
    if (!flows)
        return;
    g_hash_table_unref (flows->tcp);
    g_hash_table_unref (flows->datagram);
    g_free (flows);
}

static guint64
flow_key (uint32_t remote, uint16_t guest_port, uint16_t remote_port)
{
    return (guint64) remote << 32 | (guint64) guest_port << 16 | remote_port;
}

static void
forget (BlNetFlows *flows, Flow *f)
{
    flow_drop_held (flows, f);
    g_hash_table_remove (flows->tcp, &f->key);
}

static void
reset_guest (BlNetFilter *filter, const BlNetPacket *pkt)
{
    uint8_t frame[BL_ETH_HLEN + 40];
    size_t n = bl_net_build_tcp_rst_reply (pkt, frame, sizeof frame);

    if (n)
        bl_net_filter_emit_guest (filter, frame, n);
}

static const char *
admit_reason (guint admit)
{
    if (admit & BL_NET_ADMIT_ALIAS)
        return "host-alias";
    if (admit & BL_NET_ADMIT_OPEN)
        return "allowlist-empty";
    if (admit & BL_NET_ADMIT_ANSWER)
        return "resolved-name";
    return "address-rule";
}

/* TRUE if the list allows @host, a name or an address literal. */
static gboolean
host_allowed (BlNetFilter *filter, const char *host)
{
    g_autoptr (GInetAddress) literal = g_inet_address_new_from_string (host);

    if (literal)
        return bl_net_allowlist_allows_address (filter->allowlist, literal);
    return bl_net_allowlist_allows_name (filter->allowlist, host);
}

/* The verdict on the head at the start of f->head: a connection's (or a
 * tunnel's) first bytes, any protocol, or a later request on a plain HTTP
 * connection. NULL while more bytes are needed. *@allowed says which way;
 * @sni and @http get what was found (http->head_len is 0 unless the
 * verdict is on an HTTP request). */
static const char *
judge_head (BlNetFilter *filter, const Flow *f, gboolean *allowed, char sni[BL_NET_NAME_CAP],
            BlHttpHead *http)
{
    const uint8_t *buf = f->head->data;
    size_t len = f->head->len;
    gboolean by_address = (f->admit & BL_NET_ADMIT_ADDRESS) != 0;

    *allowed = FALSE;
    sni[0] = '\0';
    memset (http, 0, sizeof *http);
    if (f->first) {
        switch (bl_net_tls_sni_parse (buf, len, sni, BL_NET_NAME_CAP)) {
        case BL_SNI_FOUND:
            *allowed = bl_net_allowlist_allows_name (filter->allowlist, sni);
            return *allowed ? "sni-allowed" : "sni-not-listed";
        case BL_SNI_NO_SNI:
            *allowed = by_address;
            return *allowed ? "address-rule" : "no-sni";
        case BL_SNI_MALFORMED:
            return "malformed-tls";
        case BL_SNI_NEED_MORE:
            return NULL;
        case BL_SNI_NOT_TLS:
            break;
        }
    }
    BlHostResult result = bl_net_http_head_parse (buf, len, http);
    switch (result) {
    case BL_HOST_FOUND:
        if (!host_allowed (filter, http->host))
            return "host-not-listed";
        break;
    case BL_HOST_NO_HOST:
        if (!by_address)
            return "no-host";
        break;
    case BL_HOST_H2_PREFACE:
        return "http2-prior-knowledge";
    case BL_HOST_MALFORMED:
        return "malformed-http";
    case BL_HOST_NEED_MORE:
        return NULL;
    case BL_HOST_NOT_HTTP:
        memset (http, 0, sizeof *http);
        if (!f->first)
            return "http-unfollowable";
        if (f->dport == 443)
            return "not-tls-on-443";
        *allowed = TRUE;
        return "other-protocol";
    }
    /* An absolute-form target or a CONNECT authority names where the
     * request goes, whatever Host says. */
    if (http->target[0] && !host_allowed (filter, http->target))
        return "target-not-listed";
    *allowed = TRUE;
    return result == BL_HOST_FOUND ? "host-allowed" : "address-rule";
}

static void
record (BlNetFilter *filter, const Flow *f, gboolean allowed, const char *reason, const char *sni,
        const char *host)
{
    bl_net_audit_flow (filter->audit, "tcp", f->dst, f->dport, allowed, reason, f->name,
                       sni && *sni ? sni : NULL, host && *host ? host : NULL);
}

static void
record_syn (BlNetFilter *filter, const BlNetPacket *pkt, gboolean allowed, const char *reason,
            const char *name)
{
    bl_net_audit_flow (filter->audit, "tcp", pkt->dst, pkt->dport, allowed, reason, name, NULL,
                       NULL);
}

/* A segment of @f from the guest, with @seq, @ack and @flags, for the
 * frame builders. */
static BlNetPacket
flow_packet (const Flow *f, uint32_t seq, uint32_t ack, uint8_t flags)
{
    BlNetPacket p = { 0 };

    memcpy (p.eth_src, f->guest_mac, 6);
    memcpy (p.eth_dst, f->gateway_mac, 6);
    p.ethertype = BL_ETH_TYPE_IPV4;
    p.ip_valid = p.l4_valid = p.first_fragment = TRUE;
    p.proto = BL_IP_PROTO_TCP;
    p.src = BL_NET_ADDR_GUEST;
    p.dst = f->dst;
    p.sport = f->sport;
    p.dport = f->dport;
    p.seq = seq;
    p.ack = ack;
    p.flags = flags;
    return p;
}

/* Aborts @f on both sides: libslirp gets a reset at the first byte it has
 * not been given (in its window, so it closes its socket) and the guest a
 * reset at what libslirp sent it. */
static void
abort_flow (BlNetFilter *filter, Flow *f)
{
    uint8_t frame[BL_ETH_HLEN + 40];
    BlNetPacket p = flow_packet (f, f->fwd_nxt, f->peer_nxt, BL_TCP_ACK);
    size_t n;

    if (f->synced && (n = bl_net_build_tcp_rst_forward (&p, f->fwd_nxt, frame, sizeof frame)))
        bl_net_filter_emit_slirp (filter, frame, n);
    if (f->synced && (n = bl_net_build_tcp_rst_reply (&p, frame, sizeof frame)))
        bl_net_filter_emit_guest (filter, frame, n);
    f->closed = TRUE;
}

static void
deny_inspected (BlNetFilter *filter, Flow *f)
{
    abort_flow (filter, f);
    f->state = FLOW_DENIED;
    flow_drop_held (filter->flows, f);
}

/* Hands libslirp the held frames, in order, as far as their bytes have
 * been let through. */
static void
release_ready (BlNetFilter *filter, Flow *f)
{
    while (f->held && f->held->len > 0) {
        GBytes *frame = g_ptr_array_index (f->held, 0);
        gsize n;
        const uint8_t *data = g_bytes_get_data (frame, &n);
        BlNetPacket pkt;
        if (!bl_net_packet_parse (data, n, &pkt))
            g_assert_not_reached (); /* it was parsed before it was held */
        uint32_t end = pkt.seq + (uint32_t) pkt.payload_len;
        if (seq_lt (f->approved_nxt, end))
            break;
        frame = g_ptr_array_steal_index (f->held, 0);
        f->held_bytes -= n;
        filter->flows->held_bytes -= n;
        f->fwd_nxt = seq_max (f->fwd_nxt, end + !!(pkt.flags & BL_TCP_FIN));
        if (pkt.flags & BL_TCP_FIN)
            f->guest_fin = TRUE;
        bl_net_filter_emit_slirp (filter, data, n);
        g_bytes_unref (frame);
    }
}

/* Starts reading a request head (or, @first, a connection's first bytes). */
static void
begin_head (Flow *f, gboolean first, gint64 now)
{
    f->state = FLOW_INSPECT;
    f->first = first;
    if (!f->head)
        f->head = g_byte_array_new ();
    g_byte_array_set_size (f->head, 0);
    f->deadline_us = now + INSPECT_US;
}

/* Reads @n new bytes of the guest's stream (the next ones, in order). FALSE
 * when they got the connection denied. */
static gboolean
consume (BlNetFilter *filter, Flow *f, const uint8_t *bytes, size_t n, gint64 now)
{
    g_autoptr (GByteArray) carry = NULL;

    while (n > 0) {
        if (f->state == FLOW_PASS) {
            f->stream_nxt += (uint32_t) n;
            f->approved_nxt = f->stream_nxt;
            return TRUE;
        }
        if (f->state == FLOW_FOLLOW) {
            size_t used = bl_net_http_follow_feed (&f->follow, bytes, n);
            f->stream_nxt += (uint32_t) used;
            if (f->follow.state == BL_FOLLOW_BAD) {
                record (filter, f, FALSE, "malformed-http", NULL, NULL);
                deny_inspected (filter, f);
                return FALSE;
            }
            f->approved_nxt = f->stream_nxt;
            bytes += used;
            n -= used;
            if (f->follow.state == BL_FOLLOW_DONE)
                begin_head (f, FALSE, now);
            continue;
        }
        if (f->unfollowable) {
            /* After an Upgrade (or a body of unknown framing) nothing tells
             * where a next request would start. */
            record (filter, f, FALSE, "http-unfollowable", NULL, NULL);
            deny_inspected (filter, f);
            return FALSE;
        }
        if (f->head->len == 0)
            f->deadline_us = f->first ? f->deadline_us : now + INSPECT_US;
        size_t room = BL_NET_TLS_SNI_BUFFER_MAX + 1 - MIN (f->head->len, BL_NET_TLS_SNI_BUFFER_MAX);
        size_t take = MIN (n, room);
        g_byte_array_append (f->head, bytes, (guint) take);
        f->stream_nxt += (uint32_t) take;
        bytes += take;
        n -= take;

        char sni[BL_NET_NAME_CAP];
        BlHttpHead http;
        gboolean allowed;
        const char *reason = judge_head (filter, f, &allowed, sni, &http);
        if (!reason) {
            if (f->head->len <= BL_NET_TLS_SNI_BUFFER_MAX)
                return TRUE;
            reason = "inspection-limit";
            allowed = FALSE;
        }
        /* Every refusal is recorded; of the requests allowed, the first. */
        if (!allowed || f->first)
            record (filter, f, allowed, reason, sni, http.host);
        if (!allowed) {
            deny_inspected (filter, f);
            return FALSE;
        }
        if (http.head_len == 0) {
            /* TLS, or another protocol: nothing more is read. */
            f->state = FLOW_PASS;
            f->stream_nxt += (uint32_t) n;
            f->approved_nxt = f->stream_nxt;
            g_clear_pointer (&f->head, g_byte_array_unref);
            return TRUE;
        }
        /* The request's head goes; what follows it is read on. */
        uint32_t head_seq = f->stream_nxt - f->head->len;
        GByteArray *next = g_byte_array_sized_new ((guint) (f->head->len - http.head_len + n));
        g_byte_array_append (next, f->head->data + http.head_len,
                             (guint) (f->head->len - http.head_len));
        g_byte_array_append (next, bytes, (guint) n);
        g_clear_pointer (&carry, g_byte_array_unref);
        carry = next;
        bytes = carry->data;
        n = carry->len;
        f->stream_nxt = f->approved_nxt = head_seq + (uint32_t) http.head_len;
        begin_head (f, FALSE, now);
        switch (http.body) {
        case BL_HTTP_BODY_NONE:
            break;
        case BL_HTTP_BODY_TUNNEL:
            f->first = TRUE; /* a new connection's first bytes, to be judged as such */
            break;
        case BL_HTTP_BODY_UNKNOWN:
            f->unfollowable = TRUE;
            break;
        case BL_HTTP_BODY_LENGTH:
        case BL_HTTP_BODY_CHUNKED:
            f->state = FLOW_FOLLOW;
            bl_net_http_follow_start (&f->follow, http.body == BL_HTTP_BODY_CHUNKED,
                                      http.content_length);
            break;
        }
    }
    return TRUE;
}

/* A segment of a connection whose bytes are read (its first bytes, or the
 * requests of a plain HTTP connection): it goes to libslirp when all it
 * carries has been let through, else it is held until then. */
static gboolean
on_data (BlNetFilter *filter, Flow *f, const BlNetPacket *pkt, gint64 now)
{
    BlNetFlows *flows = filter->flows;
    gboolean fin = (pkt->flags & BL_TCP_FIN) != 0;
    uint32_t seg_end = pkt->seq + (uint32_t) pkt->payload_len;
    gboolean holding = f->held && f->held->len > 0;

    if (pkt->payload_len == 0 && !fin)
        return TRUE; /* a bare acknowledgement carries nothing out */
    if (seq_lt (f->stream_nxt, pkt->seq))
        return FALSE; /* a gap: the guest sends it again */
    if (seq_lt (f->stream_nxt, seg_end)) {
        size_t skip = (size_t) (f->stream_nxt - pkt->seq);
        if (!consume (filter, f, pkt->payload + skip, pkt->payload_len - skip, now))
            return FALSE;
    } else if (!fin && (holding || seq_lt (f->approved_nxt, seg_end))) {
        return FALSE; /* already held */
    }
    /* A FIN ends the stream: a head begun will never be complete. */
    if (fin && f->state == FLOW_INSPECT && (f->first || f->head->len > 0)) {
        record (filter, f, FALSE, "inspection-limit", NULL, NULL);
        deny_inspected (filter, f);
        return FALSE;
    }
    holding = f->held && f->held->len > 0;
    if (!holding && !seq_lt (f->approved_nxt, seg_end)) {
        f->fwd_nxt = seq_max (f->fwd_nxt, seg_end + fin);
        if (fin)
            f->guest_fin = TRUE;
        return TRUE;
    }
    if (f->held && f->held->len >= MAX_HELD) {
        record (filter, f, FALSE, "inspection-limit", NULL, NULL);
        deny_inspected (filter, f);
        return FALSE;
    }
    if (flows->held_bytes + pkt->frame_len > HELD_BYTES_MAX) {
        record (filter, f, FALSE, "budget-exceeded", NULL, NULL);
        deny_inspected (filter, f);
        return FALSE;
    }
    if (!f->held)
        f->held = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
    g_ptr_array_add (f->held, g_bytes_new (pkt->frame, pkt->frame_len));
    f->held_bytes += pkt->frame_len;
    flows->held_bytes += pkt->frame_len;
    release_ready (filter, f);
    return FALSE;
}

/* Why @dst (host order), which nothing admits, is refused. */
static const char *
refusal_reason (BlNetFilter *filter, uint32_t dst)
{
    uint32_t be = g_htonl (dst);

    if ((dst & BL_NET_SUBNET_MASK) == BL_NET_SUBNET)
        return "internal-address";
    if (bl_net_filter_refuses_answer (filter, (const guint8 *) &be, sizeof be))
        return "private-address";
    return "direct-ip";
}

/* TRUE once neither side will take more from this connection, so that a
 * new SYN on the same ports starts a new one. */
static gboolean
finished (const Flow *f)
{
    return f->closed || f->state == FLOW_DENIED || (f->guest_fin && f->peer_fin);
}

/* Whether a new connection fits: in the records, in the sockets libslirp
 * holds (those not finished, and for a while those it closed first), and
 * among those still connecting. */
static gboolean
within_budget (BlNetFlows *flows, gint64 now)
{
    GHashTableIter iter;
    gpointer value;
    guint live = 0, connecting = 0;

    if (g_hash_table_size (flows->tcp) >= MAX_FLOWS)
        return FALSE;
    g_hash_table_iter_init (&iter, flows->tcp);
    while (g_hash_table_iter_next (&iter, NULL, &value)) {
        const Flow *f = value;
        if (!finished (f)) {
            live++;
            connecting += !f->inbound && !f->synced;
        } else if (f->peer_fin_first && !f->closed && now - f->last_us < LINGER_US) {
            live++;
        }
    }
    return live < MAX_LIVE && connecting < MAX_CONNECTING;
}

static gboolean
on_syn (BlNetFilter *filter, const BlNetPacket *pkt, gint64 now)
{
    BlNetFlows *flows = filter->flows;
    guint64 key = flow_key (pkt->dst, pkt->sport, pkt->dport);
    const char *name = NULL;
    guint admit = bl_net_filter_admits (filter, pkt->dst, &name);

    if (!admit) {
        record_syn (filter, pkt, FALSE, refusal_reason (filter, pkt->dst), NULL);
        reset_guest (filter, pkt);
        return FALSE;
    }
    /* Data on a SYN (TCP Fast Open, or a hand-made packet) would reach the
     * remote once libslirp connects, before anything could inspect it. */
    if (pkt->payload_len > 0 && !(admit & BL_NET_ADMIT_ALIAS)) {
        record_syn (filter, pkt, FALSE, "data-on-syn", name);
        reset_guest (filter, pkt);
        return FALSE;
    }
    if (!within_budget (flows, now)) {
        /* Once a second: a flood must not push everything else out of the
         * record. */
        if (now - flows->last_budget_log_us >= G_USEC_PER_SEC) {
            flows->last_budget_log_us = now;
            record_syn (filter, pkt, FALSE, "budget-exceeded", name);
        }
        reset_guest (filter, pkt);
        return FALSE;
    }
    Flow *f = g_new0 (Flow, 1);
    f->key = key;
    f->admit = admit;
    f->name = g_strdup (name);
    memcpy (f->guest_mac, pkt->eth_src, 6);
    memcpy (f->gateway_mac, pkt->eth_dst, 6);
    f->dst = pkt->dst;
    f->sport = pkt->sport;
    f->dport = pkt->dport;
    f->guest_isn = pkt->seq;
    f->fwd_nxt = pkt->seq + 1;
    f->stream_nxt = f->approved_nxt = pkt->seq + 1;
    f->last_us = now;
    if (admit & BL_NET_ADMIT_ALIAS) {
        f->state = FLOW_PASS;
        record_syn (filter, pkt, TRUE, admit_reason (admit), name);
    } else {
        begin_head (f, TRUE, now);
        f->deadline_us = now + CONNECT_US;
    }
    g_hash_table_insert (flows->tcp, &f->key, f);
    return TRUE;
}

/* A RST from the guest: taken only between what libslirp acknowledged and
 * what the guest sent, where libslirp takes it too. */
static gboolean
on_rst (BlNetFilter *filter, Flow *f, const BlNetPacket *pkt)
{
    uint32_t hi = seq_max (f->fwd_nxt, f->peer_ack);

    if (f->state == FLOW_INSPECT || f->state == FLOW_FOLLOW)
        hi = seq_max (hi, f->stream_nxt);
    if (seq_lt (pkt->seq, f->peer_ack) || seq_lt (hi, pkt->seq))
        return FALSE;
    if (f->held && f->held->len > 0) {
        /* libslirp has none of the held bytes: abort it at the first. */
        abort_flow (filter, f);
        flow_drop_held (filter->flows, f);
        f->state = FLOW_DENIED;
        return FALSE;
    }
    f->closed = TRUE;
    return TRUE;
}

/* A segment of a known connection, other than a SYN. */
static gboolean
on_segment (BlNetFilter *filter, Flow *f, const BlNetPacket *pkt, gint64 now)
{
    if (f->state == FLOW_DENIED || f->closed) {
        if (!(pkt->flags & BL_TCP_RST))
            reset_guest (filter, pkt);
        return FALSE;
    }
    if (pkt->flags & BL_TCP_SYN) {
        /* The guest's SYN-ACK to a port forward's SYN. */
        if (!f->inbound || !(pkt->flags & BL_TCP_ACK) || pkt->ack != f->peer_nxt)
            return FALSE;
        if (f->synced)
            return pkt->seq == f->guest_isn; /* sent again */
        f->synced = TRUE;
        f->guest_isn = pkt->seq;
        f->fwd_nxt = f->stream_nxt = f->approved_nxt = pkt->seq + 1;
        f->peer_ack = pkt->seq + 1;
        f->peer_right = f->peer_ack + f->peer_win;
        return TRUE;
    }
    /* libslirp drops every segment until it has connected and answered. */
    if (!f->synced)
        return FALSE;
    if (pkt->flags & BL_TCP_RST)
        return on_rst (filter, f, pkt);
    if (!(pkt->flags & BL_TCP_ACK) || seq_le (pkt->ack, f->peer_isn) ||
        seq_lt (f->peer_nxt, pkt->ack))
        return FALSE;
    uint32_t data_end = pkt->seq + (uint32_t) pkt->payload_len;
    if ((pkt->payload_len > 0 || (pkt->flags & BL_TCP_FIN)) &&
        (seq_lt (f->peer_right, data_end) || seq_lt (pkt->seq, f->peer_ack - BEHIND_MAX)))
        return FALSE;
    if (f->state == FLOW_INSPECT || f->state == FLOW_FOLLOW)
        return on_data (filter, f, pkt, now);
    if (pkt->flags & BL_TCP_FIN)
        f->guest_fin = TRUE;
    f->fwd_nxt = seq_max (f->fwd_nxt, data_end + !!(pkt->flags & BL_TCP_FIN));
    return TRUE;
}

/* Connections whose time is up: undecided ones and idle ones are aborted,
 * closed ones forgotten. Outside the table's iteration, as aborting sends
 * frames that come back through bl_net_flows_observe(). */
static void
sweep (BlNetFilter *filter, gint64 now)
{
    BlNetFlows *flows = filter->flows;
    GHashTableIter iter;
    gpointer value;
    g_autoptr (GArray) due = NULL;

    if (now - flows->last_sweep_us < G_USEC_PER_SEC)
        return;
    flows->last_sweep_us = now;
    due = g_array_new (FALSE, FALSE, sizeof (guint64));
    g_hash_table_iter_init (&iter, flows->tcp);
    while (g_hash_table_iter_next (&iter, NULL, &value)) {
        Flow *f = value;
        gboolean reading = f->state == FLOW_INSPECT && (f->first || f->head->len > 0);
        gboolean expired = finished (f) ? now - f->last_us > CLOSED_US
                           : reading    ? now > f->deadline_us
                                        : now - f->last_us > IDLE_US;
        if (expired)
            g_array_append_val (due, f->key);
    }
    for (guint i = 0; i < due->len; i++) {
        Flow *f = g_hash_table_lookup (flows->tcp, &g_array_index (due, guint64, i));
        if (!f)
            continue;
        if (!finished (f)) {
            if (f->state == FLOW_INSPECT && (f->first || f->head->len > 0))
                record (filter, f, FALSE, "inspection-timeout", NULL, NULL);
            abort_flow (filter, f);
        }
        forget (flows, f);
    }
    g_hash_table_iter_init (&iter, flows->datagram);
    while (g_hash_table_iter_next (&iter, NULL, &value)) {
        if (now - *(const gint64 *) value > DATAGRAM_LOG_US)
            g_hash_table_iter_remove (&iter);
    }
}

/* A segment of a connection the filter does not know (never admitted, or
 * forgotten): refused, and if libslirp has a socket for it after all, that
 * is closed too, so that neither side goes on alone. */
static void
refuse_unknown (BlNetFilter *filter, const BlNetPacket *pkt)
{
    uint8_t frame[BL_ETH_HLEN + 40];
    size_t n;

    if (pkt->flags & BL_TCP_RST)
        return;
    reset_guest (filter, pkt);
    if ((n = bl_net_build_tcp_rst_forward (pkt, pkt->seq, frame, sizeof frame)))
        bl_net_filter_emit_slirp (filter, frame, n);
}

gboolean
bl_net_flows_tcp (BlNetFilter *filter, const BlNetPacket *pkt)
{
    if (filter->open) {
        if ((pkt->flags & (BL_TCP_SYN | BL_TCP_ACK)) == BL_TCP_SYN)
            record_syn (filter, pkt, TRUE, admit_reason (BL_NET_ADMIT_OPEN), NULL);
        return TRUE;
    }

    gint64 now = g_get_monotonic_time ();
    sweep (filter, now);
    guint64 key = flow_key (pkt->dst, pkt->sport, pkt->dport);
    Flow *f = g_hash_table_lookup (filter->flows->tcp, &key);

    if ((pkt->flags & (BL_TCP_SYN | BL_TCP_ACK)) == BL_TCP_SYN) {
        /* A SYN on a live connection: libslirp ignores it or drops the
         * connection; either way it starts nothing new here. */
        if (f && !finished (f))
            return FALSE;
        if (f)
            forget (filter->flows, f);
        return on_syn (filter, pkt, now);
    }
    if (!f) {
        refuse_unknown (filter, pkt);
        return FALSE;
    }
    gboolean pass = on_segment (filter, f, pkt, now);
    if (pass || f->state != FLOW_DENIED)
        f->last_us = now;
    return pass;
}

gboolean
bl_net_flows_observe (BlNetFilter *filter, const BlNetPacket *pkt)
{
    if (filter->open)
        return TRUE;

    BlNetFlows *flows = filter->flows;
    gint64 now = g_get_monotonic_time ();
    guint64 key = flow_key (pkt->src, pkt->dport, pkt->sport);
    Flow *f = g_hash_table_lookup (flows->tcp, &key);

    if ((pkt->flags & (BL_TCP_SYN | BL_TCP_ACK)) == BL_TCP_SYN) {
        /* libslirp opens a connection to the guest: a port forward. */
        if (f && f->inbound && !finished (f))
            return pkt->seq == f->peer_isn;
        if (f)
            forget (flows, f);
        if (g_hash_table_size (flows->tcp) >= MAX_FLOWS) {
            bl_net_audit_flow (filter->audit, "tcp", pkt->src, pkt->sport, FALSE, "budget-exceeded",
                               NULL, NULL, NULL);
            return FALSE;
        }
        f = g_new0 (Flow, 1);
        f->key = key;
        f->state = FLOW_PASS;
        f->inbound = TRUE;
        memcpy (f->guest_mac, pkt->eth_dst, 6);
        memcpy (f->gateway_mac, pkt->eth_src, 6);
        f->dst = pkt->src;
        f->sport = pkt->dport;
        f->dport = pkt->sport;
        f->peer_isn = pkt->seq;
        f->peer_nxt = pkt->seq + 1;
        f->peer_win = pkt->window;
        f->last_us = now;
        g_hash_table_insert (flows->tcp, &f->key, f);
        return TRUE;
    }
    if (!f) {
        /* libslirp's SYN-ACK to a connection the filter has given up on
         * (it took too long to connect): the guest never hears of it. */
        return !(pkt->flags & BL_TCP_SYN);
    }
    f->last_us = now;
    if (pkt->flags & BL_TCP_SYN) {
        /* libslirp's answer to the guest's SYN: it has connected. */
        if (!f->inbound && !f->synced && (pkt->flags & BL_TCP_ACK) &&
            pkt->ack == f->guest_isn + 1) {
            f->synced = TRUE;
            f->deadline_us = now + INSPECT_US;
            f->peer_isn = pkt->seq;
            f->peer_nxt = pkt->seq + 1;
            f->peer_ack = pkt->ack;
            f->peer_right = pkt->ack + pkt->window;
        }
        return TRUE;
    }
    if (!f->synced)
        return TRUE;
    if (pkt->flags & BL_TCP_RST) {
        f->closed = TRUE;
        return TRUE;
    }
    f->peer_nxt =
        seq_max (f->peer_nxt, pkt->seq + (uint32_t) pkt->payload_len + !!(pkt->flags & BL_TCP_FIN));
    if (pkt->flags & BL_TCP_FIN) {
        f->peer_fin_first |= !f->peer_fin && !f->guest_fin;
        f->peer_fin = TRUE;
    }
    if (pkt->flags & BL_TCP_ACK) {
        f->peer_ack = seq_max (f->peer_ack, pkt->ack);
        f->peer_right = seq_max (f->peer_right, pkt->ack + pkt->window);
    }
    return TRUE;
}

gboolean
bl_net_flows_datagram (BlNetFilter *filter, const BlNetPacket *pkt)
{
    BlNetFlows *flows = filter->flows;
    gboolean udp = pkt->proto == BL_IP_PROTO_UDP;
    uint16_t port = udp && pkt->l4_valid ? pkt->dport : 0;
    const char *name = NULL;
    guint admit = bl_net_filter_admits (filter, pkt->dst, &name);
    gint64 now = g_get_monotonic_time ();
    /* A name admits TCP only, where its SNI or Host is checked: datagrams
     * (QUIC among them, so that clients fall back to TCP) go only where an
     * address rule says. */
    const char *to_name = !(admit & BL_NET_ADMIT_ANSWER) ? NULL
                          : udp && port == 443           ? "quic-to-name"
                                                         : "datagram-to-name";

    admit &= BL_NET_ADMIT_OPEN | BL_NET_ADMIT_ALIAS | BL_NET_ADMIT_ADDRESS;
    if (udp && pkt->first_fragment && !pkt->l4_valid)
        return FALSE;
    sweep (filter, now);
    guint64 key = (guint64) pkt->dst << 32 | (guint64) port << 8 | pkt->proto | (admit ? 0x80 : 0);
    gint64 *last = g_hash_table_lookup (flows->datagram, &key);
    if (!last && g_hash_table_size (flows->datagram) < MAX_DATAGRAM_DESTS) {
        guint64 *k = g_new (guint64, 1);
        *k = key;
        last = g_new (gint64, 1);
        *last = 0;
        g_hash_table_insert (flows->datagram, k, last);
    }
    if (last && (*last == 0 || now - *last > DATAGRAM_LOG_US)) {
        *last = now;
        bl_net_audit_flow (filter->audit, udp ? "udp" : "icmp", pkt->dst, port, admit != 0,
                           admit     ? admit_reason (admit)
                           : to_name ? to_name
                                     : refusal_reason (filter, pkt->dst),
                           name, NULL, NULL);
    }
    return admit != 0;
}

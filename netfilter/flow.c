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
 * Datagrams (UDP, ICMP) are judged by address alone, each time; a decision
 * is recorded once a minute per destination. */
#define G_LOG_DOMAIN "boxlite-net"

#include "filter-private.h"

#include <string.h>

#include "http_host.h"
#include "tls_sni.h"

/* Connections tracked at once; beyond that new ones are refused. */
#define MAX_FLOWS 4096
/* Segments held per connection while its first bytes are inspected. */
#define MAX_HELD 64
/* Connections idle this long are forgotten (libslirp keeps its own state). */
#define IDLE_US (G_GINT64_CONSTANT (30) * 60 * G_USEC_PER_SEC)
/* Closed or refused connections are forgotten after this. */
#define CLOSED_US (G_GINT64_CONSTANT (120) * G_USEC_PER_SEC)
/* How often a datagram destination's verdict is recorded again. */
#define DATAGRAM_LOG_US (G_GINT64_CONSTANT (60) * G_USEC_PER_SEC)
#define MAX_DATAGRAM_DESTS 4096

typedef enum {
    FLOW_PASS,
    FLOW_INSPECT,
    FLOW_DENIED,
} FlowState;

typedef struct {
    guint64 key;
    FlowState state;
    guint admit;
    char *name;        /* the name the destination resolved from, or NULL */
    uint32_t data_seq; /* sequence number of the guest's first data byte */
    GByteArray *head;  /* the guest's first bytes, while inspecting */
    GPtrArray *held;   /* GBytes frames, while inspecting */
    gboolean closing;
    gint64 last_us;
} Flow;

struct _BlNetFlows {
    GHashTable *tcp;      /* &Flow.key -> Flow* */
    GHashTable *datagram; /* guint64 key -> gint64 time last recorded */
    gint64 last_sweep_us;
};

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
flow_key (const BlNetPacket *pkt)
{
    return (guint64) pkt->dst << 32 | (guint64) pkt->sport << 16 | pkt->dport;
}

static gboolean
stale (gpointer key, gpointer value, gpointer user_data)
{
    const Flow *f = value;
    gint64 now = *(const gint64 *) user_data;
    gint64 limit = f->closing || f->state == FLOW_DENIED ? CLOSED_US : IDLE_US;

    return now - f->last_us > limit;
}

static gboolean
datagram_stale (gpointer key, gpointer value, gpointer user_data)
{
    return *(const gint64 *) user_data - *(const gint64 *) value > DATAGRAM_LOG_US;
}

static void
sweep (BlNetFlows *flows, gint64 now)
{
    if (now - flows->last_sweep_us < 10 * G_USEC_PER_SEC &&
        g_hash_table_size (flows->tcp) < MAX_FLOWS &&
        g_hash_table_size (flows->datagram) < MAX_DATAGRAM_DESTS)
        return;
    flows->last_sweep_us = now;
    g_hash_table_foreach_remove (flows->tcp, stale, &now);
    g_hash_table_foreach_remove (flows->datagram, datagram_stale, &now);
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

/* The verdict on a connection's first bytes; NULL while more are needed.
 * *@allowed says which way; @sni/@host get what was found. */
static const char *
judge_head (BlNetFilter *filter, const Flow *f, uint16_t dport, gboolean *allowed,
            char sni[BL_NET_NAME_CAP], char host[BL_NET_NAME_CAP])
{
    const uint8_t *buf = f->head->data;
    size_t len = f->head->len;
    gboolean by_address = (f->admit & BL_NET_ADMIT_ADDRESS) != 0;

    *allowed = FALSE;
    sni[0] = host[0] = '\0';
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
    switch (bl_net_http_host_parse (buf, len, host, BL_NET_NAME_CAP)) {
    case BL_HOST_FOUND: {
        g_autoptr (GInetAddress) literal = g_inet_address_new_from_string (host);
        if (literal)
            *allowed = bl_net_allowlist_allows_address (filter->allowlist, literal);
        else
            *allowed = bl_net_allowlist_allows_name (filter->allowlist, host);
        return *allowed ? "host-allowed" : "host-not-listed";
    }
    case BL_HOST_NO_HOST:
        *allowed = by_address;
        return *allowed ? "address-rule" : "no-host";
    case BL_HOST_MALFORMED:
        return "malformed-http";
    case BL_HOST_NEED_MORE:
        return NULL;
    case BL_HOST_NOT_HTTP:
        break;
    }
    if (dport == 443)
        return "not-tls-on-443";
    *allowed = TRUE;
    return "other-protocol";
}

static void
record (BlNetFilter *filter, const BlNetPacket *pkt, gboolean allowed, const char *reason,
        const char *name, const char *sni, const char *host)
{
    bl_net_audit_flow (filter->audit, "tcp", pkt->dst, pkt->dport, allowed, reason, name,
                       sni && *sni ? sni : NULL, host && *host ? host : NULL);
}

static void
deny_inspected (BlNetFilter *filter, Flow *f, const BlNetPacket *pkt)
{
    uint8_t frame[BL_ETH_HLEN + 40];
    /* libslirp has acknowledged nothing past the handshake: a reset at the
     * first data byte is in its window and closes its socket. */
    size_t n = bl_net_build_tcp_rst_forward (pkt, f->data_seq, frame, sizeof frame);

    if (n)
        bl_net_filter_emit_slirp (filter, frame, n);
    reset_guest (filter, pkt);
    f->state = FLOW_DENIED;
    g_clear_pointer (&f->head, g_byte_array_unref);
    g_clear_pointer (&f->held, g_ptr_array_unref);
}

static void
release (BlNetFilter *filter, Flow *f)
{
    g_autoptr (GPtrArray) held = g_steal_pointer (&f->held);

    f->state = FLOW_PASS;
    g_clear_pointer (&f->head, g_byte_array_unref);
    for (guint i = 0; held && i < held->len; i++) {
        gsize n;
        const uint8_t *data = g_bytes_get_data (g_ptr_array_index (held, i), &n);
        bl_net_filter_emit_slirp (filter, data, n);
    }
}

/* A segment of a connection under inspection: hold it if it carries new
 * bytes in order, then judge what has arrived. */
static gboolean
inspect (BlNetFilter *filter, Flow *f, const BlNetPacket *pkt)
{
    if (pkt->flags & BL_TCP_RST) {
        g_hash_table_remove (filter->flows->tcp, &f->key);
        return TRUE;
    }
    if (pkt->payload_len == 0 && !(pkt->flags & BL_TCP_FIN))
        return TRUE; /* a bare acknowledgement carries nothing out */

    uint32_t have_end = f->data_seq + f->head->len;
    uint32_t seg_end = pkt->seq + (uint32_t) pkt->payload_len;
    /* Sequence arithmetic: compare differences as signed. */
    if ((int32_t) (pkt->seq - have_end) > 0)
        return FALSE; /* a gap: the guest sends it again */
    if ((int32_t) (seg_end - have_end) > 0) {
        size_t skip = (size_t) (have_end - pkt->seq);
        size_t room = BL_NET_TLS_SNI_BUFFER_MAX + 1 - MIN (f->head->len, BL_NET_TLS_SNI_BUFFER_MAX);
        size_t take = MIN (pkt->payload_len - skip, room);
        g_byte_array_append (f->head, pkt->payload + skip, (guint) take);
    } else if (!(pkt->flags & BL_TCP_FIN)) {
        return FALSE; /* already held */
    }
    if (f->held->len >= MAX_HELD) {
        record (filter, pkt, FALSE, "inspection-limit", f->name, NULL, NULL);
        deny_inspected (filter, f, pkt);
        return FALSE;
    }
    g_ptr_array_add (f->held, g_bytes_new (pkt->frame, pkt->frame_len));

    char sni[BL_NET_NAME_CAP], host[BL_NET_NAME_CAP];
    gboolean allowed;
    const char *reason = judge_head (filter, f, pkt->dport, &allowed, sni, host);
    if (!reason && (f->head->len > BL_NET_TLS_SNI_BUFFER_MAX || (pkt->flags & BL_TCP_FIN))) {
        reason = "inspection-limit";
        allowed = FALSE;
    }
    if (!reason)
        return FALSE;
    record (filter, pkt, allowed, reason, f->name, sni, host);
    if (allowed)
        release (filter, f);
    else
        deny_inspected (filter, f, pkt);
    return FALSE;
}

static gboolean
on_syn (BlNetFilter *filter, const BlNetPacket *pkt, gint64 now)
{
    BlNetFlows *flows = filter->flows;
    guint64 key = flow_key (pkt);
    const char *name = NULL;
    guint admit = bl_net_filter_admits (filter, pkt->dst, &name);

    g_hash_table_remove (flows->tcp, &key);
    if (!admit) {
        gboolean internal = (pkt->dst & BL_NET_SUBNET_MASK) == BL_NET_SUBNET;
        record (filter, pkt, FALSE, internal ? "internal-address" : "direct-ip", NULL, NULL, NULL);
        reset_guest (filter, pkt);
        return FALSE;
    }
    /* Data on a SYN (TCP Fast Open, or a hand-made packet) would reach the
     * remote once libslirp connects, before anything could inspect it. */
    if (pkt->payload_len > 0 && !(admit & (BL_NET_ADMIT_OPEN | BL_NET_ADMIT_ALIAS))) {
        record (filter, pkt, FALSE, "data-on-syn", name, NULL, NULL);
        reset_guest (filter, pkt);
        return FALSE;
    }
    if (g_hash_table_size (flows->tcp) >= MAX_FLOWS) {
        record (filter, pkt, FALSE, "too-many-connections", name, NULL, NULL);
        reset_guest (filter, pkt);
        return FALSE;
    }
    Flow *f = g_new0 (Flow, 1);
    f->key = key;
    f->admit = admit;
    f->name = g_strdup (name);
    f->data_seq = pkt->seq + 1;
    f->last_us = now;
    if (admit & (BL_NET_ADMIT_OPEN | BL_NET_ADMIT_ALIAS)) {
        f->state = FLOW_PASS;
        record (filter, pkt, TRUE, admit_reason (admit), name, NULL, NULL);
    } else {
        f->state = FLOW_INSPECT;
        f->head = g_byte_array_new ();
        f->held = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
    }
    g_hash_table_insert (flows->tcp, &f->key, f);
    return TRUE;
}

gboolean
bl_net_flows_tcp (BlNetFilter *filter, const BlNetPacket *pkt)
{
    gint64 now = g_get_monotonic_time ();

    sweep (filter->flows, now);
    if ((pkt->flags & (BL_TCP_SYN | BL_TCP_ACK)) == BL_TCP_SYN)
        return on_syn (filter, pkt, now);

    guint64 key = flow_key (pkt);
    Flow *f = g_hash_table_lookup (filter->flows->tcp, &key);
    if (!f) {
        /* libslirp has no socket for a connection that never passed a SYN
         * through here: it answers with a reset and sends nothing out. */
        return TRUE;
    }
    f->last_us = now;
    if (pkt->flags & (BL_TCP_FIN | BL_TCP_RST))
        f->closing = TRUE;
    switch (f->state) {
    case FLOW_PASS:
        return TRUE;
    case FLOW_DENIED:
        if (!(pkt->flags & BL_TCP_RST))
            reset_guest (filter, pkt);
        return FALSE;
    case FLOW_INSPECT:
        return inspect (filter, f, pkt);
    }
    return FALSE;
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

    if (udp && pkt->first_fragment && !pkt->l4_valid)
        return FALSE;
    sweep (flows, now);
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
        gboolean internal = (pkt->dst & BL_NET_SUBNET_MASK) == BL_NET_SUBNET;
        bl_net_audit_flow (filter->audit, udp ? "udp" : "icmp", pkt->dst, port, admit != 0,
                           admit      ? admit_reason (admit)
                           : internal ? "internal-address"
                                      : "direct-ip",
                           name, NULL, NULL);
    }
    return admit != 0;
}

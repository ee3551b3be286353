/* filter.c: the per-frame verdict.
 *
 * ARP goes to libslirp as it is; IPv6 and everything else that is not IPv4
 * is dropped (the box's network is IPv4 only). IPv4 from any address but
 * the guest's is dropped. In the box's own subnet the guest may reach the
 * host alias (anything) and the gateway's port 53 (DNS); the rest of the
 * subnet, broadcast and multicast are dropped. So is a packet with a bad
 * checksum or a TTL of 0, before anything looks at it further. Everything
 * else is a TCP connection or a datagram for flow.c to judge. */
#define G_LOG_DOMAIN "boxlite-net"

#include "filter-private.h"

#include <gio/gio.h>

#include "bytes.h"
#include "private_addr.h"

void
bl_net_filter_emit_guest (BlNetFilter *filter, const uint8_t *frame, size_t len)
{
    filter->to_guest (frame, len, filter->user_data);
}

void
bl_net_filter_emit_slirp (BlNetFilter *filter, const uint8_t *frame, size_t len)
{
    filter->to_slirp (frame, len, filter->user_data);
}

gboolean
bl_net_filter_rules_allow_ipv4 (BlNetFilter *filter, uint32_t addr)
{
    uint32_t be = g_htonl (addr);

    return bl_net_allowlist_allows_bytes (filter->allowlist, (const guint8 *) &be, sizeof be);
}

gboolean
bl_net_filter_refuses_answer (BlNetFilter *filter, const guint8 *bytes, gsize len)
{
    if (filter->open)
        return FALSE;
    if (!bl_net_address_is_private (bytes, len) && !bl_net_address_is_host_own (bytes, len))
        return FALSE;
    return !bl_net_allowlist_allows_bytes (filter->allowlist, bytes, len);
}

guint
bl_net_filter_admits (BlNetFilter *filter, uint32_t dst, const char **name_out)
{
    guint admit = 0;
    const char *name = NULL;

    if (dst == BL_NET_ADDR_HOST_ALIAS)
        admit |= BL_NET_ADMIT_ALIAS;
    else if ((dst & BL_NET_SUBNET_MASK) == BL_NET_SUBNET)
        return 0;
    if (filter->open)
        admit |= BL_NET_ADMIT_OPEN;
    if (!(admit & BL_NET_ADMIT_ALIAS)) {
        name = bl_net_answers_lookup (filter->answers, dst);
        if (name)
            admit |= BL_NET_ADMIT_ANSWER;
        if (!filter->open && bl_net_filter_rules_allow_ipv4 (filter, dst))
            admit |= BL_NET_ADMIT_ADDRESS;
    }
    if (name_out)
        *name_out = name;
    return admit;
}

BlNetFilter *
bl_net_filter_new (const BlNetFilterConfig *config, GError **error)
{
    g_return_val_if_fail (config && config->allowlist && config->to_guest && config->to_slirp,
                          NULL);

    g_autoptr (BlNetFilter) filter = g_new0 (BlNetFilter, 1);
    filter->allowlist = config->allowlist;
    filter->open = bl_net_allowlist_is_empty (config->allowlist);
    filter->to_guest = config->to_guest;
    filter->to_slirp = config->to_slirp;
    filter->user_data = config->user_data;
    filter->audit = bl_net_audit_new (config->audit_path);
    filter->answers = bl_net_answers_new (8192);
    filter->flows = bl_net_flows_new ();
    filter->dns = bl_net_dns_new (filter, config->hosts_path, error);
    if (!filter->dns)
        return NULL;
    return g_steal_pointer (&filter);
}

gboolean
bl_net_filter_listen_dns_tcp (BlNetFilter *filter, const char *path, GError **error)
{
    return bl_net_dns_listen_tcp (filter->dns, path, error);
}

static gboolean
is_broadcast_or_multicast (uint32_t dst)
{
    return dst == 0xffffffffu || (dst & 0xf0000000u) == 0xe0000000u ||
           dst == (BL_NET_SUBNET | ~BL_NET_SUBNET_MASK);
}

static gboolean
judge_frame (BlNetFilter *filter, const uint8_t *frame, size_t len)
{
    BlNetPacket pkt;

    if (!bl_net_packet_parse (frame, len, &pkt))
        return FALSE;
    if (pkt.ethertype == BL_ETH_TYPE_ARP)
        return TRUE;
    if (pkt.ethertype != BL_ETH_TYPE_IPV4 || !pkt.ip_valid || pkt.src != BL_NET_ADDR_GUEST ||
        is_broadcast_or_multicast (pkt.dst))
        return FALSE;
    /* What libslirp would drop must not move the filter either. */
    if (!bl_net_packet_verify (&pkt))
        return FALSE;

    if (pkt.dst == BL_NET_ADDR_GATEWAY) {
        if (!pkt.l4_valid || pkt.dport != 53 || pkt.fragment)
            return FALSE;
        if (pkt.proto == BL_IP_PROTO_UDP) {
            bl_net_dns_udp (filter->dns, &pkt);
            return FALSE;
        }
        /* libslirp hands TCP port 53 on the gateway to our DNS service. */
        return pkt.proto == BL_IP_PROTO_TCP;
    }
    if (pkt.proto == BL_IP_PROTO_TCP) {
        /* The guest's TCP never fragments (it sets DF and an MSS). */
        if (pkt.fragment || !pkt.l4_valid)
            return FALSE;
        return bl_net_flows_tcp (filter, &pkt);
    }
    if (pkt.proto == BL_IP_PROTO_UDP || pkt.proto == BL_IP_PROTO_ICMP)
        return bl_net_flows_datagram (filter, &pkt);
    return FALSE;
}

/* Counts the @len bytes of a frame that passed towards the guest
 * (@to_guest) or out of it; returns @passed. */
static gboolean
count_passed (BlNetFilter *filter, gboolean passed, gboolean to_guest, size_t len)
{
    if (passed)
        bl_net_audit_bytes (filter->audit, to_guest, len);
    return passed;
}

gboolean
bl_net_filter_frame (BlNetFilter *filter, const uint8_t *frame, size_t len)
{
    return count_passed (filter, judge_frame (filter, frame, len), FALSE, len);
}

static gboolean
judge_observed (BlNetFilter *filter, const uint8_t *frame, size_t len)
{
    BlNetPacket pkt;

    /* Cheap checks first: this runs for every frame of every download. */
    const uint8_t *head = bl_bytes_at (frame, len, 0, BL_ETH_HLEN + 20);
    if (filter->open || !head || bl_be16 (head + 12) != BL_ETH_TYPE_IPV4 ||
        head[BL_ETH_HLEN + 9] != BL_IP_PROTO_TCP)
        return TRUE;
    /* The gateway's TCP port 53 is the filter's own DNS service. */
    if (!bl_net_packet_parse (frame, len, &pkt) || !pkt.ip_valid || !pkt.l4_valid ||
        pkt.dst != BL_NET_ADDR_GUEST || pkt.src == BL_NET_ADDR_GATEWAY)
        return TRUE;
    return bl_net_flows_observe (filter, &pkt);
}

gboolean
bl_net_filter_observe (BlNetFilter *filter, const uint8_t *frame, size_t len)
{
    return count_passed (filter, judge_observed (filter, frame, len), TRUE, len);
}

void
bl_net_filter_free (BlNetFilter *filter)
{
    if (!filter)
        return;
    g_clear_pointer (&filter->dns, bl_net_dns_free);
    g_clear_pointer (&filter->flows, bl_net_flows_free);
    g_clear_pointer (&filter->answers, bl_net_answers_free);
    g_clear_pointer (&filter->audit, bl_net_audit_free);
    g_free (filter);
}

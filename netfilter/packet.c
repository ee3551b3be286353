/* packet.c: reading guest frames and writing the few the filter answers. */
#include "packet.h"

#include <string.h>

static uint16_t
get16 (const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static uint32_t
get32 (const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void
put16 (uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static void
put32 (uint8_t *p, uint32_t v)
{
    put16 (p, (uint16_t) (v >> 16));
    put16 (p + 2, (uint16_t) v);
}

static uint32_t
sum_words (const uint8_t *data, size_t len, uint32_t sum)
{
    size_t i;

    for (i = 0; i + 1 < len; i += 2)
        sum += get16 (data + i);
    if (len & 1)
        sum += (uint32_t) data[len - 1] << 8;
    return sum;
}

uint16_t
bl_net_checksum (const uint8_t *data, size_t len, uint32_t sum)
{
    sum = sum_words (data, len, sum);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t) ~sum;
}

gboolean
bl_net_packet_parse (const uint8_t *frame, size_t len, BlNetPacket *out)
{
    memset (out, 0, sizeof *out);
    if (!frame || len < BL_ETH_HLEN)
        return FALSE;
    out->frame = frame;
    out->frame_len = len;
    memcpy (out->eth_dst, frame, 6);
    memcpy (out->eth_src, frame + 6, 6);
    out->ethertype = get16 (frame + 12);
    if (out->ethertype != BL_ETH_TYPE_IPV4)
        return TRUE;

    const uint8_t *ip = frame + BL_ETH_HLEN;
    size_t avail = len - BL_ETH_HLEN;
    if (avail < 20 || ip[0] >> 4 != 4)
        return TRUE;
    size_t ihl = (size_t) (ip[0] & 0x0f) * 4;
    size_t total = get16 (ip + 2);
    if (ihl < 20 || total < ihl || total > avail)
        return TRUE;
    uint16_t frag = get16 (ip + 6);
    out->ip_valid = TRUE;
    out->ip = ip;
    out->ip_hlen = ihl;
    out->ttl = ip[8];
    out->proto = ip[9];
    out->src = get32 (ip + 12);
    out->dst = get32 (ip + 16);
    out->fragment = (frag & 0x2000) != 0 || (frag & 0x1fff) != 0;
    out->first_fragment = (frag & 0x1fff) == 0;
    if (!out->first_fragment)
        return TRUE;

    const uint8_t *l4 = ip + ihl;
    size_t l4_len = total - ihl;
    out->l4 = l4;
    out->l4_len = l4_len;
    if (out->proto == BL_IP_PROTO_UDP) {
        if (l4_len < 8)
            return TRUE;
        size_t ulen = get16 (l4 + 4);
        /* A fragment's UDP length covers the whole datagram. */
        if (ulen < 8 || (!out->fragment && ulen > l4_len))
            return TRUE;
        out->sport = get16 (l4);
        out->dport = get16 (l4 + 2);
        out->payload = l4 + 8;
        out->payload_len = (out->fragment ? l4_len : ulen) - 8;
        out->l4_valid = TRUE;
    } else if (out->proto == BL_IP_PROTO_TCP) {
        if (l4_len < 20)
            return TRUE;
        size_t doff = (size_t) (l4[12] >> 4) * 4;
        if (doff < 20 || doff > l4_len)
            return TRUE;
        out->sport = get16 (l4);
        out->dport = get16 (l4 + 2);
        out->seq = get32 (l4 + 4);
        out->ack = get32 (l4 + 8);
        out->flags = l4[13];
        out->window = get16 (l4 + 14);
        out->payload = l4 + doff;
        out->payload_len = l4_len - doff;
        out->l4_valid = TRUE;
    }
    return TRUE;
}

static uint16_t l4_checksum (uint32_t src_ip, uint32_t dst_ip, uint8_t proto, const uint8_t *l4,
                             size_t len);

gboolean
bl_net_packet_verify (const BlNetPacket *pkt)
{
    if (!pkt->ip_valid || pkt->ttl == 0 || bl_net_checksum (pkt->ip, pkt->ip_hlen, 0) != 0)
        return FALSE;
    if (pkt->fragment)
        return TRUE;
    if (pkt->proto == BL_IP_PROTO_ICMP)
        return pkt->l4_len >= 4 && bl_net_checksum (pkt->l4, pkt->l4_len, 0) == 0;
    if (!pkt->l4_valid)
        return TRUE;
    if (pkt->proto == BL_IP_PROTO_UDP && get16 (pkt->l4 + 6) == 0)
        return TRUE;
    if (pkt->proto != BL_IP_PROTO_TCP && pkt->proto != BL_IP_PROTO_UDP)
        return TRUE;
    return l4_checksum (pkt->src, pkt->dst, pkt->proto, pkt->l4, pkt->l4_len) == 0;
}

/* Ethernet and IPv4 headers from @src_ip to @dst_ip, @l4_len bytes of
 * transport data to follow. Returns the offset of the transport header. */
static size_t
put_headers (uint8_t *out, const uint8_t eth_dst[6], const uint8_t eth_src[6], uint32_t src_ip,
             uint32_t dst_ip, uint8_t proto, size_t l4_len)
{
    uint8_t *ip = out + BL_ETH_HLEN;

    memcpy (out, eth_dst, 6);
    memcpy (out + 6, eth_src, 6);
    put16 (out + 12, BL_ETH_TYPE_IPV4);
    memset (ip, 0, 20);
    ip[0] = 0x45;
    put16 (ip + 2, (uint16_t) (20 + l4_len));
    put16 (ip + 6, 0x4000); /* don't fragment */
    ip[8] = 64;
    ip[9] = proto;
    put32 (ip + 12, src_ip);
    put32 (ip + 16, dst_ip);
    put16 (ip + 10, bl_net_checksum (ip, 20, 0));
    return BL_ETH_HLEN + 20;
}

/* The transport checksum over the pseudo-header and @len bytes at @l4. */
static uint16_t
l4_checksum (uint32_t src_ip, uint32_t dst_ip, uint8_t proto, const uint8_t *l4, size_t len)
{
    uint32_t sum = (src_ip >> 16) + (src_ip & 0xffff) + (dst_ip >> 16) + (dst_ip & 0xffff) + proto +
                   (uint32_t) len;
    return bl_net_checksum (l4, len, sum);
}

size_t
bl_net_build_udp_reply (const BlNetPacket *req, const uint8_t *payload, size_t payload_len,
                        uint8_t *out, size_t cap)
{
    size_t l4_len = 8 + payload_len;

    if (payload_len > 65535 - 28 || cap < BL_ETH_HLEN + 20 + l4_len)
        return 0;
    size_t off =
        put_headers (out, req->eth_src, req->eth_dst, req->dst, req->src, BL_IP_PROTO_UDP, l4_len);
    uint8_t *udp = out + off;
    put16 (udp, req->dport);
    put16 (udp + 2, req->sport);
    put16 (udp + 4, (uint16_t) l4_len);
    put16 (udp + 6, 0);
    memcpy (udp + 8, payload, payload_len);
    uint16_t sum = l4_checksum (req->dst, req->src, BL_IP_PROTO_UDP, udp, l4_len);
    put16 (udp + 6, sum ? sum : 0xffff);
    return off + l4_len;
}

static size_t
put_tcp (uint8_t *out, size_t cap, const uint8_t eth_dst[6], const uint8_t eth_src[6],
         uint32_t src_ip, uint32_t dst_ip, uint16_t sport, uint16_t dport, uint32_t seq,
         uint32_t ack, uint8_t flags)
{
    if (cap < BL_ETH_HLEN + 40)
        return 0;
    size_t off = put_headers (out, eth_dst, eth_src, src_ip, dst_ip, BL_IP_PROTO_TCP, 20);
    uint8_t *tcp = out + off;
    memset (tcp, 0, 20);
    put16 (tcp, sport);
    put16 (tcp + 2, dport);
    put32 (tcp + 4, seq);
    put32 (tcp + 8, ack);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    put16 (tcp + 16, l4_checksum (src_ip, dst_ip, BL_IP_PROTO_TCP, tcp, 20));
    return off + 20;
}

size_t
bl_net_build_tcp_rst_reply (const BlNetPacket *req, uint8_t *out, size_t cap)
{
    if (req->flags & BL_TCP_ACK)
        return put_tcp (out, cap, req->eth_src, req->eth_dst, req->dst, req->src, req->dport,
                        req->sport, req->ack, 0, BL_TCP_RST);
    /* SYN and FIN each take one sequence number. */
    uint32_t len =
        (uint32_t) req->payload_len + !!(req->flags & BL_TCP_SYN) + !!(req->flags & BL_TCP_FIN);
    return put_tcp (out, cap, req->eth_src, req->eth_dst, req->dst, req->src, req->dport,
                    req->sport, 0, req->seq + len, BL_TCP_RST | BL_TCP_ACK);
}

size_t
bl_net_build_tcp_rst_forward (const BlNetPacket *req, uint32_t seq, uint8_t *out, size_t cap)
{
    return put_tcp (out, cap, req->eth_dst, req->eth_src, req->src, req->dst, req->sport,
                    req->dport, seq, 0, BL_TCP_RST);
}

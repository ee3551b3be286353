/* packet.c: reading guest frames and writing the few the filter answers. */
#include "packet.h"

#include <string.h>

#include "bytes.h"

/* Field offsets: Ethernet, IPv4 (RFC 791), UDP (RFC 768), TCP (RFC 9293). */
enum {
    ETH_DST = 0,
    ETH_SRC = 6,
    ETH_TYPE = 12,

    IP_VER_IHL = 0,
    IP_TOTAL_LEN = 2,
    IP_FRAG = 6,
    IP_TTL = 8,
    IP_PROTO = 9,
    IP_CSUM = 10,
    IP_SRC = 12,
    IP_DST = 16,
    IP_MIN_LEN = 20,

    UDP_SPORT = 0,
    UDP_DPORT = 2,
    UDP_LEN = 4,
    UDP_CSUM = 6,
    UDP_HLEN = 8,

    TCP_SPORT = 0,
    TCP_DPORT = 2,
    TCP_SEQ = 4,
    TCP_ACK = 8,
    TCP_OFF = 12,
    TCP_FLAGS = 13,
    TCP_WIN = 14,
    TCP_CSUM = 16,
    TCP_MIN_LEN = 20,
};

static uint32_t
sum_words (const uint8_t *data, size_t len, uint32_t sum)
{
    size_t i;

    for (i = 0; i + 1 < len; i += 2)
        sum += bl_be16 (data + i);
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
    const uint8_t *eth = bl_bytes_at (frame, len, 0, BL_ETH_HLEN);
    if (!eth)
        return FALSE;
    out->frame = frame;
    out->frame_len = len;
    memcpy (out->eth_dst, eth + ETH_DST, 6);
    memcpy (out->eth_src, eth + ETH_SRC, 6);
    out->ethertype = bl_be16 (eth + ETH_TYPE);
    if (out->ethertype != BL_ETH_TYPE_IPV4)
        return TRUE;

    size_t avail = len - BL_ETH_HLEN;
    const uint8_t *ip = bl_bytes_at (frame, len, BL_ETH_HLEN, IP_MIN_LEN);
    if (!ip || ip[IP_VER_IHL] >> 4 != 4)
        return TRUE;
    size_t ihl = (size_t) (ip[IP_VER_IHL] & 0x0f) * 4;
    size_t total = bl_be16 (ip + IP_TOTAL_LEN);
    if (ihl < IP_MIN_LEN || total < ihl || total > avail)
        return TRUE;
    uint16_t frag = bl_be16 (ip + IP_FRAG);
    out->ip_valid = TRUE;
    out->ip = ip;
    out->ip_hlen = ihl;
    out->ttl = ip[IP_TTL];
    out->proto = ip[IP_PROTO];
    out->src = bl_be32 (ip + IP_SRC);
    out->dst = bl_be32 (ip + IP_DST);
    out->fragment = (frag & 0x2000) != 0 || (frag & 0x1fff) != 0;
    out->first_fragment = (frag & 0x1fff) == 0;
    if (!out->first_fragment)
        return TRUE;

    /* The transport part: what the IPv4 total length says, no padding. */
    const uint8_t *l4 = ip + ihl;
    size_t l4_len = total - ihl;
    out->l4 = l4;
    out->l4_len = l4_len;
    if (out->proto == BL_IP_PROTO_UDP) {
        const uint8_t *udp = bl_bytes_at (l4, l4_len, 0, UDP_HLEN);
        if (!udp)
            return TRUE;
        size_t ulen = bl_be16 (udp + UDP_LEN);
        /* A fragment's UDP length covers the whole datagram. */
        if (ulen < UDP_HLEN || (!out->fragment && ulen > l4_len))
            return TRUE;
        out->sport = bl_be16 (udp + UDP_SPORT);
        out->dport = bl_be16 (udp + UDP_DPORT);
        out->payload = udp + UDP_HLEN;
        out->payload_len = (out->fragment ? l4_len : ulen) - UDP_HLEN;
        out->l4_valid = TRUE;
    } else if (out->proto == BL_IP_PROTO_TCP) {
        const uint8_t *tcp = bl_bytes_at (l4, l4_len, 0, TCP_MIN_LEN);
        if (!tcp)
            return TRUE;
        size_t doff = (size_t) (tcp[TCP_OFF] >> 4) * 4;
        if (doff < TCP_MIN_LEN || !bl_bytes_at (l4, l4_len, 0, doff))
            return TRUE;
        out->sport = bl_be16 (tcp + TCP_SPORT);
        out->dport = bl_be16 (tcp + TCP_DPORT);
        out->seq = bl_be32 (tcp + TCP_SEQ);
        out->ack = bl_be32 (tcp + TCP_ACK);
        out->flags = tcp[TCP_FLAGS];
        out->window = bl_be16 (tcp + TCP_WIN);
        out->payload = tcp + doff;
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
    if (pkt->proto == BL_IP_PROTO_UDP && bl_be16 (pkt->l4 + UDP_CSUM) == 0)
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

    memcpy (out + ETH_DST, eth_dst, 6);
    memcpy (out + ETH_SRC, eth_src, 6);
    bl_put16 (out + ETH_TYPE, BL_ETH_TYPE_IPV4);
    memset (ip, 0, 20);
    ip[IP_VER_IHL] = 0x45;
    bl_put16 (ip + IP_TOTAL_LEN, (uint16_t) (20 + l4_len));
    bl_put16 (ip + IP_FRAG, 0x4000); /* don't fragment */
    ip[IP_TTL] = 64;
    ip[IP_PROTO] = proto;
    bl_put32 (ip + IP_SRC, src_ip);
    bl_put32 (ip + IP_DST, dst_ip);
    bl_put16 (ip + IP_CSUM, bl_net_checksum (ip, IP_MIN_LEN, 0));
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
    bl_put16 (udp + UDP_SPORT, req->dport);
    bl_put16 (udp + UDP_DPORT, req->sport);
    bl_put16 (udp + UDP_LEN, (uint16_t) l4_len);
    bl_put16 (udp + UDP_CSUM, 0);
    memcpy (udp + UDP_HLEN, payload, payload_len);
    uint16_t sum = l4_checksum (req->dst, req->src, BL_IP_PROTO_UDP, udp, l4_len);
    bl_put16 (udp + UDP_CSUM, sum ? sum : 0xffff);
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
    bl_put16 (tcp + TCP_SPORT, sport);
    bl_put16 (tcp + TCP_DPORT, dport);
    bl_put32 (tcp + TCP_SEQ, seq);
    bl_put32 (tcp + TCP_ACK, ack);
    tcp[TCP_OFF] = 5 << 4;
    tcp[TCP_FLAGS] = flags;
    bl_put16 (tcp + TCP_CSUM, l4_checksum (src_ip, dst_ip, BL_IP_PROTO_TCP, tcp, 20));
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

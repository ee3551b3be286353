/* packet.h: the Ethernet, IPv4, TCP and UDP headers of guest frames.
 *
 * The filter reads every frame the guest sends through this parser, and
 * writes the few frames it answers itself (DNS responses, TCP resets)
 * through the builders below. Frames are untrusted: the parser reads within
 * the length it is given and checks every length field against it.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

G_BEGIN_DECLS

#define BL_ETH_HLEN 14
#define BL_ETH_TYPE_IPV4 0x0800
#define BL_ETH_TYPE_ARP 0x0806
#define BL_ETH_TYPE_IPV6 0x86dd

#define BL_IP_PROTO_ICMP 1
#define BL_IP_PROTO_TCP 6
#define BL_IP_PROTO_UDP 17

#define BL_TCP_FIN 0x01
#define BL_TCP_SYN 0x02
#define BL_TCP_RST 0x04
#define BL_TCP_PSH 0x08
#define BL_TCP_ACK 0x10

/* Room for any frame a builder writes: headers plus one DNS response. */
#define BL_NET_BUILD_MAX (BL_ETH_HLEN + 20 + 20 + 4096)

/**
 * BlNetPacket:
 * What bl_net_packet_parse() found. Addresses and ports are in host byte
 * order; pointers point into the parsed frame, which must outlive this.
 * ip and ip_hlen are set with ip_valid; l4 and l4_len (the transport part,
 * whatever its protocol) for a first fragment.
 */
typedef struct {
    const uint8_t *frame;
    size_t frame_len;
    uint8_t eth_dst[6];
    uint8_t eth_src[6];
    uint16_t ethertype;

    /* The rest is valid when ethertype is BL_ETH_TYPE_IPV4 and ip_valid. */
    gboolean ip_valid;
    uint32_t src;
    uint32_t dst;
    uint8_t proto;
    uint8_t ttl;
    gboolean fragment;       /* MF set or a non-zero offset */
    gboolean first_fragment; /* offset 0 (so the transport header is here) */

    /* Valid when proto is TCP or UDP, first_fragment, and l4_valid. */
    gboolean l4_valid;
    uint16_t sport;
    uint16_t dport;
    uint32_t seq;    /* TCP only */
    uint32_t ack;    /* TCP only */
    uint8_t flags;   /* TCP only: BL_TCP_* */
    uint16_t window; /* TCP only, as sent (libslirp does not scale it) */
    const uint8_t *payload;
    size_t payload_len;

    /* Where the headers are. */
    const uint8_t *ip;
    size_t ip_hlen;
    const uint8_t *l4;
    size_t l4_len;
} BlNetPacket;

/* Parses the Ethernet frame at @frame (@len bytes) into @out (caller-owned).
 * FALSE when the frame is too short for an Ethernet header; an IPv4 packet
 * whose header or lengths do not fit leaves ip_valid FALSE, a transport
 * header that does not fit leaves l4_valid FALSE. Bytes past the IPv4 total
 * length (Ethernet padding) are not part of the payload. */
gboolean bl_net_packet_parse (const uint8_t *frame, size_t len, BlNetPacket *out);

/* TRUE if the IPv4 packet in @pkt (parsed with ip_valid) has a valid
 * header checksum and a TTL above 0, and, when it is a whole TCP segment
 * or UDP datagram (not a fragment), a valid transport checksum (a UDP
 * checksum of 0 means none was computed, RFC 768). A packet libslirp would
 * drop must not change what the filter believes about a connection, so
 * the filter drops it first. */
gboolean bl_net_packet_verify (const BlNetPacket *pkt);

/* Writes to @out (@cap bytes) an IPv4 UDP datagram answering @req: the
 * Ethernet and IP addresses and the ports swapped, carrying @payload
 * (@payload_len bytes), with valid IP and UDP checksums.
 * Returns the frame length, or 0 if it does not fit in @cap. */
size_t bl_net_build_udp_reply (const BlNetPacket *req, const uint8_t *payload, size_t payload_len,
                               uint8_t *out, size_t cap);

/* Writes to @out (@cap bytes) a TCP reset answering the segment @req, as
 * the peer it was addressed to would send it (RFC 9293: seq from the
 * segment's ACK if it had one, else 0 with ACK of everything it carried).
 * Returns the frame length, or 0 if it does not fit in @cap. */
size_t bl_net_build_tcp_rst_reply (const BlNetPacket *req, uint8_t *out, size_t cap);

/* Writes to @out (@cap bytes) a TCP reset in the direction of @req (from
 * its sender to its receiver) with sequence number @seq: what the sender
 * would send to abort the connection. Returns the length, or 0. */
size_t bl_net_build_tcp_rst_forward (const BlNetPacket *req, uint32_t seq, uint8_t *out,
                                     size_t cap);

/* The Internet checksum (RFC 1071) of @len bytes at @data, folded, starting
 * from the partial sum @sum. */
uint16_t bl_net_checksum (const uint8_t *data, size_t len, uint32_t sum);

G_END_DECLS

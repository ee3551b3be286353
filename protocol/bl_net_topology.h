/* bl_net_topology.h: the box network's addresses and link settings, the one
 * place they are written.
 *
 * Shared by the guest agent (plain libc: it configures eth0 with them), the
 * monitor's network (libslirp and the filter) and the QEMU command line, so
 * it is macros only: numbers in host byte order for code that compares
 * addresses, and the same addresses as dotted text for code that writes
 * them out, both derived from the octets below.
 *
 * 192.168.127.0/24: the guest is .2 (the agent sets it at boot), the
 * gateway and DNS server .1, the host alias .254 (the host's loopback), and
 * .3 is where libslirp's own, disabled, DNS relay is parked. */
#pragma once

#define BL_NET_OCTET_A 192
#define BL_NET_OCTET_B 168
#define BL_NET_OCTET_C 127
#define BL_NET_PREFIX_LEN 24

/* The last octet of each address in the subnet. */
#define BL_NET_HOST_GATEWAY 1
#define BL_NET_HOST_GUEST 2
#define BL_NET_HOST_SLIRP_DNS 3
#define BL_NET_HOST_HOST_ALIAS 254

/* The guest's link MTU, which libslirp is told too. */
#define BL_NET_MTU 1500
/* The name that always resolves to the host alias address. */
#define BL_NET_HOST_ALIAS_NAME "host.boxlite.internal"

#define BL_NET_STR_(x) #x
#define BL_NET_STR(x) BL_NET_STR_ (x)

/* Address @host of the subnet, host byte order. */
#define BL_NET_ADDR(host)                                                                          \
    ((((unsigned) BL_NET_OCTET_A) << 24) | (((unsigned) BL_NET_OCTET_B) << 16) |                   \
     (((unsigned) BL_NET_OCTET_C) << 8) | ((unsigned) (host)))
/* Address @host of the subnet as a string literal, "192.168.127.@host". */
#define BL_NET_ADDR_TEXT(host)                                                                     \
    BL_NET_STR (BL_NET_OCTET_A)                                                                    \
    "." BL_NET_STR (BL_NET_OCTET_B) "." BL_NET_STR (BL_NET_OCTET_C) "." BL_NET_STR (host)

#define BL_NET_SUBNET BL_NET_ADDR (0)
#define BL_NET_SUBNET_MASK (0xffffffffu << (32 - BL_NET_PREFIX_LEN))
#define BL_NET_ADDR_GATEWAY BL_NET_ADDR (BL_NET_HOST_GATEWAY)
#define BL_NET_ADDR_GUEST BL_NET_ADDR (BL_NET_HOST_GUEST)
#define BL_NET_ADDR_SLIRP_DNS BL_NET_ADDR (BL_NET_HOST_SLIRP_DNS)
#define BL_NET_ADDR_HOST_ALIAS BL_NET_ADDR (BL_NET_HOST_HOST_ALIAS)

#define BL_NET_SUBNET_TEXT BL_NET_ADDR_TEXT (0)
#define BL_NET_GATEWAY_TEXT BL_NET_ADDR_TEXT (BL_NET_HOST_GATEWAY)
#define BL_NET_GUEST_TEXT BL_NET_ADDR_TEXT (BL_NET_HOST_GUEST)
#define BL_NET_HOST_ALIAS_TEXT BL_NET_ADDR_TEXT (BL_NET_HOST_HOST_ALIAS)
/* "192.168.127.0/24" */
#define BL_NET_SUBNET_CIDR_TEXT BL_NET_SUBNET_TEXT "/" BL_NET_STR (BL_NET_PREFIX_LEN)

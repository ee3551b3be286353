/* topology.h: the box network's addresses, in one place, host byte order.
 *
 * 192.168.127.0/24: the guest is .2 (the agent sets it at boot), the
 * gateway and DNS server .1, the host alias .254 (the host's loopback), and
 * .3 is where libslirp's own, disabled, DNS relay is parked. */
#pragma once

#define BL_NET_SUBNET 0xc0a87f00u      /* 192.168.127.0 */
#define BL_NET_SUBNET_MASK 0xffffff00u /* /24 */
#define BL_NET_ADDR_GATEWAY 0xc0a87f01u
#define BL_NET_ADDR_GUEST 0xc0a87f02u
#define BL_NET_ADDR_SLIRP_DNS 0xc0a87f03u
#define BL_NET_ADDR_HOST_ALIAS 0xc0a87ffeu
#define BL_NET_HOST_ALIAS_TEXT "192.168.127.254"

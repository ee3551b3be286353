/* topology.h: the box network's addresses, host byte order.
 *
 * They are written once, in protocol/bl_net_topology.h, which the guest
 * agent and the QEMU command line read too: BL_NET_SUBNET,
 * BL_NET_SUBNET_MASK, BL_NET_ADDR_GATEWAY, BL_NET_ADDR_GUEST,
 * BL_NET_ADDR_SLIRP_DNS, BL_NET_ADDR_HOST_ALIAS, BL_NET_HOST_ALIAS_TEXT,
 * BL_NET_HOST_ALIAS_NAME and BL_NET_MTU come from there. */
#pragma once

#include "bl_net_topology.h"

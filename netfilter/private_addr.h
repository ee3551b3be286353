/* private_addr.h: addresses a name must not lead the box to.
 *
 * An allowed name is the remote's to answer for: it may resolve to the
 * host's loopback, to the host's own addresses, to the private network the
 * host sits in or to a cloud metadata service. Such answers are not
 * admitted for egress unless an address or range rule lists them (the host
 * alias is separate and stays reachable).
 */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

/* TRUE if the address at @bytes (@len: 4 or 16, network byte order) is
 * loopback, private (RFC 1918, IPv6 unique local), link-local (including
 * 169.254.169.254), shared (100.64.0.0/10), unspecified or "this network",
 * multicast, broadcast or reserved (240.0.0.0/4); for IPv6 also the
 * IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) forms of those and
 * any IPv4-compatible address (::/96, with :: and ::1). Other lengths are
 * TRUE. */
gboolean bl_net_address_is_private (const guint8 *bytes, gsize len);

/* TRUE if @bytes (@len: 4 or 16) is an address of one of the host's own
 * interfaces (getifaddrs), looked up afresh at most every few seconds. */
gboolean bl_net_address_is_host_own (const guint8 *bytes, gsize len);

G_END_DECLS

/* backend.h: the box network's user-space side.
 *
 * libslirp runs on the caller's thread-default GMainContext (the loop of
 * the box's network process, boxlite-net) and talks to QEMU's `-netdev
 * stream` client over a unix stream socket: every Ethernet frame is
 * preceded by its length as 4 big-endian bytes. QEMU's client connects
 * once and never reconnects, so the backend listens before QEMU starts and
 * accepts a single connection.
 *
 * Topology: topology.h. DNS is answered by the filter (filter.h), not by
 * libslirp.
 */
#pragma once

#include <glib.h>

#include "allowlist.h"
#include "topology.h"

G_BEGIN_DECLS

/* Longest frame accepted from QEMU, without its length prefix. */
#define BL_NET_MAX_FRAME 65536

typedef struct _BlNetBackend BlNetBackend;

/**
 * BlNetBackendConfig:
 * @socket_path: where QEMU's -netdev stream connects (must not exist yet)
 * @dns_socket_path: (nullable): where the DNS-over-TCP service listens
 *   (must not exist yet); NULL: TCP queries to the gateway are refused
 * @audit_path: (nullable): the egress record (audit.h)
 * @hosts_path: (nullable): a hosts-style override for name lookups
 */
typedef struct {
    const char *socket_path;
    const char *dns_socket_path;
    const char *audit_path;
    const char *hosts_path;
} BlNetBackendConfig;

/* Listens on the configured sockets and serves the one QEMU that connects.
 * Takes @allowlist (nullable: allow everything), the rules the box's
 * traffic is held to. Returns NULL with @error if it cannot listen or read
 * the hosts override; @allowlist is freed then too. */
BlNetBackend *bl_net_backend_new (const BlNetBackendConfig *config, BlAllowlist *allowlist,
                                  GError **error);

/* The backend's allowlist (never NULL; empty allows everything). */
const BlAllowlist *bl_net_backend_get_allowlist (BlNetBackend *net);

/* Forwards @host_port on the IPv4 address @host_addr to @guest_port of the
 * guest, TCP or (@udp) UDP. FALSE with @error when the host port cannot be
 * bound, e.g. because it is in use. */
gboolean bl_net_backend_add_forward (BlNetBackend *net, gboolean udp, const char *host_addr,
                                     guint16 host_port, guint16 guest_port, GError **error);

/* TRUE while QEMU is connected and the link has not broken. */
gboolean bl_net_backend_is_connected (BlNetBackend *net);

/* Stops everything, closes the sockets and removes @socket_path (when the
 * process may still). */
void bl_net_backend_free (BlNetBackend *net);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlNetBackend, bl_net_backend_free)

G_END_DECLS

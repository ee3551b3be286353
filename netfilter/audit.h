/* audit.h: the box's egress record.
 *
 * Every DNS answer and every flow decision the filter makes is appended as
 * one JSON object per line to a file in the box directory, so that an
 * operator can see afterwards what the code in the box tried to reach. The
 * file is bounded: past BL_NET_AUDIT_MAX_BYTES it is renamed to
 * "<path>.1" (replacing the previous one) and a new file is begun, so at
 * most twice that is kept.
 *
 * Beside it, "netcounts.json" in the same directory counts every entry by
 * "event verdict reason" since the box started: those totals are never
 * rotated away, so a flood of denials cannot hide how many there were.
 * "bytes out" and "bytes in" count the bytes of the frames the filter let
 * through from the guest and delivered to it (Ethernet frames, whole). It
 * is rewritten (atomically) at most once a second and when the record is
 * closed.
 *
 * Line fields: "time" (UTC, RFC 3339 with milliseconds), "event" ("dns",
 * "tcp", "udp" or "icmp"), "verdict" ("allowed", "denied" or, for DNS,
 * "sinkholed" and "error"), "reason" (a short code, see filter.c), and
 * where they apply "name", "type" (DNS), "addresses" (DNS), "dest"
 * (address:port), "sni", "host".
 */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

#define BL_NET_AUDIT_MAX_BYTES (1024 * 1024)

typedef struct _BlNetAudit BlNetAudit;

/* Appends to @path (created 0600 if missing); NULL keeps no record. */
BlNetAudit *bl_net_audit_new (const char *path);

/* Records a DNS answer for @name (type @qtype, e.g. "A") with @verdict and
 * @reason; @addresses (nullable, NULL-terminated) are the addresses given. */
void bl_net_audit_dns (BlNetAudit *audit, const char *name, const char *qtype, const char *verdict,
                       const char *reason, const char *const *addresses);

/* Records a flow decision: @event "tcp", "udp" or "icmp" to @dst (IPv4,
 * host order) port @port; @name (the name @dst was resolved from), @sni and
 * @host are nullable. */
void bl_net_audit_flow (BlNetAudit *audit, const char *event, uint32_t dst, uint16_t port,
                        gboolean allowed, const char *reason, const char *name, const char *sni,
                        const char *host);

/* Adds @len bytes of one frame to "bytes in" (@to_guest) or "bytes out". */
void bl_net_audit_bytes (BlNetAudit *audit, gboolean to_guest, gsize len);

void bl_net_audit_free (BlNetAudit *audit);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlNetAudit, bl_net_audit_free)

/* "a.b.c.d" for @addr (IPv4, host order) into @out (16 bytes). */
const char *bl_net_ipv4_to_string (uint32_t addr, char out[16]);

G_END_DECLS

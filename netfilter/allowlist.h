/* allowlist.h: which names and addresses a box may reach.
 *
 * A box's `allow_net` list is a set of rules, each one of:
 *
 *   example.com        one name (case-insensitive, a trailing dot ignored)
 *   *.example.com      any name strictly below example.com
 *                      (a.example.com, a.b.example.com; not example.com)
 *   192.0.2.7, 2001:db8::1          one address
 *   10.0.0.0/8, fd00::/8            an address range (host bits must be 0)
 *
 * An empty list allows everything. Names are matched against name rules
 * only, addresses against address and range rules only: resolving names to
 * addresses is the caller's business.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <gio/gio.h>

G_BEGIN_DECLS

/* The longest DNS name in text form, without a trailing dot, in bytes. */
#define BL_NET_NAME_MAX 253
/* A buffer that holds any name bl_net_name_normalize() accepts. */
#define BL_NET_NAME_CAP (BL_NET_NAME_MAX + 1)

/* Checks that the @len bytes at @name (no terminator needed) are a host
 * name: dot-separated labels of 1 to 63 letters, digits, '-' or '_', not
 * starting or ending with '-', at most BL_NET_NAME_MAX bytes, with a last
 * label that is not all digits (so that no IPv4 literal passes), and one
 * optional trailing dot. On success writes it lowercased, without the
 * trailing dot and NUL-terminated to @out (@cap bytes, caller-owned) and
 * returns TRUE. Returns FALSE, with @out set to "" if @cap > 0, when the
 * name is invalid or does not fit. */
gboolean bl_net_name_normalize (const char *name, size_t len, char *out, size_t cap);

typedef struct _BlAllowlist BlAllowlist;

/* Parses @rules (NULL-terminated; NULL means no rules). Returns a new
 * allowlist, or NULL with @error (G_IO_ERROR_INVALID_ARGUMENT) naming
 * the first rule that is invalid. */
BlAllowlist *bl_net_allowlist_new (const char *const *rules, GError **error);

/* TRUE if the list has no rules, which means: allow everything. */
gboolean bl_net_allowlist_is_empty (const BlAllowlist *list);

/* TRUE if @name (NUL-terminated, any case, optional trailing dot) matches
 * an exact or wildcard rule, or the list is empty. An invalid name, and an
 * address literal, match no name rule. */
gboolean bl_net_allowlist_allows_name (const BlAllowlist *list, const char *name);

/* TRUE if @addr (borrowed) matches an address or range rule, or the list
 * is empty. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is matched as the
 * IPv4 address it carries. */
gboolean bl_net_allowlist_allows_address (const BlAllowlist *list, GInetAddress *addr);

/* The same for an address given as @len bytes (4 or 16) in network byte
 * order: what the filter has in hand for every packet, without making an
 * object of it. */
gboolean bl_net_allowlist_allows_bytes (const BlAllowlist *list, const guint8 *bytes, gsize len);

void bl_net_allowlist_free (BlAllowlist *list);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlAllowlist, bl_net_allowlist_free)

G_END_DECLS

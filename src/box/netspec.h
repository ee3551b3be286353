/* netspec.h: the parts of a box's network spec that are plain text.
 *
 * A port forward is `HOST_PORT:GUEST_PORT[/tcp|/udp]` or
 * `HOST_ADDR:HOST_PORT:GUEST_PORT[/tcp|/udp]`: the host address is an IPv4
 * address (default 127.0.0.1), ports are 1-65535, the protocol defaults to
 * TCP. The allowlist rules are checked by netfilter/allowlist.h.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define BL_PORT_DEFAULT_HOST_ADDR "127.0.0.1"

typedef struct {
    char host_addr[16]; /* dotted IPv4, NUL-terminated */
    guint16 host_port;
    guint16 guest_port;
    gboolean udp;
} BlPortForward;

/* Parses @spec into @out. FALSE with @error (BOXLITE_ERROR_INVALID_ARGUMENT)
 * naming the spec when it is malformed. */
gboolean bl_port_forward_parse (const char *spec, BlPortForward *out, GError **error);

/* Checks every entry of @specs (NULL-terminated, or NULL). */
gboolean bl_port_forwards_validate (const char *const *specs, GError **error);

/* Checks @rules (NULL-terminated, or NULL) as allowlist rules. */
gboolean bl_allow_net_validate (const char *const *rules, GError **error);

G_END_DECLS

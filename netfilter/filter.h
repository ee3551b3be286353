/* filter.h: what the box may send out, decided frame by frame.
 *
 * Every Ethernet frame the guest sends passes bl_net_filter_frame() before
 * libslirp sees it. The filter answers the guest's DNS itself (the gateway,
 * UDP port 53 here and TCP port 53 through bl_net_filter_listen_dns_tcp()),
 * resolves allowed names on the host, sinkholes the rest, lets flows out
 * only to addresses the allowlist admits, checks the TLS SNI or HTTP Host of
 * admitted TCP flows before their first byte goes out, and records every
 * decision. Frames are untrusted: nothing is read outside the given length.
 */
#pragma once

#include <gio/gio.h>
#include <stdint.h>

#include "allowlist.h"
#include "topology.h"

G_BEGIN_DECLS

/* TTL of the answers given for allowed names, in seconds; the egress filter
 * admits their addresses that long (GResolver does not report TTLs). */
#define BL_NET_ANSWER_TTL 60

typedef struct _BlNetFilter BlNetFilter;

/* Delivers one Ethernet frame (@len bytes, borrowed) to the guest or to
 * libslirp. */
typedef void (*BlNetEmitFunc) (const uint8_t *frame, size_t len, gpointer user_data);

/**
 * BlNetFilterConfig:
 * @allowlist: the box's rules (borrowed; must outlive the filter)
 * @audit_path: (nullable): the egress record file (audit.h)
 * @hosts_path: (nullable): a hosts(5)-style file whose names are answered
 *   from it instead of the host's resolver (still subject to the allowlist);
 *   BoxliteOptions' hosts-file
 * @to_guest: sends a frame the filter wrote to the guest
 * @to_slirp: hands a frame the filter held back to libslirp
 * @user_data: for both
 */
typedef struct {
    const BlAllowlist *allowlist;
    const char *audit_path;
    const char *hosts_path;
    BlNetEmitFunc to_guest;
    BlNetEmitFunc to_slirp;
    gpointer user_data;
} BlNetFilterConfig;

/* Runs on the thread-default main context (DNS lookups complete there).
 * NULL with @error if the hosts file cannot be read. */
BlNetFilter *bl_net_filter_new (const BlNetFilterConfig *config, GError **error);

/* TRUE to hand the frame to libslirp now; FALSE when the filter dropped,
 * answered or held it. */
gboolean bl_net_filter_frame (BlNetFilter *filter, const uint8_t *frame, size_t len);

/* Shows the filter a frame libslirp sends the guest (@len bytes), so that
 * it follows both directions of each connection. FALSE to drop it (a
 * connection the filter has given up on). Frames the filter itself sends
 * may pass here too. */
gboolean bl_net_filter_observe (BlNetFilter *filter, const uint8_t *frame, size_t len);

/* Serves DNS over TCP (RFC 7766 framing) on the unix socket @path, which
 * libslirp connects to for each guest connection to the gateway's TCP port
 * 53. Owned by @filter. FALSE with @error if it cannot listen. */
gboolean bl_net_filter_listen_dns_tcp (BlNetFilter *filter, const char *path, GError **error);

void bl_net_filter_free (BlNetFilter *filter);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlNetFilter, bl_net_filter_free)

G_END_DECLS

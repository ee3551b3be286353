/* filter-private.h: the filter's state, shared by its pieces (filter.c,
 * flow.c, dns_server.c) and nothing else. */
#pragma once

#include "answers.h"
#include "audit.h"
#include "filter.h"
#include "packet.h"
#include "topology.h"

G_BEGIN_DECLS

typedef struct _BlNetFlows BlNetFlows;
typedef struct _BlNetDns BlNetDns;

struct _BlNetFilter {
    const BlAllowlist *allowlist;
    gboolean open; /* empty allowlist: everything allowed, nothing inspected */
    BlNetAudit *audit;
    BlNetAnswers *answers;
    BlNetFlows *flows;
    BlNetDns *dns;
    BlNetEmitFunc to_guest;
    BlNetEmitFunc to_slirp;
    gpointer user_data;
};

/* Why an address is admitted (bits), 0 when it is not. */
enum {
    BL_NET_ADMIT_OPEN = 1 << 0,    /* the allowlist is empty */
    BL_NET_ADMIT_ALIAS = 1 << 1,   /* the host alias */
    BL_NET_ADMIT_ANSWER = 1 << 2,  /* an allowed name resolved to it */
    BL_NET_ADMIT_ADDRESS = 1 << 3, /* an address or range rule */
};

/* Which of the BL_NET_ADMIT_* reasons let traffic go to @dst (host
 * order); *@name_out gets the name it was resolved from, or NULL. */
guint bl_net_filter_admits (BlNetFilter *filter, uint32_t dst, const char **name_out);

/* TRUE if an answer for an allowed name that carries @bytes (@len: 4 or
 * 16, network order) must not be admitted: a private address or one of the
 * host's own (private_addr.h) that no address or range rule lists. */
gboolean bl_net_filter_refuses_answer (BlNetFilter *filter, const guint8 *bytes, gsize len);

/* TRUE if the allowlist's address rules list @addr (host order). */
gboolean bl_net_filter_rules_allow_ipv4 (BlNetFilter *filter, uint32_t addr);

/* flow.c: TCP connections and UDP/ICMP destinations. Each returns TRUE to
 * pass the frame to libslirp. */
BlNetFlows *bl_net_flows_new (void);
void bl_net_flows_free (BlNetFlows *flows);
gboolean bl_net_flows_tcp (BlNetFilter *filter, const BlNetPacket *pkt);
gboolean bl_net_flows_datagram (BlNetFilter *filter, const BlNetPacket *pkt);
/* A TCP segment libslirp sends the guest; FALSE to drop it. */
gboolean bl_net_flows_observe (BlNetFilter *filter, const BlNetPacket *pkt);

/* dns_server.c: the guest's DNS. */
BlNetDns *bl_net_dns_new (BlNetFilter *filter, const char *hosts_path, GError **error);
void bl_net_dns_free (BlNetDns *dns);
/* Answers the UDP query in @pkt (to the gateway, port 53). */
void bl_net_dns_udp (BlNetDns *dns, const BlNetPacket *pkt);
gboolean bl_net_dns_listen_tcp (BlNetDns *dns, const char *path, GError **error);

/* Sends @len bytes at @frame to the guest / to libslirp. */
void bl_net_filter_emit_guest (BlNetFilter *filter, const uint8_t *frame, size_t len);
void bl_net_filter_emit_slirp (BlNetFilter *filter, const uint8_t *frame, size_t len);

G_END_DECLS

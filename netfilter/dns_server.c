/* dns_server.c: the guest's DNS server, on the gateway address.
 *
 * Queries arrive as UDP datagrams the filter takes out of the frame stream,
 * or over TCP connections libslirp forwards to a unix socket here. Allowed
 * names are resolved on the host (or from the hosts override) and answered
 * with their addresses, which the egress filter then admits for the
 * answer's TTL; names the allowlist does not list get the sinkhole answer
 * (0.0.0.0 / ::); the host alias name always gets the host alias address.
 * Malformed queries get FORMERR (or nothing, when they are not queries). */
#define G_LOG_DOMAIN "boxlite-net"

#include "filter-private.h"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <string.h>

#include "dns.h"

/* Host lookups in flight at once; queries beyond get SERVFAIL. */
#define MAX_PENDING 64
/* Addresses put in one answer. */
#define MAX_ADDRS 8
/* Largest DNS message taken or given over TCP here, in bytes. */
#define TCP_MSG_MAX 4096
/* TCP connections served at once. */
#define MAX_TCP_CONNS 16
/* Lines read from the hosts override. */
#define HOSTS_MAX_LINES 10000

typedef struct _Conn Conn;

struct _BlNetDns {
    BlNetFilter *filter;
    GResolver *resolver;
    GHashTable *hosts; /* name -> GPtrArray of GInetAddress */
    GCancellable *cancellable;
    GHashTable *pending; /* Pending* set */
    GSocket *listener;
    GSource *listen_source;
    char *tcp_path;
    GHashTable *conns; /* Conn* set */
};

struct _Conn {
    gint refs;
    BlNetDns *dns; /* NULL once closed */
    GSocket *socket;
    GSource *source;
    guint8 buf[2 + TCP_MSG_MAX];
    gsize len;
};

typedef struct {
    BlNetDns *dns; /* NULL once the server is gone */
    BlDnsQuery q;
    size_t max_len;
    BlNetPacket udp; /* the query's headers (pointers cleared), for UDP */
    Conn *conn;      /* for TCP (a reference) */
} Pending;

static void conn_close (Conn *conn);

static Conn *
conn_ref (Conn *conn)
{
    conn->refs++;
    return conn;
}

static void
conn_unref (Conn *conn)
{
    if (--conn->refs > 0)
        return;
    g_clear_object (&conn->socket);
    g_free (conn);
}

static const char *
qtype_name (uint16_t qtype, char buf[8])
{
    if (qtype == BL_DNS_TYPE_A)
        return "A";
    if (qtype == BL_DNS_TYPE_AAAA)
        return "AAAA";
    g_snprintf (buf, 8, "%u", qtype);
    return buf;
}

/* ---- sending replies -------------------------------------------------- */

static void
send_reply (Pending *p, const uint8_t *msg, size_t len)
{
    if (!p->dns)
        return;
    if (p->conn) {
        if (!p->conn->dns)
            return;
        uint8_t out[2 + TCP_MSG_MAX];
        if (len > TCP_MSG_MAX)
            return;
        out[0] = (uint8_t) (len >> 8);
        out[1] = (uint8_t) len;
        memcpy (out + 2, msg, len);
        /* A reply is tiny next to the socket buffer; if libslirp is not
         * reading, the connection is given up rather than queued. */
        gssize n = g_socket_send (p->conn->socket, (const char *) out, len + 2, NULL, NULL);
        if (n != (gssize) (len + 2))
            conn_close (p->conn);
        return;
    }
    uint8_t frame[BL_NET_BUILD_MAX];
    size_t n = bl_net_build_udp_reply (&p->udp, msg, len, frame, sizeof frame);
    if (n)
        bl_net_filter_emit_guest (p->dns->filter, frame, n);
}

static void
reply_error (Pending *p, int rcode)
{
    uint8_t msg[BL_DNS_HEADER_LEN + BL_DNS_QUESTION_MAX + 11];
    int n = bl_dns_build_error (&p->q, rcode, msg, sizeof msg);

    if (n > 0)
        send_reply (p, msg, (size_t) n);
}

/* Answers with @v4/@v6, as many as fit in the client's limit. */
static void
reply_addresses (Pending *p, const uint32_t *v4, size_t n4, const uint8_t (*v6)[16], size_t n6,
                 uint32_t ttl)
{
    uint8_t msg[TCP_MSG_MAX];
    size_t cap = MIN (p->max_len, sizeof msg);

    for (;;) {
        int n = bl_dns_build_answer (&p->q, v4, n4, v6, n6, ttl, msg, cap);
        if (n > 0) {
            send_reply (p, msg, (size_t) n);
            return;
        }
        if (n4 == 0 && n6 == 0)
            break;
        if (n4 > 0)
            n4--;
        else
            n6--;
    }
    reply_error (p, BL_DNS_RCODE_SERVFAIL);
}

static void
pending_free (Pending *p)
{
    if (p->conn)
        conn_unref (p->conn);
    g_free (p);
}

/* ---- answering -------------------------------------------------------- */

/* Answers from @addrs (GInetAddress*), remembering IPv4 ones for the egress
 * filter, and records the answer. */
static void
answer_with (Pending *p, GPtrArray *addrs, const char *source)
{
    uint32_t v4[MAX_ADDRS];
    uint8_t v6[MAX_ADDRS][16];
    size_t n4 = 0, n6 = 0;
    g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
    char tbuf[8];
    gboolean refused = FALSE;

    for (guint i = 0; i < addrs->len; i++) {
        GInetAddress *a = g_ptr_array_index (addrs, i);
        const guint8 *bytes = g_inet_address_to_bytes (a);
        gsize size = g_inet_address_get_native_size (a);
        /* Given to the guest as it is, but not admitted: a connection to it
         * is refused, and recorded, with this reason. */
        gboolean refuse = bl_net_filter_refuses_answer (p->dns->filter, bytes, size);
        if (g_inet_address_get_family (a) == G_SOCKET_FAMILY_IPV4) {
            if (p->q.qtype != BL_DNS_TYPE_A || n4 == MAX_ADDRS)
                continue;
            uint32_t be;
            memcpy (&be, bytes, 4);
            v4[n4++] = be;
            if (!refuse)
                bl_net_answers_remember (p->dns->filter->answers, g_ntohl (be), p->q.name,
                                         BL_NET_ANSWER_TTL);
        } else {
            if (p->q.qtype != BL_DNS_TYPE_AAAA || n6 == MAX_ADDRS)
                continue;
            memcpy (v6[n6++], bytes, 16);
        }
        refused |= refuse;
        g_ptr_array_add (texts, g_inet_address_to_string (a));
    }
    g_ptr_array_add (texts, NULL);
    bl_net_audit_dns (p->dns->filter->audit, p->q.name, qtype_name (p->q.qtype, tbuf), "allowed",
                      refused ? "private-address" : source, (const char *const *) texts->pdata);
    reply_addresses (p, v4, n4, (const uint8_t (*)[16]) v6, n6, BL_NET_ANSWER_TTL);
}

static void
on_resolved (GObject *source, GAsyncResult *result, gpointer user_data)
{
    Pending *p = user_data;
    g_autoptr (GError) error = NULL;
    GList *list = g_resolver_lookup_by_name_with_flags_finish (G_RESOLVER (source), result, &error);

    if (p->dns)
        g_hash_table_remove (p->dns->pending, p);
    if (p->dns) {
        char tbuf[8];
        if (list) {
            g_autoptr (GPtrArray) addrs = g_ptr_array_new ();
            for (GList *l = list; l; l = l->next)
                g_ptr_array_add (addrs, l->data);
            answer_with (p, addrs, "resolved");
        } else {
            gboolean missing =
                g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND);
            /* No address of this family is an empty answer, not NXDOMAIN:
             * the name may have the other family. */
            if (missing) {
                g_autoptr (GPtrArray) none = g_ptr_array_new ();
                answer_with (p, none, "resolved");
            } else {
                bl_net_audit_dns (p->dns->filter->audit, p->q.name, qtype_name (p->q.qtype, tbuf),
                                  "error", "lookup-failed", NULL);
                reply_error (p, BL_DNS_RCODE_SERVFAIL);
            }
        }
    }
    g_resolver_free_addresses (list);
    pending_free (p);
}

static void
answer (Pending *p)
{
    BlNetDns *dns = p->dns;
    BlNetFilter *filter = dns->filter;
    char tbuf[8];
    const char *qtype = qtype_name (p->q.qtype, tbuf);

    if (strcmp (p->q.name, BL_NET_HOST_ALIAS_NAME) == 0) {
        uint32_t alias = g_htonl (BL_NET_ADDR_HOST_ALIAS);
        gboolean a = p->q.qtype == BL_DNS_TYPE_A;
        const char *const addrs[] = { a ? BL_NET_HOST_ALIAS_TEXT : NULL, NULL };
        bl_net_audit_dns (filter->audit, p->q.name, qtype, "allowed", "host-alias", addrs);
        reply_addresses (p, &alias, a ? 1 : 0, NULL, 0, BL_NET_ANSWER_TTL);
        pending_free (p);
        return;
    }
    if (!bl_net_allowlist_allows_name (filter->allowlist, p->q.name)) {
        uint8_t msg[TCP_MSG_MAX];
        int n = bl_dns_build_sinkhole (&p->q, msg, MIN (p->max_len, sizeof msg));
        bl_net_audit_dns (filter->audit, p->q.name, qtype, "sinkholed", "not-listed", NULL);
        if (n > 0)
            send_reply (p, msg, (size_t) n);
        pending_free (p);
        return;
    }
    if (p->q.qtype != BL_DNS_TYPE_A && p->q.qtype != BL_DNS_TYPE_AAAA) {
        /* Only addresses are looked up on the host: other types of allowed
         * names get an empty answer. */
        bl_net_audit_dns (filter->audit, p->q.name, qtype, "allowed", "type-not-served", NULL);
        reply_addresses (p, NULL, 0, NULL, 0, BL_NET_ANSWER_TTL);
        pending_free (p);
        return;
    }
    GPtrArray *fixed = g_hash_table_lookup (dns->hosts, p->q.name);
    if (fixed) {
        answer_with (p, fixed, "hosts-override");
        pending_free (p);
        return;
    }
    if (g_hash_table_size (dns->pending) >= MAX_PENDING) {
        bl_net_audit_dns (filter->audit, p->q.name, qtype, "error", "too-many-lookups", NULL);
        reply_error (p, BL_DNS_RCODE_SERVFAIL);
        pending_free (p);
        return;
    }
    g_hash_table_add (dns->pending, p);
    g_resolver_lookup_by_name_with_flags_async (dns->resolver, p->q.name,
                                                p->q.qtype == BL_DNS_TYPE_A
                                                    ? G_RESOLVER_NAME_LOOKUP_FLAGS_IPV4_ONLY
                                                    : G_RESOLVER_NAME_LOOKUP_FLAGS_IPV6_ONLY,
                                                dns->cancellable, on_resolved, p);
}

/* Handles one query message; @udp (nullable) or @conn says where the reply
 * goes. */
static void
handle_query (BlNetDns *dns, const uint8_t *msg, size_t len, const BlNetPacket *udp, Conn *conn)
{
    Pending *p = g_new0 (Pending, 1);
    int r = bl_dns_parse_query (msg, len, &p->q);

    p->dns = dns;
    if (udp) {
        p->udp = *udp;
        p->udp.frame = NULL;
        p->udp.payload = NULL;
        p->max_len = r == 0 ? p->q.udp_size : BL_DNS_UDP_MIN;
    } else {
        p->conn = conn_ref (conn);
        p->max_len = TCP_MSG_MAX;
    }
    switch (r) {
    case 0:
        answer (p);
        return;
    case BL_DNS_ERR_FORMERR:
        bl_net_audit_dns (dns->filter->audit, NULL, NULL, "error", "malformed-query", NULL);
        reply_error (p, BL_DNS_RCODE_FORMERR);
        break;
    case BL_DNS_ERR_NOTIMP:
        reply_error (p, BL_DNS_RCODE_NOTIMP);
        break;
    case BL_DNS_ERR_REFUSED:
        reply_error (p, BL_DNS_RCODE_REFUSED);
        break;
    default:
        break;
    }
    pending_free (p);
}

void
bl_net_dns_udp (BlNetDns *dns, const BlNetPacket *pkt)
{
    if (pkt->fragment)
        return;
    handle_query (dns, pkt->payload, pkt->payload_len, pkt, NULL);
}

/* ---- DNS over TCP ------------------------------------------------------ */

static void
conn_close (Conn *conn)
{
    if (!conn->dns)
        return;
    BlNetDns *dns = conn->dns;
    conn->dns = NULL;
    if (conn->source) {
        g_source_destroy (conn->source);
        g_clear_pointer (&conn->source, g_source_unref);
    }
    g_socket_close (conn->socket, NULL);
    g_hash_table_remove (dns->conns, conn); /* drops the set's reference */
}

static gboolean
on_conn_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
    Conn *conn = user_data;
    gssize n = g_socket_receive (socket, (char *) conn->buf + conn->len,
                                 sizeof conn->buf - conn->len, NULL, NULL);

    if (n <= 0) {
        conn_close (conn);
        return G_SOURCE_REMOVE;
    }
    conn->len += (gsize) n;
    conn_ref (conn);
    while (conn->dns && conn->len >= 2) {
        gsize msg_len = (gsize) conn->buf[0] << 8 | conn->buf[1];
        if (msg_len == 0 || msg_len > TCP_MSG_MAX) {
            conn_close (conn);
            break;
        }
        if (conn->len < 2 + msg_len)
            break;
        handle_query (conn->dns, conn->buf + 2, msg_len, NULL, conn);
        memmove (conn->buf, conn->buf + 2 + msg_len, conn->len - 2 - msg_len);
        conn->len -= 2 + msg_len;
    }
    gboolean open = conn->dns != NULL;
    conn_unref (conn);
    return open ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean
on_tcp_connection (GSocket *listener, GIOCondition condition, gpointer user_data)
{
    BlNetDns *dns = user_data;
    g_autoptr (GSocket) socket = g_socket_accept (listener, NULL, NULL);

    if (!socket)
        return G_SOURCE_CONTINUE;
    if (g_hash_table_size (dns->conns) >= MAX_TCP_CONNS)
        return G_SOURCE_CONTINUE; /* closed as it goes out of scope */
    g_socket_set_blocking (socket, FALSE);
    Conn *conn = g_new0 (Conn, 1);
    conn->refs = 1;
    conn->dns = dns;
    conn->socket = g_steal_pointer (&socket);
    conn->source = g_socket_create_source (conn->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
    g_source_set_callback (conn->source, G_SOURCE_FUNC (on_conn_readable), conn, NULL);
    g_source_attach (conn->source, g_main_context_get_thread_default ());
    g_hash_table_add (dns->conns, conn);
    return G_SOURCE_CONTINUE;
}

gboolean
bl_net_dns_listen_tcp (BlNetDns *dns, const char *path, GError **error)
{
    g_autoptr (GSocket) socket =
        g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, error);
    g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (path);

    g_return_val_if_fail (dns->listener == NULL, FALSE);
    if (!socket || !g_socket_bind (socket, addr, FALSE, error) || !g_socket_listen (socket, error))
        return FALSE;
    g_socket_set_blocking (socket, FALSE);
    dns->tcp_path = g_strdup (path);
    dns->listener = g_steal_pointer (&socket);
    dns->listen_source = g_socket_create_source (dns->listener, G_IO_IN, NULL);
    g_source_set_callback (dns->listen_source, G_SOURCE_FUNC (on_tcp_connection), dns, NULL);
    g_source_attach (dns->listen_source, g_main_context_get_thread_default ());
    return TRUE;
}

/* ---- life cycle ---------------------------------------------------------- */

/* Reads "ADDRESS NAME..." lines; '#' starts a comment. */
static gboolean
load_hosts (GHashTable *hosts, const char *path, GError **error)
{
    g_autofree char *text = NULL;
    gsize len;

    if (!g_file_get_contents (path, &text, &len, error))
        return FALSE;
    g_auto (GStrv) lines = g_strsplit (text, "\n", HOSTS_MAX_LINES);
    for (guint i = 0; lines[i]; i++) {
        char *hash = strchr (lines[i], '#');
        if (hash)
            *hash = '\0';
        g_auto (GStrv) words = g_strsplit_set (g_strstrip (lines[i]), " \t", -1);
        GInetAddress *addr =
            words[0] && *words[0] ? g_inet_address_new_from_string (words[0]) : NULL;
        if (!addr) {
            if (words[0] && *words[0]) {
                g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                             "%s line %u: %s is not an address", path, i + 1, words[0]);
                return FALSE;
            }
            continue;
        }
        for (guint w = 1; words[w]; w++) {
            char name[BL_NET_NAME_CAP];
            if (!*words[w])
                continue;
            if (!bl_net_name_normalize (words[w], strlen (words[w]), name, sizeof name)) {
                g_object_unref (addr);
                g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                             "%s line %u: %s is not a host name", path, i + 1, words[w]);
                return FALSE;
            }
            GPtrArray *list = g_hash_table_lookup (hosts, name);
            if (!list) {
                list = g_ptr_array_new_with_free_func (g_object_unref);
                g_hash_table_insert (hosts, g_strdup (name), list);
            }
            g_ptr_array_add (list, g_object_ref (addr));
        }
        g_object_unref (addr);
    }
    return TRUE;
}

BlNetDns *
bl_net_dns_new (BlNetFilter *filter, const char *hosts_path, GError **error)
{
    BlNetDns *dns = g_new0 (BlNetDns, 1);

    dns->filter = filter;
    dns->resolver = g_resolver_get_default ();
    dns->cancellable = g_cancellable_new ();
    dns->hosts =
        g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
    dns->pending = g_hash_table_new (NULL, NULL);
    dns->conns = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) conn_unref);
    if (hosts_path && !load_hosts (dns->hosts, hosts_path, error)) {
        bl_net_dns_free (dns);
        return NULL;
    }
    return dns;
}

void
bl_net_dns_free (BlNetDns *dns)
{
    if (!dns)
        return;
    /* Lookups still running finish later, on their own, without a server. */
    GHashTableIter iter;
    gpointer p;
    g_hash_table_iter_init (&iter, dns->pending);
    while (g_hash_table_iter_next (&iter, &p, NULL))
        ((Pending *) p)->dns = NULL;
    g_cancellable_cancel (dns->cancellable);
    g_hash_table_unref (dns->pending);

    GList *conns = g_hash_table_get_keys (dns->conns);
    for (GList *l = conns; l; l = l->next)
        conn_close (l->data);
    g_list_free (conns);
    g_hash_table_unref (dns->conns);
    if (dns->listen_source) {
        g_source_destroy (dns->listen_source);
        g_source_unref (dns->listen_source);
    }
    if (dns->listener) {
        g_socket_close (dns->listener, NULL);
        g_object_unref (dns->listener);
        if (unlink (dns->tcp_path) < 0 && errno != ENOENT)
            g_warning ("cannot remove %s: %s", dns->tcp_path, g_strerror (errno));
    }
    g_free (dns->tcp_path);
    g_hash_table_unref (dns->hosts);
    g_object_unref (dns->cancellable);
    g_object_unref (dns->resolver);
    g_free (dns);
}

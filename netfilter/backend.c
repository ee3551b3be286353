/* backend.c: libslirp on a GLib main loop, bridged to QEMU's -netdev stream.
 *
 * Three sources live on the owner's context: the listening socket (until
 * QEMU's one connection arrives), the connection (read always, write only
 * while frames are queued), and one source for libslirp's own sockets whose
 * poll set is rebuilt from slirp_pollfds_fill() before every poll. libslirp's
 * timers are plain GLib timeouts. */
#define G_LOG_DOMAIN "boxlite-net"

#include "backend.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <libslirp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "filter.h"
#include "topology.h"

/* Frames for the guest queued while QEMU does not read; beyond this they
 * are dropped, as a full NIC queue would (TCP retransmits). */
#define OUT_QUEUE_MAX (4u * 1024 * 1024)
#define FRAME_HEADER 4
/* Queued bytes for QEMU that are written at once, without waiting for
 * libslirp to return. */
#define FLUSH_AT (256u * 1024)

typedef struct {
    GSource source;
    BlNetBackend *net;
    GPtrArray *fds; /* GPollFD* (owned), in add_poll order */
} SlirpSource;

typedef struct {
    BlNetBackend *net;
    SlirpTimerCb cb;
    void *cb_opaque;
    GSource *source; /* pending expiry, or NULL */
} SlirpTimer;

struct _BlNetBackend {
    GMainContext *context;
    char *path;
    BlAllowlist *allowlist; /* the filter's rules */
    BlNetFilter *filter;
    Slirp *slirp;
    GSource *slirp_source;
    GList *timers; /* SlirpTimer* (owned) */

    int listen_fd;
    GSource *listen_source;

    int conn_fd;
    GSource *read_source;
    GSource *write_source;
    guint8 *in; /* FRAME_HEADER + BL_NET_MAX_FRAME bytes */
    gsize in_len;
    GByteArray *out; /* frames for QEMU, from out_off on */
    gsize out_off;
    guint64 dropped_out;
};

/* ---- the link to QEMU ----------------------------------------------------- */

static void
source_clear (GSource **source)
{
    if (*source) {
        g_source_destroy (*source);
        g_source_unref (*source);
        *source = NULL;
    }
}

static void
link_close (BlNetBackend *net)
{
    source_clear (&net->read_source);
    source_clear (&net->write_source);
    if (net->conn_fd >= 0)
        close (net->conn_fd);
    net->conn_fd = -1;
    net->in_len = 0;
    g_byte_array_set_size (net->out, 0);
    net->out_off = 0;
}

static void
link_broken (BlNetBackend *net, const char *why)
{
    g_warning ("the network link to QEMU is broken: %s", why);
    link_close (net);
}

static gboolean on_writable (int fd, GIOCondition condition, gpointer user_data);

/* Writes what QEMU will take now; watches for room when something is left. */
static void
link_flush (BlNetBackend *net)
{
    while (net->conn_fd >= 0 && net->out->len > net->out_off) {
        ssize_t n = send (net->conn_fd, net->out->data + net->out_off, net->out->len - net->out_off,
                          MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0) {
            link_broken (net, n < 0 ? g_strerror (errno) : "short write");
            return;
        }
        net->out_off += (gsize) n;
    }
    if (net->conn_fd < 0)
        return;
    /* Sent bytes are dropped from the front only now and then, not after
     * every write: a partial write of a large queue then costs no copy. */
    if (net->out_off == net->out->len) {
        g_byte_array_set_size (net->out, 0);
        net->out_off = 0;
    } else if (net->out_off > net->out->len / 2) {
        g_byte_array_remove_range (net->out, 0, (guint) net->out_off);
        net->out_off = 0;
    }
    if (net->out->len > 0 && !net->write_source) {
        net->write_source = g_unix_fd_source_new (net->conn_fd, G_IO_OUT);
        g_source_set_callback (net->write_source, G_SOURCE_FUNC (on_writable), net, NULL);
        g_source_attach (net->write_source, net->context);
    } else if (net->out->len == 0) {
        source_clear (&net->write_source);
    }
}

static gboolean
on_writable (int fd, GIOCondition condition, gpointer user_data)
{
    BlNetBackend *net = user_data;

    /* link_flush() may destroy this source; keep it alive until we return. */
    GSource *self = g_source_ref (g_main_current_source ());
    link_flush (net);
    gboolean keep = !g_source_is_destroyed (self);
    g_source_unref (self);
    return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* Hands every complete frame in the input buffer to the filter and slirp.
 * FALSE when the stream is not -netdev stream framing. */
static gboolean
link_consume (BlNetBackend *net)
{
    gsize off = 0;

    while (net->in_len - off >= FRAME_HEADER) {
        const guint8 *p = net->in + off;
        guint32 len = (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
        if (len == 0 || len > BL_NET_MAX_FRAME)
            return FALSE;
        if (net->in_len - off < FRAME_HEADER + (gsize) len)
            break;
        if (bl_net_filter_frame (net->filter, p + FRAME_HEADER, len))
            slirp_input (net->slirp, p + FRAME_HEADER, (int) len);
        off += FRAME_HEADER + len;
        if (net->conn_fd < 0)
            return TRUE; /* slirp's answer broke the link */
    }
    if (off > 0) {
        memmove (net->in, net->in + off, net->in_len - off);
        net->in_len -= off;
    }
    return TRUE;
}

static gboolean
on_readable (int fd, GIOCondition condition, gpointer user_data)
{
    BlNetBackend *net = user_data;
    gsize room = FRAME_HEADER + BL_NET_MAX_FRAME - net->in_len;
    ssize_t n;

    do
        n = recv (fd, net->in + net->in_len, room, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        /* QEMU went away (it is exiting) or the socket failed. */
        if (n < 0)
            link_broken (net, g_strerror (errno));
        else
            link_close (net);
        return G_SOURCE_REMOVE;
    }
    net->in_len += (gsize) n;
    if (!link_consume (net)) {
        link_broken (net, "a frame length out of range");
        return G_SOURCE_REMOVE;
    }
    link_flush (net);
    return net->conn_fd >= 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean
on_connection (int fd, GIOCondition condition, gpointer user_data)
{
    BlNetBackend *net = user_data;
    int conn = accept4 (fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (conn < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED)
            return G_SOURCE_CONTINUE;
        g_warning ("cannot accept QEMU's network connection: %s", g_strerror (errno));
        return G_SOURCE_CONTINUE;
    }
    /* One QEMU, one connection: nobody else gets in afterwards. */
    g_clear_pointer (&net->listen_source, g_source_unref);
    close (net->listen_fd);
    net->listen_fd = -1;

    net->conn_fd = conn;
    net->read_source = g_unix_fd_source_new (conn, G_IO_IN);
    g_source_set_callback (net->read_source, G_SOURCE_FUNC (on_readable), net, NULL);
    g_source_attach (net->read_source, net->context);
    g_debug ("QEMU connected to the network socket");
    return G_SOURCE_REMOVE;
}

/* ---- libslirp's callbacks ------------------------------------------------- */

static ssize_t
cb_send_packet (const void *buf, size_t len, void *opaque)
{
    BlNetBackend *net = opaque;

    if (net->conn_fd < 0 || len == 0 || len > BL_NET_MAX_FRAME)
        return (ssize_t) len; /* no NIC to deliver to: dropped */
    if (net->filter && !bl_net_filter_observe (net->filter, buf, len))
        return (ssize_t) len;
    if (net->out->len - net->out_off + FRAME_HEADER + len > OUT_QUEUE_MAX) {
        if (net->dropped_out++ % 1000 == 0)
            g_message ("QEMU is not reading; dropped %" G_GUINT64_FORMAT " frames",
                       net->dropped_out);
        return (ssize_t) len;
    }
    guint8 header[FRAME_HEADER] = {
        (guint8) (len >> 24),
        (guint8) (len >> 16),
        (guint8) (len >> 8),
        (guint8) len,
    };
    g_byte_array_append (net->out, header, sizeof header);
    g_byte_array_append (net->out, buf, (guint) len);
    /* Frames libslirp makes in one go (a window of TCP data) leave in one
     * write: the callers flush when libslirp returns to them. */
    if (net->out->len - net->out_off >= FLUSH_AT)
        link_flush (net);
    return (ssize_t) len;
}

static void
cb_guest_error (const char *msg, void *opaque)
{
    g_message ("guest network error: %s", msg);
}

static int64_t
cb_clock_get_ns (void *opaque)
{
    return g_get_monotonic_time () * 1000;
}

static void *
cb_timer_new (SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    BlNetBackend *net = opaque;
    SlirpTimer *t = g_new0 (SlirpTimer, 1);

    t->net = net;
    t->cb = cb;
    t->cb_opaque = cb_opaque;
    net->timers = g_list_prepend (net->timers, t);
    return t;
}

static void
timer_free (SlirpTimer *t)
{
    source_clear (&t->source);
    g_free (t);
}

static void
cb_timer_free (void *timer, void *opaque)
{
    BlNetBackend *net = opaque;

    net->timers = g_list_remove (net->timers, timer);
    timer_free (timer);
}

static gboolean
on_timer (gpointer user_data)
{
    SlirpTimer *t = user_data;

    /* The callback may re-arm (or free) the timer: forget this expiry first. */
    g_clear_pointer (&t->source, g_source_unref);
    BlNetBackend *net = t->net;
    t->cb (t->cb_opaque); /* may free t */
    link_flush (net);
    return G_SOURCE_REMOVE;
}

static void
cb_timer_mod (void *timer, int64_t expire_ms, void *opaque)
{
    SlirpTimer *t = timer;
    gint64 now_ms = g_get_monotonic_time () / 1000;
    gint64 delay = expire_ms - now_ms;

    source_clear (&t->source);
    t->source = g_timeout_source_new ((guint) CLAMP (delay, 0, G_MAXUINT));
    g_source_set_callback (t->source, on_timer, t, NULL);
    g_source_attach (t->source, t->net->context);
}

static void
cb_register_poll_fd (int fd, void *opaque)
{
}

static void
cb_unregister_poll_fd (int fd, void *opaque)
{
}

static void
cb_notify (void *opaque)
{
    BlNetBackend *net = opaque;

    /* slirp's sockets want a different poll set: rebuild it now. */
    g_main_context_wakeup (net->context);
}

static const SlirpCb slirp_callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_new = cb_timer_new,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
};

/* ---- libslirp's sockets as one GSource ------------------------------------ */

static gushort
to_gio_events (int events)
{
    gushort e = 0;

    if (events & SLIRP_POLL_IN)
        e |= G_IO_IN;
    if (events & SLIRP_POLL_OUT)
        e |= G_IO_OUT;
    if (events & SLIRP_POLL_PRI)
        e |= G_IO_PRI;
    if (events & SLIRP_POLL_ERR)
        e |= G_IO_ERR;
    if (events & SLIRP_POLL_HUP)
        e |= G_IO_HUP;
    return e;
}

static int
from_gio_events (gushort e)
{
    int events = 0;

    if (e & G_IO_IN)
        events |= SLIRP_POLL_IN;
    if (e & G_IO_OUT)
        events |= SLIRP_POLL_OUT;
    if (e & G_IO_PRI)
        events |= SLIRP_POLL_PRI;
    if (e & (G_IO_ERR | G_IO_NVAL))
        events |= SLIRP_POLL_ERR;
    if (e & G_IO_HUP)
        events |= SLIRP_POLL_HUP;
    return events;
}

static void
slirp_source_clear_fds (SlirpSource *s)
{
    for (guint i = 0; i < s->fds->len; i++)
        g_source_remove_poll (&s->source, g_ptr_array_index (s->fds, i));
    g_ptr_array_set_size (s->fds, 0);
}

static int
add_poll (int fd, int events, void *opaque)
{
    SlirpSource *s = opaque;
    GPollFD *pfd = g_new0 (GPollFD, 1);

    pfd->fd = fd;
    pfd->events = to_gio_events (events);
    g_ptr_array_add (s->fds, pfd);
    g_source_add_poll (&s->source, pfd);
    return (int) s->fds->len - 1;
}

static int
get_revents (int idx, void *opaque)
{
    SlirpSource *s = opaque;

    if (idx < 0 || (guint) idx >= s->fds->len)
        return 0;
    return from_gio_events (((GPollFD *) g_ptr_array_index (s->fds, (guint) idx))->revents);
}

static gboolean
slirp_source_prepare (GSource *source, gint *timeout)
{
    SlirpSource *s = (SlirpSource *) source;
    uint32_t wait_ms = UINT32_MAX;

    slirp_source_clear_fds (s);
    slirp_pollfds_fill (s->net->slirp, &wait_ms, add_poll, s);
    *timeout = wait_ms >= (uint32_t) G_MAXINT ? -1 : (gint) wait_ms;
    return FALSE;
}

static gboolean
slirp_source_check (GSource *source)
{
    /* slirp_pollfds_poll() also runs slirp's fast and slow timers, which
     * are due whenever the poll returns: it runs after every poll. */
    return TRUE;
}

static gboolean
slirp_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
    SlirpSource *s = (SlirpSource *) source;

    slirp_pollfds_poll (s->net->slirp, 0, get_revents, s);
    link_flush (s->net);
    return G_SOURCE_CONTINUE;
}

static void
slirp_source_finalize (GSource *source)
{
    SlirpSource *s = (SlirpSource *) source;

    g_ptr_array_unref (s->fds);
}

static GSourceFuncs slirp_source_funcs = {
    .prepare = slirp_source_prepare,
    .check = slirp_source_check,
    .dispatch = slirp_source_dispatch,
    .finalize = slirp_source_finalize,
};

/* ---- life cycle ----------------------------------------------------------- */

static int
listen_unix (const char *path, GError **error)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };

    if (strlen (path) >= sizeof addr.sun_path) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "the socket path %s is too long", path);
        return -1;
    }
    memcpy (addr.sun_path, path, strlen (path) + 1);
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 || listen (fd, 1) < 0) {
        int saved = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot listen on %s: %s",
                     path, g_strerror (saved));
        if (fd >= 0)
            close (fd);
        return -1;
    }
    return fd;
}

static struct in_addr
ipv4 (uint32_t addr)
{
    return (struct in_addr){ .s_addr = htonl (addr) };
}

static void
filter_to_guest (const uint8_t *frame, size_t len, gpointer user_data)
{
    /* Answers the filter makes (DNS, resets) may come from a lookup's
     * callback, after which nobody else flushes. */
    cb_send_packet (frame, len, user_data);
    link_flush (user_data);
}

static void
filter_to_slirp (const uint8_t *frame, size_t len, gpointer user_data)
{
    BlNetBackend *net = user_data;

    slirp_input (net->slirp, frame, (int) len);
}

BlNetBackend *
bl_net_backend_new (const BlNetBackendConfig *config, BlAllowlist *allowlist, GError **error)
{
    g_autoptr (BlAllowlist) rules = allowlist;

    g_return_val_if_fail (config != NULL && config->socket_path != NULL, NULL);
    const char *socket_path = config->socket_path;

    if (!rules && !(rules = bl_net_allowlist_new (NULL, error)))
        return NULL;
    int fd = listen_unix (socket_path, error);
    if (fd < 0)
        return NULL;

    BlNetBackend *net = g_new0 (BlNetBackend, 1);
    net->allowlist = g_steal_pointer (&rules);
    net->context = g_main_context_ref_thread_default ();
    net->path = g_strdup (socket_path);
    net->listen_fd = fd;
    net->conn_fd = -1;
    net->in = g_malloc (FRAME_HEADER + BL_NET_MAX_FRAME);
    net->out = g_byte_array_new ();

    SlirpConfig cfg = {
        .version = 4,
        .restricted = 0,
        .in_enabled = true,
        .vnetwork = ipv4 (BL_NET_SUBNET),
        .vnetmask = ipv4 (BL_NET_SUBNET_MASK),
        .vhost = ipv4 (BL_NET_ADDR_HOST_ALIAS),
        .in6_enabled = false,
        .vhostname = "boxlite",
        .vdhcp_start = ipv4 (BL_NET_ADDR_GUEST),
        /* The filter answers DNS on the gateway; libslirp's own DNS relay
         * is off and parked on an address the filter never lets through. */
        .vnameserver = ipv4 (BL_NET_ADDR_SLIRP_DNS),
        .disable_dns = true,
        .if_mtu = BL_NET_MTU,
        .if_mru = BL_NET_MTU,
        .disable_host_loopback = false,
        .enable_emu = false,
        .disable_dhcp = true,
    };
    net->slirp = slirp_new (&cfg, &slirp_callbacks, net);
    if (!net->slirp) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot start libslirp");
        bl_net_backend_free (net);
        return NULL;
    }

    BlNetFilterConfig fcfg = {
        .allowlist = net->allowlist,
        .audit_path = config->audit_path,
        .hosts_path = config->hosts_path,
        .to_guest = filter_to_guest,
        .to_slirp = filter_to_slirp,
        .user_data = net,
    };
    net->filter = bl_net_filter_new (&fcfg, error);
    if (!net->filter) {
        bl_net_backend_free (net);
        return NULL;
    }
    if (config->dns_socket_path) {
        struct in_addr gateway = ipv4 (BL_NET_ADDR_GATEWAY);
        if (!bl_net_filter_listen_dns_tcp (net->filter, config->dns_socket_path, error)) {
            bl_net_backend_free (net);
            return NULL;
        }
        if (slirp_add_unix (net->slirp, config->dns_socket_path, &gateway, 53) < 0) {
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot route DNS over TCP to %s",
                         config->dns_socket_path);
            bl_net_backend_free (net);
            return NULL;
        }
    }

    net->listen_source = g_unix_fd_source_new (fd, G_IO_IN);
    g_source_set_callback (net->listen_source, G_SOURCE_FUNC (on_connection), net, NULL);
    g_source_attach (net->listen_source, net->context);

    net->slirp_source = g_source_new (&slirp_source_funcs, sizeof (SlirpSource));
    SlirpSource *s = (SlirpSource *) net->slirp_source;
    s->net = net;
    s->fds = g_ptr_array_new_with_free_func (g_free);
    g_source_attach (net->slirp_source, net->context);
    return net;
}

const BlAllowlist *
bl_net_backend_get_allowlist (BlNetBackend *net)
{
    g_return_val_if_fail (net != NULL, NULL);
    return net->allowlist;
}

gboolean
bl_net_backend_add_forward (BlNetBackend *net, gboolean udp, const char *host_addr,
                            guint16 host_port, guint16 guest_port, GError **error)
{
    struct in_addr host = { 0 };

    g_return_val_if_fail (net != NULL && host_addr != NULL, FALSE);
    if (host_port == 0 || guest_port == 0 || inet_pton (AF_INET, host_addr, &host) != 1) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "invalid port forward %s:%u to %u", host_addr, host_port, guest_port);
        return FALSE;
    }
    errno = 0;
    if (slirp_add_hostfwd (net->slirp, udp, host, host_port, ipv4 (BL_NET_ADDR_GUEST), guest_port) <
        0) {
        int saved = errno;
        if (saved == EADDRINUSE || saved == 0)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE, "port %u on %s is in use",
                         host_port, host_addr);
        else
            g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                         "cannot forward port %u on %s: %s", host_port, host_addr,
                         g_strerror (saved));
        return FALSE;
    }
    g_debug ("forwarding %s %s:%u to guest port %u", udp ? "udp" : "tcp", host_addr, host_port,
             guest_port);
    return TRUE;
}

gboolean
bl_net_backend_is_connected (BlNetBackend *net)
{
    g_return_val_if_fail (net != NULL, FALSE);
    return net->conn_fd >= 0;
}

void
bl_net_backend_free (BlNetBackend *net)
{
    if (!net)
        return;
    link_close (net);
    source_clear (&net->listen_source);
    if (net->listen_fd >= 0)
        close (net->listen_fd);
    if (net->slirp_source) {
        slirp_source_clear_fds ((SlirpSource *) net->slirp_source);
        g_source_destroy (net->slirp_source);
        g_clear_pointer (&net->slirp_source, g_source_unref);
    }
    g_clear_pointer (&net->filter, bl_net_filter_free);
    if (net->slirp)
        slirp_cleanup (net->slirp); /* may free its timers through cb_timer_free */
    g_list_free_full (net->timers, (GDestroyNotify) timer_free);
    /* A backend that gave up its privileges may no longer reach the
     * directory: the one who made that directory removes the socket then. */
    if (unlink (net->path) < 0 && errno != ENOENT && errno != EACCES)
        g_warning ("cannot remove %s: %s", net->path, g_strerror (errno));
    g_byte_array_unref (net->out);
    g_free (net->in);
    g_free (net->path);
    g_clear_pointer (&net->allowlist, bl_net_allowlist_free);
    g_main_context_unref (net->context);
    g_free (net);
}

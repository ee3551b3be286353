/* private_addr.c: loopback, private, link-local and the host's own
 * addresses. */
#include "private_addr.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>

/* How long the host's address list is trusted, in microseconds. */
#define HOST_ADDRS_TTL_US (5 * G_USEC_PER_SEC)

static gboolean
ipv4_is_private (const guint8 *a)
{
    return a[0] == 0 ||                               /* this network */
           a[0] == 10 ||                              /* RFC 1918 */
           a[0] == 127 ||                             /* loopback */
           (a[0] == 100 && (a[1] & 0xc0) == 64) ||    /* shared, 100.64/10 */
           (a[0] == 169 && a[1] == 254) ||            /* link-local, metadata */
           (a[0] == 172 && (a[1] & 0xf0) == 16) ||    /* RFC 1918 */
           (a[0] == 192 && a[1] == 168) ||            /* RFC 1918 */
           (a[0] == 192 && a[1] == 0 && a[2] == 0) || /* IETF protocol assignments */
           a[0] >= 224;                               /* multicast, reserved, broadcast */
}

gboolean
bl_net_address_is_private (const guint8 *bytes, gsize len)
{
    static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    static const guint8 zero[12] = { 0 };
    static const guint8 nat64[12] = { 0, 0x64, 0xff, 0x9b };

    if (len == 4)
        return ipv4_is_private (bytes);
    if (len != 16)
        return TRUE;
    /* ::ffff:a.b.c.d and 64:ff9b::a.b.c.d lead where a.b.c.d does; the
     * deprecated ::a.b.c.d, :: and ::1 lead nowhere a box should go. */
    if (memcmp (bytes, mapped, 12) == 0 || memcmp (bytes, nat64, 12) == 0)
        return ipv4_is_private (bytes + 12);
    if (memcmp (bytes, zero, 12) == 0)
        return TRUE;
    return (bytes[0] & 0xfe) == 0xfc ||                       /* unique local fc00::/7 */
           (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80) || /* link-local fe80::/10 */
           (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0xc0) || /* site-local fec0::/10 */
           bytes[0] == 0xff;                                  /* multicast */
}

static GMutex host_lock;
static GPtrArray *host_addrs; /* GBytes of 4 or 16 bytes */
static gint64 host_addrs_us;

static void
refresh_host_addrs (void)
{
    struct ifaddrs *list = NULL;
    gint64 now = g_get_monotonic_time ();

    if (host_addrs && now - host_addrs_us < HOST_ADDRS_TTL_US)
        return;
    host_addrs_us = now;
    if (!host_addrs)
        host_addrs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
    if (getifaddrs (&list) < 0)
        return; /* keep the last list */
    g_ptr_array_set_size (host_addrs, 0);
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr)
            continue;
        if (i->ifa_addr->sa_family == AF_INET) {
            const struct sockaddr_in *sin = (const struct sockaddr_in *) i->ifa_addr;
            g_ptr_array_add (host_addrs, g_bytes_new (&sin->sin_addr, 4));
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) i->ifa_addr;
            g_ptr_array_add (host_addrs, g_bytes_new (&sin6->sin6_addr, 16));
        }
    }
    freeifaddrs (list);
}

gboolean
bl_net_address_is_host_own (const guint8 *bytes, gsize len)
{
    gboolean found = FALSE;

    g_mutex_lock (&host_lock);
    refresh_host_addrs ();
    for (guint i = 0; i < host_addrs->len && !found; i++) {
        gsize n;
        const guint8 *a = g_bytes_get_data (g_ptr_array_index (host_addrs, i), &n);
        found = n == len && memcmp (a, bytes, n) == 0;
    }
    g_mutex_unlock (&host_lock);
    return found;
}

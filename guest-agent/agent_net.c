/* agent_net.c: the guest's side of the box network.
 *
 * When the host's "identity" says so, the box has one NIC,
 * eth0, behind the host's user-space network. No DHCP: the addresses are
 * fixed (netfilter/backend.h), so the agent sets them with ioctls. Without
 * the flag there is no NIC and nothing to do. */
#include "agent.h"
#include "bl_net_topology.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NET_IF "eth0"
#define NET_WAIT_MS 3000

/* @addr in host byte order, as bl_net_topology.h gives it. */
static void set_addr(struct sockaddr *sa, uint32_t addr)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)(void *)sa;

    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(addr);
}

static bool if_ioctl(int fd, unsigned long request, struct ifreq *ifr, const char *what)
{
    snprintf(ifr->ifr_name, sizeof ifr->ifr_name, "%s", NET_IF);
    if (ioctl(fd, request, ifr) < 0) {
        agent_log(NET_IF ": %s: %s", what, strerror(errno));
        return false;
    }
    return true;
}

static bool wait_for_nic(void)
{
    struct timespec step = { .tv_sec = 0, .tv_nsec = 20 * 1000000L };
    for (int waited = 0; waited < NET_WAIT_MS; waited += 20) {
        if (if_nametoindex(NET_IF) > 0)
            return true;
        nanosleep(&step, NULL);
    }
    return false;
}

/* Set once eth0 has its address and route. */
static bool configured;

static void configure(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        agent_log("socket: %s", strerror(errno));
        return;
    }
    struct ifreq ifr;
    bool ok = true;

    memset(&ifr, 0, sizeof ifr);
    set_addr(&ifr.ifr_addr, BL_NET_ADDR_GUEST);
    ok = ok && if_ioctl(fd, SIOCSIFADDR, &ifr, "SIOCSIFADDR");
    memset(&ifr, 0, sizeof ifr);
    set_addr(&ifr.ifr_netmask, BL_NET_SUBNET_MASK);
    ok = ok && if_ioctl(fd, SIOCSIFNETMASK, &ifr, "SIOCSIFNETMASK");
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_mtu = BL_NET_MTU;
    ok = ok && if_ioctl(fd, SIOCSIFMTU, &ifr, "SIOCSIFMTU");
    memset(&ifr, 0, sizeof ifr);
    ok = ok && if_ioctl(fd, SIOCGIFFLAGS, &ifr, "SIOCGIFFLAGS");
    if (ok) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        ok = if_ioctl(fd, SIOCSIFFLAGS, &ifr, "SIOCSIFFLAGS");
    }
    if (ok) {
        struct rtentry rt;
        memset(&rt, 0, sizeof rt);
        set_addr(&rt.rt_dst, 0);
        set_addr(&rt.rt_genmask, 0);
        set_addr(&rt.rt_gateway, BL_NET_ADDR_GATEWAY);
        rt.rt_flags = RTF_UP | RTF_GATEWAY;
        rt.rt_dev = (char *)NET_IF;
        if (ioctl(fd, SIOCADDRT, &rt) < 0 && errno != EEXIST)
            agent_log("default route via " BL_NET_GATEWAY_TEXT ": %s", strerror(errno));
    }
    close(fd);
    configured = ok;
}

/* The addresses are every box's, so a NIC that is there at boot is set up
 * before the host says who the box is: a template's copies start with it
 * done. */
void agent_net_early(void)
{
    if (if_nametoindex(NET_IF) > 0)
        configure();
}

void agent_net_setup(bool enabled)
{
    if (!enabled || configured)
        return;
    if (!wait_for_nic()) {
        agent_log("the box has a network but no " NET_IF);
        return;
    }
    configure();
}

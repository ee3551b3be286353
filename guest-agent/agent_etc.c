/* agent_etc.c: the files of /etc that say who and where the box is:
 * hostname, hosts and resolv.conf.
 *
 * They are written on /run's tmpfs and bind-mounted over the image's, as
 * container runtimes do, whenever the image has the file: the first write
 * to the freshly mounted root file system costs the guest tens of
 * milliseconds under TCG, on the way to the box's first command, and these
 * files belong to the box's start rather than to its disk. An image
 * without the file gets it written in /etc. */
#include "agent.h"
#include "bl_net_topology.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define RUN_ETC "/run/boxlite-etc"
#define MAX_HOSTS 65536

static void write_file(const char *path, const char *text)
{
    if (unlink(path) < 0 && errno != ENOENT)
        agent_log("unlink %s: %s", path, strerror(errno));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        agent_log("%s: %s", path, strerror(errno));
        return;
    }
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len)
        agent_log("%s: %s", path, strerror(errno));
    close(fd);
}

/* /etc/@name holds @text from now on. */
static void etc_file(const char *name, const char *text)
{
    char etc[64], run[64];
    struct stat st;

    snprintf(etc, sizeof etc, "/etc/%s", name);
    snprintf(run, sizeof run, RUN_ETC "/%s", name);
    if (lstat(etc, &st) == 0 && S_ISREG(st.st_mode)) {
        if (mkdir(RUN_ETC, 0755) < 0 && errno != EEXIST)
            agent_log("mkdir " RUN_ETC ": %s", strerror(errno));
        write_file(run, text);
        if (mount(run, etc, NULL, MS_BIND, NULL) == 0)
            return;
        agent_log("bind %s on %s: %s", run, etc, strerror(errno));
    }
    if (mkdir("/etc", 0755) < 0 && errno != EEXIST)
        agent_log("mkdir /etc: %s", strerror(errno));
    write_file(etc, text);
}

/* The image's /etc/hosts, at most MAX_HOSTS bytes of it, in @buf; 0 when
 * there is none. */
static size_t read_hosts(char *buf, size_t size)
{
    int fd = open("/etc/hosts", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    size_t got = 0;
    ssize_t n = 0;

    while (fd >= 0 && got < size - 1 && (n = read(fd, buf + got, size - 1 - got)) > 0)
        got += (size_t)n;
    if (fd >= 0)
        close(fd);
    buf[got] = '\0';
    return got;
}

void agent_etc_setup(const char *hostname, bool network)
{
    static char hosts[MAX_HOSTS + 256];
    const char *alias = BL_NET_HOST_ALIAS_TEXT " " BL_NET_HOST_ALIAS_NAME "\n";
    char line[80];

    snprintf(line, sizeof line, "%s\n", hostname);
    etc_file("hostname", line);

    /* Programs expect localhost even where the image has no hosts file;
     * with a network, the host's alias too. */
    size_t len = read_hosts(hosts, MAX_HOSTS + 1);
    bool changed = false;
    if (!len) {
        len = (size_t)snprintf(hosts, sizeof hosts, "%s",
                               "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n");
        changed = true;
    }
    if (network && !strstr(hosts, " " BL_NET_HOST_ALIAS_NAME "\n")) {
        snprintf(hosts + len, sizeof hosts - len, "%s%s", hosts[len - 1] == '\n' ? "" : "\n",
                 alias);
        changed = true;
    }
    if (changed)
        etc_file("hosts", hosts);
    if (network)
        etc_file("resolv.conf", "nameserver " BL_NET_GATEWAY_TEXT "\n");
}

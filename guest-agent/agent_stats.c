/* agent_stats.c: the session request "stats": what the guest says about its
 * own memory, load, processes and root filesystem.
 *
 * Every figure is an unsigned integer (loads in thousandths), so the host
 * needs no floating point from the guest; a figure the guest cannot read is
 * left out rather than guessed. */
#include "agent.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Reads up to @cap - 1 bytes of @path into @buf; the length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

/* The value of "@key:  N kB" in /proc/meminfo text, in bytes. */
static bool meminfo_bytes(const char *text, const char *key, unsigned long long *out)
{
    size_t klen = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, klen) != 0 || p[klen] != ':')
            continue;
        char *end;
        unsigned long long kb = strtoull(p + klen + 1, &end, 10);
        if (end == p + klen + 1)
            return false;
        *out = kb * 1024ull;
        return true;
    }
    return false;
}

/* "0.52" -> 520: the load average in thousandths. */
static bool parse_load(const char **p, unsigned long long *out)
{
    char *end;
    unsigned long long whole = strtoull(*p, &end, 10);
    unsigned long long frac = 0;
    int digits = 0;

    if (end == *p)
        return false;
    if (*end == '.') {
        for (end++; isdigit((unsigned char)*end); end++) {
            if (digits < 3) {
                frac = frac * 10 + (unsigned long long)(*end - '0');
                digits++;
            }
        }
    }
    for (; digits < 3; digits++)
        frac *= 10;
    *out = whole * 1000ull + frac;
    *p = end;
    return true;
}

static unsigned long long count_processes(void)
{
    DIR *d = opendir("/proc");
    unsigned long long n = 0;
    struct dirent *e;

    if (!d)
        return 0;
    while ((e = readdir(d)))
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
            strspn(e->d_name, "0123456789") == strlen(e->d_name))
            n++;
    closedir(d);
    return n;
}

void agent_stats_reply(struct agent_link *link)
{
    struct agent_buf b = { 0 };
    char text[4096];
    unsigned long long v;
    const char *sep = "";

    agent_buf_add_str(&b, "{\"return\":{");
    if (read_small("/proc/meminfo", text, sizeof text) > 0) {
        if (meminfo_bytes(text, "MemTotal", &v)) {
            agent_buf_addf(&b, "%s\"mem_total\":%llu", sep, v);
            sep = ",";
        }
        if (meminfo_bytes(text, "MemAvailable", &v)) {
            agent_buf_addf(&b, "%s\"mem_available\":%llu", sep, v);
            sep = ",";
        }
    }
    if (read_small("/proc/loadavg", text, sizeof text) > 0) {
        static const char *const names[] = { "load1", "load5", "load15" };
        const char *p = text;
        for (size_t i = 0; i < 3; i++) {
            while (*p == ' ')
                p++;
            if (!parse_load(&p, &v))
                break;
            agent_buf_addf(&b, "%s\"%s\":%llu", sep, names[i], v);
            sep = ",";
        }
    }
    v = count_processes();
    if (v > 0) {
        agent_buf_addf(&b, "%s\"processes\":%llu", sep, v);
        sep = ",";
    }
    struct statvfs fs;
    if (statvfs("/", &fs) == 0) {
        unsigned long long unit = fs.f_frsize ? fs.f_frsize : fs.f_bsize;
        agent_buf_addf(&b, "%s\"disk_total\":%llu,\"disk_used\":%llu,\"disk_available\":%llu", sep,
                       (unsigned long long)fs.f_blocks * unit,
                       (unsigned long long)(fs.f_blocks - fs.f_bfree) * unit,
                       (unsigned long long)fs.f_bavail * unit);
    }
    agent_buf_add_str(&b, "}}");
    agent_link_queue_json(link, 0, &b);
    agent_buf_free(&b);
}

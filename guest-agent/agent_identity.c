/* agent_identity.c: the session request "identity": what makes this guest
 * one box and not another.
 *
 * A box may be a copy of a template VM that was stopped before its root
 * disk was mounted (bl_proto.h, "Templates"). Everything such a copy shares
 * with its siblings must be replaced before anything of the box runs: the
 * wall clock (the template's, frozen), the kernel's random state (every
 * copy would produce the same /dev/urandom bytes until the kernel reseeds
 * on its own), the name, the process cap and the network. So the agent
 * learns all of it from the host, and only then mounts the root disk and
 * serves commands. A box booted cold takes the same path. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PIDS_MAX 4096UL
#define MAX_PIDS_MAX (4UL * 1024 * 1024)

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* RFC 1123 characters only: the name ends up in /etc/hostname and uname. */
static bool hostname_ok(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len >= AGENT_HOSTNAME_MAX || name[0] == '-' || name[0] == '.')
        return false;
    for (const char *p = name; *p; p++) {
        bool alnum =
            (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
        if (!alnum && *p != '-' && *p != '.')
            return false;
    }
    return true;
}

static bool get_uint(const struct agent_json *args, const char *key, long long min, long long max,
                     long long *out)
{
    const struct agent_json *v = agent_json_get(args, key);

    if (!v)
        return true; /* optional: *out keeps its default */
    if (v->type != AGENT_JSON_INT || v->integer < min || v->integer > max)
        return false;
    *out = v->integer;
    return true;
}

int agent_identity_parse(const struct agent_json *args, struct agent_identity *id, char *err,
                         size_t err_len)
{
    memset(id, 0, sizeof *id);
    if (!args) {
        snprintf(err, err_len, "identity needs arguments");
        return -1;
    }
    const char *name = agent_json_get_str(args, "hostname");
    const char *box = agent_json_get_str(args, "box_id");
    const char *entropy = agent_json_get_str(args, "entropy");
    const struct agent_json *net = agent_json_get(args, "network");
    long long pids = DEFAULT_PIDS_MAX, disk = 0, time_ns = -1;

    if (!name || !hostname_ok(name)) {
        snprintf(err, err_len, "identity: hostname must be 1-63 letters, digits, '-' or '.'");
        return -1;
    }
    if (!box || !box[0] || strlen(box) >= sizeof id->box_id) {
        snprintf(err, err_len, "identity: box_id must be a string of 1-%zu bytes",
                 sizeof id->box_id - 1);
        return -1;
    }
    if (net && net->type != AGENT_JSON_BOOL) {
        snprintf(err, err_len, "identity: network must be a boolean");
        return -1;
    }
    if (!get_uint(args, "pids_max", 1, (long long)MAX_PIDS_MAX, &pids) ||
        !get_uint(args, "disk_bytes", 0, (long long)1 << 50, &disk) ||
        !get_uint(args, "time_ns", 0, (long long)1 << 62, &time_ns) || time_ns < 0) {
        snprintf(err, err_len,
                 "identity: time_ns is required; time_ns, pids_max and disk_bytes are integers "
                 "in range");
        return -1;
    }
    size_t hex_len = entropy ? strlen(entropy) : 0;
    if (hex_len < 2 * AGENT_ENTROPY_MIN || hex_len > 2 * sizeof id->entropy || hex_len % 2) {
        snprintf(err, err_len, "identity: entropy must be %d-%zu bytes in lowercase hex",
                 AGENT_ENTROPY_MIN, sizeof id->entropy);
        return -1;
    }
    for (size_t i = 0; i < hex_len / 2; i++) {
        int hi = hex_value(entropy[2 * i]), lo = hex_value(entropy[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            snprintf(err, err_len, "identity: entropy must be lowercase hex");
            return -1;
        }
        id->entropy[i] = (uint8_t)(hi << 4 | lo);
    }
    id->entropy_len = hex_len / 2;
    memcpy(id->hostname, name, strlen(name) + 1);
    memcpy(id->box_id, box, strlen(box) + 1);
    id->network = net && net->boolean;
    id->pids_max = (unsigned long)pids;
    id->disk_bytes = (uint64_t)disk;
    id->time_ns = (int64_t)time_ns;
    return 0;
}

/* Credits the host's bytes to the input pool, then makes the generator
 * draw from it at once instead of at its next scheduled reseed. */
static void add_entropy(const struct agent_identity *id)
{
    struct {
        struct rand_pool_info info;
        uint8_t buf[sizeof id->entropy];
    } req;
    int fd = open("/dev/urandom", O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        agent_fatal("open /dev/urandom: %s", strerror(errno));
    }
    memset(&req, 0, sizeof req);
    req.info.entropy_count = (int)(id->entropy_len * 8);
    req.info.buf_size = (int)id->entropy_len;
    memcpy(req.buf, id->entropy, id->entropy_len);
    /* A guest whose random state would repeat its siblings' must not run. */
    if (ioctl(fd, RNDADDENTROPY, &req.info) < 0)
        agent_fatal("RNDADDENTROPY: %s", strerror(errno));
    if (ioctl(fd, RNDRESEEDCRNG) < 0)
        agent_fatal("RNDRESEEDCRNG: %s", strerror(errno));
    memset(&req, 0, sizeof req);
    close(fd);
}

static void set_clock(int64_t time_ns)
{
    struct timespec ts = { .tv_sec = (time_t)(time_ns / 1000000000LL),
                           .tv_nsec = (long)(time_ns % 1000000000LL) };

    if (clock_settime(CLOCK_REALTIME, &ts) < 0)
        agent_log("clock_settime: %s", strerror(errno));
}

/* Called as the agent tells a new host it is ready, which is when a
 * template is saved: every copy then starts with a generator keyed this
 * instant, which the kernel will not rekey on its own for a second or more
 * of the copy's time. So no copy differs from its siblings by the luck of
 * the kernel's schedule; only add_entropy() at "identity" makes them differ,
 * and /template/copies-differ fails without it. */
void agent_identity_fix_rng(void)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd < 0 || ioctl(fd, RNDRESEEDCRNG) < 0)
        agent_log("reseeding the generator: %s", strerror(errno));
    if (fd >= 0)
        close(fd);
}

void agent_identity_apply(const struct agent_identity *id)
{
    set_clock(id->time_ns);
    add_entropy(id);
    agent_log("box %s", id->box_id);
}

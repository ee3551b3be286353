/* agent_main.c: entry point and the serving loop.
 *
 *   boxlite-agent            as PID 1 of a box (started by the kernel)
 *   boxlite-agent --fd N     serves on an open descriptor (tests; no mounts)
 *   boxlite-agent --version
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

bool agent_is_pid1;

static int sigchld_pipe[2] = { -1, -1 };

enum serve_end {
    SERVE_EOF,      /* the host went away */
    SERVE_ERROR,    /* protocol violation or I/O error */
    SERVE_SHUTDOWN, /* the host asked for it */
};

struct serve {
    struct agent_link link;
    struct agent_exec_state ex;
    struct agent_freeze freeze;
    bool shutdown;
    bool identified; /* "identity" done: the box's root is mounted */
};

void agent_log(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    int off = snprintf(msg, sizeof msg, "boxlite-agent: ");

    va_start(ap, fmt);
    vsnprintf(msg + off, sizeof msg - (size_t)off - 1, fmt, ap);
    va_end(ap);
    strcat(msg, "\n");
    ssize_t n = write(STDERR_FILENO, msg, strlen(msg));
    (void)n;
}

int64_t agent_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void agent_reap(struct agent_exec_state *st)
{
    pid_t pid;
    int status;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        agent_exec_reaped(st, pid, status); /* orphans adopted by PID 1 are just reaped */
}

static void on_sigchld(int sig)
{
    int saved = errno;
    ssize_t n = write(sigchld_pipe[1], "c", 1);
    (void)n;
    (void)sig;
    errno = saved;
}

static void queue_ok(struct agent_link *link, uint32_t channel, const char *ret)
{
    struct agent_buf b = { 0 };
    agent_buf_addf(&b, "{\"return\":%s}", ret);
    agent_link_queue_json(link, channel, &b);
    agent_buf_free(&b);
}

/* As PID 1, once: the clock, entropy and everything of the box's own
 * (agent_identity.c). In --fd mode the arguments are only checked. */
static void handle_identity(struct serve *s, const struct agent_json *args)
{
    struct agent_identity id;
    char err[160];

    if (agent_is_pid1 && s->identified) {
        agent_link_queue_error(&s->link, 0, "Failed", "the box already has its identity");
        return;
    }
    if (agent_identity_parse(args, &id, err, sizeof err) < 0) {
        agent_link_queue_error(&s->link, 0, "InvalidArgument", err);
        return;
    }
    if (agent_is_pid1) {
        agent_identity_apply(&id);
        agent_init_root(&id);
    }
    memset(&id, 0, sizeof id);
    s->identified = true;
    queue_ok(&s->link, 0, "{}");
}

static void handle_session(struct serve *s, const char *cmd, const struct agent_json *args)
{
    struct agent_link *link = &s->link;

    if (strcmp(cmd, "hello") == 0) {
        const struct agent_json *v = agent_json_get(args, "version");
        if (!v || v->type != AGENT_JSON_INT || v->integer != BL_PROTO_VERSION) {
            char desc[128];
            snprintf(desc, sizeof desc, "the agent speaks protocol version %d", BL_PROTO_VERSION);
            agent_link_queue_error(link, 0, "VersionMismatch", desc);
            return;
        }
        char ret[64];
        snprintf(ret, sizeof ret, "{\"version\":%d}", BL_PROTO_VERSION);
        queue_ok(link, 0, ret);
    } else if (strcmp(cmd, "identity") == 0) {
        handle_identity(s, args);
    } else if (!s->identified && strcmp(cmd, "shutdown") != 0) {
        agent_link_queue_error(link, 0, "Failed", "the box has no identity yet");
    } else if (strcmp(cmd, "mount") == 0) {
        agent_volumes_mount(link, args);
    } else if (strcmp(cmd, "stats") == 0) {
        agent_stats_reply(link);
    } else if (strcmp(cmd, "freeze") == 0) {
        agent_freeze_request(&s->freeze, link, args);
    } else if (strcmp(cmd, "thaw") == 0) {
        agent_thaw_request(&s->freeze, link);
    } else if (strcmp(cmd, "shutdown") == 0) {
        agent_freeze_end(&s->freeze);
        queue_ok(link, 0, "{}");
        s->shutdown = true;
    } else {
        char desc[160];
        snprintf(desc, sizeof desc, "unknown session command: %.100s", cmd);
        agent_link_queue_error(link, 0, "InvalidArgument", desc);
    }
}

static int on_frame(struct agent_link *link, const struct bl_frame_header *h,
                    const uint8_t *payload, void *user_data)
{
    struct serve *s = user_data;
    struct agent_chan *ch;

    switch (h->type) {
    case BL_FRAME_CONTROL: {
        struct agent_json *msg = agent_json_parse((const char *)payload, h->len);
        const char *cmd = agent_json_get_str(msg, "execute");
        const struct agent_json *args = agent_json_get(msg, "arguments");
        if (!msg || !cmd ||
            (args && args->type != AGENT_JSON_OBJECT && args->type != AGENT_JSON_NULL)) {
            agent_log("protocol error: malformed control message on channel %u", h->channel);
            agent_json_free(msg);
            return -1;
        }
        if (args && args->type == AGENT_JSON_NULL)
            args = NULL;
        if (h->channel == 0) {
            handle_session(s, cmd, args);
        } else if (!s->identified) {
            agent_link_queue_error(link, h->channel, "Failed", "the box has no identity yet");
        } else if (strcmp(cmd, "exec") == 0) {
            agent_exec_start(&s->ex, link, h->channel, args);
        } else if (strcmp(cmd, "copy_out") == 0 || strcmp(cmd, "copy_in") == 0) {
            agent_files_start(&s->ex, link, h->channel, cmd, args);
        } else if (strcmp(cmd, "signal") == 0) {
            agent_exec_signal(&s->ex, link, h->channel, args);
        } else if (strcmp(cmd, "resize") == 0) {
            agent_exec_resize(&s->ex, link, h->channel, args);
        } else {
            char desc[160];
            snprintf(desc, sizeof desc, "unknown command: %.100s", cmd);
            agent_link_queue_error(link, h->channel, "InvalidArgument", desc);
        }
        agent_json_free(msg);
        return 0;
    }
    case BL_FRAME_STDIN:
    case BL_FRAME_CREDIT:
        ch = agent_exec_find(&s->ex, h->channel);
        if (!ch) {
            if (agent_exec_is_tomb(&s->ex, h->channel))
                return 0; /* sent before the host saw the exit */
            agent_log("protocol error: data frame for channel %u, which is not open", h->channel);
            return -1;
        }
        if (h->type == BL_FRAME_CREDIT)
            return agent_exec_credit(ch, bl_proto_get_u32(payload));
        return agent_exec_stdin(&s->ex, link, ch, payload, h->len);
    default:
        agent_log("protocol error: frame type %u from the host", h->type);
        return -1;
    }
}

static enum serve_end serve(struct serve *s)
{
    struct pollfd *fds = NULL;
    size_t fds_cap = 0;
    bool host_away = false;
    bool had_contact = false;
    enum serve_end end;
    char ready[64];

    snprintf(ready, sizeof ready, "{\"event\":\"ready\",\"data\":{\"version\":%d}}",
             BL_PROTO_VERSION);
    agent_link_queue(&s->link, 0, BL_FRAME_CONTROL, ready, strlen(ready));

    for (;;) {
        size_t want = 2 + agent_exec_poll_count(&s->ex);
        if (want > fds_cap) {
            fds_cap = want * 2;
            fds = realloc(fds, fds_cap * sizeof *fds);
            if (!fds)
                abort();
        }
        size_t pending = agent_link_pending(&s->link);
        bool room = pending < AGENT_OUTQ_HIGH;
        fds[0] = (struct pollfd){ .fd = sigchld_pipe[0], .events = POLLIN };
        fds[1] =
            (struct pollfd){ .fd = host_away ? -1 : s->link.fd,
                             .events = (short)((room ? POLLIN : 0) | (pending ? POLLOUT : 0)) };
        size_t n = 2 + agent_exec_fill_poll(&s->ex, fds + 2, fds_cap - 2, room && !host_away);
        int64_t now = agent_now_ms();
        int timeout = agent_exec_next_timeout(&s->ex, now);
        int thaw_in = agent_freeze_next_timeout(&s->freeze, now);
        if (thaw_in >= 0 && (timeout < 0 || thaw_in < timeout))
            timeout = thaw_in;
        /* Look again soon: the host may connect any time; a copy of a
         * template waits for its host's first message, so sooner still. */
        int away_ms = s->identified ? 25 : 5;
        if (host_away && (timeout < 0 || timeout > away_ms))
            timeout = away_ms;
        host_away = false;

        int rc = poll(fds, n, timeout);
        if (rc < 0 && errno != EINTR) {
            agent_log("poll: %s", strerror(errno));
            end = SERVE_ERROR;
            break;
        }
        if (rc < 0)
            continue;
        if (fds[0].revents & POLLIN) {
            char drain[64];
            while (read(sigchld_pipe[0], drain, sizeof drain) > 0)
                ;
            agent_reap(&s->ex);
        }
        short re = fds[1].revents;
        if (re & POLLNVAL) {
            end = SERVE_ERROR;
            break;
        }
        if (re & POLLIN) {
            int r = agent_link_read(&s->link, on_frame, s);
            if (r < 0) {
                end = SERVE_ERROR;
                break;
            }
            if (r == 0 && agent_is_pid1 && (!had_contact || !s->identified)) {
                /* A virtio port reads EOF while no host is connected. Before
                 * "identity" that is a template's copy whose host has not
                 * connected yet: the port stays open, a partial frame of
                 * the template's host is dropped. */
                host_away = true;
                s->link.hdr_got = 0;
            } else if (r == 0) {
                end = SERVE_EOF;
                break;
            } else {
                had_contact = true;
            }
        } else if (re & (POLLHUP | POLLERR)) {
            /* A virtio port polls HUP while no host is connected. */
            if (!agent_is_pid1 || (had_contact && s->identified)) {
                end = SERVE_EOF;
                break;
            }
            host_away = true;
            s->link.hdr_got = 0;
        }
        agent_exec_dispatch(&s->ex, &s->link, fds + 2, n - 2, agent_now_ms());
        agent_freeze_tick(&s->freeze, agent_now_ms());
        if (s->link.broken) {
            end = SERVE_ERROR;
            break;
        }
        if (!host_away) {
            size_t before = agent_link_pending(&s->link);
            if (agent_link_flush(&s->link) < 0) {
                end = SERVE_ERROR;
                break;
            }
            if (agent_link_pending(&s->link) < before)
                had_contact = true;
        }
        if (s->shutdown) {
            agent_link_drain(&s->link, 2000);
            end = SERVE_SHUTDOWN;
            break;
        }
    }
    free(fds);
    agent_freeze_end(&s->freeze);
    agent_log("link ended: %llu bytes to the host by splice", (unsigned long long)s->link.spliced);
    return end;
}

static void setup_signals(void)
{
    struct sigaction sa;

    signal(SIGPIPE, SIG_IGN);
    if (pipe2(sigchld_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        agent_fatal("pipe: %s", strerror(errno));
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
}

static void AGENT_NORETURN run_pid1(void)
{
    static struct serve s;

    agent_init_early();
    for (;;) {
        int fd = agent_init_open_port();
        if (fd < 0)
            agent_fatal("cannot open the agent port %s", BL_PROTO_PORT_NAME);
        agent_link_reset(&s.link, fd);
        if (!s.identified)
            agent_identity_fix_rng();
        agent_log("ready");
        enum serve_end end = serve(&s);
        if (end == SERVE_SHUTDOWN)
            agent_init_poweroff();
        agent_log("link to the host lost; serving again");
        agent_exec_kill_all(&s.ex);
        close(fd);
        agent_link_reset(&s.link, -1);
    }
}

static int run_fd(int fd)
{
    static struct serve s;
    int fl;

    if ((fl = fcntl(fd, F_GETFL)) < 0) {
        fprintf(stderr, "boxlite-agent: --fd %d: %s\n", fd, strerror(errno));
        return 2;
    }
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    s.identified = true; /* nothing of a box to set up */
    agent_link_reset(&s.link, fd);
    enum serve_end end = serve(&s);
    agent_exec_kill_all(&s.ex);
    agent_link_reset(&s.link, -1);
    close(fd);
    return end == SERVE_ERROR ? 1 : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: boxlite-agent [--fd N | --version]\n"
                    "Without arguments it must run as PID 1 of a boxlite guest.\n");
}

int main(int argc, char **argv)
{
    agent_is_pid1 = getpid() == 1;

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("boxlite-agent %s (protocol %d)\n", AGENT_VERSION_STRING, BL_PROTO_VERSION);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "--fd") == 0) {
        char *end;
        errno = 0;
        long fd = strtol(argv[2], &end, 10);
        if (errno || *end || fd < 0 || fd > 65535) {
            usage();
            return 2;
        }
        setup_signals();
        return run_fd((int)fd);
    }
    if (argc != 1 || !agent_is_pid1) {
        usage();
        return 2;
    }
    setup_signals();
    run_pid1();
}

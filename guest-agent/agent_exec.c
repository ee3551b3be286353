/* agent_exec.c: processes run for the host, one per exec channel.
 *
 * A child gets its own session, pipes for stdout and stderr (and stdin when
 * asked) or else a pseudo-terminal for all three, the default environment
 * plus the request's, the requested user and directory. Whether execve()
 * worked comes back through a close-on-exec pipe, so the reply ({"pid": N}
 * or an error) always precedes the output. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_ARGS 65536
#define CREDIT_CEILING ((uint64_t)1 << 40)

enum child_stage { STAGE_USER, STAGE_CWD, STAGE_EXEC, STAGE_CGROUP, STAGE_ROOT };

struct child_report {
    int stage;
    int err;
};

struct exec_request {
    char **argv;
    char **envp;
    const char *cwd;
    const char *root;       /* a directory the command sees as "/", or NULL */
    const char *root_lower; /* the tree laid under @root, or NULL */
    const char *user;
    struct agent_user creds;
    long long timeout_ms;
    bool want_stdin;
    bool tty;
    struct agent_tty_size tty_size;
};

static void tomb_add(struct agent_exec_state *st, uint32_t channel)
{
    st->tombs[st->tomb_next] = channel;
    st->tomb_next = (st->tomb_next + 1) % (sizeof st->tombs / sizeof st->tombs[0]);
    if (st->n_tombs < sizeof st->tombs / sizeof st->tombs[0])
        st->n_tombs++;
}

static void tomb_remove(struct agent_exec_state *st, uint32_t channel)
{
    for (size_t i = 0; i < st->n_tombs; i++)
        if (st->tombs[i] == channel)
            st->tombs[i] = 0; /* channel 0 never carries data frames */
}

bool agent_exec_is_tomb(struct agent_exec_state *st, uint32_t channel)
{
    for (size_t i = 0; i < st->n_tombs; i++)
        if (st->tombs[i] == channel)
            return true;
    return false;
}

struct agent_chan *agent_exec_find(struct agent_exec_state *st, uint32_t channel)
{
    for (struct agent_chan *ch = st->chans; ch; ch = ch->next)
        if (ch->id == channel)
            return ch;
    return NULL;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void free_strv(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

/* Adds or replaces KEY=VALUE in the NULL-terminated @env of @n entries. */
static void env_set(char ***env, size_t *n, const char *entry)
{
    size_t klen = strcspn(entry, "=");
    for (size_t i = 0; i < *n; i++) {
        if (strncmp((*env)[i], entry, klen) == 0 && (*env)[i][klen] == '=') {
            free((*env)[i]);
            (*env)[i] = xstrdup(entry);
            return;
        }
    }
    char **grown = realloc(*env, (*n + 2) * sizeof **env);
    if (!grown)
        abort();
    *env = grown;
    (*env)[(*n)++] = xstrdup(entry);
    (*env)[*n] = NULL;
}

static const char *env_get(char **env, const char *key)
{
    size_t klen = strlen(key);
    for (char **p = env; *p; p++)
        if (strncmp(*p, key, klen) == 0 && (*p)[klen] == '=')
            return *p + klen + 1;
    return NULL;
}

/* An optional absolute path member of @args other than "/" (NULL when
 * absent), with no ".." that would put it elsewhere than it reads. */
static int root_member(const struct agent_json *args, const char *name, const char **out, char *err,
                       size_t err_len)
{
    const struct agent_json *v = agent_json_get(args, name);

    *out = NULL;
    if (!v || v->type == AGENT_JSON_NULL)
        return 0;
    if (!agent_json_is_cstring(v) || v->str[0] != '/' || !v->str[1] ||
        strlen(v->str) > AGENT_ROOT_MAX || strstr(v->str, "/..") || strpbrk(v->str, ",:")) {
        snprintf(err, err_len, "exec: %s must be an absolute path other than /", name);
        return -1;
    }
    *out = v->str;
    return 0;
}

/* Validates the "exec" arguments; on failure fills @err and returns -1. */
static int parse_request(const struct agent_json *args, struct exec_request *req, char *err,
                         size_t err_len)
{
    const struct agent_json *argv = agent_json_get(args, "argv");
    const struct agent_json *env = agent_json_get(args, "env");
    const struct agent_json *v;
    size_t n_env = 0;

    memset(req, 0, sizeof *req);
    if (!args || args->type != AGENT_JSON_OBJECT) {
        snprintf(err, err_len, "exec: arguments must be an object");
        return -1;
    }
    if (!argv || argv->type != AGENT_JSON_ARRAY || argv->n == 0 || argv->n > MAX_ARGS) {
        snprintf(err, err_len, "exec: argv must be a non-empty array of strings");
        return -1;
    }
    for (size_t i = 0; i < argv->n; i++) {
        if (!agent_json_is_cstring(argv->items[i])) {
            snprintf(err, err_len, "exec: argv must be a non-empty array of strings");
            return -1;
        }
    }
    if (argv->items[0]->str[0] == '\0') {
        snprintf(err, err_len, "exec: argv[0] is empty");
        return -1;
    }
    if (env && env->type != AGENT_JSON_NULL) {
        if (env->type != AGENT_JSON_ARRAY || env->n > MAX_ARGS) {
            snprintf(err, err_len, "exec: env must be an array of \"KEY=VALUE\" strings");
            return -1;
        }
        for (size_t i = 0; i < env->n; i++) {
            const struct agent_json *e = env->items[i];
            if (!agent_json_is_cstring(e) || e->str[0] == '=' || !strchr(e->str, '=')) {
                snprintf(err, err_len, "exec: env must be an array of \"KEY=VALUE\" strings");
                return -1;
            }
        }
    }
    v = agent_json_get(args, "cwd");
    if (v && v->type != AGENT_JSON_NULL && !agent_json_is_cstring(v)) {
        snprintf(err, err_len, "exec: cwd must be a string");
        return -1;
    }
    req->cwd = (v && v->type == AGENT_JSON_STRING && v->str[0]) ? v->str : "/";
    v = agent_json_get(args, "user");
    if (v && v->type != AGENT_JSON_NULL && !agent_json_is_cstring(v)) {
        snprintf(err, err_len, "exec: user must be a string");
        return -1;
    }
    req->user = (v && v->type == AGENT_JSON_STRING && v->str[0]) ? v->str : NULL;
    if (root_member(args, "root", &req->root, err, err_len) < 0 ||
        root_member(args, "root_lower", &req->root_lower, err, err_len) < 0)
        return -1;
    if (req->root_lower && !req->root) {
        snprintf(err, err_len, "exec: root_lower needs root");
        return -1;
    }
    if (agent_root_prepare(req->root, req->root_lower, err, err_len) < 0)
        return -1;
    v = agent_json_get(args, "timeout_ms");
    if (v && v->type != AGENT_JSON_NULL) {
        if (v->type != AGENT_JSON_INT || v->integer < 0) {
            snprintf(err, err_len, "exec: timeout_ms must be a non-negative integer");
            return -1;
        }
        req->timeout_ms = v->integer;
    }
    v = agent_json_get(args, "stdin");
    if (v && v->type != AGENT_JSON_NULL) {
        if (v->type != AGENT_JSON_BOOL) {
            snprintf(err, err_len, "exec: stdin must be a boolean");
            return -1;
        }
        req->want_stdin = v->boolean;
    }
    v = agent_json_get(args, "tty");
    if (v && v->type != AGENT_JSON_NULL) {
        if (agent_tty_parse_size(v, &req->tty_size, err, err_len, "exec: tty") < 0)
            return -1;
        req->tty = true;
    }
    if (agent_user_resolve(req->user, req->root, &req->creds, err, err_len) < 0)
        return -1;

    req->argv = calloc(argv->n + 1, sizeof *req->argv);
    if (!req->argv)
        abort();
    for (size_t i = 0; i < argv->n; i++)
        req->argv[i] = xstrdup(argv->items[i]->str);

    req->envp = calloc(1, sizeof *req->envp);
    if (!req->envp)
        abort();
    char home[600];
    snprintf(home, sizeof home, "HOME=%s", req->creds.home[0] ? req->creds.home : "/");
    env_set(&req->envp, &n_env, "PATH=" DEFAULT_PATH);
    env_set(&req->envp, &n_env, home);
    if (req->tty)
        env_set(&req->envp, &n_env, "TERM=xterm");
    for (size_t i = 0; env && env->type == AGENT_JSON_ARRAY && i < env->n; i++)
        env_set(&req->envp, &n_env, env->items[i]->str);
    return 0;
}

static void child_report(int fd, int stage, int err)
{
    struct child_report r = { .stage = stage, .err = err };
    ssize_t n;
    do
        n = write(fd, &r, sizeof r);
    while (n < 0 && errno == EINTR);
    _exit(127);
}

/* Searches the child's own PATH, like execvp() but with @envp's PATH. */
static int child_execute(char **argv, char **envp)
{
    const char *file = argv[0];
    if (strchr(file, '/')) {
        execve(file, argv, envp);
        return errno;
    }
    const char *path = env_get(envp, "PATH");
    if (!path)
        path = DEFAULT_PATH;
    size_t flen = strlen(file);
    bool seen_eacces = false;
    int result = ENOENT;
    /* On the stack: the child shares the agent's memory until execve()
     * (vfork), so memory it took from the heap would stay taken there. */
    char full[4096];
    for (const char *p = path;; p++) {
        const char *end = strchrnul(p, ':');
        size_t dlen = (size_t)(end - p);
        if ((dlen ? dlen : 1) + flen + 2 > sizeof full) {
            if (!*end)
                break;
            p = end;
            continue; /* what execve() would call ENAMETOOLONG */
        }
        if (dlen) {
            memcpy(full, p, dlen);
            full[dlen] = '/';
            memcpy(full + dlen + 1, file, flen + 1);
        } else {
            memcpy(full, "./", 2);
            memcpy(full + 2, file, flen + 1);
        }
        execve(full, argv, envp);
        int e = errno;
        if (e == EACCES)
            seen_eacces = true;
        else if (e != ENOENT && e != ENOTDIR && e != ENAMETOOLONG && e != ELOOP) {
            result = e;
            break;
        }
        if (!*end)
            break;
        p = end;
    }
    if (result == ENOENT && seen_eacces)
        result = EACCES;
    return result;
}

/* In a forked child: the agent's signal set-up undone and a session of its
 * own. */
static void child_reset(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    setsid();
}

/* In a forked child: child_reset(), and the channel's pipes as fds 0, 1
 * and 2 (stdin /dev/null when @in_fd is -1). Returns -1 when the
 * descriptors could not be set. */
static int child_setup(int in_fd, int out_fd, int err_fd)
{
    child_reset();
    if (in_fd < 0)
        in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (in_fd < 0 || dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        return -1;
    return 0;
}

static void close_pipe(int p[2])
{
    close_fd(&p[0]);
    close_fd(&p[1]);
}

/* @tty_fd is the terminal's master, or -1 for the pipes. */
static void AGENT_NORETURN run_child(const struct exec_request *req, int cg_fd, int tty_fd,
                                     int in_fd, int out_fd, int err_fd, int report_fd)
{
    int cg_err = agent_cgroup_join(cg_fd);
    if (cg_err < 0)
        child_report(report_fd, STAGE_CGROUP, -cg_err);
    if (tty_fd >= 0) {
        child_reset();
        int e = agent_tty_child(tty_fd, req->creds.uid);
        if (e)
            child_report(report_fd, STAGE_EXEC, e);
    } else if (child_setup(in_fd, out_fd, err_fd) < 0) {
        child_report(report_fd, STAGE_EXEC, errno);
    }
    if (req->root && agent_root_enter(req->root) < 0)
        child_report(report_fd, STAGE_ROOT, errno);

    if (req->user || req->creds.uid != geteuid() || req->creds.gid != getegid()) {
        if (setgroups(req->creds.n_groups, req->creds.groups) < 0 && errno != EPERM)
            child_report(report_fd, STAGE_USER, errno);
        if (setgid(req->creds.gid) < 0 || setuid(req->creds.uid) < 0)
            child_report(report_fd, STAGE_USER, errno);
    }
    if (chdir(req->cwd) < 0)
        child_report(report_fd, STAGE_CWD, errno);
    child_report(report_fd, STAGE_EXEC, child_execute(req->argv, req->envp));
    _exit(127);
}

/* vfork: under TCG copying the agent's page tables and then taking a
 * copy-on-write fault for each page it touches is a good part of an exec's
 * round trip. The child makes system calls only, takes no heap memory and
 * ends in execve() or _exit(), never returning here; a function of its own
 * so that no variable of the caller lives across the vfork(). */
static pid_t spawn_child(const struct exec_request *req, int cg_fd, int tty_fd, int in_fd,
                         int out_fd, int err_fd, int report_fd)
{
    pid_t pid = vfork();
    if (pid == 0)
        run_child(req, cg_fd, tty_fd, in_fd, out_fd, err_fd, report_fd);
    return pid;
}

static void reply_exec_failure(struct agent_link *link, uint32_t channel,
                               const struct exec_request *req, const struct child_report *r)
{
    char desc[1024];
    const char *klass = "Failed";
    const char *name = req->argv[0];

    switch (r->stage) {
    case STAGE_CWD:
        klass = "InvalidArgument";
        snprintf(desc, sizeof desc, "cannot change directory to %s: %s", req->cwd,
                 strerror(r->err));
        break;
    case STAGE_ROOT:
        klass = "InvalidArgument";
        snprintf(desc, sizeof desc, "cannot run in the root %s: %s", req->root, strerror(r->err));
        break;
    case STAGE_CGROUP:
        snprintf(desc, sizeof desc, "cannot put the command under the box's limits: %s",
                 strerror(r->err));
        break;
    case STAGE_USER:
        klass = r->err == EPERM ? "PermissionDenied" : "Failed";
        snprintf(desc, sizeof desc, "cannot switch to user %s: %s", req->user ? req->user : "root",
                 strerror(r->err));
        break;
    default:
        if (r->err == ENOENT || r->err == ENOTDIR) {
            klass = "CommandNotFound";
            snprintf(desc, sizeof desc, "%s: command not found", name);
        } else if (r->err == EACCES || r->err == ENOEXEC || r->err == EPERM) {
            klass = "PermissionDenied";
            snprintf(desc, sizeof desc, "%s: %s", name, strerror(r->err));
        } else {
            snprintf(desc, sizeof desc, "%s: %s", name, strerror(r->err));
        }
        break;
    }
    agent_link_queue_error(link, channel, klass, desc);
}

/* Makes the channel of a started child from the parent's pipe ends (taken)
 * and replies {"pid": N}. */
static struct agent_chan *chan_add(struct agent_exec_state *st, struct agent_link *link,
                                   uint32_t channel, pid_t pid, int out_p[2], int err_p[2],
                                   int in_p[2])
{
    struct agent_chan *ch = calloc(1, sizeof *ch);
    if (!ch)
        abort();
    ch->id = channel;
    ch->pid = pid;
    ch->out_fd = out_p[0];
    ch->err_fd = err_p[0];
    ch->in_fd = in_p[1];
    ch->in_eof = in_p[1] < 0;
    out_p[0] = err_p[0] = in_p[1] = -1;
    set_nonblock(ch->out_fd);
    set_nonblock(ch->err_fd);
    if (ch->in_fd >= 0)
        set_nonblock(ch->in_fd);
    ch->credit = BL_PROTO_INITIAL_CREDIT;
    ch->in_window = BL_PROTO_INITIAL_CREDIT;
    ch->pi_out = ch->pi_err = ch->pi_in = -1;
    ch->tty_fd = ch->cg_fd = -1;
    ch->next = st->chans;
    st->chans = ch;

    struct agent_buf b = { 0 };
    agent_buf_addf(&b, "{\"return\":{\"pid\":%d}}", (int)pid);
    agent_link_queue_json(link, channel, &b);
    agent_buf_free(&b);
    return ch;
}

void agent_exec_start(struct agent_exec_state *st, struct agent_link *link, uint32_t channel,
                      const struct agent_json *args)
{
    struct exec_request req;
    char err[512];
    int out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 }, in_p[2] = { -1, -1 }, rep_p[2] = { -1, -1 };
    int cg_fd = -1, cg_serial = 0;
    int tty_fd = -1;

    if (agent_exec_find(st, channel)) {
        snprintf(err, sizeof err, "channel %u is busy", channel);
        agent_link_queue_error(link, channel, "InvalidArgument", err);
        return;
    }
    tomb_remove(st, channel);
    if (parse_request(args, &req, err, sizeof err) < 0) {
        agent_link_queue_error(link, channel, "InvalidArgument", err);
        goto out;
    }
    cg_serial = agent_cgroup_create(&cg_fd, err, sizeof err);
    if (cg_serial < 0) {
        agent_link_queue_error(link, channel, "Failed", err);
        goto out;
    }
    if (req.tty) {
        tty_fd = agent_tty_open(&req.tty_size);
        if (tty_fd < 0) {
            snprintf(err, sizeof err, "pseudo-terminal: %s", strerror(-tty_fd));
            agent_link_queue_error(link, channel, "Failed", err);
            goto out;
        }
    } else if (pipe2(out_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0 ||
               (req.want_stdin && pipe2(in_p, O_CLOEXEC) < 0)) {
        snprintf(err, sizeof err, "pipe: %s", strerror(errno));
        agent_link_queue_error(link, channel, "Failed", err);
        goto out;
    }
    if (pipe2(rep_p, O_CLOEXEC) < 0) {
        snprintf(err, sizeof err, "pipe: %s", strerror(errno));
        agent_link_queue_error(link, channel, "Failed", err);
        goto out;
    }

    pid_t pid = spawn_child(&req, cg_fd, tty_fd, in_p[0], out_p[1], err_p[1], rep_p[1]);
    if (pid < 0) {
        snprintf(err, sizeof err, "vfork: %s", strerror(errno));
        agent_link_queue_error(link, channel, "Failed", err);
        goto out;
    }

    close_fd(&out_p[1]);
    close_fd(&err_p[1]);
    close_fd(&in_p[0]);
    close_fd(&rep_p[1]);

    /* Blocks only until the child has called execve() or given up. */
    struct child_report rep;
    size_t got = 0;
    while (got < sizeof rep) {
        ssize_t n = read(rep_p[0], (char *)&rep + got, sizeof rep - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got == sizeof rep) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        reply_exec_failure(link, channel, &req, &rep);
        tomb_add(st, channel);
        goto out;
    }

    if (tty_fd >= 0) {
        /* Separate descriptors for reading and writing, so that the end of
         * either closes only its own; the master itself stays for resizes. */
        out_p[0] = fcntl(tty_fd, F_DUPFD_CLOEXEC, 0);
        if (req.want_stdin)
            in_p[1] = fcntl(tty_fd, F_DUPFD_CLOEXEC, 0);
        if (out_p[0] < 0 || (req.want_stdin && in_p[1] < 0))
            agent_log("exec: cannot duplicate the terminal: %s", strerror(errno));
    }
    struct agent_chan *ch = chan_add(st, link, channel, pid, out_p, err_p, in_p);
    ch->in_eof = !req.want_stdin;
    ch->tty_fd = tty_fd;
    ch->cg_fd = cg_fd;
    ch->cg_serial = cg_serial;
    tty_fd = cg_fd = -1;
    if (req.timeout_ms > 0)
        ch->deadline_ms = agent_now_ms() + req.timeout_ms;

out:
    close_fd(&tty_fd);
    close_pipe(out_p);
    close_pipe(err_p);
    close_pipe(in_p);
    close_pipe(rep_p);
    agent_cgroup_release(&cg_fd, cg_serial);
    free_strv(req.argv);
    free_strv(req.envp);
}

static void AGENT_NORETURN run_worker(agent_worker_fn fn, void *arg, int in_fd, int out_fd,
                                      int err_fd)
{
    if (child_setup(in_fd, out_fd, err_fd) < 0)
        _exit(125);
    /* Nothing of the agent's (the host link, other channels) stays open. */
    if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0)
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
    _exit(fn(arg));
}

void agent_exec_start_worker(struct agent_exec_state *st, struct agent_link *link, uint32_t channel,
                             bool want_stdin, agent_worker_fn fn, void *arg)
{
    int out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 }, in_p[2] = { -1, -1 };
    char err[128];

    if (agent_exec_find(st, channel)) {
        snprintf(err, sizeof err, "channel %u is busy", channel);
        agent_link_queue_error(link, channel, "InvalidArgument", err);
        return;
    }
    tomb_remove(st, channel);
    pid_t pid = -1;
    if (pipe2(out_p, O_CLOEXEC) < 0 || pipe2(err_p, O_CLOEXEC) < 0 ||
        (want_stdin && pipe2(in_p, O_CLOEXEC) < 0) || (pid = fork()) < 0) {
        snprintf(err, sizeof err, "cannot start the copy: %s", strerror(errno));
        agent_link_queue_error(link, channel, "Failed", err);
    } else if (pid == 0) {
        run_worker(fn, arg, in_p[0], out_p[1], err_p[1]);
    } else {
        close_fd(&out_p[1]);
        close_fd(&err_p[1]);
        close_fd(&in_p[0]);
        chan_add(st, link, channel, pid, out_p, err_p, in_p)->worker = true;
    }
    close_pipe(out_p);
    close_pipe(err_p);
    close_pipe(in_p);
}

void agent_exec_signal(struct agent_exec_state *st, struct agent_link *link, uint32_t channel,
                       const struct agent_json *args)
{
    struct agent_chan *ch = agent_exec_find(st, channel);
    const struct agent_json *sig = agent_json_get(args, "signal");
    char err[128];

    if (!ch) {
        snprintf(err, sizeof err, "no process runs on channel %u", channel);
        agent_link_queue_error(link, channel, "InvalidArgument", err);
        return;
    }
    if (!sig || sig->type != AGENT_JSON_INT || sig->integer < 1 || sig->integer >= NSIG) {
        agent_link_queue_error(link, channel, "InvalidArgument",
                               "signal: not a valid signal number");
        return;
    }
    if (!ch->reaped && kill(ch->pid, (int)sig->integer) < 0 && errno != ESRCH) {
        snprintf(err, sizeof err, "kill: %s", strerror(errno));
        agent_link_queue_error(link, channel, "Failed", err);
        return;
    }
    static const struct agent_buf empty = { .data = (char *)"{\"return\":{}}", .len = 13 };
    agent_link_queue_json(link, channel, &empty);
}

void agent_exec_resize(struct agent_exec_state *st, struct agent_link *link, uint32_t channel,
                       const struct agent_json *args)
{
    struct agent_chan *ch = agent_exec_find(st, channel);
    struct agent_tty_size size;
    char err[160];

    if (!ch) {
        snprintf(err, sizeof err, "no process runs on channel %u", channel);
        agent_link_queue_error(link, channel, "InvalidArgument", err);
        return;
    }
    if (ch->tty_fd < 0) {
        agent_link_queue_error(link, channel, "InvalidArgument",
                               "resize: the command has no terminal");
        return;
    }
    if (agent_tty_parse_size(args, &size, err, sizeof err, "resize") < 0) {
        agent_link_queue_error(link, channel, "InvalidArgument", err);
        return;
    }
    int r = agent_tty_set_size(ch->tty_fd, &size);
    if (r < 0) {
        snprintf(err, sizeof err, "resize: %s", strerror(-r));
        agent_link_queue_error(link, channel, "Failed", err);
        return;
    }
    static const struct agent_buf empty = { .data = (char *)"{\"return\":{}}", .len = 13 };
    agent_link_queue_json(link, channel, &empty);
}

static void grant_stdin(struct agent_link *link, struct agent_chan *ch, size_t n)
{
    uint8_t p[4];
    if (!n)
        return;
    ch->in_window += n;
    bl_proto_put_u32(p, (uint32_t)n);
    agent_link_queue(link, ch->id, BL_FRAME_CREDIT, p, 4);
}

static void close_stdin(struct agent_link *link, struct agent_chan *ch)
{
    close_fd(&ch->in_fd);
    grant_stdin(link, ch, ch->in_len); /* dropped bytes are handed back */
    ch->in_len = 0;
    free(ch->in_buf);
    ch->in_buf = NULL;
}

int agent_exec_stdin(struct agent_exec_state *st, struct agent_link *link, struct agent_chan *ch,
                     const uint8_t *data, size_t len)
{
    (void)st;
    if (len == 0) {
        int eof_char =
            ch->tty_fd >= 0 && ch->in_fd >= 0 && !ch->in_eof ? agent_tty_eof_char(ch->tty_fd) : -1;
        if (eof_char >= 0) {
            if (!ch->in_buf)
                ch->in_buf = malloc(BL_PROTO_INITIAL_CREDIT + 1);
            if (!ch->in_buf)
                abort();
            ch->in_buf[ch->in_len++] = (uint8_t)eof_char; /* the +1 of the buffer */
        }
        ch->in_eof = true;
        if (!ch->in_len)
            close_fd(&ch->in_fd);
        return 0;
    }
    if (len > ch->in_window) {
        agent_log("protocol error: channel %u sent %zu stdin bytes beyond its credit", ch->id, len);
        return -1;
    }
    ch->in_window -= len;
    if (ch->in_fd < 0) {
        grant_stdin(link, ch, len); /* nobody reads: drop */
        return 0;
    }
    if (!ch->in_buf) {
        ch->in_buf = malloc(BL_PROTO_INITIAL_CREDIT + 1);
        if (!ch->in_buf)
            abort();
    }
    memcpy(ch->in_buf + ch->in_len, data, len);
    ch->in_len += len;
    return 0;
}

int agent_exec_credit(struct agent_chan *ch, uint32_t n)
{
    ch->credit += n;
    if (ch->credit > CREDIT_CEILING)
        ch->credit = CREDIT_CEILING;
    return 0;
}

bool agent_exec_reaped(struct agent_exec_state *st, pid_t pid, int status)
{
    for (struct agent_chan *ch = st->chans; ch; ch = ch->next) {
        if (ch->pid == pid && !ch->reaped) {
            ch->reaped = true;
            ch->status = status;
            if (ch->tty_fd >= 0)
                ch->drain_deadline_ms = agent_now_ms() + AGENT_TTY_DRAIN_MS;
            return true;
        }
    }
    return false;
}

size_t agent_exec_poll_count(const struct agent_exec_state *st)
{
    size_t n = 0;
    for (const struct agent_chan *ch = st->chans; ch; ch = ch->next)
        n += 3;
    return n;
}

size_t agent_exec_fill_poll(struct agent_exec_state *st, struct pollfd *fds, size_t max,
                            bool allow_output)
{
    size_t n = 0;
    for (struct agent_chan *ch = st->chans; ch; ch = ch->next) {
        ch->pi_out = ch->pi_err = ch->pi_in = -1;
        if (allow_output && ch->credit > 0) {
            if (ch->out_fd >= 0 && n < max) {
                ch->pi_out = (int)n;
                fds[n++] = (struct pollfd){ .fd = ch->out_fd, .events = POLLIN };
            }
            if (ch->err_fd >= 0 && n < max) {
                ch->pi_err = (int)n;
                fds[n++] = (struct pollfd){ .fd = ch->err_fd, .events = POLLIN };
            }
        }
        if (ch->in_fd >= 0 && ch->in_len > 0 && n < max) {
            ch->pi_in = (int)n;
            fds[n++] = (struct pollfd){ .fd = ch->in_fd, .events = POLLOUT };
        }
    }
    return n;
}

/* Keeps the start of a worker's error report; the rest is read and dropped. */
static void read_report(struct agent_chan *ch)
{
    char buf[512];
    for (;;) {
        ssize_t n = read(ch->err_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            close_fd(&ch->err_fd);
            return;
        }
        size_t room = sizeof ch->report - 1 - ch->report_len;
        size_t take = (size_t)n < room ? (size_t)n : room;
        memcpy(ch->report + ch->report_len, buf, take);
        ch->report_len += take;
    }
}

/* Forwards what the pipe or terminal holds, within the channel's credit.
 * Returns true when it found nothing more to read for now. A terminal's
 * master reads EIO once no process has the slave open: its end. */
static bool pump_output(struct agent_link *link, struct agent_chan *ch, int *fd, uint8_t type)
{
    if (ch->worker && type == BL_FRAME_STDERR) {
        read_report(ch);
        return ch->err_fd >= 0;
    }

    while (*fd >= 0 && ch->credit > 0 && agent_link_pending(link) < AGENT_OUTQ_HIGH) {
        size_t want = ch->credit < BL_PROTO_MAX_PAYLOAD ? (size_t)ch->credit : BL_PROTO_MAX_PAYLOAD;
        if (ch->tty_fd < 0) {
            ssize_t moved = agent_splice_output(link, *fd, ch->id, type, want);
            if (moved < 0)
                return false;
            if (moved > 0) {
                ch->credit -= (uint64_t)moved;
                continue;
            }
        }
        /* Otherwise (a terminal, a little output, a frame still staged)
         * straight into the link's queue: one copy fewer than through a
         * buffer of our own, and under TCG the vCPU bounds the stream. */
        uint8_t *buf = agent_link_reserve(link, want);
        if (!buf)
            return false;
        ssize_t n = read(*fd, buf, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            close_fd(fd);
            return false;
        }
        if (n == 0) {
            close_fd(fd);
            return false;
        }
        agent_link_commit(link, ch->id, type, (size_t)n);
        ch->credit -= (uint64_t)n;
        if ((size_t)n < want)
            return false;
    }
    return false;
}

/* The command exited a while ago and left its terminal open in other
 * processes: what is there now is the last of its output. */
static void drain_tty(struct agent_link *link, struct agent_chan *ch, int64_t now_ms)
{
    if (ch->tty_fd < 0 || !ch->reaped || now_ms < ch->drain_deadline_ms)
        return;
    while (ch->out_fd >= 0 && ch->credit > 0 && agent_link_pending(link) < AGENT_OUTQ_HIGH) {
        if (pump_output(link, ch, &ch->out_fd, BL_FRAME_STDOUT))
            close_fd(&ch->out_fd);
    }
}

static void pump_input(struct agent_link *link, struct agent_chan *ch)
{
    while (ch->in_fd >= 0 && ch->in_len > 0) {
        ssize_t n = write(ch->in_fd, ch->in_buf, ch->in_len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            close_stdin(link, ch); /* EPIPE: the child closed its stdin */
            return;
        }
        memmove(ch->in_buf, ch->in_buf + n, ch->in_len - (size_t)n);
        ch->in_len -= (size_t)n;
        grant_stdin(link, ch, (size_t)n);
    }
    if (ch->in_len == 0 && ch->in_eof)
        close_fd(&ch->in_fd);
}

static void free_chan(struct agent_chan *ch)
{
    close_fd(&ch->out_fd);
    close_fd(&ch->err_fd);
    close_fd(&ch->in_fd);
    close_fd(&ch->tty_fd);
    free(ch->in_buf);
    agent_cgroup_release(&ch->cg_fd, ch->cg_serial);
    free(ch);
}

/* ,"error":{"class":C,"desc":D} from the worker's "C\tD" report. */
static void add_worker_error(struct agent_buf *b, const struct agent_chan *ch)
{
    char report[sizeof ch->report];
    const char *klass = "Failed";
    const char *desc = report;

    memcpy(report, ch->report, ch->report_len);
    report[ch->report_len] = '\0';
    report[strcspn(report, "\n")] = '\0';
    char *tab = strchr(report, '\t');
    if (tab) {
        *tab = '\0';
        klass = report;
        desc = tab + 1;
    }
    if (!*desc || !*klass) {
        klass = "Failed";
        desc = "the copy ended without saying why";
    }
    agent_buf_add_str(b, ",\"error\":{\"class\":");
    agent_buf_add_json_str(b, klass);
    agent_buf_add_str(b, ",\"desc\":");
    agent_buf_add_json_str(b, desc);
    agent_buf_add_str(b, "}");
}

static void finish(struct agent_link *link, struct agent_chan *ch)
{
    struct agent_buf b = { 0 };

    agent_link_queue(link, ch->id, BL_FRAME_STDOUT, NULL, 0);
    agent_link_queue(link, ch->id, BL_FRAME_STDERR, NULL, 0);
    agent_buf_add_str(&b, "{\"event\":\"exit\",\"data\":{");
    if (WIFSIGNALED(ch->status))
        agent_buf_addf(&b, "\"signal\":%d", WTERMSIG(ch->status));
    else
        agent_buf_addf(&b, "\"code\":%d", WEXITSTATUS(ch->status));
    if (ch->timed_out)
        agent_buf_add_str(&b, ",\"timed_out\":true");
    if (agent_cgroup_oom_killed(ch->cg_fd))
        agent_buf_add_str(&b, ",\"oom_killed\":true");
    if (ch->worker && !(WIFEXITED(ch->status) && WEXITSTATUS(ch->status) == 0))
        add_worker_error(&b, ch);
    agent_buf_add_str(&b, "}}");
    agent_link_queue_json(link, ch->id, &b);
    agent_buf_free(&b);
}

void agent_exec_dispatch(struct agent_exec_state *st, struct agent_link *link, struct pollfd *fds,
                         size_t n, int64_t now_ms)
{
    for (struct agent_chan *ch = st->chans; ch; ch = ch->next) {
        if (ch->pi_in >= 0 && (size_t)ch->pi_in < n && fds[ch->pi_in].revents) {
            if (fds[ch->pi_in].revents & (POLLERR | POLLHUP | POLLNVAL))
                close_stdin(link, ch);
            else
                pump_input(link, ch);
        } else if (ch->in_eof && ch->in_len == 0) {
            close_fd(&ch->in_fd);
        }
        if (ch->pi_out >= 0 && (size_t)ch->pi_out < n && fds[ch->pi_out].revents)
            pump_output(link, ch, &ch->out_fd, BL_FRAME_STDOUT);
        if (ch->pi_err >= 0 && (size_t)ch->pi_err < n && fds[ch->pi_err].revents)
            pump_output(link, ch, &ch->err_fd, BL_FRAME_STDERR);
        drain_tty(link, ch, now_ms);
        ch->pi_out = ch->pi_err = ch->pi_in = -1;
        if (ch->deadline_ms && now_ms >= ch->deadline_ms && !ch->reaped) {
            kill(-ch->pid, SIGKILL);
            agent_cgroup_kill(ch->cg_fd);
            ch->timed_out = true;
            ch->deadline_ms = 0;
        }
    }
    for (struct agent_chan **pp = &st->chans; *pp;) {
        struct agent_chan *ch = *pp;
        if (ch->reaped && ch->out_fd < 0 && ch->err_fd < 0) {
            finish(link, ch);
            *pp = ch->next;
            tomb_add(st, ch->id);
            free_chan(ch);
        } else {
            pp = &ch->next;
        }
    }
}

int agent_exec_next_timeout(const struct agent_exec_state *st, int64_t now_ms)
{
    int64_t best = -1;
    for (const struct agent_chan *ch = st->chans; ch; ch = ch->next) {
        int64_t at = ch->reaped ? 0 : ch->deadline_ms;
        if (ch->reaped && ch->tty_fd >= 0 && ch->out_fd >= 0 && ch->credit > 0)
            at = ch->drain_deadline_ms;
        if (!at)
            continue;
        int64_t left = at - now_ms;
        if (left < 0)
            left = 0;
        if (best < 0 || left < best)
            best = left;
    }
    if (best > 60000)
        best = 60000;
    return (int)best;
}

void agent_exec_kill_all(struct agent_exec_state *st)
{
    while (st->chans) {
        struct agent_chan *ch = st->chans;
        st->chans = ch->next;
        if (!ch->reaped)
            kill(-ch->pid, SIGKILL);
        agent_cgroup_kill(ch->cg_fd);
        free_chan(ch);
    }
    st->n_tombs = 0;
    st->tomb_next = 0;
}

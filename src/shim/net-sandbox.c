/* net-sandbox.c: the network process's user, privileges and seccomp filter.
 *
 * The process parses what the guest sends (frames, DNS, TLS, HTTP) with
 * libslirp and the filter: a memory-safety bug there must land in a
 * process that owns nothing, can gain nothing and can make only the system
 * calls a user-space network needs. The list below was taken from what the
 * process calls while the network suite runs, grouped by purpose.
 */
#define G_LOG_DOMAIN "boxlite-net"

#include "net-sandbox.h"

#include <errno.h>
#include <gio/gio.h>
#include <grp.h>
#include <linux/netlink.h>
#include <sched.h>
#include <pwd.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

gboolean
bl_net_sandbox_user (uid_t *uid, gid_t *gid, char **name, GError **error)
{
    static const char *const candidates[] = { "boxlite-net", "nobody" };

    for (guint i = 0; i < G_N_ELEMENTS (candidates); i++) {
        struct passwd *pw = getpwnam (candidates[i]);
        if (pw && pw->pw_uid != 0 && pw->pw_gid != 0) {
            *uid = pw->pw_uid;
            *gid = pw->pw_gid;
            *name = g_strdup (candidates[i]);
            return TRUE;
        }
    }
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "no unprivileged user (boxlite-net or nobody) for the network to run as");
    return FALSE;
}

gboolean
bl_net_sandbox_drop_user (uid_t uid, gid_t gid, GError **error)
{
    if (setgroups (0, NULL) < 0 || setresgid (gid, gid, gid) < 0 || setresuid (uid, uid, uid) < 0) {
        int saved = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot drop to uid %u: %s",
                     (guint) uid, g_strerror (saved));
        return FALSE;
    }
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    if (getresuid (&ruid, &euid, &suid) < 0 || getresgid (&rgid, &egid, &sgid) < 0 || ruid != uid ||
        euid != uid || suid != uid || rgid != gid || egid != gid || sgid != gid ||
        getgroups (0, NULL) != 0 || setuid (0) == 0 || setgid (0) == 0) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                     "dropping to uid %u did not stick", (guint) uid);
        return FALSE;
    }
    return TRUE;
}

/* System calls allowed whatever their arguments. */
static const int allowed[] = {
    /* memory: malloc, thread stacks, the NSS modules a name lookup loads */
    SCMP_SYS (brk),
    SCMP_SYS (mmap),
    SCMP_SYS (munmap),
    SCMP_SYS (mremap),
    SCMP_SYS (mprotect),
    SCMP_SYS (madvise),
    /* threads (GLib's worker, GResolver's pool which comes and goes), but
     * clone() only with the limits below */
    SCMP_SYS (futex),
    SCMP_SYS (set_robust_list),
    SCMP_SYS (rseq),
    SCMP_SYS (sched_yield),
    SCMP_SYS (sched_getaffinity),
    SCMP_SYS (sched_getattr), /* a new pool thread takes its creator's */
    SCMP_SYS (sched_setattr), /* scheduling (no privilege to raise it) */
    SCMP_SYS (gettid),
    SCMP_SYS (getpid),
    SCMP_SYS (exit),
    SCMP_SYS (exit_group),
    /* the main loop and its wake-ups */
    SCMP_SYS (poll),
    SCMP_SYS (ppoll),
    SCMP_SYS (eventfd2),
    SCMP_SYS (pipe2),
    /* files: the record in net/ (appended, rotated by rename, the counts
     * replaced through a temporary file and fsync), what a name lookup
     * reads (/etc/hosts, resolv.conf, nsswitch.conf, NSS modules, time
     * zone, gconv). The user can write nowhere else that matters. */
    SCMP_SYS (read),
    SCMP_SYS (write),
    SCMP_SYS (pread64),
    SCMP_SYS (close),
    SCMP_SYS (fcntl),
    SCMP_SYS (lseek),
    SCMP_SYS (openat),
    SCMP_SYS (newfstatat),
    SCMP_SYS (fallocate),
    SCMP_SYS (fsync),
    SCMP_SYS (rename),
    SCMP_SYS (unlink),
    /* sockets: the guest's flows (libslirp connects, and accepts on the
     * port forwards' ports), DNS lookups, the DNS-over-TCP hop through
     * net/dns.sock; socket() itself is limited below */
    SCMP_SYS (connect),
    SCMP_SYS (accept),
    SCMP_SYS (accept4),
    SCMP_SYS (bind),
    SCMP_SYS (shutdown),
    SCMP_SYS (getsockname),
    SCMP_SYS (getpeername),
    SCMP_SYS (getsockopt),
    SCMP_SYS (setsockopt),
    SCMP_SYS (sendto),
    SCMP_SYS (recvfrom),
    SCMP_SYS (sendmsg),
    SCMP_SYS (recvmsg),
    SCMP_SYS (sendmmsg),
    /* time, where the vDSO does not answer */
    SCMP_SYS (clock_gettime),
    SCMP_SYS (clock_nanosleep),
    SCMP_SYS (nanosleep),
    /* signals: SIGTERM ends the process cleanly */
    SCMP_SYS (rt_sigaction),
    SCMP_SYS (rt_sigprocmask),
    SCMP_SYS (rt_sigreturn),
    SCMP_SYS (restart_syscall),
    /* the sanitizer runtimes give each thread an alternate signal stack */
    SCMP_SYS (sigaltstack),
    /* hash seeds; who and where we are (GLib, getaddrinfo) */
    SCMP_SYS (getrandom),
    SCMP_SYS (uname),
    SCMP_SYS (getuid),
    SCMP_SYS (geteuid),
    SCMP_SYS (getgid),
    SCMP_SYS (getegid),
};

/* The address families the network uses (netlink: getaddrinfo asks the
 * routing tables which address families the host has); raw and packet
 * sockets and the rest of the kernel's families are out. */
static const int families[] = { AF_UNIX, AF_INET, AF_INET6 };

/* clone() flags that would make a namespace: never. */
#define NAMESPACE_FLAGS                                                                            \
    (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |  \
     CLONE_NEWNET)

static gboolean
seccomp_fail (GError **error, int rc, const char *what)
{
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot install the seccomp filter: %s: %s",
                 what, g_strerror (-rc));
    return FALSE;
}

gboolean
bl_net_sandbox_seal (GError **error)
{
    if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        int saved = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                     "cannot give up privileges: %s", g_strerror (saved));
        return FALSE;
    }
    scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_KILL_PROCESS);
    if (!ctx)
        return seccomp_fail (error, -ENOMEM, "init");
    /* A binary search over the system call numbers, not a list walked on
     * every call: the network makes several calls per frame. */
    int rc = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    for (guint i = 0; i < G_N_ELEMENTS (allowed) && rc == 0; i++)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, allowed[i], 0);
    for (guint i = 0; i < G_N_ELEMENTS (families) && rc == 0; i++)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (socket), 1,
                               SCMP_A0 (SCMP_CMP_EQ, (scmp_datum_t) families[i]));
    if (rc == 0)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (socket), 2,
                               SCMP_A0 (SCMP_CMP_EQ, AF_NETLINK),
                               SCMP_A2 (SCMP_CMP_EQ, NETLINK_ROUTE));
    /* New threads only: no new process, no namespace. clone3 passes its
     * flags in memory the filter cannot read, so it is refused with ENOSYS
     * and the C library falls back to clone. */
    if (rc == 0)
        rc = seccomp_rule_add (
            ctx, SCMP_ACT_ALLOW, SCMP_SYS (clone), 1,
            SCMP_A0 (SCMP_CMP_MASKED_EQ, CLONE_THREAD | NAMESPACE_FLAGS, CLONE_THREAD));
    if (rc == 0)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (ENOSYS), SCMP_SYS (clone3), 0);
    /* GLib names its threads; nothing else of prctl. */
    if (rc == 0)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (prctl), 1,
                               SCMP_A0 (SCMP_CMP_EQ, PR_SET_NAME));
    /* libslirp asks how much a UDP socket holds, GLib's logging whether
     * stderr is a terminal; nothing else of ioctl. */
    if (rc == 0)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (ioctl), 1,
                               SCMP_A1 (SCMP_CMP_EQ, FIONREAD));
    if (rc == 0)
        rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (ioctl), 1,
                               SCMP_A1 (SCMP_CMP_EQ, TCGETS));
    if (rc < 0) {
        seccomp_release (ctx);
        return seccomp_fail (error, rc, "rule");
    }
    rc = seccomp_load (ctx);
    seccomp_release (ctx);
    if (rc < 0)
        return seccomp_fail (error, rc, "load");
    return TRUE;
}

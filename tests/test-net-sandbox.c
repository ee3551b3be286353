/* test-net-sandbox.c: the network process's sandbox (src/shim/net-sandbox.c)
 * in forked children: what a user-space network needs still works under
 * the seccomp filter, and every escape route the filter closes kills the
 * process with SIGSYS. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <linux/netlink.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net-sandbox.h"

/* Runs @body in a child that sealed itself first; returns its wait status. */
static int
run_sealed (int (*body) (gpointer), gpointer data)
{
    pid_t pid = fork ();
    g_assert_cmpint (pid, >=, 0);
    if (pid == 0) {
        GError *error = NULL;
        if (!bl_net_sandbox_seal (&error)) {
            fprintf (stderr, "seal: %s\n", error->message);
            _exit (100);
        }
        _exit (body (data));
    }
    int status = 0;
    while (waitpid (pid, &status, 0) < 0)
        g_assert_cmpint (errno, ==, EINTR);
    return status;
}

static gpointer
thread_body (gpointer data)
{
    return GINT_TO_POINTER (42);
}

static char *
status_line (const char *key)
{
    g_autofree char *text = NULL;
    if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL))
        return NULL;
    g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
    for (guint i = 0; lines[i]; i++)
        if (g_str_has_prefix (lines[i], key) && lines[i][strlen (key)] == ':')
            return g_strstrip (g_strdup (lines[i] + strlen (key) + 1));
    return NULL;
}

/* Each step returns its own exit code when it fails. */
static int
network_work (gpointer data)
{
    const char *dir = data;
    int families[] = { AF_INET, AF_INET6, AF_UNIX };
    for (guint i = 0; i < G_N_ELEMENTS (families); i++) {
        int fd = socket (families[i], SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return 10 + (int) i;
        close (fd);
    }
    int nl = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (nl < 0)
        return 20;
    close (nl);
    /* The record: appended, rotated, the counts replaced. */
    g_autofree char *path = g_build_filename (dir, "netlog.jsonl", NULL);
    g_autofree char *older = g_build_filename (dir, "netlog.jsonl.1", NULL);
    g_autofree char *counts = g_build_filename (dir, "netcounts.json", NULL);
    int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || write (fd, "{}\n", 3) != 3)
        return 30;
    close (fd);
    if (rename (path, older) < 0)
        return 31;
    if (!g_file_set_contents_full (counts, "{}", -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL))
        return 32;
    /* Threads (clone3 refused, clone for a thread allowed). */
    GThread *thread = g_thread_new ("t", thread_body, NULL);
    if (GPOINTER_TO_INT (g_thread_join (thread)) != 42)
        return 40;
    errno = 0;
    if (syscall (SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
        return 41;
    g_autofree char *seccomp = status_line ("Seccomp");
    g_autofree char *nnp = status_line ("NoNewPrivs");
    if (g_strcmp0 (seccomp, "2") != 0)
        return 50;
    if (g_strcmp0 (nnp, "1") != 0)
        return 51;
    return 0;
}

static void
test_allows_network_work (void)
{
    g_autofree char *dir = g_dir_make_tmp ("net-sandbox-XXXXXX", NULL);
    g_assert_nonnull (dir);

    int status = run_sealed (network_work, dir);
    g_test_message ("wait status %#x", (guint) status);
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 0);

    g_autofree char *older = g_build_filename (dir, "netlog.jsonl.1", NULL);
    g_autofree char *counts = g_build_filename (dir, "netcounts.json", NULL);
    g_assert_true (g_file_test (older, G_FILE_TEST_IS_REGULAR));
    g_assert_true (g_file_test (counts, G_FILE_TEST_IS_REGULAR));
    g_unlink (older);
    g_unlink (counts);
    g_rmdir (dir);
}

/* System calls a compromised network process would use to get out. */
typedef struct {
    const char *name;
    long nr;
    long args[3];
} Escape;

static const Escape escapes[] = {
    { "execve", SYS_execve, { 0, 0, 0 } },
    { "execveat", SYS_execveat, { AT_FDCWD, 0, 0 } },
    { "fork", SYS_fork, { 0, 0, 0 } },
    { "clone-process", SYS_clone, { SIGCHLD, 0, 0 } },
    { "clone-newuser", SYS_clone, { CLONE_THREAD | CLONE_NEWUSER, 0, 0 } },
    { "unshare", SYS_unshare, { CLONE_NEWUSER, 0, 0 } },
    { "setns", SYS_setns, { 0, 0, 0 } },
    { "ptrace", SYS_ptrace, { 0, 0, 0 } },
    { "process_vm_readv", SYS_process_vm_readv, { 1, 0, 0 } },
    { "mount", SYS_mount, { 0, 0, 0 } },
    { "setuid", SYS_setuid, { 0, 0, 0 } },
    { "setresuid", SYS_setresuid, { 0, 0, 0 } },
    { "setgroups", SYS_setgroups, { 0, 0, 0 } },
    { "bpf", SYS_bpf, { 0, 0, 0 } },
    { "init_module", SYS_init_module, { 0, 0, 0 } },
    { "kexec_load", SYS_kexec_load, { 0, 0, 0 } },
    { "keyctl", SYS_keyctl, { 0, 0, 0 } },
    { "chmod", SYS_chmod, { 0, 0, 0 } },
    { "kill", SYS_kill, { 1, 0, 0 } },
    { "socket-packet", SYS_socket, { AF_PACKET, SOCK_RAW, 0 } },
    { "socket-netlink-audit", SYS_socket, { AF_NETLINK, SOCK_RAW, NETLINK_AUDIT } },
    { "prctl-no-new-privs-query", SYS_prctl, { PR_GET_NO_NEW_PRIVS, 0, 0 } },
    { "ioctl-tiocsti", SYS_ioctl, { 0, TIOCSTI, 0 } },
};

static int
escape_body (gpointer data)
{
    const Escape *e = data;
    syscall (e->nr, e->args[0], e->args[1], e->args[2]);
    return 0; /* not killed: the test fails */
}

static void
test_kills_escape (gconstpointer data)
{
    const Escape *e = data;
    int status = run_sealed (escape_body, (gpointer) e);
    g_test_message ("%s: wait status %#x", e->name, (guint) status);
    g_assert_true (WIFSIGNALED (status));
    g_assert_cmpint (WTERMSIG (status), ==, SIGSYS);
}

/* As root: the drop to the network's user sticks, with no groups left. */
static void
test_drop_user (void)
{
    if (geteuid () != 0) {
        g_test_skip ("needs root");
        return;
    }
    pid_t pid = fork ();
    g_assert_cmpint (pid, >=, 0);
    if (pid == 0) {
        uid_t uid;
        gid_t gid;
        g_autofree char *name = NULL;
        if (!bl_net_sandbox_user (&uid, &gid, &name, NULL))
            _exit (10);
        if (!bl_net_sandbox_drop_user (uid, gid, NULL))
            _exit (11);
        if (getuid () != uid || geteuid () != uid || getgid () != gid || getegid () != gid)
            _exit (12);
        if (getgroups (0, NULL) != 0)
            _exit (13);
        if (setuid (0) == 0 || seteuid (0) == 0)
            _exit (14);
        _exit (0);
    }
    int status = 0;
    while (waitpid (pid, &status, 0) < 0)
        g_assert_cmpint (errno, ==, EINTR);
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/net-sandbox/allows-network-work", test_allows_network_work);
    for (guint i = 0; i < G_N_ELEMENTS (escapes); i++) {
        g_autofree char *path = g_strdup_printf ("/net-sandbox/kills/%s", escapes[i].name);
        g_test_add_data_func (path, &escapes[i], test_kills_escape);
    }
    g_test_add_func ("/net-sandbox/drop-user", test_drop_user);
    return g_test_run ();
}

/* shim-net.c: the box's network process (boxlite-net, net-main.c) as the
 * monitor's child: started before QEMU, watched like QEMU, ended with the
 * monitor. */
#define G_LOG_DOMAIN "boxlite-shim"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim.h"

#include "os-error.h"
#include "paths.h"

/* How long the network process gets to listen and drop its privileges. */
#define NET_READY_TIMEOUT_MS 10000
/* How long it gets to write its last counts when asked to end. */
#define NET_TERM_GRACE_MS 1000
/* Longest "ok" or "error: ..." line it sends. */
#define NET_READY_MAX 1024

/* Runs in the child between fork and exec. */
static void
net_child_setup (gpointer user_data)
{
    pid_t monitor = GPOINTER_TO_INT (user_data);

    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != monitor)
        raise (SIGKILL);
}

static char *
describe_exit (int status)
{
    if (WIFSIGNALED (status))
        return g_strdup_printf ("the network process died: killed by signal %d", WTERMSIG (status));
    return g_strdup_printf ("the network process died: it exited with status %d",
                            WIFEXITED (status) ? WEXITSTATUS (status) : status);
}

static void
on_net_exit (GPid pid, gint wait_status, gpointer user_data)
{
    Shim *shim = user_data;

    shim->net_watch = 0;
    shim->net_running = FALSE;
    g_spawn_close_pid (pid);
    if (shim->finished)
        return;
    g_autofree char *why = describe_exit (wait_status);
    g_warning ("%s", why);
    /* Without its network the box is broken: end it as if QEMU died. */
    if (!shim->crash_reason)
        shim->crash_reason = g_strdup (why);
    if (!shim->booted)
        shim_boot_failed (shim, why);
    else if (shim->qemu_running)
        shim_qemu_kill (shim); /* QEMU's child watch finishes */
    else
        shim_finish (shim);
}

/* Reads the one line the network process sends once it is ready (or why
 * it cannot be); FALSE with @error unless it is "ok". */
static gboolean
wait_ready (int fd, GError **error)
{
    char line[NET_READY_MAX + 1];
    gsize len = 0;
    gint64 deadline = g_get_monotonic_time () + NET_READY_TIMEOUT_MS * (gint64) 1000;

    while (len < NET_READY_MAX && !memchr (line, '\n', len)) {
        gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (left_ms <= 0) {
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                         "the network process did not start within %d s",
                         NET_READY_TIMEOUT_MS / 1000);
            return FALSE;
        }
        int r = poll (&pfd, 1, (int) left_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        ssize_t n = read (fd, line + len, NET_READY_MAX - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (gsize) n;
    }
    line[len] = '\0';
    char *end = strchr (line, '\n');
    if (end)
        *end = '\0';
    if (g_str_equal (line, "ok"))
        return TRUE;
    if (g_str_has_prefix (line, "error: "))
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", line + strlen ("error: "));
    else
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                     "the network process ended before it was ready");
    return FALSE;
}

gboolean
shim_net_start (Shim *shim, GError **error)
{
    if (shim->launch->network != BOXLITE_NETWORK_ENABLED)
        return TRUE;
    g_autofree char *path = bl_path_net (error);
    if (!path)
        return FALSE;
    int fds[2];
    if (pipe2 (fds, O_CLOEXEC) < 0)
        return bl_os_error (error, errno, "pipe", "the network process's ready pipe");
    int null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    const char *const argv[] = { path, "--box-dir", shim->box_dir, "--ready-fd", "3", NULL };
    const int source_fds[] = { fds[1] };
    const int target_fds[] = { 3 };
    /* stdout and stderr are the monitor's: shim.log. */
    gboolean ok = null_fd >= 0 && g_spawn_async_with_pipes_and_fds (
                                      NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, net_child_setup,
                                      GINT_TO_POINTER (getpid ()), null_fd, -1, -1, source_fds,
                                      target_fds, 1, &shim->net_pid, NULL, NULL, NULL, error);
    if (null_fd < 0)
        bl_os_error (error, errno, "open", "/dev/null");
    else
        close (null_fd);
    close (fds[1]);
    if (!ok) {
        close (fds[0]);
        g_prefix_error (error, "cannot start the network process: ");
        return FALSE;
    }
    shim->net_running = TRUE;
    shim->net_watch = g_child_watch_add (shim->net_pid, on_net_exit, shim);
    ok = wait_ready (fds[0], error);
    close (fds[0]);
    if (!ok) {
        g_prefix_error (error, "the box's network: ");
        return FALSE;
    }
    g_message ("network process %d is ready", (int) shim->net_pid);
    return TRUE;
}

void
shim_net_stop (Shim *shim)
{
    int status = 0;

    if (!shim->net_running)
        return;
    g_clear_handle_id (&shim->net_watch, g_source_remove);
    shim->net_running = FALSE;
    /* SIGTERM first: it writes the record's last counts on its way out. */
    if (kill (shim->net_pid, SIGTERM) < 0 && errno != ESRCH)
        g_warning ("cannot stop the network process (pid %d): %s", (int) shim->net_pid,
                   g_strerror (errno));
    gint64 deadline = g_get_monotonic_time () + NET_TERM_GRACE_MS * (gint64) 1000;
    for (;;) {
        pid_t r = waitpid (shim->net_pid, &status, WNOHANG);
        if (r == shim->net_pid || (r < 0 && errno != EINTR))
            return;
        if (g_get_monotonic_time () >= deadline)
            break;
        g_usleep (5000);
    }
    g_message ("the network process did not end within %d ms; killing it", NET_TERM_GRACE_MS);
    kill (shim->net_pid, SIGKILL);
    while (waitpid (shim->net_pid, &status, 0) < 0 && errno == EINTR)
        ;
}

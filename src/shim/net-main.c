/* net-main.c: boxlite-net, the box network's own process.
 *
 * The monitor starts it before QEMU. It reads BOXDIR/launch.json, creates
 * everything that needs the caller's privileges (BOXDIR/net.sock where
 * QEMU connects, the port forwards' host ports, BOXDIR/net/ with the
 * record and net/dns.sock), gives those privileges up for good
 * (net-sandbox.h), says "ok" on the ready fd and runs libslirp and the
 * filter until SIGTERM. After the drop it works inside BOXDIR/net/ only
 * (its current directory), which it owns: the box directory itself stays
 * closed to it.
 */
#define G_LOG_DOMAIN "boxlite-net"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "launch.h"
#include "net-sandbox.h"
#include "netspec.h"
#include "os-error.h"

typedef struct {
    char *box_dir;
    int ready_fd;
    pid_t monitor;
    gboolean root;
    uid_t uid;
    gid_t gid;
    char *user;
} NetProc;

static void
ready_write (NetProc *np, const char *line)
{
    gsize len = strlen (line);

    while (np->ready_fd >= 0 && len > 0) {
        ssize_t n = write (np->ready_fd, line, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        line += n;
        len -= (gsize) n;
    }
    if (np->ready_fd >= 0)
        close (np->ready_fd);
    np->ready_fd = -1;
}

/* Makes BOXDIR/net/, owned by the user the process drops to, and moves
 * there: after the drop the process reaches its files through its
 * current directory, never through the box directory. */
static gboolean
enter_net_dir (NetProc *np, GError **error)
{
    g_autofree char *path = g_build_filename (np->box_dir, "net", NULL);

    if (mkdir (path, 0700) < 0 && errno != EEXIST)
        return bl_os_error (error, errno, "mkdir", path);
    int fd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return bl_os_error (error, errno, "open", path);
    if ((np->root && fchown (fd, np->uid, np->gid) < 0) || fchmod (fd, 0700) < 0 ||
        fchdir (fd) < 0) {
        int saved = errno;
        close (fd);
        return bl_os_error (error, saved, "set up", path);
    }
    close (fd);
    return TRUE;
}

/* What needs privileges; returns the backend, serving from now on. Port
 * forwards bind their host ports here, so that a port in use fails the
 * boot instead of a connection later. */
static BlNetBackend *
start_backend (NetProc *np, GError **error)
{
    g_autofree char *launch_path = g_build_filename (np->box_dir, "launch.json", NULL);
    g_autoptr (BlLaunch) launch = bl_launch_load (launch_path, error);

    if (!launch)
        return NULL;
    g_autofree char *want = g_canonicalize_filename (launch->box_dir, NULL);
    if (!g_str_equal (want, np->box_dir)) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "launch.json is for %s, not %s", launch->box_dir, np->box_dir);
        return NULL;
    }
    if (launch->network != BOXLITE_NETWORK_ENABLED) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "the box has no network");
        return NULL;
    }
    if (np->root && !bl_net_sandbox_user (&np->uid, &np->gid, &np->user, error))
        return NULL;
    if (!enter_net_dir (np, error))
        return NULL;
    BlAllowlist *allowlist = bl_net_allowlist_new ((const char *const *) launch->allow_net, error);
    if (!allowlist)
        return NULL;
    g_autofree char *path = g_build_filename (np->box_dir, "net.sock", NULL);
    /* Relative to net/: libslirp connects to it for every DNS query over
     * TCP, after the drop. */
    BlNetBackendConfig config = {
        .socket_path = path,
        .dns_socket_path = "dns.sock",
        .audit_path = "netlog.jsonl",
        .hosts_path = launch->hosts_file,
    };
    g_autoptr (BlNetBackend) net = bl_net_backend_new (&config, allowlist, error);
    if (!net)
        return NULL;
    for (guint i = 0; launch->ports && launch->ports[i]; i++) {
        BlPortForward fwd;
        if (!bl_port_forward_parse (launch->ports[i], &fwd, error) ||
            !bl_net_backend_add_forward (net, fwd.udp, fwd.host_addr, fwd.host_port, fwd.guest_port,
                                         error))
            return NULL;
    }
    if (np->root && chown ("dns.sock", np->uid, np->gid) < 0) {
        bl_os_error (error, errno, "chown", "net/dns.sock");
        return NULL;
    }
    return g_steal_pointer (&net);
}

/* Gives up the caller's privileges: after this, nothing it could do
 * before the drop can be done again. */
static gboolean
sandbox (NetProc *np, GError **error)
{
    if (np->root) {
        if (!bl_net_sandbox_drop_user (np->uid, np->gid, error))
            return FALSE;
        /* A change of credentials clears the parent-death signal. */
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != np->monitor)
            raise (SIGKILL);
    }
    return bl_net_sandbox_seal (error);
}

static gboolean
on_term (gpointer user_data)
{
    g_main_loop_quit (user_data);
    return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *dir = NULL;
    gint ready = -1;
    GOptionEntry entries[] = {
        { "box-dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "The box directory", "DIR" },
        { "ready-fd", 0, 0, G_OPTION_ARG_INT, &ready, "Where to say ok or why not", "FD" },
        { NULL },
    };
    g_autoptr (GOptionContext) context = g_option_context_new ("- run one box's network");
    NetProc np = { .ready_fd = -1, .monitor = getppid (), .root = geteuid () == 0 };

    umask (077);
    /* A peer that went away must be an EPIPE, not our death. */
    signal (SIGPIPE, SIG_IGN);
    g_option_context_add_main_entries (context, entries, NULL);
    if (!g_option_context_parse (context, &argc, &argv, &error)) {
        g_printerr ("boxlite-net: %s\n", error->message);
        return 2;
    }
    if (ready > 2 && fcntl (ready, F_SETFD, FD_CLOEXEC) == 0)
        np.ready_fd = ready;
    if (!dir || !g_path_is_absolute (dir)) {
        g_printerr ("boxlite-net: --box-dir must be an absolute path\n");
        ready_write (&np, "error: --box-dir must be an absolute path\n");
        return 2;
    }
    np.box_dir = g_canonicalize_filename (dir, NULL);

    g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
    guint term = g_unix_signal_add (SIGTERM, on_term, loop);
    guint intr = g_unix_signal_add (SIGINT, on_term, loop);
    BlNetBackend *net = start_backend (&np, &error);
    if (!net || !sandbox (&np, &error)) {
        g_autofree char *line = g_strdup_printf ("error: %s\n", error->message);
        g_printerr ("boxlite-net: %s\n", error->message);
        ready_write (&np, line);
        g_clear_pointer (&net, bl_net_backend_free);
        g_free (np.box_dir);
        g_free (np.user);
        return 1;
    }
    g_message ("network process %d for %s runs as %s under seccomp", (int) getpid (), np.box_dir,
               np.user ? np.user : "the caller");
    ready_write (&np, "ok\n");
    g_main_loop_run (loop);
    g_source_remove (term);
    g_source_remove (intr);
    /* Closing the backend writes the record's last counts. */
    bl_net_backend_free (net);
    g_free (np.box_dir);
    g_free (np.user);
    return 0;
}

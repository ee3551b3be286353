/* ctr-start.c: `start` (bind the task's socket, leave a daemon serving it,
 * print its address) and `delete` (clean up after a shim that is gone). */
#define G_LOG_DOMAIN "boxlite-ctr"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctr.h"
#include "fs-tree.h"
#include "os-error.h"
#include "shim.pb-c.h"

static int
fail (const char *what, GError *error)
{
    fprintf (stderr, "containerd-shim-boxlite-v2 %s: %s\n", what, error->message);
    g_error_free (error);
    return 1;
}

/* A shim already serving @path (containerd retried a start): keep it. */
static gboolean
socket_alive (const char *path)
{
    g_autoptr (GSocketClient) client = g_socket_client_new ();
    g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (path);
    g_autoptr (GSocketConnection) conn =
        g_socket_client_connect (client, G_SOCKET_CONNECTABLE (addr), NULL, NULL);

    return conn != NULL;
}

static int
bind_socket (const char *path, GError **error)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    if (strlen (path) >= sizeof sa.sun_path) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG, "socket path %s is too long",
                     path);
        return -1;
    }
    g_strlcpy (sa.sun_path, path, sizeof sa.sun_path);
    g_autofree char *dir = g_path_get_dirname (path);
    if (g_mkdir_with_parents (dir, 0711) < 0) {
        bl_os_error (error, errno, "create", dir);
        return -1;
    }
    unlink (path);
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* Only containerd (root) talks to the shim: the socket is 0600 from
     * the moment it exists. */
    mode_t old_mask = umask (0177);
    int rc = fd < 0 ? -1 : bind (fd, (struct sockaddr *) &sa, sizeof sa);
    umask (old_mask);
    if (rc < 0 || listen (fd, 16) < 0) {
        bl_os_error (error, errno, "listen on", path);
        if (fd >= 0)
            close (fd);
        return -1;
    }
    return fd;
}

static void
child_setup (gpointer data)
{
    setsid ();
}

/* Starts the daemon on @listen_fd, its stderr on the bundle's log FIFO
 * (containerd copies it into its own log) when there is one. */
static gboolean
spawn_daemon (BlCtrFlags *flags, int listen_fd, GError **error)
{
    g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
    g_autoptr (GPtrArray) args = g_ptr_array_new ();
    g_autofree char *self = g_file_read_link ("/proc/self/exe", error);

    if (!self)
        return FALSE;
    g_ptr_array_add (args, self);
    const char *pairs[][2] = {
        { "-namespace", flags->namespace },
        { "-address", flags->address },
        { "-publish-binary", flags->publish_binary },
        { "-id", flags->id },
        { "-bundle", flags->bundle },
        { "-socket", flags->socket },
        { "-group", flags->group },
    };
    for (gsize i = 0; i < G_N_ELEMENTS (pairs); i++) {
        if (pairs[i][1]) {
            g_ptr_array_add (args, (char *) pairs[i][0]);
            g_ptr_array_add (args, (char *) pairs[i][1]);
        }
    }
    if (flags->debug)
        g_ptr_array_add (args, "-debug");
    g_ptr_array_add (args, "serve");
    g_ptr_array_add (args, NULL);

    g_autofree char *log_path = g_build_filename (flags->bundle, "log", NULL);
    int log_fd = open (log_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (log_fd >= 0) {
        /* Writes block as they would on a pipe; nothing is dropped. */
        fcntl (log_fd, F_SETFL, fcntl (log_fd, F_GETFL) & ~O_NONBLOCK);
        g_subprocess_launcher_take_stderr_fd (launcher, log_fd);
    } else {
        g_subprocess_launcher_set_flags (launcher, G_SUBPROCESS_FLAGS_STDERR_SILENCE);
    }
    g_subprocess_launcher_set_flags (launcher, G_SUBPROCESS_FLAGS_STDIN_INHERIT |
                                                   G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
    g_subprocess_launcher_take_fd (launcher, listen_fd, 3);
    g_subprocess_launcher_setenv (launcher, "BOXLITE_CTR_LISTEN_FD", "3", TRUE);
    g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
    g_subprocess_launcher_set_cwd (launcher, flags->bundle);
    g_autoptr (GSubprocess) proc =
        g_subprocess_launcher_spawnv (launcher, (const char *const *) args->pdata, error);
    return proc != NULL;
}

int
bl_ctr_cmd_start (BlCtrFlags *flags)
{
    GError *error = NULL;

    if (!flags->bundle)
        flags->bundle = g_get_current_dir ();
    /* A pod's containers go to the shim of its sandbox (started first). */
    flags->group = bl_ctr_group_of (flags->id, flags->bundle);
    flags->socket = bl_ctr_socket_path (flags);
    g_autofree char *address = g_strconcat ("unix://", flags->socket, NULL);
    if (!socket_alive (flags->socket)) {
        int fd = bind_socket (flags->socket, &error);
        if (fd < 0 || !spawn_daemon (flags, fd, &error))
            return fail ("start", error);
    }
    /* containerd reads the address back from the bundle after a restart. */
    g_autofree char *address_file = g_build_filename (flags->bundle, "address", NULL);
    if (!g_file_set_contents (address_file, address, -1, &error))
        return fail ("start", error);
    printf ("%s", address);
    return 0;
}

gboolean
bl_ctr_cleanup_home (const char *home, GError **error)
{
    if (!g_file_test (home, G_FILE_TEST_IS_DIR))
        return TRUE;
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    boxlite_options_set_home_dir (options, home);
    g_autoptr (BoxliteRuntime) runtime = boxlite_runtime_new (options, error);
    if (!runtime)
        return FALSE;
    g_autolist (BoxliteBox) boxes = boxlite_runtime_list (runtime, error);
    for (GList *l = boxes; l; l = l->next) {
        if (!boxlite_runtime_remove (runtime, boxlite_box_get_id (l->data), TRUE, error))
            return FALSE;
    }
    return bl_ctr_pod_unshare_all (home, error) && bl_tree_remove (home, error);
}

/* What containerd learns of a task whose shim is gone: it was killed. */
int
bl_ctr_cmd_delete (BlCtrFlags *flags)
{
    GError *error = NULL;

    if (!flags->bundle)
        flags->bundle = g_get_current_dir ();
    flags->group = bl_ctr_group_of (flags->id, flags->bundle);
    g_autofree char *home = bl_ctr_home_path (flags);
    /* A pod's member leaves its share; the pod's box goes with the
     * sandbox. */
    g_autofree char *share_dir = bl_ctr_pod_share_dir (home);
    g_autofree char *share = g_build_filename (share_dir, flags->id, NULL);
    if (bl_ctr_id_valid (flags->id) && !bl_ctr_pod_unshare_path (share, &error))
        return fail ("delete", error);
    if (g_str_equal (flags->group, flags->id) && !bl_ctr_cleanup_home (home, &error))
        return fail ("delete", error);
    g_autofree char *rootfs = g_build_filename (flags->bundle, "rootfs", NULL);
    if (!bl_ctr_rootfs_unmount (rootfs, &error))
        return fail ("delete", error);
    g_autofree char *socket = bl_ctr_socket_path (flags);
    unlink (socket);

    Containerd__Task__V2__DeleteResponse response = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
    Google__Protobuf__Timestamp exited = bl_ctr_timestamp (g_get_real_time ());
    response.exit_status = 128 + 9;
    response.exited_at = &exited;
    gsize size = containerd__task__v2__delete_response__get_packed_size (&response);
    g_autofree guint8 *buf = g_malloc (size ? size : 1);
    containerd__task__v2__delete_response__pack (&response, buf);
    fwrite (buf, 1, size, stdout);
    return 0;
}

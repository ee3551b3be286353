/* shim-qemu.c: the QEMU child: spawn, QMP link, its death and what caused it. */
#define G_LOG_DOMAIN "boxlite-shim"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shim.h"

#include "box-record.h"
#include "os-error.h"
#include "qemu-argv.h"

static void qmp_connect (Shim *shim);

/* Runs in the child between fork and exec. */
static void
qemu_child_setup (gpointer user_data)
{
    pid_t monitor = GPOINTER_TO_INT (user_data);

    /* QEMU never outlives the monitor, even if the monitor is SIGKILLed... */
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    /* ...including when it died before the line above ran. */
    if (getppid () != monitor)
        raise (SIGKILL);
    signal (SIGPIPE, SIG_DFL);
}

static void
on_qemu_exit (GPid pid, gint wait_status, gpointer user_data)
{
    Shim *shim = user_data;

    shim->qemu_watch = 0;
    shim->qemu_running = FALSE;
    shim->qemu_wait_status = wait_status;
    g_spawn_close_pid (pid);
    g_autofree char *why = shim_qemu_describe_exit (shim, FALSE);
    g_message ("QEMU (pid %d) ended: %s", (int) pid, why ? why : "exit status 0");
    if (!shim->booted && !shim->boot_error && !shim->stop_requested) {
        g_autofree char *copy_why = g_strdup_printf ("QEMU ended: %s", why ? why : "status 0");
        if (!shim_template_fall_back (shim, copy_why))
            shim_boot_failed (shim, why ? why : "the guest stopped before its agent answered");
    } else {
        shim_finish (shim);
    }
}

gboolean
shim_qemu_start (Shim *shim, const char *const *argv, GError **error)
{
    g_autofree char *log_path = g_build_filename (shim->box_dir, "qemu.log", NULL);
    g_autofree char *command = g_strjoinv (" ", (char **) argv);
    int log_fd = open (log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    gboolean ok = FALSE;

    if (log_fd < 0 || null_fd < 0) {
        bl_os_error (error, errno, "open", log_path);
    } else if (shim_template_open_disk (shim, error)) {
        /* The disk, and for a template's copy its state (shim-template.c). */
        int targets[SHIM_N_PASS_FDS];
        guint n = shim->pass_fds[SHIM_FD_STATE] >= 0 ? SHIM_N_PASS_FDS : SHIM_FD_STATE;
        for (guint i = 0; i < SHIM_N_PASS_FDS; i++)
            targets[i] = SHIM_PASS_FD_FIRST + (int) i;
        g_message ("starting %s", command);
        ok = g_spawn_async_with_pipes_and_fds (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                               qemu_child_setup, GINT_TO_POINTER (getpid ()),
                                               null_fd, log_fd, log_fd, shim->pass_fds, targets, n,
                                               &shim->qemu_pid, NULL, NULL, NULL, error);
    }
    shim_template_close_fds (shim);
    if (log_fd >= 0)
        close (log_fd);
    if (null_fd >= 0)
        close (null_fd);
    if (!ok) {
        g_prefix_error (error, "cannot start QEMU: ");
        return FALSE;
    }
    shim->qemu_running = TRUE;
    shim->qemu_started_us = g_get_monotonic_time ();
    shim->qemu_watch = g_child_watch_add (shim->qemu_pid, on_qemu_exit, shim);
    shim_template_fill_ram (shim);
    qmp_connect (shim);
    shim_agent_connect (shim);
    return TRUE;
}

void
shim_qemu_kill (Shim *shim)
{
    if (!shim->qemu_running)
        return;
    shim->qemu_killed_by_us = TRUE;
    if (kill (shim->qemu_pid, SIGKILL) < 0 && errno != ESRCH)
        g_warning ("cannot kill QEMU (pid %d): %s", (int) shim->qemu_pid, g_strerror (errno));
}

static void
on_quit_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) ret = bl_qmp_client_execute_finish (BL_QMP_CLIENT (source), res, &error);

    /* QEMU often closes the socket before answering; its exit is what counts. */
    if (!ret)
        g_debug ("quit: %s", error->message);
}

static gboolean
on_kill_timer (gpointer user_data)
{
    Shim *shim = user_data;

    shim->kill_timer = 0;
    g_message ("QEMU did not quit within %d ms; killing it", SHIM_QUIT_GRACE_MS);
    shim_qemu_kill (shim);
    return G_SOURCE_REMOVE;
}

void
shim_qemu_quit (Shim *shim)
{
    if (!shim->qemu_running)
        return;
    shim->qemu_killed_by_us = TRUE;
    if (!shim->kill_timer)
        shim->kill_timer = g_timeout_add (SHIM_QUIT_GRACE_MS, on_kill_timer, shim);
    if (!shim->qmp || !bl_qmp_client_is_connected (shim->qmp)) {
        shim_qemu_kill (shim);
        return;
    }
    bl_qmp_client_execute_async (shim->qmp, "quit", NULL, NULL, on_quit_done, NULL);
}

char *
shim_qemu_describe_exit (Shim *shim, gboolean with_log)
{
    int status = shim->qemu_wait_status;

    if (WIFSIGNALED (status))
        return g_strdup_printf ("QEMU was killed by signal %d", WTERMSIG (status));
    if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
        return NULL;
    int code = WIFEXITED (status) ? WEXITSTATUS (status) : status;
    if (!with_log)
        return g_strdup_printf ("QEMU exited with status %d", code);
    g_autofree char *tail = shim_log_tail (shim->box_dir, "qemu.log", 20);
    return g_strdup_printf ("QEMU exited with status %d: %s", code,
                            tail ? tail : "qemu.log is empty");
}

static void
on_qmp_event (BlQmpClient *client, const char *name, JsonObject *data, gint64 stamp,
              gpointer user_data)
{
    g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), data);
    g_autofree char *text = json_to_string (node, FALSE);

    g_message ("QEMU event %s %s", name, text);
}

static void
on_qmp_connected (GObject *source, GAsyncResult *res, gpointer user_data)
{
    Shim *shim = user_data;
    g_autoptr (GError) error = NULL;
    BlQmpClient *client = bl_qmp_client_connect_finish (res, &error);

    if (!client) {
        /* After boot the socket exists: a failure then is not a slow start. */
        if (!shim->booted)
            shim_connect_retry (shim, error, &shim->qmp_retry, qmp_connect);
        else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            g_warning ("cannot connect to QMP: %s", error->message);
        return;
    }
    shim->qmp = client;
    g_signal_connect (client, "event", G_CALLBACK (on_qmp_event), shim);
    g_message ("QMP connected (QEMU %s)", bl_qmp_client_get_qemu_version (client));
    shim_template_resume (shim);
}

static void
qmp_connect (Shim *shim)
{
    g_autofree char *path = g_build_filename (shim->box_dir, "qmp.sock", NULL);

    bl_qmp_client_connect_async (path, shim->cancellable, on_qmp_connected, shim);
}

static void
on_status (GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr (BlFrameConn) conn = user_data;
    g_autoptr (GError) error = NULL;
    g_autofree char *status =
        bl_qmp_client_query_status_finish (BL_QMP_CLIENT (source), res, &error);

    if (!status) {
        shim_control_reply_error (conn, 0, "Failed", error->message);
        return;
    }
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "qemu");
    json_builder_add_string_value (b, status);
    json_builder_end_object (b);
    g_autoptr (JsonNode) ret = json_builder_get_root (b);
    shim_control_reply (conn, 0, ret);
}

void
shim_qmp_status (Shim *shim, BlFrameConn *reply_to)
{
    if (!shim->qmp || !bl_qmp_client_is_connected (shim->qmp)) {
        shim_control_reply_error (reply_to, 0, "Failed", "QEMU's monitor is not connected");
        return;
    }
    bl_qmp_client_query_status_async (shim->qmp, NULL, on_status, g_object_ref (reply_to));
}

typedef struct {
    Shim *shim;
    BlFrameConn *reply_to;
    gboolean pause;
} PauseRequest;

static void
on_paused (GObject *source, GAsyncResult *res, gpointer user_data)
{
    PauseRequest *req = user_data;
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) ret = bl_qmp_client_execute_finish (BL_QMP_CLIENT (source), res, &error);

    if (!ret) {
        shim_control_reply_error (req->reply_to, 0, "Failed", error->message);
    } else if (req->shim->finished) {
        shim_control_reply_error (req->reply_to, 0, "Failed", "the box is stopping");
    } else {
        BoxliteBoxState state = req->pause ? BOXLITE_BOX_STATE_PAUSED : BOXLITE_BOX_STATE_RUNNING;
        if (!bl_record_set_state (req->shim->box_dir, state, getpid (), NULL, &error)) {
            shim_control_reply_error (req->reply_to, 0, "Failed", error->message);
        } else {
            g_autoptr (JsonNode) empty =
                json_node_init_object (json_node_alloc (), json_object_new ());
            shim_control_push_state (req->shim, state);
            shim_control_reply (req->reply_to, 0, empty);
        }
    }
    g_object_unref (req->reply_to);
    g_free (req);
}

/* Stops or restarts the guest's vCPUs (QMP stop/cont), then the record. */
void
shim_qmp_set_paused (Shim *shim, gboolean pause, BlFrameConn *reply_to)
{
    if (!shim->qmp || !bl_qmp_client_is_connected (shim->qmp) || !shim->booted ||
        shim->stop_requested) {
        shim_control_reply_error (reply_to, 0, "Failed", "the box is not running");
        return;
    }
    /* A snapshot runs the guest for its freeze and leaves it as it found it. */
    if (shim->snapshot) {
        shim_control_reply_error (reply_to, 0, "Failed", "a snapshot of the box is being taken");
        return;
    }
    PauseRequest *req = g_new0 (PauseRequest, 1);
    req->shim = shim;
    req->reply_to = g_object_ref (reply_to);
    req->pause = pause;
    bl_qmp_client_execute_async (shim->qmp, pause ? "stop" : "cont", NULL, NULL, on_paused, req);
}

/* ctr-process.c: one process of a task in the box: started from its spec,
 * its stdio copied to and from containerd's FIFOs, its exit recorded once
 * and told to every waiter and to containerd.
 *
 * The FIFOs are opened so that no open blocks the main loop: an output
 * FIFO write-only when containerd already reads it (else read-write, which
 * Linux allows on a FIFO), stdin read-only beside a read-write "keeper" fd
 * that holds the FIFO open until CloseIO, so a client that has not opened
 * its end yet is not taken for an end of input.
 */
#define G_LOG_DOMAIN "boxlite-ctr"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <unistd.h>

#include "ctr.h"
#include "os-error.h"
#include "shim.pb-c.h"
#include "task-events.pb-c.h"

typedef struct {
    BlTtrpcConn *conn;
    guint32 stream_id;
} BlCtrWaiter;

BlCtrProcess *
bl_ctr_process_new (BlCtrShim *shim, BlCtrContainer *container, const char *exec_id,
                    BlCtrSpec *spec, const char *stdin_path, const char *stdout_path,
                    const char *stderr_path)
{
    BlCtrProcess *process = g_new0 (BlCtrProcess, 1);

    process->shim = shim;
    process->container = container;
    process->exec_id = g_strdup (exec_id);
    process->spec = spec;
    process->stdin_path = g_strdup (stdin_path);
    process->stdout_path = g_strdup (stdout_path);
    process->stderr_path = g_strdup (stderr_path);
    process->status = BL_CTR_CREATED;
    process->stdin_keeper = -1;
    process->cancellable = g_cancellable_new ();
    return process;
}

static void
waiter_free (BlCtrWaiter *waiter)
{
    g_object_unref (waiter->conn);
    g_free (waiter);
}

void
bl_ctr_process_free (BlCtrProcess *process)
{
    g_cancellable_cancel (process->cancellable);
    g_clear_object (&process->cancellable);
    g_list_free_full (process->waiters, (GDestroyNotify) waiter_free);
    if (process->stdin_keeper >= 0)
        close (process->stdin_keeper);
    g_clear_object (&process->execution);
    bl_ctr_spec_free (process->spec);
    g_free (process->exec_id);
    g_free (process->stdin_path);
    g_free (process->stdout_path);
    g_free (process->stderr_path);
    g_free (process);
}

static gboolean
has_path (const char *path)
{
    return path && *path;
}

static int
open_output (const char *path, GError **error)
{
    int fd = open (path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0 && errno == ENXIO)
        fd = open (path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        bl_os_error (error, errno, "open", path);
    return fd;
}

static void
on_copied (GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr (GError) error = NULL;

    if (g_output_stream_splice_finish (G_OUTPUT_STREAM (source), res, &error) < 0 &&
        !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("stdio copy ended: %s", error->message);
}

static void
copy (GInputStream *from, GOutputStream *to, GCancellable *cancellable)
{
    g_output_stream_splice_async (
        to, from, G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE | G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
        G_PRIORITY_DEFAULT, cancellable, on_copied, NULL);
}

/* Output with no FIFO still has to be read, or the process blocks on it. */
static gboolean
copy_output (BlCtrProcess *process, GInputStream *from, const char *path, GError **error)
{
    int fd = has_path (path) ? open_output (path, error) : open ("/dev/null", O_WRONLY | O_CLOEXEC);

    if (fd < 0)
        return FALSE;
    g_autoptr (GOutputStream) to = g_unix_output_stream_new (fd, TRUE);
    copy (from, to, process->cancellable);
    return TRUE;
}

static gboolean
copy_stdin (BlCtrProcess *process, GError **error)
{
    const char *path = process->stdin_path;

    process->stdin_keeper = open (path, O_RDWR | O_CLOEXEC);
    int fd = process->stdin_keeper < 0 ? -1 : open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return bl_os_error (error, errno, "open", path);
    g_autoptr (GInputStream) from = g_unix_input_stream_new (fd, TRUE);
    copy (from, boxlite_execution_get_stdin (process->execution), process->cancellable);
    return TRUE;
}

static gboolean
wire_stdio (BlCtrProcess *process, GError **error)
{
    BoxliteExecution *execution = process->execution;

    if (!copy_output (process, boxlite_execution_get_stdout (execution), process->stdout_path,
                      error))
        return FALSE;
    /* On a terminal both streams are the terminal's one. */
    if (boxlite_execution_get_stderr (execution) &&
        !copy_output (process, boxlite_execution_get_stderr (execution), process->stderr_path,
                      error))
        return FALSE;
    return !has_path (process->stdin_path) || copy_stdin (process, error);
}

static guint32
exit_status_of (BoxliteExecution *execution)
{
    if (boxlite_execution_get_exited (execution))
        return (guint32) boxlite_execution_get_exit_code (execution);
    return 128 + (guint32) MAX (boxlite_execution_get_term_signal (execution), 0);
}

static void
on_waited (GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr (GError) error = NULL;
    BoxliteExecution *execution = BOXLITE_EXECUTION (source);

    if (!boxlite_execution_wait_finish (execution, res, &error)) {
        if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            return;
        /* The box went away under the process: it was killed with it. */
        g_debug ("wait: %s", error->message);
        bl_ctr_process_exited (user_data, 128 + 9);
        return;
    }
    bl_ctr_process_exited (user_data, exit_status_of (execution));
}

static void
on_exec (GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr (GTask) task = user_data;
    BlCtrProcess *process = g_task_get_task_data (task);
    GError *error = NULL;
    BoxliteExecution *execution = boxlite_box_exec_finish (BOXLITE_BOX (source), res, &error);

    if (!execution) {
        g_task_return_error (task, error);
        return;
    }
    process->execution = execution;
    if (!wire_stdio (process, &error)) {
        boxlite_execution_kill (execution, 9, NULL);
        g_task_return_error (task, error);
        return;
    }
    if (!*process->exec_id)
        process->pid = (guint32) MAX (boxlite_box_get_monitor_pid (process->shim->box), 0);
    else
        process->pid = (guint32) MAX (boxlite_execution_get_pid (execution), 0);
    process->status = BL_CTR_RUNNING;
    boxlite_execution_wait_async (execution, process->cancellable, on_waited, process);
    g_task_return_boolean (task, TRUE);
}

void
bl_ctr_process_start (BlCtrProcess *process, GAsyncReadyCallback done, gpointer user_data)
{
    GTask *task = g_task_new (NULL, process->cancellable, done, user_data);
    const BlCtrSpec *spec = process->spec;
    g_autoptr (BoxliteCommand) command = boxlite_command_new ((const char *const *) spec->argv);

    g_task_set_task_data (task, process, NULL);
    boxlite_command_set_env (command, (const char *const *) spec->env);
    boxlite_command_set_working_dir (command, spec->cwd);
    boxlite_command_set_user (command, spec->user);
    boxlite_command_set_tty (command, spec->terminal);
    boxlite_command_set_stdin (command, has_path (process->stdin_path));
    if (process->container->pod_role == BL_CTR_POD_CONTAINER) {
        const char *id = process->container->id;
        g_autofree char *root = g_build_filename (BL_CTR_POD_GUEST_ROOTS, id, NULL);
        g_autofree char *base = g_build_filename (BL_CTR_POD_GUEST_SHARE, id, NULL);
        boxlite_command_set_root_dir (command, root);
        boxlite_command_set_root_base_dir (command, base);
    }
    boxlite_box_exec_async (process->shim->box, command, process->cancellable, on_exec, task);
}

gboolean
bl_ctr_process_start_finish (BlCtrProcess *process, GAsyncResult *result, GError **error)
{
    return g_task_propagate_boolean (G_TASK (result), error);
}

static void
answer_wait (BlCtrProcess *process, BlTtrpcConn *conn, guint32 stream_id)
{
    Containerd__Task__V2__WaitResponse response = CONTAINERD__TASK__V2__WAIT_RESPONSE__INIT;
    Google__Protobuf__Timestamp at = bl_ctr_timestamp (process->exited_at);

    response.exit_status = process->exit_status;
    response.exited_at = &at;
    bl_ctr_reply (conn, stream_id, &response.base);
}

static void
on_box_stopped (GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr (GError) error = NULL;

    if (!boxlite_box_stop_finish (BOXLITE_BOX (source), res, &error))
        g_debug ("stopping the box: %s", error->message);
}

void
bl_ctr_process_exited (BlCtrProcess *process, guint32 status)
{
    BlCtrShim *shim = process->shim;

    if (process->status == BL_CTR_STOPPED)
        return;
    process->status = BL_CTR_STOPPED;
    process->exit_status = status;
    process->exited_at = g_get_real_time ();
    g_debug ("process '%s' exited with %u", process->exec_id, status);

    Containerd__Events__TaskExit event = CONTAINERD__EVENTS__TASK_EXIT__INIT;
    Google__Protobuf__Timestamp at = bl_ctr_timestamp (process->exited_at);
    event.container_id = process->container->id;
    event.id = *process->exec_id ? process->exec_id : process->container->id;
    event.pid = process->pid;
    event.exit_status = status;
    event.exited_at = &at;
    bl_ctr_publish (shim, "/tasks/exit", "containerd.events.TaskExit", &event.base);

    for (GList *l = process->waiters; l; l = l->next) {
        BlCtrWaiter *waiter = l->data;
        answer_wait (process, waiter->conn, waiter->stream_id);
    }
    g_list_free_full (g_steal_pointer (&process->waiters), (GDestroyNotify) waiter_free);

    /* The task's process ending ends the task's box, as a container's init
     * ending ends the container: its execs die with it. A pod's member
     * ends alone, its execs with it. */
    if (*process->exec_id)
        return;
    if (process->container->pod_role == BL_CTR_POD_CONTAINER)
        bl_ctr_container_kill_all (process->container, 9);
    else if (shim->box && boxlite_box_get_state (shim->box) == BOXLITE_BOX_STATE_RUNNING)
        boxlite_box_stop_async (shim->box, TRUE, NULL, on_box_stopped, NULL);
}

void
bl_ctr_container_kill_all (BlCtrContainer *container, guint signal_number)
{
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, container->processes);
    while (g_hash_table_iter_next (&iter, NULL, &value)) {
        BlCtrProcess *process = value;
        if (process->status == BL_CTR_RUNNING && process->execution)
            boxlite_execution_kill (process->execution, (gint) signal_number, NULL);
    }
}

void
bl_ctr_process_add_waiter (BlCtrProcess *process, BlTtrpcConn *conn, guint32 stream_id)
{
    if (process->status == BL_CTR_STOPPED) {
        answer_wait (process, conn, stream_id);
        return;
    }
    BlCtrWaiter *waiter = g_new0 (BlCtrWaiter, 1);
    waiter->conn = g_object_ref (conn);
    waiter->stream_id = stream_id;
    process->waiters = g_list_append (process->waiters, waiter);
}

gboolean
bl_ctr_process_kill (BlCtrProcess *process, guint signal_number, GError **error)
{
    switch (process->status) {
    case BL_CTR_CREATED:
        /* Never started: nothing runs, it just ends. */
        bl_ctr_process_exited (process, 128 + signal_number);
        return TRUE;
    case BL_CTR_STOPPED:
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "process already finished");
        return FALSE;
    default:
        if (!process->execution) {
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_PENDING, "process is still starting");
            return FALSE;
        }
        return boxlite_execution_kill (process->execution, (gint) signal_number, error);
    }
}

void
bl_ctr_process_close_stdin (BlCtrProcess *process)
{
    /* The copy ends once containerd's end is closed and the FIFO drained. */
    if (process->stdin_keeper >= 0) {
        close (process->stdin_keeper);
        process->stdin_keeper = -1;
    }
}

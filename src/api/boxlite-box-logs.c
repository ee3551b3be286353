/* boxlite-box-logs.c: detached commands and the log of what they print.
 *
 * A command run with boxlite_box_exec() belongs to its caller: it is killed
 * when the caller goes away. A detached command belongs to the box: its
 * monitor starts it and keeps its output in the box's log (main-log.h),
 * which outlives the command, the caller and the box's run, as the logs of
 * a container do. */
#define G_LOG_DOMAIN "boxlite"

#include <boxlite/boxlite-box-logs.h>
#include <boxlite/boxlite-error.h>
#include "bl-task.h"
#include "boxlite-private.h"
#include "main-log.h"
#include "monitor-ctl.h"

typedef struct {
    char *box_dir;
    JsonNode *arguments;
} Detached;

static void
detached_free (gpointer p)
{
    Detached *d = p;

    g_free (d->box_dir);
    json_node_unref (d->arguments);
    g_free (d);
}

static gpointer
start_detached (gpointer source, gpointer data, GMainContext *caller_context,
                GCancellable *cancellable, GError **error)
{
    Detached *d = data;

    if (!bl_monitor_start_detached (d->box_dir, d->arguments, cancellable, error))
        return NULL;
    return GINT_TO_POINTER (TRUE);
}

/**
 * boxlite_box_exec_detached_async:
 * @self: a running box
 * @command: what to run; its stdin setting is ignored (it has none)
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context once
 *   the command runs, or failed to start
 * @user_data: (closure): data for @callback
 *
 * Starts @command as the box's own: it goes on when the caller exits, and
 * what it prints is kept in the box's log (boxlite_box_read_logs(), `boxlite
 * logs`), bounded to the newest 1 to 2 MiB. Call
 * boxlite_box_exec_detached_finish() from @callback.
 *
 * Since: 0.1
 */
void
boxlite_box_exec_detached_async (BoxliteBox *self, BoxliteCommand *command,
                                 GCancellable *cancellable, GAsyncReadyCallback callback,
                                 gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_BOX (self));
    g_return_if_fail (BOXLITE_IS_COMMAND (command));

    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) request = bl_box_exec_request (self, command, &error);
    if (!request) {
        g_task_report_error (self, callback, user_data, boxlite_box_exec_detached_async,
                             g_steal_pointer (&error));
        return;
    }
    Detached *d = g_new0 (Detached, 1);
    d->box_dir = g_strdup (bl_box_get_dir (self));
    d->arguments =
        json_node_copy (json_object_get_member (json_node_get_object (request), "arguments"));
    bl_task_run_in_thread (self, boxlite_box_exec_detached_async, start_detached, d, detached_free,
                           NULL, cancellable, callback, user_data);
}

/**
 * boxlite_box_exec_detached_finish:
 * @self: the box
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_box_exec_detached_async().
 *
 * Returns: %TRUE once the command runs, or %FALSE with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_COMMAND_NOT_FOUND,
 *   %BOXLITE_ERROR_PERMISSION_DENIED, %BOXLITE_ERROR_INVALID_ARGUMENT,
 *   %BOXLITE_ERROR_INVALID_STATE when the box does not run; G_IO_ERROR)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_exec_detached_finish (BoxliteBox *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish_boolean (self, result, boxlite_box_exec_detached_async, error);
}

/**
 * boxlite_box_exec_detached:
 * @self: a running box
 * @command: what to run
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Starts @command as the box's own and returns once it runs; see
 * boxlite_box_exec_detached_async().
 *
 * Returns: %TRUE once the command runs, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
boxlite_box_exec_detached (BoxliteBox *self, BoxliteCommand *command, GCancellable *cancellable,
                           GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);
    g_return_val_if_fail (BOXLITE_IS_COMMAND (command), FALSE);

    g_autoptr (JsonNode) request = bl_box_exec_request (self, command, error);
    if (!request)
        return FALSE;
    return bl_monitor_start_detached (
        bl_box_get_dir (self), json_object_get_member (json_node_get_object (request), "arguments"),
        cancellable, error);
}

/**
 * boxlite_box_read_logs:
 * @self: a box, running or not
 * @tail: keep only the last @tail lines, or 0 for all that is kept
 * @error: return location for a #GError, or %NULL
 *
 * Reads what the box's detached commands printed, oldest first, as records
 * of type `a(xyay)`: the wall-clock time each piece arrived (microseconds
 * since 1970), the stream (1 stdout, 2 stderr) and the bytes.
 *
 * Returns: (transfer full): the records, or %NULL with @error set
 *
 * Since: 0.1
 */
GVariant *
boxlite_box_read_logs (BoxliteBox *self, guint tail, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), NULL);
    return bl_main_log_read (bl_box_get_dir (self), tail, error);
}

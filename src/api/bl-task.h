/* bl-task.h: a blocking call of the library run as an async one, on a
 * worker thread, completing on the caller's thread-default main context. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The blocking call. @caller_context is the main context the task completes
 * on (where progress reports go). Returns the result, which must not be
 * NULL, or NULL with @error set. A result of a call that only succeeds or
 * fails is GINT_TO_POINTER (TRUE). */
typedef gpointer (*BlTaskFunc) (gpointer source, gpointer data, GMainContext *caller_context,
                                GCancellable *cancellable, GError **error);

/* Runs @func (@source, @data, ...) on a worker thread. @data is freed with
 * @data_free once the task is done, a result that nobody took with
 * @result_free. The thread is not abandoned on cancellation: @func is
 * expected to see @cancellable itself and undo what it made, so that the
 * callback runs only once nothing is left half-done. */
void bl_task_run_in_thread (gpointer source, gpointer source_tag, BlTaskFunc func, gpointer data,
                            GDestroyNotify data_free, GDestroyNotify result_free,
                            GCancellable *cancellable, GAsyncReadyCallback callback,
                            gpointer user_data);

/* The result of bl_task_run_in_thread() (transfer full), or NULL with
 * @error set. */
gpointer bl_task_finish (gpointer source, GAsyncResult *result, gpointer source_tag,
                         GError **error);
gboolean bl_task_finish_boolean (gpointer source, GAsyncResult *result, gpointer source_tag,
                                 GError **error);

G_END_DECLS

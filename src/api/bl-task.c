/* bl-task.c: a blocking call run on a worker thread as a GTask. */
#include "bl-task.h"

typedef struct {
    BlTaskFunc func;
    gpointer data;
    GDestroyNotify data_free;
    GDestroyNotify result_free;
} BlTaskCall;

static void
call_free (BlTaskCall *call)
{
    if (call->data_free)
        call->data_free (call->data);
    g_free (call);
}

static void
call_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
    BlTaskCall *call = task_data;
    GError *error = NULL;
    gpointer result =
        call->func (source, call->data, g_task_get_context (task), cancellable, &error);

    if (result)
        g_task_return_pointer (task, result, call->result_free);
    else
        g_task_return_error (task, error);
}

void
bl_task_run_in_thread (gpointer source, gpointer source_tag, BlTaskFunc func, gpointer data,
                       GDestroyNotify data_free, GDestroyNotify result_free,
                       GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr (GTask) task = g_task_new (source, cancellable, callback, user_data);
    BlTaskCall *call = g_new0 (BlTaskCall, 1);

    call->func = func;
    call->data = data;
    call->data_free = data_free;
    call->result_free = result_free;
    g_task_set_source_tag (task, source_tag);
    /* The call's own verdict stands: a box that booted while the caller
     * cancelled is running, and saying otherwise would leave it unowned. */
    g_task_set_check_cancellable (task, FALSE);
    g_task_set_task_data (task, call, (GDestroyNotify) call_free);
    g_task_run_in_thread (task, call_thread);
}

gpointer
bl_task_finish (gpointer source, GAsyncResult *result, gpointer source_tag, GError **error)
{
    g_return_val_if_fail (g_task_is_valid (result, source), NULL);
    g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);
    return g_task_propagate_pointer (G_TASK (result), error);
}

gboolean
bl_task_finish_boolean (gpointer source, GAsyncResult *result, gpointer source_tag, GError **error)
{
    return bl_task_finish (source, result, source_tag, error) != NULL;
}

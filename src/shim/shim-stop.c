/* shim-stop.c: taking the box down on request.
 *
 * Graceful: the agent is asked to "shutdown" (it ends every process, syncs,
 * unmounts and reboots, which with -no-reboot ends QEMU); if QEMU is still
 * there after the timeout, QMP "quit", then SIGKILL. Forced: "quit" at once,
 * then SIGKILL. Either way the end is QEMU's exit, handled by shim_finish().
 */
#define G_LOG_DOMAIN "boxlite-shim"

#include "shim.h"

static gboolean
on_stop_timeout (gpointer user_data)
{
    Shim *shim = user_data;

    shim->stop_timer = 0;
    g_message ("the guest did not shut down in time; quitting QEMU");
    shim_qemu_quit (shim);
    return G_SOURCE_REMOVE;
}

static void
stop_now (Shim *shim)
{
    g_clear_handle_id (&shim->stop_timer, g_source_remove);
    shim_qemu_quit (shim);
}

void
shim_stop (Shim *shim, gboolean force, guint timeout_ms, const char *reason)
{
    if (shim->finished)
        return;
    if (!shim->stop_requested)
        shim->stop_reason = reason;
    if (!shim->booted) {
        /* Nothing in the guest to shut down cleanly yet. */
        g_message ("stop requested while booting");
        shim->stop_requested = TRUE;
        if (shim->qemu_running)
            shim_qemu_kill (shim);
        else
            shim_finish (shim);
        return;
    }
    if (shim->stop_requested) {
        if (force && !shim->stop_forced) {
            g_message ("stop escalated to force");
            shim->stop_forced = TRUE;
            stop_now (shim);
        }
        return;
    }
    shim->stop_requested = TRUE;
    shim->stop_forced = force;
    if (force || !shim->agent || bl_frame_conn_is_closed (shim->agent)) {
        g_message ("stopping: quitting QEMU");
        stop_now (shim);
        return;
    }
    g_message ("stopping: asking the guest to shut down (%u ms)", timeout_ms);
    if (shim_agent_send_request (shim, 0, "shutdown", NULL))
        g_queue_push_tail (&shim->agent_replies, GINT_TO_POINTER (SHIM_AGENT_REPLY_SHUTDOWN));
    shim->stop_timer = g_timeout_add (timeout_ms, on_stop_timeout, shim);
}

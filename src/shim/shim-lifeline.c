/* shim-lifeline.c: the creator's lifeline and the monitor's own signals.
 *
 * A box that is not detached gets the read end of a pipe whose write end
 * only its creator holds: when the creator dies, however it dies, the
 * kernel closes that end and we see EOF, and the box is stopped.
 */
#define G_LOG_DOMAIN "boxlite-shim"

#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <unistd.h>

#include "box-record.h"
#include "shim.h"

static gboolean
on_lifeline (gint fd, GIOCondition condition, gpointer user_data)
{
    Shim *shim = user_data;

    if (condition & G_IO_IN) {
        char buf[64];
        ssize_t n = read (fd, buf, sizeof buf);
        if (n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN)))
            return G_SOURCE_CONTINUE; /* nothing is ever written; ignore it */
    }
    shim->lifeline_watch = 0;
    close (shim->lifeline_fd);
    shim->lifeline_fd = -1;
    g_message ("the box's creator is gone; stopping the box");
    shim_stop (shim, FALSE, SHIM_LIFELINE_STOP_TIMEOUT_MS, BL_STOP_REASON_CREATOR);
    return G_SOURCE_REMOVE;
}

void
shim_lifeline_watch (Shim *shim)
{
    if (shim->lifeline_fd < 0)
        return;
    shim->lifeline_watch =
        g_unix_fd_add (shim->lifeline_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_lifeline, shim);
}

void
shim_lifeline_unwatch (Shim *shim)
{
    g_clear_handle_id (&shim->lifeline_watch, g_source_remove);
    if (shim->lifeline_fd >= 0) {
        close (shim->lifeline_fd);
        shim->lifeline_fd = -1;
    }
    for (guint i = 0; i < G_N_ELEMENTS (shim->signal_watches); i++)
        g_clear_handle_id (&shim->signal_watches[i], g_source_remove);
}

static gboolean
on_signal (gpointer user_data)
{
    Shim *shim = user_data;

    g_message ("signalled; stopping the box");
    /* A second signal while stopping means: now. */
    shim_stop (shim, shim->stop_requested, SHIM_STOP_TIMEOUT_MS, BL_STOP_REASON_REQUESTED);
    return G_SOURCE_CONTINUE;
}

void
shim_signals_watch (Shim *shim)
{
    shim->signal_watches[0] = g_unix_signal_add (SIGTERM, on_signal, shim);
    shim->signal_watches[1] = g_unix_signal_add (SIGINT, on_signal, shim);
}

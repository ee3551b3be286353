/* shim-connect.c: connecting to QEMU's sockets while QEMU creates them. */
#define G_LOG_DOMAIN "boxlite-shim"

#include "shim.h"

typedef struct {
    Shim *shim;
    guint *slot;
    ShimConnectFunc again;
} Retry;

static gboolean
on_retry (gpointer user_data)
{
    Retry *retry = user_data;

    *retry->slot = 0;
    retry->again (retry->shim);
    return G_SOURCE_REMOVE;
}

gboolean
shim_connect_retry (Shim *shim, const GError *error, guint *slot, ShimConnectFunc again)
{
    /* Cancelled: the monitor is ending. Not running: nothing will appear. */
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || !shim->qemu_running ||
        shim->finished)
        return FALSE;
    Retry *retry = g_new (Retry, 1);
    *retry = (Retry){ shim, slot, again };
    gboolean early =
        g_get_monotonic_time () - shim->qemu_started_us < SHIM_CONNECT_EARLY_MS * (gint64) 1000;
    *slot = g_timeout_add_full (G_PRIORITY_DEFAULT,
                                early ? SHIM_CONNECT_RETRY_EARLY_MS : SHIM_CONNECT_RETRY_MS,
                                on_retry, retry, g_free);
    return TRUE;
}

/* shim-idle.c: auto_stop: a box nobody uses is stopped.
 *
 * Every tenth of auto_stop (at least a second, at most ten) the monitor
 * looks for activity, all of it as the host sees it:
 *  - a relay is open: a command or a file copy runs or is being started,
 *    for any client, detached commands included (the monitor's own table);
 *  - the box is paused: paused time is not idle time, and a resume starts
 *    the count again (whoever paused the box means to come back to it);
 *  - the network's totals moved: bytes either way, or a connection let
 *    through, as the network process counts them in net/netcounts.json
 *    (rewritten at most once a second when they change, so one stat() a
 *    look tells whether to read them).
 * The end of a command or a copy and a change of state count at once
 * (shim_idle_touch()). Once launch->auto_stop seconds of the monitor's
 * monotonic clock pass without any, the box is stopped as a stop request
 * would (the guest shuts down cleanly), with reason "idle".
 *
 * The guest can only add activity, never hide activity the host saw: the
 * relays are the monitor's, the clock is the host's, and the counts only
 * grow. It can keep its box up (as it could by running a command), but it
 * cannot have the box stopped under a command or a copy the host still
 * serves. Each activity restarts the count when the monitor sees it, never
 * before it happened, so a box is never stopped early; it may stop two
 * looks and a second late. A network process taken over by the guest could write
 * anything in its counts: they are read bounded (netcounts.h), and the
 * worst it can make of them is its own box stopped or kept up.
 */
#define G_LOG_DOMAIN "boxlite-shim"

#include <sys/stat.h>

#include "box-record.h"
#include "netcounts.h"
#include "shim.h"

/* Between two looks: a tenth of auto_stop within these bounds. An idle
 * box's monitor wakes for nothing else. */
#define IDLE_TICK_MIN_MS 1000
#define IDLE_TICK_MAX_MS 10000

struct _ShimIdle {
    guint timer;
    gint64 last_activity_us; /* monotonic */
    char *counts_path;
    struct stat counts_stat; /* of the counts last read; st_ino 0 before */
    BlNetTotals totals;      /* as last read */
};

static gboolean
same_file_version (const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Whether the network's totals moved since last read. */
static gboolean
net_moved (Shim *shim, ShimIdle *idle)
{
    struct stat st;
    g_autoptr (GError) error = NULL;

    if (lstat (idle->counts_path, &st) < 0 || same_file_version (&st, &idle->counts_stat))
        return FALSE;
    idle->counts_stat = st;
    g_autoptr (GVariant) counts = bl_net_counts_load (shim->box_dir, &error);
    if (!counts) {
        g_debug ("the network's counts: %s", error->message);
        return FALSE;
    }
    BlNetTotals now;
    bl_net_counts_total (counts, &now);
    gboolean moved = now.bytes_in != idle->totals.bytes_in ||
                     now.bytes_out != idle->totals.bytes_out ||
                     now.connections != idle->totals.connections;
    idle->totals = now;
    return moved;
}

static gboolean
busy (Shim *shim)
{
    return g_hash_table_size (shim->relays) > 0 || shim->state == BOXLITE_BOX_STATE_PAUSED;
}

static gboolean
on_tick (gpointer user_data)
{
    Shim *shim = user_data;
    ShimIdle *idle = shim->idle;
    gint64 now = g_get_monotonic_time ();

    if (shim->stop_requested || shim->finished) {
        idle->timer = 0;
        return G_SOURCE_REMOVE;
    }
    /* Both looks, always: the counts read now are the base of the next. */
    gboolean moved = net_moved (shim, idle);
    if (busy (shim) || moved) {
        idle->last_activity_us = now;
        return G_SOURCE_CONTINUE;
    }
    if (now - idle->last_activity_us < (gint64) shim->launch->auto_stop * G_USEC_PER_SEC)
        return G_SOURCE_CONTINUE;
    g_message ("nothing happened in the box for %u s; stopping it", shim->launch->auto_stop);
    idle->timer = 0;
    shim_stop (shim, FALSE, SHIM_STOP_TIMEOUT_MS, BL_STOP_REASON_IDLE);
    return G_SOURCE_REMOVE;
}

void
shim_idle_start (Shim *shim)
{
    if (shim->launch->auto_stop == 0 || shim->idle)
        return;
    ShimIdle *idle = g_new0 (ShimIdle, 1);
    idle->counts_path = g_build_filename (shim->box_dir, "net", BL_NET_COUNTS_NAME, NULL);
    shim->idle = idle;
    /* What the network counted before (an earlier run, the boot) is the base. */
    net_moved (shim, idle);
    idle->last_activity_us = g_get_monotonic_time ();
    guint64 tick_ms = (guint64) shim->launch->auto_stop * 100;
    idle->timer =
        g_timeout_add ((guint) CLAMP (tick_ms, IDLE_TICK_MIN_MS, IDLE_TICK_MAX_MS), on_tick, shim);
    g_message ("the box stops after %u s without activity", shim->launch->auto_stop);
}

void
shim_idle_touch (Shim *shim)
{
    if (shim->idle)
        shim->idle->last_activity_us = g_get_monotonic_time ();
}

void
shim_idle_free (Shim *shim)
{
    ShimIdle *idle = g_steal_pointer (&shim->idle);

    if (!idle)
        return;
    g_clear_handle_id (&idle->timer, g_source_remove);
    g_free (idle->counts_path);
    g_free (idle);
}

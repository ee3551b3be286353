/* boxlite-box-metrics.c: one sample of a running box's figures.
 *
 * The monitor gathers them (its "stats" request, bl_proto.h): its own
 * processes from /proc, QEMU's block counters and the guest agent's
 * answer, which metrics.c checks before anything of it is shown. The
 * network's totals come from the counts its process keeps beside the
 * egress record. */
#define G_LOG_DOMAIN "boxlite"

#include <boxlite/boxlite-box-metrics.h>
#include <boxlite/boxlite-box-options.h>
#include <boxlite/boxlite-error.h>
#include "bl-task.h"
#include "box-record.h"
#include "boxlite-private.h"
#include "metrics.h"
#include "monitor-ctl.h"
#include "netcounts.h"

/* Adds the network's byte totals, its connections (TCP and UDP flows let
 * through) and its denials. */
static gboolean
add_net (BoxliteBox *self, GVariantDict *out, GError **error)
{
    g_autoptr (GVariant) counts = boxlite_box_get_net_counts (self, error);
    BlNetTotals totals;

    if (!counts)
        return FALSE;
    bl_net_counts_total (counts, &totals);
    g_variant_dict_insert (out, "net-bytes-in", "t", totals.bytes_in);
    g_variant_dict_insert (out, "net-bytes-out", "t", totals.bytes_out);
    g_variant_dict_insert (out, "net-connections", "t", totals.connections);
    g_variant_dict_insert (out, "net-denied", "t", totals.denied);
    return TRUE;
}

/**
 * boxlite_box_get_metrics:
 * @self: a running box
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Takes one sample of what the box uses on the host and what its guest
 * reports. Counters (CPU time, bytes, operations) grow from the box's start
 * (the network's from its first start); compare two samples for rates.
 *
 * Keys of the host's part, all `t`: "qemu-rss", "monitor-rss", "net-rss"
 * (resident bytes of the VM, the monitor and the network process);
 * "qemu-cpu-ns", "monitor-cpu-ns", "net-cpu-ns" (CPU time, user and
 * system, in nanoseconds); "disk-read-bytes", "disk-write-bytes",
 * "disk-read-ops", "disk-write-ops" (the VM's block devices, as QEMU counts
 * them); "net-bytes-in", "net-bytes-out" (Ethernet bytes delivered to and
 * let out of the guest), "net-connections" (flows let through),
 * "net-denied" (flows and lookups refused). A box without a network has no
 * "net-rss"/"net-cpu-ns" and network counts of 0.
 *
 * Keys of the guest's part, present when the box is not paused and its
 * agent answered within 5 seconds: "mem-total", "mem-available", "mem-used" (`t`, bytes),
 * "load-1", "load-5", "load-15" (`d`), "processes" (`t`), "fs-total",
 * "fs-used", "fs-available" (`t`, bytes of the root filesystem). The guest
 * reports these itself; an answer that is out of bounds or inconsistent
 * (more memory than the box has, more used than the total, …) fails the
 * call with %BOXLITE_ERROR_PROTOCOL rather than show any of it.
 *
 * Returns: (transfer full): a #GVariant of type `a{sv}`, or %NULL with
 *   @error set (BOXLITE_ERROR: %BOXLITE_ERROR_INVALID_STATE when the box
 *   does not run, %BOXLITE_ERROR_PROTOCOL for a guest's answer refused;
 *   G_IO_ERROR; G_FILE_ERROR when the network counts cannot be read)
 *
 * Since: 0.1
 */
GVariant *
boxlite_box_get_metrics (BoxliteBox *self, GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), NULL);

    if (!bl_box_state_is_live (boxlite_box_get_state (self))) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE, "box %s is not running",
                     boxlite_box_get_name (self));
        return NULL;
    }
    g_autoptr (JsonObject) reply = bl_monitor_stats (bl_box_get_dir (self), cancellable, error);
    if (!reply)
        return NULL;
    g_autoptr (GVariantDict) dict = g_variant_dict_new (NULL);
    guint64 memory_max =
        (guint64) boxlite_box_options_get_memory_mib (boxlite_box_get_options (self)) << 20;
    if (!bl_metrics_parse (reply, memory_max, dict, error)) {
        g_prefix_error (error, "box %s: ", boxlite_box_get_name (self));
        return NULL;
    }
    if (!add_net (self, dict, error))
        return NULL;
    return g_variant_ref_sink (g_variant_dict_end (dict));
}

static gpointer
get_metrics_call (gpointer source, gpointer data, GMainContext *caller_context,
                  GCancellable *cancellable, GError **error)
{
    return boxlite_box_get_metrics (source, cancellable, error);
}

/**
 * boxlite_box_get_metrics_async:
 * @self: a running box
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context with
 *   the sample
 * @user_data: (closure): data for @callback
 *
 * Takes a sample without blocking; see boxlite_box_get_metrics(). Call
 * boxlite_box_get_metrics_finish() from @callback.
 *
 * Since: 0.1
 */
void
boxlite_box_get_metrics_async (BoxliteBox *self, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_BOX (self));
    bl_task_run_in_thread (self, boxlite_box_get_metrics_async, get_metrics_call, NULL, NULL,
                           (GDestroyNotify) g_variant_unref, cancellable, callback, user_data);
}

/**
 * boxlite_box_get_metrics_finish:
 * @self: the box
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_box_get_metrics_async().
 *
 * Returns: (transfer full): a #GVariant of type `a{sv}` as
 *   boxlite_box_get_metrics() gives, or %NULL with @error set
 *
 * Since: 0.1
 */
GVariant *
boxlite_box_get_metrics_finish (BoxliteBox *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish (self, result, boxlite_box_get_metrics_async, error);
}

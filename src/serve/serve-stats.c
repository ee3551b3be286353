/* serve-stats.c: what the server counts itself, for /metrics and the
 * per-box metrics: box starts and how long they took, executions, the
 * bytes of their streams, image pulls. Handlers on worker threads and the
 * main context both count, so one lock guards it all. */
#define G_LOG_DOMAIN "boxlite-serve"

#include "serve.h"

/* Upper bounds (seconds) of the start latency histogram; TCG boots take
 * about a second, KVM far less, a cold image pull much more. */
static const gdouble start_buckets[] = { 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120 };
#define N_BUCKETS G_N_ELEMENTS (start_buckets)

typedef struct {
    guint64 execs, exec_errors;
    guint64 bytes[3]; /* stdout, stderr, stdin */
} BoxCounts;

struct _BlServeStats {
    GMutex lock;
    guint64 starts[2]; /* failed, ok */
    guint64 start_buckets[N_BUCKETS];
    gdouble start_sum;
    guint64 execs[2]; /* failed, ok */
    guint64 exec_bytes[3];
    guint64 pulls[2]; /* failed, ok */
    guint64 pull_bytes;
    GHashTable *boxes; /* box id -> BoxCounts */
};

BlServeStats *bl_serve_stats_new (void);
void bl_serve_stats_free (BlServeStats *stats);

BlServeStats *
bl_serve_stats_new (void)
{
    BlServeStats *stats = g_new0 (BlServeStats, 1);

    g_mutex_init (&stats->lock);
    stats->boxes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    return stats;
}

void
bl_serve_stats_free (BlServeStats *stats)
{
    g_hash_table_unref (stats->boxes);
    g_mutex_clear (&stats->lock);
    g_free (stats);
}

void
bl_serve_stats_box_started (BlServeStats *stats, gdouble seconds, gboolean ok)
{
    g_mutex_lock (&stats->lock);
    stats->starts[ok ? 1 : 0]++;
    if (ok) {
        for (guint i = 0; i < N_BUCKETS; i++)
            if (seconds <= start_buckets[i])
                stats->start_buckets[i]++;
        stats->start_sum += seconds;
    }
    g_mutex_unlock (&stats->lock);
}

/* Called with the lock held. */
static BoxCounts *
box_counts (BlServeStats *stats, const char *box_id)
{
    BoxCounts *counts = g_hash_table_lookup (stats->boxes, box_id);

    if (!counts) {
        counts = g_new0 (BoxCounts, 1);
        g_hash_table_insert (stats->boxes, g_strdup (box_id), counts);
    }
    return counts;
}

void
bl_serve_stats_exec (BlServeStats *stats, const char *box_id, gboolean ok)
{
    g_mutex_lock (&stats->lock);
    stats->execs[ok ? 1 : 0]++;
    BoxCounts *counts = box_counts (stats, box_id);
    counts->execs++;
    counts->exec_errors += !ok;
    g_mutex_unlock (&stats->lock);
}

void
bl_serve_stats_exec_bytes (BlServeStats *stats, const char *box_id, guint stream, gsize bytes)
{
    g_return_if_fail (stream < 3);
    g_mutex_lock (&stats->lock);
    stats->exec_bytes[stream] += bytes;
    box_counts (stats, box_id)->bytes[stream] += bytes;
    g_mutex_unlock (&stats->lock);
}

void
bl_serve_stats_pull (BlServeStats *stats, gboolean ok, guint64 bytes)
{
    g_mutex_lock (&stats->lock);
    stats->pulls[ok ? 1 : 0]++;
    stats->pull_bytes += bytes;
    g_mutex_unlock (&stats->lock);
}

void
bl_serve_stats_add_box (BlServeStats *stats, const char *box_id, JsonBuilder *b)
{
    BoxCounts counts = { 0 };

    g_mutex_lock (&stats->lock);
    BoxCounts *known = g_hash_table_lookup (stats->boxes, box_id);
    if (known)
        counts = *known;
    g_mutex_unlock (&stats->lock);
    json_builder_set_member_name (b, "commands_executed_total");
    json_builder_add_int_value (b, (gint64) counts.execs);
    json_builder_set_member_name (b, "exec_errors_total");
    json_builder_add_int_value (b, (gint64) counts.exec_errors);
    json_builder_set_member_name (b, "bytes_sent_total");
    json_builder_add_int_value (b, (gint64) counts.bytes[2]);
    json_builder_set_member_name (b, "bytes_received_total");
    json_builder_add_int_value (b, (gint64) (counts.bytes[0] + counts.bytes[1]));
}

void
bl_serve_stats_label (GString *out, const char *name, const char *value)
{
    g_string_append_printf (out, "%s=\"", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            g_string_append_printf (out, "\\%c", *p);
        else if (*p == '\n')
            g_string_append (out, "\\n");
        else
            g_string_append_c (out, *p);
    }
    g_string_append_c (out, '"');
}

static void
header (GString *out, const char *name, const char *type, const char *help)
{
    g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
ok_failed (GString *out, const char *name, const guint64 *counts)
{
    g_string_append_printf (out, "%s{result=\"ok\"} %" G_GUINT64_FORMAT "\n", name, counts[1]);
    g_string_append_printf (out, "%s{result=\"failed\"} %" G_GUINT64_FORMAT "\n", name, counts[0]);
}

void
bl_serve_stats_write (BlServeStats *stats, GString *out)
{
    static const char *const streams[] = { "stdout", "stderr", "stdin" };

    g_mutex_lock (&stats->lock);
    header (out, "boxlite_box_starts_total", "counter", "Box starts through this server.");
    ok_failed (out, "boxlite_box_starts_total", stats->starts);
    header (out, "boxlite_box_start_seconds", "histogram",
            "Time from a start request to a box that answers.");
    for (guint i = 0; i < N_BUCKETS; i++)
        g_string_append_printf (
            out, "boxlite_box_start_seconds_bucket{le=\"%g\"} %" G_GUINT64_FORMAT "\n",
            start_buckets[i], stats->start_buckets[i]);
    g_string_append_printf (out,
                            "boxlite_box_start_seconds_bucket{le=\"+Inf\"} %" G_GUINT64_FORMAT "\n",
                            stats->starts[1]);
    g_string_append_printf (out, "boxlite_box_start_seconds_sum %.6f\n", stats->start_sum);
    g_string_append_printf (out, "boxlite_box_start_seconds_count %" G_GUINT64_FORMAT "\n",
                            stats->starts[1]);
    header (out, "boxlite_execs_total", "counter", "Commands started through this server.");
    ok_failed (out, "boxlite_execs_total", stats->execs);
    header (out, "boxlite_exec_bytes_total", "counter",
            "Bytes of the commands' streams through this server.");
    for (guint i = 0; i < 3; i++)
        g_string_append_printf (out,
                                "boxlite_exec_bytes_total{stream=\"%s\"} %" G_GUINT64_FORMAT "\n",
                                streams[i], stats->exec_bytes[i]);
    header (out, "boxlite_image_pulls_total", "counter", "Image pulls through this server.");
    ok_failed (out, "boxlite_image_pulls_total", stats->pulls);
    header (out, "boxlite_image_pull_bytes_total", "counter",
            "Sizes of the images pulled through this server.");
    g_string_append_printf (out, "boxlite_image_pull_bytes_total %" G_GUINT64_FORMAT "\n",
                            stats->pull_bytes);
    g_mutex_unlock (&stats->lock);
}

/* serve-metrics.c: GET /metrics (Prometheus text format), GET /v1/metrics
 * (the runtime's totals) and GET /v1/boxes/ID/metrics (one box's sample).
 *
 * Per box, /metrics shows what the library can report: the network's byte
 * totals and its filter's verdicts by reason (for every box, read from the
 * counts its network process keeps), and for running boxes the resident
 * memory and CPU time of its processes and the guest's own memory use. */
#define G_LOG_DOMAIN "boxlite-serve"

#include <string.h>

#include "serve.h"

static const char *
state_label (BoxliteBoxState state)
{
    static const char *const names[] = { "configured", "running", "stopped", "crashed", "paused" };
    return state < G_N_ELEMENTS (names) ? names[state] : "unknown";
}

static void
box_labels (GString *out, BoxliteBox *box)
{
    bl_serve_stats_label (out, "box_id", boxlite_box_get_id (box));
    g_string_append_c (out, ',');
    bl_serve_stats_label (out, "name", boxlite_box_get_name (box));
}

/* One sample line: NAME{box labels,EXTRA} VALUE. */
static void
box_line (GString *out, const char *name, BoxliteBox *box, const char *extra, const char *value)
{
    g_string_append_printf (out, "%s{", name);
    box_labels (out, box);
    if (extra)
        g_string_append_printf (out, ",%s", extra);
    g_string_append_printf (out, "} %s\n", value);
}

/* "event verdict reason" counts of the box's filter, and its bytes. */
static void
write_net (GString *bytes, GString *verdicts, BoxliteBox *box)
{
    g_autoptr (GVariant) counts = boxlite_box_get_net_counts (box, NULL);
    GVariantIter iter;
    const char *key;
    guint64 n;

    if (!counts)
        return;
    g_variant_iter_init (&iter, counts);
    while (g_variant_iter_next (&iter, "{&st}", &key, &n)) {
        g_autofree char *value = g_strdup_printf ("%" G_GUINT64_FORMAT, n);
        g_auto (GStrv) parts = g_strsplit (key, " ", 3);
        g_autoptr (GString) extra = g_string_new (NULL);
        if (g_str_equal (key, "bytes in") || g_str_equal (key, "bytes out")) {
            bl_serve_stats_label (extra, "direction", key + 6);
            box_line (bytes, "boxlite_box_network_bytes_total", box, extra->str, value);
        } else if (g_strv_length (parts) == 3) {
            bl_serve_stats_label (extra, "event", parts[0]);
            g_string_append_c (extra, ',');
            bl_serve_stats_label (extra, "verdict", parts[1]);
            g_string_append_c (extra, ',');
            bl_serve_stats_label (extra, "reason", parts[2]);
            box_line (verdicts, "boxlite_box_network_verdicts_total", box, extra->str, value);
        }
    }
}

static guint64
dict_u64 (GVariantDict *dict, const char *key, gboolean *found)
{
    guint64 value = 0;
    *found = g_variant_dict_lookup (dict, key, "t", &value);
    return value;
}

/* Memory and CPU of a running box's processes, and the guest's memory. */
static void
write_resources (GString *memory, GString *cpu, GString *guest, BoxliteBox *box)
{
    static const char *const processes[] = { "qemu", "monitor", "net" };
    g_autoptr (GVariant) sample = boxlite_box_get_metrics (box, NULL, NULL);

    if (!sample)
        return;
    g_autoptr (GVariantDict) dict = g_variant_dict_new (sample);
    for (guint i = 0; i < G_N_ELEMENTS (processes); i++) {
        g_autofree char *rss_key = g_strdup_printf ("%s-rss", processes[i]);
        g_autofree char *cpu_key = g_strdup_printf ("%s-cpu-ns", processes[i]);
        g_autoptr (GString) extra = g_string_new (NULL);
        gboolean found;
        bl_serve_stats_label (extra, "process", processes[i]);
        guint64 rss = dict_u64 (dict, rss_key, &found);
        if (found) {
            g_autofree char *value = g_strdup_printf ("%" G_GUINT64_FORMAT, rss);
            box_line (memory, "boxlite_box_memory_bytes", box, extra->str, value);
        }
        guint64 ns = dict_u64 (dict, cpu_key, &found);
        if (found) {
            g_autofree char *value = g_strdup_printf ("%.9f", (gdouble) ns / 1e9);
            box_line (cpu, "boxlite_box_cpu_seconds_total", box, extra->str, value);
        }
    }
    gboolean found;
    guint64 used = dict_u64 (dict, "mem-used", &found);
    if (found) {
        g_autofree char *value = g_strdup_printf ("%" G_GUINT64_FORMAT, used);
        box_line (guest, "boxlite_box_guest_memory_used_bytes", box, NULL, value);
    }
}

static void
prometheus (BlServeCall *call)
{
    static const char *const states[] = { "configured", "running", "stopped", "crashed", "paused" };
    g_autoptr (GError) error = NULL;
    GList *boxes = boxlite_runtime_list (bl_serve_get_runtime (call->serve), &error);
    GString *out = g_string_new (NULL);
    g_autoptr (GString) bytes = g_string_new (NULL);
    g_autoptr (GString) verdicts = g_string_new (NULL);
    g_autoptr (GString) memory = g_string_new (NULL);
    g_autoptr (GString) cpu = g_string_new (NULL);
    g_autoptr (GString) guest = g_string_new (NULL);
    guint by_state[G_N_ELEMENTS (states)] = { 0 };

    if (error) {
        g_string_free (out, TRUE);
        bl_serve_reply_gerror (call, error);
        return;
    }
    for (GList *l = boxes; l; l = l->next) {
        BoxliteBoxState state = boxlite_box_get_state (l->data);
        if (state < G_N_ELEMENTS (states))
            by_state[state]++;
        write_net (bytes, verdicts, l->data);
        if (state == BOXLITE_BOX_STATE_RUNNING)
            write_resources (memory, cpu, guest, l->data);
    }
    g_string_append (out, "# HELP boxlite_boxes Boxes of this home by state.\n"
                          "# TYPE boxlite_boxes gauge\n");
    for (guint i = 0; i < G_N_ELEMENTS (states); i++)
        g_string_append_printf (out, "boxlite_boxes{state=\"%s\"} %u\n", state_label (i),
                                by_state[i]);
    bl_serve_stats_write (bl_serve_get_stats (call->serve), out);
    g_string_append_printf (
        out,
        "# HELP boxlite_box_network_bytes_total Ethernet bytes to (in) and from (out) a box's "
        "guest since its first start.\n# TYPE boxlite_box_network_bytes_total counter\n%s"
        "# HELP boxlite_box_network_verdicts_total Decisions of a box's network filter.\n"
        "# TYPE boxlite_box_network_verdicts_total counter\n%s"
        "# HELP boxlite_box_memory_bytes Resident memory of a running box's processes.\n"
        "# TYPE boxlite_box_memory_bytes gauge\n%s"
        "# HELP boxlite_box_cpu_seconds_total CPU time of a running box's processes since its "
        "start.\n# TYPE boxlite_box_cpu_seconds_total counter\n%s"
        "# HELP boxlite_box_guest_memory_used_bytes Memory in use as the guest reports it.\n"
        "# TYPE boxlite_box_guest_memory_used_bytes gauge\n%s",
        bytes->str, verdicts->str, memory->str, cpu->str, guest->str);
    g_list_free_full (boxes, g_object_unref);
    bl_serve_reply_bytes (call, SOUP_STATUS_OK, "text/plain; version=0.0.4",
                          g_string_free_to_bytes (out));
}

static void
runtime_metrics (BlServeCall *call)
{
    g_autoptr (GError) error = NULL;
    GList *boxes = boxlite_runtime_list (bl_serve_get_runtime (call->serve), &error);
    g_autoptr (JsonBuilder) b = json_builder_new ();
    guint running = 0;

    if (error) {
        bl_serve_reply_gerror (call, error);
        return;
    }
    for (GList *l = boxes; l; l = l->next)
        running += boxlite_box_get_state (l->data) == BOXLITE_BOX_STATE_RUNNING;
    g_list_free_full (boxes, g_object_unref);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "num_running_boxes");
    json_builder_add_int_value (b, running);
    json_builder_end_object (b);
    bl_serve_reply_builder (call, SOUP_STATUS_OK, b);
}

static void
add_nullable (JsonBuilder *b, const char *name, GVariantDict *dict, const char *key)
{
    guint64 value;

    json_builder_set_member_name (b, name);
    if (dict && g_variant_dict_lookup (dict, key, "t", &value))
        json_builder_add_int_value (b, (gint64) value);
    else
        json_builder_add_null_value (b);
}

static void
box_metrics (BlServeCall *call)
{
    g_autoptr (BoxliteBox) box = bl_serve_find_box (call);
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) sample = NULL;
    g_autoptr (GVariantDict) dict = NULL;
    g_autoptr (JsonBuilder) b = json_builder_new ();

    if (!box)
        return;
    if (boxlite_box_get_state (box) == BOXLITE_BOX_STATE_RUNNING) {
        sample = boxlite_box_get_metrics (box, NULL, &error);
        if (!sample) {
            bl_serve_reply_gerror (call, error);
            return;
        }
        dict = g_variant_dict_new (sample);
    }
    json_builder_begin_object (b);
    bl_serve_stats_add_box (bl_serve_get_stats (call->serve), boxlite_box_get_id (box), b);
    json_builder_set_member_name (b, "cpu_percent");
    json_builder_add_null_value (b);
    add_nullable (b, "memory_bytes", dict, "qemu-rss");
    add_nullable (b, "network_bytes_sent", dict, "net-bytes-in");
    add_nullable (b, "network_bytes_received", dict, "net-bytes-out");
    json_builder_set_member_name (b, "network_tcp_connections");
    json_builder_add_null_value (b);
    json_builder_set_member_name (b, "network_tcp_errors");
    json_builder_add_null_value (b);
    /* Everything the library sampled, under its own names. */
    json_builder_set_member_name (b, "sample");
    if (sample)
        json_builder_add_value (b, json_gvariant_serialize (sample));
    else
        json_builder_add_null_value (b);
    json_builder_end_object (b);
    bl_serve_reply_builder (call, SOUP_STATUS_OK, b);
}

const BlServeRoute bl_serve_metrics_routes[] = {
    { "GET", "/metrics", runtime_metrics, 0 },
    { "GET", "/boxes/*/metrics", box_metrics, 0 },
};
const guint bl_serve_metrics_n_routes = G_N_ELEMENTS (bl_serve_metrics_routes);

const BlServeRoute bl_serve_prometheus_routes[] = {
    { "GET", "/metrics", prometheus, 0 },
};
const guint bl_serve_prometheus_n_routes = G_N_ELEMENTS (bl_serve_prometheus_routes);

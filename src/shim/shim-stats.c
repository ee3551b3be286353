/* shim-stats.c: the control request "stats": what the box costs the host
 * and what its guest says about itself.
 *
 * Three sources answer it: /proc for the monitor's own processes (read as
 * the answer leaves), QEMU's "query-blockstats" and the agent's "stats"
 * session request. The answer waits for the last two, but never longer than
 * SHIM_STATS_TIMEOUT_MS: a guest that does not answer loses its part, not
 * the host's. The agent's figures are relayed as they came; the library,
 * which turns them into the caller's values, checks them.
 */
#define G_LOG_DOMAIN "boxlite-shim"

#include <unistd.h>

#include "shim.h"

typedef struct {
    Shim *shim;
    BlFrameConn *reply_to;
    JsonNode *disk;    /* the summed blockstats, once QEMU answered */
    JsonNode *guest;   /* the agent's "return" object, once it answered */
    guint pending;     /* answers still to come (QEMU, agent) */
    guint timer;       /* answers without what has not come in time */
    gboolean answered; /* the client has its reply */
    gint refs;
} StatsRequest;

static StatsRequest *
stats_ref (StatsRequest *req)
{
    req->refs++;
    return req;
}

static void
stats_unref (StatsRequest *req)
{
    if (--req->refs > 0)
        return;
    g_clear_handle_id (&req->timer, g_source_remove);
    g_clear_object (&req->reply_to);
    g_clear_pointer (&req->disk, json_node_unref);
    g_clear_pointer (&req->guest, json_node_unref);
    g_free (req);
}

/* Resident bytes and CPU time (user + system, ns) of @pid from
 * /proc/PID/stat; FALSE when it cannot be read. */
static gboolean
read_proc_stat (GPid pid, guint64 *rss, guint64 *cpu_ns)
{
    g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
    g_autofree char *text = NULL;

    if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL))
        return FALSE;
    /* The command name may hold spaces and parentheses: fields count from
     * the last ')'. */
    const char *p = strrchr (text, ')');
    if (!p)
        return FALSE;
    g_auto (GStrv) fields = g_strsplit (p + 2, " ", 0);
    /* fields[0] is field 3 (state): utime is 14, stime 15, rss 24. */
    if (g_strv_length (fields) < 22)
        return FALSE;
    guint64 utime = g_ascii_strtoull (fields[11], NULL, 10);
    guint64 stime = g_ascii_strtoull (fields[12], NULL, 10);
    guint64 pages = g_ascii_strtoull (fields[21], NULL, 10);
    long ticks = sysconf (_SC_CLK_TCK);
    long page = sysconf (_SC_PAGESIZE);
    *cpu_ns =
        (utime + stime) * (G_GUINT64_CONSTANT (1000000000) / (guint64) (ticks > 0 ? ticks : 100));
    *rss = pages * (guint64) (page > 0 ? page : 4096);
    return TRUE;
}

static void
add_process (JsonBuilder *b, const char *name, GPid pid)
{
    guint64 rss = 0, cpu_ns = 0;

    if (!read_proc_stat (pid, &rss, &cpu_ns))
        return;
    json_builder_set_member_name (b, name);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "rss");
    json_builder_add_int_value (b, (gint64) rss);
    json_builder_set_member_name (b, "cpu_ns");
    json_builder_add_int_value (b, (gint64) cpu_ns);
    json_builder_end_object (b);
}

static void
answer (StatsRequest *req)
{
    Shim *shim = req->shim;
    g_autoptr (JsonBuilder) b = json_builder_new ();

    if (req->answered)
        return;
    req->answered = TRUE;
    g_clear_handle_id (&req->timer, g_source_remove);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "processes");
    json_builder_begin_object (b);
    add_process (b, "qemu", shim->qemu_running ? shim->qemu_pid : 0);
    add_process (b, "monitor", getpid ());
    add_process (b, "net", shim->net_running ? shim->net_pid : 0);
    json_builder_end_object (b);
    if (req->disk) {
        json_builder_set_member_name (b, "disk");
        json_builder_add_value (b, json_node_copy (req->disk));
    }
    if (req->guest) {
        json_builder_set_member_name (b, "guest");
        json_builder_add_value (b, json_node_copy (req->guest));
    }
    json_builder_end_object (b);
    g_autoptr (JsonNode) ret = json_builder_get_root (b);
    if (!bl_frame_conn_is_closed (req->reply_to))
        shim_control_reply (req->reply_to, 0, ret);
}

static void
one_answered (StatsRequest *req)
{
    if (--req->pending == 0)
        answer (req);
    stats_unref (req);
}

static gboolean
on_timeout (gpointer data)
{
    StatsRequest *req = data;

    req->timer = 0;
    answer (req);
    return G_SOURCE_REMOVE;
}

/* A non-negative integer member of a QEMU answer, or 0: QEMU runs the
 * guest's code and is not trusted with more than a number. */
static guint64
qemu_count (JsonObject *obj, const char *name)
{
    gint64 v = 0;

    return shim_json_get_int (obj, name, 0, &v) && v > 0 ? (guint64) v : 0;
}

/* Sums the counters of every block device of the box. */
static JsonNode *
sum_blockstats (JsonNode *ret)
{
    static const char *const qemu_names[] = { "rd_bytes", "wr_bytes", "rd_operations",
                                              "wr_operations" };
    static const char *const names[] = { "read_bytes", "write_bytes", "read_ops", "write_ops" };
    guint64 sums[G_N_ELEMENTS (names)] = { 0 };
    g_autoptr (JsonBuilder) b = json_builder_new ();

    if (!JSON_NODE_HOLDS_ARRAY (ret))
        return NULL;
    JsonArray *devices = json_node_get_array (ret);
    for (guint i = 0; i < json_array_get_length (devices); i++) {
        JsonNode *dev = json_array_get_element (devices, i);
        if (!JSON_NODE_HOLDS_OBJECT (dev))
            continue;
        JsonNode *stats = json_object_get_member (json_node_get_object (dev), "stats");
        if (!stats || !JSON_NODE_HOLDS_OBJECT (stats))
            continue;
        for (guint k = 0; k < G_N_ELEMENTS (names); k++)
            sums[k] += qemu_count (json_node_get_object (stats), qemu_names[k]);
    }
    json_builder_begin_object (b);
    for (guint k = 0; k < G_N_ELEMENTS (names); k++) {
        json_builder_set_member_name (b, names[k]);
        json_builder_add_int_value (b, (gint64) MIN (sums[k], (guint64) G_MAXINT64));
    }
    json_builder_end_object (b);
    return json_builder_get_root (b);
}

static void
on_blockstats (GObject *source, GAsyncResult *res, gpointer user_data)
{
    StatsRequest *req = user_data;
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) ret = bl_qmp_client_execute_finish (BL_QMP_CLIENT (source), res, &error);

    if (ret)
        req->disk = sum_blockstats (ret);
    else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_message ("query-blockstats: %s", error->message);
    one_answered (req);
}

void
shim_stats_guest_reply (Shim *shim, JsonObject *msg)
{
    StatsRequest *req = g_queue_pop_head (&shim->stats_waiting);
    JsonNode *ret = json_object_get_member (msg, "return");

    if (!req)
        return;
    if (ret && JSON_NODE_HOLDS_OBJECT (ret))
        req->guest = json_node_copy (ret);
    one_answered (req);
}

void
shim_stats_request (ShimClient *client)
{
    Shim *shim = client->shim;
    StatsRequest *req = g_new0 (StatsRequest, 1);

    req->shim = shim;
    req->reply_to = g_object_ref (client->conn);
    req->refs = 1;
    req->pending = 1; /* this function's own, dropped at the end */
    if (shim->qmp && bl_qmp_client_is_connected (shim->qmp)) {
        req->pending++;
        bl_qmp_client_execute_async (shim->qmp, "query-blockstats", NULL, shim->cancellable,
                                     on_blockstats, stats_ref (req));
    }
    /* A paused guest cannot answer: it is not asked, rather than waited for. */
    if (shim->booted && shim->state == BOXLITE_BOX_STATE_RUNNING &&
        shim_agent_send_request (shim, 0, "stats", NULL)) {
        req->pending++;
        g_queue_push_tail (&shim->agent_replies, GINT_TO_POINTER (SHIM_AGENT_REPLY_STATS));
        g_queue_push_tail (&shim->stats_waiting, stats_ref (req));
    }
    req->timer = g_timeout_add (SHIM_STATS_TIMEOUT_MS, on_timeout, req);
    one_answered (req);
}

void
shim_stats_clear (Shim *shim)
{
    StatsRequest *req;

    while ((req = g_queue_pop_head (&shim->stats_waiting)))
        stats_unref (req);
}

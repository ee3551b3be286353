/* ctr-task-info.c: the Task service's queries: State, Pids, Stats and
 * Connect. Stats answers in the cgroups v1 Metrics message `ctr task
 * metrics` decodes, filled from the box's own figures (the VM's memory and
 * CPU time as the host counts them). */
#define G_LOG_DOMAIN "boxlite-ctr"

#include <unistd.h>

#include "any.pb-c.h"
#include "cgroups-metrics.pb-c.h"
#include "ctr.h"
#include "shim.pb-c.h"

void
bl_ctr_task_state (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg)
{
    const Containerd__Task__V2__StateRequest *req =
        (const Containerd__Task__V2__StateRequest *) *msg;

    BlCtrProcess *process = bl_ctr_task_lookup (shim, conn, stream_id, req->id, req->exec_id);
    if (process) {
        Containerd__Task__V2__StateResponse response = CONTAINERD__TASK__V2__STATE_RESPONSE__INIT;
        Google__Protobuf__Timestamp at = bl_ctr_timestamp (process->exited_at);
        gboolean paused = process->status == BL_CTR_RUNNING && shim->box &&
                          boxlite_box_get_state (shim->box) == BOXLITE_BOX_STATE_PAUSED;
        response.id = process->container->id;
        response.bundle = process->container->bundle ? process->container->bundle : "";
        response.pid = process->pid;
        response.status = paused ? BL_CTR_PAUSED : (Containerd__V1__Types__Status) process->status;
        response.stdin = process->stdin_path;
        response.stdout = process->stdout_path;
        response.stderr = process->stderr_path;
        response.terminal = process->spec->terminal;
        response.exit_status = process->exit_status;
        response.exited_at = &at;
        response.exec_id = process->exec_id;
        bl_ctr_reply (conn, stream_id, &response.base);
    }
}

void
bl_ctr_task_pids (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg)
{
    const Containerd__Task__V2__PidsRequest *req = (const Containerd__Task__V2__PidsRequest *) *msg;

    BlCtrProcess *init = bl_ctr_task_lookup (shim, conn, stream_id, req->id, "");
    if (init) {
        g_autoptr (GArray) infos =
            g_array_new (FALSE, TRUE, sizeof (Containerd__V1__Types__ProcessInfo));
        g_autoptr (GPtrArray) pointers = g_ptr_array_new ();
        GHashTableIter iter;
        gpointer value;
        g_hash_table_iter_init (&iter, init->container->processes);
        while (g_hash_table_iter_next (&iter, NULL, &value)) {
            BlCtrProcess *process = value;
            if (process->status != BL_CTR_RUNNING || !process->pid)
                continue;
            Containerd__V1__Types__ProcessInfo info = CONTAINERD__V1__TYPES__PROCESS_INFO__INIT;
            info.pid = process->pid;
            g_array_append_val (infos, info);
        }
        for (guint i = 0; i < infos->len; i++)
            g_ptr_array_add (pointers,
                             &g_array_index (infos, Containerd__V1__Types__ProcessInfo, i));
        Containerd__Task__V2__PidsResponse response = CONTAINERD__TASK__V2__PIDS_RESPONSE__INIT;
        response.n_processes = pointers->len;
        response.processes = (Containerd__V1__Types__ProcessInfo **) pointers->pdata;
        bl_ctr_reply (conn, stream_id, &response.base);
    }
}

static guint64
metric (GVariant *metrics, const char *key)
{
    guint64 value = 0;

    g_variant_lookup (metrics, key, "t", &value);
    return value;
}

/* The reply to Stats from the box's figures. */
static void
reply_metrics (BlTtrpcConn *conn, guint32 stream_id, GVariant *metrics)
{
    Io__Containerd__Cgroups__V1__Metrics out = IO__CONTAINERD__CGROUPS__V1__METRICS__INIT;
    Io__Containerd__Cgroups__V1__MemoryStat memory = IO__CONTAINERD__CGROUPS__V1__MEMORY_STAT__INIT;
    Io__Containerd__Cgroups__V1__MemoryEntry usage =
        IO__CONTAINERD__CGROUPS__V1__MEMORY_ENTRY__INIT;
    Io__Containerd__Cgroups__V1__CPUStat cpu = IO__CONTAINERD__CGROUPS__V1__CPUSTAT__INIT;
    Io__Containerd__Cgroups__V1__CPUUsage cpu_usage = IO__CONTAINERD__CGROUPS__V1__CPUUSAGE__INIT;

    usage.usage = metric (metrics, "qemu-rss") + metric (metrics, "monitor-rss") +
                  metric (metrics, "net-rss");
    memory.usage = &usage;
    cpu_usage.total = metric (metrics, "qemu-cpu-ns") + metric (metrics, "monitor-cpu-ns") +
                      metric (metrics, "net-cpu-ns");
    cpu.usage = &cpu_usage;
    out.memory = &memory;
    out.cpu = &cpu;
    gsize size = protobuf_c_message_get_packed_size (&out.base);
    g_autofree guint8 *buf = g_malloc (size ? size : 1);
    protobuf_c_message_pack (&out.base, buf);

    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    any.type_url = "io.containerd.cgroups.v1.Metrics";
    any.value.data = buf;
    any.value.len = size;
    Containerd__Task__V2__StatsResponse response = CONTAINERD__TASK__V2__STATS_RESPONSE__INIT;
    response.stats = &any;
    bl_ctr_reply (conn, stream_id, &response.base);
}

typedef struct {
    BlTtrpcConn *conn;
    guint32 stream_id;
} StatsCall;

static void
on_metrics (GObject *source, GAsyncResult *res, gpointer user_data)
{
    StatsCall *call = user_data;
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) metrics =
        boxlite_box_get_metrics_finish (BOXLITE_BOX (source), res, &error);

    if (metrics)
        reply_metrics (call->conn, call->stream_id, metrics);
    else
        bl_ctr_reply_error (call->conn, call->stream_id, BL_TTRPC_FAILED_PRECONDITION, "%s",
                            error->message);
    g_object_unref (call->conn);
    g_free (call);
}

/* Asynchronous: the guest's part of the figures may take seconds, and the
 * kubelet asks often; other requests go on meanwhile. */
void
bl_ctr_task_stats (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg)
{
    const Containerd__Task__V2__StatsRequest *req =
        (const Containerd__Task__V2__StatsRequest *) *msg;

    if (!bl_ctr_task_lookup (shim, conn, stream_id, req->id, ""))
        return;
    if (!shim->box) {
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_FAILED_PRECONDITION, "the task has no box");
        return;
    }
    StatsCall *call = g_new0 (StatsCall, 1);
    call->conn = g_object_ref (conn);
    call->stream_id = stream_id;
    boxlite_box_get_metrics_async (shim->box, NULL, on_metrics, call);
}

void
bl_ctr_task_connect (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg)
{
    const Containerd__Task__V2__ConnectRequest *req =
        (const Containerd__Task__V2__ConnectRequest *) *msg;

    BlCtrProcess *init = bl_ctr_task_lookup (shim, conn, stream_id, req->id, "");
    if (init) {
        Containerd__Task__V2__ConnectResponse response =
            CONTAINERD__TASK__V2__CONNECT_RESPONSE__INIT;
        response.shim_pid = (guint32) getpid ();
        response.task_pid = init->pid;
        response.version = "boxlite " BOXLITE_VERSION;
        bl_ctr_reply (conn, stream_id, &response.base);
    }
}

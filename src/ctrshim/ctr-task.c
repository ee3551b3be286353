/* ctr-task.c: the Task service's lifecycle methods: Create boots the box
 * (or, for a pod's member, joins the pod's), Start and Exec run processes
 * in it, Kill, Wait, CloseIO and ResizePty act on one, Delete and Shutdown
 * take it all down. The queries (State, Pids, Stats, Connect) are in
 * ctr-task-info.c.
 *
 * Requests name the container by id: one this shim does not serve is
 * refused, as is any payload that does not decode as the method's message.
 */
#define G_LOG_DOMAIN "boxlite-ctr"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "ctr.h"
#include "os-error.h"
#include <boxlite/boxlite-error.h>
#include "shim.pb-c.h"
#include "task-events.pb-c.h"

/* The box a task gets when its spec sets no limits: the library's own
 * defaults apply; this is the least memory a box accepts. */
#define MIN_MEMORY_MIB 128
/* The most containers one pod's shim takes. */
#define MAX_CONTAINERS 64

typedef struct {
    BlCtrShim *shim;
    BlTtrpcConn *conn;
    guint32 stream_id;
    BlCtrProcess *process;
} Call;

static Call *
call_new (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id)
{
    Call *call = g_new0 (Call, 1);

    call->shim = shim;
    call->conn = g_object_ref (conn);
    call->stream_id = stream_id;
    return call;
}

static void
call_free (Call *call)
{
    g_object_unref (call->conn);
    g_free (call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Call, call_free)

static void
reply_gerror (Call *call, BlTtrpcCode code, const GError *error)
{
    bl_ctr_reply_error (call->conn, call->stream_id, code, "%s", error->message);
}

BlCtrProcess *
bl_ctr_task_lookup (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, const char *id,
                    const char *exec_id)
{
    BlCtrProcess *process = NULL;
    BlCtrContainer *container = g_hash_table_lookup (shim->containers, id);

    if (!container)
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_NOT_FOUND, "task %s: %s", id,
                            g_str_equal (id, shim->flags.id) ? "not found" : "not this shim's");
    else if (!(process = g_hash_table_lookup (container->processes, exec_id)))
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_NOT_FOUND, "task %s process '%s': not found",
                            id, exec_id);
    return process;
}

static void
publish_simple (BlCtrShim *shim, const char *topic, const char *type, BlCtrProcess *process)
{
    const char *exec_id = process->exec_id;
    guint32 pid = process->pid;

    if (g_str_equal (topic, "/tasks/start")) {
        Containerd__Events__TaskStart event = CONTAINERD__EVENTS__TASK_START__INIT;
        event.container_id = process->container->id;
        event.pid = pid;
        bl_ctr_publish (shim, topic, type, &event.base);
    } else {
        Containerd__Events__TaskExecStarted event = CONTAINERD__EVENTS__TASK_EXEC_STARTED__INIT;
        event.container_id = process->container->id;
        event.exec_id = (char *) exec_id;
        event.pid = pid;
        bl_ctr_publish (shim, topic, type, &event.base);
    }
}

/* ---- Create ---- */

/* Whether @a and @b name one existing folder (the working directory that
 * `start` saw has its links resolved; containerd's path may not). */
static gboolean
same_folder (const char *a, const char *b)
{
    g_autofree char *real_a = a ? realpath (a, NULL) : NULL;
    g_autofree char *real_b = b ? realpath (b, NULL) : NULL;

    return real_a && real_b && g_str_equal (real_a, real_b);
}

typedef struct {
    Call *call;
    BlCtrSpec *spec;
    BlCtrContainer *container; /* in shim->containers from the start */
    Containerd__Task__V2__CreateTaskRequest *request;
} CreateCall;

static void
create_call_free (CreateCall *create)
{
    call_free (create->call);
    bl_ctr_spec_free (create->spec);
    bl_ctr_message_free (&create->request->base);
    g_free (create);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CreateCall, create_call_free)

/* Undoes a Create that failed half way: the container goes, and with the
 * container that owned it, the box. */
static void
create_failed (CreateCall *create, const GError *error)
{
    BlCtrShim *shim = create->call->shim;
    BlCtrContainer *container = create->container;
    g_autoptr (GError) local = NULL;

    if (container->pod_role != BL_CTR_POD_CONTAINER) {
        g_clear_object (&shim->box);
        g_clear_object (&shim->runtime);
        if (!bl_ctr_cleanup_home (shim->home, &local))
            g_warning ("%s", local->message);
        g_clear_error (&local);
    }
    if (!bl_ctr_pod_unshare (container, &local) ||
        (container->rootfs && !bl_ctr_rootfs_unmount (container->rootfs, &local)))
        g_warning ("%s", local->message);
    g_hash_table_remove (shim->containers, container->id);
    reply_gerror (create->call, BL_TTRPC_INTERNAL, error);
}

/* The container's init process is there, not yet started: say so. */
static void
created (CreateCall *create)
{
    BlCtrShim *shim = create->call->shim;
    Containerd__Task__V2__CreateTaskRequest *req = create->request;
    BlCtrProcess *init =
        bl_ctr_process_new (shim, create->container, "", g_steal_pointer (&create->spec),
                            req->stdin, req->stdout, req->stderr);

    init->spec->terminal = req->terminal;
    init->pid = (guint32) MAX (boxlite_box_get_monitor_pid (shim->box), 0);
    g_hash_table_insert (create->container->processes, init->exec_id, init);

    Containerd__Task__V2__CreateTaskResponse response =
        CONTAINERD__TASK__V2__CREATE_TASK_RESPONSE__INIT;
    response.pid = init->pid;
    bl_ctr_reply (create->call->conn, create->call->stream_id, &response.base);

    Containerd__Events__TaskCreate event = CONTAINERD__EVENTS__TASK_CREATE__INIT;
    Containerd__Events__TaskIO io = CONTAINERD__EVENTS__TASK_IO__INIT;
    io.stdin = req->stdin;
    io.stdout = req->stdout;
    io.stderr = req->stderr;
    io.terminal = req->terminal;
    event.container_id = create->container->id;
    event.bundle = req->bundle;
    event.io = &io;
    event.pid = init->pid;
    bl_ctr_publish (shim, "/tasks/create", "containerd.events.TaskCreate", &event.base);
}

static void
on_box_started (GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr (CreateCall) create = user_data;
    g_autoptr (GError) error = NULL;

    if (!boxlite_box_start_finish (BOXLITE_BOX (source), res, &error)) {
        g_prefix_error (&error, "cannot start the box: ");
        create_failed (create, error);
        return;
    }
    created (create);
}

static void
on_box_created (GObject *source, GAsyncResult *res, gpointer user_data)
{
    CreateCall *create = user_data;
    BlCtrShim *shim = create->call->shim;
    g_autoptr (GError) error = NULL;

    shim->box = boxlite_runtime_create_finish (BOXLITE_RUNTIME (source), res, &error);
    if (!shim->box) {
        g_prefix_error (&error, "cannot create the box: ");
        create_failed (create, error);
        create_call_free (create);
        return;
    }
    boxlite_box_start_async (shim->box, NULL, on_box_started, create);
}

static BoxliteBoxOptions *
box_options (const char *rootfs, const BlCtrSpec *spec)
{
    BoxliteBoxOptions *options = boxlite_box_options_new ();

    boxlite_box_options_set_rootfs (options, rootfs);
    if (spec->cpus)
        boxlite_box_options_set_cpus (options, MIN (spec->cpus, (guint) g_get_num_processors ()));
    if (spec->memory_mib)
        boxlite_box_options_set_memory_mib (options, MAX (spec->memory_mib, MIN_MEMORY_MIB));
    if (spec->network_off)
        boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
    else if (spec->allow_net)
        boxlite_box_options_set_allow_net (options, (const char *const *) spec->allow_net);
    return options;
}

/* Mounts the snapshot containerd names on BUNDLE/rootfs. */
static gboolean
mount_rootfs (CreateCall *create, GError **error)
{
    Containerd__Task__V2__CreateTaskRequest *req = create->request;
    g_autofree BlCtrMount *mounts = g_new0 (BlCtrMount, req->n_rootfs + 1);

    for (gsize i = 0; i < req->n_rootfs; i++) {
        mounts[i].type = req->rootfs[i]->type;
        mounts[i].source = req->rootfs[i]->source;
    }
    g_autofree char *rootfs = g_build_filename (req->bundle, "rootfs", NULL);
    /* The options array of protobuf-c is not NULL-terminated. */
    g_autoptr (GPtrArray) option_lists = g_ptr_array_new_with_free_func (g_free);
    for (gsize i = 0; i < req->n_rootfs; i++) {
        char **list = g_new0 (char *, req->rootfs[i]->n_options + 1);
        memcpy (list, req->rootfs[i]->options, req->rootfs[i]->n_options * sizeof (char *));
        mounts[i].options = list;
        g_ptr_array_add (option_lists, list);
    }
    if (!bl_ctr_rootfs_mount (rootfs, mounts, req->n_rootfs, error))
        return FALSE;
    create->container->rootfs = g_steal_pointer (&rootfs);
    return TRUE;
}

/* Opens the task's runtime and checks the box's options; a pod's box gets
 * the share its members' roots will appear in. */
static gboolean
prepare_box (BlCtrShim *shim, CreateCall *create, BoxliteBoxOptions **options_out, GError **error)
{
    if (!mount_rootfs (create, error))
        return FALSE;
    if (g_mkdir_with_parents (shim->home, 0700) < 0)
        return bl_os_error (error, errno, "create", shim->home);
    g_autoptr (BoxliteOptions) runtime_options = boxlite_options_new ();
    boxlite_options_set_home_dir (runtime_options, shim->home);
    shim->runtime = boxlite_runtime_new (runtime_options, error);
    if (!shim->runtime)
        return FALSE;
    *options_out = box_options (create->container->rootfs, create->spec);
    if (create->container->pod_role == BL_CTR_POD_SANDBOX) {
        /* QEMU runs as its own user, which must reach the share. */
        g_autofree char *share = bl_ctr_pod_share_dir (shim->home);
        if (chmod (shim->home, 0711) < 0 || (mkdir (share, 0755) < 0 && errno != EEXIST))
            return bl_os_error (error, errno, "create", share);
        g_autofree char *volume =
            g_strconcat (share, ":" BL_CTR_POD_GUEST_SHARE ":ro,owners", NULL);
        const char *const volumes[] = { volume, NULL };
        g_object_set (*options_out, "volumes", volumes, NULL);
    }
    return boxlite_box_options_validate (*options_out, error);
}

/* Whether @bundle is a pod member's that may join this shim's box: the
 * CRI says so, the pod's sandbox runs here, and the bundle lies beside the
 * sandbox's, named after the container, as containerd lays bundles out. */
static gboolean
may_join (BlCtrShim *shim, const char *id, const char *bundle, const BlCtrSpec *spec,
          GError **error)
{
    BlCtrContainer *sandbox = g_hash_table_lookup (shim->containers, shim->flags.group);
    g_autofree char *dir = g_path_get_dirname (bundle);
    g_autofree char *own_dir = g_path_get_dirname (shim->flags.bundle);
    g_autofree char *name = g_path_get_basename (bundle);

    /* The id names the member's share and its root in the guest. */
    if (!bl_ctr_id_valid (id))
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "task id '%.64s' cannot name a pod's member", id);
    else if (spec->pod_role != BL_CTR_POD_CONTAINER ||
             g_strcmp0 (spec->sandbox_id, shim->flags.group))
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "task %s: this shim serves the pod %s", id, shim->flags.group);
    else if (!sandbox || sandbox->pod_role != BL_CTR_POD_SANDBOX || !shim->box)
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE,
                     "task %s: the pod's sandbox %s is not running here", id, shim->flags.group);
    else if (!same_folder (dir, own_dir) || !g_str_equal (name, id))
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "bundle %s is not the task's", bundle);
    else if (g_hash_table_size (shim->containers) >= MAX_CONTAINERS)
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE,
                     "the pod has %d containers already", MAX_CONTAINERS);
    else
        return TRUE;
    return FALSE;
}

static void
task_create (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg)
{
    /* Kept until the box runs: its stdio paths and bundle are needed then. */
    Containerd__Task__V2__CreateTaskRequest *req =
        (Containerd__Task__V2__CreateTaskRequest *) g_steal_pointer (msg);
    g_autoptr (GError) error = NULL;

    g_autoptr (CreateCall) create = g_new0 (CreateCall, 1);
    create->call = call_new (shim, conn, stream_id);
    create->request = req;
    if (g_hash_table_contains (shim->containers, req->id)) {
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_ALREADY_EXISTS, "task %s exists", req->id);
        return;
    }
    if (*req->checkpoint) {
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_UNIMPLEMENTED,
                            "restoring a checkpoint is not supported");
        return;
    }
    gboolean first = !shim->runtime && g_hash_table_size (shim->containers) == 0;
    /* The snapshot is mounted in the bundle: for the first container only
     * in the one `start` was given, not wherever a request says. */
    if (first && !g_str_equal (req->id, shim->flags.id)) {
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_INVALID_ARGUMENT,
                            "task %s: this shim serves %s", req->id, shim->flags.id);
        return;
    }
    if (first && !same_folder (req->bundle, shim->flags.bundle)) {
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_INVALID_ARGUMENT,
                            "bundle %s is not this task's", req->bundle);
        return;
    }
    create->spec = bl_ctr_spec_from_config (req->bundle, &error);
    if (!create->spec || (!first && !may_join (shim, req->id, req->bundle, create->spec, &error))) {
        reply_gerror (create->call, BL_TTRPC_INVALID_ARGUMENT, error);
        return;
    }
    /* A container that is its pod's (or its own) box's, or a member. */
    BlCtrPodRole role = first && create->spec->pod_role == BL_CTR_POD_CONTAINER
                            ? BL_CTR_POD_NONE
                            : create->spec->pod_role;
    create->container = bl_ctr_container_new (req->id, req->bundle, role);
    g_hash_table_insert (shim->containers, create->container->id, create->container);
    if (!first) {
        if (!mount_rootfs (create, &error) || !bl_ctr_pod_share (shim, create->container, &error))
            create_failed (create, error);
        else
            created (create);
        return;
    }
    g_autoptr (BoxliteBoxOptions) options = NULL;
    if (!prepare_box (shim, create, &options, &error)) {
        create_failed (create, error);
        return;
    }
    boxlite_runtime_create_async (shim->runtime, options, NULL, NULL, on_box_created,
                                  g_steal_pointer (&create));
}

/* ---- Start ---- */

static void
on_started (GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr (Call) call = user_data;
    BlCtrProcess *process = call->process;
    g_autoptr (GError) error = NULL;

    if (!bl_ctr_process_start_finish (process, res, &error)) {
        reply_gerror (call, BL_TTRPC_INTERNAL, error);
        /* Its waiters (containerd waits before it starts) hear of it. */
        bl_ctr_process_exited (process, 255);
        return;
    }
    Containerd__Task__V2__StartResponse response = CONTAINERD__TASK__V2__START_RESPONSE__INIT;
    response.pid = process->pid;
    bl_ctr_reply (call->conn, call->stream_id, &response.base);
    if (*process->exec_id)
        publish_simple (call->shim, "/tasks/exec-started", "containerd.events.TaskExecStarted",
                        process);
    else
        publish_simple (call->shim, "/tasks/start", "containerd.events.TaskStart", process);
}

static void
task_start (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg)
{
    const Containerd__Task__V2__StartRequest *req =
        (const Containerd__Task__V2__StartRequest *) *msg;

    BlCtrProcess *process = bl_ctr_task_lookup (shim, conn, stream_id, req->id, req->exec_id);
    if (process && process->status != BL_CTR_CREATED) {
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_FAILED_PRECONDITION,
                            "process '%s' was started already", req->exec_id);
    } else if (process) {
        Call *call = call_new (shim, conn, stream_id);
        call->process = process;
        /* Started once: a second Start while this one runs is refused. */
        process->status = BL_CTR_RUNNING;
        bl_ctr_process_start (process, on_started, call);
    }
}

/* ---- Exec ---- */

static void
task_exec (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg)
{
    const Containerd__Task__V2__ExecProcessRequest *req =
        (const Containerd__Task__V2__ExecProcessRequest *) *msg;
    g_autoptr (GError) error = NULL;

    BlCtrProcess *init = bl_ctr_task_lookup (shim, conn, stream_id, req->id, "");
    BlCtrSpec *spec = NULL;
    if (!init) {
        /* answered */
    } else if (!*req->exec_id || strlen (req->exec_id) > 256) {
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_INVALID_ARGUMENT, "bad exec id");
    } else if (g_hash_table_contains (init->container->processes, req->exec_id)) {
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_ALREADY_EXISTS, "exec %s exists",
                            req->exec_id);
    } else if (g_hash_table_size (init->container->processes) >= BL_CTR_MAX_PROCESSES) {
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_FAILED_PRECONDITION, "too many processes");
    } else if (init->status != BL_CTR_RUNNING) {
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_FAILED_PRECONDITION,
                            "the task is not running");
    } else if (!req->spec || !(spec = bl_ctr_spec_from_process_json (
                                   req->spec->value.data, req->spec->value.len, &error))) {
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_INVALID_ARGUMENT, "exec spec: %s",
                            error ? error->message : "missing");
    } else {
        spec->terminal = req->terminal;
        BlCtrProcess *process = bl_ctr_process_new (shim, init->container, req->exec_id, spec,
                                                    req->stdin, req->stdout, req->stderr);
        g_hash_table_insert (init->container->processes, process->exec_id, process);
        bl_ctr_reply (conn, stream_id, NULL);
        Containerd__Events__TaskExecAdded event = CONTAINERD__EVENTS__TASK_EXEC_ADDED__INIT;
        event.container_id = init->container->id;
        event.exec_id = req->exec_id;
        bl_ctr_publish (shim, "/tasks/exec-added", "containerd.events.TaskExecAdded", &event.base);
    }
}

/* ---- Kill, Wait, CloseIO, ResizePty ---- */

static void
task_kill (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg)
{
    const Containerd__Task__V2__KillRequest *req = (const Containerd__Task__V2__KillRequest *) *msg;
    g_autoptr (GError) error = NULL;

    BlCtrProcess *process = bl_ctr_task_lookup (shim, conn, stream_id, req->id, req->exec_id);
    if (process && (req->signal == 0 || req->signal >= 65)) {
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_INVALID_ARGUMENT, "bad signal %u",
                            req->signal);
    } else if (process && !bl_ctr_process_kill (process, req->signal, &error)) {
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_NOT_FOUND, "%s", error->message);
    } else if (process) {
        /* "all": every process of the task, the execs too. */
        if (req->all && !*req->exec_id)
            bl_ctr_container_kill_all (process->container, req->signal);
        bl_ctr_reply (conn, stream_id, NULL);
    }
}

static void
task_wait (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg)
{
    const Containerd__Task__V2__WaitRequest *req = (const Containerd__Task__V2__WaitRequest *) *msg;

    BlCtrProcess *process = bl_ctr_task_lookup (shim, conn, stream_id, req->id, req->exec_id);
    if (process)
        bl_ctr_process_add_waiter (process, conn, stream_id);
}

static void
task_close_io (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg)
{
    const Containerd__Task__V2__CloseIORequest *req =
        (const Containerd__Task__V2__CloseIORequest *) *msg;

    BlCtrProcess *process = bl_ctr_task_lookup (shim, conn, stream_id, req->id, req->exec_id);
    if (process) {
        if (req->stdin)
            bl_ctr_process_close_stdin (process);
        bl_ctr_reply (conn, stream_id, NULL);
    }
}

static void
task_resize_pty (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg)
{
    const Containerd__Task__V2__ResizePtyRequest *req =
        (const Containerd__Task__V2__ResizePtyRequest *) *msg;
    g_autoptr (GError) error = NULL;

    BlCtrProcess *process = bl_ctr_task_lookup (shim, conn, stream_id, req->id, req->exec_id);
    /* A client on a terminal of unknown size sends 0 x 0: nothing to do. */
    if (process && (req->width == 0 || req->height == 0))
        bl_ctr_reply (conn, stream_id, NULL);
    else if (process && (!process->execution || process->status != BL_CTR_RUNNING))
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_FAILED_PRECONDITION, "not running");
    else if (process &&
             !boxlite_execution_resize (process->execution, req->height, req->width, &error))
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_INVALID_ARGUMENT, "%s", error->message);
    else if (process)
        bl_ctr_reply (conn, stream_id, NULL);
}

/* ---- Delete, Shutdown ---- */

static void
reply_deleted (BlTtrpcConn *conn, guint32 stream_id, const BlCtrProcess *process)
{
    Containerd__Task__V2__DeleteResponse response = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
    Google__Protobuf__Timestamp at = bl_ctr_timestamp (process->exited_at);

    response.pid = process->pid;
    response.exit_status = process->exit_status;
    response.exited_at = &at;
    bl_ctr_reply (conn, stream_id, &response.base);
}

/* What goes with a container's Delete: a member's share and snapshot, and
 * with the container that owns the box, the box and its home. The box's
 * owner goes last: its box holds the others. */
static gboolean
remove_container (BlCtrShim *shim, BlCtrContainer *container, GError **error)
{
    if (container->pod_role == BL_CTR_POD_CONTAINER) {
        bl_ctr_container_kill_all (container, 9);
    } else if (g_hash_table_size (shim->containers) > 1) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE,
                     "the pod's other containers are still there");
        return FALSE;
    } else {
        g_clear_object (&shim->box);
        g_clear_object (&shim->runtime);
        if (!bl_ctr_cleanup_home (shim->home, error))
            return FALSE;
    }
    if (!bl_ctr_pod_unshare (container, error))
        return FALSE;
    if (container->rootfs && !bl_ctr_rootfs_unmount (container->rootfs, error))
        return FALSE;
    g_clear_pointer (&container->rootfs, g_free);
    return TRUE;
}

static void
task_delete (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg)
{
    const Containerd__Task__V2__DeleteRequest *req =
        (const Containerd__Task__V2__DeleteRequest *) *msg;
    g_autoptr (GError) error = NULL;

    BlCtrProcess *process = bl_ctr_task_lookup (shim, conn, stream_id, req->id, req->exec_id);
    if (process && process->status == BL_CTR_RUNNING) {
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_FAILED_PRECONDITION,
                            "process '%s' is running", req->exec_id);
    } else if (process && !*req->exec_id && !remove_container (shim, process->container, &error)) {
        bl_ctr_reply_error (conn, stream_id,
                            g_error_matches (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE)
                                ? BL_TTRPC_FAILED_PRECONDITION
                                : BL_TTRPC_INTERNAL,
                            "%s", error->message);
    } else if (process) {
        BlCtrContainer *container = process->container;
        reply_deleted (conn, stream_id, process);
        if (!*req->exec_id) {
            Containerd__Events__TaskDelete event = CONTAINERD__EVENTS__TASK_DELETE__INIT;
            Google__Protobuf__Timestamp at = bl_ctr_timestamp (process->exited_at);
            event.container_id = container->id;
            event.id = container->id;
            event.pid = process->pid;
            event.exit_status = process->exit_status;
            event.exited_at = &at;
            bl_ctr_publish (shim, "/tasks/delete", "containerd.events.TaskDelete", &event.base);
            /* Its execs go with it. */
            g_hash_table_remove (shim->containers, container->id);
        } else {
            g_hash_table_remove (container->processes, req->exec_id);
        }
    }
}

static void
task_shutdown (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg)
{
    const Containerd__Task__V2__ShutdownRequest *req =
        (const Containerd__Task__V2__ShutdownRequest *) *msg;

    bl_ctr_reply (conn, stream_id, NULL);
    /* A task not yet deleted keeps its shim, unless told otherwise. */
    if (req->now || g_hash_table_size (shim->containers) == 0)
        bl_ctr_shim_quit_when_idle (shim);
}

/* ---- Pause, Resume ---- */

static void
pause_or_resume (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, const char *id,
                 gboolean pause)
{
    g_autoptr (GError) error = NULL;
    BlCtrProcess *init = bl_ctr_task_lookup (shim, conn, stream_id, id, "");

    if (!init)
        return;
    /* The VM is the pod's: one member cannot stop it alone. */
    if (init->container->pod_role == BL_CTR_POD_CONTAINER) {
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_UNIMPLEMENTED,
                            "a container of a pod is paused with its pod's sandbox");
        return;
    }
    if (!shim->box || !(pause ? boxlite_box_pause (shim->box, NULL, &error)
                              : boxlite_box_resume (shim->box, NULL, &error))) {
        bl_ctr_reply_error (conn, stream_id, BL_TTRPC_FAILED_PRECONDITION, "%s",
                            error ? error->message : "no box");
        return;
    }
    bl_ctr_reply (conn, stream_id, NULL);
    if (pause) {
        Containerd__Events__TaskPaused event = CONTAINERD__EVENTS__TASK_PAUSED__INIT;
        event.container_id = init->container->id;
        bl_ctr_publish (shim, "/tasks/paused", "containerd.events.TaskPaused", &event.base);
    } else {
        Containerd__Events__TaskResumed event = CONTAINERD__EVENTS__TASK_RESUMED__INIT;
        event.container_id = init->container->id;
        bl_ctr_publish (shim, "/tasks/resumed", "containerd.events.TaskResumed", &event.base);
    }
}

static void
task_pause (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg)
{
    const Containerd__Task__V2__PauseRequest *req =
        (const Containerd__Task__V2__PauseRequest *) *msg;

    pause_or_resume (shim, conn, stream_id, req->id, TRUE);
}

static void
task_resume (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg)
{
    const Containerd__Task__V2__ResumeRequest *req =
        (const Containerd__Task__V2__ResumeRequest *) *msg;

    pause_or_resume (shim, conn, stream_id, req->id, FALSE);
}

/* ---- dispatch ---- */

typedef void (*Method) (BlCtrShim *shim, BlTtrpcConn *conn, guint32 stream_id, BlCtrMessage **msg);

#define METHOD(name, fn, msg)                                                                      \
    {                                                                                              \
        name, fn, &containerd__task__v2__##msg##__descriptor                                       \
    }

static const struct {
    const char *name;
    Method method;
    const ProtobufCMessageDescriptor *request;
} methods[] = {
    METHOD ("Create", task_create, create_task_request),
    METHOD ("Start", task_start, start_request),
    METHOD ("Exec", task_exec, exec_process_request),
    METHOD ("Kill", task_kill, kill_request),
    METHOD ("Wait", task_wait, wait_request),
    METHOD ("CloseIO", task_close_io, close_iorequest),
    METHOD ("ResizePty", task_resize_pty, resize_pty_request),
    METHOD ("Delete", task_delete, delete_request),
    METHOD ("Shutdown", task_shutdown, shutdown_request),
    METHOD ("Pause", task_pause, pause_request),
    METHOD ("Resume", task_resume, resume_request),
    METHOD ("State", bl_ctr_task_state, state_request),
    METHOD ("Pids", bl_ctr_task_pids, pids_request),
    METHOD ("Stats", bl_ctr_task_stats, stats_request),
    METHOD ("Connect", bl_ctr_task_connect, connect_request),
};

void
bl_ctr_task_dispatch (BlCtrShim *shim, BlTtrpcConn *conn, BlTtrpcRequest *request)
{
    for (gsize i = 0; i < G_N_ELEMENTS (methods); i++) {
        if (g_str_equal (request->method, methods[i].name)) {
            g_autoptr (BlCtrMessage) msg =
                bl_ctr_unpack (methods[i].request, conn, request->stream_id, request->payload);
            if (msg)
                methods[i].method (shim, conn, request->stream_id, &msg);
            return;
        }
    }
    /* Update and Checkpoint among them. */
    bl_ctr_reply_error (conn, request->stream_id, BL_TTRPC_UNIMPLEMENTED,
                        "%s is not implemented by the boxlite shim", request->method);
}

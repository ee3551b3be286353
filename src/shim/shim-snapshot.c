/* shim-snapshot.c: the control request "snapshot": QEMU moved onto a new
 * overlay while the guest's filesystems are frozen.
 *
 * The client has made BOXDIR/disk.qcow2.new, an empty overlay on a hard
 * link of the disk QEMU writes (src/image/snapshot.c). The steps:
 *
 *   [cont]  a paused box runs again: a guest that does not run cannot freeze
 *   freeze  the agent freezes every writable block-backed filesystem
 *   add-fd  the overlay, opened here, is passed to QEMU, which as another
 *           user could not open it in the box's directory
 *   blockdev-snapshot-sync (mode existing)   QEMU writes the overlay from now
 *           on; the old file is the snapshot, left as the frozen guest had it
 *   rename  disk.qcow2.new over disk.qcow2, only now: QEMU may reopen the old
 *           file by its name while it switches
 *   thaw    [stop]
 *
 * The guest is not trusted to freeze, to answer, or to tell the truth: each
 * answer is awaited for a bounded time and checked for its shape, a freeze
 * that fails or does not come in time fails the snapshot before QEMU is
 * touched, and the thaw is sent on every path after a freeze was asked for
 * (the agent also thaws by itself after BL_PROTO_FREEZE_MAX_MS). What a
 * guest that lies about its freeze gets is a snapshot of its own disk that
 * is as consistent as it made it: nothing of the host depends on it.
 */
#define G_LOG_DOMAIN "boxlite-shim"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "bl_proto.h"
#include "json-file.h"
#include "shim.h"

/* The most filesystems an answer to "freeze" may claim. */
#define MAX_FROZEN 64

typedef enum {
    STEP_RESUME,
    STEP_FREEZE,
    STEP_SWITCH,
    STEP_THAW,
    STEP_PAUSE,
} Step;

struct _ShimSnapshot {
    Shim *shim;
    BlFrameConn *reply_to;
    Step step;
    gboolean was_paused;
    gboolean freeze_asked; /* a thaw is owed to the guest */
    gboolean switched;     /* QEMU writes the new overlay */
    gboolean expired;      /* the agent thawed before the thaw request */
    gint64 filesystems;
    gint64 frozen_at; /* monotonic µs of the freeze's answer */
    gint64 frozen_us;
    gint64 fdset;
    guint timer;
    char *error; /* why it failed, once it has */
};

static void step_freeze (ShimSnapshot *op);
static void step_thaw (ShimSnapshot *op);
static void step_pause (ShimSnapshot *op);
static void remove_fdset (ShimSnapshot *op);

static char *
overlay_path (Shim *shim)
{
    return g_build_filename (shim->box_dir, "disk.qcow2.new", NULL);
}

static void
finish (ShimSnapshot *op)
{
    Shim *shim = op->shim;

    g_clear_handle_id (&op->timer, g_source_remove);
    if (op->error) {
        g_message ("snapshot failed: %s", op->error);
        shim_control_reply_error (op->reply_to, 0, "Failed", op->error);
    } else {
        g_autoptr (JsonBuilder) b = json_builder_new ();
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "frozen_ms");
        json_builder_add_int_value (b, op->frozen_us / 1000);
        json_builder_set_member_name (b, "filesystems");
        json_builder_add_int_value (b, op->filesystems);
        json_builder_set_member_name (b, "expired");
        json_builder_add_boolean_value (b, op->expired);
        json_builder_end_object (b);
        g_autoptr (JsonNode) ret = json_builder_get_root (b);
        g_message ("snapshot taken: %d filesystem(s) frozen for %" G_GINT64_FORMAT " ms",
                   (int) op->filesystems, op->frozen_us / 1000);
        shim_control_reply (op->reply_to, 0, ret);
    }
    if (shim->snapshot == op)
        shim->snapshot = NULL;
    g_object_unref (op->reply_to);
    g_free (op->error);
    g_free (op);
}

/* Records the first failure and takes the way out: a thaw when one is
 * owed, a pause when the box was paused, then the answer. */
static void fail (ShimSnapshot *op, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
fail (ShimSnapshot *op, const char *format, ...)
{
    va_list args;

    if (!op->error) {
        va_start (args, format);
        op->error = g_strdup_vprintf (format, args);
        va_end (args);
    }
    g_clear_handle_id (&op->timer, g_source_remove);
    remove_fdset (op);
    if (op->freeze_asked)
        step_thaw (op);
    else
        step_pause (op);
}

static gboolean
qmp_ready (Shim *shim)
{
    return shim->qmp && bl_qmp_client_is_connected (shim->qmp) && !shim->finished;
}

/* The guest's text in an agent error, bounded. */
static char *
agent_desc (JsonObject *msg)
{
    JsonObject *err = bl_json_member_object (msg, "error");
    const char *desc = bl_json_member_string (err, "desc");
    g_autofree char *valid = g_utf8_make_valid (desc ? desc : "no reason given", -1);

    if (g_utf8_strlen (valid, -1) > 200)
        *g_utf8_offset_to_pointer (valid, 200) = '\0';
    return g_steal_pointer (&valid);
}

static gboolean
get_bool (JsonObject *obj, const char *name, gboolean *out)
{
    JsonNode *node = json_object_get_member (obj, name);

    if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
        return FALSE;
    *out = json_node_get_boolean (node);
    return TRUE;
}

/* Pause again */

static void
on_paused (GObject *source, GAsyncResult *res, gpointer user_data)
{
    ShimSnapshot *op = user_data;
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) ret = bl_qmp_client_execute_finish (BL_QMP_CLIENT (source), res, &error);

    if (!ret && !op->error)
        op->error = g_strdup_printf ("the box could not be paused again: %s", error->message);
    finish (op);
}

static void
step_pause (ShimSnapshot *op)
{
    op->step = STEP_PAUSE;
    if (!op->was_paused || !qmp_ready (op->shim)) {
        finish (op);
        return;
    }
    bl_qmp_client_execute_async (op->shim->qmp, "stop", NULL, NULL, on_paused, op);
}

/* Thaw */

static gboolean
on_thaw_timeout (gpointer user_data)
{
    ShimSnapshot *op = user_data;

    op->timer = 0;
    g_warning ("the guest did not answer the thaw; it thaws by itself within %d ms",
               BL_PROTO_FREEZE_MAX_MS);
    op->frozen_us = g_get_monotonic_time () - op->frozen_at;
    step_pause (op);
    return G_SOURCE_REMOVE;
}

static void
step_thaw (ShimSnapshot *op)
{
    Shim *shim = op->shim;

    op->step = STEP_THAW;
    op->freeze_asked = FALSE;
    if (!shim_agent_send_request (shim, 0, "thaw", NULL)) {
        step_pause (op);
        return;
    }
    g_queue_push_tail (&shim->agent_replies, GINT_TO_POINTER (SHIM_AGENT_REPLY_THAW));
    op->timer = g_timeout_add (SHIM_FREEZE_ANSWER_MS, on_thaw_timeout, op);
}

void
shim_snapshot_thaw_reply (Shim *shim, JsonObject *msg)
{
    ShimSnapshot *op = shim->snapshot;
    JsonObject *ret = bl_json_member_object (msg, "return");
    gint64 thawed = 0;
    gboolean expired = FALSE;

    /* A late answer, after the thaw was given up on, is only logged. */
    if (!op || op->step != STEP_THAW || !op->timer) {
        g_debug ("a thaw answer nobody waits for");
        return;
    }
    g_clear_handle_id (&op->timer, g_source_remove);
    op->frozen_us = g_get_monotonic_time () - op->frozen_at;
    if (!ret || !shim_json_get_int (ret, "thawed", -1, &thawed) || thawed < 0 ||
        thawed > MAX_FROZEN || !get_bool (ret, "expired", &expired)) {
        g_autofree char *desc = ret ? NULL : agent_desc (msg);
        g_warning ("the guest's answer to thaw is not one: %s", desc ? desc : "bad shape");
    } else if (expired) {
        /* Only possible when the whole freeze outlived the agent's bound:
         * the snapshot may hold what was written after the thaw. */
        op->expired = TRUE;
    }
    step_pause (op);
}

/* Switch */

static void
on_fd_removed (GObject *source, GAsyncResult *res, gpointer user_data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) ret = bl_qmp_client_execute_finish (BL_QMP_CLIENT (source), res, &error);

    if (!ret)
        g_debug ("remove-fd: %s", error->message);
}

static void
remove_set (Shim *shim, gint64 fdset)
{
    g_autoptr (JsonObject) args = json_object_new ();

    if (fdset < 0 || !qmp_ready (shim))
        return;
    json_object_set_int_member (args, "fdset-id", fdset);
    bl_qmp_client_execute_async (shim->qmp, "remove-fd", args, NULL, on_fd_removed, NULL);
}

/* After a failure, the overlay's fd set goes. */
static void
remove_fdset (ShimSnapshot *op)
{
    remove_set (op->shim, op->fdset);
    op->fdset = -1;
}

/* QEMU's answer to a step, or NULL once the snapshot failed with @what. */
static JsonNode *
qmp_answer (ShimSnapshot *op, GObject *source, GAsyncResult *res, const char *what)
{
    g_autoptr (GError) error = NULL;
    JsonNode *ret = bl_qmp_client_execute_finish (BL_QMP_CLIENT (source), res, &error);

    if (!ret)
        fail (op, "%s: %s", what, error->message);
    else if (!qmp_ready (op->shim))
        fail (op, "QEMU went away");
    else
        return ret;
    g_clear_pointer (&ret, json_node_unref);
    return NULL;
}

static void
on_switched (GObject *source, GAsyncResult *res, gpointer user_data)
{
    ShimSnapshot *op = user_data;
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) ret = bl_qmp_client_execute_finish (BL_QMP_CLIENT (source), res, &error);

    /* Once QEMU said yes it writes the overlay, even if it went away since. */
    if (!ret) {
        fail (op, "QEMU did not take the snapshot: %s", error->message);
        return;
    }
    /* QEMU has reopened the old layer read-only through its fd set; the
     * set's read-write descriptor still holds the layer's write lock, so
     * the set goes (with the guest running: QEMU closes removed
     * descriptors only then), and no clone is kept from reading the
     * snapshot. The new layer's set stays for the next snapshot's reopen. */
    remove_set (op->shim, op->shim->disk_fdset);
    op->shim->disk_fdset = op->fdset;
    op->fdset = -1;
    op->switched = TRUE;
    g_autofree char *overlay = overlay_path (op->shim);
    g_autofree char *disk = g_build_filename (op->shim->box_dir, "disk.qcow2", NULL);
    /* The client finishes a rename that fails here (the overlay is what QEMU
     * writes either way): it is a warning, not a failed snapshot. */
    if (rename (overlay, disk) < 0)
        g_warning ("cannot rename %s: %s", overlay, g_strerror (errno));
    step_thaw (op);
}

static void
on_read_only_added (GObject *source, GAsyncResult *res, gpointer user_data)
{
    ShimSnapshot *op = user_data;
    g_autoptr (JsonNode) ret = qmp_answer (op, source, res, "QEMU did not take the new disk layer");

    if (!ret)
        return;
    g_autoptr (JsonObject) args = json_object_new ();
    g_autofree char *file = g_strdup_printf ("/dev/fdset/%" G_GINT64_FORMAT, op->fdset);
    json_object_set_string_member (args, "device", "root");
    json_object_set_string_member (args, "snapshot-file", file);
    json_object_set_string_member (args, "format", "qcow2");
    json_object_set_string_member (args, "mode", "existing");
    bl_qmp_client_execute_async (op->shim->qmp, "blockdev-snapshot-sync", args, NULL, on_switched,
                                 op);
}

/* Passes the overlay opened with @flags, into the fd set of the first one
 * passed (op->fdset >= 0) or a new one. */
static void
pass_overlay (ShimSnapshot *op, int flags, GAsyncReadyCallback done)
{
    g_autofree char *overlay = overlay_path (op->shim);
    int fd = open (overlay, flags | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0) {
        fail (op, "cannot open %s: %s", overlay, g_strerror (errno));
        return;
    }
    if (!qmp_ready (op->shim)) {
        close (fd);
        fail (op, "QEMU went away");
        return;
    }
    g_autoptr (JsonObject) args = json_object_new ();
    if (op->fdset >= 0)
        json_object_set_int_member (args, "fdset-id", op->fdset);
    bl_qmp_client_execute_with_fd_async (op->shim->qmp, "add-fd", args, fd, NULL, done, op);
    close (fd);
}

static void
on_fd_added (GObject *source, GAsyncResult *res, gpointer user_data)
{
    ShimSnapshot *op = user_data;
    g_autoptr (JsonNode) ret = qmp_answer (op, source, res, "QEMU did not take the new disk layer");

    if (!ret)
        return;
    if (!JSON_NODE_HOLDS_OBJECT (ret) ||
        !shim_json_get_int (json_node_get_object (ret), "fdset-id", -1, &op->fdset) ||
        op->fdset < 0) {
        op->fdset = -1;
        fail (op, "QEMU's answer to add-fd has no fd set");
        return;
    }
    /* QEMU opens the file read-only first, then for writing: a descriptor
     * of each access mode goes into the set. */
    pass_overlay (op, O_RDONLY, on_read_only_added);
}

static void
step_switch (ShimSnapshot *op)
{
    op->step = STEP_SWITCH;
    pass_overlay (op, O_RDWR, on_fd_added);
}

/* Freeze */

static gboolean
on_freeze_timeout (gpointer user_data)
{
    ShimSnapshot *op = user_data;

    op->timer = 0;
    fail (op, "the guest did not freeze its filesystems within %d ms", SHIM_FREEZE_ANSWER_MS);
    return G_SOURCE_REMOVE;
}

void
shim_snapshot_freeze_reply (Shim *shim, JsonObject *msg)
{
    ShimSnapshot *op = shim->snapshot;
    JsonObject *ret = bl_json_member_object (msg, "return");

    if (!op || op->step != STEP_FREEZE || !op->timer) {
        g_debug ("a freeze answer nobody waits for");
        return;
    }
    g_clear_handle_id (&op->timer, g_source_remove);
    if (!ret) {
        g_autofree char *desc = agent_desc (msg);
        /* An agent that failed left nothing frozen, but the thaw costs
         * nothing and covers one that says so wrongly. */
        fail (op, "the guest could not freeze its filesystems: %s", desc);
        return;
    }
    if (!shim_json_get_int (ret, "frozen", -1, &op->filesystems) || op->filesystems < 0 ||
        op->filesystems > MAX_FROZEN) {
        fail (op, "the guest's answer to freeze is not one");
        return;
    }
    op->frozen_at = g_get_monotonic_time ();
    step_switch (op);
}

static void
step_freeze (ShimSnapshot *op)
{
    Shim *shim = op->shim;
    JsonObject *args = json_object_new ();
    g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), args);

    op->step = STEP_FREEZE;
    json_object_set_int_member (args, "timeout_ms", BL_PROTO_FREEZE_MAX_MS);
    json_object_unref (args);
    if (!shim_agent_send_request (shim, 0, "freeze", node)) {
        fail (op, "the link to the guest agent is down");
        return;
    }
    op->freeze_asked = TRUE;
    g_queue_push_tail (&shim->agent_replies, GINT_TO_POINTER (SHIM_AGENT_REPLY_FREEZE));
    op->timer = g_timeout_add (SHIM_FREEZE_ANSWER_MS, on_freeze_timeout, op);
}

static void
on_resumed (GObject *source, GAsyncResult *res, gpointer user_data)
{
    ShimSnapshot *op = user_data;
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) ret = bl_qmp_client_execute_finish (BL_QMP_CLIENT (source), res, &error);

    if (!ret) {
        op->was_paused = FALSE; /* it still is */
        fail (op, "the paused box could not run for its freeze: %s", error->message);
        return;
    }
    step_freeze (op);
}

void
shim_snapshot_request (ShimClient *client)
{
    Shim *shim = client->shim;
    const char *refused = NULL;

    if (shim->snapshot)
        refused = "a snapshot of this box is being taken";
    else if (!shim->booted || shim->stop_requested || !qmp_ready (shim) || !shim->agent ||
             bl_frame_conn_is_closed (shim->agent))
        refused = "the box is not running";
    else if (shim->state != BOXLITE_BOX_STATE_RUNNING && shim->state != BOXLITE_BOX_STATE_PAUSED)
        refused = "the box is not running";
    if (refused) {
        shim_control_reply_error (client->conn, 0, "Failed", refused);
        return;
    }
    ShimSnapshot *op = g_new0 (ShimSnapshot, 1);
    op->shim = shim;
    op->reply_to = g_object_ref (client->conn);
    op->was_paused = shim->state == BOXLITE_BOX_STATE_PAUSED;
    op->fdset = -1;
    shim->snapshot = op;
    if (!op->was_paused) {
        step_freeze (op);
        return;
    }
    op->step = STEP_RESUME;
    bl_qmp_client_execute_async (shim->qmp, "cont", NULL, NULL, on_resumed, op);
}

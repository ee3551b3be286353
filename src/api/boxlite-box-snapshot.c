/* boxlite-box-snapshot.c: snapshots of a box's disk and clones of a box.
 *
 * The disk work is in snapshot.c (what the files are, why they are safe to
 * share); this file is the public face: argument checks, the journal's
 * events, the async pairs. Every operation is on a stopped box but for
 * taking a snapshot (of a running box too, its filesystems frozen by the
 * guest agent) and a clone of a named snapshot, whose source may run: a
 * snapshot is frozen. A running box is refused, not stopped: stopping is
 * the caller's decision. */
#define G_LOG_DOMAIN "boxlite"

#include <boxlite/boxlite-box-snapshot.h>
#include <boxlite/boxlite-error.h>
#include "bl-task.h"
#include "boxlite-private.h"
#include "events.h"
#include "fs-tree.h"
#include "json-file.h"
#include "snapshot.h"

typedef gboolean (*SnapshotOp) (BoxliteBox *self, const char *name, GCancellable *cancellable,
                                GError **error);

static void
append_event (BoxliteBox *self, const char *action, const char *key, const char *value)
{
    g_autoptr (JsonObject) attributes = json_object_new ();

    json_object_set_string_member (attributes, key, value);
    bl_events_append (bl_box_get_dir (self), boxlite_box_get_name (self), action, attributes);
}

/* The record may still say "running" for a box whose monitor died. */
static gboolean
refresh (BoxliteBox *self, GError **error)
{
    return boxlite_box_refresh (self, error);
}

/**
 * boxlite_box_snapshot_create:
 * @self: a box, stopped, running or paused
 * @name: the snapshot's name: letters, digits, '_', '.' and '-', starting
 *   with a letter or a digit, at most 64 characters
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Keeps the box's disk as it is now under @name. The snapshot shares every
 * block with the disk: taking one copies nothing, and the box's later
 * writes go to a new layer on it.
 *
 * Of a running box, the snapshot is taken with the guest's writable
 * filesystems frozen (its writes wait meanwhile), so they are clean in it;
 * the box goes on running. A paused box runs for the time of the freeze
 * and is paused again. When the guest cannot freeze them, or does not
 * within 5 seconds, nothing is taken and the call fails. How a snapshot
 * was taken is in boxlite_box_snapshot_get_info(). Once the box's monitor
 * is asked to take it, @cancellable no longer stops it: it ends within the
 * monitor's own bounds.
 *
 * Returns: %TRUE on success, or %FALSE with @error set (BOXLITE_ERROR:
 *   %BOXLITE_ERROR_INVALID_ARGUMENT for a bad name, %BOXLITE_ERROR_EXISTS,
 *   %BOXLITE_ERROR_INVALID_STATE when the box is starting or stopping,
 *   %BOXLITE_ERROR_FAILED when the guest did not freeze; G_IO_ERROR)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_snapshot_create (BoxliteBox *self, const char *name, GCancellable *cancellable,
                             GError **error)
{
    BlSnapshotInfo info;

    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);

    if (!refresh (self, error) ||
        !bl_snapshot_create (bl_box_get_dir (self), name, &info, cancellable, error))
        return FALSE;
    g_autoptr (JsonObject) attributes = json_object_new ();
    json_object_set_string_member (attributes, "snapshot", name);
    json_object_set_string_member (attributes, "taken", bl_snapshot_taken_to_string (info.taken));
    bl_events_append (bl_box_get_dir (self), boxlite_box_get_name (self), "snapshot_create",
                      attributes);
    return TRUE;
}

/**
 * boxlite_box_snapshot_get_info:
 * @self: the box
 * @name: one of its snapshots
 * @error: return location for a #GError, or %NULL
 *
 * Says how the snapshot @name was taken, as a dictionary (`a{sv}`):
 * "taken" (`s`: "stopped"; "live-frozen" for a running box whose
 * filesystems were frozen; "live" when the freeze did not hold to the end,
 * so the snapshot is as after a power cut), "created-at" (`s`, ISO 8601,
 * absent for snapshots older than this record), and for live snapshots
 * "frozen-ms" (`x`, how long the guest was frozen) and "filesystems" (`x`,
 * how many it froze, by its own word).
 *
 * Returns: (transfer full): the dictionary, or %NULL with @error
 *   set (BOXLITE_ERROR: %BOXLITE_ERROR_INVALID_ARGUMENT,
 *   %BOXLITE_ERROR_NOT_FOUND)
 *
 * Since: 0.1
 */
GVariant *
boxlite_box_snapshot_get_info (BoxliteBox *self, const char *name, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), NULL);

    g_autoptr (JsonObject) info = bl_snapshot_read_info (bl_box_get_dir (self), name, error);
    if (!info)
        return NULL;
    g_auto (GVariantBuilder) b = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
    const char *taken = bl_json_member_string (info, "taken");
    const char *created = bl_json_member_string (info, "created_at");
    static const char *const counts[][2] = { { "frozen_ms", "frozen-ms" },
                                             { "filesystems", "filesystems" } };
    g_variant_builder_add (&b, "{sv}", "taken", g_variant_new_string (taken ? taken : "unknown"));
    if (created)
        g_variant_builder_add (&b, "{sv}", "created-at", g_variant_new_string (created));
    for (guint i = 0; i < G_N_ELEMENTS (counts); i++) {
        JsonNode *node = json_object_get_member (info, counts[i][0]);
        if (node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
            g_variant_builder_add (&b, "{sv}", counts[i][1],
                                   g_variant_new_int64 (json_node_get_int (node)));
    }
    return g_variant_ref_sink (g_variant_builder_end (&b));
}

/**
 * boxlite_box_snapshot_restore:
 * @self: a stopped box
 * @name: the snapshot to go back to
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Puts the box's disk back as it was when @name was taken. What was written
 * since the last snapshot is lost; the snapshots themselves are kept, so
 * restoring one and then another later one is possible. Restoring a running
 * box is refused: stop it first.
 *
 * Returns: %TRUE on success, or %FALSE with @error set (BOXLITE_ERROR:
 *   %BOXLITE_ERROR_INVALID_ARGUMENT, %BOXLITE_ERROR_NOT_FOUND,
 *   %BOXLITE_ERROR_INVALID_STATE while the box runs; G_IO_ERROR)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_snapshot_restore (BoxliteBox *self, const char *name, GCancellable *cancellable,
                              GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);

    if (!refresh (self, error) ||
        !bl_snapshot_restore (bl_box_get_dir (self), name, cancellable, error))
        return FALSE;
    append_event (self, "snapshot_restore", "snapshot", name);
    return TRUE;
}

/**
 * boxlite_box_snapshot_restore_full:
 * @self: the box
 * @name: the snapshot to go back to
 * @flags: with %BOXLITE_RESTORE_STOP, a running or paused box is stopped
 *   first (as boxlite_box_stop() without force) and left stopped
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * boxlite_box_snapshot_restore(), stopping the box first when asked.
 *
 * Returns: %TRUE on success, or %FALSE with @error set (as
 *   boxlite_box_snapshot_restore() and boxlite_box_stop())
 *
 * Since: 0.1
 */
gboolean
boxlite_box_snapshot_restore_full (BoxliteBox *self, const char *name, BoxliteRestoreFlags flags,
                                   GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);

    /* The snapshot must exist before the box is stopped for it. */
    g_autoptr (JsonObject) info = NULL;
    if (!refresh (self, error) ||
        !(info = bl_snapshot_read_info (bl_box_get_dir (self), name, error)))
        return FALSE;
    BoxliteBoxState state = boxlite_box_get_state (self);
    if ((flags & BOXLITE_RESTORE_STOP) &&
        (state == BOXLITE_BOX_STATE_RUNNING || state == BOXLITE_BOX_STATE_PAUSED) &&
        !boxlite_box_stop (self, FALSE, cancellable, error))
        return FALSE;
    return boxlite_box_snapshot_restore (self, name, cancellable, error);
}

/**
 * boxlite_box_snapshot_remove:
 * @self: a stopped box
 * @name: the snapshot to delete
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Deletes the snapshot @name. What the box's disk and its later snapshots
 * read from it is merged into them first. A snapshot that a clone's disk
 * reads is not removed: remove the clone first.
 *
 * Returns: %TRUE on success, or %FALSE with @error set (BOXLITE_ERROR:
 *   %BOXLITE_ERROR_INVALID_ARGUMENT, %BOXLITE_ERROR_NOT_FOUND,
 *   %BOXLITE_ERROR_INVALID_STATE while the box runs or a clone reads it;
 *   G_IO_ERROR)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_snapshot_remove (BoxliteBox *self, const char *name, GCancellable *cancellable,
                             GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);

    g_autoptr (BoxliteRuntime) runtime = NULL;
    g_object_get (self, "runtime", &runtime, NULL);
    if (!refresh (self, error) ||
        !bl_snapshot_remove (bl_runtime_get_boxes_dir (runtime), bl_box_get_dir (self), name,
                             cancellable, error))
        return FALSE;
    append_event (self, "snapshot_remove", "snapshot", name);
    return TRUE;
}

/**
 * boxlite_box_snapshot_list:
 * @self: the box
 * @error: return location for a #GError, or %NULL
 *
 * Lists the box's snapshots.
 *
 * Returns: (transfer full) (array zero-terminated=1): their names, sorted
 *   (empty when there are none), or %NULL with @error set (G_FILE_ERROR)
 *
 * Since: 0.1
 */
char **
boxlite_box_snapshot_list (BoxliteBox *self, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), NULL);

    return bl_snapshot_list (bl_box_get_dir (self), error);
}

static gpointer
list_call (gpointer source, G_GNUC_UNUSED gpointer data, G_GNUC_UNUSED GMainContext *caller_context,
           G_GNUC_UNUSED GCancellable *cancellable, GError **error)
{
    return boxlite_box_snapshot_list (source, error);
}

/**
 * boxlite_box_snapshot_list_async:
 * @self: the box
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context
 * @user_data: (closure): data for @callback
 *
 * Lists the box's snapshots without blocking; see
 * boxlite_box_snapshot_list().
 *
 * Since: 0.1
 */
void
boxlite_box_snapshot_list_async (BoxliteBox *self, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_BOX (self));

    bl_task_run_in_thread (self, boxlite_box_snapshot_list_async, list_call, NULL, NULL,
                           (GDestroyNotify) g_strfreev, cancellable, callback, user_data);
}

/**
 * boxlite_box_snapshot_list_finish:
 * @self: the box
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_box_snapshot_list_async().
 *
 * Returns: (transfer full) (array zero-terminated=1): the names, or %NULL
 *   with @error set
 *
 * Since: 0.1
 */
char **
boxlite_box_snapshot_list_finish (BoxliteBox *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish (self, result, boxlite_box_snapshot_list_async, error);
}

typedef struct {
    SnapshotOp op; /* NULL: restore_full with @flags */
    char *name;
    BoxliteRestoreFlags flags;
} OpArgs;

static void
op_args_free (gpointer p)
{
    OpArgs *args = p;

    g_free (args->name);
    g_free (args);
}

static gpointer
op_call (gpointer source, gpointer data, G_GNUC_UNUSED GMainContext *caller_context,
         GCancellable *cancellable, GError **error)
{
    OpArgs *args = data;
    gboolean ok = args->op ? args->op (source, args->name, cancellable, error)
                           : boxlite_box_snapshot_restore_full (source, args->name, args->flags,
                                                                cancellable, error);

    return ok ? GINT_TO_POINTER (TRUE) : NULL;
}

static void
run_op_async (BoxliteBox *self, gpointer tag, SnapshotOp op, const char *name,
              BoxliteRestoreFlags flags, GCancellable *cancellable, GAsyncReadyCallback callback,
              gpointer user_data)
{
    OpArgs *args = g_new0 (OpArgs, 1);

    args->op = op;
    args->name = g_strdup (name);
    args->flags = flags;
    bl_task_run_in_thread (self, tag, op_call, args, op_args_free, NULL, cancellable, callback,
                           user_data);
}

/**
 * boxlite_box_snapshot_create_async:
 * @self: a box, stopped, running or paused
 * @name: the snapshot's name
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context
 * @user_data: (closure): data for @callback
 *
 * Takes a snapshot without blocking; see boxlite_box_snapshot_create().
 *
 * Since: 0.1
 */
void
boxlite_box_snapshot_create_async (BoxliteBox *self, const char *name, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_BOX (self));
    run_op_async (self, boxlite_box_snapshot_create_async, boxlite_box_snapshot_create, name,
                  BOXLITE_RESTORE_NONE, cancellable, callback, user_data);
}

/**
 * boxlite_box_snapshot_create_finish:
 * @self: the box
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_box_snapshot_create_async().
 *
 * Returns: %TRUE on success, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
boxlite_box_snapshot_create_finish (BoxliteBox *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish_boolean (self, result, boxlite_box_snapshot_create_async, error);
}

/**
 * boxlite_box_snapshot_restore_async:
 * @self: a stopped box
 * @name: the snapshot to go back to
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context
 * @user_data: (closure): data for @callback
 *
 * Restores a snapshot without blocking; see boxlite_box_snapshot_restore().
 *
 * Since: 0.1
 */
void
boxlite_box_snapshot_restore_async (BoxliteBox *self, const char *name, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_BOX (self));
    run_op_async (self, boxlite_box_snapshot_restore_async, boxlite_box_snapshot_restore, name,
                  BOXLITE_RESTORE_NONE, cancellable, callback, user_data);
}

/**
 * boxlite_box_snapshot_restore_finish:
 * @self: the box
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_box_snapshot_restore_async().
 *
 * Returns: %TRUE on success, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
boxlite_box_snapshot_restore_finish (BoxliteBox *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish_boolean (self, result, boxlite_box_snapshot_restore_async, error);
}

/**
 * boxlite_box_snapshot_restore_full_async:
 * @self: the box
 * @name: the snapshot to go back to
 * @flags: see boxlite_box_snapshot_restore_full()
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context
 * @user_data: (closure): data for @callback
 *
 * Restores a snapshot without blocking; see
 * boxlite_box_snapshot_restore_full().
 *
 * Since: 0.1
 */
void
boxlite_box_snapshot_restore_full_async (BoxliteBox *self, const char *name,
                                         BoxliteRestoreFlags flags, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_BOX (self));
    run_op_async (self, boxlite_box_snapshot_restore_full_async, NULL, name, flags, cancellable,
                  callback, user_data);
}

/**
 * boxlite_box_snapshot_restore_full_finish:
 * @self: the box
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_box_snapshot_restore_full_async().
 *
 * Returns: %TRUE on success, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
boxlite_box_snapshot_restore_full_finish (BoxliteBox *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish_boolean (self, result, boxlite_box_snapshot_restore_full_async, error);
}

/**
 * boxlite_box_snapshot_remove_async:
 * @self: a stopped box
 * @name: the snapshot to delete
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context
 * @user_data: (closure): data for @callback
 *
 * Deletes a snapshot without blocking; see boxlite_box_snapshot_remove().
 *
 * Since: 0.1
 */
void
boxlite_box_snapshot_remove_async (BoxliteBox *self, const char *name, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_BOX (self));
    run_op_async (self, boxlite_box_snapshot_remove_async, boxlite_box_snapshot_remove, name,
                  BOXLITE_RESTORE_NONE, cancellable, callback, user_data);
}

/**
 * boxlite_box_snapshot_remove_finish:
 * @self: the box
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_box_snapshot_remove_async().
 *
 * Returns: %TRUE on success, or %FALSE with @error set
 *
 * Since: 0.1
 */
gboolean
boxlite_box_snapshot_remove_finish (BoxliteBox *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish_boolean (self, result, boxlite_box_snapshot_remove_async, error);
}

/**
 * boxlite_runtime_clone:
 * @self: the runtime
 * @box: the box to copy
 * @snapshot: (nullable): one of @box's snapshots, or %NULL for @box's disk
 *   as it is (then @box must be stopped)
 * @new_name: (nullable): the new box's name, or %NULL for one made from its id
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Makes a new box (its own id, name and hostname) with @box's options and
 * image, whose disk starts as @box's (or as @snapshot). The two disks
 * share every block written before the clone: nothing is copied, and
 * neither box sees what the other writes later. While the clone exists,
 * @box and the snapshot it was made from cannot be removed. Cloning a
 * running box is refused: clone one of its snapshots instead. The clone is
 * not started.
 *
 * Returns: (transfer full): the new box, or %NULL with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_INVALID_ARGUMENT, %BOXLITE_ERROR_EXISTS,
 *   %BOXLITE_ERROR_NOT_FOUND for an unknown snapshot,
 *   %BOXLITE_ERROR_INVALID_STATE when @box runs and @snapshot is %NULL;
 *   G_IO_ERROR)
 *
 * Since: 0.1
 */
BoxliteBox *
boxlite_runtime_clone (BoxliteRuntime *self, BoxliteBox *box, const char *snapshot,
                       const char *new_name, GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_RUNTIME (self), NULL);
    g_return_val_if_fail (BOXLITE_IS_BOX (box), NULL);

    if (!refresh (box, error))
        return NULL;
    g_autoptr (BlRecord) source = bl_record_load (bl_box_get_dir (box), error);
    if (!source)
        return NULL;
    g_autofree char *id =
        bl_runtime_register_box (self, boxlite_box_get_options (box), source, new_name, error);
    if (!id)
        return NULL;
    g_autofree char *dir = g_build_filename (bl_runtime_get_boxes_dir (self), id, NULL);
    if (!bl_snapshot_clone_disk (bl_box_get_dir (box), snapshot, dir, cancellable, error)) {
        g_autoptr (GError) local = NULL;
        if (!bl_tree_remove (dir, &local))
            g_warning ("%s", local->message);
        return NULL;
    }
    BoxliteBox *clone = boxlite_runtime_get (self, id, error);
    if (clone) {
        g_autoptr (JsonObject) attributes = json_object_new ();
        json_object_set_string_member (attributes, "source", boxlite_box_get_id (box));
        if (snapshot)
            json_object_set_string_member (attributes, "snapshot", snapshot);
        bl_events_append (dir, boxlite_box_get_name (clone), "clone", attributes);
    }
    return clone;
}

typedef struct {
    BoxliteBox *box;
    char *snapshot;
    char *new_name;
} CloneArgs;

static void
clone_args_free (gpointer p)
{
    CloneArgs *args = p;

    g_object_unref (args->box);
    g_free (args->snapshot);
    g_free (args->new_name);
    g_free (args);
}

static gpointer
clone_call (gpointer source, gpointer data, GMainContext *caller_context, GCancellable *cancellable,
            GError **error)
{
    CloneArgs *args = data;
    BoxliteBox *clone = boxlite_runtime_clone (source, args->box, args->snapshot, args->new_name,
                                               cancellable, error);

    if (clone)
        bl_box_set_context (clone, caller_context);
    return clone;
}

/**
 * boxlite_runtime_clone_async:
 * @self: the runtime
 * @box: the box to copy
 * @snapshot: (nullable): one of @box's snapshots, or %NULL for its disk
 * @new_name: (nullable): the new box's name
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context
 * @user_data: (closure): data for @callback
 *
 * Clones a box without blocking; see boxlite_runtime_clone().
 *
 * Since: 0.1
 */
void
boxlite_runtime_clone_async (BoxliteRuntime *self, BoxliteBox *box, const char *snapshot,
                             const char *new_name, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_RUNTIME (self));
    g_return_if_fail (BOXLITE_IS_BOX (box));

    CloneArgs *args = g_new0 (CloneArgs, 1);
    args->box = g_object_ref (box);
    args->snapshot = g_strdup (snapshot);
    args->new_name = g_strdup (new_name);
    bl_task_run_in_thread (self, boxlite_runtime_clone_async, clone_call, args, clone_args_free,
                           g_object_unref, cancellable, callback, user_data);
}

/**
 * boxlite_runtime_clone_finish:
 * @self: the runtime
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_runtime_clone_async().
 *
 * Returns: (transfer full): the new box, or %NULL with @error set
 *
 * Since: 0.1
 */
BoxliteBox *
boxlite_runtime_clone_finish (BoxliteRuntime *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish (self, result, boxlite_runtime_clone_async, error);
}

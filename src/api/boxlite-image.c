/* boxlite-image.c: images in a runtime's store: pull, import, list,
 * inspect, remove and prune, and what a box inherits from its image. */
#define G_LOG_DOMAIN "boxlite-image"

#include <boxlite/boxlite-image.h>

#include <boxlite/boxlite-error.h>
#include "bl-task.h"
#include "boxlite-image-private.h"
#include "boxlite-private.h"
#include "registry.h"

/* Progress reports closer together than this are dropped (except the last
 * of each blob), so a fast pull does not flood the caller's main loop. */
#define PROGRESS_INTERVAL_US (100 * 1000)

/**
 * BoxliteImage:
 *
 * An image in a runtime's store, as it was when it was looked up: its
 * reference, manifest digest, id, size and layers, and the parts of its
 * config a box made from it inherits. Get one from
 * boxlite_runtime_pull_image(), boxlite_runtime_import_image(),
 * boxlite_runtime_list_images() or boxlite_runtime_inspect_image().
 *
 * Since: 0.1
 */
struct _BoxliteImage {
    GObject parent_instance;
    BlImageEntry *entry;
    BlImageManifest *manifest;
    BlImageConfig *config;
    char *config_json;
    GStrv layers;
};

G_DEFINE_FINAL_TYPE (BoxliteImage, boxlite_image, G_TYPE_OBJECT)

static void
boxlite_image_finalize (GObject *object)
{
    BoxliteImage *self = BOXLITE_IMAGE (object);

    bl_image_entry_free (self->entry);
    bl_image_manifest_free (self->manifest);
    bl_image_config_free (self->config);
    g_free (self->config_json);
    g_strfreev (self->layers);
    G_OBJECT_CLASS (boxlite_image_parent_class)->finalize (object);
}

static void
boxlite_image_class_init (BoxliteImageClass *klass)
{
    G_OBJECT_CLASS (klass)->finalize = boxlite_image_finalize;
}

static void
boxlite_image_init (G_GNUC_UNUSED BoxliteImage *self)
{
}

BoxliteImage *
bl_image_new (BlImageStore *store, const BlImageEntry *entry, GError **error)
{
    g_autoptr (BoxliteImage) self = g_object_new (BOXLITE_TYPE_IMAGE, NULL);

    self->entry = bl_image_entry_copy (entry);
    if (!bl_image_store_read (store, entry, &self->manifest, &self->config, &self->config_json,
                              error)) {
        g_prefix_error (error, "image %s: ", entry->reference);
        return NULL;
    }
    self->layers = g_new0 (char *, self->manifest->layers->len + 1);
    for (guint i = 0; i < self->manifest->layers->len; i++)
        self->layers[i] =
            g_strdup (((BlImageDescriptor *) self->manifest->layers->pdata[i])->digest);
    return g_steal_pointer (&self);
}

/**
 * boxlite_image_get_reference:
 * @self: the image
 *
 * Gives the image's reference.
 *
 * Returns: (transfer none): the canonical reference ("docker.io/library/alpine:3.20")
 *
 * Since: 0.1
 */
const char *
boxlite_image_get_reference (BoxliteImage *self)
{
    g_return_val_if_fail (BOXLITE_IS_IMAGE (self), NULL);
    return self->entry->reference;
}

/**
 * boxlite_image_get_digest:
 * @self: the image
 *
 * Gives the image's digest.
 *
 * Returns: (transfer none): the digest of the image's manifest ("sha256:…")
 *
 * Since: 0.1
 */
const char *
boxlite_image_get_digest (BoxliteImage *self)
{
    g_return_val_if_fail (BOXLITE_IS_IMAGE (self), NULL);
    return self->entry->digest;
}

/**
 * boxlite_image_get_id:
 * @self: the image
 *
 * Gives the image's id.
 *
 * Returns: (transfer none): the image id: the digest of its config ("sha256:…")
 *
 * Since: 0.1
 */
const char *
boxlite_image_get_id (BoxliteImage *self)
{
    g_return_val_if_fail (BOXLITE_IS_IMAGE (self), NULL);
    return self->entry->id;
}

/**
 * boxlite_image_get_size:
 * @self: the image
 *
 * Gives the size of the image's files.
 *
 * Returns: bytes of file contents in the image's root filesystem
 *
 * Since: 0.1
 */
guint64
boxlite_image_get_size (BoxliteImage *self)
{
    g_return_val_if_fail (BOXLITE_IS_IMAGE (self), 0);
    return self->entry->size;
}

/**
 * boxlite_image_get_created_at:
 * @self: the image
 *
 * Tells when the image entered the store.
 *
 * Returns: (transfer full) (nullable): the time, or %NULL when unknown
 *
 * Since: 0.1
 */
GDateTime *
boxlite_image_get_created_at (BoxliteImage *self)
{
    g_return_val_if_fail (BOXLITE_IS_IMAGE (self), NULL);
    return self->entry->created ? g_date_time_new_from_iso8601 (self->entry->created, NULL) : NULL;
}

/**
 * boxlite_image_get_layers:
 * @self: the image
 *
 * Lists the image's layers.
 *
 * Returns: (transfer none) (array zero-terminated=1): the layers' digests,
 *   bottom first
 *
 * Since: 0.1
 */
const char *const *
boxlite_image_get_layers (BoxliteImage *self)
{
    g_return_val_if_fail (BOXLITE_IS_IMAGE (self), NULL);
    return (const char *const *) self->layers;
}

/**
 * boxlite_image_get_env:
 * @self: the image
 *
 * Gives the Env of the image's config.
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the
 *   config's Env, `KEY=VALUE` entries, or %NULL when it has none
 *
 * Since: 0.1
 */
const char *const *
boxlite_image_get_env (BoxliteImage *self)
{
    g_return_val_if_fail (BOXLITE_IS_IMAGE (self), NULL);
    return (const char *const *) self->config->env;
}

/**
 * boxlite_image_get_entrypoint:
 * @self: the image
 *
 * Gives the Entrypoint of the image's config.
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the
 *   config's Entrypoint, or %NULL when it has none
 *
 * Since: 0.1
 */
const char *const *
boxlite_image_get_entrypoint (BoxliteImage *self)
{
    g_return_val_if_fail (BOXLITE_IS_IMAGE (self), NULL);
    return (const char *const *) self->config->entrypoint;
}

/**
 * boxlite_image_get_cmd:
 * @self: the image
 *
 * Gives the Cmd of the image's config.
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the
 *   config's Cmd, or %NULL when it has none
 *
 * Since: 0.1
 */
const char *const *
boxlite_image_get_cmd (BoxliteImage *self)
{
    g_return_val_if_fail (BOXLITE_IS_IMAGE (self), NULL);
    return (const char *const *) self->config->cmd;
}

/**
 * boxlite_image_get_working_dir:
 * @self: the image
 *
 * Gives the WorkingDir of the image's config.
 *
 * Returns: (transfer none) (nullable): the config's WorkingDir, or %NULL when
 *   it has none
 *
 * Since: 0.1
 */
const char *
boxlite_image_get_working_dir (BoxliteImage *self)
{
    g_return_val_if_fail (BOXLITE_IS_IMAGE (self), NULL);
    return self->config->working_dir;
}

/**
 * boxlite_image_get_user:
 * @self: the image
 *
 * Gives the User of the image's config.
 *
 * Returns: (transfer none) (nullable): the config's User, or %NULL when
 *   it has none
 *
 * Since: 0.1
 */
const char *
boxlite_image_get_user (BoxliteImage *self)
{
    g_return_val_if_fail (BOXLITE_IS_IMAGE (self), NULL);
    return self->config->user;
}

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name (b, name);
    if (value)
        json_builder_add_string_value (b, value);
    else
        json_builder_add_null_value (b);
}

/**
 * boxlite_image_to_json:
 * @self: the image
 *
 * Describes the image as `boxlite image inspect` prints it.
 *
 * Returns: (transfer full): a JSON object: reference, digest, id, size,
 *   created, layers (digest, size, media type) and the image's config
 *   document as it is stored
 *
 * Since: 0.1
 */
char *
boxlite_image_to_json (BoxliteImage *self)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    g_return_val_if_fail (BOXLITE_IS_IMAGE (self), NULL);
    json_builder_begin_object (b);
    add_string (b, "reference", self->entry->reference);
    add_string (b, "digest", self->entry->digest);
    add_string (b, "id", self->entry->id);
    json_builder_set_member_name (b, "size");
    json_builder_add_int_value (b, (gint64) MIN (self->entry->size, (guint64) G_MAXINT64));
    add_string (b, "created", self->entry->created);
    json_builder_set_member_name (b, "layers");
    json_builder_begin_array (b);
    for (guint i = 0; i < self->manifest->layers->len; i++) {
        BlImageDescriptor *layer = self->manifest->layers->pdata[i];
        json_builder_begin_object (b);
        add_string (b, "digest", layer->digest);
        json_builder_set_member_name (b, "size");
        json_builder_add_int_value (b, (gint64) MIN (layer->size, (guint64) G_MAXINT64));
        add_string (b, "media_type", layer->media_type);
        json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_set_member_name (b, "config");
    JsonNode *config = json_from_string (self->config_json, NULL);
    if (config)
        json_builder_add_value (b, config);
    else
        json_builder_add_null_value (b);
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    return json_to_string (root, TRUE);
}

/* ---- pulling ---- */

typedef struct {
    BoxliteRuntime *runtime;
    GMainContext *context; /* where to emit; NULL: the pulling thread */
    GHashTable *last;      /* digest -> when it was last reported (gint64 *) */
} Progress;

typedef struct {
    BoxliteRuntime *runtime;
    char *digest;
    guint64 done;
    guint64 total;
} ProgressEvent;

static void
progress_event_free (gpointer data)
{
    ProgressEvent *ev = data;
    g_object_unref (ev->runtime);
    g_free (ev->digest);
    g_free (ev);
}

static gboolean
emit_progress_event (gpointer data)
{
    ProgressEvent *ev = data;
    bl_runtime_emit_pull_progress (ev->runtime, ev->digest, ev->done, ev->total);
    return G_SOURCE_REMOVE;
}

static void
on_progress (const char *digest, guint64 done, guint64 total, gpointer user_data)
{
    Progress *p = user_data;
    gint64 now = g_get_monotonic_time ();
    gint64 *last = g_hash_table_lookup (p->last, digest);

    if (done < total && last && now - *last < PROGRESS_INTERVAL_US)
        return;
    if (!last) {
        last = g_new (gint64, 1);
        g_hash_table_insert (p->last, g_strdup (digest), last);
    }
    *last = now;
    if (!p->context) {
        bl_runtime_emit_pull_progress (p->runtime, digest, done, total);
        return;
    }
    ProgressEvent *ev = g_new0 (ProgressEvent, 1);
    ev->runtime = g_object_ref (p->runtime);
    ev->digest = g_strdup (digest);
    ev->done = done;
    ev->total = total;
    g_main_context_invoke_full (p->context, G_PRIORITY_DEFAULT, emit_progress_event, ev,
                                progress_event_free);
}

static BoxliteImage *
pull_image (BoxliteRuntime *self, const char *reference, GMainContext *context,
            GCancellable *cancellable, GError **error)
{
    BlImageStore *store = bl_runtime_get_image_store (self);
    GPtrArray *registries = bl_runtime_get_registries (self);
    g_autoptr (BlImageRef) ref = bl_image_ref_parse (reference, error);
    g_autoptr (GHashTable) last = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    Progress progress = { self, context, last };
    g_autoptr (BlImageEntry) entry = NULL;

    if (!ref)
        return NULL;
    int gc = bl_image_store_lock_gc (store, FALSE, cancellable, error);
    if (gc < 0)
        return NULL;
    g_autoptr (BlRegistryPull) pulled = bl_registry_pull (
        ref, (BlRegistryEntry *const *) registries->pdata, registries->len,
        bl_image_store_get_blobs_dir (store), on_progress, &progress, cancellable, error);
    if (pulled)
        entry = bl_image_store_commit (store, pulled->reference, pulled->manifest_digest,
                                       cancellable, error);
    bl_image_store_unlock (gc);
    if (!entry) {
        g_prefix_error (error, "cannot pull %s: ", reference);
        return NULL;
    }
    return bl_image_new (store, entry, error);
}

/**
 * boxlite_runtime_pull_image:
 * @self: the runtime
 * @reference: an image reference ("alpine", "quay.io/team/tool:1.2",
 *   "localhost:5000/x@sha256:…"); unqualified names are tried on the
 *   search registries, then on docker.io
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Fetches the image (only the blobs the store lacks), checks every digest,
 * unpacks it and builds its disk, so that boxes made from it afterwards
 * copy nothing. [signal@Boxlite.Runtime::pull-progress] is emitted on this
 * thread.
 *
 * Returns: (transfer full): the image, or %NULL with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_INVALID_ARGUMENT for a bad reference,
 *   %BOXLITE_ERROR_NOT_FOUND, %BOXLITE_ERROR_IMAGE for content that fails
 *   its checks; G_IO_ERROR for operating-system and network failures,
 *   %G_IO_ERROR_CANCELLED when cancelled)
 *
 * Since: 0.1
 */
BoxliteImage *
boxlite_runtime_pull_image (BoxliteRuntime *self, const char *reference, GCancellable *cancellable,
                            GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_RUNTIME (self), NULL);
    g_return_val_if_fail (reference != NULL, NULL);
    return pull_image (self, reference, NULL, cancellable, error);
}

static gpointer
pull_call (gpointer source, gpointer data, GMainContext *caller_context, GCancellable *cancellable,
           GError **error)
{
    return pull_image (source, data, caller_context, cancellable, error);
}

/**
 * boxlite_runtime_pull_image_async:
 * @self: the runtime
 * @reference: an image reference
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context when
 *   the image is in the store, or could not be pulled
 * @user_data: (closure): data for @callback
 *
 * Pulls without blocking; see boxlite_runtime_pull_image().
 * [signal@Boxlite.Runtime::pull-progress] is emitted on the thread-default
 * main context of the caller. Call boxlite_runtime_pull_image_finish() from
 * @callback.
 *
 * Since: 0.1
 */
void
boxlite_runtime_pull_image_async (BoxliteRuntime *self, const char *reference,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_RUNTIME (self));
    g_return_if_fail (reference != NULL);
    bl_task_run_in_thread (self, boxlite_runtime_pull_image_async, pull_call, g_strdup (reference),
                           g_free, g_object_unref, cancellable, callback, user_data);
}

/**
 * boxlite_runtime_pull_image_finish:
 * @self: the runtime
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_runtime_pull_image_async().
 *
 * Returns: (transfer full): the image, or %NULL with @error set, as
 *   boxlite_runtime_pull_image() (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
BoxliteImage *
boxlite_runtime_pull_image_finish (BoxliteRuntime *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish (self, result, boxlite_runtime_pull_image_async, error);
}

/* ---- importing ---- */

/**
 * boxlite_runtime_import_image:
 * @self: the runtime
 * @path: (type filename): an OCI image layout directory, a `docker save`
 *   tarball, or an OCI layout in a tarball (oci-archive)
 * @reference: (nullable): what to call the image; %NULL for the name the
 *   archive gives (a tarball's first RepoTags entry, a layout's
 *   io.containerd.image.name or full ref name annotation)
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Copies the image into the store, checking every blob's digest (and a
 * tarball's layers against its config's diff_ids), then unpacks it. A
 * layout holding several images needs @reference, whose tag picks the one
 * with that ref name. On failure nothing of it is left in the store.
 *
 * Returns: (transfer full): the image, or %NULL with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_INVALID_ARGUMENT,
 *   %BOXLITE_ERROR_NOT_FOUND, %BOXLITE_ERROR_IMAGE for content that fails
 *   its checks; G_IO_ERROR, %G_IO_ERROR_CANCELLED when cancelled)
 *
 * Since: 0.1
 */
BoxliteImage *
boxlite_runtime_import_image (BoxliteRuntime *self, const char *path, const char *reference,
                              GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_RUNTIME (self), NULL);
    g_return_val_if_fail (path != NULL, NULL);

    BlImageStore *store = bl_runtime_get_image_store (self);
    g_autoptr (BlImageEntry) entry =
        bl_image_store_import (store, path, reference, cancellable, error);
    return entry ? bl_image_new (store, entry, error) : NULL;
}

static gpointer
import_call (gpointer source, gpointer data, GMainContext *caller_context,
             GCancellable *cancellable, GError **error)
{
    char **args = data;

    return boxlite_runtime_import_image (source, args[0], args[1], cancellable, error);
}

/**
 * boxlite_runtime_import_image_async:
 * @self: the runtime
 * @path: (type filename): an OCI image layout directory, a `docker save`
 *   tarball, or an oci-archive
 * @reference: (nullable): what to call the image, or %NULL for the name
 *   the archive gives
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context when
 *   the image is in the store, or could not be imported
 * @user_data: (closure): data for @callback
 *
 * Imports without blocking; see boxlite_runtime_import_image(). Call
 * boxlite_runtime_import_image_finish() from @callback.
 *
 * Since: 0.1
 */
void
boxlite_runtime_import_image_async (BoxliteRuntime *self, const char *path, const char *reference,
                                    GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_RUNTIME (self));
    g_return_if_fail (path != NULL);

    char **args = g_new0 (char *, 3);
    args[0] = g_strdup (path);
    args[1] = g_strdup (reference);
    bl_task_run_in_thread (self, boxlite_runtime_import_image_async, import_call, args,
                           (GDestroyNotify) g_strfreev, g_object_unref, cancellable, callback,
                           user_data);
}

/**
 * boxlite_runtime_import_image_finish:
 * @self: the runtime
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_runtime_import_image_async().
 *
 * Returns: (transfer full): the image, or %NULL with @error set, as
 *   boxlite_runtime_import_image() (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
BoxliteImage *
boxlite_runtime_import_image_finish (BoxliteRuntime *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish (self, result, boxlite_runtime_import_image_async, error);
}

/* ---- the store ---- */

/**
 * boxlite_runtime_list_images:
 * @self: the runtime
 * @error: return location for a #GError, or %NULL
 *
 * Lists the images in the store.
 *
 * Returns: (element-type BoxliteImage) (transfer full): every image in the
 *   store, newest first, one per reference (%NULL when there are none), or
 *   %NULL with @error set (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
GList *
boxlite_runtime_list_images (BoxliteRuntime *self, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_RUNTIME (self), NULL);

    BlImageStore *store = bl_runtime_get_image_store (self);
    g_autoptr (GPtrArray) entries = bl_image_store_list (store, error);
    GList *images = NULL;
    if (!entries)
        return NULL;
    for (guint i = 0; i < entries->len; i++) {
        g_autoptr (GError) local = NULL;
        BoxliteImage *image = bl_image_new (store, entries->pdata[i], &local);
        if (image)
            images = g_list_prepend (images, image);
        else
            g_warning ("%s", local->message);
    }
    return g_list_reverse (images);
}

/**
 * boxlite_runtime_inspect_image:
 * @self: the runtime
 * @reference: a reference, an image id or an unambiguous prefix of one
 *   (at least 12 hex digits)
 * @error: return location for a #GError, or %NULL
 *
 * Looks an image up in the store.
 *
 * Returns: (transfer full): the image, or %NULL with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_NOT_FOUND when the store does not have
 *   it, %BOXLITE_ERROR_AMBIGUOUS; G_IO_ERROR)
 *
 * Since: 0.1
 */
BoxliteImage *
boxlite_runtime_inspect_image (BoxliteRuntime *self, const char *reference, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_RUNTIME (self), NULL);
    g_return_val_if_fail (reference != NULL, NULL);

    BlImageStore *store = bl_runtime_get_image_store (self);
    g_autoptr (BlImageEntry) entry =
        bl_image_store_lookup (store, reference, bl_runtime_get_search_registries (self), error);
    return entry ? bl_image_new (store, entry, error) : NULL;
}

/**
 * boxlite_runtime_remove_image:
 * @self: the runtime
 * @reference: a reference (removes that name), or an image id or prefix
 *   (removes every name of the image)
 * @force: remove it even while boxes use it (their disks stay until the
 *   boxes are deleted and the store is pruned)
 * @error: return location for a #GError, or %NULL
 *
 * Removes the image's names from the store and deletes its blobs, root
 * filesystem and disk when nothing else uses them.
 *
 * Returns: %TRUE on success, or %FALSE with @error set (BOXLITE_ERROR:
 *   %BOXLITE_ERROR_NOT_FOUND, %BOXLITE_ERROR_INVALID_STATE when a box uses
 *   the image and @force is not set; G_IO_ERROR)
 *
 * Since: 0.1
 */
static gboolean
remove_image (BoxliteRuntime *self, const char *reference, gboolean force,
              GCancellable *cancellable, GError **error)
{
    BlImageUsers users = { NULL, NULL };
    gboolean ok = bl_runtime_image_users (self, &users, error) &&
                  bl_image_store_remove (bl_runtime_get_image_store (self), reference,
                                         bl_runtime_get_search_registries (self), &users, force,
                                         cancellable, error);
    bl_image_users_clear (&users);
    return ok;
}

gboolean
boxlite_runtime_remove_image (BoxliteRuntime *self, const char *reference, gboolean force,
                              GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_RUNTIME (self), FALSE);
    g_return_val_if_fail (reference != NULL, FALSE);
    return remove_image (self, reference, force, NULL, error);
}

/**
 * boxlite_runtime_prune_images:
 * @self: the runtime
 * @reclaimed: (out) (optional): return location for the bytes freed
 * @error: return location for a #GError, or %NULL
 *
 * Deletes the blobs no image in the store or box uses, and the root
 * filesystems and disks of images that are gone from the store and that no
 * box uses.
 *
 * Returns: the number of blobs, trees and disks deleted, or -1 with
 *   @error set (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
static gint
prune_images (BoxliteRuntime *self, guint64 *reclaimed, GCancellable *cancellable, GError **error)
{
    BlImageUsers users = { NULL, NULL };
    gint count = -1;
    if (bl_runtime_image_users (self, &users, error))
        count = bl_image_store_prune (bl_runtime_get_image_store (self), &users, reclaimed,
                                      cancellable, error);
    bl_image_users_clear (&users);
    return count;
}

gint
boxlite_runtime_prune_images (BoxliteRuntime *self, guint64 *reclaimed, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_RUNTIME (self), -1);
    return prune_images (self, reclaimed, NULL, error);
}

typedef struct {
    char *reference;
    gboolean force;
} RemoveArgs;

static void
remove_args_free (RemoveArgs *args)
{
    g_free (args->reference);
    g_free (args);
}

static gpointer
remove_call (gpointer source, gpointer data, GMainContext *caller_context,
             GCancellable *cancellable, GError **error)
{
    RemoveArgs *args = data;

    return remove_image (source, args->reference, args->force, cancellable, error)
               ? GINT_TO_POINTER (TRUE)
               : NULL;
}

/**
 * boxlite_runtime_remove_image_async:
 * @self: the runtime
 * @reference: a reference, or an image id or prefix
 * @force: remove it even while boxes use it
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context when
 *   the image is removed, or could not be
 * @user_data: (closure): data for @callback
 *
 * Removes an image without blocking; see boxlite_runtime_remove_image().
 * Call boxlite_runtime_remove_image_finish() from @callback.
 *
 * Since: 0.1
 */
void
boxlite_runtime_remove_image_async (BoxliteRuntime *self, const char *reference, gboolean force,
                                    GCancellable *cancellable, GAsyncReadyCallback callback,
                                    gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_RUNTIME (self));
    g_return_if_fail (reference != NULL);

    RemoveArgs *args = g_new0 (RemoveArgs, 1);
    args->reference = g_strdup (reference);
    args->force = force;
    bl_task_run_in_thread (self, boxlite_runtime_remove_image_async, remove_call, args,
                           (GDestroyNotify) remove_args_free, NULL, cancellable, callback,
                           user_data);
}

/**
 * boxlite_runtime_remove_image_finish:
 * @self: the runtime
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_runtime_remove_image_async().
 *
 * Returns: %TRUE on success, or %FALSE with @error set, as
 *   boxlite_runtime_remove_image() (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
gboolean
boxlite_runtime_remove_image_finish (BoxliteRuntime *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish_boolean (self, result, boxlite_runtime_remove_image_async, error);
}

typedef struct {
    gint count;
    guint64 reclaimed;
} PruneResult;

static gpointer
prune_call (gpointer source, gpointer data, GMainContext *caller_context, GCancellable *cancellable,
            GError **error)
{
    g_autofree PruneResult *result = g_new0 (PruneResult, 1);

    result->count = prune_images (source, &result->reclaimed, cancellable, error);
    return result->count < 0 ? NULL : g_steal_pointer (&result);
}

/**
 * boxlite_runtime_prune_images_async:
 * @self: the runtime
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context when
 *   the store is pruned
 * @user_data: (closure): data for @callback
 *
 * Prunes without blocking; see boxlite_runtime_prune_images(). Call
 * boxlite_runtime_prune_images_finish() from @callback.
 *
 * Since: 0.1
 */
void
boxlite_runtime_prune_images_async (BoxliteRuntime *self, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_RUNTIME (self));
    bl_task_run_in_thread (self, boxlite_runtime_prune_images_async, prune_call, NULL, NULL, g_free,
                           cancellable, callback, user_data);
}

/**
 * boxlite_runtime_prune_images_finish:
 * @self: the runtime
 * @result: the #GAsyncResult given to the callback
 * @reclaimed: (out) (optional): return location for the bytes freed
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_runtime_prune_images_async().
 *
 * Returns: the number of blobs, trees and disks deleted, or -1 with
 *   @error set (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
gint
boxlite_runtime_prune_images_finish (BoxliteRuntime *self, GAsyncResult *result, guint64 *reclaimed,
                                     GError **error)
{
    g_autofree PruneResult *pruned =
        bl_task_finish (self, result, boxlite_runtime_prune_images_async, error);

    if (!pruned)
        return -1;
    if (reclaimed)
        *reclaimed = pruned->reclaimed;
    return pruned->count;
}

/* ---- boxes from images ---- */

BoxliteImage *
bl_runtime_resolve_image (BoxliteRuntime *self, const char *reference,
                          GMainContext *progress_context, GCancellable *cancellable, GError **error)
{
    g_autoptr (GError) local = NULL;
    BoxliteImage *image = boxlite_runtime_inspect_image (self, reference, &local);

    if (image || !g_error_matches (local, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND)) {
        if (local)
            g_propagate_error (error, g_steal_pointer (&local));
        return image;
    }
    return pull_image (self, reference, progress_context, cancellable, error);
}

static gboolean
env_has_key (const char *const *env, const char *entry)
{
    gsize key_len = strcspn (entry, "=");

    for (guint i = 0; env && env[i]; i++) {
        if (strncmp (env[i], entry, key_len) == 0 && env[i][key_len] == '=')
            return TRUE;
    }
    return FALSE;
}

BoxliteBoxOptions *
bl_image_apply_defaults (BoxliteImage *image, BoxliteBoxOptions *options)
{
    g_autoptr (JsonNode) json = bl_box_options_to_json (options);
    BoxliteBoxOptions *copy = bl_box_options_from_json (json, NULL);
    const char *const *own_env = boxlite_box_options_get_env (options);
    BlImageConfig *config = image->config;
    g_autoptr (GStrvBuilder) env = g_strv_builder_new ();

    for (guint i = 0; config->env && config->env[i]; i++) {
        if (!env_has_key (own_env, config->env[i]))
            g_strv_builder_add (env, config->env[i]);
    }
    if (own_env)
        g_strv_builder_addv (env, (const char **) own_env);
    g_auto (GStrv) merged = g_strv_builder_end (env);
    boxlite_box_options_set_env (copy, (const char *const *) merged);
    if (!boxlite_box_options_get_working_dir (options))
        boxlite_box_options_set_working_dir (copy, config->working_dir);
    if (!boxlite_box_options_get_user (options))
        boxlite_box_options_set_user (copy, config->user);
    /* As with containers: an entrypoint of one's own drops the image's cmd. */
    if (!boxlite_box_options_get_entrypoint (options)) {
        boxlite_box_options_set_entrypoint (copy, (const char *const *) config->entrypoint);
        if (!boxlite_box_options_get_cmd (options))
            boxlite_box_options_set_cmd (copy, (const char *const *) config->cmd);
    }
    return copy;
}

/* boxlite-runtime.c: boxes on one home directory. */
#define G_LOG_DOMAIN "boxlite"

#include <boxlite/boxlite-runtime.h>

#include <glib/gstdio.h>
#include <poll.h>
#include <unistd.h>

#include "box-record.h"
#include <boxlite/boxlite-error.h>
#include "bl-task.h"
#include "boxlite-image-private.h"
#include "boxlite-private.h"
#include "disk.h"
#include "events.h"
#include "fs-private.h"
#include "fs-tree.h"
#include "paths.h"
#include "registry.h"
#include "snapshot.h"
#include "os-error.h"

/**
 * BoxliteRuntime:
 *
 * The entry point: the boxes and images on one home directory. A box that
 * is not detached stops when the runtime that started it is finalized.
 *
 * Since: 0.1
 */
struct _BoxliteRuntime {
    GObject parent_instance;
    char *home_dir;
    char *boxes_dir;
    GMutex lock;
    BlClient *client;      /* started on first use */
    GHashTable *lifelines; /* box id -> fd (GINT_TO_POINTER) */
    BlImageStore *images;
    GPtrArray *registries; /* of BlRegistryEntry */
    GStrv search;          /* hosts of the search registries */
    char *hosts_file;      /* for the boxes' DNS, or NULL */
};

enum {
    SIGNAL_PULL_PROGRESS,
    SIGNAL_BOX_EVENT,
    N_SIGNALS,
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (BoxliteRuntime, boxlite_runtime, G_TYPE_OBJECT)

static void
close_lifeline (gpointer data)
{
    close (GPOINTER_TO_INT (data));
}

static void
boxlite_runtime_finalize (GObject *object)
{
    BoxliteRuntime *self = BOXLITE_RUNTIME (object);

    /* Closing the lifelines is what stops this runtime's non-detached boxes. */
    g_hash_table_unref (self->lifelines);
    bl_client_free (self->client);
    bl_image_store_free (self->images);
    g_clear_pointer (&self->registries, g_ptr_array_unref);
    g_strfreev (self->search);
    g_free (self->hosts_file);
    g_free (self->home_dir);
    g_free (self->boxes_dir);
    g_mutex_clear (&self->lock);
    G_OBJECT_CLASS (boxlite_runtime_parent_class)->finalize (object);
}

static void
boxlite_runtime_class_init (BoxliteRuntimeClass *klass)
{
    G_OBJECT_CLASS (klass)->finalize = boxlite_runtime_finalize;

    /**
     * BoxliteRuntime::pull-progress:
     * @self: the runtime
     * @digest: the blob being fetched ("sha256:…")
     * @done: bytes of it fetched so far
     * @total: its size in bytes
     *
     * Emitted while an image is pulled, on the thread-default main context
     * of the caller of boxlite_runtime_pull_image_async() (or
     * boxlite_runtime_create_async()), or on the calling thread for the
     * blocking calls. Reports of one blob are at least 100 ms apart, except
     * the one that completes it.
     *
     * Since: 0.1
     */
    signals[SIGNAL_PULL_PROGRESS] =
        g_signal_new ("pull-progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_UINT64, G_TYPE_UINT64);

    /**
     * BoxliteRuntime::box-event:
     * @self: the runtime
     * @box_id: the box it happened to
     * @action: "create", "start", "stop", "crash", "pause", "resume",
     *   "remove", "import", "exec_start" or "exec_exit"
     * @event: the whole event, one JSON object (time, box, name, action,
     *   attributes such as a crash's reason or a command's program and
     *   exit status)
     *
     * Emitted for what happens to any box of the runtime's home directory,
     * whichever process did it, once boxlite_runtime_watch_events() was
     * called, on the thread-default main context of that call.
     *
     * Since: 0.1
     */
    signals[SIGNAL_BOX_EVENT] =
        g_signal_new ("box-event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

void
bl_runtime_emit_box_event (BoxliteRuntime *self, const char *box_id, const char *action,
                           const char *event)
{
    g_signal_emit (self, signals[SIGNAL_BOX_EVENT], 0, box_id, action, event);
}

static void
boxlite_runtime_init (BoxliteRuntime *self)
{
    g_mutex_init (&self->lock);
    self->lifelines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, close_lifeline);
}

/**
 * boxlite_runtime_new:
 * @options: (nullable): runtime options, or %NULL for the defaults
 * @error: return location for a #GError, or %NULL
 *
 * Opens (and creates if needed) the home directory, after checking
 * @options with boxlite_options_validate().
 *
 * Returns: (transfer full): a runtime, or %NULL with @error set
 *   (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
BoxliteRuntime *
boxlite_runtime_new (BoxliteOptions *options, GError **error)
{
    g_autoptr (BoxliteRuntime) self = g_object_new (BOXLITE_TYPE_RUNTIME, NULL);
    const char *home = options ? boxlite_options_get_home_dir (options) : NULL;

    if (options && !boxlite_options_validate (options, error))
        return NULL;
    self->hosts_file = options ? g_strdup (boxlite_options_get_hosts_file (options)) : NULL;
    if (!home || !*home)
        home = g_getenv ("BOXLITE_HOME");
    if (home && *home)
        self->home_dir = g_canonicalize_filename (home, NULL);
    else
        self->home_dir = g_build_filename (g_get_home_dir (), ".boxlite", NULL);
    self->boxes_dir = g_build_filename (self->home_dir, "boxes", NULL);
    g_autofree char *images_dir = g_build_filename (self->home_dir, "images", NULL);
    g_autofree char *registries = g_build_filename (self->home_dir, "registries.json", NULL);
    if (!bl_private_dir_ensure (self->home_dir, error) ||
        !bl_private_dir_ensure (self->boxes_dir, error) ||
        !bl_private_dir_ensure (images_dir, error) || !bl_private_file_check (registries, error))
        return NULL;
    self->images = bl_image_store_new (self->home_dir, error);
    if (!self->images)
        return NULL;
    if (options)
        bl_image_store_set_limits (self->images, boxlite_options_get_image_max_bytes (options),
                                   boxlite_options_get_image_max_entries (options));
    self->registries = bl_registry_entries_load (
        self->home_dir, options ? boxlite_options_get_image_registries (options) : NULL, error);
    if (!self->registries)
        return NULL;
    g_autoptr (GStrvBuilder) search = g_strv_builder_new ();
    for (guint i = 0; i < self->registries->len; i++) {
        BlRegistryEntry *entry = self->registries->pdata[i];
        if (entry->search)
            g_strv_builder_add (search, entry->host);
    }
    self->search = g_strv_builder_end (search);
    return g_steal_pointer (&self);
}

/**
 * boxlite_runtime_get_home_dir:
 * @self: the runtime
 *
 * Gives the directory where the runtime keeps boxes, images and sockets.
 *
 * Returns: (transfer none) (type filename): the home directory
 *
 * Since: 0.1
 */
const char *
boxlite_runtime_get_home_dir (BoxliteRuntime *self)
{
    g_return_val_if_fail (BOXLITE_IS_RUNTIME (self), NULL);
    return self->home_dir;
}

const char *
bl_runtime_get_boxes_dir (BoxliteRuntime *self)
{
    return self->boxes_dir;
}

const char *
bl_runtime_get_cache_dir (BoxliteRuntime *self)
{
    return self->home_dir;
}

const char *
bl_runtime_get_hosts_file (BoxliteRuntime *self)
{
    return self->hosts_file;
}

BlImageStore *
bl_runtime_get_image_store (BoxliteRuntime *self)
{
    return self->images;
}

GPtrArray *
bl_runtime_get_registries (BoxliteRuntime *self)
{
    return self->registries;
}

const char *const *
bl_runtime_get_search_registries (BoxliteRuntime *self)
{
    return (const char *const *) self->search;
}

void
bl_runtime_emit_pull_progress (BoxliteRuntime *self, const char *digest, guint64 done,
                               guint64 total)
{
    g_signal_emit (self, signals[SIGNAL_PULL_PROGRESS], 0, digest, done, total);
}

BlClient *
bl_runtime_get_client (BoxliteRuntime *self)
{
    g_mutex_lock (&self->lock);
    if (!self->client)
        self->client = bl_client_new ();
    BlClient *client = self->client;
    g_mutex_unlock (&self->lock);
    return client;
}

/* Whether the monitor at the other end of a lifeline is gone: the write end
 * of a pipe with no reader polls POLLERR. */
static gboolean
lifeline_is_dead (gpointer key, gpointer value, gpointer user_data)
{
    struct pollfd pfd = { .fd = GPOINTER_TO_INT (value), .events = 0 };

    return poll (&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLNVAL));
}

void
bl_runtime_hold_lifeline (BoxliteRuntime *self, const char *box_id, int fd)
{
    g_mutex_lock (&self->lock);
    /* A box whose monitor ended on its own (its guest powered off, QEMU
     * died, an auto-removed box finished) is never stopped or removed
     * through us: let go of its lifeline now, or a program that starts
     * boxes for ever keeps one fd per such box. */
    g_hash_table_foreach_remove (self->lifelines, lifeline_is_dead, NULL);
    g_hash_table_replace (self->lifelines, g_strdup (box_id), GINT_TO_POINTER (fd));
    g_mutex_unlock (&self->lock);
}

void
bl_runtime_drop_lifeline (BoxliteRuntime *self, const char *box_id)
{
    g_mutex_lock (&self->lock);
    g_hash_table_remove (self->lifelines, box_id);
    g_mutex_unlock (&self->lock);
}

/* Every record under the home dir, oldest first. Unreadable ones are skipped
 * with a warning: one damaged box must not hide the others. */
static GPtrArray *
load_records (BoxliteRuntime *self, GError **error)
{
    g_autoptr (GDir) dir = g_dir_open (self->boxes_dir, 0, error);
    GPtrArray *records = g_ptr_array_new_with_free_func ((GDestroyNotify) bl_record_free);
    const char *entry;

    if (!dir) {
        g_ptr_array_unref (records);
        return NULL;
    }
    while ((entry = g_dir_read_name (dir))) {
        g_autofree char *box_dir = g_build_filename (self->boxes_dir, entry, NULL);
        g_autoptr (GError) local = NULL;
        if (!g_file_test (box_dir, G_FILE_TEST_IS_DIR))
            continue;
        BlRecord *record = bl_record_load (box_dir, &local);
        if (record)
            g_ptr_array_add (records, record);
        else if (!g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            g_warning ("skipping %s: %s", box_dir, local->message);
    }
    return records;
}

gboolean
bl_runtime_image_users (BoxliteRuntime *self, BlImageUsers *users, GError **error)
{
    g_autoptr (GPtrArray) records = load_records (self, error);

    if (!records)
        return FALSE;
    users->ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    users->digests = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; i < records->len; i++) {
        BlRecord *r = records->pdata[i];
        if (r->image_id)
            g_hash_table_add (users->ids, g_strdup (r->image_id));
        if (r->image_digest)
            g_hash_table_add (users->digests, g_strdup (r->image_digest));
    }
    return TRUE;
}

void
bl_image_users_clear (BlImageUsers *users)
{
    g_clear_pointer (&users->ids, g_hash_table_unref);
    g_clear_pointer (&users->digests, g_hash_table_unref);
}

static BlRecord *
find_record (GPtrArray *records, const char *id_or_name, GError **error)
{
    BlRecord *prefix_match = NULL;
    guint prefix_matches = 0;

    for (guint i = 0; i < records->len; i++) {
        BlRecord *r = records->pdata[i];
        if (g_str_equal (r->id, id_or_name) || g_strcmp0 (r->name, id_or_name) == 0)
            return r;
        if (g_str_has_prefix (r->id, id_or_name)) {
            prefix_match = r;
            prefix_matches++;
        }
    }
    if (prefix_matches == 1)
        return prefix_match;
    if (prefix_matches > 1)
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_AMBIGUOUS,
                     "'%s' matches %u boxes; give more of the id", id_or_name, prefix_matches);
    else
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND, "no such box: %s", id_or_name);
    return NULL;
}

static BoxliteBox *
box_from_record (BoxliteRuntime *self, BlRecord *record, GError **error)
{
    g_autofree char *box_dir = g_build_filename (self->boxes_dir, record->id, NULL);
    g_autoptr (BoxliteBoxOptions) options = bl_box_options_from_json (record->options, error);
    BlRecord *copy;

    if (!options)
        return NULL;
    copy = bl_record_load (box_dir, error);
    if (!copy)
        return NULL;
    return bl_box_new (self, box_dir, copy, options);
}

static char *
new_box_id (void)
{
    g_autofree char *uuid = g_uuid_string_random ();
    GString *id = g_string_new (NULL);

    for (const char *p = uuid; *p; p++) {
        if (*p != '-')
            g_string_append_c (id, *p);
    }
    return g_string_free (id, FALSE);
}

static gboolean
check_name (const char *name, GError **error)
{
    if (bl_record_name_valid (name))
        return TRUE;
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                 "invalid box name '%s': use letters, digits, '_', '.' and '-', starting with "
                 "a letter or digit, at most 64 characters",
                 name);
    return FALSE;
}

/* Whether no box has @name; call with the lock on the boxes directory. */
static gboolean
name_is_free (BoxliteRuntime *self, const char *name, GError **error)
{
    g_autoptr (GPtrArray) records = load_records (self, error);

    if (!records)
        return FALSE;
    for (guint i = 0; i < records->len; i++) {
        BlRecord *r = records->pdata[i];
        if (g_strcmp0 (r->name, name) == 0) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_EXISTS,
                         "the name '%s' is already used by box %s", name, r->id);
            return FALSE;
        }
    }
    return TRUE;
}

char *
bl_runtime_adopt_box (BoxliteRuntime *self, const char *staging_dir, BlRecord *record,
                      const char *action, GError **error)
{
    g_autofree char *id = new_box_id ();
    g_autofree char *default_name = g_strdup_printf ("box-%.8s", id);
    g_autofree char *box_dir = g_build_filename (self->boxes_dir, id, NULL);

    if (!record->name)
        record->name = g_steal_pointer (&default_name);
    if (!check_name (record->name, error))
        return NULL;
    g_free (record->id);
    record->id = g_strdup (id);
    if (!bl_record_save (staging_dir, record, error))
        return NULL;
    int lock = bl_record_lock (self->boxes_dir, error);
    if (lock < 0)
        return NULL;
    gboolean ok = name_is_free (self, record->name, error);
    if (ok && g_rename (staging_dir, box_dir) < 0)
        ok = bl_os_error (error, errno, "move into place", staging_dir);
    if (ok)
        bl_events_append (box_dir, record->name, action, NULL);
    bl_record_unlock (lock);
    return ok ? g_steal_pointer (&box_dir) : NULL;
}

/* Declared in boxlite-private.h. Claims the name and writes the record, under
 * the home-wide lock so that two processes cannot create two boxes with one
 * name. */
char *
bl_runtime_register_box (BoxliteRuntime *self, BoxliteBoxOptions *options, const BlRecord *image,
                         const char *name, GError **error)
{
    g_autofree char *id = new_box_id ();
    g_autofree char *default_name = g_strdup_printf ("box-%.8s", id);
    g_autofree char *box_dir = g_build_filename (self->boxes_dir, id, NULL);
    g_autoptr (JsonNode) options_json = bl_box_options_to_json (options);

    if (!name)
        name = default_name;
    if (!check_name (name, error))
        return NULL;
    int lock = bl_record_lock (self->boxes_dir, error);
    if (lock < 0)
        return NULL;
    gboolean ok = name_is_free (self, name, error);
    if (ok && g_mkdir (box_dir, 0700) < 0) {
        bl_os_error (error, errno, "create", box_dir);
        ok = FALSE;
    }
    if (ok) {
        g_autoptr (BlRecord) record = bl_record_new (id, name, options_json);
        if (image) {
            /* Recorded before the disk exists, so that a prune running
             * meanwhile keeps the image. */
            record->image = g_strdup (image->image);
            record->image_id = g_strdup (image->image_id);
            record->image_digest = g_strdup (image->image_digest);
        }
        ok = bl_record_save (box_dir, record, error);
        if (ok)
            bl_events_append (box_dir, name, "create", NULL);
    }
    bl_record_unlock (lock);
    return ok ? g_steal_pointer (&id) : NULL;
}

/* The shared read-only disk a new box's overlay sits on. */
static char *
base_disk (BoxliteRuntime *self, BoxliteImage *image, const char *rootfs, GCancellable *cancellable,
           GError **error)
{
    if (image)
        return bl_image_store_disk (self->images, boxlite_image_get_id (image),
                                    boxlite_image_get_digest (image), cancellable, error);
    return bl_disk_base_image (bl_runtime_get_cache_dir (self), rootfs, cancellable, error);
}

static BoxliteBox *
create_box (BoxliteRuntime *self, BoxliteBoxOptions *options, const char *name,
            GMainContext *progress_context, GCancellable *cancellable, GError **error)
{
    const char *reference = boxlite_box_options_get_image (options);
    g_autoptr (BoxliteImage) image = NULL;
    g_autoptr (BoxliteBoxOptions) effective = NULL;
    g_autofree char *rootfs = NULL;

    if (!boxlite_box_options_validate (options, error) ||
        g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
    if (reference) {
        image = bl_runtime_resolve_image (self, reference, progress_context, cancellable, error);
        if (!image)
            return NULL;
        effective = bl_image_apply_defaults (image, options);
    } else {
        rootfs = g_strdup (boxlite_box_options_get_rootfs (options));
        if (!rootfs && !(rootfs = bl_path_default_image (error)))
            return NULL;
        effective = g_object_ref (options);
    }

    BlRecord image_fields = { 0 };
    if (image) {
        image_fields.image = (char *) boxlite_image_get_reference (image);
        image_fields.image_id = (char *) boxlite_image_get_id (image);
        image_fields.image_digest = (char *) boxlite_image_get_digest (image);
    }
    g_autofree char *id =
        bl_runtime_register_box (self, effective, image ? &image_fields : NULL, name, error);
    if (!id)
        return NULL;
    g_autofree char *box_dir = g_build_filename (self->boxes_dir, id, NULL);
    g_autofree char *overlay = g_build_filename (box_dir, "disk.qcow2", NULL);
    g_autofree char *base = base_disk (self, image, rootfs, cancellable, error);
    if (!base ||
        !bl_disk_create_overlay (base, overlay, boxlite_box_options_get_disk_size_gb (options),
                                 cancellable, error) ||
        /* The last moment a cancellation can still undo the box. */
        g_cancellable_set_error_if_cancelled (cancellable, error)) {
        g_autoptr (GError) local = NULL;
        if (!bl_tree_remove (box_dir, &local))
            g_warning ("%s", local->message);
        return NULL;
    }
    g_autoptr (BlRecord) record = bl_record_load (box_dir, error);
    if (!record)
        return NULL;
    return box_from_record (self, record, error);
}

/**
 * boxlite_runtime_create:
 * @self: the runtime
 * @options: how to make the box
 * @name: (nullable): a unique name, or %NULL for one made from the id
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Creates a box: its record, and its disk as a copy-on-write overlay over the
 * root filesystem's shared image (built the first time that root filesystem
 * is used). With an image reference in @options, the image is pulled first
 * when the store lacks it, and the box inherits its Env, WorkingDir, User,
 * Entrypoint and Cmd where @options gives none. The box is not started.
 *
 * Returns: (transfer full): the box, or %NULL with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_INVALID_ARGUMENT, %BOXLITE_ERROR_EXISTS,
 *   %BOXLITE_ERROR_IMAGE; G_IO_ERROR, %G_IO_ERROR_CANCELLED when cancelled)
 *
 * Since: 0.1
 */
BoxliteBox *
boxlite_runtime_create (BoxliteRuntime *self, BoxliteBoxOptions *options, const char *name,
                        GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_RUNTIME (self), NULL);
    g_return_val_if_fail (BOXLITE_IS_BOX_OPTIONS (options), NULL);

    return create_box (self, options, name, NULL, cancellable, error);
}

typedef struct {
    BoxliteBoxOptions *options;
    char *name;
} CreateArgs;

static void
create_args_free (CreateArgs *args)
{
    g_object_unref (args->options);
    g_free (args->name);
    g_free (args);
}

static gpointer
create_call (gpointer source, gpointer data, GMainContext *caller_context,
             GCancellable *cancellable, GError **error)
{
    CreateArgs *args = data;
    BoxliteBox *box =
        create_box (source, args->options, args->name, caller_context, cancellable, error);

    if (box)
        bl_box_set_context (box, caller_context);
    return box;
}

/**
 * boxlite_runtime_create_async:
 * @self: the runtime
 * @options: how to make the box
 * @name: (nullable): a unique name, or %NULL for one made from the id
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context when
 *   the box exists or could not be made
 * @user_data: (closure): data for @callback
 *
 * Creates a box without blocking; see boxlite_runtime_create(). Call
 * boxlite_runtime_create_finish() from @callback.
 *
 * Since: 0.1
 */
void
boxlite_runtime_create_async (BoxliteRuntime *self, BoxliteBoxOptions *options, const char *name,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_RUNTIME (self));
    g_return_if_fail (BOXLITE_IS_BOX_OPTIONS (options));

    CreateArgs *args = g_new0 (CreateArgs, 1);
    args->options = g_object_ref (options);
    args->name = g_strdup (name);
    bl_task_run_in_thread (self, boxlite_runtime_create_async, create_call, args,
                           (GDestroyNotify) create_args_free, g_object_unref, cancellable, callback,
                           user_data);
}

/**
 * boxlite_runtime_create_finish:
 * @self: the runtime
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_runtime_create_async().
 *
 * Returns: (transfer full): the box, or %NULL with @error set, as
 *   boxlite_runtime_create() (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
BoxliteBox *
boxlite_runtime_create_finish (BoxliteRuntime *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish (self, result, boxlite_runtime_create_async, error);
}

/**
 * boxlite_runtime_get:
 * @self: the runtime
 * @id_or_name: a box id, a unique prefix of one, or a box name
 * @error: return location for a #GError, or %NULL
 *
 * Looks a box up.
 *
 * Returns: (transfer full): the box, or %NULL with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_NOT_FOUND, %BOXLITE_ERROR_AMBIGUOUS;
 *   G_IO_ERROR)
 *
 * Since: 0.1
 */
BoxliteBox *
boxlite_runtime_get (BoxliteRuntime *self, const char *id_or_name, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_RUNTIME (self), NULL);
    g_return_val_if_fail (id_or_name != NULL, NULL);

    if (!*id_or_name) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT, "empty box name");
        return NULL;
    }
    g_autoptr (GPtrArray) records = load_records (self, error);
    if (!records)
        return NULL;
    BlRecord *record = find_record (records, id_or_name, error);
    return record ? box_from_record (self, record, error) : NULL;
}

static gint
compare_created (gconstpointer a, gconstpointer b)
{
    const BlRecord *ra = *(const BlRecord *const *) a;
    const BlRecord *rb = *(const BlRecord *const *) b;
    return g_strcmp0 (ra->created_at, rb->created_at);
}

/**
 * boxlite_runtime_list:
 * @self: the runtime
 * @error: return location for a #GError, or %NULL
 *
 * Lists the runtime's boxes.
 *
 * Returns: (element-type BoxliteBox) (transfer full): every box, oldest
 *   first (%NULL when there are none), or %NULL with @error set
 *   (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
GList *
boxlite_runtime_list (BoxliteRuntime *self, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_RUNTIME (self), NULL);

    g_autoptr (GPtrArray) records = load_records (self, error);
    GList *boxes = NULL;
    if (!records)
        return NULL;
    g_ptr_array_sort (records, compare_created);
    for (guint i = 0; i < records->len; i++) {
        g_autoptr (GError) local = NULL;
        BoxliteBox *box = box_from_record (self, records->pdata[i], &local);
        if (box)
            boxes = g_list_prepend (boxes, box);
    }
    return g_list_reverse (boxes);
}

/**
 * boxlite_runtime_remove:
 * @self: the runtime
 * @id_or_name: a box id, a unique prefix of one, or a box name
 * @force: stop the box first if it runs
 * @error: return location for a #GError, or %NULL
 *
 * Deletes a box, its disk and its snapshots.
 *
 * Returns: %TRUE on success, or %FALSE with @error set (BOXLITE_ERROR:
 *   %BOXLITE_ERROR_NOT_FOUND, %BOXLITE_ERROR_INVALID_STATE when it runs and
 *   @force is not set, or while a clone's disk reads files of this box's,
 *   even with @force; G_IO_ERROR)
 *
 * Since: 0.1
 */
gboolean
boxlite_runtime_remove (BoxliteRuntime *self, const char *id_or_name, gboolean force,
                        GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_RUNTIME (self), FALSE);

    g_autoptr (BoxliteBox) box = boxlite_runtime_get (self, id_or_name, error);
    if (!box)
        return FALSE;
    /* Before stopping it: a clone's disk reads files of this box's. */
    g_autofree char *clone = bl_snapshot_find_clone (self->boxes_dir, bl_box_get_dir (box), NULL);
    if (clone) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE,
                     "box %s holds the disk of its clone %s: remove the clone first",
                     boxlite_box_get_name (box), clone);
        return FALSE;
    }
    if (bl_box_state_is_live (boxlite_box_get_state (box))) {
        if (!force) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE,
                         "box %s is running; stop it first or force the removal",
                         boxlite_box_get_name (box));
            return FALSE;
        }
        if (!boxlite_box_stop (box, TRUE, NULL, error))
            return FALSE;
    }
    bl_runtime_drop_lifeline (self, boxlite_box_get_id (box));
    if (self->client)
        bl_client_forget (self->client, bl_box_get_dir (box));
    g_autofree char *frozen = bl_snapshot_frozen_for (bl_box_get_dir (box));
    if (!bl_tree_remove (bl_box_get_dir (box), error)) {
        g_prefix_error (error, "cannot delete box %s: ", boxlite_box_get_name (box));
        return FALSE;
    }
    if (frozen)
        bl_snapshot_drop_frozen (self->boxes_dir, frozen);
    bl_events_append (bl_box_get_dir (box), boxlite_box_get_name (box), "remove", NULL);
    return TRUE;
}

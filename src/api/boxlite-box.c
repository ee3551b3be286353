/* boxlite-box.c: one box: its record, its monitor, its commands. */
#define G_LOG_DOMAIN "boxlite"

#include <boxlite/boxlite-box.h>

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boxlite/boxlite-enum-types.h>
#include <boxlite/boxlite-error.h>
#include "bl-task.h"
#include "boxlite-private.h"
#include "disk.h"
#include "initramfs.h"
#include "json-file.h"
#include "launch.h"
#include "monitor-ctl.h"
#include "netcounts.h"
#include "paths.h"
#include "os-error.h"
#include "volume.h"

/* TCG boots take a second or two; a loaded CI machine may take far longer. */
#define BOOT_TIMEOUT_MS 120000
#define STOP_TIMEOUT_MS 10000

/**
 * BoxliteBox:
 *
 * One box: a virtual machine made from a root filesystem, with its own
 * disk, run by a monitor process that outlives the caller when the box is
 * detached. Get one from boxlite_runtime_create() or boxlite_runtime_get().
 *
 * Since: 0.1
 */
struct _BoxliteBox {
    GObject parent_instance;
    BoxliteRuntime *runtime;
    char *dir;
    char *id;   /* never change: kept apart from the record, which is */
    char *name; /* replaced on every refresh */
    GMutex lock;
    BlRecord *record;
    BoxliteBoxOptions *options;
    GMainContext *context; /* where notify::state is emitted */
    BoxliteBoxState state; /* the property, under @lock; changed on @context only */
    guint watch;           /* on the runtime's client, or 0 */
};

G_DEFINE_FINAL_TYPE (BoxliteBox, boxlite_box, G_TYPE_OBJECT)

/* Identity properties are set once by bl_box_new(), so never notified;
 * state follows the monitor. */
enum {
    PROP_0,
    PROP_ID,
    PROP_NAME,
    PROP_OPTIONS,
    PROP_RUNTIME,
    PROP_STATE,
    N_PROPS,
};

static GParamSpec *properties[N_PROPS];

enum {
    SIGNAL_COPY_PROGRESS,
    N_SIGNALS,
};

static guint signals[N_SIGNALS];

static void
weak_ref_free (gpointer data)
{
    g_weak_ref_clear (data);
    g_free (data);
}

static void
boxlite_box_finalize (GObject *object)
{
    BoxliteBox *self = BOXLITE_BOX (object);

    if (self->watch)
        bl_client_remove_watch (bl_runtime_get_client (self->runtime), self->watch);
    g_clear_pointer (&self->context, g_main_context_unref);
    g_clear_object (&self->runtime);
    g_clear_object (&self->options);
    g_clear_pointer (&self->record, bl_record_free);
    g_free (self->dir);
    g_free (self->id);
    g_free (self->name);
    g_mutex_clear (&self->lock);
    G_OBJECT_CLASS (boxlite_box_parent_class)->finalize (object);
}

static void
boxlite_box_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
    BoxliteBox *self = BOXLITE_BOX (object);

    switch (prop_id) {
    case PROP_ID:
        g_value_set_string (value, self->id);
        break;
    case PROP_NAME:
        g_value_set_string (value, self->name);
        break;
    case PROP_OPTIONS:
        g_value_set_object (value, self->options);
        break;
    case PROP_RUNTIME:
        g_value_set_object (value, self->runtime);
        break;
    case PROP_STATE:
        g_mutex_lock (&self->lock);
        g_value_set_enum (value, self->state);
        g_mutex_unlock (&self->lock);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
boxlite_box_class_init (BoxliteBoxClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS (klass);
    const GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

    object_class->finalize = boxlite_box_finalize;
    object_class->get_property = boxlite_box_get_property;

    /**
     * BoxliteBox:id:
     *
     * The box's id: 32 hexadecimal digits.
     *
     * Since: 0.1
     */
    properties[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL, flags);

    /**
     * BoxliteBox:name:
     *
     * The box's name, unique in its runtime.
     *
     * Since: 0.1
     */
    properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, flags);

    /**
     * BoxliteBox:options:
     *
     * The options the box was created with.
     *
     * Since: 0.1
     */
    properties[PROP_OPTIONS] =
        g_param_spec_object ("options", NULL, NULL, BOXLITE_TYPE_BOX_OPTIONS, flags);

    /**
     * BoxliteBox:runtime:
     *
     * The runtime the box belongs to.
     *
     * Since: 0.1
     */
    properties[PROP_RUNTIME] =
        g_param_spec_object ("runtime", NULL, NULL, BOXLITE_TYPE_RUNTIME, flags);

    /**
     * BoxliteBox:state:
     *
     * Where the box is in its life, kept current from its monitor: a box
     * started or stopped through this object, or, while it runs, paused,
     * resumed or stopped by any process, or whose VM or monitor died,
     * changes this property without being asked. A start by another
     * process is seen at the next boxlite_box_refresh() or
     * boxlite_box_get_state() (a stopped box has no monitor to tell), and
     * the box is followed from then on.
     *
     * The property changes, and `notify::state` is emitted, only on the
     * thread-default main context of the thread that obtained the box
     * (from boxlite_runtime_create(), boxlite_runtime_get() or
     * boxlite_runtime_list(); for boxlite_runtime_create_async(), the
     * context it was called on), and only while that context runs. Other
     * threads read the value it last took there. boxlite_box_get_state()
     * reads the record instead, and brings this property up to date soon
     * after.
     *
     * Since: 0.1
     */
    properties[PROP_STATE] =
        g_param_spec_enum ("state", NULL, NULL, BOXLITE_TYPE_BOX_STATE,
                           BOXLITE_BOX_STATE_CONFIGURED, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

    g_object_class_install_properties (object_class, N_PROPS, properties);

    /**
     * BoxliteBox::copy-progress:
     * @self: the box
     * @done: bytes of the archive moved so far
     * @total: bytes of file contents to copy (the archive adds its headers
     *   to them), or 0 when not known (copies out of the box)
     *
     * Reports a copy into or out of the box as it goes: from the thread
     * that called a blocking copy, or on the thread-default main context of
     * the caller of an `_async` one. Emitted at most once per mebibyte and
     * once at the end.
     *
     * Since: 0.1
     */
    signals[SIGNAL_COPY_PROGRESS] =
        g_signal_new ("copy-progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_UINT64);
}

void
bl_box_emit_copy_progress (BoxliteBox *self, guint64 done, guint64 total)
{
    g_signal_emit (self, signals[SIGNAL_COPY_PROGRESS], 0, done, total);
}

static void
boxlite_box_init (BoxliteBox *self)
{
    g_mutex_init (&self->lock);
}

/* On @self's context: the property takes the record's state, and tells. */
static gboolean
sync_state (gpointer data)
{
    g_autoptr (BoxliteBox) self = g_weak_ref_get (data);

    if (!self)
        return G_SOURCE_REMOVE;
    g_mutex_lock (&self->lock);
    gboolean changed = self->state != self->record->state;
    self->state = self->record->state;
    g_mutex_unlock (&self->lock);
    if (changed)
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
    return G_SOURCE_REMOVE;
}

/* Runs @func (a weak reference to @self) from @self's context. */
static void
queue_on_context (BoxliteBox *self, GSourceFunc func)
{
    g_autoptr (GSource) source = g_idle_source_new ();
    GWeakRef *ref = g_new0 (GWeakRef, 1);

    g_weak_ref_init (ref, self);
    /* Ahead of idle work, and in order with the completion of a start or
     * stop that caused the change (which GTask sends at this priority). */
    g_source_set_priority (source, G_PRIORITY_DEFAULT);
    g_source_set_callback (source, func, ref, weak_ref_free);
    g_source_attach (source, self->context);
}

/* What the I/O thread holds to tell a box of its monitor's news. It never
 * takes a strong reference on the box: the last one dropped there would
 * finalize the box on that thread. Shared with the idle sources it queues. */
typedef struct {
    GWeakRef box;
    GMainContext *context;
} MonitorNews;

static void
monitor_news_clear (gpointer data)
{
    MonitorNews *news = data;

    g_weak_ref_clear (&news->box);
    g_main_context_unref (news->context);
}

static void
monitor_news_release (gpointer data)
{
    g_atomic_rc_box_release_full (data, monitor_news_clear);
}

/* On the box's context: the monitor said something; the record has it. */
static gboolean
reread_record (gpointer data)
{
    MonitorNews *news = data;
    g_autoptr (BoxliteBox) self = g_weak_ref_get (&news->box);

    if (self)
        boxlite_box_refresh (self, NULL);
    return G_SOURCE_REMOVE;
}

/* On the I/O thread. */
static void
on_monitor_news (gpointer data)
{
    MonitorNews *news = data;
    g_autoptr (GSource) source = g_idle_source_new ();

    g_source_set_priority (source, G_PRIORITY_DEFAULT);
    g_source_set_callback (source, reread_record, g_atomic_rc_box_acquire (news),
                           monitor_news_release);
    g_source_attach (source, news->context);
}

/* Follows the box's monitor, which tells of every change of state. */
static void
watch_monitor (BoxliteBox *self)
{
    BlClient *client = bl_runtime_get_client (self->runtime);

    g_mutex_lock (&self->lock);
    if (!self->watch) {
        MonitorNews *news = g_atomic_rc_box_new0 (MonitorNews);
        g_weak_ref_init (&news->box, self);
        news->context = g_main_context_ref (self->context);
        self->watch =
            bl_client_add_watch (client, self->dir, on_monitor_news, news, monitor_news_release);
        g_mutex_unlock (&self->lock);
        return;
    }
    g_mutex_unlock (&self->lock);
    bl_client_resubscribe (client, self->dir);
}

BoxliteBox *
bl_box_new (BoxliteRuntime *runtime, const char *box_dir, BlRecord *record,
            BoxliteBoxOptions *options)
{
    BoxliteBox *self = g_object_new (BOXLITE_TYPE_BOX, NULL);

    self->runtime = g_object_ref (runtime);
    self->dir = g_strdup (box_dir);
    self->record = record;
    self->id = g_strdup (record->id);
    self->name = g_strdup (record->name);
    self->options = g_object_ref (options);
    self->state = record->state;
    self->context = g_main_context_ref_thread_default ();
    if (bl_box_state_is_live (self->state))
        watch_monitor (self);
    return self;
}

void
bl_box_set_context (BoxliteBox *self, GMainContext *context)
{
    g_main_context_unref (self->context);
    self->context = g_main_context_ref (context ? context : g_main_context_default ());
}

const char *
bl_box_get_dir (BoxliteBox *self)
{
    return self->dir;
}

/**
 * boxlite_box_get_id:
 * @self: the box
 *
 * Gets the [property@Boxlite.Box:id] property.
 *
 * Returns: (transfer none): the box's id: 32 hexadecimal digits
 *
 * Since: 0.1
 */
const char *
boxlite_box_get_id (BoxliteBox *self)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), NULL);
    return self->id;
}

/**
 * boxlite_box_get_name:
 * @self: the box
 *
 * Gets the [property@Boxlite.Box:name] property.
 *
 * Returns: (transfer none): the box's name, unique in its runtime
 *
 * Since: 0.1
 */
const char *
boxlite_box_get_name (BoxliteBox *self)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), NULL);
    return self->name;
}

/**
 * boxlite_box_get_options:
 * @self: the box
 *
 * Gets the [property@Boxlite.Box:options] property.
 *
 * Returns: (transfer none): the options the box was created with
 *
 * Since: 0.1
 */
BoxliteBoxOptions *
boxlite_box_get_options (BoxliteBox *self)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), NULL);
    return self->options;
}

/**
 * boxlite_box_get_created_at:
 * @self: the box
 *
 * Tells when the box was created.
 *
 * Returns: (transfer full) (nullable): the time of creation, or %NULL when
 *   the record does not say
 *
 * Since: 0.1
 */
GDateTime *
boxlite_box_get_created_at (BoxliteBox *self)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), NULL);
    g_mutex_lock (&self->lock);
    GDateTime *created = self->record->created_at
                             ? g_date_time_new_from_iso8601 (self->record->created_at, NULL)
                             : NULL;
    g_mutex_unlock (&self->lock);
    return created;
}

/* Whether @pid is a box monitor: a recycled pid must not pass for one. */
static gboolean
monitor_alive (gint pid)
{
    g_autofree char *path = NULL;
    g_autofree char *cmdline = NULL;
    gsize len = 0;

    if (pid <= 0 || (kill (pid, 0) < 0 && errno == ESRCH))
        return FALSE;
    path = g_strdup_printf ("/proc/%d/cmdline", pid);
    if (!g_file_get_contents (path, &cmdline, &len, NULL))
        return FALSE;
    return len > 0 && g_str_has_suffix (cmdline, "boxlite-shim");
}

/**
 * boxlite_box_refresh:
 * @self: the box
 * @error: return location for a #GError, or %NULL
 *
 * Re-reads the box's record, which its monitor updates from another process.
 * A box recorded as running whose monitor is gone is recorded as crashed.
 *
 * Returns: %TRUE on success, or %FALSE with @error set (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_refresh (BoxliteBox *self, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);

    g_autoptr (BlRecord) record = bl_record_load (self->dir, error);
    if (!record)
        return FALSE;
    if (bl_box_state_is_live (record->state) && !monitor_alive (record->monitor_pid)) {
        g_autofree char *why =
            g_strdup_printf ("the box monitor (pid %d) disappeared", record->monitor_pid);
        /* It may have just finished writing its own verdict: re-read under the lock. */
        int lock = bl_record_lock (self->dir, error);
        if (lock < 0)
            return FALSE;
        g_autoptr (BlRecord) again = bl_record_load (self->dir, error);
        if (again && bl_box_state_is_live (again->state) &&
            again->monitor_pid == record->monitor_pid) {
            again->state = BOXLITE_BOX_STATE_CRASHED;
            again->monitor_pid = 0;
            g_free (again->error);
            again->error = g_steal_pointer (&why);
            bl_record_save (self->dir, again, NULL);
        }
        bl_record_unlock (lock);
        if (!again)
            return FALSE;
        g_clear_pointer (&record, bl_record_free);
        record = g_steal_pointer (&again);
    }
    g_mutex_lock (&self->lock);
    bl_record_free (self->record);
    self->record = g_steal_pointer (&record);
    gboolean changed = self->record->state != self->state;
    gboolean live = bl_box_state_is_live (self->record->state);
    g_mutex_unlock (&self->lock);
    if (changed)
        queue_on_context (self, sync_state);
    /* Started elsewhere since we last looked: follow it from now on. */
    if (changed && live)
        watch_monitor (self);
    return TRUE;
}

/**
 * boxlite_box_get_state:
 * @self: the box
 *
 * Reads the box's record. To follow the box without polling, watch
 * #BoxliteBox:state instead.
 *
 * Returns: the box's state, as its record says now
 *
 * Since: 0.1
 */
BoxliteBoxState
boxlite_box_get_state (BoxliteBox *self)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), BOXLITE_BOX_STATE_CRASHED);
    boxlite_box_refresh (self, NULL);
    g_mutex_lock (&self->lock);
    BoxliteBoxState state = self->record->state;
    g_mutex_unlock (&self->lock);
    return state;
}

/**
 * boxlite_box_dup_error:
 * @self: the box
 *
 * Tells why the box crashed or failed to boot, as of the last refresh.
 *
 * Returns: (nullable) (transfer full): the reason, or %NULL when the box
 *   has not failed
 *
 * Since: 0.1
 */
char *
boxlite_box_dup_error (BoxliteBox *self)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), NULL);
    g_mutex_lock (&self->lock);
    char *error = g_strdup (self->record->error);
    g_mutex_unlock (&self->lock);
    return error;
}

/**
 * boxlite_box_dup_stop_reason:
 * @self: the box
 *
 * Tells why a stopped box stopped, as of the last refresh: "requested" (a
 * stop asked through the library or `boxlite stop`, or a start that was
 * cancelled), "idle" (nothing happened in it for
 * [property@Boxlite.BoxOptions:auto-stop] seconds), "creator-exited" (a
 * box that is not detached whose creator went away) or "poweroff" (the
 * guest shut itself down). The reason is forgotten when the box starts
 * again.
 *
 * Returns: (nullable) (transfer full): the reason, or %NULL when the box is
 *   not stopped or its record does not say
 *
 * Since: 0.1
 */
char *
boxlite_box_dup_stop_reason (BoxliteBox *self)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), NULL);
    g_mutex_lock (&self->lock);
    char *reason = g_strdup (self->record->stop_reason);
    g_mutex_unlock (&self->lock);
    return reason;
}

/* Largest network record file read, in bytes (the network process keeps
 * each under a mebibyte; anything bigger was not written by it). */
#define NET_LOG_READ_MAX (4u * 1024 * 1024)

static gboolean
read_net_log_file (const char *path, GPtrArray *lines, GError **error)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    struct stat st;

    if (stat (path, &st) < 0)
        return TRUE; /* no record yet */
    if ((guint64) st.st_size > NET_LOG_READ_MAX) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED,
                     "%s is larger than a network record can be", path);
        return FALSE;
    }
    if (!g_file_get_contents (path, &text, &len, error))
        return FALSE;
    g_auto (GStrv) split = g_strsplit (text, "\n", -1);
    for (guint i = 0; split[i]; i++) {
        if (*split[i])
            g_ptr_array_add (lines, g_strdup (split[i]));
    }
    return TRUE;
}

/**
 * boxlite_box_get_net_log:
 * @self: the box
 * @error: return location for a #GError, or %NULL
 *
 * Reads the box's egress record: one JSON object per DNS answer and per
 * flow decision, oldest first, with the fields "time", "event" ("dns",
 * "tcp", "udp", "icmp"), "verdict" ("allowed", "denied", "sinkholed",
 * "error"), "reason" and, where they apply, "name", "type", "addresses",
 * "dest", "sni", "host". The record is bounded: the oldest entries of a
 * busy box are dropped.
 *
 * Returns: (transfer full) (array zero-terminated=1): the entries (empty
 *   for a box without a network), or %NULL with @error set (BOXLITE_ERROR,
 *   or G_FILE_ERROR when the record cannot be read)
 *
 * Since: 0.1
 */
char **
boxlite_box_get_net_log (BoxliteBox *self, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), NULL);

    g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
    g_autofree char *path = g_build_filename (self->dir, "net", "netlog.jsonl", NULL);
    g_autofree char *older = g_strconcat (path, ".1", NULL);
    if (!read_net_log_file (older, lines, error) || !read_net_log_file (path, lines, error))
        return NULL;
    g_ptr_array_add (lines, NULL);
    return (char **) g_ptr_array_free (g_steal_pointer (&lines), FALSE);
}

/**
 * boxlite_box_get_net_counts:
 * @self: the box
 * @error: return location for a #GError, or %NULL
 *
 * Counts the entries of the box's egress record since its first start, by
 * "event verdict reason" (for example "tcp denied not-listed"). Unlike the
 * record itself (see boxlite_box_get_net_log()), these totals are never
 * rotated away. The box's network process writes them at most a second
 * after the decisions they count, and when it ends.
 *
 * Returns: (transfer full): a #GVariant of type `a{st}` (empty for a box
 *   without a network or without decisions yet), or %NULL with @error set
 *   (BOXLITE_ERROR_PROTOCOL when the file is not what the network writes,
 *   a regular file of at most 64 KiB; G_IO_ERROR when it cannot be read)
 *
 * Since: 0.1
 */
GVariant *
boxlite_box_get_net_counts (BoxliteBox *self, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), NULL);

    return bl_net_counts_load (self->dir, error);
}

/**
 * boxlite_box_get_monitor_pid:
 * @self: the box
 *
 * Gives the process id of the box's monitor, which runs its VM.
 *
 * Returns: the host pid of the box's monitor process, or 0 when not running
 *
 * Since: 0.1
 */
gint
boxlite_box_get_monitor_pid (BoxliteBox *self)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), 0);
    g_mutex_lock (&self->lock);
    gint pid = self->record->monitor_pid;
    g_mutex_unlock (&self->lock);
    return pid;
}

/**
 * boxlite_box_inspect:
 * @self: the box
 * @error: return location for a #GError, or %NULL
 *
 * Describes the box as `boxlite inspect` prints it.
 *
 * Returns: (transfer full): the box's record as a JSON object, with its
 *   directory added, or %NULL with @error set (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
char *
boxlite_box_inspect (BoxliteBox *self, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), NULL);

    if (!boxlite_box_refresh (self, error))
        return NULL;
    g_autofree char *path = g_build_filename (self->dir, "box.json", NULL);
    g_autoptr (JsonParser) parser = json_parser_new ();
    if (!json_parser_load_from_file (parser, path, error))
        return NULL;
    JsonNode *root = json_parser_get_root (parser);
    JsonObject *obj = json_node_get_object (root);
    json_object_set_string_member (obj, "dir", self->dir);
    return json_to_string (root, TRUE);
}

static BlLaunch *
make_launch (BoxliteBox *self, GError **error)
{
    g_autoptr (BlLaunch) launch = g_new0 (BlLaunch, 1);
    g_autofree char *agent = NULL;
    g_autofree char *kernel_dir =
        g_build_filename (bl_runtime_get_cache_dir (self->runtime), "kernel", NULL);

    /* A host folder may have gone since the box was made: say so before
     * anything starts. */
    g_autoptr (GPtrArray) volumes = bl_volumes_parse (
        (const char *const *) boxlite_box_options_get_volumes (self->options), TRUE, error);
    if (!volumes)
        return NULL;
    launch->box_id = g_strdup (self->id);
    launch->box_dir = g_strdup (self->dir);
    launch->disk = g_build_filename (self->dir, "disk.qcow2", NULL);
    if (!(launch->qemu = bl_path_qemu (error)) || !(launch->kernel = bl_path_kernel (error)) ||
        !(agent = bl_path_agent (error)))
        return NULL;
    if (g_mkdir_with_parents (kernel_dir, 0700) < 0) {
        bl_os_error (error, errno, "create", kernel_dir);
        return NULL;
    }
    if (!(launch->initrd = bl_initramfs_ensure (agent, kernel_dir, error)))
        return NULL;
    launch->cpus = boxlite_box_options_get_cpus (self->options);
    launch->memory_mib = boxlite_box_options_get_memory_mib (self->options);
    launch->max_processes = boxlite_box_options_get_max_processes (self->options);
    launch->accel = boxlite_box_options_get_accel (self->options);
    launch->network = boxlite_box_options_get_network (self->options);
    launch->allow_net = g_strdupv ((char **) boxlite_box_options_get_allow_net (self->options));
    launch->ports = g_strdupv ((char **) boxlite_box_options_get_ports (self->options));
    launch->volumes = g_strdupv ((char **) boxlite_box_options_get_volumes (self->options));
    launch->hosts_file = g_strdup (bl_runtime_get_hosts_file (self->runtime));
    launch->hostname = g_strdup (self->name);
    launch->detach = boxlite_box_options_get_detach (self->options);
    launch->auto_remove = boxlite_box_options_get_auto_remove (self->options);
    launch->auto_stop = boxlite_box_options_get_auto_stop (self->options);
    launch->boot_timeout_ms = BOOT_TIMEOUT_MS;
    launch->fast_start = boxlite_box_options_get_fast_start (self->options);
    launch->templates_dir =
        g_build_filename (boxlite_runtime_get_home_dir (self->runtime), "templates", NULL);
    return g_steal_pointer (&launch);
}

static void
monitor_child_setup (gpointer user_data)
{
    /* Its own session: a Ctrl-C meant for the caller's terminal must not
     * reach the monitor (and through it, QEMU). */
    setsid ();
}

/* Reads the monitor's one-line verdict on the boot: "ok" or "error: ...".
 * Returns NULL when @cancellable fired first. */
static char *
read_ready_line (int fd, guint timeout_ms, GCancellable *cancellable)
{
    g_autoptr (GString) line = g_string_new (NULL);
    gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
    GPollFD pfds[2] = { { .fd = fd, .events = G_IO_IN } };
    guint n_fds = g_cancellable_make_pollfd (cancellable, &pfds[1]) ? 2 : 1;
    gboolean cancelled = FALSE;

    while (line->len < 64 * 1024 && !strchr (line->str, '\n')) {
        gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
        if (left <= 0)
            break;
        int r = g_poll (pfds, n_fds, (int) MIN (left, G_MAXINT));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        /* A verdict already written wins over a cancellation. */
        if (!(pfds[0].revents & (G_IO_IN | G_IO_HUP | G_IO_ERR))) {
            cancelled = g_cancellable_is_cancelled (cancellable);
            break;
        }
        char buf[512];
        ssize_t n = read (fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        g_string_append_len (line, buf, n);
    }
    if (n_fds == 2)
        g_cancellable_release_fd (cancellable);
    return cancelled ? NULL : g_string_free (g_steal_pointer (&line), FALSE);
}

/* Waits until GSubprocess reaped @monitor; FALSE if it still runs. */
static gboolean
wait_reaped (GSubprocess *monitor, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

    while (g_subprocess_get_identifier (monitor) && g_get_monotonic_time () < deadline)
        g_usleep (10 * 1000);
    return g_subprocess_get_identifier (monitor) == NULL;
}

/* Undoes a start the caller cancelled. Asked to stop while booting, the
 * monitor kills QEMU, records the box as stopped and removes its sockets;
 * one that does not go in time is killed (QEMU dies with it), and its
 * record and sockets are put right here. */
static void
abort_start (BoxliteBox *self, GSubprocess *monitor)
{
    g_autoptr (GError) error = NULL;

    g_subprocess_send_signal (monitor, SIGTERM);
    if (!wait_reaped (monitor, STOP_TIMEOUT_MS)) {
        g_warning ("box monitor of %s did not stop; killing it", self->name);
        g_subprocess_force_exit (monitor);
        wait_reaped (monitor, STOP_TIMEOUT_MS);
    }
    if (!g_file_test (self->dir, G_FILE_TEST_IS_DIR))
        return; /* auto_remove: the monitor took the box with it */
    bl_monitor_remove_sockets (self->dir);
    if (!bl_record_set_stopped (self->dir, BL_STOP_REASON_REQUESTED, &error))
        g_warning ("box %s: %s", self->name, error->message);
    boxlite_box_refresh (self, NULL);
}

static char *
log_tail (const char *box_dir, const char *name)
{
    g_autofree char *path = g_build_filename (box_dir, name, NULL);
    g_autofree char *text = NULL;
    gsize len = 0;

    if (!g_file_get_contents (path, &text, &len, NULL) || len == 0)
        return g_strdup ("");
    const char *start = len > 1500 ? text + len - 1500 : text;
    return g_strdup (start);
}

/**
 * boxlite_box_start:
 * @self: the box
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Boots the box and returns once its agent answers. A box that is not
 * detached stops when this runtime is finalized or its process dies.
 *
 * Cancelling @cancellable before the agent answers stops the box again
 * (QEMU and the monitor are gone, the box is recorded as stopped, and it
 * can be started later) and fails with %G_IO_ERROR_CANCELLED. A box that
 * finished booting as it was cancelled is running, and %TRUE is returned.
 *
 * Returns: %TRUE when the box runs, or %FALSE with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_INVALID_STATE when it runs already,
 *   %BOXLITE_ERROR_BOOT_FAILED, %BOXLITE_ERROR_IMAGE; G_IO_ERROR for
 *   operating-system failures, %G_IO_ERROR_CANCELLED when cancelled)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_start (BoxliteBox *self, GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);

    if (bl_box_state_is_live (boxlite_box_get_state (self))) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE, "box %s is already running",
                     self->name);
        return FALSE;
    }
    g_autofree char *shim = bl_path_shim (error);
    if (!shim)
        return FALSE;
    g_autoptr (BlLaunch) launch = make_launch (self, error);
    if (!launch || g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
    g_autofree char *launch_path = g_build_filename (self->dir, "launch.json", NULL);
    if (!bl_launch_save (launch_path, launch, error))
        return FALSE;

    int ready[2], lifeline[2] = { -1, -1 };
    if (!g_unix_open_pipe (ready, FD_CLOEXEC, error))
        return FALSE;
    if (!launch->detach && !g_unix_open_pipe (lifeline, FD_CLOEXEC, error)) {
        close (ready[0]);
        close (ready[1]);
        return FALSE;
    }
    g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
        G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
    g_subprocess_launcher_set_child_setup (launcher, monitor_child_setup, NULL, NULL);
    g_subprocess_launcher_take_fd (launcher, ready[1], 3);
    g_autoptr (GPtrArray) argv = g_ptr_array_new ();
    g_ptr_array_add (argv, shim);
    g_ptr_array_add (argv, (char *) "--box-dir");
    g_ptr_array_add (argv, self->dir);
    g_ptr_array_add (argv, (char *) "--ready-fd");
    g_ptr_array_add (argv, (char *) "3");
    if (lifeline[0] >= 0) {
        g_subprocess_launcher_take_fd (launcher, lifeline[0], 4);
        g_ptr_array_add (argv, (char *) "--lifeline-fd");
        g_ptr_array_add (argv, (char *) "4");
    }
    g_ptr_array_add (argv, NULL);

    g_autoptr (GError) local = NULL;
    g_autoptr (GSubprocess) monitor =
        g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &local);
    /* The launcher owns the child's ends; drop them now so EOF means "gone". */
    g_clear_object (&launcher);
    if (!monitor) {
        close (ready[0]);
        if (lifeline[1] >= 0)
            close (lifeline[1]);
        g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                    "cannot start the box monitor: ");
        return FALSE;
    }
    /* GSubprocess reaps the monitor on GLib's worker thread whenever it
     * exits. No wait_async: its completion would queue on the caller's
     * main context, where a program without a main loop would keep it. */

    g_autofree char *verdict = read_ready_line (ready[0], BOOT_TIMEOUT_MS + 10000, cancellable);
    close (ready[0]);
    if (!verdict) {
        /* The lifeline's end goes too: the monitor stops even if it missed
         * the signal. */
        if (lifeline[1] >= 0)
            close (lifeline[1]);
        abort_start (self, monitor);
        g_cancellable_set_error_if_cancelled (cancellable, error);
        return FALSE;
    }
    g_strchomp (verdict);
    if (!g_str_equal (verdict, "ok")) {
        if (lifeline[1] >= 0)
            close (lifeline[1]);
        g_subprocess_force_exit (monitor);
        g_autofree char *tail = log_tail (self->dir, "monitor.log");
        if (g_str_has_prefix (verdict, "error: "))
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_BOOT_FAILED, "box %s did not boot: %s",
                         self->name, verdict + 7);
        else
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_BOOT_FAILED,
                         "box %s did not boot: the monitor gave no answer%s%s", self->name,
                         *tail ? "; its log ends with:\n" : "", tail);
        boxlite_box_refresh (self, NULL);
        return FALSE;
    }
    if (lifeline[1] >= 0)
        bl_runtime_hold_lifeline (self->runtime, self->id, lifeline[1]);
    watch_monitor (self);
    return boxlite_box_refresh (self, error);
}

static gpointer
start_call (gpointer source, gpointer data, GMainContext *caller_context, GCancellable *cancellable,
            GError **error)
{
    return boxlite_box_start (source, cancellable, error) ? GINT_TO_POINTER (TRUE) : NULL;
}

/**
 * boxlite_box_start_async:
 * @self: the box
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context when
 *   the box runs or failed to
 * @user_data: (closure): data for @callback
 *
 * Boots the box without blocking; see boxlite_box_start(). Call
 * boxlite_box_start_finish() from @callback.
 *
 * Since: 0.1
 */
void
boxlite_box_start_async (BoxliteBox *self, GCancellable *cancellable, GAsyncReadyCallback callback,
                         gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_BOX (self));
    bl_task_run_in_thread (self, boxlite_box_start_async, start_call, NULL, NULL, NULL, cancellable,
                           callback, user_data);
}

/**
 * boxlite_box_start_finish:
 * @self: the box
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_box_start_async().
 *
 * Returns: %TRUE when the box runs, or %FALSE with @error set, as
 *   boxlite_box_start() (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_start_finish (BoxliteBox *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish_boolean (self, result, boxlite_box_start_async, error);
}

/* Waits for the monitor to exit, and kills one that does not in time.
 * FALSE when @cancellable fired first: the monitor is left to finish. */
static gboolean
wait_monitor_gone (gint pid, guint timeout_ms, GCancellable *cancellable, GError **error)
{
    gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

    while (monitor_alive (pid) && g_get_monotonic_time () < deadline) {
        if (g_cancellable_set_error_if_cancelled (cancellable, error))
            return FALSE;
        g_usleep (10 * 1000);
    }
    if (monitor_alive (pid)) {
        g_warning ("box monitor %d did not exit; killing it", pid);
        kill (pid, SIGKILL);
    }
    return TRUE;
}

/**
 * boxlite_box_stop:
 * @self: the box
 * @force: power the VM off at once instead of shutting the guest down
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Stops the box; its disk is kept, and it can be started again. Stopping a
 * box that does not run succeeds.
 *
 * Cancelling @cancellable makes the call return at once with
 * %G_IO_ERROR_CANCELLED; a monitor that already got the request still
 * stops the box, and #BoxliteBox:state tells when it has.
 *
 * Returns: %TRUE when the box no longer runs, or %FALSE with @error set
 *   (BOXLITE_ERROR or G_IO_ERROR); %G_IO_ERROR_CANCELLED when cancelled
 *
 * Since: 0.1
 */
gboolean
boxlite_box_stop (BoxliteBox *self, gboolean force, GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);

    BoxliteBoxState state = boxlite_box_get_state (self);
    if (!bl_box_state_is_live (state))
        return TRUE;
    /* A paused guest cannot shut itself down. */
    if (state == BOXLITE_BOX_STATE_PAUSED && !force)
        boxlite_box_resume (self, cancellable, NULL);
    gint pid = boxlite_box_get_monitor_pid (self);
    g_autoptr (GError) local = NULL;
    if (!bl_monitor_stop (self->dir, force, STOP_TIMEOUT_MS, cancellable, &local)) {
        if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            g_propagate_error (error, g_steal_pointer (&local));
            boxlite_box_refresh (self, NULL);
            return FALSE;
        }
        g_message ("box %s: asking the monitor to stop failed (%s); ending it", self->name,
                   local->message);
    }
    if (!wait_monitor_gone (pid, local ? 1000 : STOP_TIMEOUT_MS + 5000, cancellable, error)) {
        boxlite_box_refresh (self, NULL);
        return FALSE;
    }
    bl_runtime_drop_lifeline (self->runtime, self->id);
    bl_client_forget (bl_runtime_get_client (self->runtime), self->dir);
    if (!g_file_test (self->dir, G_FILE_TEST_IS_DIR))
        return TRUE; /* auto_remove: the monitor took the box with it */
    return boxlite_box_refresh (self, error);
}

static gpointer
stop_call (gpointer source, gpointer data, GMainContext *caller_context, GCancellable *cancellable,
           GError **error)
{
    return boxlite_box_stop (source, GPOINTER_TO_INT (data), cancellable, error)
               ? GINT_TO_POINTER (TRUE)
               : NULL;
}

/**
 * boxlite_box_stop_async:
 * @self: the box
 * @force: power off at once instead of shutting the guest down
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context when
 *   the box has stopped or failed to
 * @user_data: (closure): data for @callback
 *
 * Stops the box without blocking; see boxlite_box_stop(). Call
 * boxlite_box_stop_finish() from @callback.
 *
 * Since: 0.1
 */
void
boxlite_box_stop_async (BoxliteBox *self, gboolean force, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_BOX (self));
    bl_task_run_in_thread (self, boxlite_box_stop_async, stop_call, GINT_TO_POINTER (force), NULL,
                           NULL, cancellable, callback, user_data);
}

/**
 * boxlite_box_stop_finish:
 * @self: the box
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_box_stop_async().
 *
 * Returns: %TRUE when the box no longer runs, or %FALSE with @error set
 *   (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_stop_finish (BoxliteBox *self, GAsyncResult *result, GError **error)
{
    return bl_task_finish_boolean (self, result, boxlite_box_stop_async, error);
}

static gboolean
set_paused (BoxliteBox *self, gboolean pause, GCancellable *cancellable, GError **error)
{
    if (!bl_box_state_is_live (boxlite_box_get_state (self))) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE, "box %s is not running",
                     self->name);
        return FALSE;
    }
    return bl_monitor_pause (self->dir, pause, cancellable, error) &&
           boxlite_box_refresh (self, error);
}

/**
 * boxlite_box_pause:
 * @self: a running box
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Stops the box's virtual CPUs; its memory and processes stay as they are.
 * Commands started meanwhile begin when the box is resumed.
 *
 * Cancelling @cancellable ends the wait for the monitor's answer with
 * %G_IO_ERROR_CANCELLED; a monitor that got the request still carries it
 * out, and #BoxliteBox:state tells when it has. The same holds for
 * boxlite_box_resume().
 *
 * Returns: %TRUE when the box is paused, or %FALSE with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_INVALID_STATE when it does not run;
 *   G_IO_ERROR)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_pause (BoxliteBox *self, GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);
    return set_paused (self, TRUE, cancellable, error);
}

/**
 * boxlite_box_resume:
 * @self: a paused box
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Starts the virtual CPUs of a box stopped by boxlite_box_pause() again.
 *
 * Returns: %TRUE when the box runs again, or %FALSE with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_INVALID_STATE when it is not paused;
 *   G_IO_ERROR)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_resume (BoxliteBox *self, GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX (self), FALSE);
    return set_paused (self, FALSE, cancellable, error);
}

static void
add_strv_member (JsonBuilder *b, const char *name, GPtrArray *items)
{
    json_builder_set_member_name (b, name);
    json_builder_begin_array (b);
    for (guint i = 0; i < items->len; i++)
        json_builder_add_string_value (b, items->pdata[i]);
    json_builder_end_array (b);
}

/* The exec request: the command's settings over the box's defaults. */
static JsonNode *
exec_request (BoxliteBox *self, BoxliteCommand *command)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();
    g_autoptr (GPtrArray) argv = g_ptr_array_new ();
    g_autoptr (GPtrArray) env = g_ptr_array_new ();
    const char *const *box_env = boxlite_box_options_get_env (self->options);
    const char *const *cmd_env = boxlite_command_get_env (command);
    const char *cwd = boxlite_command_get_working_dir (command);
    const char *user = boxlite_command_get_user (command);

    for (const char *const *a = boxlite_command_get_argv (command); *a; a++)
        g_ptr_array_add (argv, (gpointer) *a);
    for (guint i = 0; box_env && box_env[i]; i++)
        g_ptr_array_add (env, (gpointer) box_env[i]);
    for (guint i = 0; cmd_env && cmd_env[i]; i++)
        g_ptr_array_add (env, (gpointer) cmd_env[i]);
    if (!cwd)
        cwd = boxlite_box_options_get_working_dir (self->options);
    if (!user)
        user = boxlite_box_options_get_user (self->options);

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "execute");
    json_builder_add_string_value (b, "exec");
    json_builder_set_member_name (b, "arguments");
    json_builder_begin_object (b);
    add_strv_member (b, "argv", argv);
    add_strv_member (b, "env", env);
    if (cwd) {
        json_builder_set_member_name (b, "cwd");
        json_builder_add_string_value (b, cwd);
    }
    if (user) {
        json_builder_set_member_name (b, "user");
        json_builder_add_string_value (b, user);
    }
    if (boxlite_command_get_root_dir (command)) {
        json_builder_set_member_name (b, "root");
        json_builder_add_string_value (b, boxlite_command_get_root_dir (command));
    }
    if (boxlite_command_get_root_base_dir (command)) {
        json_builder_set_member_name (b, "root_lower");
        json_builder_add_string_value (b, boxlite_command_get_root_base_dir (command));
    }
    json_builder_set_member_name (b, "timeout_ms");
    json_builder_add_int_value (b, boxlite_command_get_timeout_ms (command));
    json_builder_set_member_name (b, "stdin");
    json_builder_add_boolean_value (b, boxlite_command_get_stdin (command));
    if (boxlite_command_get_tty (command)) {
        json_builder_set_member_name (b, "tty");
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "rows");
        json_builder_add_int_value (b, boxlite_command_get_tty_rows (command));
        json_builder_set_member_name (b, "cols");
        json_builder_add_int_value (b, boxlite_command_get_tty_cols (command));
        json_builder_end_object (b);
    }
    json_builder_end_object (b);
    json_builder_end_object (b);
    return json_builder_get_root (b);
}

/* The command's paths in the box: absolute, and the root's free of what
 * the agent's overlay options would read as separators. */
static gboolean
command_paths_valid (BoxliteCommand *command, GError **error)
{
    const struct {
        const char *what, *path;
        gboolean is_root;
    } paths[] = {
        { "working directory", boxlite_command_get_working_dir (command), FALSE },
        { "root directory", boxlite_command_get_root_dir (command), TRUE },
        { "root base directory", boxlite_command_get_root_base_dir (command), TRUE },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (paths); i++) {
        const char *path = paths[i].path;
        if (path && (!g_path_is_absolute (path) ||
                     (paths[i].is_root && (strpbrk (path, ",:") || strstr (path, "/.."))))) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                         "%s '%s' is not an absolute path%s", paths[i].what, path,
                         paths[i].is_root ? " without ',', ':' or '..'" : "");
            return FALSE;
        }
    }
    if (boxlite_command_get_root_base_dir (command) && !boxlite_command_get_root_dir (command)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "a root base directory needs a root directory");
        return FALSE;
    }
    return TRUE;
}

/**
 * boxlite_box_exec_async:
 * @self: a running box
 * @command: what to run
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context once
 *   the command started, or failed to
 * @user_data: (closure): data for @callback
 *
 * Starts @command in the box. Many commands may run at once. Call
 * boxlite_box_exec_finish() from @callback.
 *
 * Since: 0.1
 */
void
boxlite_box_exec_async (BoxliteBox *self, BoxliteCommand *command, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_BOX (self));
    g_return_if_fail (BOXLITE_IS_COMMAND (command));

    GTask *task = g_task_new (self, cancellable, callback, user_data);
    g_task_set_source_tag (task, boxlite_box_exec_async);
    g_autoptr (GError) error = NULL;
    if (!bl_env_validate (boxlite_command_get_env (command), &error) ||
        !command_paths_valid (command, &error)) {
        g_task_return_error (task, g_steal_pointer (&error));
        g_object_unref (task);
        return;
    }
    g_autoptr (JsonNode) request = exec_request (self, command);
    /* The I/O thread completes (and releases) the task. */
    bl_client_exec_async (bl_runtime_get_client (self->runtime), self->dir, request,
                          boxlite_command_get_stdin (command), boxlite_command_get_tty (command),
                          task);
}

/**
 * boxlite_box_exec_finish:
 * @self: the box
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_box_exec_async().
 *
 * Returns: (transfer full): the running command, or %NULL with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_COMMAND_NOT_FOUND when the program does
 *   not exist, %BOXLITE_ERROR_PERMISSION_DENIED, %BOXLITE_ERROR_INVALID_STATE
 *   when the box does not run, %BOXLITE_ERROR_CRASHED; G_IO_ERROR,
 *   %G_IO_ERROR_CANCELLED when cancelled)
 *
 * Since: 0.1
 */
BoxliteExecution *
boxlite_box_exec_finish (BoxliteBox *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail (g_task_is_valid (result, self), NULL);
    return g_task_propagate_pointer (G_TASK (result), error);
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
    *(GAsyncResult **) user_data = g_object_ref (result);
}

BoxliteExecution *
bl_box_open_channel (BoxliteBox *self, JsonNode *request, gboolean pipe_stdin,
                     GCancellable *cancellable, GError **error)
{
    g_autoptr (GMainContext) context = g_main_context_new ();
    g_autoptr (GAsyncResult) result = NULL;

    g_main_context_push_thread_default (context);
    GTask *task = g_task_new (self, cancellable, store_result, &result);
    bl_client_exec_async (bl_runtime_get_client (self->runtime), self->dir, request, pipe_stdin,
                          FALSE, task);
    while (!result)
        g_main_context_iteration (context, TRUE);
    g_main_context_pop_thread_default (context);
    return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * boxlite_box_exec:
 * @self: a running box
 * @command: what to run
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Starts @command and returns once it runs; see boxlite_box_exec_async().
 *
 * Returns: (transfer full): the running command, or %NULL with @error set,
 *   as boxlite_box_exec_finish() (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
BoxliteExecution *
boxlite_box_exec (BoxliteBox *self, BoxliteCommand *command, GCancellable *cancellable,
                  GError **error)
{
    g_autoptr (GMainContext) context = g_main_context_new ();
    g_autoptr (GAsyncResult) result = NULL;

    g_main_context_push_thread_default (context);
    boxlite_box_exec_async (self, command, cancellable, store_result, &result);
    while (!result)
        g_main_context_iteration (context, TRUE);
    g_main_context_pop_thread_default (context);
    return boxlite_box_exec_finish (self, result, error);
}

/* The exec request for @command, checked as boxlite_box_exec_async() checks
 * it, for commands started by other paths (boxlite-box-logs.c). */
JsonNode *
bl_box_exec_request (BoxliteBox *self, BoxliteCommand *command, GError **error)
{
    const char *cwd = boxlite_command_get_working_dir (command);

    if (!bl_env_validate (boxlite_command_get_env (command), error))
        return NULL;
    if (cwd && !g_path_is_absolute (cwd)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "working directory '%s' is not an absolute path", cwd);
        return NULL;
    }
    return exec_request (self, command);
}

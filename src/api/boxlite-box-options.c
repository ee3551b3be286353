/* boxlite-box-options.c: how a box is made, validated before anything starts. */
#define G_LOG_DOMAIN "boxlite"

#include <boxlite/boxlite-box-options.h>

#include <unistd.h>

#include <boxlite/boxlite-enum-types.h>
#include <boxlite/boxlite-error.h>
#include "boxlite-private.h"
#include "image-ref.h"
#include "netspec.h"
#include "set-field.h"
#include "volume.h"

#define DEFAULT_CPUS 1
#define DEFAULT_MEMORY_MIB 512
#define MAX_CPUS 64
#define MIN_MEMORY_MIB 128
#define MAX_MEMORY_MIB (256 * 1024)
/* The image's ext4 is grown online in the guest, which its reserved group
 * descriptor blocks allow up to about a thousand times its size. */
#define MAX_DISK_SIZE_GB 2048
#define DEFAULT_MAX_PROCESSES 4096
#define MIN_MAX_PROCESSES 16
/* The kernel's PID_MAX_LIMIT on 64-bit. */
#define MAX_MAX_PROCESSES (4 * 1024 * 1024)

/**
 * BoxliteBoxOptions:
 *
 * How a box is made: its root filesystem or image, CPUs, memory and disk,
 * the defaults of its commands, and its network. Every option is a
 * property; boxlite_box_options_validate() checks them all before anything
 * is created or started.
 *
 * Since: 0.1
 */
struct _BoxliteBoxOptions {
    GObject parent_instance;
    char *rootfs;
    char *image;
    guint cpus;
    guint memory_mib;
    guint disk_size_gb;
    guint max_processes;
    GStrv env;
    char *working_dir;
    char *user;
    GStrv entrypoint;
    GStrv cmd;
    gboolean detach;
    gboolean auto_remove;
    guint auto_stop;
    BoxliteNetworkMode network;
    GStrv allow_net;
    GStrv ports;
    BoxliteAccel accel;
    GStrv volumes;
    gboolean fast_start;
};

G_DEFINE_FINAL_TYPE (BoxliteBoxOptions, boxlite_box_options, G_TYPE_OBJECT)

enum {
    PROP_0,
    PROP_ROOTFS,
    PROP_IMAGE,
    PROP_CPUS,
    PROP_MEMORY_MIB,
    PROP_DISK_SIZE_GB,
    PROP_MAX_PROCESSES,
    PROP_ENV,
    PROP_WORKING_DIR,
    PROP_USER,
    PROP_ENTRYPOINT,
    PROP_CMD,
    PROP_DETACH,
    PROP_AUTO_REMOVE,
    PROP_AUTO_STOP,
    PROP_NETWORK,
    PROP_ALLOW_NET,
    PROP_PORTS,
    PROP_ACCEL,
    PROP_VOLUMES,
    PROP_FAST_START,
    N_PROPS,
};

static GParamSpec *properties[N_PROPS];

static void
boxlite_box_options_finalize (GObject *object)
{
    BoxliteBoxOptions *self = BOXLITE_BOX_OPTIONS (object);

    g_free (self->rootfs);
    g_free (self->image);
    g_strfreev (self->env);
    g_free (self->working_dir);
    g_free (self->user);
    g_strfreev (self->entrypoint);
    g_strfreev (self->cmd);
    g_strfreev (self->allow_net);
    g_strfreev (self->ports);
    g_strfreev (self->volumes);
    G_OBJECT_CLASS (boxlite_box_options_parent_class)->finalize (object);
}

static void
boxlite_box_options_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
    BoxliteBoxOptions *self = BOXLITE_BOX_OPTIONS (object);

    switch (prop_id) {
    case PROP_ROOTFS:
        g_value_set_string (value, self->rootfs);
        break;
    case PROP_IMAGE:
        g_value_set_string (value, self->image);
        break;
    case PROP_CPUS:
        g_value_set_uint (value, self->cpus);
        break;
    case PROP_MEMORY_MIB:
        g_value_set_uint (value, self->memory_mib);
        break;
    case PROP_DISK_SIZE_GB:
        g_value_set_uint (value, self->disk_size_gb);
        break;
    case PROP_MAX_PROCESSES:
        g_value_set_uint (value, self->max_processes);
        break;
    case PROP_ENV:
        g_value_set_boxed (value, self->env);
        break;
    case PROP_WORKING_DIR:
        g_value_set_string (value, self->working_dir);
        break;
    case PROP_USER:
        g_value_set_string (value, self->user);
        break;
    case PROP_ENTRYPOINT:
        g_value_set_boxed (value, self->entrypoint);
        break;
    case PROP_CMD:
        g_value_set_boxed (value, self->cmd);
        break;
    case PROP_DETACH:
        g_value_set_boolean (value, self->detach);
        break;
    case PROP_AUTO_REMOVE:
        g_value_set_boolean (value, self->auto_remove);
        break;
    case PROP_AUTO_STOP:
        g_value_set_uint (value, self->auto_stop);
        break;
    case PROP_NETWORK:
        g_value_set_enum (value, self->network);
        break;
    case PROP_ALLOW_NET:
        g_value_set_boxed (value, self->allow_net);
        break;
    case PROP_PORTS:
        g_value_set_boxed (value, self->ports);
        break;
    case PROP_ACCEL:
        g_value_set_enum (value, self->accel);
        break;
    case PROP_VOLUMES:
        g_value_set_boxed (value, self->volumes);
        break;
    case PROP_FAST_START:
        g_value_set_boolean (value, self->fast_start);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* Every write goes through the public setter, which notifies. */
static void
boxlite_box_options_set_property (GObject *object, guint prop_id, const GValue *value,
                                  GParamSpec *pspec)
{
    BoxliteBoxOptions *self = BOXLITE_BOX_OPTIONS (object);

    switch (prop_id) {
    case PROP_ROOTFS:
        boxlite_box_options_set_rootfs (self, g_value_get_string (value));
        break;
    case PROP_IMAGE:
        boxlite_box_options_set_image (self, g_value_get_string (value));
        break;
    case PROP_CPUS:
        boxlite_box_options_set_cpus (self, g_value_get_uint (value));
        break;
    case PROP_MEMORY_MIB:
        boxlite_box_options_set_memory_mib (self, g_value_get_uint (value));
        break;
    case PROP_DISK_SIZE_GB:
        boxlite_box_options_set_disk_size_gb (self, g_value_get_uint (value));
        break;
    case PROP_MAX_PROCESSES:
        boxlite_box_options_set_max_processes (self, g_value_get_uint (value));
        break;
    case PROP_ENV:
        boxlite_box_options_set_env (self, g_value_get_boxed (value));
        break;
    case PROP_WORKING_DIR:
        boxlite_box_options_set_working_dir (self, g_value_get_string (value));
        break;
    case PROP_USER:
        boxlite_box_options_set_user (self, g_value_get_string (value));
        break;
    case PROP_ENTRYPOINT:
        boxlite_box_options_set_entrypoint (self, g_value_get_boxed (value));
        break;
    case PROP_CMD:
        boxlite_box_options_set_cmd (self, g_value_get_boxed (value));
        break;
    case PROP_DETACH:
        boxlite_box_options_set_detach (self, g_value_get_boolean (value));
        break;
    case PROP_AUTO_REMOVE:
        boxlite_box_options_set_auto_remove (self, g_value_get_boolean (value));
        break;
    case PROP_AUTO_STOP:
        boxlite_box_options_set_auto_stop (self, g_value_get_uint (value));
        break;
    case PROP_NETWORK:
        boxlite_box_options_set_network (self, g_value_get_enum (value));
        break;
    case PROP_ALLOW_NET:
        boxlite_box_options_set_allow_net (self, g_value_get_boxed (value));
        break;
    case PROP_PORTS:
        boxlite_box_options_set_ports (self, g_value_get_boxed (value));
        break;
    case PROP_ACCEL:
        boxlite_box_options_set_accel (self, g_value_get_enum (value));
        break;
    case PROP_VOLUMES:
        boxlite_box_options_set_volumes (self, g_value_get_boxed (value));
        break;
    case PROP_FAST_START:
        boxlite_box_options_set_fast_start (self, g_value_get_boolean (value));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
boxlite_box_options_class_init (BoxliteBoxOptionsClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS (klass);
    const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

    object_class->finalize = boxlite_box_options_finalize;
    object_class->get_property = boxlite_box_options_get_property;
    object_class->set_property = boxlite_box_options_set_property;

    /**
     * BoxliteBoxOptions:rootfs: (type filename)
     *
     * A local root filesystem, a directory or a tar archive; %NULL for the
     * built-in default image (or [property@Boxlite.BoxOptions:image]).
     *
     * Since: 0.1
     */
    properties[PROP_ROOTFS] = g_param_spec_string ("rootfs", NULL, NULL, NULL, flags);

    /**
     * BoxliteBoxOptions:image:
     *
     * An OCI image reference, pulled on first use; %NULL for the built-in
     * default image (or [property@Boxlite.BoxOptions:rootfs]).
     *
     * Since: 0.1
     */
    properties[PROP_IMAGE] = g_param_spec_string ("image", NULL, NULL, NULL, flags);

    /**
     * BoxliteBoxOptions:cpus:
     *
     * Virtual CPUs, 1 to 64 and no more than the host has
     * (boxlite_box_options_validate() checks). The guest sees this many
     * (`nproc`).
     *
     * Since: 0.1
     */
    properties[PROP_CPUS] =
        g_param_spec_uint ("cpus", NULL, NULL, 0, G_MAXUINT, DEFAULT_CPUS, flags);

    /**
     * BoxliteBoxOptions:memory-mib:
     *
     * Guest memory in MiB, 128 to 262144 and no more than the host's RAM
     * (boxlite_box_options_validate() checks). The guest's `MemTotal` is
     * this less what its kernel keeps for itself.
     *
     * Since: 0.1
     */
    properties[PROP_MEMORY_MIB] =
        g_param_spec_uint ("memory-mib", NULL, NULL, 0, G_MAXUINT, DEFAULT_MEMORY_MIB, flags);

    /**
     * BoxliteBoxOptions:disk-size-gb:
     *
     * Size of the box's disk in GiB, at most 2048 and no less than the
     * image's disk; 0 for the image's size plus the default free space. The
     * guest's root file system is grown to the whole disk when the box
     * boots (`df /` shows it).
     *
     * Since: 0.1
     */
    properties[PROP_DISK_SIZE_GB] =
        g_param_spec_uint ("disk-size-gb", NULL, NULL, 0, G_MAXUINT, 0, flags);

    /**
     * BoxliteBoxOptions:max-processes:
     *
     * How many processes and threads the box's commands may have at once,
     * 16 to 4194304 (the cgroup `pids.max` of everything the box runs; the
     * guest agent is outside it, so a fork bomb fails inside the box while
     * the box still answers).
     *
     * Since: 0.1
     */
    properties[PROP_MAX_PROCESSES] =
        g_param_spec_uint ("max-processes", NULL, NULL, 0, G_MAXUINT, DEFAULT_MAX_PROCESSES, flags);

    /**
     * BoxliteBoxOptions:env:
     *
     * `KEY=VALUE` entries in the environment of every command.
     *
     * Since: 0.1
     */
    properties[PROP_ENV] = g_param_spec_boxed ("env", NULL, NULL, G_TYPE_STRV, flags);

    /**
     * BoxliteBoxOptions:working-dir:
     *
     * The absolute path in the box where commands start; %NULL for the
     * image's, else `/`.
     *
     * Since: 0.1
     */
    properties[PROP_WORKING_DIR] = g_param_spec_string ("working-dir", NULL, NULL, NULL, flags);

    /**
     * BoxliteBoxOptions:user:
     *
     * The user commands run as: a name, a uid or `uid:gid`; %NULL for the
     * image's, else root.
     *
     * Since: 0.1
     */
    properties[PROP_USER] = g_param_spec_string ("user", NULL, NULL, NULL, flags);

    /**
     * BoxliteBoxOptions:entrypoint:
     *
     * What `boxlite run` runs when given no command, before
     * [property@Boxlite.BoxOptions:cmd]; %NULL for the image's.
     *
     * Since: 0.1
     */
    properties[PROP_ENTRYPOINT] = g_param_spec_boxed ("entrypoint", NULL, NULL, G_TYPE_STRV, flags);

    /**
     * BoxliteBoxOptions:cmd:
     *
     * The arguments `boxlite run` runs when given no command, after
     * [property@Boxlite.BoxOptions:entrypoint]; %NULL for the image's.
     *
     * Since: 0.1
     */
    properties[PROP_CMD] = g_param_spec_boxed ("cmd", NULL, NULL, G_TYPE_STRV, flags);

    /**
     * BoxliteBoxOptions:detach:
     *
     * Whether the box keeps running after the runtime that started it goes
     * away; when %FALSE the box stops with its runtime.
     *
     * Since: 0.1
     */
    properties[PROP_DETACH] = g_param_spec_boolean ("detach", NULL, NULL, FALSE, flags);

    /**
     * BoxliteBoxOptions:auto-remove:
     *
     * Whether the box is removed once it stops.
     *
     * Since: 0.1
     */
    properties[PROP_AUTO_REMOVE] = g_param_spec_boolean ("auto-remove", NULL, NULL, FALSE, flags);

    /**
     * BoxliteBoxOptions:auto-stop:
     *
     * Seconds without activity after which the box's monitor stops the box
     * as `boxlite stop` would (the guest is shut down cleanly); 0, the
     * default, never. Activity is a command running or starting in the box
     * (including one started detached), a file copy in progress, and
     * traffic through its network (bytes either way, or a new
     * connection). A paused box is not idle: the count starts again when
     * it is resumed. A box stopped this way has "idle" as its
     * stop reason (boxlite_box_dup_stop_reason()), and with
     * [property@Boxlite.BoxOptions:auto-remove] it is removed as on any
     * other stop.
     *
     * Since: 0.1
     */
    properties[PROP_AUTO_STOP] =
        g_param_spec_uint ("auto-stop", NULL, NULL, 0, G_MAXUINT, 0, flags);

    /**
     * BoxliteBoxOptions:network:
     *
     * Whether the box has a (filtered, user-space) network.
     *
     * Since: 0.1
     */
    properties[PROP_NETWORK] = g_param_spec_enum ("network", NULL, NULL, BOXLITE_TYPE_NETWORK_MODE,
                                                  BOXLITE_NETWORK_ENABLED, flags);

    /**
     * BoxliteBoxOptions:allow-net:
     *
     * What the box may reach: names, `*.suffix` wildcards, addresses and
     * CIDR ranges; %NULL or empty allows everything. Rules need the
     * network enabled.
     *
     * Since: 0.1
     */
    properties[PROP_ALLOW_NET] = g_param_spec_boxed ("allow-net", NULL, NULL, G_TYPE_STRV, flags);

    /**
     * BoxliteBoxOptions:ports:
     *
     * Port forwards from the host, each
     * `[HOST_ADDR:]HOST_PORT:GUEST_PORT[/tcp|/udp]` (host address 127.0.0.1
     * and TCP unless given). They need the network enabled.
     *
     * Since: 0.1
     */
    properties[PROP_PORTS] = g_param_spec_boxed ("ports", NULL, NULL, G_TYPE_STRV, flags);

    /**
     * BoxliteBoxOptions:accel:
     *
     * Which QEMU accelerator runs the box.
     *
     * Since: 0.1
     */
    properties[PROP_ACCEL] =
        g_param_spec_enum ("accel", NULL, NULL, BOXLITE_TYPE_ACCEL, BOXLITE_ACCEL_AUTO, flags);

    /**
     * BoxliteBoxOptions:volumes:
     *
     * Host folders shared into the box, each `HOST:GUEST` (read-write) or
     * `HOST:GUEST:ro` (read-only, enforced by the host). HOST is an existing
     * directory and GUEST an absolute path other than `/` without `..`;
     * neither may contain `:`, and no guest path may appear twice. The
     * agent mounts each one at GUEST (making the folder) before the box
     * counts as started. When the runtime runs as root, QEMU runs as the
     * user `boxlite-qemu`, which must be able to read (and, unless `:ro`,
     * write) HOST itself: starting fails otherwise and says so.
     * `HOST:GUEST:ro,owners` shows the guest the host's own owners, modes
     * and symbolic links (a tree made for a guest, such as a container's
     * root filesystem) rather than those the guest set, which are kept in
     * extended attributes of plain files.
     *
     * Since: 0.1
     */
    properties[PROP_VOLUMES] = g_param_spec_boxed ("volumes", NULL, NULL, G_TYPE_STRV, flags);

    /**
     * BoxliteBoxOptions:fast-start:
     *
     * Whether the box starts from a VM template when one fits instead of
     * booting its kernel: a template is made on first use for each set
     * of CPUs, memory, network device and volume count, and each box then
     * starts as a copy-on-write copy of it, with its own clock, random
     * state, name, disk and network set before anything of it runs. When
     * %FALSE, or when no template can be used, the box boots cold;
     * `boxlite inspect` says which ("start") and why ("start_reason").
     *
     * Since: 0.1
     */
    properties[PROP_FAST_START] = g_param_spec_boolean ("fast-start", NULL, NULL, TRUE, flags);

    g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
boxlite_box_options_init (BoxliteBoxOptions *self)
{
    self->cpus = DEFAULT_CPUS;
    self->max_processes = DEFAULT_MAX_PROCESSES;
    self->memory_mib = DEFAULT_MEMORY_MIB;
    self->network = BOXLITE_NETWORK_ENABLED;
    self->accel = BOXLITE_ACCEL_AUTO;
    self->fast_start = TRUE;
}

/**
 * boxlite_box_options_new:
 *
 * Makes options for one CPU, 512 MiB, the built-in default image and the
 * network enabled with an empty allowlist.
 *
 * Returns: (transfer full): the new options
 *
 * Since: 0.1
 */
BoxliteBoxOptions *
boxlite_box_options_new (void)
{
    return g_object_new (BOXLITE_TYPE_BOX_OPTIONS, NULL);
}

/* The accessors are generated: every setter stores through one helper and
 * notifies only on a change. Their documentation follows the macros. */
#define NOTIFY(prop) g_object_notify_by_pspec (G_OBJECT (self), properties[prop])

#define STRING_ACCESSORS(field, prop)                                                              \
    const char *boxlite_box_options_get_##field (BoxliteBoxOptions *self)                          \
    {                                                                                              \
        g_return_val_if_fail (BOXLITE_IS_BOX_OPTIONS (self), NULL);                                \
        return self->field;                                                                        \
    }                                                                                              \
    void boxlite_box_options_set_##field (BoxliteBoxOptions *self, const char *value)              \
    {                                                                                              \
        g_return_if_fail (BOXLITE_IS_BOX_OPTIONS (self));                                          \
        if (bl_set_str (&self->field, value))                                                      \
            NOTIFY (prop);                                                                         \
    }

#define STRV_ACCESSORS(field, prop)                                                                \
    const char *const *boxlite_box_options_get_##field (BoxliteBoxOptions *self)                   \
    {                                                                                              \
        g_return_val_if_fail (BOXLITE_IS_BOX_OPTIONS (self), NULL);                                \
        return (const char *const *) self->field;                                                  \
    }                                                                                              \
    void boxlite_box_options_set_##field (BoxliteBoxOptions *self, const char *const *value)       \
    {                                                                                              \
        g_return_if_fail (BOXLITE_IS_BOX_OPTIONS (self));                                          \
        if (bl_set_strv (&self->field, value))                                                     \
            NOTIFY (prop);                                                                         \
    }

/* @valid is the condition on `value` the setter insists on, as the
 * property's GParamSpec does for the enumerations. */
#define VALUE_ACCESSORS(type, field, prop, valid)                                                  \
    type boxlite_box_options_get_##field (BoxliteBoxOptions *self)                                 \
    {                                                                                              \
        g_return_val_if_fail (BOXLITE_IS_BOX_OPTIONS (self), (type) 0);                            \
        return self->field;                                                                        \
    }                                                                                              \
    void boxlite_box_options_set_##field (BoxliteBoxOptions *self, type value)                     \
    {                                                                                              \
        g_return_if_fail (BOXLITE_IS_BOX_OPTIONS (self));                                          \
        g_return_if_fail (valid);                                                                  \
        if (self->field == value)                                                                  \
            return;                                                                                \
        self->field = value;                                                                       \
        NOTIFY (prop);                                                                             \
    }

STRING_ACCESSORS (rootfs, PROP_ROOTFS)
STRING_ACCESSORS (image, PROP_IMAGE)
STRING_ACCESSORS (working_dir, PROP_WORKING_DIR)
STRING_ACCESSORS (user, PROP_USER)
STRV_ACCESSORS (env, PROP_ENV)
STRV_ACCESSORS (entrypoint, PROP_ENTRYPOINT)
STRV_ACCESSORS (cmd, PROP_CMD)
STRV_ACCESSORS (allow_net, PROP_ALLOW_NET)
STRV_ACCESSORS (ports, PROP_PORTS)
STRV_ACCESSORS (volumes, PROP_VOLUMES)
VALUE_ACCESSORS (guint, cpus, PROP_CPUS, TRUE)
VALUE_ACCESSORS (guint, memory_mib, PROP_MEMORY_MIB, TRUE)
VALUE_ACCESSORS (guint, disk_size_gb, PROP_DISK_SIZE_GB, TRUE)
VALUE_ACCESSORS (guint, max_processes, PROP_MAX_PROCESSES, TRUE)
VALUE_ACCESSORS (gboolean, detach, PROP_DETACH, TRUE)
VALUE_ACCESSORS (gboolean, auto_remove, PROP_AUTO_REMOVE, TRUE)
VALUE_ACCESSORS (gboolean, fast_start, PROP_FAST_START, TRUE)
VALUE_ACCESSORS (guint, auto_stop, PROP_AUTO_STOP, TRUE)
VALUE_ACCESSORS (BoxliteNetworkMode, network, PROP_NETWORK,
                 value == BOXLITE_NETWORK_DISABLED || value == BOXLITE_NETWORK_ENABLED)
VALUE_ACCESSORS (BoxliteAccel, accel, PROP_ACCEL, (guint) value <= BOXLITE_ACCEL_TCG)

/**
 * boxlite_box_options_get_rootfs:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:rootfs] property.
 *
 * Returns: (nullable) (transfer none) (type filename): the local root
 *   filesystem, or %NULL
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_rootfs:
 * @self: the options
 * @rootfs: (nullable) (type filename): a directory or tar archive, or %NULL for
 *   the default image
 *
 * Sets the [property@Boxlite.BoxOptions:rootfs] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_image:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:image] property.
 *
 * Returns: (nullable) (transfer none): the image reference, or %NULL
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_image:
 * @self: the options
 * @image: (nullable): an OCI image reference, or %NULL for the default image
 *
 * Sets the [property@Boxlite.BoxOptions:image] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_cpus:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:cpus] property.
 *
 * Returns: the number of virtual CPUs
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_cpus:
 * @self: the options
 * @cpus: the number of virtual CPUs
 *
 * Sets the [property@Boxlite.BoxOptions:cpus] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_memory_mib:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:memory-mib] property.
 *
 * Returns: the guest memory in MiB
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_memory_mib:
 * @self: the options
 * @memory_mib: the guest memory in MiB
 *
 * Sets the [property@Boxlite.BoxOptions:memory-mib] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_disk_size_gb:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:disk-size-gb] property.
 *
 * Returns: the disk size in GB; 0 for the default
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_disk_size_gb:
 * @self: the options
 * @disk_size_gb: the disk size in GB, or 0 for the default
 *
 * Sets the [property@Boxlite.BoxOptions:disk-size-gb] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_max_processes:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:max-processes] property.
 *
 * Returns: the most processes the box's commands may have at once
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_max_processes:
 * @self: the options
 * @max_processes: the most processes the box's commands may have at once
 *
 * Sets the [property@Boxlite.BoxOptions:max-processes] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_env:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:env] property.
 *
 * Returns: (nullable) (transfer none) (array zero-terminated=1): `KEY=VALUE`
 *   entries, or %NULL
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_env:
 * @self: the options
 * @env: (nullable) (array zero-terminated=1): `KEY=VALUE` entries, or %NULL
 *
 * Sets the [property@Boxlite.BoxOptions:env] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_working_dir:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:working-dir] property.
 *
 * Returns: (nullable) (transfer none): the default working directory, or %NULL
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_working_dir:
 * @self: the options
 * @dir: (nullable): an absolute path in the box, or %NULL for the image's
 *
 * Sets the [property@Boxlite.BoxOptions:working-dir] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_user:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:user] property.
 *
 * Returns: (nullable) (transfer none): the default user, or %NULL
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_user:
 * @self: the options
 * @user: (nullable): a user name, a uid or `uid:gid`, or %NULL for the image's
 *
 * Sets the [property@Boxlite.BoxOptions:user] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_entrypoint:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:entrypoint] property.
 *
 * Returns: (nullable) (transfer none) (array zero-terminated=1): the entrypoint,
 *   or %NULL for the image's
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_entrypoint:
 * @self: the options
 * @entrypoint: (nullable) (array zero-terminated=1): the entrypoint, or %NULL
 *   for the image's
 *
 * Sets the [property@Boxlite.BoxOptions:entrypoint] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_cmd:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:cmd] property.
 *
 * Returns: (nullable) (transfer none) (array zero-terminated=1): the default
 *   arguments, or %NULL for the image's
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_cmd:
 * @self: the options
 * @cmd: (nullable) (array zero-terminated=1): the default arguments, or %NULL
 *   for the image's
 *
 * Sets the [property@Boxlite.BoxOptions:cmd] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_detach:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:detach] property.
 *
 * Returns: whether the box outlives its runtime
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_detach:
 * @self: the options
 * @detach: whether the box outlives its runtime
 *
 * Sets the [property@Boxlite.BoxOptions:detach] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_auto_remove:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:auto-remove] property.
 *
 * Returns: whether the box is removed when it stops
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_auto_remove:
 * @self: the options
 * @auto_remove: whether the box is removed when it stops
 *
 * Sets the [property@Boxlite.BoxOptions:auto-remove] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_fast_start:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:fast-start] property.
 *
 * Returns: whether the box starts from a template when one fits
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_auto_stop:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:auto-stop] property.
 *
 * Returns: seconds without activity before the box is stopped, or 0 for never
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_fast_start:
 * @self: the options
 * @fast_start: whether the box starts from a template when one fits
 *
 * Sets the [property@Boxlite.BoxOptions:fast-start] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_auto_stop:
 * @self: the options
 * @seconds: seconds without activity before the box is stopped, or 0 for never
 *
 * Sets the [property@Boxlite.BoxOptions:auto-stop] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_network:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:network] property.
 *
 * Returns: whether the box has a network
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_network:
 * @self: the options
 * @mode: whether the box has a network
 *
 * Sets the [property@Boxlite.BoxOptions:network] property.
 * An unknown mode is refused (a critical warning, nothing set).
 *
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_allow_net:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:allow-net] property.
 *
 * Returns: (nullable) (transfer none) (array zero-terminated=1): the allowlist
 *   rules, or %NULL (everything allowed)
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_allow_net:
 * @self: the options
 * @rules: (nullable) (array zero-terminated=1): allowlist rules, or %NULL to
 *   allow everything
 *
 * Sets the [property@Boxlite.BoxOptions:allow-net] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_ports:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:ports] property.
 *
 * Returns: (nullable) (transfer none) (array zero-terminated=1): the port
 *   forwards, or %NULL
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_ports:
 * @self: the options
 * @ports: (nullable) (array zero-terminated=1): port forwards, or %NULL for none
 *
 * Sets the [property@Boxlite.BoxOptions:ports] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_accel:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:accel] property.
 *
 * Returns: the accelerator
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_accel:
 * @self: the options
 * @accel: the accelerator
 *
 * Sets the [property@Boxlite.BoxOptions:accel] property.
 * An unknown accelerator is refused (a critical warning, nothing set).
 *
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_get_volumes:
 * @self: the options
 *
 * Gets the [property@Boxlite.BoxOptions:volumes] property.
 *
 * Returns: (nullable) (transfer none) (array zero-terminated=1): the volume
 *   specs, or %NULL for none
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_set_volumes:
 * @self: the options
 * @volumes: (nullable) (array zero-terminated=1): `HOST:GUEST[:ro]` specs, or
 *   %NULL for none
 *
 * Sets the [property@Boxlite.BoxOptions:volumes] property.
 *
 * Since: 0.1
 */

/**
 * boxlite_box_options_add_volume:
 * @self: the options
 * @host_path: (type filename): an existing directory on the host, absolute
 * @guest_path: (type filename): where it appears in the box: absolute, not `/`
 * @read_only: whether the box may only read it (enforced by the host)
 *
 * Appends `HOST:GUEST` (or `HOST:GUEST:ro`) to the
 * [property@Boxlite.BoxOptions:volumes] property. Nothing is checked here;
 * boxlite_box_options_validate() checks every volume.
 *
 * Since: 0.1
 */
void
boxlite_box_options_add_volume (BoxliteBoxOptions *self, const char *host_path,
                                const char *guest_path, gboolean read_only)
{
    g_return_if_fail (BOXLITE_IS_BOX_OPTIONS (self));
    g_return_if_fail (host_path != NULL && guest_path != NULL);

    guint n = self->volumes ? g_strv_length (self->volumes) : 0;
    self->volumes = g_renew (char *, self->volumes, n + 2);
    self->volumes[n] = bl_volume_format (host_path, guest_path, read_only);
    self->volumes[n + 1] = NULL;
    NOTIFY (PROP_VOLUMES);
}

static gboolean
env_valid (const char *const *env, GError **error)
{
    for (guint i = 0; env && env[i]; i++) {
        const char *eq = strchr (env[i], '=');
        if (!eq || eq == env[i]) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                         "environment entry '%s' is not KEY=VALUE", env[i]);
            return FALSE;
        }
    }
    return TRUE;
}

/* What the host has: a box may not ask for more CPUs or memory than that,
 * whatever the fixed ceilings allow. */
static guint64
host_memory_mib (void)
{
    long pages = sysconf (_SC_PHYS_PAGES);
    long page_size = sysconf (_SC_PAGESIZE);

    if (pages <= 0 || page_size <= 0)
        return G_MAXUINT64;
    return (guint64) pages * (guint64) page_size / (1024 * 1024);
}

static gboolean
resources_valid (BoxliteBoxOptions *self, GError **error)
{
    guint host_cpus = g_get_num_processors ();
    guint64 host_mib = host_memory_mib ();

    if (self->cpus < 1 || self->cpus > MAX_CPUS || self->cpus > host_cpus) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "cpus must be between 1 and %u (this host has %u), not %u",
                     MIN (MAX_CPUS, host_cpus), host_cpus, self->cpus);
        return FALSE;
    }
    if (self->memory_mib < MIN_MEMORY_MIB) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "memory of %u MiB is too little to boot a box: give at least %d MiB",
                     self->memory_mib, MIN_MEMORY_MIB);
        return FALSE;
    }
    if (self->memory_mib > MAX_MEMORY_MIB || self->memory_mib > host_mib) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "memory of %u MiB is more than a box may have: at most %" G_GUINT64_FORMAT
                     " MiB (this host has %" G_GUINT64_FORMAT " MiB)",
                     self->memory_mib, MIN ((guint64) MAX_MEMORY_MIB, host_mib), host_mib);
        return FALSE;
    }
    if (self->disk_size_gb > MAX_DISK_SIZE_GB) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "disk size of %u GiB is over the limit of %d GiB", self->disk_size_gb,
                     MAX_DISK_SIZE_GB);
        return FALSE;
    }
    if (self->max_processes < MIN_MAX_PROCESSES || self->max_processes > MAX_MAX_PROCESSES) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "max-processes must be between %d and %d, not %u", MIN_MAX_PROCESSES,
                     MAX_MAX_PROCESSES, self->max_processes);
        return FALSE;
    }
    return TRUE;
}

gboolean
bl_env_validate (const char *const *env, GError **error)
{
    return env_valid (env, error);
}

/**
 * boxlite_box_options_validate:
 * @self: the options
 * @error: return location for a #GError, or %NULL
 *
 * Checks every option before anything is created or started: the ranges,
 * the image reference, paths, the environment, the allowlist rules, the
 * port forwards and the volumes (their host folders must exist), and that
 * the options do not contradict each other.
 *
 * Returns: %TRUE when the options can make a box, or %FALSE with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_INVALID_ARGUMENT naming the option)
 *
 * Since: 0.1
 */
gboolean
boxlite_box_options_validate (BoxliteBoxOptions *self, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX_OPTIONS (self), FALSE);

    if (!resources_valid (self, error))
        return FALSE;
    if (self->image && self->rootfs) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "give an image or a root filesystem, not both");
        return FALSE;
    }
    if (self->image) {
        g_autoptr (BlImageRef) ref = bl_image_ref_parse (self->image, error);
        if (!ref)
            return FALSE;
    }
    if (self->working_dir && !g_path_is_absolute (self->working_dir)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "working directory '%s' is not an absolute path", self->working_dir);
        return FALSE;
    }
    if (self->user && !*self->user) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT, "user is empty");
        return FALSE;
    }
    if (!env_valid ((const char *const *) self->env, error))
        return FALSE;
    if (self->network != BOXLITE_NETWORK_DISABLED && self->network != BOXLITE_NETWORK_ENABLED) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT, "unknown network mode");
        return FALSE;
    }
    gboolean has_rules = self->allow_net && self->allow_net[0];
    gboolean has_ports = self->ports && self->ports[0];
    if ((has_rules || has_ports) && self->network != BOXLITE_NETWORK_ENABLED) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "%s need the network enabled",
                     has_ports ? "port forwards" : "allow_net rules");
        return FALSE;
    }
    if (!bl_allow_net_validate ((const char *const *) self->allow_net, error) ||
        !bl_port_forwards_validate ((const char *const *) self->ports, error))
        return FALSE;
    if ((guint) self->accel > BOXLITE_ACCEL_TCG) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT, "unknown accelerator");
        return FALSE;
    }
    g_autoptr (GPtrArray) volumes =
        bl_volumes_parse ((const char *const *) self->volumes, TRUE, error);
    return volumes != NULL;
}

static const char *const accel_names[] = { "auto", "kvm", "tcg" };
static const char *const network_names[] = { "disabled", "enabled" };

const char *
bl_accel_to_string (BoxliteAccel accel)
{
    return (guint) accel < G_N_ELEMENTS (accel_names) ? accel_names[accel] : "auto";
}

gboolean
bl_accel_from_string (const char *text, BoxliteAccel *accel)
{
    for (guint i = 0; i < G_N_ELEMENTS (accel_names); i++) {
        if (g_strcmp0 (text, accel_names[i]) == 0) {
            *accel = (BoxliteAccel) i;
            return TRUE;
        }
    }
    return FALSE;
}

static void
add_strv (JsonBuilder *b, const char *name, char **strv)
{
    json_builder_set_member_name (b, name);
    if (!strv) {
        json_builder_add_null_value (b);
        return;
    }
    json_builder_begin_array (b);
    for (guint i = 0; strv[i]; i++)
        json_builder_add_string_value (b, strv[i]);
    json_builder_end_array (b);
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

JsonNode *
bl_box_options_to_json (BoxliteBoxOptions *self)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    add_string (b, "rootfs", self->rootfs);
    add_string (b, "image", self->image);
    json_builder_set_member_name (b, "cpus");
    json_builder_add_int_value (b, self->cpus);
    json_builder_set_member_name (b, "memory_mib");
    json_builder_add_int_value (b, self->memory_mib);
    json_builder_set_member_name (b, "disk_size_gb");
    json_builder_add_int_value (b, self->disk_size_gb);
    json_builder_set_member_name (b, "max_processes");
    json_builder_add_int_value (b, self->max_processes);
    add_strv (b, "env", self->env);
    add_string (b, "working_dir", self->working_dir);
    add_string (b, "user", self->user);
    add_strv (b, "entrypoint", self->entrypoint);
    add_strv (b, "cmd", self->cmd);
    json_builder_set_member_name (b, "detach");
    json_builder_add_boolean_value (b, self->detach);
    json_builder_set_member_name (b, "auto_remove");
    json_builder_add_boolean_value (b, self->auto_remove);
    json_builder_set_member_name (b, "fast_start");
    json_builder_add_boolean_value (b, self->fast_start);
    json_builder_set_member_name (b, "auto_stop");
    json_builder_add_int_value (b, self->auto_stop);
    json_builder_set_member_name (b, "network");
    json_builder_add_string_value (b, network_names[self->network]);
    add_strv (b, "allow_net", self->allow_net);
    add_strv (b, "ports", self->ports);
    add_strv (b, "volumes", self->volumes);
    json_builder_set_member_name (b, "accel");
    json_builder_add_string_value (b, bl_accel_to_string (self->accel));
    json_builder_end_object (b);
    return json_builder_get_root (b);
}

static char **
get_strv (JsonObject *obj, const char *name)
{
    JsonNode *node = json_object_get_member (obj, name);

    if (!node || !JSON_NODE_HOLDS_ARRAY (node))
        return NULL;
    JsonArray *array = json_node_get_array (node);
    guint n = json_array_get_length (array);
    char **strv = g_new0 (char *, n + 1);
    guint j = 0;
    for (guint i = 0; i < n; i++) {
        JsonNode *elem = json_array_get_element (array, i);
        if (JSON_NODE_HOLDS_VALUE (elem) && json_node_get_value_type (elem) == G_TYPE_STRING)
            strv[j++] = g_strdup (json_node_get_string (elem));
    }
    return strv;
}

static char *
get_string (JsonObject *obj, const char *name)
{
    JsonNode *node = json_object_get_member (obj, name);

    if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        return NULL;
    return g_strdup (json_node_get_string (node));
}

BoxliteBoxOptions *
bl_box_options_from_json (JsonNode *node, GError **error)
{
    g_autoptr (BoxliteBoxOptions) self = boxlite_box_options_new ();

    if (!node || !JSON_NODE_HOLDS_OBJECT (node)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED, "box options are not an object");
        return NULL;
    }
    JsonObject *obj = json_node_get_object (node);
    self->rootfs = get_string (obj, "rootfs");
    self->image = get_string (obj, "image");
    self->cpus = (guint) json_object_get_int_member_with_default (obj, "cpus", DEFAULT_CPUS);
    self->memory_mib =
        (guint) json_object_get_int_member_with_default (obj, "memory_mib", DEFAULT_MEMORY_MIB);
    self->disk_size_gb = (guint) json_object_get_int_member_with_default (obj, "disk_size_gb", 0);
    self->max_processes = (guint) json_object_get_int_member_with_default (obj, "max_processes",
                                                                           DEFAULT_MAX_PROCESSES);
    self->env = get_strv (obj, "env");
    self->working_dir = get_string (obj, "working_dir");
    self->user = get_string (obj, "user");
    self->entrypoint = get_strv (obj, "entrypoint");
    self->cmd = get_strv (obj, "cmd");
    self->detach = json_object_get_boolean_member_with_default (obj, "detach", FALSE);
    self->auto_remove = json_object_get_boolean_member_with_default (obj, "auto_remove", FALSE);
    self->fast_start = json_object_get_boolean_member_with_default (obj, "fast_start", TRUE);
    gint64 auto_stop = json_object_get_int_member_with_default (obj, "auto_stop", 0);
    self->auto_stop = auto_stop > 0 && auto_stop <= G_MAXUINT ? (guint) auto_stop : 0;
    g_autofree char *accel = get_string (obj, "accel");
    if (accel && !bl_accel_from_string (accel, &self->accel)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED, "unknown accelerator '%s'", accel);
        return NULL;
    }
    g_autofree char *network = get_string (obj, "network");
    self->network =
        g_strcmp0 (network, "disabled") == 0 ? BOXLITE_NETWORK_DISABLED : BOXLITE_NETWORK_ENABLED;
    self->allow_net = get_strv (obj, "allow_net");
    self->ports = get_strv (obj, "ports");
    self->volumes = get_strv (obj, "volumes");
    return g_steal_pointer (&self);
}

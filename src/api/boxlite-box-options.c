/* boxlite-box-options.c: how a box is made, validated before anything starts. */
#include <boxlite/boxlite-box-options.h>

#include <boxlite/boxlite-error.h>
#include "boxlite-private.h"
#include "image-ref.h"
#include "netspec.h"

#define DEFAULT_CPUS 1
#define DEFAULT_MEMORY_MIB 512
#define MAX_CPUS 64
#define MIN_MEMORY_MIB 128
#define MAX_MEMORY_MIB (256 * 1024)
#define MAX_DISK_SIZE_GB 4096

struct _BoxliteBoxOptions {
    GObject parent_instance;
    char *rootfs;
    char *image;
    guint cpus;
    guint memory_mib;
    guint disk_size_gb;
    GStrv env;
    char *working_dir;
    char *user;
    GStrv entrypoint;
    GStrv cmd;
    gboolean detach;
    gboolean auto_remove;
    BoxliteNetworkMode network;
    GStrv allow_net;
    GStrv ports;
    BoxliteAccel accel;
};

G_DEFINE_FINAL_TYPE (BoxliteBoxOptions, boxlite_box_options, G_TYPE_OBJECT)

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
    G_OBJECT_CLASS (boxlite_box_options_parent_class)->finalize (object);
}

static void
boxlite_box_options_class_init (BoxliteBoxOptionsClass *klass)
{
    G_OBJECT_CLASS (klass)->finalize = boxlite_box_options_finalize;
}

static void
boxlite_box_options_init (BoxliteBoxOptions *self)
{
    self->cpus = DEFAULT_CPUS;
    self->memory_mib = DEFAULT_MEMORY_MIB;
    self->network = BOXLITE_NETWORK_ENABLED;
    self->accel = BOXLITE_ACCEL_AUTO;
}

/**
 * boxlite_box_options_new:
 *
 * Returns: (transfer full): options for one CPU, 512 MiB, the built-in
 *   default image and the network enabled with an empty allowlist
 */
BoxliteBoxOptions *
boxlite_box_options_new (void)
{
    return g_object_new (BOXLITE_TYPE_BOX_OPTIONS, NULL);
}

#define STRING_ACCESSORS(field)                                                                    \
    const char *boxlite_box_options_get_##field (BoxliteBoxOptions *self)                          \
    {                                                                                              \
        g_return_val_if_fail (BOXLITE_IS_BOX_OPTIONS (self), NULL);                                \
        return self->field;                                                                        \
    }                                                                                              \
    void boxlite_box_options_set_##field (BoxliteBoxOptions *self, const char *value)              \
    {                                                                                              \
        g_return_if_fail (BOXLITE_IS_BOX_OPTIONS (self));                                          \
        g_free (self->field);                                                                      \
        self->field = g_strdup (value);                                                            \
    }

#define STRV_ACCESSORS(field)                                                                      \
    const char *const *boxlite_box_options_get_##field (BoxliteBoxOptions *self)                   \
    {                                                                                              \
        g_return_val_if_fail (BOXLITE_IS_BOX_OPTIONS (self), NULL);                                \
        return (const char *const *) self->field;                                                  \
    }                                                                                              \
    void boxlite_box_options_set_##field (BoxliteBoxOptions *self, const char *const *value)       \
    {                                                                                              \
        g_return_if_fail (BOXLITE_IS_BOX_OPTIONS (self));                                          \
        g_strfreev (self->field);                                                                  \
        self->field = g_strdupv ((char **) value);                                                 \
    }

#define VALUE_ACCESSORS(type, field)                                                               \
    type boxlite_box_options_get_##field (BoxliteBoxOptions *self)                                 \
    {                                                                                              \
        g_return_val_if_fail (BOXLITE_IS_BOX_OPTIONS (self), (type) 0);                            \
        return self->field;                                                                        \
    }                                                                                              \
    void boxlite_box_options_set_##field (BoxliteBoxOptions *self, type value)                     \
    {                                                                                              \
        g_return_if_fail (BOXLITE_IS_BOX_OPTIONS (self));                                          \
        self->field = value;                                                                       \
    }

/* Accessors are generated; their documentation lives in the header's order:
 * rootfs is a local root filesystem (directory or tar archive) and image an
 * image reference (pulled on first use), both NULL for the built-in default
 * image; working_dir and user are the defaults for every command (a box
 * made from an image inherits the image's where they are NULL); env entries
 * are KEY=VALUE; entrypoint and cmd
 * are what `boxlite run` runs when given no command; disk_size_gb 0 means the
 * image's size plus the default free space. */
STRING_ACCESSORS (rootfs)
STRING_ACCESSORS (image)
STRING_ACCESSORS (working_dir)
STRING_ACCESSORS (user)
STRV_ACCESSORS (env)
STRV_ACCESSORS (entrypoint)
STRV_ACCESSORS (cmd)
VALUE_ACCESSORS (guint, cpus)
VALUE_ACCESSORS (guint, memory_mib)
VALUE_ACCESSORS (guint, disk_size_gb)
VALUE_ACCESSORS (gboolean, detach)
VALUE_ACCESSORS (gboolean, auto_remove)
VALUE_ACCESSORS (BoxliteNetworkMode, network)
VALUE_ACCESSORS (BoxliteAccel, accel)

/**
 * boxlite_box_options_get_allow_net:
 * @self: the options
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the rules
 *   for what the box may reach (names, `*.suffix` wildcards, addresses and
 *   CIDR ranges); %NULL or empty allows everything
 */
const char *const *
boxlite_box_options_get_allow_net (BoxliteBoxOptions *self)
{
    g_return_val_if_fail (BOXLITE_IS_BOX_OPTIONS (self), NULL);
    return (const char *const *) self->allow_net;
}

/**
 * boxlite_box_options_set_allow_net:
 * @self: the options
 * @rules: (nullable) (array zero-terminated=1): allowlist rules; they need
 *   the network enabled
 *
 * Sets what the box may reach; boxlite_box_options_validate() checks the
 * rules.
 */
void
boxlite_box_options_set_allow_net (BoxliteBoxOptions *self, const char *const *rules)
{
    g_return_if_fail (BOXLITE_IS_BOX_OPTIONS (self));
    g_strfreev (self->allow_net);
    self->allow_net = g_strdupv ((char **) rules);
}

/**
 * boxlite_box_options_get_ports:
 * @self: the options
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the port
 *   forwards, each `[HOST_ADDR:]HOST_PORT:GUEST_PORT[/tcp|/udp]`
 */
const char *const *
boxlite_box_options_get_ports (BoxliteBoxOptions *self)
{
    g_return_val_if_fail (BOXLITE_IS_BOX_OPTIONS (self), NULL);
    return (const char *const *) self->ports;
}

/**
 * boxlite_box_options_set_ports:
 * @self: the options
 * @ports: (nullable) (array zero-terminated=1): port forwards, each
 *   `[HOST_ADDR:]HOST_PORT:GUEST_PORT[/tcp|/udp]` (host address 127.0.0.1
 *   unless given, protocol TCP unless given); they need the network enabled
 *
 * Sets which host ports reach the box; boxlite_box_options_validate()
 * checks them.
 */
void
boxlite_box_options_set_ports (BoxliteBoxOptions *self, const char *const *ports)
{
    g_return_if_fail (BOXLITE_IS_BOX_OPTIONS (self));
    g_strfreev (self->ports);
    self->ports = g_strdupv ((char **) ports);
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

gboolean
bl_env_validate (const char *const *env, GError **error)
{
    return env_valid (env, error);
}

/**
 * boxlite_box_options_validate:
 * @self: the options
 * @error: return location for a #GError
 *
 * Checks every option before anything is created or started.
 *
 * Returns: %TRUE when the options can make a box
 */
gboolean
boxlite_box_options_validate (BoxliteBoxOptions *self, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_BOX_OPTIONS (self), FALSE);

    if (self->cpus < 1 || self->cpus > MAX_CPUS) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "cpus must be between 1 and %d, not %u", MAX_CPUS, self->cpus);
        return FALSE;
    }
    if (self->memory_mib < MIN_MEMORY_MIB || self->memory_mib > MAX_MEMORY_MIB) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "memory must be between %d and %d MiB, not %u", MIN_MEMORY_MIB, MAX_MEMORY_MIB,
                     self->memory_mib);
        return FALSE;
    }
    if (self->disk_size_gb > MAX_DISK_SIZE_GB) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "disk size of %u GB is over the limit of %d", self->disk_size_gb,
                     MAX_DISK_SIZE_GB);
        return FALSE;
    }
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
    return TRUE;
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
    add_strv (b, "env", self->env);
    add_string (b, "working_dir", self->working_dir);
    add_string (b, "user", self->user);
    add_strv (b, "entrypoint", self->entrypoint);
    add_strv (b, "cmd", self->cmd);
    json_builder_set_member_name (b, "detach");
    json_builder_add_boolean_value (b, self->detach);
    json_builder_set_member_name (b, "auto_remove");
    json_builder_add_boolean_value (b, self->auto_remove);
    json_builder_set_member_name (b, "network");
    json_builder_add_string_value (b, network_names[self->network]);
    add_strv (b, "allow_net", self->allow_net);
    add_strv (b, "ports", self->ports);
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
    self->env = get_strv (obj, "env");
    self->working_dir = get_string (obj, "working_dir");
    self->user = get_string (obj, "user");
    self->entrypoint = get_strv (obj, "entrypoint");
    self->cmd = get_strv (obj, "cmd");
    self->detach = json_object_get_boolean_member_with_default (obj, "detach", FALSE);
    self->auto_remove = json_object_get_boolean_member_with_default (obj, "auto_remove", FALSE);
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
    return g_steal_pointer (&self);
}

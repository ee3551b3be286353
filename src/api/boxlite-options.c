/* boxlite-options.c: settings of a runtime. */
#define G_LOG_DOMAIN "boxlite"

#include <boxlite/boxlite-options.h>

#include <boxlite/boxlite-error.h>
#include "registry.h"
#include "set-field.h"

/**
 * BoxliteOptions:
 *
 * Settings of a [class@Boxlite.Runtime]: its home directory, the image
 * registries it pulls from, and a hosts file the boxes' DNS answers from.
 *
 * Each element of [property@Boxlite.Options:image-registries] is one
 * registry entry, either a bare host ("quay.io", searched for unqualified
 * image names) or a JSON object:
 *
 * ```json
 * {"host": "registry.example:5000",
 *  "transport": "https",
 *  "skip_verify": false,
 *  "search": false,
 *  "auth": {"kind": "basic", "username": "...", "password": "..."}}
 * ```
 *
 * "transport" is "https" or "http" (default: https, http on loopback);
 * "skip_verify" accepts any TLS certificate; "search" tries the registry
 * for unqualified names; "auth" is `{"kind": "anonymous"}`, a basic one as
 * above, or `{"kind": "bearer", "token": "..."}`. A basic "auth" may list
 * "token_hosts": the hosts besides the registry's own that its token
 * service may live on; credentials go to no other host. "private_redirects"
 * lets blob redirects lead to loopback, private or host addresses (always
 * allowed for a registry on loopback). The runtime also reads
 * `$BOXLITE_HOME/registries.json`, a JSON array of such entries; for a
 * host named in both, the option wins. Unqualified names are tried on the
 * search registries in order, then on docker.io. Passwords and tokens
 * never appear in logs or error messages.
 *
 * [property@Boxlite.Options:hosts-file] names a hosts(5)-style file
 * ("ADDRESS NAME…" lines) whose names the boxes' DNS answers from the file
 * instead of the host's resolver, still subject to each box's allowlist: a
 * private name map, or a stand-in internet for tests.
 *
 * Since: 0.1
 */
struct _BoxliteOptions {
    GObject parent_instance;
    char *home_dir;
    GStrv image_registries;
    char *hosts_file;
    guint64 image_max_bytes;
    guint64 image_max_entries;
};

G_DEFINE_FINAL_TYPE (BoxliteOptions, boxlite_options, G_TYPE_OBJECT)

enum {
    PROP_0,
    PROP_HOME_DIR,
    PROP_IMAGE_REGISTRIES,
    PROP_HOSTS_FILE,
    PROP_IMAGE_MAX_BYTES,
    PROP_IMAGE_MAX_ENTRIES,
    N_PROPS,
};

static GParamSpec *properties[N_PROPS];

static void
boxlite_options_finalize (GObject *object)
{
    BoxliteOptions *self = BOXLITE_OPTIONS (object);

    g_free (self->home_dir);
    g_strfreev (self->image_registries);
    g_free (self->hosts_file);
    G_OBJECT_CLASS (boxlite_options_parent_class)->finalize (object);
}

static void
boxlite_options_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
    BoxliteOptions *self = BOXLITE_OPTIONS (object);

    switch (prop_id) {
    case PROP_HOME_DIR:
        g_value_set_string (value, self->home_dir);
        break;
    case PROP_IMAGE_REGISTRIES:
        g_value_set_boxed (value, self->image_registries);
        break;
    case PROP_HOSTS_FILE:
        g_value_set_string (value, self->hosts_file);
        break;
    case PROP_IMAGE_MAX_BYTES:
        g_value_set_uint64 (value, self->image_max_bytes);
        break;
    case PROP_IMAGE_MAX_ENTRIES:
        g_value_set_uint64 (value, self->image_max_entries);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
boxlite_options_set_property (GObject *object, guint prop_id, const GValue *value,
                              GParamSpec *pspec)
{
    BoxliteOptions *self = BOXLITE_OPTIONS (object);

    switch (prop_id) {
    case PROP_HOME_DIR:
        boxlite_options_set_home_dir (self, g_value_get_string (value));
        break;
    case PROP_IMAGE_REGISTRIES:
        boxlite_options_set_image_registries (self, g_value_get_boxed (value));
        break;
    case PROP_HOSTS_FILE:
        boxlite_options_set_hosts_file (self, g_value_get_string (value));
        break;
    case PROP_IMAGE_MAX_BYTES:
        boxlite_options_set_image_max_bytes (self, g_value_get_uint64 (value));
        break;
    case PROP_IMAGE_MAX_ENTRIES:
        boxlite_options_set_image_max_entries (self, g_value_get_uint64 (value));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
boxlite_options_class_init (BoxliteOptionsClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS (klass);
    const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;

    object_class->finalize = boxlite_options_finalize;
    object_class->get_property = boxlite_options_get_property;
    object_class->set_property = boxlite_options_set_property;

    /**
     * BoxliteOptions:home-dir: (type filename)
     *
     * Where boxes, images and sockets live; %NULL for the default
     * (`$BOXLITE_HOME`, else `~/.boxlite`).
     *
     * Since: 0.1
     */
    properties[PROP_HOME_DIR] = g_param_spec_string ("home-dir", NULL, NULL, NULL, flags);

    /**
     * BoxliteOptions:image-registries:
     *
     * Registry entries, each a bare host (searched for unqualified image
     * names) or a JSON object with "host", "transport", "skip_verify",
     * "search" and "auth". boxlite_options_validate() checks them.
     *
     * Since: 0.1
     */
    properties[PROP_IMAGE_REGISTRIES] =
        g_param_spec_boxed ("image-registries", NULL, NULL, G_TYPE_STRV, flags);

    /**
     * BoxliteOptions:hosts-file: (type filename)
     *
     * An absolute path to a hosts(5)-style file whose names the boxes'
     * DNS answers from it, before the host's resolver; %NULL for none.
     *
     * Since: 0.1
     */
    properties[PROP_HOSTS_FILE] = g_param_spec_string ("hosts-file", NULL, NULL, NULL, flags);

    /**
     * BoxliteOptions:image-max-bytes:
     *
     * The most bytes of file contents one image may unpack to, all its
     * layers together (a file counts at its declared size when that is
     * more than its data); 0 for the default, 32 GiB. An image over it is
     * refused with %BOXLITE_ERROR_IMAGE and nothing of it is kept.
     *
     * Since: 0.1
     */
    properties[PROP_IMAGE_MAX_BYTES] =
        g_param_spec_uint64 ("image-max-bytes", NULL, NULL, 0, G_MAXUINT64, 0, flags);

    /**
     * BoxliteOptions:image-max-entries:
     *
     * The most archive entries (files, directories, links, whiteouts) one
     * image's layers may hold together; 0 for the default, one million.
     *
     * Since: 0.1
     */
    properties[PROP_IMAGE_MAX_ENTRIES] =
        g_param_spec_uint64 ("image-max-entries", NULL, NULL, 0, G_MAXUINT64, 0, flags);

    g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
boxlite_options_init (BoxliteOptions *self)
{
}

/**
 * boxlite_options_new:
 *
 * Makes options with every setting at its default.
 *
 * Returns: (transfer full): the new options
 *
 * Since: 0.1
 */
BoxliteOptions *
boxlite_options_new (void)
{
    return g_object_new (BOXLITE_TYPE_OPTIONS, NULL);
}

/**
 * boxlite_options_get_home_dir:
 * @self: the options
 *
 * Gets the [property@Boxlite.Options:home-dir] property.
 *
 * Returns: (nullable) (transfer none) (type filename): the home directory,
 *   or %NULL for the default (`$BOXLITE_HOME`, else `~/.boxlite`)
 *
 * Since: 0.1
 */
const char *
boxlite_options_get_home_dir (BoxliteOptions *self)
{
    g_return_val_if_fail (BOXLITE_IS_OPTIONS (self), NULL);
    return self->home_dir;
}

/**
 * boxlite_options_set_home_dir:
 * @self: the options
 * @home_dir: (nullable) (type filename): where boxes, images and sockets
 *   live, or %NULL for the default
 *
 * Sets the [property@Boxlite.Options:home-dir] property.
 *
 * Since: 0.1
 */
void
boxlite_options_set_home_dir (BoxliteOptions *self, const char *home_dir)
{
    g_return_if_fail (BOXLITE_IS_OPTIONS (self));
    if (bl_set_str (&self->home_dir, home_dir))
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HOME_DIR]);
}

/**
 * boxlite_options_get_image_registries:
 * @self: the options
 *
 * Gets the [property@Boxlite.Options:image-registries] property.
 *
 * Returns: (nullable) (array zero-terminated=1) (transfer none): registry
 *   entries, each a bare host or a JSON object (see #BoxliteOptions)
 *
 * Since: 0.1
 */
const char *const *
boxlite_options_get_image_registries (BoxliteOptions *self)
{
    g_return_val_if_fail (BOXLITE_IS_OPTIONS (self), NULL);
    return (const char *const *) self->image_registries;
}

/**
 * boxlite_options_set_image_registries:
 * @self: the options
 * @registries: (nullable) (array zero-terminated=1): registry entries, each
 *   a bare host (searched for unqualified names) or a JSON object with
 *   "host", "transport", "skip_verify", "search" and "auth"
 *
 * Sets the [property@Boxlite.Options:image-registries] property. Entries
 * are checked by boxlite_options_validate(), which the runtime runs before
 * it uses them.
 *
 * Since: 0.1
 */
void
boxlite_options_set_image_registries (BoxliteOptions *self, const char *const *registries)
{
    g_return_if_fail (BOXLITE_IS_OPTIONS (self));
    if (bl_set_strv (&self->image_registries, registries))
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IMAGE_REGISTRIES]);
}

/**
 * boxlite_options_get_hosts_file:
 * @self: the options
 *
 * Gets the [property@Boxlite.Options:hosts-file] property.
 *
 * Returns: (nullable) (transfer none) (type filename): the hosts file boxes
 *   resolve names from before the host's resolver, or %NULL
 *
 * Since: 0.1
 */
const char *
boxlite_options_get_hosts_file (BoxliteOptions *self)
{
    g_return_val_if_fail (BOXLITE_IS_OPTIONS (self), NULL);
    return self->hosts_file;
}

/**
 * boxlite_options_set_hosts_file:
 * @self: the options
 * @hosts_file: (nullable) (type filename): an absolute path to a
 *   hosts(5)-style file whose names are answered from it in the boxes this
 *   runtime starts, or %NULL for none
 *
 * Sets the [property@Boxlite.Options:hosts-file] property.
 * boxlite_options_validate() checks that it names a file.
 *
 * Since: 0.1
 */
void
boxlite_options_set_hosts_file (BoxliteOptions *self, const char *hosts_file)
{
    g_return_if_fail (BOXLITE_IS_OPTIONS (self));
    if (bl_set_str (&self->hosts_file, hosts_file))
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HOSTS_FILE]);
}

/**
 * boxlite_options_get_image_max_bytes:
 * @self: the options
 *
 * Gets the [property@Boxlite.Options:image-max-bytes] property.
 *
 * Returns: the limit in bytes, or 0 for the default
 *
 * Since: 0.1
 */
guint64
boxlite_options_get_image_max_bytes (BoxliteOptions *self)
{
    g_return_val_if_fail (BOXLITE_IS_OPTIONS (self), 0);
    return self->image_max_bytes;
}

/**
 * boxlite_options_set_image_max_bytes:
 * @self: the options
 * @max_bytes: the most bytes one image may unpack to, or 0 for the default
 *
 * Sets the [property@Boxlite.Options:image-max-bytes] property.
 *
 * Since: 0.1
 */
void
boxlite_options_set_image_max_bytes (BoxliteOptions *self, guint64 max_bytes)
{
    g_return_if_fail (BOXLITE_IS_OPTIONS (self));
    if (self->image_max_bytes == max_bytes)
        return;
    self->image_max_bytes = max_bytes;
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IMAGE_MAX_BYTES]);
}

/**
 * boxlite_options_get_image_max_entries:
 * @self: the options
 *
 * Gets the [property@Boxlite.Options:image-max-entries] property.
 *
 * Returns: the limit in archive entries, or 0 for the default
 *
 * Since: 0.1
 */
guint64
boxlite_options_get_image_max_entries (BoxliteOptions *self)
{
    g_return_val_if_fail (BOXLITE_IS_OPTIONS (self), 0);
    return self->image_max_entries;
}

/**
 * boxlite_options_set_image_max_entries:
 * @self: the options
 * @max_entries: the most archive entries one image's layers may hold, or 0
 *   for the default
 *
 * Sets the [property@Boxlite.Options:image-max-entries] property.
 *
 * Since: 0.1
 */
void
boxlite_options_set_image_max_entries (BoxliteOptions *self, guint64 max_entries)
{
    g_return_if_fail (BOXLITE_IS_OPTIONS (self));
    if (self->image_max_entries == max_entries)
        return;
    self->image_max_entries = max_entries;
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_IMAGE_MAX_ENTRIES]);
}

/**
 * boxlite_options_validate:
 * @self: the options
 * @error: return location for a #GError, or %NULL
 *
 * Checks every image registry entry, and that the hosts file, if any, is
 * an absolute path to a readable file.
 *
 * Returns: %TRUE when the options can be used, or %FALSE with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_INVALID_ARGUMENT, naming the entry by
 *   position, never by its secrets)
 *
 * Since: 0.1
 */
gboolean
boxlite_options_validate (BoxliteOptions *self, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_OPTIONS (self), FALSE);

    for (guint i = 0; self->image_registries && self->image_registries[i]; i++) {
        g_autoptr (BlRegistryEntry) entry =
            bl_registry_entry_parse (self->image_registries[i], error);

        if (!entry) {
            g_prefix_error (error, "image registry %u: ", i + 1);
            return FALSE;
        }
    }
    if (self->hosts_file && (!g_path_is_absolute (self->hosts_file) ||
                             !g_file_test (self->hosts_file, G_FILE_TEST_IS_REGULAR))) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "the hosts file '%s' is not an absolute path to a file", self->hosts_file);
        return FALSE;
    }
    return TRUE;
}

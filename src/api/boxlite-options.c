/* boxlite-options.c: settings of a runtime. */
#include <boxlite/boxlite-options.h>

#include <boxlite/boxlite-error.h>
#include "registry.h"

struct _BoxliteOptions {
    GObject parent_instance;
    char *home_dir;
    GStrv image_registries;
    char *hosts_file;
};

G_DEFINE_FINAL_TYPE (BoxliteOptions, boxlite_options, G_TYPE_OBJECT)

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
boxlite_options_class_init (BoxliteOptionsClass *klass)
{
    G_OBJECT_CLASS (klass)->finalize = boxlite_options_finalize;
}

static void
boxlite_options_init (BoxliteOptions *self)
{
}

/**
 * boxlite_options_new:
 *
 * Returns: (transfer full): options with every setting at its default
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
 * Returns: (nullable): the home directory, or %NULL for the default
 *   (`$BOXLITE_HOME`, else `~/.boxlite`)
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
 * @home_dir: (nullable): where boxes, images and sockets live
 */
void
boxlite_options_set_home_dir (BoxliteOptions *self, const char *home_dir)
{
    g_return_if_fail (BOXLITE_IS_OPTIONS (self));
    g_free (self->home_dir);
    self->home_dir = g_strdup (home_dir);
}

/**
 * boxlite_options_get_image_registries:
 * @self: the options
 *
 * Returns: (nullable) (array zero-terminated=1) (transfer none): registry
 *   entries, each a bare host or a JSON object (see boxlite-options.h)
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
 * Entries are checked by boxlite_options_validate(), which the runtime
 * runs before it uses them.
 */
void
boxlite_options_set_image_registries (BoxliteOptions *self, const char *const *registries)
{
    g_return_if_fail (BOXLITE_IS_OPTIONS (self));
    g_strfreev (self->image_registries);
    self->image_registries = g_strdupv ((char **) registries);
}

/**
 * boxlite_options_get_hosts_file:
 * @self: the options
 *
 * Returns: (nullable) (type filename): the hosts file boxes resolve names
 *   from before the host's resolver, or %NULL
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
 * @hosts_file: (nullable) (type filename): an absolute path to a hosts(5)-style
 *   file; its names are answered from it in the boxes this runtime starts
 */
void
boxlite_options_set_hosts_file (BoxliteOptions *self, const char *hosts_file)
{
    g_return_if_fail (BOXLITE_IS_OPTIONS (self));
    g_free (self->hosts_file);
    self->hosts_file = g_strdup (hosts_file);
}

/**
 * boxlite_options_validate:
 * @self: the options
 * @error: return location for a #GError
 *
 * Checks every image registry entry, and that the hosts file, if any, is
 * an absolute path to a readable file.
 *
 * Returns: %TRUE when the options can be used, else %FALSE with @error set
 *   to %BOXLITE_ERROR_INVALID_ARGUMENT naming the entry (by position, never
 *   by its secrets)
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

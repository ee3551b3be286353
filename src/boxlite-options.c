/* boxlite-options.c: settings of a runtime. */
#include "boxlite-options.h"

struct _BoxliteOptions {
    GObject parent_instance;
    char *home_dir;
    GStrv image_registries;
};

G_DEFINE_FINAL_TYPE (BoxliteOptions, boxlite_options, G_TYPE_OBJECT)

static void
boxlite_options_finalize (GObject *object)
{
    BoxliteOptions *self = BOXLITE_OPTIONS (object);

    g_free (self->home_dir);
    g_strfreev (self->image_registries);
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
 * Returns: (nullable) (array zero-terminated=1) (transfer none): registries
 *   searched for unqualified image names
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
 * @registries: (nullable) (array zero-terminated=1): registry hosts
 */
void
boxlite_options_set_image_registries (BoxliteOptions *self, const char *const *registries)
{
    g_return_if_fail (BOXLITE_IS_OPTIONS (self));
    g_strfreev (self->image_registries);
    self->image_registries = g_strdupv ((char **) registries);
}

/* boxlite-options.h: settings of a runtime. The format of the image
 * registry entries and of the hosts file is documented with the type, in
 * boxlite-options.c. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define BOXLITE_TYPE_OPTIONS (boxlite_options_get_type ())
G_DECLARE_FINAL_TYPE (BoxliteOptions, boxlite_options, BOXLITE, OPTIONS, GObject)

BoxliteOptions *boxlite_options_new (void);

const char *boxlite_options_get_home_dir (BoxliteOptions *self);
void boxlite_options_set_home_dir (BoxliteOptions *self, const char *home_dir);

const char *const *boxlite_options_get_image_registries (BoxliteOptions *self);
void boxlite_options_set_image_registries (BoxliteOptions *self, const char *const *registries);

const char *boxlite_options_get_hosts_file (BoxliteOptions *self);
void boxlite_options_set_hosts_file (BoxliteOptions *self, const char *hosts_file);
guint64 boxlite_options_get_image_max_bytes (BoxliteOptions *self);
void boxlite_options_set_image_max_bytes (BoxliteOptions *self, guint64 max_bytes);
guint64 boxlite_options_get_image_max_entries (BoxliteOptions *self);
void boxlite_options_set_image_max_entries (BoxliteOptions *self, guint64 max_entries);

gboolean boxlite_options_validate (BoxliteOptions *self, GError **error);

G_END_DECLS

/* boxlite-box-options.h: how a box is made. */
#pragma once

#include <glib-object.h>

#include "boxlite-enums.h"

G_BEGIN_DECLS

#define BOXLITE_TYPE_BOX_OPTIONS (boxlite_box_options_get_type ())
G_DECLARE_FINAL_TYPE (BoxliteBoxOptions, boxlite_box_options, BOXLITE, BOX_OPTIONS, GObject)

BoxliteBoxOptions *boxlite_box_options_new (void);

const char *boxlite_box_options_get_rootfs (BoxliteBoxOptions *self);
void boxlite_box_options_set_rootfs (BoxliteBoxOptions *self, const char *rootfs);
const char *boxlite_box_options_get_image (BoxliteBoxOptions *self);
void boxlite_box_options_set_image (BoxliteBoxOptions *self, const char *image);
guint boxlite_box_options_get_cpus (BoxliteBoxOptions *self);
void boxlite_box_options_set_cpus (BoxliteBoxOptions *self, guint cpus);
guint boxlite_box_options_get_memory_mib (BoxliteBoxOptions *self);
void boxlite_box_options_set_memory_mib (BoxliteBoxOptions *self, guint memory_mib);
guint boxlite_box_options_get_disk_size_gb (BoxliteBoxOptions *self);
void boxlite_box_options_set_disk_size_gb (BoxliteBoxOptions *self, guint disk_size_gb);
guint boxlite_box_options_get_max_processes (BoxliteBoxOptions *self);
void boxlite_box_options_set_max_processes (BoxliteBoxOptions *self, guint max_processes);
const char *const *boxlite_box_options_get_env (BoxliteBoxOptions *self);
void boxlite_box_options_set_env (BoxliteBoxOptions *self, const char *const *env);
const char *boxlite_box_options_get_working_dir (BoxliteBoxOptions *self);
void boxlite_box_options_set_working_dir (BoxliteBoxOptions *self, const char *dir);
const char *boxlite_box_options_get_user (BoxliteBoxOptions *self);
void boxlite_box_options_set_user (BoxliteBoxOptions *self, const char *user);
const char *const *boxlite_box_options_get_entrypoint (BoxliteBoxOptions *self);
void boxlite_box_options_set_entrypoint (BoxliteBoxOptions *self, const char *const *entrypoint);
const char *const *boxlite_box_options_get_cmd (BoxliteBoxOptions *self);
void boxlite_box_options_set_cmd (BoxliteBoxOptions *self, const char *const *cmd);
gboolean boxlite_box_options_get_detach (BoxliteBoxOptions *self);
void boxlite_box_options_set_detach (BoxliteBoxOptions *self, gboolean detach);
gboolean boxlite_box_options_get_auto_remove (BoxliteBoxOptions *self);
void boxlite_box_options_set_auto_remove (BoxliteBoxOptions *self, gboolean auto_remove);
gboolean boxlite_box_options_get_fast_start (BoxliteBoxOptions *self);
void boxlite_box_options_set_fast_start (BoxliteBoxOptions *self, gboolean fast_start);
guint boxlite_box_options_get_auto_stop (BoxliteBoxOptions *self);
void boxlite_box_options_set_auto_stop (BoxliteBoxOptions *self, guint seconds);
BoxliteNetworkMode boxlite_box_options_get_network (BoxliteBoxOptions *self);
void boxlite_box_options_set_network (BoxliteBoxOptions *self, BoxliteNetworkMode mode);
const char *const *boxlite_box_options_get_allow_net (BoxliteBoxOptions *self);
void boxlite_box_options_set_allow_net (BoxliteBoxOptions *self, const char *const *rules);
const char *const *boxlite_box_options_get_ports (BoxliteBoxOptions *self);
void boxlite_box_options_set_ports (BoxliteBoxOptions *self, const char *const *ports);
BoxliteAccel boxlite_box_options_get_accel (BoxliteBoxOptions *self);
void boxlite_box_options_set_accel (BoxliteBoxOptions *self, BoxliteAccel accel);
const char *const *boxlite_box_options_get_volumes (BoxliteBoxOptions *self);
void boxlite_box_options_set_volumes (BoxliteBoxOptions *self, const char *const *volumes);
void boxlite_box_options_add_volume (BoxliteBoxOptions *self, const char *host_path,
                                     const char *guest_path, gboolean read_only);

gboolean boxlite_box_options_validate (BoxliteBoxOptions *self, GError **error);

G_END_DECLS

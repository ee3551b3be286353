/* paths.h: where the parts a box is made of are found. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

char *bl_path_qemu (GError **error);
char *bl_path_qemu_img (GError **error);
char *bl_path_kernel (GError **error);
char *bl_path_agent (GError **error);
char *bl_path_shim (GError **error);
char *bl_path_net (GError **error);
char *bl_path_default_image (GError **error);

G_END_DECLS

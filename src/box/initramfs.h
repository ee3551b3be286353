/* initramfs.h: the guest's initramfs: the agent as /init, nothing else. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean bl_initramfs_write (const char *agent_path, const char *dest_path, GError **error);
char *bl_initramfs_ensure (const char *agent_path, const char *cache_dir, GError **error);

G_END_DECLS

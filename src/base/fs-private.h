/* fs-private.h: directories that must belong to us alone. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Makes sure @path is a directory of the effective user that no one else
 * may enter: created with mode 0700 when missing (parents too), its group and
 * other permission bits cleared when set (the repair is logged). A symbolic
 * link in @path's place, or a directory that belongs to another user, is
 * refused with G_IO_ERROR_PERMISSION_DENIED: whoever owns it could read or
 * replace what boxlite keeps there (disks, credentials, control sockets).
 * Returns: %FALSE with @error set when @path cannot be used. */
gboolean bl_private_dir_ensure (const char *path, GError **error);

/* The same for a file that may exist: when it does, it must be a regular
 * file of ours, and group and other bits are cleared. A missing file is
 * fine. */
gboolean bl_private_file_check (const char *path, GError **error);

G_END_DECLS

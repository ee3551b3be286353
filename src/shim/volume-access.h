/* volume-access.h: whether the user QEMU runs as can use a box's host
 * folders, asked of the kernel before QEMU starts. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Checks that @user (NULL: this process's own credentials) may search and
 * read @host, and write it unless @read_only: the access QEMU's 9p server
 * needs on the folder it exports. QEMU opens the folder before it drops to
 * @user, so only the folder itself is checked, not the path to it. The
 * kernel decides (mode bits, ACLs, @user's groups), in a thread that takes
 * @user's credentials for the question and ends with it.
 * Returns: FALSE with @error (G_IO_ERROR) naming the folder, the user and
 * the fix when it may not. */
gboolean bl_volume_access_check (const char *host, gboolean read_only, const char *user,
                                 GError **error);

G_END_DECLS

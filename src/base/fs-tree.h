/* fs-tree.h: removing a directory tree without following symlinks, without
 * leaving its filesystem and without a child process. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Removes @path and, for a directory, everything below it. A symlink is
 * removed, never followed; a directory on another filesystem (a mount
 * point) is left in place with %G_IO_ERROR_BUSY; read-only directories are
 * made writable first. A missing @path is not an error. The removal goes on
 * past a failure and reports the first one, as %G_IO_ERROR naming the path. */
gboolean bl_tree_remove (const char *path, GError **error);

/* The same for @name in the directory open as @dirfd; messages name
 * @name relative to it. */
gboolean bl_tree_remove_at (int dirfd, const char *name, GError **error);

G_END_DECLS

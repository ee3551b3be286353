/* fs-tree.h: removing and measuring a directory tree without following
 * symlinks, without leaving its filesystem and without a child process. */
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

/**
 * BlTreeUsage:
 * @entries: files, directories, symlinks and the rest below and at the path
 * @file_bytes: the sizes of the regular files added up
 * @disk_bytes: the blocks everything takes, in bytes
 */
typedef struct {
    guint64 entries;
    guint64 file_bytes;
    guint64 disk_bytes;
} BlTreeUsage;

/* What the tree at @path holds, walked as bl_tree_remove() walks it (no
 * symlink followed, one filesystem); all zero when @path is missing. */
void bl_tree_usage (const char *path, BlTreeUsage *usage);

G_END_DECLS

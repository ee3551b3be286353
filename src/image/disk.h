/* disk.h: a box's disk: the shared read-only ext4 of a root filesystem and the box's
 * qcow2 overlay over it. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Builds the ext4 @dest from the tree @tree (a temporary file then
 * a rename: @dest exists only when complete). */
gboolean bl_disk_build_ext4 (const char *tree, const char *dest, GCancellable *cancellable,
                             GError **error);

char *bl_disk_base_image (const char *cache_dir, const char *rootfs, GCancellable *cancellable,
                          GError **error);
gboolean bl_disk_create_overlay (const char *base, const char *overlay, guint size_gb,
                                 GCancellable *cancellable, GError **error);

/* Creates the empty qcow2 @dest over the qcow2 @backing (a frozen layer of a
 * box's disk). Only @backing's header is read, so QEMU may hold it open. */
gboolean bl_disk_create_layer (const char *backing, const char *dest, GCancellable *cancellable,
                               GError **error);
/* Puts @image on @backing instead of its own backing file, keeping what
 * @image reads: the clusters in which they differ are copied into @image. */
gboolean bl_disk_rebase (const char *image, const char *backing, GCancellable *cancellable,
                         GError **error);
/* The backing file name written in the qcow2 @image's header, "" for none.
 * Returns: (transfer full): the name, or %NULL with @error set. */
char *bl_disk_backing (const char *image, GError **error);
/* The same, and the disk's size as the guest sees it in *@virtual_size
 * (nullable). */
char *bl_disk_read_header (const char *image, guint64 *virtual_size, GError **error);

/* Copies the qcow2 @overlay with its backing file merged in to the new
 * standalone qcow2 @dest (only allocated clusters are written). Fails when
 * QEMU has the overlay open. */
gboolean bl_disk_flatten (const char *overlay, const char *dest, GCancellable *cancellable,
                          GError **error);
/* Checks that @path is a qcow2 disk that refers to no other file (no backing
 * file, no external data file), as `qemu-img info` reads it.
 * @virtual_size: (out) (optional): its size as the guest sees it. */
gboolean bl_disk_check_standalone (const char *path, guint64 *virtual_size,
                                   GCancellable *cancellable, GError **error);

G_END_DECLS

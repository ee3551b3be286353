/* box-archive.h: the .boxlite archive a box is exported to.
 *
 * A tar archive (pax), compressed with zstd, of exactly three members in
 * this order:
 *
 *   manifest.json  {"format": "boxlite-box", "version": 1,
 *                   "members": [{"name": "box.json", "size": N,
 *                                "sha256": HEX}, {"name": "disk.qcow2", …}]}
 *   box.json       the box's name, options, creation time and image
 *   disk.qcow2     the box's whole disk, a qcow2 with no backing file
 *
 * A reader trusts nothing of it before it has checked it: the manifest
 * comes first and is bounded, every other member must be one the manifest
 * lists, once, as a regular file of the size it gives, whose bytes hash to
 * the sum it gives; nothing may follow. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define BL_BOX_ARCHIVE_FORMAT "boxlite-box"
#define BL_BOX_ARCHIVE_VERSION 1
#define BL_BOX_ARCHIVE_MANIFEST "manifest.json"
#define BL_BOX_ARCHIVE_RECORD "box.json"
#define BL_BOX_ARCHIVE_DISK "disk.qcow2"
/* Bounds of what a reader accepts. */
#define BL_BOX_ARCHIVE_MANIFEST_MAX (64 * 1024)
#define BL_BOX_ARCHIVE_RECORD_MAX (1024 * 1024)
#define BL_BOX_ARCHIVE_DISK_MAX (G_GUINT64_CONSTANT (1) << 40)

/* Writes @dest (a temporary file then a rename) from @record (the bytes of
 * box.json) and the file @disk. */
gboolean bl_box_archive_write (const char *dest, GBytes *record, const char *disk,
                               GCancellable *cancellable, GError **error);

/* Whether @path is a box archive: its first member is a manifest whose
 * format is BL_BOX_ARCHIVE_FORMAT (of any version). Reads only that. */
gboolean bl_box_archive_probe (const char *path);

/* Reads and checks the archive @path: the disk goes to @dest_dir/disk.qcow2
 * (@dest_dir must lack it), the record is returned. Refused with
 * BOXLITE_ERROR_IMAGE when anything disagrees with the manifest or the
 * format, G_IO_ERROR_NO_SPACE when the disk would not fit in @dest_dir. The
 * caller removes @dest_dir on failure.
 * Returns: (transfer full): the bytes of box.json, or NULL with @error set. */
GBytes *bl_box_archive_extract (const char *path, const char *dest_dir, GCancellable *cancellable,
                                GError **error);

G_END_DECLS

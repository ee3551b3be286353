/* qcow2-new.h: an empty qcow2 over a backing file, written directly. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Big-endian fields of QEMU's docs/interop/qcow2.txt. */
#define BL_QCOW2_MAGIC 0x514649fbu
#define BL_QCOW2_BACKING_MAX 1023

/* Creates @path (it must not exist; mode 0600) as an empty qcow2 of
 * @virtual_size bytes (a multiple of 512) whose every read falls through to
 * @backing, a file of format @backing_format ("raw" or "qcow2"). @backing is
 * written as given: a relative name is relative to @path's folder. The file
 * is on disk when this returns TRUE; on failure nothing is left. */
gboolean bl_qcow2_new (const char *path, const char *backing, const char *backing_format,
                       guint64 virtual_size, GError **error);

G_END_DECLS

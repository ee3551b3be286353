/* layer.h: applying one OCI image layer onto a root filesystem directory. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * BlLayerStats:
 * @entries: archive entries read, whiteouts included
 * @bytes: bytes of regular file contents written
 * @whiteouts: whiteout and opaque-directory markers applied
 *
 * What applying one layer did.
 */
typedef struct {
    guint64 entries;
    guint64 bytes;
    guint64 whiteouts;
} BlLayerStats;

struct archive;

/* Sets @error from libarchive's last error on @a: in the system's domain
 * when reading or writing failed there (a full disk), BOXLITE_ERROR_IMAGE
 * when the archive is at fault. Returns FALSE. */
gboolean bl_layer_archive_error (GError **error, struct archive *a);

gboolean bl_layer_apply_fd (int layer_fd, const char *rootfs_dir, BlLayerStats *stats_or_null,
                            GCancellable *cancellable, GError **error);
gboolean bl_layer_apply (const char *layer_path, const char *rootfs_dir,
                         BlLayerStats *stats_or_null, GCancellable *cancellable, GError **error);

G_END_DECLS

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

gboolean bl_layer_apply (const char *layer_path, const char *rootfs_dir,
                         BlLayerStats *stats_or_null, GCancellable *cancellable, GError **error);

G_END_DECLS

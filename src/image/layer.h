/* layer.h: applying one OCI image layer onto a root filesystem directory. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * BlLayerStats:
 * @entries: archive entries read, whiteouts included
 * @bytes: bytes of regular file contents, each file counted at its declared
 *   size or the data written, whichever is more
 * @whiteouts: whiteout and opaque-directory markers applied
 *
 * What applying one layer did.
 */
typedef struct {
    guint64 entries;
    guint64 bytes;
    guint64 whiteouts;
} BlLayerStats;

/**
 * BlLayerLimits:
 * @max_bytes: most bytes of file contents an image may unpack to, its
 *   files' declared sizes counted (a sparse file's too)
 * @max_entries: most archive entries across its layers
 *
 * Bounds on what an image's layers may put on the host's disk: a small
 * compressed layer can expand without limit (a zstd bomb), and a registry
 * or an imported archive is the attacker's to write.
 */
typedef struct {
    guint64 max_bytes;
    guint64 max_entries;
} BlLayerLimits;

#define BL_LAYER_DEFAULT_MAX_BYTES (G_GUINT64_CONSTANT (32) << 30)
#define BL_LAYER_DEFAULT_MAX_ENTRIES G_GUINT64_CONSTANT (1000000)

struct archive;

/* Sets @error from libarchive's last error on @a: in the system's domain
 * when reading or writing failed there (a full disk), BOXLITE_ERROR_IMAGE
 * when the archive is at fault. Returns FALSE. */
gboolean bl_layer_archive_error (GError **error, struct archive *a);

/* Applies a layer of an image whose earlier layers did @totals (added to
 * as this one is applied), failing with BOXLITE_ERROR_IMAGE as soon as the
 * sums exceed @limits. */
gboolean bl_layer_apply_limited (int layer_fd, const char *rootfs_dir, const BlLayerLimits *limits,
                                 BlLayerStats *totals, GCancellable *cancellable, GError **error);
gboolean bl_layer_apply_fd (int layer_fd, const char *rootfs_dir, BlLayerStats *stats_or_null,
                            GCancellable *cancellable, GError **error);
gboolean bl_layer_apply (const char *layer_path, const char *rootfs_dir,
                         BlLayerStats *stats_or_null, GCancellable *cancellable, GError **error);

/**
 * BlCopyOptions:
 * @rename: (nullable): the name the archive's top entry takes in the
 *   destination directory (a "." top gets it put in front), or %NULL to
 *   write entries under their own names
 * @dest_is_file: the destination named exists and is not a directory: a
 *   directory may not be copied onto it
 * @dest_slash: the destination was named with a trailing '/': what is
 *   copied must be a directory
 * @owners: keep the archive's owners (only when running as root)
 * @limits: most bytes of file contents and entries written
 *
 * Where and how bl_copy_extract() writes a copied archive.
 */
typedef struct {
    const char *rename;
    gboolean dest_is_file;
    gboolean dest_slash;
    gboolean owners;
    BlLayerLimits limits;
} BlCopyOptions;

gboolean bl_copy_extract (struct archive *in, int dest_fd, const BlCopyOptions *opts,
                          BlLayerStats *stats_or_null, GCancellable *cancellable, GError **error);

G_END_DECLS

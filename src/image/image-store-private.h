/* image-store-private.h: what the image store's files (image-store.c,
 * image-blob.c, image-gc.c) share. */
#pragma once

#include "image-store.h"
#include "layer.h"

G_BEGIN_DECLS

struct _BlImageStore {
    char *dir;            /* HOME/images */
    char *blobs_dir;      /* HOME/images/blobs */
    char *sha_dir;        /* HOME/images/blobs/sha256 */
    char *rootfs_dir;     /* HOME/images/rootfs */
    char *disks_dir;      /* HOME/images/disks */
    char *index_path;     /* HOME/images/index.json */
    BlLayerLimits limits; /* on what one image may unpack to */
};

/* rootfs/<hex> and disks/<hex>.ext4 of image @id. Returns: (transfer full). */
char *bl_image_store_tree_path (BlImageStore *store, const char *id);
char *bl_image_store_disk_path (BlImageStore *store, const char *id);
/* .lock-<hex>, held while image @id is built. Returns: (transfer full). */
char *bl_image_store_lock_path (BlImageStore *store, const char *id);

/* The index: its lock (an fd for bl_image_store_unlock()), and the entries
 * as they are on disk (call with the lock held). */
int bl_image_store_lock_index (BlImageStore *store, GError **error);
GPtrArray *bl_image_store_load_index (BlImageStore *store, GError **error);
gboolean bl_image_store_save_index (BlImageStore *store, GPtrArray *entries, GError **error);
/* The entry of @entries (borrowed) @text names; *@by_id tells whether it
 * named an image id rather than a reference. */
BlImageEntry *bl_image_store_find_entry (GPtrArray *entries, const char *text,
                                         const char *const *search, gboolean *by_id,
                                         GError **error);
gboolean bl_image_is_hex (const char *text);

/* image-blob.c */
/* The manifest blob @digest, checked and parsed. Returns: (transfer full). */
BlImageManifest *bl_image_store_read_manifest (BlImageStore *store, const char *digest,
                                               GError **error);
/* Opens a regular file, refusing a symlink as its last component. */
int bl_blob_open_regular (const char *path, GError **error);
/* Checks that the open file @fd (read from its start) is @digest, of @size
 * bytes unless @size is G_MAXUINT64, and rewinds it. */
gboolean bl_blob_verify_fd (int fd, const char *path, const char *digest, guint64 size,
                            GCancellable *cancellable, GError **error);

G_END_DECLS

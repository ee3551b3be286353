/* image-store.h: images on one home directory (HOME/images/).
 *
 *   blobs/sha256/<hex>    content-addressed blobs, shared with the registry
 *                         client (registry.h); only verified content lands here
 *   index.json            canonical reference -> manifest digest, image id
 *                         (the config digest), created time, size
 *   rootfs/<hex>/         the image's layers applied, one tree per image id
 *   disks/<hex>.ext4      the read-only disk every box of the image shares
 *
 * index.json is rewritten atomically under an flock on images/index.lock;
 * building one image's tree and disk happens once, under images/.lock-<hex>,
 * however many processes ask at once. Pulls and imports hold images/gc.lock
 * shared while they fill blobs/, prune holds it exclusively, so it never
 * removes a blob that is about to be indexed.
 */
#pragma once

#include <gio/gio.h>

#include "image-config.h"

G_BEGIN_DECLS

typedef struct _BlImageStore BlImageStore;

/**
 * BlImageEntry:
 * @reference: canonical reference ("docker.io/library/alpine:3")
 * @digest: the image manifest's digest
 * @id: the image id: its config's digest
 * @created: when it entered the store, ISO 8601 UTC
 * @size: bytes of file contents in its root filesystem
 *
 * One line of the index.
 */
typedef struct {
    char *reference;
    char *digest;
    char *id;
    char *created;
    guint64 size;
} BlImageEntry;

void bl_image_entry_free (BlImageEntry *entry);
BlImageEntry *bl_image_entry_copy (const BlImageEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlImageEntry, bl_image_entry_free)

/* Opens (creating) HOME/images. Returns: (transfer full), or NULL. */
BlImageStore *bl_image_store_new (const char *home_dir, GError **error);
void bl_image_store_free (BlImageStore *store);
/* Bounds what one image may unpack to: @max_bytes of file contents and
 * @max_entries archive entries over all its layers (0: the default,
 * BL_LAYER_DEFAULT_MAX_*). */
void bl_image_store_set_limits (BlImageStore *store, guint64 max_bytes, guint64 max_entries);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlImageStore, bl_image_store_free)

/* HOME/images/blobs: what bl_registry_pull() takes as its blob directory. */
const char *bl_image_store_get_blobs_dir (BlImageStore *store);
/* Path of the blob @digest (which must be valid). Returns: (transfer full). */
char *bl_image_store_blob_path (BlImageStore *store, const char *digest);

/* Takes images/gc.lock shared (@exclusive FALSE) or exclusive, waiting for
 * a holder until @cancellable (nullable) fires; returns the fd for
 * bl_image_store_unlock(), or -1 with @error set. */
int bl_image_store_lock_gc (BlImageStore *store, gboolean exclusive, GCancellable *cancellable,
                            GError **error);
void bl_image_store_unlock (int fd);

/* Makes the manifest @digest, whose blobs are all in blobs/, the image
 * @reference (canonical): checks the manifest and config, applies every
 * layer after checking its sha256, builds the shared disk, and indexes it
 * (replacing what @reference named before). Nothing is indexed on failure,
 * and no half-built tree or disk is left.
 * Returns: (transfer full): the new index entry, or NULL with @error set. */
BlImageEntry *bl_image_store_commit (BlImageStore *store, const char *reference, const char *digest,
                                     GCancellable *cancellable, GError **error);

/* Returns: (transfer full) (element-type BlImageEntry): the index, newest first. */
GPtrArray *bl_image_store_list (BlImageStore *store, GError **error);

/* Finds the image @text names: a reference (unqualified names are tried on
 * each of @search_registries, then docker.io), an image id ("sha256:<hex>")
 * or an unambiguous prefix of at least 12 hex digits of one.
 * Returns: (transfer full): a copy of the entry, or NULL with @error set to
 * BOXLITE_ERROR_NOT_FOUND, AMBIGUOUS or INVALID_ARGUMENT. */
BlImageEntry *bl_image_store_lookup (BlImageStore *store, const char *text,
                                     const char *const *search_registries, GError **error);

/* Reads and checks the manifest and config of @entry.
 * Returns: %TRUE with both set (transfer full), or %FALSE with @error set. */
gboolean bl_image_store_read (BlImageStore *store, const BlImageEntry *entry,
                              BlImageManifest **manifest, BlImageConfig **config,
                              char **config_json, GError **error);

/* The shared read-only disk of image @id, rebuilt from its blobs if it was
 * deleted. Returns: (transfer full): its path, or NULL with @error set. */
char *bl_image_store_disk (BlImageStore *store, const char *id, const char *digest,
                           GCancellable *cancellable, GError **error);

/**
 * BlImageUsers:
 * @ids: image ids that boxes use (their disks are kept)
 * @digests: manifest digests that boxes use (their blobs are kept)
 *
 * What the boxes of a home directory hold on to; sets of strings.
 */
typedef struct {
    GHashTable *ids;
    GHashTable *digests;
} BlImageUsers;

/* Removes the index entries @text names (a reference removes that entry,
 * an id all entries of the image), then whatever of them nothing else
 * uses. Refused with BOXLITE_ERROR_INVALID_STATE when a box uses the image,
 * unless @force, which removes the entries but keeps what the boxes need.
 * @cancellable (nullable) ends the wait for the store's lock. */
gboolean bl_image_store_remove (BlImageStore *store, const char *text,
                                const char *const *search_registries, const BlImageUsers *users,
                                gboolean force, GCancellable *cancellable, GError **error);

/* Deletes blobs no indexed image or box uses, and the trees and disks of
 * images no entry or box uses. @reclaimed: (out) (optional): bytes freed.
 * @cancellable (nullable) ends the wait for the store's lock.
 * Returns: the number of files and trees deleted, or -1 with @error set. */
gint bl_image_store_prune (BlImageStore *store, const BlImageUsers *users, guint64 *reclaimed,
                           GCancellable *cancellable, GError **error);

/* image-import.c: an OCI image layout directory or a `docker save` tarball
 * at @path, as @reference (canonical; NULL: the name the archive gives).
 * Every blob is copied into the store with its digest checked.
 * Returns: (transfer full): the new entry, or NULL with @error set. */
BlImageEntry *bl_image_store_import (BlImageStore *store, const char *path, const char *reference,
                                     GCancellable *cancellable, GError **error);

/* image-store.c, for image-import.c: a blob being written into the store. */
typedef struct _BlBlobWriter BlBlobWriter;
BlBlobWriter *bl_blob_writer_new (BlImageStore *store, GError **error);
gboolean bl_blob_writer_write (BlBlobWriter *writer, const void *data, gsize len, GError **error);
/* Checks the content against @expected_digest (nullable: any) and
 * @expected_size (G_MAXUINT64: any), then moves it to blobs/sha256/<hex>.
 * @added: (out): FALSE when that blob was there already.
 * Returns: (transfer full): its digest, or NULL with @error set. Frees
 * @writer either way. */
char *bl_blob_writer_finish (BlBlobWriter *writer, const char *expected_digest,
                             guint64 expected_size, gboolean *added, GError **error);
void bl_blob_writer_abort (BlBlobWriter *writer);
/* Copies the file @path into the store, checking it is @digest of @size. */
gboolean bl_image_store_add_blob_file (BlImageStore *store, const char *path, const char *digest,
                                       guint64 size, gboolean *added, GCancellable *cancellable,
                                       GError **error);

G_END_DECLS

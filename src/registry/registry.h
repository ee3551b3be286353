/* registry.h: fetching images over the OCI distribution protocol.
 *
 * The registry client's whole job is to move verified blobs from a registry
 * into a blob directory laid out as an OCI image layout's "blobs/" folder
 * (BLOBS/sha256/<hex>). It never unpacks anything: the image store
 * (image-store.h) turns a manifest digest found there into an image.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "image-ref.h"

G_BEGIN_DECLS

typedef enum {
    BL_REGISTRY_TRANSPORT_DEFAULT, /* https, or http for a loopback registry */
    BL_REGISTRY_TRANSPORT_HTTPS,
    BL_REGISTRY_TRANSPORT_HTTP,
} BlRegistryTransport;

typedef enum {
    BL_REGISTRY_AUTH_ANONYMOUS, /* bearer tokens fetched anonymously if challenged */
    BL_REGISTRY_AUTH_BASIC,
    BL_REGISTRY_AUTH_BEARER,
} BlRegistryAuthKind;

/**
 * BlRegistryEntry:
 * @host: normalised registry ("quay.io", "localhost:5000"), as
 *   bl_image_ref_normalize_registry() gives it
 * @transport: how to reach it
 * @skip_verify: accept any TLS certificate
 * @search: try this registry for unqualified names (in list order, before
 *   docker.io)
 * @auth: which credentials
 * @username: (nullable): for basic auth, and for token requests when set
 * @password: (nullable): secret; never logged or shown
 * @token: (nullable): for bearer auth; secret
 */
typedef struct {
    char *host;
    BlRegistryTransport transport;
    gboolean skip_verify;
    gboolean search;
    BlRegistryAuthKind auth;
    char *username;
    char *password;
    char *token;
    /* Hosts besides the registry's own that may receive the credentials as
     * its token service (the realm of a Bearer challenge), or NULL. */
    GStrv token_hosts;
    /* Blob redirects may lead to loopback, private or host addresses (a
     * registry on the caller's own network); loopback registries always. */
    gboolean private_redirects;
} BlRegistryEntry;

void bl_registry_entry_free (BlRegistryEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlRegistryEntry, bl_registry_entry_free)

/* Parses one entry from its JSON text (the form BoxliteOptions keeps and the
 * config file holds): {"host": "...", "transport": "https"|"http",
 * "skip_verify": bool, "search": bool, "auth": {"kind": "anonymous"} |
 * {"kind": "basic", "username": "...", "password": "..."} |
 * {"kind": "bearer", "token": "..."}}. A bare host name ("quay.io") is also
 * accepted and means {"host": it, "search": true}.
 * Returns: (transfer full): the entry, or NULL with @error set to
 * BOXLITE_ERROR_INVALID_ARGUMENT; the message never contains a secret. */
BlRegistryEntry *bl_registry_entry_parse (const char *text, GError **error);

/* The entries a runtime uses: those parsed from @texts (BoxliteOptions'
 * image-registries, in order), then those of @home_dir/registries.json, a
 * JSON array whose elements are entry objects or bare host strings (a
 * missing file is no error). For a host named twice the first entry wins.
 * Returns: (transfer full) (element-type BlRegistryEntry): the entries,
 * or NULL with @error set naming the file or entry that is invalid. */
GPtrArray *bl_registry_entries_load (const char *home_dir, const char *const *texts,
                                     GError **error);

/* Reports bytes of one blob as they arrive; called on the thread that runs
 * bl_registry_pull(). @total is the descriptor's size. */
typedef void (*BlRegistryProgressFunc) (const char *digest, guint64 done, guint64 total,
                                        gpointer user_data);

/**
 * BlRegistryPull:
 * @reference: the canonical reference actually pulled ("docker.io/library/alpine:latest")
 * @manifest_digest: digest of the image manifest (for linux/amd64 when the
 *   reference named an index); that manifest, its config and every layer are
 *   present and verified under the blob directory when the pull returns
 * @index_digest: (nullable): digest of the index the manifest was picked
 *   from, also stored, or NULL
 */
typedef struct {
    char *reference;
    char *manifest_digest;
    char *index_digest;
} BlRegistryPull;

void bl_registry_pull_free (BlRegistryPull *pull);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlRegistryPull, bl_registry_pull_free)

/* Pulls @ref (qualified or not; unqualified names try the search entries of
 * @entries in order, then docker.io) into @blobs_dir: each blob is written
 * to a temporary file in @blobs_dir, its sha256 and size checked against its
 * descriptor, and only then renamed to @blobs_dir/sha256/<hex>. Blobs already
 * there are not fetched again. Safe to run from several processes at once on
 * one @blobs_dir. Blocking; run it in a thread.
 * Errors: BOXLITE_ERROR_NOT_FOUND (manifest unknown to every registry tried),
 * BOXLITE_ERROR_IMAGE (unreachable registry, auth refused, bad manifest,
 * digest mismatch, no linux/amd64 entry), G_IO_ERROR_CANCELLED. */
BlRegistryPull *bl_registry_pull (const BlImageRef *ref, BlRegistryEntry *const *entries,
                                  guint n_entries, const char *blobs_dir,
                                  BlRegistryProgressFunc progress, gpointer progress_data,
                                  GCancellable *cancellable, GError **error);

/* TRUE when @entry, one element of an image index's "manifests", is an
 * image (not an attestation or a nested index) for linux/amd64: the one rule
 * for both pulls and imports. */
gboolean bl_registry_index_entry_is_amd64 (JsonObject *entry);

G_END_DECLS

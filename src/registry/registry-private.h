/* registry-private.h: the registry client's parsers and helpers, shared by
 * its files, its tests and its fuzz target. Everything parsed here comes
 * from a registry and is hostile: every parser bounds what it reads and
 * names what it refused without quoting secrets.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "registry.h"

G_BEGIN_DECLS

/* Longest manifest or index accepted, in bytes. */
#define BL_REGISTRY_MANIFEST_MAX (4 * 1024 * 1024)
/* Longest WWW-Authenticate header looked at, in bytes. */
#define BL_REGISTRY_CHALLENGE_MAX 4096
/* Longest token response body, and token, in bytes. */
#define BL_REGISTRY_TOKEN_BODY_MAX (64 * 1024)
#define BL_REGISTRY_TOKEN_MAX (16 * 1024)
/* Most layers in one manifest, and entries in one index. */
#define BL_REGISTRY_LAYERS_MAX 512
#define BL_REGISTRY_INDEX_MAX 1024
/* Blobs fetched at once by one pull. */
#define BL_REGISTRY_PARALLEL 3

#define BL_MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define BL_MEDIA_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define BL_MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define BL_MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

typedef enum {
    BL_CHALLENGE_BASIC,
    BL_CHALLENGE_BEARER,
} BlChallengeScheme;

/* A parsed WWW-Authenticate challenge; strings owned. @realm is an
 * absolute http(s) URL for Bearer, NULL or free text for Basic. */
typedef struct {
    BlChallengeScheme scheme;
    char *realm;
    char *service;
    char *scope;
} BlChallenge;

void bl_challenge_clear (BlChallenge *challenge);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (BlChallenge, bl_challenge_clear)

/* Parses the first challenge of a WWW-Authenticate value (@len bytes of
 * @text, no terminator needed): scheme Basic or Bearer, then
 * name=token / name="quoted" parameters. At most
 * BL_REGISTRY_CHALLENGE_MAX bytes; control bytes, unterminated quotes and
 * a Bearer realm that is not an http(s) URL are refused.
 * Returns: TRUE and fills @out, or FALSE with BOXLITE_ERROR_IMAGE. */
gboolean bl_challenge_parse (const char *text, gsize len, BlChallenge *out, GError **error);

/* Reads {"token": ...} or {"access_token": ...} (@len bytes of @body).
 * Returns: (transfer full): the token (visible ASCII, at most
 * BL_REGISTRY_TOKEN_MAX bytes), or NULL with @error set. */
char *bl_token_response_parse (const char *body, gsize len, GError **error);

/* A content descriptor: digest "sha256:<64 hex>", size in bytes. */
typedef struct {
    char *media_type;
    char *digest;
    gint64 size;
} BlDescriptor;

void bl_descriptor_clear (BlDescriptor *desc);

/* A parsed image manifest: config and layers, in order. */
typedef struct {
    BlDescriptor config;
    GArray *layers; /* of BlDescriptor */
} BlManifest;

void bl_manifest_free (BlManifest *manifest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlManifest, bl_manifest_free)

/* What a manifest body is, from its own mediaType (or, when absent, the
 * Content-Type it came with, @content_type may be NULL). */
typedef enum {
    BL_MANIFEST_KIND_IMAGE,
    BL_MANIFEST_KIND_INDEX,
} BlManifestKind;

/* Classifies @len bytes of @body.
 * Returns: TRUE and sets @kind, or FALSE with BOXLITE_ERROR_IMAGE for
 * anything but an OCI or Docker v2 manifest, index or list. */
gboolean bl_manifest_kind (const char *body, gsize len, const char *content_type,
                           BlManifestKind *kind, GError **error);

/* Parses an image manifest (OCI or Docker schema 2).
 * Returns: (transfer full): the manifest, or NULL with BOXLITE_ERROR_IMAGE. */
BlManifest *bl_manifest_parse (const char *body, gsize len, GError **error);

/* Picks the linux/amd64 image manifest of an index or manifest list,
 * skipping attestation and unknown/unknown entries.
 * Returns: TRUE and fills @out, or FALSE with BOXLITE_ERROR_IMAGE. */
gboolean bl_index_pick (const char *body, gsize len, BlDescriptor *out, GError **error);

/* registry-remote.c: one registry and repository being pulled from.
 * Shared by the blob threads: only @token changes, under @lock. */
typedef struct {
    char *host;
    char *base; /* "https://host" (registry-1.docker.io for docker.io) */
    char *repository;
    gboolean plain_http;
    gboolean skip_verify;
    BlRegistryAuthKind auth;
    const char *username; /* owned by the entry */
    const char *password;
    const char *const *token_hosts; /* owned by the entry, or NULL */
    gboolean private_redirects;     /* redirects may lead to private addresses */
    GMutex lock;
    char *token;
    GCancellable *cancellable;
} BlRemote;

/* Returns: (transfer full): the remote for @ref's registry and repository,
 * configured by @entry (nullable; borrowed for the remote's lifetime). */
BlRemote *bl_remote_new (const BlImageRef *ref, const BlRegistryEntry *entry,
                         GCancellable *cancellable);
void bl_remote_free (BlRemote *remote);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlRemote, bl_remote_free)

/* A session for one thread's requests. (transfer full) */
SoupSession *bl_remote_session_new (void);

/* GETs @url, with our credentials when @with_auth (only for the registry
 * itself, never a host it redirects to), answering one challenge.
 * @range_from > 0 asks for the bytes from there on. Redirects are not
 * followed. Errors: "cannot reach registry HOST: why", refused access
 * (BOXLITE_ERROR_NOT_FOUND when anonymous: registries answer so for
 * repositories that do not exist), G_IO_ERROR_CANCELLED.
 * Returns: (transfer full): the body with *@out_msg set (any status but
 * 401), or NULL with @error set. */
GInputStream *bl_remote_get (BlRemote *remote, SoupSession *session, const char *url,
                             const char *accept, goffset range_from, gboolean with_auth,
                             SoupMessage **out_msg, GError **error);

/* Whether a blob redirect may go to @target: not to a loopback, private
 * or host address written as such, unless the remote allows private
 * redirects (names are checked when their connection is made). Returns:
 * FALSE with BOXLITE_ERROR_IMAGE when not. */
gboolean bl_remote_redirect_allowed (BlRemote *remote, GUri *target, GError **error);

/* Reads @stream to its end, at most @max bytes (@what names it in errors).
 * Returns: (transfer full): the bytes, or NULL with @error set. */
GBytes *bl_remote_read (BlRemote *remote, GInputStream *stream, gsize max, const char *what,
                        GError **error);

/* GET /v2/: checks the registry speaks the API and gets a token if needed. */
gboolean bl_remote_probe (BlRemote *remote, SoupSession *session, GError **error);

/* registry-blobs.c */
gboolean bl_blobs_prepare (const char *blobs_dir, GError **error);
/* Stores @body, already verified as @digest, unless it is there. */
gboolean bl_blobs_store (const char *blobs_dir, const char *digest, GBytes *body, GError **error);
/* Fetches each of @blobs (BlDescriptor) not yet present, verified, with up
 * to BL_REGISTRY_PARALLEL threads; @progress is called on this thread. */
gboolean bl_blobs_fetch (BlRemote *remote, const char *blobs_dir, GArray *blobs,
                         BlRegistryProgressFunc progress, gpointer progress_data, GError **error);
/* Removes what interrupted pulls left that nobody is working on. */
void bl_blobs_clean (const char *blobs_dir);

/* Lowercase hex sha256 of @len bytes of @data. (transfer full) */
char *bl_sha256_hex (const void *data, gsize len);

G_END_DECLS

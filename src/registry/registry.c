/* registry.c: pulling an image over the OCI distribution protocol.
 *
 * One pull: probe GET /v2/ (which tells whether a token is needed), fetch
 * the manifest by tag or digest, descend from an index to its linux/amd64
 * manifest, then fetch the config and layers, BL_REGISTRY_PARALLEL at a
 * time (registry-blobs.c). Unqualified names are tried on each search
 * registry, then on docker.io, until one has the image. Manifests are
 * read with a bound and checked against the digest that named them, or
 * the registry's Docker-Content-Digest, before they are stored.
 */
#define G_LOG_DOMAIN "boxlite-registry"

#include "registry-private.h"

#include <string.h>

#include <boxlite/boxlite-error.h>

static const char manifest_accept[] = BL_MEDIA_OCI_INDEX
    ", " BL_MEDIA_OCI_MANIFEST ", " BL_MEDIA_DOCKER_LIST ", " BL_MEDIA_DOCKER_MANIFEST;

/* Fetches manifest @reference (tag or digest), checking it against
 * @expect_digest (and @expect_size >= 0) when given, and against the
 * registry's Docker-Content-Digest otherwise.
 * Returns: (transfer full): its bytes with *@digest and *@content_type set. */
static GBytes *
fetch_manifest (BlRemote *remote, SoupSession *session, const char *image, const char *reference,
                const char *expect_digest, gint64 expect_size, char **digest, char **content_type,
                GError **error)
{
    g_autofree char *url =
        g_strdup_printf ("%s/v2/%s/manifests/%s", remote->base, remote->repository, reference);
    g_autoptr (SoupMessage) msg = NULL;
    g_autoptr (GError) local = NULL;
    g_autoptr (GInputStream) stream =
        bl_remote_get (remote, session, url, manifest_accept, 0, TRUE, &msg, &local);
    g_autoptr (GBytes) body = NULL;
    g_autofree char *hex = NULL;
    g_autofree char *actual = NULL;
    SoupMessageHeaders *headers;
    const char *header_digest;
    goffset length;

    if (!stream && g_error_matches (local, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND,
                     "image %s not found in %s (or it needs credentials)", image, remote->host);
        return NULL;
    }
    if (!stream) {
        g_propagate_error (error, g_steal_pointer (&local));
        return NULL;
    }
    headers = soup_message_get_response_headers (msg);
    if (soup_message_get_status (msg) == SOUP_STATUS_NOT_FOUND) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND, "image %s not found in %s",
                     image, remote->host);
        return NULL;
    }
    if (soup_message_get_status (msg) != SOUP_STATUS_OK) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "registry %s answered HTTP %u for the manifest of %s", remote->host,
                     soup_message_get_status (msg), image);
        return NULL;
    }
    length = soup_message_headers_get_content_length (headers);
    if (length > BL_REGISTRY_MANIFEST_MAX || (expect_size >= 0 && length > expect_size)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "the manifest of %s from %s is too large (%" G_GOFFSET_FORMAT " bytes)", image,
                     remote->host, length);
        return NULL;
    }
    body = bl_remote_read (remote, stream,
                           expect_size >= 0 ? MIN ((gsize) expect_size, BL_REGISTRY_MANIFEST_MAX)
                                            : BL_REGISTRY_MANIFEST_MAX,
                           "the manifest", error);
    if (!body)
        return NULL;
    hex = bl_sha256_hex (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
    actual = g_strconcat ("sha256:", hex, NULL);
    header_digest = soup_message_headers_get_one (headers, "Docker-Content-Digest");
    if (!expect_digest && header_digest && bl_image_ref_is_sha256 (header_digest))
        expect_digest = header_digest;
    if ((expect_digest && strcmp (expect_digest, actual) != 0) ||
        (expect_size >= 0 && (gsize) expect_size != g_bytes_get_size (body))) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "manifest %s from %s does not match its digest",
                     expect_digest ? expect_digest : actual, remote->host);
        return NULL;
    }
    *digest = g_steal_pointer (&actual);
    *content_type = g_strdup (soup_message_headers_get_content_type (headers, NULL));
    return g_steal_pointer (&body);
}

/* The image behind @ref on its registry: manifest (and index) stored,
 * config and layer descriptors returned in @blobs. */
static BlRegistryPull *
pull_manifest (BlRemote *remote, SoupSession *session, const BlImageRef *ref, const char *blobs_dir,
               GArray *blobs, GError **error)
{
    g_autoptr (BlRegistryPull) pull = g_new0 (BlRegistryPull, 1);
    g_autofree char *content_type = NULL;
    g_autofree char *digest = NULL;
    g_autoptr (GBytes) body = NULL;
    g_autoptr (BlManifest) manifest = NULL;
    BlManifestKind kind;

    pull->reference = bl_image_ref_to_string (ref);
    if (ref->digest && !bl_image_ref_is_sha256 (ref->digest)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "image %s: only sha256 digests are supported", pull->reference);
        return NULL;
    }
    body = fetch_manifest (remote, session, pull->reference, ref->digest ? ref->digest : ref->tag,
                           ref->digest, -1, &digest, &content_type, error);
    if (!body || !bl_manifest_kind (g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                                    content_type, &kind, error))
        return NULL;
    if (kind == BL_MANIFEST_KIND_INDEX) {
        BlDescriptor chosen = { 0 };
        gboolean ok = bl_index_pick (g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                                     &chosen, error) &&
                      bl_blobs_store (blobs_dir, digest, body, error);

        pull->index_digest = g_steal_pointer (&digest);
        g_clear_pointer (&body, g_bytes_unref);
        g_clear_pointer (&content_type, g_free);
        if (ok)
            body = fetch_manifest (remote, session, pull->reference, chosen.digest, chosen.digest,
                                   chosen.size, &digest, &content_type, error);
        bl_descriptor_clear (&chosen);
        if (!body || !bl_manifest_kind (g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                                        content_type, &kind, error))
            return NULL;
        if (kind != BL_MANIFEST_KIND_IMAGE) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "image %s: the index names another index, not an image", pull->reference);
            return NULL;
        }
    }
    manifest = bl_manifest_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), error);
    if (!manifest) {
        g_prefix_error (error, "image %s from %s: ", pull->reference, remote->host);
        return NULL;
    }
    if (!bl_blobs_store (blobs_dir, digest, body, error))
        return NULL;
    pull->manifest_digest = g_steal_pointer (&digest);
    g_array_append_val (blobs, manifest->config);
    memset (&manifest->config, 0, sizeof manifest->config);
    for (guint i = 0; i < manifest->layers->len; i++) {
        BlDescriptor *layer = &g_array_index (manifest->layers, BlDescriptor, i);
        BlDescriptor copy = { g_strdup (layer->media_type), g_strdup (layer->digest), layer->size };

        g_array_append_val (blobs, copy);
    }
    return g_steal_pointer (&pull);
}

static void
forward_cancel (GCancellable *outer, GCancellable *inner)
{
    g_cancellable_cancel (inner);
}

static BlRegistryPull *
pull_from (const BlImageRef *ref, const BlRegistryEntry *entry, const char *blobs_dir,
           BlRegistryProgressFunc progress, gpointer progress_data, GCancellable *cancellable,
           GError **error)
{
    g_autoptr (BlRemote) remote = bl_remote_new (ref, entry, cancellable);
    g_autoptr (SoupSession) session = bl_remote_session_new ();
    g_autoptr (GArray) blobs = g_array_new (FALSE, TRUE, sizeof (BlDescriptor));
    g_autoptr (BlRegistryPull) pull = NULL;

    g_array_set_clear_func (blobs, (GDestroyNotify) bl_descriptor_clear);
    g_debug ("pulling %s/%s from %s", ref->registry, ref->repository, remote->base);
    if (!bl_remote_probe (remote, session, error))
        return NULL;
    pull = pull_manifest (remote, session, ref, blobs_dir, blobs, error);
    if (!pull || !bl_blobs_fetch (remote, blobs_dir, blobs, progress, progress_data, error))
        return NULL;
    return g_steal_pointer (&pull);
}

/* Pulls @ref from its registry with a cancellable of the pull's own, so a
 * failing blob thread can stop the others without touching the caller's. */
static BlRegistryPull *
pull_one (const BlImageRef *ref, const BlRegistryEntry *entry, const char *blobs_dir,
          BlRegistryProgressFunc progress, gpointer progress_data, GCancellable *cancellable,
          GError **error)
{
    g_autoptr (GCancellable) own = g_cancellable_new ();
    gulong handler = 0;
    BlRegistryPull *pull;

    if (cancellable)
        handler = g_cancellable_connect (cancellable, G_CALLBACK (forward_cancel),
                                         g_object_ref (own), g_object_unref);
    pull = pull_from (ref, entry, blobs_dir, progress, progress_data, own, error);
    if (cancellable)
        g_cancellable_disconnect (cancellable, handler);
    return pull;
}

static const BlRegistryEntry *
entry_for (BlRegistryEntry *const *entries, guint n_entries, const char *host)
{
    for (guint i = 0; i < n_entries; i++)
        if (strcmp (entries[i]->host, host) == 0)
            return entries[i];
    return NULL;
}

void
bl_registry_pull_free (BlRegistryPull *pull)
{
    if (!pull)
        return;
    g_free (pull->reference);
    g_free (pull->manifest_digest);
    g_free (pull->index_digest);
    g_free (pull);
}

BlRegistryPull *
bl_registry_pull (const BlImageRef *ref, BlRegistryEntry *const *entries, guint n_entries,
                  const char *blobs_dir, BlRegistryProgressFunc progress, gpointer progress_data,
                  GCancellable *cancellable, GError **error)
{
    g_autoptr (GPtrArray) hosts = g_ptr_array_new_with_free_func (g_free);
    g_autofree char *image = NULL;
    g_autofree char *tried = NULL;
    BlRegistryPull *pull = NULL;

    if (!bl_blobs_prepare (blobs_dir, error))
        return NULL;
    if (ref->qualified) {
        pull = pull_one (ref, entry_for (entries, n_entries, ref->registry), blobs_dir, progress,
                         progress_data, cancellable, error);
        if (pull)
            bl_blobs_clean (blobs_dir);
        return pull;
    }
    for (guint i = 0; i < n_entries; i++)
        if (entries[i]->search)
            g_ptr_array_add (hosts, g_strdup (entries[i]->host));
    g_ptr_array_add (hosts, g_strdup (BL_IMAGE_REF_DEFAULT_REGISTRY));
    for (guint i = 0; i < hosts->len; i++) {
        const char *host = g_ptr_array_index (hosts, i);
        g_autoptr (BlImageRef) candidate = bl_image_ref_with_registry (ref, host);
        g_autoptr (GError) local = NULL;

        /* NULL: the name grows too long on that registry; not there, then. */
        if (!candidate)
            continue;
        pull = pull_one (candidate, entry_for (entries, n_entries, host), blobs_dir, progress,
                         progress_data, cancellable, &local);
        if (pull) {
            bl_blobs_clean (blobs_dir);
            return pull;
        }
        if (!g_error_matches (local, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND)) {
            g_propagate_error (error, g_steal_pointer (&local));
            return NULL;
        }
    }
    g_ptr_array_add (hosts, NULL);
    tried = g_strjoinv (", ", (char **) hosts->pdata);
    image = bl_image_ref_to_string (ref);
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND, "image %s not found in %s", image,
                 tried);
    return NULL;
}

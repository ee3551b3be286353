/* registry-manifest.c: image manifests and indexes as registries send them.
 *
 * OCI image manifests and indexes, and their Docker schema 2 equivalents
 * (manifest, manifest list), are read from bodies of at most
 * BL_REGISTRY_MANIFEST_MAX bytes. Only sha256 digests are accepted, sizes
 * must be non-negative integers, and an index yields only its linux/amd64
 * image: attestations and unknown platforms are passed over.
 */
#define G_LOG_DOMAIN "boxlite-registry"

#include "registry-private.h"

#include <string.h>

#include <boxlite/boxlite-error.h>
#include "json-file.h"

/* Largest blob size a descriptor may state, in bytes (1 TiB). */
#define BLOB_SIZE_MAX (G_GINT64_CONSTANT (1) << 40)
#define MEDIA_TYPE_MAX 255

static gboolean
manifest_fail (GError **error, const char *why)
{
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "invalid image manifest: %s", why);
    return FALSE;
}

char *
bl_sha256_hex (const void *data, gsize len)
{
    return g_compute_checksum_for_data (G_CHECKSUM_SHA256, data, len);
}

void
bl_descriptor_clear (BlDescriptor *desc)
{
    g_clear_pointer (&desc->media_type, g_free);
    g_clear_pointer (&desc->digest, g_free);
    desc->size = 0;
}

void
bl_manifest_free (BlManifest *manifest)
{
    if (!manifest)
        return;
    bl_descriptor_clear (&manifest->config);
    if (manifest->layers)
        g_array_unref (manifest->layers);
    g_free (manifest);
}

/* Parses @len bytes of @body as a JSON object. */
static JsonObject *
parse_object (JsonParser *parser, const char *body, gsize len, GError **error)
{
    JsonNode *root;

    if (len > BL_REGISTRY_MANIFEST_MAX) {
        manifest_fail (error, "larger than 4 MiB");
        return NULL;
    }
    if (len == 0 || !bl_json_load (parser, body, len, NULL)) {
        manifest_fail (error, "not valid JSON");
        return NULL;
    }
    root = json_parser_get_root (parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
        manifest_fail (error, "not a JSON object");
        return NULL;
    }
    return json_node_get_object (root);
}

static gboolean
parse_descriptor (JsonNode *node, BlDescriptor *out, GError **error)
{
    JsonObject *object = node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
    JsonNode *size = object ? json_object_get_member (object, "size") : NULL;
    const char *media_type = object ? bl_json_member_string (object, "mediaType") : NULL;
    const char *digest = object ? bl_json_member_string (object, "digest") : NULL;

    if (!object)
        return manifest_fail (error, "a descriptor is not an object");
    if (!bl_image_ref_is_sha256 (digest))
        return manifest_fail (error, "a descriptor's digest is not sha256:<64 hex digits>");
    if (!size || !JSON_NODE_HOLDS_VALUE (size) || json_node_get_value_type (size) != G_TYPE_INT64 ||
        json_node_get_int (size) < 0 || json_node_get_int (size) > BLOB_SIZE_MAX)
        return manifest_fail (error, "a descriptor's size is not a valid byte count");
    if (media_type && strlen (media_type) > MEDIA_TYPE_MAX)
        return manifest_fail (error, "a descriptor's media type is too long");
    out->media_type = g_strdup (media_type);
    out->digest = g_strdup (digest);
    out->size = json_node_get_int (size);
    return TRUE;
}

static gboolean
kind_of_media_type (const char *media_type, BlManifestKind *kind)
{
    if (!media_type)
        return FALSE;
    if (strcmp (media_type, BL_MEDIA_OCI_MANIFEST) == 0 ||
        strcmp (media_type, BL_MEDIA_DOCKER_MANIFEST) == 0) {
        *kind = BL_MANIFEST_KIND_IMAGE;
        return TRUE;
    }
    if (strcmp (media_type, BL_MEDIA_OCI_INDEX) == 0 ||
        strcmp (media_type, BL_MEDIA_DOCKER_LIST) == 0) {
        *kind = BL_MANIFEST_KIND_INDEX;
        return TRUE;
    }
    return FALSE;
}

gboolean
bl_manifest_kind (const char *body, gsize len, const char *content_type, BlManifestKind *kind,
                  GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autofree char *bare_type = NULL;
    JsonObject *object = parse_object (parser, body, len, error);
    const char *media_type;

    if (!object)
        return FALSE;
    media_type = bl_json_member_string (object, "mediaType");
    if (!media_type && content_type)
        media_type = bare_type = g_strndup (content_type, strcspn (content_type, "; \t"));
    if (kind_of_media_type (media_type, kind))
        return TRUE;
    /* OCI manifests may omit mediaType: recognise them by shape. */
    if (!media_type && bl_json_member_array (object, "manifests")) {
        *kind = BL_MANIFEST_KIND_INDEX;
        return TRUE;
    }
    if (!media_type && bl_json_member_object (object, "config")) {
        *kind = BL_MANIFEST_KIND_IMAGE;
        return TRUE;
    }
    return manifest_fail (error, "not an OCI or Docker schema 2 manifest or index");
}

BlManifest *
bl_manifest_parse (const char *body, gsize len, GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (BlManifest) manifest = g_new0 (BlManifest, 1);
    JsonObject *object = parse_object (parser, body, len, error);
    JsonNode *version;
    JsonArray *layers;

    if (!object)
        return NULL;
    version = json_object_get_member (object, "schemaVersion");
    if (!version || !JSON_NODE_HOLDS_VALUE (version) ||
        json_node_get_value_type (version) != G_TYPE_INT64 || json_node_get_int (version) != 2) {
        manifest_fail (error, "schemaVersion is not 2");
        return NULL;
    }
    if (!parse_descriptor (json_object_get_member (object, "config"), &manifest->config, error))
        return NULL;
    layers = bl_json_member_array (object, "layers");
    if (!layers || json_array_get_length (layers) > BL_REGISTRY_LAYERS_MAX) {
        manifest_fail (error, "no layer list, or more than 512 layers");
        return NULL;
    }
    manifest->layers = g_array_new (FALSE, TRUE, sizeof (BlDescriptor));
    g_array_set_clear_func (manifest->layers, (GDestroyNotify) bl_descriptor_clear);
    for (guint i = 0; i < json_array_get_length (layers); i++) {
        BlDescriptor layer = { 0 };

        if (!parse_descriptor (json_array_get_element (layers, i), &layer, error)) {
            bl_descriptor_clear (&layer);
            return NULL;
        }
        g_array_append_val (manifest->layers, layer);
    }
    return g_steal_pointer (&manifest);
}

gboolean
bl_registry_index_entry_is_amd64 (JsonObject *entry)
{
    JsonObject *platform = bl_json_member_object (entry, "platform");
    JsonObject *annotations = bl_json_member_object (entry, "annotations");
    const char *os = platform ? bl_json_member_string (platform, "os") : NULL;
    const char *arch = platform ? bl_json_member_string (platform, "architecture") : NULL;
    const char *media_type = bl_json_member_string (entry, "mediaType");
    BlManifestKind kind;

    if (annotations && json_object_has_member (annotations, "vnd.docker.reference.type"))
        return FALSE;
    if (media_type && (!kind_of_media_type (media_type, &kind) || kind != BL_MANIFEST_KIND_IMAGE))
        return FALSE;
    return os && arch && strcmp (os, "linux") == 0 && strcmp (arch, "amd64") == 0;
}

gboolean
bl_index_pick (const char *body, gsize len, BlDescriptor *out, GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonObject *object = parse_object (parser, body, len, error);
    JsonArray *manifests;

    memset (out, 0, sizeof *out);
    if (!object)
        return FALSE;
    manifests = bl_json_member_array (object, "manifests");
    if (!manifests || json_array_get_length (manifests) > BL_REGISTRY_INDEX_MAX)
        return manifest_fail (error, "the index has no manifest list, or more than 1024 entries");
    for (guint i = 0; i < json_array_get_length (manifests); i++) {
        JsonNode *node = json_array_get_element (manifests, i);

        if (!JSON_NODE_HOLDS_OBJECT (node))
            return manifest_fail (error, "an index entry is not an object");
        if (bl_registry_index_entry_is_amd64 (json_node_get_object (node)))
            return parse_descriptor (node, out, error);
    }
    g_set_error_literal (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "the image has no linux/amd64 variant");
    return FALSE;
}

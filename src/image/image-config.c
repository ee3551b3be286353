/* image-config.c: an image's manifest and config, parsed with bounds. */
#define G_LOG_DOMAIN "boxlite-image"

#include "image-config.h"

#include <boxlite/boxlite-error.h>
#include "image-ref.h"
#include "json-file.h"

/* Longest string field kept from a config (an Env entry, a path...). */
#define STRING_MAX (64 * 1024)

const char *
bl_image_digest_hex (const char *digest)
{
    return digest + strlen ("sha256:");
}

static JsonObject *
parse_object (const char *what, const char *data, gsize len, JsonParser *parser, GError **error)
{
    g_autoptr (GError) local = NULL;

    if (len > BL_IMAGE_JSON_MAX) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "image %s is %" G_GSIZE_FORMAT " bytes, over the limit of %d", what, len,
                     BL_IMAGE_JSON_MAX);
        return NULL;
    }
    if (!bl_json_load (parser, data, len, &local)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "image %s is not JSON: %s", what,
                     local->message);
        return NULL;
    }
    JsonNode *root = json_parser_get_root (parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "image %s is not a JSON object",
                     what);
        return NULL;
    }
    return json_node_get_object (root);
}

static gboolean
parse_descriptor (JsonNode *node, const char *what, BlImageDescriptor *out, GError **error)
{
    JsonObject *obj = node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
    const char *digest = bl_json_member_string (obj, "digest");
    JsonNode *size = obj ? json_object_get_member (obj, "size") : NULL;

    if (!bl_image_ref_is_sha256 (digest)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "manifest: %s has no valid sha256 digest", what);
        return FALSE;
    }
    if (!size || !JSON_NODE_HOLDS_VALUE (size) || json_node_get_value_type (size) != G_TYPE_INT64 ||
        json_node_get_int (size) < 0) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "manifest: %s %s has no valid size",
                     what, digest);
        return FALSE;
    }
    const char *media_type = bl_json_member_string (obj, "mediaType");
    out->media_type = g_strndup (media_type ? media_type : "", 256);
    out->digest = g_strdup (digest);
    out->size = (guint64) json_node_get_int (size);
    return TRUE;
}

static void
descriptor_free (gpointer data)
{
    BlImageDescriptor *d = data;
    g_free (d->media_type);
    g_free (d->digest);
    g_free (d);
}

void
bl_image_manifest_free (BlImageManifest *manifest)
{
    if (!manifest)
        return;
    g_free (manifest->config.media_type);
    g_free (manifest->config.digest);
    g_clear_pointer (&manifest->layers, g_ptr_array_unref);
    g_free (manifest);
}

BlImageManifest *
bl_image_manifest_parse (const char *data, gsize len, GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();
    JsonObject *obj = parse_object ("manifest", data, len, parser, error);
    g_autoptr (BlImageManifest) manifest = g_new0 (BlImageManifest, 1);

    if (!obj)
        return NULL;
    manifest->layers = g_ptr_array_new_with_free_func (descriptor_free);
    if (json_object_has_member (obj, "manifests")) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "manifest is an image index, not an image");
        return NULL;
    }
    if (json_object_get_int_member_with_default (obj, "schemaVersion", 0) != 2) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "manifest: only schemaVersion 2 is supported");
        return NULL;
    }
    if (!parse_descriptor (json_object_get_member (obj, "config"), "config", &manifest->config,
                           error))
        return NULL;
    JsonNode *layers = json_object_get_member (obj, "layers");
    if (!layers || !JSON_NODE_HOLDS_ARRAY (layers)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "manifest has no layers list");
        return NULL;
    }
    JsonArray *array = json_node_get_array (layers);
    guint n = json_array_get_length (array);
    if (n > BL_IMAGE_LAYERS_MAX) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "manifest has %u layers, over the limit of %d", n, BL_IMAGE_LAYERS_MAX);
        return NULL;
    }
    for (guint i = 0; i < n; i++) {
        BlImageDescriptor *layer = g_new0 (BlImageDescriptor, 1);
        g_ptr_array_add (manifest->layers, layer);
        if (!parse_descriptor (json_array_get_element (array, i), "layer", layer, error))
            return NULL;
    }
    return g_steal_pointer (&manifest);
}

/* An array of strings, or NULL when absent or null. Fails on anything else. */
static gboolean
get_strv (JsonObject *obj, const char *name, char ***out, GError **error)
{
    JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

    *out = NULL;
    if (!node || JSON_NODE_HOLDS_NULL (node))
        return TRUE;
    if (!JSON_NODE_HOLDS_ARRAY (node) ||
        json_array_get_length (json_node_get_array (node)) > BL_IMAGE_STRV_MAX) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "image config: %s must be a list of at most %d strings", name,
                     BL_IMAGE_STRV_MAX);
        return FALSE;
    }
    JsonArray *array = json_node_get_array (node);
    guint n = json_array_get_length (array);
    g_auto (GStrv) strv = g_new0 (char *, n + 1);
    for (guint i = 0; i < n; i++) {
        JsonNode *elem = json_array_get_element (array, i);
        if (!JSON_NODE_HOLDS_VALUE (elem) || json_node_get_value_type (elem) != G_TYPE_STRING ||
            strlen (json_node_get_string (elem)) > STRING_MAX) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "image config: %s[%u] is not a string of at most %d bytes", name, i,
                         STRING_MAX);
            return FALSE;
        }
        strv[i] = g_strdup (json_node_get_string (elem));
    }
    *out = g_steal_pointer (&strv);
    return TRUE;
}

static char *
dup_bounded (const char *value)
{
    return value && *value && strlen (value) <= STRING_MAX ? g_strdup (value) : NULL;
}

static gboolean
check_config (BlImageConfig *config, GError **error)
{
    for (guint i = 0; config->env && config->env[i]; i++) {
        const char *eq = strchr (config->env[i], '=');
        if (!eq || eq == config->env[i]) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "image config: Env entry '%s' is not KEY=VALUE", config->env[i]);
            return FALSE;
        }
    }
    if (config->working_dir && !g_path_is_absolute (config->working_dir)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "image config: WorkingDir '%s' is not an absolute path", config->working_dir);
        return FALSE;
    }
    for (guint i = 0; config->diff_ids && config->diff_ids[i]; i++) {
        if (!bl_image_ref_is_sha256 (config->diff_ids[i])) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "image config: rootfs.diff_ids[%u] is not a sha256 digest", i);
            return FALSE;
        }
    }
    return TRUE;
}

void
bl_image_config_free (BlImageConfig *config)
{
    if (!config)
        return;
    g_free (config->architecture);
    g_free (config->os);
    g_free (config->created);
    g_strfreev (config->entrypoint);
    g_strfreev (config->cmd);
    g_strfreev (config->env);
    g_free (config->working_dir);
    g_free (config->user);
    g_strfreev (config->diff_ids);
    g_free (config);
}

BlImageConfig *
bl_image_config_parse (const char *data, gsize len, GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();
    JsonObject *obj = parse_object ("config", data, len, parser, error);
    g_autoptr (BlImageConfig) config = g_new0 (BlImageConfig, 1);

    if (!obj)
        return NULL;
    JsonObject *run = bl_json_member_object (obj, "config");
    config->architecture = dup_bounded (bl_json_member_string (obj, "architecture"));
    config->os = dup_bounded (bl_json_member_string (obj, "os"));
    config->created = dup_bounded (bl_json_member_string (obj, "created"));
    config->working_dir = dup_bounded (bl_json_member_string (run, "WorkingDir"));
    config->user = dup_bounded (bl_json_member_string (run, "User"));
    if (!get_strv (run, "Entrypoint", &config->entrypoint, error) ||
        !get_strv (run, "Cmd", &config->cmd, error) ||
        !get_strv (run, "Env", &config->env, error) ||
        !get_strv (bl_json_member_object (obj, "rootfs"), "diff_ids", &config->diff_ids, error) ||
        !check_config (config, error))
        return NULL;
    if (config->diff_ids && g_strv_length (config->diff_ids) > BL_IMAGE_LAYERS_MAX) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "image config has too many layers");
        return NULL;
    }
    return g_steal_pointer (&config);
}

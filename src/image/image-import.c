/* image-import.c: images from an OCI image layout directory or a
 * `docker save` tarball, copied into the store with every digest checked.
 *
 * Both are hostile: a layout's blobs are re-hashed on the way in (a layout
 * whose blob does not match its name is refused), a tarball's members are
 * matched against its manifest.json by name only, and a member is never
 * written anywhere but into a new blob. */
#define G_LOG_DOMAIN "boxlite-image"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boxlite/boxlite-error.h>
#include "fs-tree.h"
#include "image-ref.h"
#include "json-file.h"
#include "image-store-private.h"
#include "layer.h"
#include "registry.h"
#include "os-error.h"

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define ANNOTATION_REF "org.opencontainers.image.ref.name"
#define ANNOTATION_CONTAINERD_NAME "io.containerd.image.name"
/* Members of a tarball we look at by name: manifest.json, configs, layers. */
#define ARCHIVE_NAME_MAX 4096
#define ARCHIVE_MEMBERS_MAX 100000

/* Blobs this import added, removed again if it fails. */
typedef struct {
    BlImageStore *store;
    GPtrArray *added;
} Import;

static void
import_rollback (Import *im)
{
    for (guint i = 0; i < im->added->len; i++) {
        g_autofree char *path = bl_image_store_blob_path (im->store, im->added->pdata[i]);
        g_unlink (path);
    }
}

static gboolean
blob_present (Import *im, const char *digest)
{
    g_autofree char *path = bl_image_store_blob_path (im->store, digest);
    return g_file_test (path, G_FILE_TEST_IS_REGULAR);
}

/* Reads a JSON document of at most BL_IMAGE_JSON_MAX bytes whole. */
static gboolean
read_small (const char *path, char **data, gsize *len, GError **error)
{
    struct stat st;

    if (stat (path, &st) < 0)
        return bl_os_error (error, errno, "read", path);
    if (st.st_size > BL_IMAGE_JSON_MAX) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "%s is larger than the %d bytes an image document may have", path,
                     BL_IMAGE_JSON_MAX);
        return FALSE;
    }
    return g_file_get_contents (path, data, len, error);
}

static JsonNode *
parse_json (const char *data, gsize len, const char *what, GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (GError) local = NULL;

    if (len > BL_IMAGE_JSON_MAX || !bl_json_load (parser, data, len, &local)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "%s is not JSON of at most %d bytes", what, BL_IMAGE_JSON_MAX);
        return NULL;
    }
    return json_node_copy (json_parser_get_root (parser));
}

/* Makes @text (nullable) a canonical reference. */
static char *
canonical_reference (const char *text, GError **error)
{
    g_autoptr (BlImageRef) ref = NULL;

    if (!text) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "the archive names no image; give a reference to import it as");
        return NULL;
    }
    ref = bl_image_ref_parse (text, error);
    return ref ? bl_image_ref_to_string (ref) : NULL;
}

/* ---- OCI image layouts ---- */

static gboolean
layout_copy_blob (Import *im, const char *layout, const char *digest, guint64 size,
                  GCancellable *cancellable, GError **error)
{
    gboolean added = FALSE;

    if (blob_present (im, digest))
        return TRUE;
    g_autofree char *path =
        g_build_filename (layout, "blobs", "sha256", bl_image_digest_hex (digest), NULL);
    if (!bl_image_store_add_blob_file (im->store, path, digest, size, &added, cancellable, error))
        return FALSE;
    if (added)
        g_ptr_array_add (im->added, g_strdup (digest));
    return TRUE;
}

/* Reads a descriptor's blob from the store after copying it in. */
static JsonNode *
layout_read_json (Import *im, const char *layout, JsonObject *desc, GCancellable *cancellable,
                  GError **error)
{
    const char *digest = bl_json_member_string (desc, "digest");
    JsonNode *size = desc ? json_object_get_member (desc, "size") : NULL;
    g_autofree char *data = NULL;
    gsize len = 0;

    if (!bl_image_ref_is_sha256 (digest) || !size || !JSON_NODE_HOLDS_VALUE (size) ||
        json_node_get_value_type (size) != G_TYPE_INT64 || json_node_get_int (size) < 0 ||
        json_node_get_int (size) > BL_IMAGE_JSON_MAX) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "%s: a descriptor has no valid digest or size", layout);
        return NULL;
    }
    if (!layout_copy_blob (im, layout, digest, (guint64) json_node_get_int (size), cancellable,
                           error))
        return NULL;
    g_autofree char *path = bl_image_store_blob_path (im->store, digest);
    if (!read_small (path, &data, &len, error))
        return NULL;
    return parse_json (data, len, digest, error);
}

static gboolean
is_index (JsonObject *desc, JsonObject *doc)
{
    const char *media_type = bl_json_member_string (desc, "mediaType");
    return g_strcmp0 (media_type, MT_OCI_INDEX) == 0 ||
           g_strcmp0 (media_type, MT_DOCKER_LIST) == 0 ||
           (doc && json_object_has_member (doc, "manifests"));
}

/* The linux/amd64 entry of an index's manifests. */
static JsonObject *
pick_platform (JsonArray *manifests, GError **error)
{
    for (guint i = 0; manifests && i < json_array_get_length (manifests); i++) {
        JsonNode *node = json_array_get_element (manifests, i);
        JsonObject *desc = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
        if (desc && bl_registry_index_entry_is_amd64 (desc))
            return desc;
    }
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                 "the image index has no linux/amd64 image");
    return NULL;
}

/* The entry of index.json to import: the only one, or the one whose ref
 * name is @tag. */
static JsonObject *
pick_layout_entry (JsonArray *manifests, const char *tag, const char *layout, GError **error)
{
    guint n = manifests ? json_array_get_length (manifests) : 0;

    for (guint i = 0; i < n; i++) {
        JsonNode *node = json_array_get_element (manifests, i);
        JsonObject *desc = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
        const char *name =
            bl_json_member_string (bl_json_member_object (desc, "annotations"), ANNOTATION_REF);
        if (desc && (n == 1 || (tag && g_strcmp0 (name, tag) == 0)))
            return desc;
    }
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                 n ? "%s holds %u images; name the one to import with a reference whose tag is "
                     "its ref name"
                   : "%s holds no image (index.json lists %u)",
                 layout, n);
    return NULL;
}

/* The name a layout entry gives itself, when it gives a full one. */
static const char *
layout_entry_name (JsonObject *desc)
{
    JsonObject *annotations = bl_json_member_object (desc, "annotations");
    const char *name = bl_json_member_string (annotations, ANNOTATION_CONTAINERD_NAME);

    if (name)
        return name;
    name = bl_json_member_string (annotations, ANNOTATION_REF);
    /* A bare tag ("latest") names no repository. */
    return name && (strchr (name, '/') || strchr (name, ':')) ? name : NULL;
}

static char *
import_layout (Import *im, const char *layout, const char *reference, GCancellable *cancellable,
               char **name_out, GError **error)
{
    g_autofree char *index_path = g_build_filename (layout, "index.json", NULL);
    g_autofree char *text = NULL;
    gsize len = 0;
    g_autoptr (BlImageRef) wanted = reference ? bl_image_ref_parse (reference, NULL) : NULL;

    if (!read_small (index_path, &text, &len, error))
        return NULL;
    g_autoptr (JsonNode) index = parse_json (text, len, index_path, error);
    if (!index)
        return NULL;
    if (!JSON_NODE_HOLDS_OBJECT (index)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "%s is not an image index",
                     index_path);
        return NULL;
    }
    JsonObject *desc =
        pick_layout_entry (bl_json_member_array (json_node_get_object (index), "manifests"),
                           wanted ? wanted->tag : NULL, layout, error);
    if (!desc)
        return NULL;
    *name_out = g_strdup (layout_entry_name (desc));
    g_autoptr (JsonNode) doc = layout_read_json (im, layout, desc, cancellable, error);
    if (!doc)
        return NULL;
    JsonObject *doc_obj = JSON_NODE_HOLDS_OBJECT (doc) ? json_node_get_object (doc) : NULL;
    g_autoptr (JsonObject) picked = NULL;
    if (is_index (desc, doc_obj)) {
        /* The descriptor lives in the index's document, which is replaced. */
        desc = pick_platform (bl_json_member_array (doc_obj, "manifests"), error);
        picked = desc ? json_object_ref (desc) : NULL;
        g_clear_pointer (&doc, json_node_unref);
        doc = picked ? layout_read_json (im, layout, picked, cancellable, error) : NULL;
        if (!doc)
            return NULL;
    }
    g_autofree char *manifest_json = json_to_string (doc, FALSE);
    g_autoptr (BlImageManifest) manifest =
        bl_image_manifest_parse (manifest_json, strlen (manifest_json), error);
    if (!manifest || !layout_copy_blob (im, layout, manifest->config.digest, manifest->config.size,
                                        cancellable, error))
        return NULL;
    for (guint i = 0; i < manifest->layers->len; i++) {
        BlImageDescriptor *layer = manifest->layers->pdata[i];
        if (!layout_copy_blob (im, layout, layer->digest, layer->size, cancellable, error))
            return NULL;
    }
    return g_strdup (bl_json_member_string (desc, "digest"));
}

/* ---- docker save tarballs ---- */

/* "./a/../b" -> "b"; NULL when the name leaves the archive or is too long. */
static char *
normalize_member (const char *dir, const char *name)
{
    g_autofree char *joined = dir && *dir && !g_path_is_absolute (name)
                                  ? g_strconcat (dir, "/", name, NULL)
                                  : g_strdup (name);
    g_auto (GStrv) parts = g_strsplit (joined, "/", -1);
    g_autoptr (GPtrArray) out = g_ptr_array_new ();

    if (strlen (joined) > ARCHIVE_NAME_MAX)
        return NULL;
    for (guint i = 0; parts[i]; i++) {
        if (!*parts[i] || g_str_equal (parts[i], "."))
            continue;
        if (g_str_equal (parts[i], "..")) {
            if (out->len == 0)
                return NULL;
            g_ptr_array_remove_index (out, out->len - 1);
            continue;
        }
        g_ptr_array_add (out, parts[i]);
    }
    g_ptr_array_add (out, NULL);
    return g_strjoinv ("/", (char **) out->pdata);
}

static struct archive *
open_archive (const char *path, GError **error)
{
    struct archive *in = archive_read_new ();

    archive_read_support_format_tar (in);
    archive_read_support_filter_gzip (in);
    archive_read_support_filter_zstd (in);
    if (archive_read_open_filename (in, path, 64 * 1024) != ARCHIVE_OK) {
        bl_layer_archive_error (error, in);
        g_prefix_error (error, "cannot read %s: ", path);
        archive_read_free (in);
        return NULL;
    }
    return in;
}

/* Calls @member for every entry of the tarball; it returns FALSE to fail. */
typedef gboolean (*MemberFunc) (struct archive *in, struct archive_entry *entry, const char *name,
                                gpointer data, GError **error);

static gboolean
for_each_member (const char *path, MemberFunc member, gpointer data, GCancellable *cancellable,
                 GError **error)
{
    struct archive *in = open_archive (path, error);
    struct archive_entry *entry;
    gboolean ok = in != NULL;
    guint count = 0;

    while (ok) {
        int r = archive_read_next_header (in, &entry);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK) {
            bl_layer_archive_error (error, in);
            g_prefix_error (error, "%s: ", path);
            ok = FALSE;
            break;
        }
        if (++count > ARCHIVE_MEMBERS_MAX) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "%s: too many members", path);
            ok = FALSE;
            break;
        }
        if (g_cancellable_set_error_if_cancelled (cancellable, error)) {
            ok = FALSE;
            break;
        }
        const char *raw = archive_entry_pathname (entry);
        g_autofree char *name = raw ? normalize_member (NULL, raw) : NULL;
        if (name)
            ok = member (in, entry, name, data, error);
    }
    if (in)
        archive_read_free (in);
    return ok;
}

typedef struct {
    Import *im;
    char *manifest_json; /* manifest.json's content */
    gsize manifest_len;
    GHashTable *symlinks; /* member -> normalised target */
    GHashTable *wanted;   /* member -> digest (NULL until stored) */
    gboolean has_index;   /* an index.json: an OCI layout in a tarball */
} DockerArchive;

static gboolean
scan_member (struct archive *in, struct archive_entry *entry, const char *name, gpointer data,
             GError **error)
{
    DockerArchive *da = data;

    if (archive_entry_filetype (entry) == AE_IFLNK && archive_entry_symlink (entry)) {
        g_autofree char *dir = g_path_get_dirname (name);
        char *target =
            normalize_member (g_str_equal (dir, ".") ? NULL : dir, archive_entry_symlink (entry));
        if (target)
            g_hash_table_replace (da->symlinks, g_strdup (name), target);
        return TRUE;
    }
    if (g_str_equal (name, "index.json") && archive_entry_filetype (entry) == AE_IFREG)
        da->has_index = TRUE;
    if (!g_str_equal (name, "manifest.json") || archive_entry_filetype (entry) != AE_IFREG)
        return TRUE;
    if (archive_entry_size (entry) > BL_IMAGE_JSON_MAX) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "manifest.json is too large");
        return FALSE;
    }
    gsize size = (gsize) MAX (archive_entry_size (entry), 0);
    g_free (da->manifest_json);
    da->manifest_json = g_malloc (size + 1);
    la_ssize_t n = archive_read_data (in, da->manifest_json, size);
    if (n < 0 || (gsize) n != size) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "cannot read manifest.json");
        return FALSE;
    }
    da->manifest_len = size;
    return TRUE;
}

static gboolean
store_member (struct archive *in, struct archive_entry *entry, const char *name, gpointer data,
              GError **error)
{
    DockerArchive *da = data;
    gpointer existing = NULL;

    if (archive_entry_filetype (entry) != AE_IFREG ||
        !g_hash_table_lookup_extended (da->wanted, name, NULL, &existing) || existing)
        return TRUE;
    BlBlobWriter *w = bl_blob_writer_new (da->im->store, error);
    if (!w)
        return FALSE;
    const void *buf;
    size_t len;
    la_int64_t offset;
    int r;
    while ((r = archive_read_data_block (in, &buf, &len, &offset)) == ARCHIVE_OK) {
        if (!bl_blob_writer_write (w, buf, len, error)) {
            bl_blob_writer_abort (w);
            return FALSE;
        }
    }
    if (r != ARCHIVE_EOF) {
        bl_layer_archive_error (error, in);
        g_prefix_error (error, "%s: ", name);
        bl_blob_writer_abort (w);
        return FALSE;
    }
    gboolean added = FALSE;
    char *digest = bl_blob_writer_finish (w, NULL, G_MAXUINT64, &added, error);
    if (!digest)
        return FALSE;
    if (added)
        g_ptr_array_add (da->im->added, g_strdup (digest));
    g_hash_table_replace (da->wanted, g_strdup (name), digest);
    return TRUE;
}

/* The member @name stands for, after following symlinks (a few hops). */
static const char *
resolve_member (DockerArchive *da, const char *name)
{
    for (guint hops = 0; hops < 8; hops++) {
        const char *target = g_hash_table_lookup (da->symlinks, name);
        if (!target)
            return name;
        name = target;
    }
    return name;
}

static char *
json_member_path (JsonArray *array, guint i)
{
    JsonNode *node = json_array_get_element (array, i);
    if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        return NULL;
    return normalize_member (NULL, json_node_get_string (node));
}

/* Writes an OCI manifest for the stored config and layers; returns its digest. */
static char *
write_manifest (DockerArchive *da, const char *config_digest, char **layer_digests, GError **error)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();
    BlImageStore *store = da->im->store;

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "schemaVersion");
    json_builder_add_int_value (b, 2);
    json_builder_set_member_name (b, "mediaType");
    json_builder_add_string_value (b, MT_OCI_MANIFEST);
    for (guint i = 0; i == 0 || layer_digests[i - 1]; i++) {
        const char *digest = i == 0 ? config_digest : layer_digests[i - 1];
        g_autofree char *path = bl_image_store_blob_path (store, digest);
        struct stat st;
        if (stat (path, &st) < 0) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "blob %s vanished", digest);
            return NULL;
        }
        if (i == 0) {
            json_builder_set_member_name (b, "config");
        } else if (i == 1) {
            json_builder_set_member_name (b, "layers");
            json_builder_begin_array (b);
        }
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "mediaType");
        json_builder_add_string_value (b, i == 0 ? MT_OCI_CONFIG : MT_OCI_LAYER);
        json_builder_set_member_name (b, "digest");
        json_builder_add_string_value (b, digest);
        json_builder_set_member_name (b, "size");
        json_builder_add_int_value (b, st.st_size);
        json_builder_end_object (b);
    }
    if (!layer_digests[0]) {
        json_builder_set_member_name (b, "layers");
        json_builder_begin_array (b);
    }
    json_builder_end_array (b);
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    g_autofree char *text = json_to_string (root, FALSE);
    BlBlobWriter *w = bl_blob_writer_new (store, error);
    if (!w || !bl_blob_writer_write (w, text, strlen (text), error)) {
        bl_blob_writer_abort (w);
        return NULL;
    }
    gboolean added = FALSE;
    char *digest = bl_blob_writer_finish (w, NULL, G_MAXUINT64, &added, error);
    if (added)
        g_ptr_array_add (da->im->added, g_strdup (digest));
    return digest;
}

/* The config's diff_ids are the sha256 of each uncompressed layer: the
 * tarball's layers must be exactly those. */
static gboolean
check_diff_ids (DockerArchive *da, const char *config_digest, char **layer_digests, GError **error)
{
    g_autofree char *path = bl_image_store_blob_path (da->im->store, config_digest);
    g_autofree char *data = NULL;
    gsize len = 0;

    if (!read_small (path, &data, &len, error))
        return FALSE;
    g_autoptr (BlImageConfig) config = bl_image_config_parse (data, len, error);
    if (!config)
        return FALSE;
    guint n = g_strv_length (layer_digests);
    if (!config->diff_ids || g_strv_length (config->diff_ids) != n) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "the config's rootfs.diff_ids do not list the archive's %u layers", n);
        return FALSE;
    }
    for (guint i = 0; i < n; i++) {
        if (!g_str_equal (config->diff_ids[i], layer_digests[i])) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "layer %u hashes to %s, but the config says %s", i + 1, layer_digests[i],
                         config->diff_ids[i]);
            return FALSE;
        }
    }
    return TRUE;
}

/* The members manifest.json names, each stored as a blob; returns the
 * digest of an OCI manifest written for them. */
static char *
store_docker_image (DockerArchive *da, const char *path, JsonObject *image,
                    GCancellable *cancellable, GError **error)
{
    JsonArray *layers = bl_json_member_array (image, "Layers");
    const char *config_name = bl_json_member_string (image, "Config");
    g_autofree char *config_member = config_name ? normalize_member (NULL, config_name) : NULL;

    if (!config_member || !layers || json_array_get_length (layers) > BL_IMAGE_LAYERS_MAX) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "manifest.json does not describe an image (Config and Layers)");
        return NULL;
    }
    guint n = json_array_get_length (layers);
    g_auto (GStrv) members = g_new0 (char *, n + 1);
    g_auto (GStrv) digests = g_new0 (char *, n + 1);
    for (guint i = 0; i < n; i++) {
        g_autofree char *member = json_member_path (layers, i);
        if (!member) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "manifest.json: layer %u has no valid path", i + 1);
            return NULL;
        }
        members[i] = g_strdup (resolve_member (da, member));
        g_hash_table_replace (da->wanted, g_strdup (members[i]), NULL);
    }
    const char *config_resolved = resolve_member (da, config_member);
    g_hash_table_replace (da->wanted, g_strdup (config_resolved), NULL);
    if (!for_each_member (path, store_member, da, cancellable, error))
        return NULL;
    const char *config_digest = g_hash_table_lookup (da->wanted, config_resolved);
    for (guint i = 0; i <= n; i++) {
        const char *member = i < n ? members[i] : config_resolved;
        const char *digest = g_hash_table_lookup (da->wanted, member);
        if (!digest) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "%s: member %s named by manifest.json is missing", path, member);
            return NULL;
        }
        if (i < n)
            digests[i] = g_strdup (digest);
    }
    if (!check_diff_ids (da, config_digest, digests, error))
        return NULL;
    return write_manifest (da, config_digest, digests, error);
}

/* Whether @name is one of the members an OCI layout is made of. */
static gboolean
is_layout_member (const char *name)
{
    const char *hex = name + strlen ("blobs/sha256/");

    if (g_str_equal (name, "oci-layout") || g_str_equal (name, "index.json"))
        return TRUE;
    if (!g_str_has_prefix (name, "blobs/sha256/") || strlen (hex) != 64)
        return FALSE;
    g_autofree char *digest = g_strconcat ("sha256:", hex, NULL);
    return bl_image_ref_is_sha256 (digest);
}

/* Writes the layout members of a tarball below the directory @data; the
 * names are checked to be exactly those, so nothing lands elsewhere. */
static gboolean
extract_layout_member (struct archive *in, struct archive_entry *entry, const char *name,
                       gpointer data, GError **error)
{
    if (archive_entry_filetype (entry) != AE_IFREG || !is_layout_member (name))
        return TRUE;
    g_autofree char *path = g_build_filename (data, name, NULL);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return bl_os_error (error, errno, "create", path);
    int r = archive_read_data_into_fd (in, fd);
    close (fd);
    if (r != ARCHIVE_OK) {
        bl_layer_archive_error (error, in);
        g_prefix_error (error, "%s: ", name);
        return FALSE;
    }
    return TRUE;
}

/* An OCI layout packed in a tarball (skopeo's and podman's oci-archive):
 * unpacked to a scratch directory beside the blobs, then imported as a
 * layout, which checks every blob on its way into the store. */
static char *
import_oci_archive (Import *im, const char *path, const char *reference, GCancellable *cancellable,
                    char **name_out, GError **error)
{
    g_autofree char *tmp =
        g_build_filename (bl_image_store_get_blobs_dir (im->store), ".layout-XXXXXX", NULL);
    char *digest = NULL;

    if (!g_mkdtemp_full (tmp, 0700)) {
        bl_os_error (error, errno, "create", tmp);
        return NULL;
    }
    g_autofree char *sha_dir = g_build_filename (tmp, "blobs", "sha256", NULL);
    if (g_mkdir_with_parents (sha_dir, 0700) < 0)
        bl_os_error (error, errno, "create", sha_dir);
    else if (for_each_member (path, extract_layout_member, tmp, cancellable, error))
        digest = import_layout (im, tmp, reference, cancellable, name_out, error);
    g_autoptr (GError) local = NULL;
    if (!bl_tree_remove (tmp, &local))
        g_warning ("%s", local->message);
    return digest;
}

static char *
import_docker_archive (Import *im, const char *path, const char *reference,
                       GCancellable *cancellable, char **name_out, GError **error)
{
    g_autoptr (GHashTable) symlinks =
        g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr (GHashTable) wanted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    DockerArchive da = { im, NULL, 0, symlinks, wanted, FALSE };
    g_autoptr (JsonNode) manifest = NULL;
    char *digest = NULL;

    if (!for_each_member (path, scan_member, &da, cancellable, error)) {
        g_free (da.manifest_json);
        return NULL;
    }
    if (!da.manifest_json && da.has_index)
        return import_oci_archive (im, path, reference, cancellable, name_out, error);
    if (!da.manifest_json) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "%s is neither an OCI image layout nor a docker-archive or oci-archive "
                     "tarball (it has no manifest.json or index.json)",
                     path);
        return NULL;
    }
    manifest = parse_json (da.manifest_json, da.manifest_len, "manifest.json", error);
    g_free (da.manifest_json);
    if (!manifest)
        return NULL;
    JsonArray *images = JSON_NODE_HOLDS_ARRAY (manifest) ? json_node_get_array (manifest) : NULL;
    JsonNode *first =
        images && json_array_get_length (images) > 0 ? json_array_get_element (images, 0) : NULL;
    JsonObject *image =
        first && JSON_NODE_HOLDS_OBJECT (first) ? json_node_get_object (first) : NULL;
    JsonArray *tags = bl_json_member_array (image, "RepoTags");
    if (tags && json_array_get_length (tags) > 0) {
        JsonNode *tag = json_array_get_element (tags, 0);
        if (JSON_NODE_HOLDS_VALUE (tag) && json_node_get_value_type (tag) == G_TYPE_STRING)
            *name_out = g_strdup (json_node_get_string (tag));
    }
    digest = store_docker_image (&da, path, image, cancellable, error);
    return digest;
}

BlImageEntry *
bl_image_store_import (BlImageStore *store, const char *path, const char *reference,
                       GCancellable *cancellable, GError **error)
{
    g_autoptr (GPtrArray) added = g_ptr_array_new_with_free_func (g_free);
    Import im = { store, added };
    g_autofree char *given_name = NULL;
    g_autofree char *digest = NULL;
    BlImageEntry *entry = NULL;

    int gc = bl_image_store_lock_gc (store, FALSE, cancellable, error);
    if (gc < 0)
        return NULL;
    if (g_file_test (path, G_FILE_TEST_IS_DIR))
        digest = import_layout (&im, path, reference, cancellable, &given_name, error);
    else if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        digest = import_docker_archive (&im, path, reference, cancellable, &given_name, error);
    else
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND,
                     "%s is neither a directory nor a file", path);
    g_autofree char *canonical =
        digest ? canonical_reference (reference ? reference : given_name, error) : NULL;
    if (canonical)
        entry = bl_image_store_commit (store, canonical, digest, cancellable, error);
    if (!entry) {
        import_rollback (&im);
        g_prefix_error (error, "cannot import %s: ", path);
    }
    bl_image_store_unlock (gc);
    return entry;
}

/* image-config.h: the JSON documents of an OCI (or Docker schema 2) image:
 * its manifest and its config, parsed with bounds and validated.
 *
 * Both come from registries and tarballs, so nothing in them is trusted:
 * digests must be "sha256:" + 64 lowercase hex digits, sizes must fit, and
 * every list has a maximum length. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Largest manifest or config accepted, in bytes. */
#define BL_IMAGE_JSON_MAX (4 * 1024 * 1024)
/* Most layers an image may have. */
#define BL_IMAGE_LAYERS_MAX 256
/* Most entries in Env, Cmd or Entrypoint. */
#define BL_IMAGE_STRV_MAX 1024

/**
 * BlImageDescriptor:
 * @media_type: as given (may be empty for Docker archives)
 * @digest: "sha256:<64 hex>"
 * @size: bytes
 */
typedef struct {
    char *media_type;
    char *digest;
    guint64 size;
} BlImageDescriptor;

/**
 * BlImageManifest:
 * @config: the config blob
 * @layers: (element-type BlImageDescriptor): bottom layer first
 */
typedef struct {
    BlImageDescriptor config;
    GPtrArray *layers;
} BlImageManifest;

/**
 * BlImageConfig:
 *
 * What a box made from the image inherits, and what identifies its layers.
 * Every field is nullable when the config does not give it.
 */
typedef struct {
    char *architecture;
    char *os;
    char *created;
    char **entrypoint;
    char **cmd;
    char **env;
    char *working_dir;
    char *user;
    char **diff_ids; /* rootfs.diff_ids: sha256 of each uncompressed layer */
} BlImageConfig;

/* The hex part of a valid digest (points into @digest). */
const char *bl_image_digest_hex (const char *digest);

/* Returns: (transfer full): the parsed manifest, or NULL with @error set to
 * BOXLITE_ERROR_IMAGE. An image index is refused: it names no layers. */
BlImageManifest *bl_image_manifest_parse (const char *data, gsize len, GError **error);
void bl_image_manifest_free (BlImageManifest *manifest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlImageManifest, bl_image_manifest_free)

/* Returns: (transfer full): the parsed config, or NULL with @error set to
 * BOXLITE_ERROR_IMAGE. Env entries must be KEY=VALUE, WorkingDir absolute. */
BlImageConfig *bl_image_config_parse (const char *data, gsize len, GError **error);
void bl_image_config_free (BlImageConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlImageConfig, bl_image_config_free)

G_END_DECLS

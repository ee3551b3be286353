/* image-ref.h: image references as container tools write them.
 *
 * "alpine", "python:3.12-slim", "quay.io/team/tool@sha256:…" and
 * "localhost:5000/x" are parsed, checked against the distribution grammar
 * and put in one canonical form, "registry/repository[:tag][@digest]".
 * Pure: nothing here touches the network or the disk.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Where a name that names no registry is looked up last. */
#define BL_IMAGE_REF_DEFAULT_REGISTRY "docker.io"
/* The tag of a reference that gives neither a tag nor a digest. */
#define BL_IMAGE_REF_DEFAULT_TAG "latest"
/* Longest "registry/repository", in bytes, after normalisation. */
#define BL_IMAGE_REF_NAME_MAX 255
/* Longest tag, in bytes. */
#define BL_IMAGE_REF_TAG_MAX 128
/* Longest digest, "algorithm:hex", in bytes. */
#define BL_IMAGE_REF_DIGEST_MAX 256
/* Longest text bl_image_ref_parse() looks at, in bytes. */
#define BL_IMAGE_REF_TEXT_MAX 1024

/**
 * BlImageRef:
 * @registry: host[:port], lowercase, the port in plain decimal, IPv6
 *   addresses in brackets; Docker Hub's aliases are folded to "docker.io".
 *   "docker.io" when the text named no registry.
 * @repository: the slash-separated path; a single component on docker.io
 *   gets "library/" in front.
 * @tag: (nullable): the tag; "latest" when the text gave neither a tag nor
 *   a digest, NULL when it gave only a digest.
 * @digest: (nullable): "algorithm:hex", or NULL.
 * @qualified: TRUE when the text named a registry. An unqualified reference
 *   is for the caller to try on its search registries with
 *   bl_image_ref_with_registry().
 * @implicit_library: TRUE when the "library/" in @repository was added by
 *   normalisation rather than written.
 *
 * A parsed image reference. All strings are owned by the struct.
 */
typedef struct {
    char *registry;
    char *repository;
    char *tag;
    char *digest;
    gboolean qualified;
    gboolean implicit_library;
} BlImageRef;

/* Parses @text ("alpine", "user/app:1", "host:5000/a/b@sha256:…").
 * At most BL_IMAGE_REF_TEXT_MAX bytes of @text are read; any byte sequence
 * is safe to pass.
 * Returns: (transfer full): the reference, or NULL with @error set to
 * BOXLITE_ERROR_INVALID_ARGUMENT naming the text and what is wrong. */
BlImageRef *bl_image_ref_parse (const char *text, GError **error);

/* Frees @ref and its strings; NULL is allowed. */
void bl_image_ref_free (BlImageRef *ref);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlImageRef, bl_image_ref_free)

/* Returns: (transfer full): "registry/repository[:tag][@digest]", which
 * bl_image_ref_parse() reads back to the same registry, repository, tag and
 * digest (as a qualified reference). */
char *bl_image_ref_to_string (const BlImageRef *ref);

/* Re-targets the unqualified @ref at @registry (any form
 * bl_image_ref_normalize_registry() accepts): "alpine" on "quay.io" is
 * "quay.io/alpine", on "docker.io" it is "docker.io/library/alpine".
 * Returns: (transfer full) (nullable): a qualified copy, or NULL when
 * @registry is not a valid registry or the name would grow past
 * BL_IMAGE_REF_NAME_MAX. */
BlImageRef *bl_image_ref_with_registry (const BlImageRef *ref, const char *registry);

/* Checks a registry as written in a configuration ("Quay.io",
 * "localhost:05000", "[::1]:5000", "index.docker.io") and returns it in the
 * form BlImageRef.registry has, so entries compare with strcmp().
 * Returns: (transfer full): the normalised registry, or NULL with @error
 * set to BOXLITE_ERROR_INVALID_ARGUMENT. */
char *bl_image_ref_normalize_registry (const char *registry, GError **error);

/* TRUE when @registry is on this host: "localhost", 127.0.0.0/8 or ::1,
 * each with or without a port (IPv6 in brackets, or bare without a port).
 * Such registries are reached over plain HTTP unless configured otherwise.
 * NULL and invalid registries are not loopback. */
gboolean bl_image_ref_registry_is_loopback (const char *registry);

/* TRUE when @digest (nullable) is "sha256:" and 64 lowercase hex digits:
 * the only digests the store and the registry client work with. */
gboolean bl_image_ref_is_sha256 (const char *digest);

G_END_DECLS

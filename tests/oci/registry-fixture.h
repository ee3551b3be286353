/* registry-fixture.h: a real registry (Debian's docker-registry) on
 * loopback for tests, filled with skopeo from OCI layouts that
 * tests/oci/make-layout.py writes.
 *
 * Link with registry_fixture_dep (tests/meson.build). Every helper fails
 * with a GError naming the command that failed and what it printed.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
    GSubprocess *process;
    char *dir;  /* temporary: config.yml, data/, registry.log */
    char *host; /* "127.0.0.1:PORT", a loopback registry */
    guint16 port;
    gboolean tls; /* https with a self-signed certificate, else http */
} BlTestRegistry;

/* A TCP port on 127.0.0.1 that was free a moment ago. */
guint16 bl_test_free_port (void);

/* Starts a registry on a free loopback port with its storage in a new
 * temporary directory, and waits (up to 20 s) until GET /v2/ answers.
 * The registry dies with the test process.
 * Returns: (transfer full): the running registry, or NULL with @error. */
BlTestRegistry *bl_test_registry_start (GError **error);

/* The same, serving https with a fresh self-signed certificate for
 * 127.0.0.1 (made with openssl), so clients must skip verification. */
BlTestRegistry *bl_test_registry_start_tls (GError **error);

/* Stops the registry and removes its directory; NULL is allowed. */
void bl_test_registry_stop (BlTestRegistry *registry);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlTestRegistry, bl_test_registry_stop)

/* Writes an OCI layout with make-layout.py: @preset, then @extra_args
 * (nullable, NULL-terminated, e.g. "--size-mb", "8"), into @out.
 * Returns: (transfer full): the digest of what index.json names (the image
 * manifest, or the index for "multiplatform"), or NULL with @error. */
char *bl_test_make_layout (const char *out, const char *preset, const char *const *extra_args,
                           GError **error);

/* Copies the image tagged "latest" in OCI layout @layout to @registry as
 * @name_tag ("simple:latest"), indexes kept whole and digests unchanged. */
gboolean bl_test_registry_push (BlTestRegistry *registry, const char *layout, const char *name_tag,
                                GError **error);

/* Removes @path and everything under it. */
void bl_test_rm_rf (const char *path);

G_END_DECLS

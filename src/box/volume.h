/* volume.h: host folders shared into a box, as `HOST:GUEST[:OPTIONS]` specs,
 * OPTIONS a comma list of `ro` or `rw` and `owners`.
 *
 * The spec is what options, the box record and the launch document keep;
 * this module is its one parser. Neither path may hold ':' (it separates
 * the fields), HOST and GUEST are absolute, GUEST is not `/` and has no
 * `..` component, and two volumes of one box never share a guest path.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The longest guest path accepted: it travels in one control frame. */
#define BL_VOLUME_MAX_GUEST_PATH 1024
/* At most this many volumes per box (each is a QEMU device). */
#define BL_VOLUME_MAX 16

typedef struct {
    char *host;  /* absolute, as given */
    char *guest; /* absolute, canonical (no '.', no '//', no trailing '/') */
    gboolean read_only;
    /* The guest sees the host's owners, modes and symlinks as they are
     * (QEMU's "none" model) rather than the guest's own kept in extended
     * attributes: for trees made elsewhere, such as a container's root
     * filesystem. Read-only only. */
    gboolean owners;
} BlVolume;

void bl_volume_free (BlVolume *volume);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlVolume, bl_volume_free)

/* Parses one spec without looking at the host. Returns: (transfer full):
 * the volume, or NULL with @error (BOXLITE_ERROR_INVALID_ARGUMENT) naming
 * the spec and what is wrong with it. */
BlVolume *bl_volume_parse (const char *spec, GError **error);

/* The spec of @host, @guest and @read_only (not checked). Returns: (transfer full). */
char *bl_volume_format (const char *host, const char *guest, gboolean read_only);

/* Parses every spec of @specs (NULL-terminated, or NULL), at most
 * BL_VOLUME_MAX, and refuses a guest path given twice. When @check_host,
 * each host path must also be an existing directory (a symlink to one
 * counts: the caller named it). Returns: (transfer full) (element-type
 * BlVolume): the volumes in order, or NULL with @error. */
GPtrArray *bl_volumes_parse (const char *const *specs, gboolean check_host, GError **error);

/* The mount tag of volume @index in QEMU and in the guest. Returns: (transfer full). */
char *bl_volume_tag (guint index);

G_END_DECLS

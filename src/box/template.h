/* template.h: VM templates: where a home keeps them, what they are keyed
 * by, and whether one on disk may be used.
 *
 * A template is a guest booted up to the point where its agent waits for
 * the host's "identity" (bl_proto.h), its RAM kept in a file and its
 * device state saved (template-make.c in the monitor). Boxes whose guest
 * would be the same up to that point start from it instead of booting
 * (shim-template.c). What shapes the guest up to there is the key:
 * QEMU's binary, the kernel, the initramfs (the agent), the accelerator
 * and CPU model, vCPUs, memory, the TSC rate given to the kernel, and the
 * device set (NIC or not, the number of 9p volumes). A box's name, disk,
 * volumes' folders, limits and network rules come after, from the host.
 *
 * Layout, under the home's templates/ directory:
 *   KEY/template.json   what was hashed, the state's size and SHA-256, the
 *                       RAM file's path and size
 *   KEY/vmstate         QEMU's device state (x-ignore-shared: no RAM)
 *   KEY.lock            held while a template is checked or made
 *   KEY.failed          why making it failed; not tried again for 10 min
 * and the RAM file KEY.ram in a directory of the user's on tmpfs,
 * /dev/shm/boxlite-UID-HASH (HASH of the templates directory, so two homes
 * never share one), or in KEY/ when /dev/shm is not a tmpfs. That
 * directory also holds "home", the templates directory it belongs to, so
 * that a prune from any home removes the RAM files of a home that is gone.
 *
 * Everything is made by us, but read as if it were not: sizes, keys, the
 * state's checksum and the RAM file's owner and mode are checked before a
 * template is used; one that fails is removed and made again.
 */
#pragma once

#include <gio/gio.h>

#include <boxlite/boxlite-enums.h>
#include "launch.h"

G_BEGIN_DECLS

/* Largest device state accepted (about 50 KB is usual). */
#define BL_TEMPLATE_MAX_STATE (16u * 1024 * 1024)

typedef struct {
    char *key;         /* SHA-256 (hex) of @inputs */
    char *inputs;      /* what shapes the guest before its root mount, one per line */
    char *dir;         /* TEMPLATES/KEY */
    char *lock_path;   /* TEMPLATES/KEY.lock */
    char *state_path;  /* DIR/vmstate */
    char *record_path; /* DIR/template.json */
    char *ram_path;    /* the RAM file */
    guint64 ram_bytes;
} BlTemplate;

void bl_template_free (BlTemplate *tpl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlTemplate, bl_template_free)

/* The template that fits @launch (its templates_dir must be set) once
 * started with @resolved and @tsc_khz; makes the RAM directory if needed.
 * Returns: (transfer full): it, or NULL with @error set (an input file
 * missing, a RAM directory that is not ours alone). */
BlTemplate *bl_template_for (const BlLaunch *launch, BoxliteAccel resolved, guint tsc_khz,
                             GError **error);

/* Checks the template on disk and opens its device state. Returns the state
 * file's descriptor (at offset 0, checked against its recorded size and
 * SHA-256), or -1 with @error set: G_IO_ERROR_NOT_FOUND when there is no
 * template, G_IO_ERROR_INVALID_DATA when what is there must not be used. */
int bl_template_open_state (const BlTemplate *tpl, GError **error);

/* After the state file and the RAM file were made: writes template.json. */
gboolean bl_template_record (const BlTemplate *tpl, GError **error);

/* Removes the template's directory and RAM file; nothing there is fine. */
gboolean bl_template_remove (const BlTemplate *tpl, GError **error);

/* One template of a home, as `boxlite template ls` prints it. */
typedef struct {
    char *key;
    char *inputs;
    char *ram_path;
    guint64 ram_bytes;      /* the guest memory it maps */
    guint64 ram_disk_bytes; /* what its RAM file holds (pages touched) */
    guint64 state_bytes;
    gboolean valid; /* template.json reads back and both files are there */
} BlTemplateInfo;

void bl_template_info_free (BlTemplateInfo *info);

/* The templates under @templates_dir (missing = none). Returns: (transfer
 * full) (element-type BlTemplateInfo): them. */
GPtrArray *bl_template_list (const char *templates_dir, GError **error);

/* Removes the RAM directories of this user whose home is gone: a home
 * deleted without `boxlite template prune` leaves its RAM files on tmpfs
 * until a template is made or pruned in any home, or the host restarts. */
void bl_template_sweep_orphans (void);

/* Removes every template under @templates_dir, and the RAM directories of
 * this user whose home is gone. Sets *@removed to the templates removed. */
gboolean bl_template_prune (const char *templates_dir, guint *removed, GError **error);

G_END_DECLS

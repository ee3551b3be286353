/* template-ram.h: the template RAM a copy's QEMU maps, sealed against writes. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _BlTemplateRamFill BlTemplateRamFill;

/* Returns a descriptor of a memfd for @ram_path's bytes, or -1 with @error
 * set. It is the sealed one another running monitor holds when
 * @holders_dir names one that is alive and still matches @ram_path (and
 * *@fill is NULL). Otherwise it is a new memfd of the right size, still
 * empty and unsealed: bl_template_ram_fill(*@fill) copies the bytes and
 * seals it, and must succeed before anything of a guest runs on it (QEMU
 * may map it meanwhile: the copy then overlaps QEMU's start). The caller
 * becomes a holder: *@record names the file under @holders_dir that says
 * so (written once the memfd is sealed), for bl_template_ram_release().
 * Call it with the template's lock held exclusively. */
int bl_template_ram_share (const char *ram_path, const char *holders_dir, char **record,
                           BlTemplateRamFill **fill, GError **error);
/* Copies, seals and records; frees @fill. */
gboolean bl_template_ram_fill (BlTemplateRamFill *fill, GError **error);
void bl_template_ram_fill_free (BlTemplateRamFill *fill);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlTemplateRamFill, bl_template_ram_fill_free)

/* Removes @record (nullable) and closes @fd (when >= 0). */
void bl_template_ram_release (int fd, const char *record);

/* Whether @fd is a memfd of this user that can no longer be written,
 * resized or unsealed, of @size bytes. */
gboolean bl_template_ram_is_sealed (int fd, guint64 size);

G_END_DECLS

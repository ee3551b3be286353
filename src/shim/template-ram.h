/* template-ram.h: the template RAM a copy's QEMU maps, sealed against writes. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Returns a descriptor of a memfd that holds @ram_path's bytes and is
 * sealed (no write, no resize, no new seal), or -1 with @error set. It is
 * the one another running monitor holds when @holders_dir names one that
 * is alive and still matches @ram_path; otherwise a new one is made from
 * @ram_path. Either way the caller becomes a holder: *@record is the file
 * under @holders_dir that says so, for bl_template_ram_release(). Call it
 * with the template's lock held exclusively. */
int bl_template_ram_share (const char *ram_path, const char *holders_dir, char **record,
                           GError **error);

/* Removes @record (nullable) and closes @fd (when >= 0). */
void bl_template_ram_release (int fd, const char *record);

/* Whether @fd is a memfd of this user that can no longer be written,
 * resized or unsealed, of @size bytes. */
gboolean bl_template_ram_is_sealed (int fd, guint64 size);

G_END_DECLS

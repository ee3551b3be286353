/* copy-stream.h: the cp rules of boxlite-copy.c on tar streams, for copies
 * that cross a server: `boxlite --host URL cp` packs and unpacks on its own
 * side, `boxlite serve` places what it receives in the box.
 *
 * What the streams carry is hostile to the side that unpacks them, as in
 * boxlite_box_copy_out(): entries land beneath the destination with no
 * symlink followed, within the same limits. */
#pragma once

#include <boxlite/boxlite-box.h>

G_BEGIN_DECLS

/* Writes to @tar (left open) what boxlite_box_copy_in() would send of
 * @host_path: one entry named after it, or "." for "DIR/.". Fails as
 * boxlite_box_copy_in() does for a missing source or "FILE/". */
gboolean bl_copy_pack_host (const char *host_path, GOutputStream *tar, GCancellable *cancellable,
                            GError **error);

/* Unpacks @tar, one source as a box sends it, at @host_path by the
 * destination rules of boxlite_box_copy_out(). */
gboolean bl_copy_unpack_host (GInputStream *tar, const char *host_path, GCancellable *cancellable,
                              GError **error);

/* Places the one source @tar holds (see bl_copy_pack_host()) at
 * @guest_path in the box by the rules of boxlite_box_copy_in(). The error
 * has no prefix: the caller knows what was copied. */
gboolean bl_box_copy_in_placed (BoxliteBox *self, GInputStream *tar, const char *guest_path,
                                GCancellable *cancellable, GError **error);

G_END_DECLS

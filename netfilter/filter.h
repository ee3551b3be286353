/* filter.h: the verdict on each Ethernet frame the guest sends.
 *
 * Called for every frame before libslirp sees it. Frames are untrusted:
 * the filter must read within @len only.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE to hand the frame to libslirp, FALSE to drop it. */
gboolean bl_net_filter_frame (const guint8 *frame, gsize len);

G_END_DECLS

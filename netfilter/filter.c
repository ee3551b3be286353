/* filter.c: the per-frame verdict. For now every frame passes; the
 * allowlist (DNS answers, egress by resolved address, TLS SNI) goes here. */
#include "filter.h"

gboolean
bl_net_filter_frame (const guint8 *frame, gsize len)
{
    return frame != NULL && len > 0;
}

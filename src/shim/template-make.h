/* template-make.h: making a VM template (template.h): boot the guest with
 * its RAM in the template's file, wait for its agent's "ready", stop it and
 * save its device state. */
#pragma once

#include "launch.h"
#include "template.h"

G_BEGIN_DECLS

/* Makes @tpl for boxes like @box (same device set and sizes), with QEMU
 * started for @resolved and @tsc_khz, waiting at most @timeout_ms. Call it
 * holding the template's lock; whatever was there is replaced. Blocks: it
 * runs its own main context. Returns: FALSE with @error set when the
 * template could not be made (nothing of it is left). */
gboolean bl_template_make (const BlLaunch *box, BoxliteAccel resolved, guint tsc_khz,
                           const BlTemplate *tpl, guint timeout_ms, GError **error);

G_END_DECLS

/* qemu-argv.h: the one place the QEMU command line of a box is built.
 *
 * Pure: it reads nothing but its arguments and starts nothing, so every
 * property of the command line is checked by tests/test-qemu-argv.c.
 */
#pragma once

#include <glib.h>

#include <boxlite/boxlite-enums.h>
#include "launch.h"

G_BEGIN_DECLS

/* Longest unix socket path: sun_path holds 108 bytes with the final NUL. */
#define BL_QEMU_MAX_SOCKET_PATH 107

/* Builds QEMU's argv (argv[0] is launch->qemu) for @launch.
 * @resolved: BOXLITE_ACCEL_KVM or BOXLITE_ACCEL_TCG, never AUTO.
 * @tsc_khz: the host TSC rate in kHz, or 0 when unknown; under TCG it is
 *   handed to the guest kernel so its TSC calibration cannot fail.
 * Returns: (transfer full): the argv, or NULL with @error set (a socket
 * path too long, an unsafe hostname, AUTO). */
GStrv bl_qemu_argv_build (const BlLaunch *launch, BoxliteAccel resolved, guint tsc_khz,
                          GError **error);

G_END_DECLS

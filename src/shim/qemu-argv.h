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

/* The box's disk reaches QEMU as two descriptors the monitor opened, one
 * read-write and one read-only, which QEMU finds in fd set
 * BL_QEMU_DISK_FDSET (-add-fd). A path would do for the first open, made
 * before -runas; but when a snapshot moves the disk onto a new layer, QEMU
 * reopens the old file read-only, as its unprivileged user, by its name:
 * with a path it could not (the box's directory is 0700) and would keep the
 * old layer locked for writing, so no clone could read it while the box
 * runs. Through the fd set the reopen finds the read-only descriptor. */
#define BL_QEMU_DISK_FD_RW 3
#define BL_QEMU_DISK_FD_RO 4
#define BL_QEMU_DISK_FDSET 1
/* A template's copy reads the template's device state from this one. */
#define BL_QEMU_STATE_FD 5
/* ...and maps the template's RAM, a sealed memfd, through this one
 * (template-ram.c). */
#define BL_QEMU_RAM_FD 6

/* TCG's translation cache when the launch sets none. bench/bench-exec.c:
 * after a hundred runs of ls, 32 MiB left QEMU 40-56 MiB smaller than 64
 * for 3-21 % more time on that translation-heavy loop, and the exec round
 * trip did not move; 16 cost 20-50 % on the loop and saved 0-18 MiB more. */
#define BL_QEMU_TB_SIZE_MIB 32

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

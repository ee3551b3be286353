/* boxlite-enums.h: enumerations of the public API. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * BoxliteBoxState:
 * @BOXLITE_BOX_STATE_CONFIGURED: created, never started
 * @BOXLITE_BOX_STATE_RUNNING: its monitor and VM are up
 * @BOXLITE_BOX_STATE_STOPPED: stopped cleanly; can be started again
 * @BOXLITE_BOX_STATE_CRASHED: the VM or its monitor died unexpectedly; the
 *   box's `error` says why. It can be started again.
 * @BOXLITE_BOX_STATE_PAUSED: running, with its virtual CPUs stopped
 *
 * Where a box is in its life.
 *
 * Since: 0.1
 */
typedef enum {
    BOXLITE_BOX_STATE_CONFIGURED,
    BOXLITE_BOX_STATE_RUNNING,
    BOXLITE_BOX_STATE_STOPPED,
    BOXLITE_BOX_STATE_CRASHED,
    BOXLITE_BOX_STATE_PAUSED,
} BoxliteBoxState;

/**
 * BoxliteAccel:
 * @BOXLITE_ACCEL_AUTO: KVM when a guest really boots on it, else TCG
 * @BOXLITE_ACCEL_KVM: KVM only; fails when it cannot run the guest
 * @BOXLITE_ACCEL_TCG: QEMU's software emulation
 *
 * Which QEMU accelerator runs the box.
 *
 * Since: 0.1
 */
typedef enum {
    BOXLITE_ACCEL_AUTO,
    BOXLITE_ACCEL_KVM,
    BOXLITE_ACCEL_TCG,
} BoxliteAccel;

/**
 * BoxliteNetworkMode:
 * @BOXLITE_NETWORK_DISABLED: no network interface at all
 * @BOXLITE_NETWORK_ENABLED: a filtered user-space network
 *
 * Whether the box has a network.
 *
 * Since: 0.1
 */
typedef enum {
    BOXLITE_NETWORK_DISABLED,
    BOXLITE_NETWORK_ENABLED,
} BoxliteNetworkMode;

/**
 * BoxliteCopyFlags:
 * @BOXLITE_COPY_NONE: files take the owner of the process that writes them
 * @BOXLITE_COPY_OWNERS: files keep their owners (user and group ids), where
 *   the writing side runs as root
 *
 * How boxlite_box_copy_in() and boxlite_box_copy_out() copy.
 *
 * Since: 0.1
 */
typedef enum /*< flags >*/ {
    BOXLITE_COPY_NONE = 0,
    BOXLITE_COPY_OWNERS = 1 << 0,
} BoxliteCopyFlags;

/**
 * BoxliteRestoreFlags:
 * @BOXLITE_RESTORE_NONE: a running or paused box is refused
 * @BOXLITE_RESTORE_STOP: a running or paused box is stopped first (and
 *   stays stopped)
 *
 * How boxlite_box_snapshot_restore_full() treats a box that runs.
 *
 * Since: 0.1
 */
typedef enum /*< flags >*/ {
    BOXLITE_RESTORE_NONE = 0,
    BOXLITE_RESTORE_STOP = 1 << 0,
} BoxliteRestoreFlags;

G_END_DECLS

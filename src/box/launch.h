/* launch.h: what the library tells a box monitor to run (BOXDIR/launch.json).
 *
 * Written by the library before each start, read by the monitor. Every path
 * is absolute. The monitor validates it again: it may be started by hand.
 */
#pragma once

#include <glib.h>

#include <boxlite/boxlite-enums.h>

G_BEGIN_DECLS

typedef enum {
    BL_TEMPLATE_ROLE_NONE,
    BL_TEMPLATE_ROLE_MAKE,
    BL_TEMPLATE_ROLE_CLONE,
} BlTemplateRole;

typedef struct {
    char *box_id;
    char *box_dir;
    char *qemu;   /* qemu-system-x86_64 */
    char *kernel; /* PVH vmlinux */
    char *initrd; /* cpio with the agent as /init */
    char *disk;   /* the box's qcow2 overlay */
    guint cpus;
    guint memory_mib;
    guint max_processes; /* the guest's pids.max for everything the box runs */
    BoxliteAccel accel;
    BoxliteNetworkMode network;
    GStrv allow_net;  /* allowlist rules, or NULL */
    GStrv ports;      /* port forward specs (netspec.h), or NULL */
    char *hosts_file; /* names the box's DNS answers from, or NULL */
    GStrv volumes;    /* HOST:GUEST[:ro] specs (volume.h), or NULL */
    char *hostname;
    gboolean detach;
    gboolean auto_remove;
    guint auto_stop; /* seconds without activity before the monitor stops the box; 0: never */
    guint boot_timeout_ms;
    /* Start from a template VM when one fits (template.h); where the
     * home keeps them, or NULL for no templates. */
    gboolean fast_start;
    char *templates_dir;
    /* Not saved: set by the monitor for QEMU's command line (qemu-argv.h).
     * MAKE boots the kernel with guest RAM shared in @template_ram; CLONE
     * maps that file copy-on-write and waits for its state (-incoming). */
    BlTemplateRole template_role;
    char *template_ram;
    /* Not saved: the user QEMU drops to once it has opened what it needs
     * (-runas), chosen by the monitor when it runs as root; NULL to keep
     * the monitor's own. */
    char *qemu_user;
    /* Not saved: set by the monitor from its environment for measurements
     * (bench/bench-exec.c). @tb_size_mib: TCG's translation cache, 0 for
     * the default; @qga_port: a second virtio-serial port named
     * org.qemu.guest_agent.0 on BOXDIR/qga.sock, for a cold box only (a
     * template's copy must have the template's devices). */
    guint tb_size_mib;
    gboolean qga_port;
} BlLaunch;

BlLaunch *bl_launch_load (const char *path, GError **error);
gboolean bl_launch_save (const char *path, const BlLaunch *launch, GError **error);
void bl_launch_free (BlLaunch *launch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlLaunch, bl_launch_free)

G_END_DECLS

/* qemu-argv.c: the QEMU command line of a box. */
#define G_LOG_DOMAIN "boxlite-shim"

#include "qemu-argv.h"

#include "bl_net_topology.h"
#include "bl_proto.h"
#include "volume.h"
#include <boxlite/boxlite-error.h>

/* QEMU's option parser splits on ','; a literal comma is written twice. */
static char *
opt_escape (const char *value)
{
    g_auto (GStrv) parts = g_strsplit (value, ",", -1);
    return g_strjoinv (",,", parts);
}

/* The hostname goes to the guest (its "identity") and into its files: only
 * RFC 1123 characters are allowed. */
static gboolean
hostname_valid (const char *name)
{
    gsize len = name ? strlen (name) : 0;

    if (len == 0 || len > 63 || name[0] == '-' || name[0] == '.')
        return FALSE;
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
            return FALSE;
    }
    return TRUE;
}

static char *
socket_path (const BlLaunch *launch, const char *name, GError **error)
{
    g_autofree char *path = g_build_filename (launch->box_dir, name, NULL);

    if (strlen (path) > BL_QEMU_MAX_SOCKET_PATH) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "the socket path %s is %zu bytes long; unix sockets allow at most %d "
                     "(choose a shorter BOXLITE_HOME)",
                     path, strlen (path), BL_QEMU_MAX_SOCKET_PATH);
        return NULL;
    }
    return g_steal_pointer (&path);
}

static void
add (GPtrArray *argv, const char *arg)
{
    g_ptr_array_add (argv, g_strdup (arg));
}

static void add_printf (GPtrArray *argv, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
add_printf (GPtrArray *argv, const char *format, ...)
{
    va_list args;

    va_start (args, format);
    g_ptr_array_add (argv, g_strdup_vprintf (format, args));
    va_end (args);
}

/* Nothing of one box goes here: a template's kernel booted with this line
 * serves every box made from it, which gets its own settings from the
 * host's "identity" (bl_proto.h). */
static char *
kernel_cmdline (BoxliteAccel resolved, guint tsc_khz)
{
    GString *s = g_string_new ("console=ttyS0 quiet loglevel=3 reboot=t panic=-1 "
                               "8250.nr_uarts=1 rdinit=/init");

    if (resolved == BOXLITE_ACCEL_TCG) {
        if (tsc_khz > 0)
            g_string_append_printf (s, " tsc_early_khz=%u", tsc_khz);
        g_string_append (s, " tsc=reliable no_timer_check");
    }
    return g_string_free (s, FALSE);
}

static gboolean
check_launch (const BlLaunch *launch, BoxliteAccel resolved, GError **error)
{
    if (resolved != BOXLITE_ACCEL_KVM && resolved != BOXLITE_ACCEL_TCG) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "the accelerator must be resolved to kvm or tcg before QEMU starts");
        return FALSE;
    }
    if (launch->network != BOXLITE_NETWORK_DISABLED && launch->network != BOXLITE_NETWORK_ENABLED) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT, "unknown network mode");
        return FALSE;
    }
    if (!hostname_valid (launch->hostname)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "invalid hostname '%s': use 1-63 letters, digits, '-' or '.'",
                     launch->hostname ? launch->hostname : "");
        return FALSE;
    }
    if (launch->cpus < 1 || launch->memory_mib < 1 || launch->max_processes < 1) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "a box needs at least one CPU, some memory and room for a process");
        return FALSE;
    }
    return TRUE;
}

/* Each volume is a virtio-9p device over QEMU's `local` backend, which
 * opens the folder once and reaches everything below it one component at
 * a time without following the host's symlinks, so neither `..` nor a link
 * in the folder leads out of it. security_model=mapped-xattr: the guest's
 * owners, modes and special files are kept in user.virtfs.* extended
 * attributes, and what lands on the host is a plain file or directory of
 * QEMU's user with modes 0600/0700, so root in the guest cannot plant a
 * set-uid program, a device node or a symlink in the caller's folder.
 * readonly=on makes QEMU refuse every write, whatever the guest mounts.
 * An `owners` volume (always read-only) shows the host's owners, modes and
 * symlinks instead, as a tree made for a guest (a container's root) needs. */
static gboolean
add_volumes (GPtrArray *argv, const BlLaunch *launch, GError **error)
{
    g_autoptr (GPtrArray) volumes =
        bl_volumes_parse ((const char *const *) launch->volumes, FALSE, error);

    if (!volumes)
        return FALSE;
    for (guint i = 0; i < volumes->len; i++) {
        BlVolume *volume = g_ptr_array_index (volumes, i);
        g_autofree char *host_e = opt_escape (volume->host);
        g_autofree char *tag = bl_volume_tag (i);

        add (argv, "-fsdev");
        add_printf (argv, "local,id=fs%u,path=%s,security_model=%s,multidevs=remap%s", i, host_e,
                    volume->owners ? "none" : "mapped-xattr",
                    volume->read_only ? ",readonly=on" : "");
        add (argv, "-device");
        add_printf (argv, "virtio-9p-device,fsdev=fs%u,mount_tag=%s", i, tag);
    }
    return TRUE;
}

/* Guest RAM in the template's file: shared (written through) while the
 * template boots, private copy-on-write in each copy, so a box never
 * changes what its siblings map. */
static void
add_template_memory (GPtrArray *argv, const BlLaunch *launch)
{
    g_autofree char *ram_e = opt_escape (launch->template_ram);

    add (argv, "-object");
    add_printf (argv, "memory-backend-file,id=mem,size=%uM,mem-path=%s,share=%s",
                launch->memory_mib, ram_e,
                launch->template_role == BL_TEMPLATE_ROLE_MAKE ? "on" : "off");
}

GStrv
bl_qemu_argv_build (const BlLaunch *launch, BoxliteAccel resolved, guint tsc_khz, GError **error)
{
    g_return_val_if_fail (launch != NULL, NULL);

    if (!check_launch (launch, resolved, error))
        return NULL;
    g_autofree char *qmp = socket_path (launch, "qmp.sock", error);
    if (!qmp)
        return NULL;
    g_autofree char *agent = socket_path (launch, "agent.sock", error);
    if (!agent)
        return NULL;
    g_autofree char *net = NULL;
    if (launch->network == BOXLITE_NETWORK_ENABLED) {
        net = socket_path (launch, "net.sock", error);
        if (!net)
            return NULL;
    }
    /* The console goes to the monitor, which bounds its log (shim-console.c). */
    g_autofree char *console = socket_path (launch, "console.sock", error);
    if (!console)
        return NULL;
    g_autofree char *qmp_e = opt_escape (qmp);
    g_autofree char *agent_e = opt_escape (agent);
    g_autofree char *console_e = opt_escape (console);
    g_autofree char *disk_e = opt_escape (launch->disk);
    g_autofree char *append = kernel_cmdline (resolved, tsc_khz);
    g_autofree char *machine = g_strdup ("microvm,acpi=off,rtc=on");
    if (launch->template_role != BL_TEMPLATE_ROLE_NONE) {
        g_autofree char *old = g_steal_pointer (&machine);
        if (!launch->template_ram) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                         "a template's QEMU needs its RAM file");
            return NULL;
        }
        machine = g_strconcat (old, ",memory-backend=mem", NULL);
    }
    g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);

    add (argv, launch->qemu);
    add (argv, "-M");
    add (argv, machine);
    add (argv, "-nodefaults");
    add (argv, "-no-user-config");
    add (argv, "-display");
    add (argv, "none");
    add (argv, "-no-reboot");
    /* QEMU's seccomp filter goes on before -runas drops to the user: set*id
     * must stay allowed for that one step. Afterwards the process has no
     * capabilities and no_new_privs, so no set*id call can regain any. */
    add (argv, "-sandbox");
    add_printf (argv, "on,obsolete=deny,elevateprivileges=%s,spawn=deny,resourcecontrol=deny",
                launch->qemu_user ? "allow" : "deny");
    if (launch->qemu_user) {
        add (argv, "-runas");
        add (argv, launch->qemu_user);
    }
    add (argv, "-accel");
    if (resolved == BOXLITE_ACCEL_KVM) {
        add (argv, "kvm");
        add (argv, "-cpu");
        add (argv, "host,-arch-capabilities");
    } else {
        add_printf (argv, "tcg,tb-size=%u",
                    launch->tb_size_mib ? launch->tb_size_mib : BL_QEMU_TB_SIZE_MIB);
        add (argv, "-cpu");
        add (argv, "max");
    }
    add (argv, "-smp");
    add_printf (argv, "%u", launch->cpus);
    add (argv, "-m");
    add_printf (argv, "%u", launch->memory_mib);
    if (launch->template_role != BL_TEMPLATE_ROLE_NONE)
        add_template_memory (argv, launch);
    /* A template's copy runs the kernel already in its memory: loading it
     * again would overwrite the running one. */
    if (launch->template_role != BL_TEMPLATE_ROLE_CLONE) {
        add (argv, "-kernel");
        add (argv, launch->kernel);
        add (argv, "-initrd");
        add (argv, launch->initrd);
        add (argv, "-append");
        add (argv, append);
    }
    add (argv, "-chardev");
    add_printf (argv, "socket,id=con,path=%s,server=off", console_e);
    add (argv, "-serial");
    add (argv, "chardev:con");
    /* cache=writeback, not unsafe: the overlay is the box's disk and outlives
     * a stop, so the guest's flushes must reach the host's disk, or a host
     * crash can leave a qcow2 with torn metadata. Writes without a flush
     * still go through the page cache, so most workloads see no cost. */
    if (launch->template_role == BL_TEMPLATE_ROLE_MAKE) {
        /* The template's maker runs as the monitor's user on a scratch disk
         * that its guest never mounts: a path will do. */
        add (argv, "-drive");
        add_printf (argv, "id=root,file=%s,format=qcow2,if=none,cache=writeback,discard=unmap",
                    disk_e);
    } else {
        add (argv, "-add-fd");
        add_printf (argv, "fd=%d,set=%d,opaque=disk-rw", BL_QEMU_DISK_FD_RW, BL_QEMU_DISK_FDSET);
        add (argv, "-add-fd");
        add_printf (argv, "fd=%d,set=%d,opaque=disk-ro", BL_QEMU_DISK_FD_RO, BL_QEMU_DISK_FDSET);
        add (argv, "-drive");
        add_printf (argv,
                    "id=root,file=/dev/fdset/%d,format=qcow2,if=none,cache=writeback,discard=unmap",
                    BL_QEMU_DISK_FDSET);
    }
    add (argv, "-device");
    add (argv, "virtio-blk-device,drive=root");
    add (argv, "-device");
    add (argv, "virtio-serial-device");
    add (argv, "-chardev");
    add_printf (argv, "socket,id=agent,path=%s,server=on,wait=off", agent_e);
    add (argv, "-device");
    add (argv, "virtserialport,chardev=agent,name=" BL_PROTO_PORT_NAME);
    if (launch->qga_port && launch->template_role == BL_TEMPLATE_ROLE_NONE) {
        g_autofree char *qga = socket_path (launch, "qga.sock", error);
        if (!qga)
            return NULL;
        g_autofree char *qga_e = opt_escape (qga);
        add (argv, "-chardev");
        add_printf (argv, "socket,id=qga,path=%s,server=on,wait=off", qga_e);
        add (argv, "-device");
        add (argv, "virtserialport,chardev=qga,name=org.qemu.guest_agent.0");
    }
    add (argv, "-device");
    add (argv, "virtio-rng-device");
    if (net) {
        /* The monitor listens on net.sock before QEMU starts (the stream
         * client does not reconnect) and runs the network behind it. */
        g_autofree char *net_e = opt_escape (net);
        add (argv, "-netdev");
        add_printf (argv, "stream,id=net0,server=off,addr.type=unix,addr.path=%s", net_e);
        add (argv, "-device");
        add (argv, "virtio-net-device,netdev=net0");
    }
    if (!add_volumes (argv, launch, error))
        return NULL;
    add (argv, "-qmp");
    add_printf (argv, "unix:%s,server=on,wait=off", qmp_e);
    if (launch->template_role == BL_TEMPLATE_ROLE_CLONE) {
        /* The monitor sets x-ignore-shared (not settable here in 7.2), then
         * loads the state; -S keeps the copy paused until it resized the
         * disk (shim-template.c). */
        add (argv, "-incoming");
        add (argv, "defer");
        add (argv, "-S");
    }
    g_ptr_array_add (argv, NULL);
    return (GStrv) g_ptr_array_free (g_steal_pointer (&argv), FALSE);
}

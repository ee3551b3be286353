/* test-qemu-argv.c: the QEMU command line and the accelerator choice,
 * checked without starting anything. */
#include <glib/gstdio.h>
#include <pwd.h>
#include <unistd.h>

#include <gio/gio.h>

#include "accel.h"
#include <boxlite/boxlite-error.h>
#include "qemu-argv.h"
#include "volume-access.h"

static BlLaunch *
launch_new (const char *box_dir)
{
    BlLaunch *launch = g_new0 (BlLaunch, 1);

    launch->box_id = g_strdup ("0123abcd");
    launch->box_dir = g_strdup (box_dir);
    launch->qemu = g_strdup ("/usr/bin/qemu-system-x86_64");
    launch->kernel = g_strdup ("/k/vmlinux");
    launch->initrd = g_strdup ("/k/initrd.cpio");
    launch->disk = g_build_filename (box_dir, "disk.qcow2", NULL);
    launch->cpus = 2;
    launch->memory_mib = 768;
    launch->max_processes = 300;
    launch->accel = BOXLITE_ACCEL_TCG;
    launch->network = BOXLITE_NETWORK_DISABLED;
    launch->hostname = g_strdup ("mybox");
    launch->boot_timeout_ms = 60000;
    return launch;
}

/* The value that follows the @nth occurrence (0-based) of @option. */
static const char *
value_of (GStrv argv, const char *option, guint nth)
{
    for (guint i = 0; argv[i]; i++) {
        if (g_str_equal (argv[i], option) && nth-- == 0) {
            g_assert_nonnull (argv[i + 1]);
            return argv[i + 1];
        }
    }
    return NULL;
}

static gboolean
has_arg (GStrv argv, const char *arg)
{
    return g_strv_contains ((const char *const *) argv, arg);
}

static GStrv
build_ok (const BlLaunch *launch, BoxliteAccel accel, guint tsc)
{
    g_autoptr (GError) error = NULL;
    GStrv argv = bl_qemu_argv_build (launch, accel, tsc, &error);

    g_assert_no_error (error);
    g_assert_nonnull (argv);
    return argv;
}

static void
test_machine (void)
{
    g_autoptr (BlLaunch) launch = launch_new ("/b/box1");
    g_auto (GStrv) argv = build_ok (launch, BOXLITE_ACCEL_TCG, 0);

    g_assert_cmpstr (argv[0], ==, "/usr/bin/qemu-system-x86_64");
    g_assert_cmpstr (value_of (argv, "-M", 0), ==, "microvm,acpi=off,rtc=on");
    g_assert_true (has_arg (argv, "-nodefaults"));
    g_assert_true (has_arg (argv, "-no-user-config"));
    g_assert_true (has_arg (argv, "-no-reboot"));
    g_assert_cmpstr (value_of (argv, "-display", 0), ==, "none");
    g_assert_cmpstr (value_of (argv, "-sandbox", 0), ==,
                     "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
    g_assert_false (has_arg (argv, "-runas"));
    g_assert_cmpstr (value_of (argv, "-smp", 0), ==, "2");
    g_assert_cmpstr (value_of (argv, "-m", 0), ==, "768");
    g_assert_cmpstr (value_of (argv, "-kernel", 0), ==, "/k/vmlinux");
    g_assert_cmpstr (value_of (argv, "-initrd", 0), ==, "/k/initrd.cpio");
    g_assert_null (argv[g_strv_length (argv)]);
}

static void
test_tcg (void)
{
    g_autoptr (BlLaunch) launch = launch_new ("/b/box1");
    g_auto (GStrv) argv = build_ok (launch, BOXLITE_ACCEL_TCG, 2599996);

    g_assert_cmpstr (value_of (argv, "-accel", 0), ==, "tcg,tb-size=32");
    g_assert_cmpstr (value_of (argv, "-cpu", 0), ==, "max");
    g_assert_cmpstr (value_of (argv, "-append", 0), ==,
                     "console=ttyS0 quiet loglevel=3 reboot=t panic=-1 8250.nr_uarts=1 "
                     "rdinit=/init tsc_early_khz=2599996 tsc=reliable no_timer_check");
}

static void
test_tcg_unknown_tsc (void)
{
    g_autoptr (BlLaunch) launch = launch_new ("/b/box1");
    g_auto (GStrv) argv = build_ok (launch, BOXLITE_ACCEL_TCG, 0);
    const char *append = value_of (argv, "-append", 0);

    g_assert_null (strstr (append, "tsc_early_khz"));
    g_assert_true (g_str_has_suffix (append, " tsc=reliable no_timer_check"));
}

static void
test_kvm (void)
{
    g_autoptr (BlLaunch) launch = launch_new ("/b/box1");
    g_auto (GStrv) argv = build_ok (launch, BOXLITE_ACCEL_KVM, 2599996);

    g_assert_cmpstr (value_of (argv, "-accel", 0), ==, "kvm");
    g_assert_cmpstr (value_of (argv, "-cpu", 0), ==, "host,-arch-capabilities");
    g_assert_cmpstr (value_of (argv, "-append", 0), ==,
                     "console=ttyS0 quiet loglevel=3 reboot=t panic=-1 8250.nr_uarts=1 "
                     "rdinit=/init");
}

static void
test_devices (void)
{
    g_autoptr (BlLaunch) launch = launch_new ("/b/box1");
    g_auto (GStrv) argv = build_ok (launch, BOXLITE_ACCEL_TCG, 0);

    g_assert_cmpstr (value_of (argv, "-chardev", 0), ==,
                     "socket,id=con,path=/b/box1/console.sock,server=off");
    g_assert_cmpstr (value_of (argv, "-serial", 0), ==, "chardev:con");
    /* The disk is two descriptors the monitor opens (qemu-argv.h). */
    g_assert_cmpstr (value_of (argv, "-add-fd", 0), ==, "fd=3,set=1,opaque=disk-rw");
    g_assert_cmpstr (value_of (argv, "-add-fd", 1), ==, "fd=4,set=1,opaque=disk-ro");
    g_assert_cmpstr (value_of (argv, "-drive", 0), ==,
                     "id=root,file=/dev/fdset/1,format=qcow2,if=none,cache=writeback,"
                     "discard=unmap");
    g_assert_cmpstr (value_of (argv, "-device", 0), ==, "virtio-blk-device,drive=root");
    g_assert_cmpstr (value_of (argv, "-device", 1), ==, "virtio-serial-device");
    g_assert_cmpstr (value_of (argv, "-chardev", 1), ==,
                     "socket,id=agent,path=/b/box1/agent.sock,server=on,wait=off");
    g_assert_cmpstr (value_of (argv, "-device", 2), ==,
                     "virtserialport,chardev=agent,name=org.boxlite.agent.0");
    g_assert_cmpstr (value_of (argv, "-device", 3), ==, "virtio-rng-device");
    g_assert_null (value_of (argv, "-device", 4));
    g_assert_cmpstr (value_of (argv, "-qmp", 0), ==, "unix:/b/box1/qmp.sock,server=on,wait=off");
}

static void
test_no_network (void)
{
    g_autoptr (BlLaunch) launch = launch_new ("/b/box1");
    g_auto (GStrv) argv = build_ok (launch, BOXLITE_ACCEL_TCG, 0);

    g_assert_null (value_of (argv, "-netdev", 0));
    g_assert_null (value_of (argv, "-nic", 0));
    for (guint i = 0; argv[i]; i++)
        g_assert_null (strstr (argv[i], "virtio-net"));
}

static void
test_network_enabled (void)
{
    g_autoptr (BlLaunch) launch = launch_new ("/b/box1");

    launch->network = BOXLITE_NETWORK_ENABLED;
    g_auto (GStrv) argv = build_ok (launch, BOXLITE_ACCEL_TCG, 0);
    g_assert_cmpstr (value_of (argv, "-netdev", 0), ==,
                     "stream,id=net0,server=off,addr.type=unix,addr.path=/b/box1/net.sock");
    g_assert_null (value_of (argv, "-netdev", 1));
    g_assert_cmpstr (value_of (argv, "-device", 4), ==, "virtio-net-device,netdev=net0");
    g_assert_null (value_of (argv, "-device", 5));

    /* The guest learns it has a network from "identity", not from the
     * kernel's command line, which a template shares with every box. */
    launch->network = BOXLITE_NETWORK_DISABLED;
    g_auto (GStrv) off = build_ok (launch, BOXLITE_ACCEL_TCG, 0);
    g_assert_cmpstr (value_of (argv, "-append", 0), ==, value_of (off, "-append", 0));
}

/* A template VM boots the kernel with its RAM shared in the template's
 * file; a copy maps that file privately, has no kernel to load, gets its
 * disk through the fd set and waits for its state. */
static void
test_template_roles (void)
{
    g_autoptr (BlLaunch) launch = launch_new ("/b/box1");
    g_autoptr (GError) error = NULL;

    launch->template_role = BL_TEMPLATE_ROLE_MAKE;
    g_assert_null (bl_qemu_argv_build (launch, BOXLITE_ACCEL_TCG, 0, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    launch->template_ram = g_strdup ("/dev/shm/t,1.ram");
    g_auto (GStrv) make = build_ok (launch, BOXLITE_ACCEL_TCG, 0);
    g_assert_cmpstr (value_of (make, "-M", 0), ==, "microvm,acpi=off,rtc=on,memory-backend=mem");
    g_assert_cmpstr (value_of (make, "-object", 0), ==,
                     "memory-backend-file,id=mem,size=768M,mem-path=/dev/shm/t,,1.ram,share=on");
    g_assert_nonnull (value_of (make, "-kernel", 0));
    g_assert_null (value_of (make, "-incoming", 0));

    launch->template_role = BL_TEMPLATE_ROLE_CLONE;
    g_auto (GStrv) clone = build_ok (launch, BOXLITE_ACCEL_TCG, 0);
    g_assert_cmpstr (value_of (clone, "-object", 0), ==,
                     "memory-backend-file,id=mem,size=768M,mem-path=/dev/shm/t,,1.ram,share=off");
    g_assert_null (value_of (clone, "-kernel", 0));
    g_assert_null (value_of (clone, "-initrd", 0));
    g_assert_null (value_of (clone, "-append", 0));
    g_assert_cmpstr (value_of (clone, "-incoming", 0), ==, "defer");
    g_assert_true (g_strv_contains ((const char *const *) clone, "-S"));
    g_assert_cmpstr (value_of (clone, "-add-fd", 0), ==, "fd=3,set=1,opaque=disk-rw");
    g_assert_cmpstr (value_of (clone, "-add-fd", 1), ==, "fd=4,set=1,opaque=disk-ro");
    g_assert_true (g_str_has_prefix (value_of (clone, "-drive", 0), "id=root,file=/dev/fdset/1,"));
    /* The device set is the template's: only memory, kernel and disk differ. */
    for (guint i = 0; value_of (make, "-device", i); i++)
        g_assert_cmpstr (value_of (make, "-device", i), ==, value_of (clone, "-device", i));
}

/* The measurement knobs: the cache size goes on -accel; the guest agent
 * port of the peer exists on a cold box only, never on a template's
 * maker or copy, whose device set must stay the template's. */
static void
test_bench_knobs (void)
{
    g_autoptr (BlLaunch) launch = launch_new ("/b/box1");

    launch->tb_size_mib = 16;
    launch->qga_port = TRUE;
    g_auto (GStrv) cold = build_ok (launch, BOXLITE_ACCEL_TCG, 0);
    g_assert_cmpstr (value_of (cold, "-accel", 0), ==, "tcg,tb-size=16");
    g_assert_true (g_strv_contains ((const char *const *) cold,
                                    "socket,id=qga,path=/b/box1/qga.sock,server=on,wait=off"));
    g_assert_true (g_strv_contains ((const char *const *) cold,
                                    "virtserialport,chardev=qga,name=org.qemu.guest_agent.0"));

    launch->template_role = BL_TEMPLATE_ROLE_CLONE;
    launch->template_ram = g_strdup ("/dev/shm/t.ram");
    g_auto (GStrv) clone = build_ok (launch, BOXLITE_ACCEL_TCG, 0);
    for (guint i = 0; clone[i]; i++)
        g_assert_null (strstr (clone[i], "qga"));
}

/* A monitor running as root has QEMU drop to an unprivileged user once it
 * is set up; its seccomp filter then has to let that one set*id through. */
static void
test_runas (void)
{
    g_autoptr (BlLaunch) launch = launch_new ("/b/box1");

    launch->qemu_user = g_strdup ("boxlite-qemu");
    g_auto (GStrv) argv = build_ok (launch, BOXLITE_ACCEL_TCG, 0);
    g_assert_cmpstr (value_of (argv, "-runas", 0), ==, "boxlite-qemu");
    g_assert_cmpstr (value_of (argv, "-sandbox", 0), ==,
                     "on,obsolete=deny,elevateprivileges=allow,spawn=deny,resourcecontrol=deny");
}

static void
test_socket_path_limit (void)
{
    /* "/" + 93 chars + "/console.sock" (13) = 107 bytes: the longest allowed
     * (the monitor's control.sock is as long). */
    g_autofree char *name = g_strnfill (93, 'a');
    g_autofree char *dir = g_strconcat ("/", name, NULL);
    g_autoptr (BlLaunch) launch = launch_new (dir);
    g_auto (GStrv) argv = build_ok (launch, BOXLITE_ACCEL_TCG, 0);

    g_autofree char *longer = g_strconcat (dir, "b", NULL);
    g_autoptr (BlLaunch) too_long = launch_new (longer);
    g_autoptr (GError) error = NULL;
    g_auto (GStrv) none = bl_qemu_argv_build (too_long, BOXLITE_ACCEL_TCG, 0, &error);
    g_assert_null (none);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_autofree char *path = g_strconcat (longer, "/console.sock", NULL);
    g_assert_nonnull (strstr (error->message, path));
    g_assert_nonnull (strstr (error->message, "108"));
}

static void
test_commas_escaped (void)
{
    g_autoptr (BlLaunch) launch = launch_new ("/b/a,b");
    g_auto (GStrv) argv = build_ok (launch, BOXLITE_ACCEL_TCG, 0);

    g_assert_cmpstr (value_of (argv, "-qmp", 0), ==, "unix:/b/a,,b/qmp.sock,server=on,wait=off");
    g_assert_cmpstr (value_of (argv, "-chardev", 0), ==,
                     "socket,id=con,path=/b/a,,b/console.sock,server=off");
}

/* Each volume is one 9p device over the local backend: mapped-xattr, and
 * readonly=on for :ro, so QEMU itself refuses the writes; an owners volume
 * shows the host's own owners (model none), read-only. */
static void
test_volumes (void)
{
    g_autoptr (BlLaunch) launch = launch_new ("/b/box1");
    const char *const specs[] = { "/srv/a,b:/data", "/srv/ro:/mnt/ro/:ro", "/srv/c:/c:ro,owners",
                                  NULL };

    launch->volumes = g_strdupv ((char **) specs);
    g_auto (GStrv) argv = build_ok (launch, BOXLITE_ACCEL_TCG, 0);

    g_assert_cmpstr (value_of (argv, "-fsdev", 0), ==,
                     "local,id=fs0,path=/srv/a,,b,security_model=mapped-xattr,multidevs=remap");
    g_assert_cmpstr (value_of (argv, "-fsdev", 1), ==,
                     "local,id=fs1,path=/srv/ro,security_model=mapped-xattr,multidevs=remap,"
                     "readonly=on");
    g_assert_cmpstr (value_of (argv, "-fsdev", 2), ==,
                     "local,id=fs2,path=/srv/c,security_model=none,multidevs=remap,readonly=on");
    g_assert_null (value_of (argv, "-fsdev", 3));
    g_assert_true (has_arg (argv, "virtio-9p-device,fsdev=fs0,mount_tag=boxlite0"));
    g_assert_true (has_arg (argv, "virtio-9p-device,fsdev=fs1,mount_tag=boxlite1"));

    g_autoptr (BlLaunch) none = launch_new ("/b/box1");
    g_auto (GStrv) plain = build_ok (none, BOXLITE_ACCEL_TCG, 0);
    g_assert_null (value_of (plain, "-fsdev", 0));
}

/* A launch document edited by hand cannot give QEMU a bad volume either. */
static void
test_volumes_refused (void)
{
    g_autoptr (BlLaunch) launch = launch_new ("/b/box1");
    g_autoptr (GError) error = NULL;
    const char *const specs[] = { "/srv/a:/data", "/srv/b:/data/", NULL };

    launch->volumes = g_strdupv ((char **) specs);
    g_auto (GStrv) argv = bl_qemu_argv_build (launch, BOXLITE_ACCEL_TCG, 0, &error);
    g_assert_null (argv);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "already a volume"));
}

/* The kernel's answer for QEMU's user, not the monitor's: as root, a
 * root-owned 0755 folder is readable by boxlite-qemu but not writable, and
 * a 0700 one neither; the path leading to it does not count (QEMU opens the
 * folder before it drops privileges). */
static void
test_volume_access (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *base = g_dir_make_tmp ("volume-access-XXXXXX", &error);
    g_assert_no_error (error);
    g_autofree char *open_dir = g_build_filename (base, "open", NULL);
    g_autofree char *closed_dir = g_build_filename (base, "closed", NULL);
    g_assert_cmpint (g_mkdir (open_dir, 0755), ==, 0);
    g_assert_cmpint (g_mkdir (closed_dir, 0700), ==, 0);
    g_assert_cmpint (g_chmod (base, 0700), ==, 0);

    /* As ourselves: what we made, we may use. */
    g_assert_true (bl_volume_access_check (open_dir, FALSE, NULL, &error));
    g_assert_no_error (error);

    const char *user = getpwnam ("boxlite-qemu") ? "boxlite-qemu" : "nobody";
    if (geteuid () == 0 && getpwnam (user)) {
        g_assert_true (bl_volume_access_check (open_dir, TRUE, user, &error));
        g_assert_no_error (error);
        g_assert_false (bl_volume_access_check (open_dir, FALSE, user, &error));
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
        g_assert_nonnull (strstr (error->message, user));
        g_assert_nonnull (strstr (error->message, "setfacl"));
        g_assert_nonnull (strstr (error->message, open_dir));
        g_clear_error (&error);
        g_assert_false (bl_volume_access_check (closed_dir, TRUE, user, &error));
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
        g_clear_error (&error);
        /* The probe's credentials stayed in its thread. */
        g_assert_true (bl_volume_access_check (closed_dir, FALSE, NULL, &error));
        g_assert_no_error (error);
        /* Made its own, the folder is usable. */
        struct passwd *pw = getpwnam (user);
        g_assert_cmpint (chown (closed_dir, pw->pw_uid, (gid_t) -1), ==, 0);
        g_assert_true (bl_volume_access_check (closed_dir, FALSE, user, &error));
        g_assert_no_error (error);
    }
    g_autofree char *missing = g_build_filename (base, "missing", NULL);
    g_assert_false (bl_volume_access_check (missing, TRUE, NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_cmpint (g_rmdir (open_dir), ==, 0);
    g_assert_cmpint (g_rmdir (closed_dir), ==, 0);
    g_assert_cmpint (g_rmdir (base), ==, 0);
}

static void
test_bad_hostname (void)
{
    static const char *const bad[] = {
        "",   "a b",  "x quiet init=/bin/sh",
        "-x", "a\"b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
        g_autoptr (BlLaunch) launch = launch_new ("/b/box1");
        g_autoptr (GError) error = NULL;
        g_free (launch->hostname);
        launch->hostname = g_strdup (bad[i]);
        g_auto (GStrv) argv = bl_qemu_argv_build (launch, BOXLITE_ACCEL_TCG, 0, &error);
        g_assert_null (argv);
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    }
}

static void
test_unresolved_accel (void)
{
    g_autoptr (BlLaunch) launch = launch_new ("/b/box1");
    g_autoptr (GError) error = NULL;
    g_auto (GStrv) argv = bl_qemu_argv_build (launch, BOXLITE_ACCEL_AUTO, 0, &error);

    g_assert_null (argv);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
}

/* A fake host: a file for /dev/kvm, a cpuinfo, a /sys/module. */
typedef struct {
    char *root;
    char *dev_kvm;
    char *cpuinfo;
    char *modules;
    BlAccelHost host;
} FakeHost;

static void
fake_host_setup (FakeHost *f, gconstpointer data)
{
    f->root = g_dir_make_tmp ("test-accel-XXXXXX", NULL);
    g_assert_nonnull (f->root);
    f->dev_kvm = g_build_filename (f->root, "kvm", NULL);
    f->cpuinfo = g_build_filename (f->root, "cpuinfo", NULL);
    f->modules = g_build_filename (f->root, "module", NULL);
    g_assert_true (g_file_set_contents (f->dev_kvm, "", 0, NULL));
    g_assert_cmpint (g_mkdir (f->modules, 0700), ==, 0);
    f->host = (BlAccelHost){ f->dev_kvm, f->cpuinfo, f->modules };
}

static void
fake_host_teardown (FakeHost *f, gconstpointer data)
{
    g_autofree char *pvm = g_build_filename (f->modules, "kvm_pvm", NULL);
    g_rmdir (pvm);
    g_rmdir (f->modules);
    g_unlink (f->dev_kvm);
    g_unlink (f->cpuinfo);
    g_rmdir (f->root);
    g_free (f->modules);
    g_free (f->cpuinfo);
    g_free (f->dev_kvm);
    g_free (f->root);
}

static void
write_cpuinfo (FakeHost *f, const char *flags)
{
    g_autofree char *text = g_strdup_printf (
        "processor\t: 0\nmodel name\t: Test CPU\ncpu MHz\t\t: 2599.996\nflags\t\t: %s\n\n"
        "processor\t: 1\ncpu MHz\t\t: 1000.000\nflags\t\t: fpu\n",
        flags);
    g_assert_true (g_file_set_contents (f->cpuinfo, text, -1, NULL));
}

static void
test_accel_real_hardware (FakeHost *f, gconstpointer data)
{
    BoxliteAccel resolved = BOXLITE_ACCEL_AUTO;
    g_autoptr (GError) error = NULL;

    write_cpuinfo (f, "fpu vme vmx sse");
    g_assert_true (bl_accel_resolve (&f->host, BOXLITE_ACCEL_AUTO, &resolved, &error));
    g_assert_no_error (error);
    g_assert_cmpint (resolved, ==, BOXLITE_ACCEL_KVM);
    write_cpuinfo (f, "fpu svm");
    g_assert_true (bl_accel_resolve (&f->host, BOXLITE_ACCEL_KVM, &resolved, &error));
    g_assert_cmpint (resolved, ==, BOXLITE_ACCEL_KVM);
    g_assert_true (bl_accel_resolve (&f->host, BOXLITE_ACCEL_TCG, &resolved, &error));
    g_assert_cmpint (resolved, ==, BOXLITE_ACCEL_TCG);
}

static void
test_accel_no_vmx (FakeHost *f, gconstpointer data)
{
    BoxliteAccel resolved = BOXLITE_ACCEL_AUTO;
    g_autoptr (GError) error = NULL;

    /* "vmxx" or "svmx" are not vmx or svm. */
    write_cpuinfo (f, "fpu hypervisor vmxx svmx");
    g_assert_true (bl_accel_resolve (&f->host, BOXLITE_ACCEL_AUTO, &resolved, &error));
    g_assert_cmpint (resolved, ==, BOXLITE_ACCEL_TCG);
    g_assert_false (bl_accel_resolve (&f->host, BOXLITE_ACCEL_KVM, &resolved, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "vmx or svm"));
}

static void
test_accel_pvm (FakeHost *f, gconstpointer data)
{
    g_autofree char *pvm = g_build_filename (f->modules, "kvm_pvm", NULL);
    BoxliteAccel resolved = BOXLITE_ACCEL_AUTO;
    g_autoptr (GError) error = NULL;

    write_cpuinfo (f, "fpu vmx");
    g_assert_cmpint (g_mkdir (pvm, 0700), ==, 0);
    g_assert_true (bl_accel_resolve (&f->host, BOXLITE_ACCEL_AUTO, &resolved, &error));
    g_assert_cmpint (resolved, ==, BOXLITE_ACCEL_TCG);
    g_assert_false (bl_accel_resolve (&f->host, BOXLITE_ACCEL_KVM, &resolved, &error));
    g_assert_nonnull (strstr (error->message, "kvm_pvm"));
}

static void
test_accel_no_dev_kvm (FakeHost *f, gconstpointer data)
{
    BoxliteAccel resolved = BOXLITE_ACCEL_AUTO;
    g_autoptr (GError) error = NULL;

    write_cpuinfo (f, "fpu vmx");
    g_unlink (f->dev_kvm);
    g_assert_true (bl_accel_resolve (&f->host, BOXLITE_ACCEL_AUTO, &resolved, &error));
    g_assert_cmpint (resolved, ==, BOXLITE_ACCEL_TCG);
    g_assert_false (bl_accel_resolve (&f->host, BOXLITE_ACCEL_KVM, &resolved, &error));
    g_assert_nonnull (strstr (error->message, f->dev_kvm));
}

static void
test_tsc_khz (FakeHost *f, gconstpointer data)
{
    write_cpuinfo (f, "fpu");
    g_assert_cmpuint (bl_accel_host_tsc_khz (f->cpuinfo), ==, 2599996);
    g_assert_true (g_file_set_contents (f->cpuinfo, "processor : 0\ncpu MHz : fast\n", -1, NULL));
    g_assert_cmpuint (bl_accel_host_tsc_khz (f->cpuinfo), ==, 0);
    g_assert_true (g_file_set_contents (f->cpuinfo, "processor : 0\n", -1, NULL));
    g_assert_cmpuint (bl_accel_host_tsc_khz (f->cpuinfo), ==, 0);
    g_assert_cmpuint (bl_accel_host_tsc_khz ("/nonexistent/cpuinfo"), ==, 0);
}

static void
test_cpuid_tsc_khz (void)
{
    guint khz = bl_accel_cpuid_tsc_khz ();

    /* Host-dependent: either the CPU does not say, or it says something sane. */
    g_assert_true (khz == 0 || (khz >= 1000 && khz < 100000000));
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/qemu-argv/machine", test_machine);
    g_test_add_func ("/qemu-argv/tcg", test_tcg);
    g_test_add_func ("/qemu-argv/tcg-unknown-tsc", test_tcg_unknown_tsc);
    g_test_add_func ("/qemu-argv/kvm", test_kvm);
    g_test_add_func ("/qemu-argv/devices", test_devices);
    g_test_add_func ("/qemu-argv/no-network", test_no_network);
    g_test_add_func ("/qemu-argv/network-enabled", test_network_enabled);
    g_test_add_func ("/qemu-argv/socket-path-limit", test_socket_path_limit);
    g_test_add_func ("/qemu-argv/runas", test_runas);
    g_test_add_func ("/qemu-argv/commas-escaped", test_commas_escaped);
    g_test_add_func ("/qemu-argv/bad-hostname", test_bad_hostname);
    g_test_add_func ("/qemu-argv/template-roles", test_template_roles);
    g_test_add_func ("/qemu-argv/bench-knobs", test_bench_knobs);
    g_test_add_func ("/qemu-argv/volumes", test_volumes);
    g_test_add_func ("/qemu-argv/volumes-refused", test_volumes_refused);
    g_test_add_func ("/qemu-argv/volume-access", test_volume_access);
    g_test_add_func ("/qemu-argv/unresolved-accel", test_unresolved_accel);
    g_test_add ("/accel/real-hardware", FakeHost, NULL, fake_host_setup, test_accel_real_hardware,
                fake_host_teardown);
    g_test_add ("/accel/no-vmx", FakeHost, NULL, fake_host_setup, test_accel_no_vmx,
                fake_host_teardown);
    g_test_add ("/accel/kvm-pvm", FakeHost, NULL, fake_host_setup, test_accel_pvm,
                fake_host_teardown);
    g_test_add ("/accel/no-dev-kvm", FakeHost, NULL, fake_host_setup, test_accel_no_dev_kvm,
                fake_host_teardown);
    g_test_add ("/accel/tsc-khz", FakeHost, NULL, fake_host_setup, test_tsc_khz,
                fake_host_teardown);
    g_test_add_func ("/accel/cpuid-tsc-khz", test_cpuid_tsc_khz);
    return g_test_run ();
}

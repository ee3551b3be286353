/* accel.h: choosing the QEMU accelerator for a box, without booting one.
 *
 * /dev/kvm existing and KVM_CREATE_VM succeeding do not mean a Linux guest
 * boots: on a host that is itself a guest, /dev/kvm can be a software
 * virtualizer (the kvm_pvm module) on which our guest hangs in early boot.
 * So KVM counts as usable only when
 *   - /dev/kvm opens read-write,
 *   - the CPU has hardware virtualization (vmx or svm in /proc/cpuinfo), and
 *   - the kvm_pvm module is not loaded (/sys/module/kvm_pvm).
 * The check reads three files and takes well under a millisecond.
 */
#pragma once

#include <glib.h>

#include <boxlite/boxlite-enums.h>

G_BEGIN_DECLS

/* Where the probe looks; the tests point it at fake files. */
typedef struct {
    const char *dev_kvm;    /* "/dev/kvm" */
    const char *cpuinfo;    /* "/proc/cpuinfo" */
    const char *module_dir; /* "/sys/module" */
} BlAccelHost;

extern const BlAccelHost bl_accel_real_host;

/* Whether KVM on @host can run our guest. Returns TRUE, or FALSE with
 * @why (transfer full) set to a sentence saying why not. */
gboolean bl_accel_kvm_usable (const BlAccelHost *host, char **why);

/* Resolves @requested to KVM or TCG in *@resolved. AUTO picks KVM only when
 * usable and logs why it chose TCG otherwise; KVM requested where unusable
 * fails with BOXLITE_ERROR_INVALID_ARGUMENT naming the reason. */
gboolean bl_accel_resolve (const BlAccelHost *host, BoxliteAccel requested, BoxliteAccel *resolved,
                           GError **error);

/* The host TSC frequency in kHz from @cpuinfo ("cpu MHz" of the first CPU;
 * with constant_tsc that is the TSC rate the kernel measured), or 0 when
 * unknown. */
guint bl_accel_host_tsc_khz (const char *cpuinfo);

/* The TSC frequency in kHz as the CPU itself states it, which is exact and
 * does not move with frequency scaling (unlike "cpu MHz" on hosts with
 * cpufreq): CPUID leaf 0x15 (TSC/crystal ratio and crystal rate), else the
 * hypervisor leaf 0x40000010. 0 when the CPU states neither, as on the
 * project's machines (leaf 0x15 is zero, the KVM leaves end at 0x40000001);
 * the caller then falls back to bl_accel_host_tsc_khz(). */
guint bl_accel_cpuid_tsc_khz (void);

G_END_DECLS

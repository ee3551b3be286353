/* accel.c: KVM or TCG, decided from the host's description of itself. */
#define G_LOG_DOMAIN "boxlite-shim"

#include "accel.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <boxlite/boxlite-error.h>

const BlAccelHost bl_accel_real_host = {
    .dev_kvm = "/dev/kvm",
    .cpuinfo = "/proc/cpuinfo",
    .module_dir = "/sys/module",
};

/* /proc/cpuinfo is a few KiB per CPU; the first CPU is all we read. */
#define MAX_CPUINFO (4 * 1024 * 1024)

/* The value of the first "@key\t*: value" line, or NULL. */
static char *
cpuinfo_field (const char *cpuinfo, const char *key)
{
    g_autofree char *text = NULL;
    gsize len = 0;

    if (!g_file_get_contents (cpuinfo, &text, &len, NULL) || len > MAX_CPUINFO)
        return NULL;
    g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        char *colon = strchr (lines[i], ':');
        if (!colon)
            continue;
        *colon = '\0';
        if (g_str_equal (g_strstrip (lines[i]), key))
            return g_strdup (g_strstrip (colon + 1));
    }
    return NULL;
}

static gboolean
has_word (const char *words, const char *word)
{
    g_auto (GStrv) parts = g_strsplit_set (words, " \t", -1);
    return g_strv_contains ((const char *const *) parts, word);
}

gboolean
bl_accel_kvm_usable (const BlAccelHost *host, char **why)
{
    int fd = open (host->dev_kvm, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int saved = errno;
        *why = g_strdup_printf ("%s cannot be opened read-write: %s", host->dev_kvm,
                                g_strerror (saved));
        return FALSE;
    }
    close (fd);

    g_autofree char *pvm = g_build_filename (host->module_dir, "kvm_pvm", NULL);
    if (g_file_test (pvm, G_FILE_TEST_IS_DIR)) {
        *why = g_strdup_printf ("%s is the kvm_pvm software virtualizer (%s exists), on which "
                                "the guest does not boot",
                                host->dev_kvm, pvm);
        return FALSE;
    }
    g_autofree char *flags = cpuinfo_field (host->cpuinfo, "flags");
    if (!flags) {
        *why = g_strdup_printf ("%s has no CPU flags to check for vmx or svm", host->cpuinfo);
        return FALSE;
    }
    if (!has_word (flags, "vmx") && !has_word (flags, "svm")) {
        *why = g_strdup_printf ("the CPU has no hardware virtualization (no vmx or svm in %s)",
                                host->cpuinfo);
        return FALSE;
    }
    return TRUE;
}

gboolean
bl_accel_resolve (const BlAccelHost *host, BoxliteAccel requested, BoxliteAccel *resolved,
                  GError **error)
{
    g_autofree char *why = NULL;

    switch (requested) {
    case BOXLITE_ACCEL_TCG:
        *resolved = BOXLITE_ACCEL_TCG;
        return TRUE;
    case BOXLITE_ACCEL_KVM:
        if (!bl_accel_kvm_usable (host, &why)) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                         "KVM was requested but cannot run the guest: %s", why);
            return FALSE;
        }
        *resolved = BOXLITE_ACCEL_KVM;
        return TRUE;
    case BOXLITE_ACCEL_AUTO:
        if (bl_accel_kvm_usable (host, &why)) {
            *resolved = BOXLITE_ACCEL_KVM;
            g_message ("accelerator: kvm");
        } else {
            *resolved = BOXLITE_ACCEL_TCG;
            g_message ("accelerator: tcg, because %s", why);
        }
        return TRUE;
    default:
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT, "unknown accelerator %d",
                     (int) requested);
        return FALSE;
    }
}

guint
bl_accel_host_tsc_khz (const char *cpuinfo)
{
    g_autofree char *mhz = cpuinfo_field (cpuinfo, "cpu MHz");
    char *end = NULL;

    if (!mhz)
        return 0;
    double value = g_ascii_strtod (mhz, &end);
    if (end == mhz || *end != '\0' || !(value >= 1.0 && value < 100000.0))
        return 0;
    return (guint) (value * 1000.0 + 0.5);
}

guint
bl_accel_cpuid_tsc_khz (void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;

    /* Leaf 0x15: TSC = crystal Hz (ecx) * ebx / eax. */
    if (__get_cpuid_max (0, NULL) >= 0x15) {
        __cpuid_count (0x15, 0, eax, ebx, ecx, edx);
        if (eax && ebx && ecx) {
            guint64 khz = (guint64) ecx * ebx / eax / 1000;
            if (khz >= 1000 && khz < 100000000)
                return (guint) khz;
        }
    }
    /* Hypervisor leaf 0x40000010: eax is the TSC rate in kHz. Only read
     * when CPUID.1:ECX[31] says a hypervisor answers these leaves. */
    __cpuid (1, eax, ebx, ecx, edx);
    if (ecx & (1u << 31)) {
        __cpuid (0x40000000, eax, ebx, ecx, edx);
        if (eax >= 0x40000010 && eax < 0x40010000) {
            __cpuid (0x40000010, eax, ebx, ecx, edx);
            if (eax >= 1000 && eax < 100000000)
                return eax;
        }
    }
#endif
    return 0;
}

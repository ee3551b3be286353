/* bench-util.h: medians, clocks, fatal errors and a box's QEMU for the
 * benchmarks. */
#pragma once

#include <boxlite/boxlite.h>
#include <glib.h>

G_BEGIN_DECLS

/* The median of @values (doubles; sorted in place). */
double bench_median (GArray *values);

/* Monotonic seconds. */
double bench_now (void);

/* Exits with @error's message if it is set. */
void bench_check (GError *error);

/* A fresh home in the temporary directory, named after @prefix (*@home),
 * a runtime on it (*@runtime) and a box "bench" without a network,
 * started. Exits on failure. */
BoxliteBox *bench_started_box (const char *prefix, char **home, BoxliteRuntime **runtime);

/* The pid of @box's QEMU: its monitor's only child (0 when unknown). */
int bench_qemu_pid (BoxliteBox *box);

/* CPU time process @pid has used so far (user + system), in seconds (0
 * when unreadable). */
double bench_cpu_seconds (int pid);

/* Proportional set size of process @pid in bytes (0 when unreadable). */
double bench_pss_bytes (int pid);

/* Where a QEMU's proportional set size goes, in bytes, from its smaps. */
typedef struct {
    double ram_shared;  /* guest RAM pages shared with others (a template's) */
    double ram_private; /* guest RAM pages of this VM alone */
    double tcg;         /* the translation cache (anonymous, executable) */
    double other;       /* QEMU's heap, libraries and the rest */
} BenchQemuMemory;

/* Fills @out for QEMU @pid, whose guest RAM is the mapping of
 * @ram_bytes. FALSE when smaps cannot be read. */
gboolean bench_qemu_memory (int pid, guint64 ram_bytes, BenchQemuMemory *out);

G_END_DECLS

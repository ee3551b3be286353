/* bench-util.h: medians, clocks and fatal errors for the benchmarks. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The median of @values (doubles; sorted in place). */
double bench_median (GArray *values);

/* Monotonic seconds. */
double bench_now (void);

/* Exits with @error's message if it is set. */
void bench_check (GError *error);

G_END_DECLS

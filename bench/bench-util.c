/* bench-util.c: medians, clocks and fatal errors for the benchmarks. */
#include "bench-util.h"

#include <stdlib.h>

static int
compare_double (gconstpointer a, gconstpointer b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

double
bench_median (GArray *values)
{
    g_array_sort (values, compare_double);
    return g_array_index (values, double, values->len / 2);
}

double
bench_now (void)
{
    return g_get_monotonic_time () / 1e6;
}

void
bench_check (GError *error)
{
    if (error) {
        g_printerr ("bench: %s\n", error->message);
        exit (1);
    }
}

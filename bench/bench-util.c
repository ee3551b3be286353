/* bench-util.c: medians, clocks, fatal errors and a box's QEMU for the
 * benchmarks. */
#include "bench-util.h"

#include <stdlib.h>
#include <string.h>

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

int
bench_qemu_pid (BoxliteBox *box)
{
    int monitor = boxlite_box_get_monitor_pid (box);
    g_autofree char *children = g_strdup_printf ("/proc/%d/task/%d/children", monitor, monitor);
    g_autofree char *list = NULL;

    g_file_get_contents (children, &list, NULL, NULL);
    return atoi (list ? list : "0");
}

double
bench_pss_bytes (int pid)
{
    g_autofree char *path = g_strdup_printf ("/proc/%d/smaps_rollup", pid);
    g_autofree char *text = NULL;

    if (!g_file_get_contents (path, &text, NULL, NULL))
        return 0;
    const char *line = strstr (text, "\nPss:");
    return line ? g_ascii_strtod (line + 5, NULL) * 1024 : 0;
}

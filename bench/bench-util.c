/* bench-util.c: medians, clocks, fatal errors and a box's QEMU for the
 * benchmarks. */
#include "bench-util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

BoxliteBox *
bench_started_box (const char *prefix, char **home, BoxliteRuntime **runtime)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *name = g_strdup_printf ("%s-XXXXXX", prefix);
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (BoxliteBoxOptions) box_options = boxlite_box_options_new ();

    *home = g_dir_make_tmp (name, &error);
    bench_check (error);
    boxlite_options_set_home_dir (options, *home);
    *runtime = boxlite_runtime_new (options, &error);
    bench_check (error);
    boxlite_box_options_set_network (box_options, BOXLITE_NETWORK_DISABLED);
    BoxliteBox *box = boxlite_runtime_create (*runtime, box_options, "bench", NULL, &error);
    bench_check (error);
    boxlite_box_start (box, NULL, &error);
    bench_check (error);
    return box;
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
bench_cpu_seconds (int pid)
{
    g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
    g_autofree char *text = NULL;
    unsigned long long utime, stime;

    if (!g_file_get_contents (path, &text, NULL, NULL))
        return 0;
    /* After the command's name, which may hold spaces: state is field 3,
     * utime and stime fields 14 and 15. */
    const char *rest = strrchr (text, ')');
    if (!rest || sscanf (rest + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                         &stime) != 2)
        return 0;
    return (double) (utime + stime) / (double) sysconf (_SC_CLK_TCK);
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

/* The kB figure of "@key:" in one smaps entry's @lines, in bytes. */
static double
smaps_field (const char *lines, const char *key)
{
    g_autofree char *needle = g_strdup_printf ("\n%s:", key);
    const char *hit = strstr (lines, needle);

    return hit ? g_ascii_strtod (hit + strlen (needle), NULL) * 1024 : 0;
}

typedef struct {
    guint64 size;
    gboolean anon, exec;
    GString *fields;
} SmapsEntry;

static void
account (BenchQemuMemory *out, guint64 ram_bytes, SmapsEntry *e)
{
    double pss = smaps_field (e->fields->str, "Pss");
    double priv = smaps_field (e->fields->str, "Private_Clean") +
                  smaps_field (e->fields->str, "Private_Dirty");

    if (e->size == ram_bytes) {
        out->ram_private += MIN (priv, pss);
        out->ram_shared += pss - MIN (priv, pss);
    } else if (e->anon && e->exec) {
        out->tcg += pss;
    } else {
        out->other += pss;
    }
    g_string_truncate (e->fields, 1);
}

gboolean
bench_qemu_memory (int pid, guint64 ram_bytes, BenchQemuMemory *out)
{
    g_autofree char *path = g_strdup_printf ("/proc/%d/smaps", pid);
    g_autofree char *text = NULL;
    SmapsEntry e = { 0 };

    memset (out, 0, sizeof *out);
    if (!g_file_get_contents (path, &text, NULL, NULL))
        return FALSE;
    e.fields = g_string_new ("\n");
    g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
    gboolean open_entry = FALSE;
    for (guint i = 0; lines[i]; i++) {
        guint64 start = 0, end = 0;
        char perms[8] = "";
        /* An entry starts with its range, "start-end perms offset dev
         * inode [path]"; the lines after it are "Field: value". */
        if (sscanf (lines[i], "%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x %7s", &start, &end,
                    perms) == 3) {
            if (open_entry)
                account (out, ram_bytes, &e);
            open_entry = TRUE;
            e.size = end - start;
            e.exec = strchr (perms, 'x') != NULL;
            /* A path is a file's ("/...") or the kernel's ("[heap]"). */
            e.anon = !strchr (lines[i], '/') && !strchr (lines[i], '[');
        } else {
            g_string_append_printf (e.fields, "%s\n", lines[i]);
        }
    }
    if (open_entry)
        account (out, ram_bytes, &e);
    g_string_free (e.fields, TRUE);
    return TRUE;
}

/* bench-snapshot.c: what a snapshot of a running box costs, against the
 * snapshot of the same box stopped, in the same run.
 *
 *   snapshot of the running box, a process in it appending and fsyncing
 *                                        (call time and time frozen, median of RUNS)
 *   snapshot of the same box, stopped    (call time, median of RUNS)
 *
 *   build/bench/bench-snapshot [RUNS]
 */
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench-util.h"
#include <boxlite/boxlite.h>

#define WRITER                                                                                     \
    "import os\n"                                                                                  \
    "i = 0\n"                                                                                      \
    "while True:\n"                                                                                \
    "    fd = os.open('/root/log', os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)\n"               \
    "    os.write(fd, b'%08d\\n' % i)\n"                                                           \
    "    os.fsync(fd)\n"                                                                           \
    "    os.close(fd)\n"                                                                           \
    "    i += 1\n"

static double
snapshot_once (BoxliteBox *box, const char *name, gint64 *frozen_ms)
{
    g_autoptr (GError) error = NULL;
    double start = bench_now ();

    boxlite_box_snapshot_create (box, name, NULL, &error);
    double elapsed = bench_now () - start;
    bench_check (error);
    if (frozen_ms) {
        g_autoptr (GVariant) info = boxlite_box_snapshot_get_info (box, name, &error);
        bench_check (error);
        const char *taken = "?";
        g_variant_lookup (info, "taken", "&s", &taken);
        if (g_strcmp0 (taken, "live-frozen") != 0) {
            fprintf (stderr, "snapshot %s was taken %s\n", name, taken);
            exit (1);
        }
        g_variant_lookup (info, "frozen-ms", "x", frozen_ms);
    }
    return elapsed;
}

int
main (int argc, char **argv)
{
    guint runs = argc > 1 ? (guint) atoi (argv[1]) : 5;
    g_autoptr (GError) error = NULL;
    g_autofree char *home = NULL;
    g_autoptr (BoxliteRuntime) rt = NULL;
    g_autoptr (BoxliteBox) box = bench_started_box ("boxlite-bench-snap", &home, &rt);
    const char *writer_argv[] = { "python3", "-c", WRITER, NULL };
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (writer_argv);
    g_autoptr (BoxliteExecution) writer = boxlite_box_exec (box, cmd, NULL, &error);
    bench_check (error);
    g_usleep (G_USEC_PER_SEC);

    g_autoptr (GArray) live = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr (GArray) frozen = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr (GArray) stopped = g_array_new (FALSE, FALSE, sizeof (double));
    for (guint i = 0; i < runs; i++) {
        g_autofree char *name = g_strdup_printf ("live%u", i);
        gint64 ms = 0;
        double t = snapshot_once (box, name, &ms);
        double f = (double) ms / 1000;
        g_array_append_val (live, t);
        g_array_append_val (frozen, f);
        g_usleep (G_USEC_PER_SEC / 2);
    }
    boxlite_execution_kill (writer, 9, NULL);
    boxlite_execution_wait (writer, NULL, NULL);
    boxlite_box_stop (box, FALSE, NULL, &error);
    bench_check (error);
    for (guint i = 0; i < runs; i++) {
        g_autofree char *name = g_strdup_printf ("stopped%u", i);
        double t = snapshot_once (box, name, NULL);
        g_array_append_val (stopped, t);
    }
    boxlite_runtime_remove (rt, "bench", TRUE, NULL);

    double live_m = bench_median (live), frozen_m = bench_median (frozen);
    double stopped_m = bench_median (stopped);
    printf ("snapshot, running box with a writer: %.0f ms (median of %u); guest frozen %.0f ms\n",
            live_m * 1000, runs, frozen_m * 1000);
    printf ("snapshot, the same box stopped:       %.0f ms (median of %u)\n", stopped_m * 1000,
            runs);
    printf ("running / stopped: %.2fx\n", live_m / stopped_m);
    const char *const rm[] = { "rm", "-rf", home, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
    return 0;
}

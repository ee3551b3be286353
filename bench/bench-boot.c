/* bench-boot.c: how long boxlite takes to give a command its first output,
 * from a VM template and booted cold, against the floor: the very same QEMU
 * command line as a cold box's (read back from the running box) launched
 * bare, timed to the agent's first frame; and what an idle box costs in
 * host memory (PSS of its QEMU) with each count of DENSITY (a comma list,
 * 10,25,50 by default) running at once, each way, and where it goes.
 *
 *   create+start → first exec output, template   (median of RUNS)
 *   create+start → first exec output, --cold     (median of RUNS)
 *   bare QEMU → agent ready                      (the floor, median of RUNS)
 *   exec round trip on a running box             (median of 20)
 *   PSS per idle box, N boxes at once            (template, cold; each N)
 *   an idle box's memory by kind, at the first N  (medians over its boxes)
 *
 * Prints a table, then the same figures as one JSON object.
 */
#include <fcntl.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-util.h"
#include <boxlite/boxlite.h>

static double
first_output (BoxliteRuntime *rt, gboolean fast, GStrv *qemu_argv)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    /* The floor relaunches QEMU bare, with nobody behind a network socket:
     * compare without a NIC (bench-net measures the network). */
    boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
    boxlite_box_options_set_fast_start (options, fast);
    double start = bench_now ();
    g_autoptr (BoxliteBox) box = boxlite_runtime_create (rt, options, NULL, NULL, &error);
    bench_check (error);
    boxlite_box_start (box, NULL, &error);
    bench_check (error);
    const char *argv[] = { "echo", "ready", NULL };
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);
    g_autoptr (BoxliteExecution) exe = boxlite_box_exec (box, cmd, NULL, &error);
    bench_check (error);
    char buf[16];
    gssize n =
        g_input_stream_read (boxlite_execution_get_stdout (exe), buf, sizeof buf, NULL, &error);
    double elapsed = bench_now () - start;
    bench_check (error);
    g_assert (n > 0);
    boxlite_execution_wait (exe, NULL, &error);

    if (qemu_argv && !*qemu_argv) {
        /* The monitor's child is QEMU: its command line is the floor's. */
        g_autofree char *path = g_strdup_printf ("/proc/%d/cmdline", bench_qemu_pid (box));
        g_autofree char *cmdline = NULL;
        gsize len = 0;
        if (g_file_get_contents (path, &cmdline, &len, NULL)) {
            GPtrArray *args = g_ptr_array_new ();
            for (gsize i = 0; i < len; i += strlen (cmdline + i) + 1)
                g_ptr_array_add (args, g_strdup (cmdline + i));
            g_ptr_array_add (args, NULL);
            *qemu_argv = (GStrv) g_ptr_array_free (args, FALSE);
        }
    }
    boxlite_box_stop (box, TRUE, NULL, &error);
    boxlite_runtime_remove (rt, boxlite_box_get_id (box), TRUE, NULL);
    return elapsed;
}

/* Where an idle box's memory goes: its QEMU by kind, and the monitor. */
typedef struct {
    double ram_shared, ram_private, tcg, other, monitor;
} IdleMemory;

static double
median_of (GArray *values)
{
    return values->len ? bench_median (values) : 0;
}

/* @n idle boxes at once: the seconds to start them one after another, and
 * the median PSS of their QEMUs once all run and settled (and in @kinds,
 * the median of each kind). */
static double
density (BoxliteRuntime *rt, guint n, gboolean fast, double *start_seconds, IdleMemory *kinds)
{
    GArray *by_kind[5];
    for (guint k = 0; k < G_N_ELEMENTS (by_kind); k++)
        by_kind[k] = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr (GPtrArray) boxes = g_ptr_array_new_with_free_func (g_object_unref);
    GArray *pss = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr (GError) error = NULL;
    double t0 = bench_now ();

    for (guint i = 0; i < n; i++) {
        g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
        boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
        boxlite_box_options_set_fast_start (options, fast);
        BoxliteBox *box = boxlite_runtime_create (rt, options, NULL, NULL, &error);
        bench_check (error);
        boxlite_box_start (box, NULL, &error);
        bench_check (error);
        g_ptr_array_add (boxes, box);
    }
    *start_seconds = bench_now () - t0;
    g_usleep (3 * G_USEC_PER_SEC);
    for (guint i = 0; i < boxes->len; i++) {
        BoxliteBox *box = g_ptr_array_index (boxes, i);
        double bytes = bench_pss_bytes (bench_qemu_pid (box));
        g_array_append_val (pss, bytes);
        BenchQemuMemory m;
        guint64 ram = (guint64) boxlite_box_options_get_memory_mib (boxlite_box_get_options (box))
                      << 20;
        if (bench_qemu_memory (bench_qemu_pid (box), ram ? ram : 512u << 20, &m)) {
            double monitor = bench_pss_bytes (boxlite_box_get_monitor_pid (box));
            const double values[] = { m.ram_shared, m.ram_private, m.tcg, m.other, monitor };
            for (guint k = 0; k < G_N_ELEMENTS (by_kind); k++)
                g_array_append_val (by_kind[k], values[k]);
        }
    }
    if (kinds)
        *kinds =
            (IdleMemory){ median_of (by_kind[0]), median_of (by_kind[1]), median_of (by_kind[2]),
                          median_of (by_kind[3]), median_of (by_kind[4]) };
    for (guint k = 0; k < G_N_ELEMENTS (by_kind); k++)
        g_array_unref (by_kind[k]);
    for (guint i = 0; i < boxes->len; i++) {
        BoxliteBox *box = g_ptr_array_index (boxes, i);
        boxlite_box_stop (box, TRUE, NULL, NULL);
        boxlite_runtime_remove (rt, boxlite_box_get_id (box), TRUE, NULL);
    }
    double median = bench_median (pss);
    g_array_unref (pss);
    return median;
}

static const char *
arg_value (GStrv argv, const char *prefix)
{
    for (guint i = 0; argv[i]; i++) {
        const char *hit = strstr (argv[i], prefix);
        if (hit)
            return hit + strlen (prefix);
    }
    return NULL;
}

/* Bare QEMU with @argv, until the agent's first byte arrives on its socket.
 * @disk is handed over as the monitor hands it (fd 3 read-write, fd 4
 * read-only: src/shim/qemu-argv.h). */
static double
floor_once (GStrv argv, const char *disk)
{
    g_autofree char *sock = g_strdup (arg_value (argv, "socket,id=agent,path="));
    char *comma = strchr (sock, ',');
    if (comma)
        *comma = '\0';
    g_autoptr (GError) error = NULL;
    double start = bench_now ();
    GPid pid;
    const int disk_fds[] = { open (disk, O_RDWR | O_CLOEXEC), open (disk, O_RDONLY | O_CLOEXEC) };
    const int targets[] = { 3, 4 };
    g_spawn_async_with_pipes_and_fds (NULL, (const char *const *) argv, NULL,
                                      G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                                          G_SPAWN_STDERR_TO_DEV_NULL,
                                      NULL, NULL, -1, -1, -1, disk_fds, targets,
                                      G_N_ELEMENTS (targets), &pid, NULL, NULL, NULL, &error);
    close (disk_fds[0]);
    close (disk_fds[1]);
    bench_check (error);
    g_autoptr (GSocketClient) client = g_socket_client_new ();
    g_autoptr (GSocketAddress) address = g_unix_socket_address_new (sock);
    g_autoptr (GSocketConnection) conn = NULL;
    while (!conn && bench_now () - start < 60) {
        conn = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, NULL);
        if (!conn)
            g_usleep (1000);
    }
    g_assert (conn);
    guint8 byte;
    g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)), &byte, 1, NULL, &error);
    double elapsed = bench_now () - start;
    bench_check (error);
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
    g_unlink (sock);
    return elapsed;
}

int
main (int argc, char **argv)
{
    guint runs = g_getenv ("RUNS") ? (guint) atoi (g_getenv ("RUNS")) : 5;
    g_autofree char *tmpl = g_build_filename (g_get_tmp_dir (), "boxlite-bench-XXXXXX", NULL);
    g_autofree char *home = g_mkdtemp (g_steal_pointer (&tmpl));
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (GError) error = NULL;
    g_auto (GStrv) qemu_argv = NULL;

    boxlite_options_set_home_dir (options, home);
    g_autoptr (BoxliteRuntime) rt = boxlite_runtime_new (options, &error);
    bench_check (error);

    g_auto (GStrv) counts =
        g_strsplit (g_getenv ("DENSITY") ? g_getenv ("DENSITY") : "10,25,50", ",", -1);

    /* Warm-up: builds the image's disk, the initramfs and the template once;
     * a cold box gives the floor its command line. */
    first_output (rt, FALSE, &qemu_argv);
    first_output (rt, TRUE, NULL);

    /* Interleaved, so that a change in the machine's load hits both. */
    GArray *boots = g_array_new (FALSE, FALSE, sizeof (double));
    GArray *colds = g_array_new (FALSE, FALSE, sizeof (double));
    for (guint i = 0; i < runs; i++) {
        double t = first_output (rt, TRUE, NULL);
        g_array_append_val (boots, t);
        t = first_output (rt, FALSE, NULL);
        g_array_append_val (colds, t);
    }

    /* The floor reuses a stopped box's disk and the same command line. */
    g_autoptr (BoxliteBoxOptions) box_options = boxlite_box_options_new ();
    g_autoptr (BoxliteBox) box = boxlite_runtime_create (rt, box_options, "floor", NULL, &error);
    bench_check (error);
    g_autofree char *dir = g_build_filename (home, "boxes", boxlite_box_get_id (box), NULL);
    for (guint i = 0; qemu_argv && qemu_argv[i]; i++) {
        /* The console goes to the monitor, which the floor does not have. */
        if (g_str_has_prefix (qemu_argv[i], "socket,id=con,")) {
            g_free (qemu_argv[i]);
            qemu_argv[i] = g_strdup ("null,id=con");
            continue;
        }
        /* Point every per-box path of the warm-up box at this one. */
        const char *old = strstr (qemu_argv[i], "/boxes/");
        if (old) {
            const char *rest = strchr (old + 7, '/');
            g_autofree char *prefix = g_strndup (qemu_argv[i], old - qemu_argv[i]);
            char *fixed = g_strdup_printf ("%s/boxes/%s%s", prefix, boxlite_box_get_id (box),
                                           rest ? rest : "");
            g_free (qemu_argv[i]);
            qemu_argv[i] = fixed;
        }
    }
    GArray *floors = g_array_new (FALSE, FALSE, sizeof (double));
    g_autofree char *disk = g_build_filename (dir, "disk.qcow2", NULL);
    for (guint i = 0; qemu_argv && i < runs; i++) {
        double t = floor_once (qemu_argv, disk);
        g_array_append_val (floors, t);
    }

    boxlite_box_start (box, NULL, &error);
    bench_check (error);
    GArray *trips = g_array_new (FALSE, FALSE, sizeof (double));
    for (guint i = 0; i < 20; i++) {
        const char *true_argv[] = { "true", NULL };
        g_autoptr (BoxliteCommand) cmd = boxlite_command_new (true_argv);
        double start = bench_now ();
        g_autoptr (BoxliteExecution) exe = boxlite_box_exec (box, cmd, NULL, &error);
        bench_check (error);
        boxlite_execution_wait (exe, NULL, &error);
        bench_check (error);
        double t = bench_now () - start;
        g_array_append_val (trips, t);
    }
    boxlite_box_stop (box, FALSE, NULL, NULL);

    /* Per count: boxes, template PSS, cold PSS, template batch, cold batch. */
    typedef struct {
        double v[5];
    } Row;
    g_autoptr (GArray) rows = g_array_new (FALSE, TRUE, sizeof (Row));
    IdleMemory tpl_kinds = { 0 }, cold_kinds = { 0 };
    for (guint c = 0; counts[c]; c++) {
        guint n = (guint) atoi (counts[c]);
        Row row = { { n } };
        if (!n)
            continue;
        row.v[1] = density (rt, n, TRUE, &row.v[3], rows->len ? NULL : &tpl_kinds);
        row.v[2] = density (rt, n, FALSE, &row.v[4], rows->len ? NULL : &cold_kinds);
        g_array_append_val (rows, row);
    }

    double boot = bench_median (boots), cold = bench_median (colds);
    double fl = floors->len ? bench_median (floors) : 0, trip = bench_median (trips);
    g_print ("%-52s %10s %10s\n", "figure (TCG, medians)", "value", "vs floor");
    g_print ("%-52s %9.3fs %9.2fx\n", "create+start -> first output, from a template", boot,
             fl ? boot / fl : 0);
    g_print ("%-52s %9.3fs %9.2fx\n", "create+start -> first output, --cold", cold,
             fl ? cold / fl : 0);
    g_print ("%-52s %9.3fs %10s\n", "floor: cold QEMU command line bare -> agent ready", fl,
             "1.00x");
    g_print ("%-52s %8.1fms\n", "exec round trip (true) on a running box", trip * 1000);
    const double mib = 1048576;
    for (guint r = 0; r < rows->len; r++) {
        const double *row = g_array_index (rows, Row, r).v;
        g_print ("%-44s%3u boxes %8.1fMiB   batch %.1fs\n", "PSS per idle box, from a template,",
                 (guint) row[0], row[1] / mib, row[3]);
        g_print ("%-44s%3u boxes %8.1fMiB   batch %.1fs\n", "PSS per idle box, --cold,",
                 (guint) row[0], row[2] / mib, row[4]);
    }
    if (rows->len) {
        g_print ("an idle box's memory (PSS, MiB), %u running    %10s %10s\n",
                 (guint) g_array_index (rows, Row, 0).v[0], "template", "cold");
        const struct {
            const char *what;
            double tpl, cold;
        } kinds[] = {
            { "guest RAM shared with other boxes", tpl_kinds.ram_shared, cold_kinds.ram_shared },
            { "guest RAM of its own", tpl_kinds.ram_private, cold_kinds.ram_private },
            { "translation cache", tpl_kinds.tcg, cold_kinds.tcg },
            { "QEMU heap, libraries, the rest", tpl_kinds.other, cold_kinds.other },
            { "box monitor", tpl_kinds.monitor, cold_kinds.monitor },
        };
        for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
            g_print ("  %-50s %10.1f %10.1f\n", kinds[k].what, kinds[k].tpl / mib,
                     kinds[k].cold / mib);
    }
    g_autoptr (GString) json = g_string_new (NULL);
    g_string_append_printf (json,
                            "{\"runs\": %u, \"start_template_s\": %.3f, \"start_cold_s\": %.3f, "
                            "\"floor_s\": %.3f, \"template_vs_floor\": %.2f, "
                            "\"cold_vs_floor\": %.2f, \"exec_round_trip_ms\": %.1f, \"density\": [",
                            runs, boot, cold, fl, fl ? boot / fl : 0, fl ? cold / fl : 0,
                            trip * 1000);
    for (guint r = 0; r < rows->len; r++) {
        const double *row = g_array_index (rows, Row, r).v;
        g_string_append_printf (json,
                                "%s{\"boxes\": %u, \"pss_template_mib\": %.1f, "
                                "\"pss_cold_mib\": %.1f, \"batch_template_s\": %.1f, "
                                "\"batch_cold_s\": %.1f}",
                                r ? ", " : "", (guint) row[0], row[1] / mib, row[2] / mib, row[3],
                                row[4]);
    }
    const IdleMemory *each[] = { &tpl_kinds, &cold_kinds };
    const char *names[] = { "template", "cold" };
    g_string_append (json, "], \"idle_box_mib\": {");
    for (guint e = 0; e < G_N_ELEMENTS (each); e++)
        g_string_append_printf (json,
                                "%s\"%s\": {\"ram_shared\": %.1f, \"ram_own\": %.1f, "
                                "\"tcg\": %.1f, \"qemu_other\": %.1f, \"monitor\": %.1f}",
                                e ? ", " : "", names[e], each[e]->ram_shared / mib,
                                each[e]->ram_private / mib, each[e]->tcg / mib,
                                each[e]->other / mib, each[e]->monitor / mib);
    g_string_append (json, "}}\n");
    g_print ("%s", json->str);
    const char *const rm[] = { "rm", "-rf", home, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
    return 0;
}

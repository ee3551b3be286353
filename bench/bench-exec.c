/* bench-exec.c: exec through boxlite against the QEMU guest agent on the
 * same VM, stdout through exec against the guest's own pipe, and TCG's
 * translation cache size against exec speed and host memory.
 *
 *   exec round trip of /bin/true: ours (exec -> exit event) against qga's
 *     guest-exec + guest-exec-status polled until "exited"   (median of TRIPS)
 *   256 MiB of stdout to the host: `head -c 256M /dev/zero` through exec
 *     against `head -c 256M /dev/zero | cat >/dev/null` in the box (median of RUNS),
 *     and the CPU time QEMU spent on each
 *   tb-size 16/32/64/128 MiB: exec round trip, 100 runs of ls from a shell
 *     loop, PSS of QEMU after both
 *
 * The peer is Debian's qemu-guest-agent (apt-get install qemu-guest-agent):
 * its binary and libraries are copied into a cold box that has a second
 * virtio-serial port, org.qemu.guest_agent.0 (BOXLITE_QGA_PORT=1, read by
 * the monitor), and run there beside our agent.
 *
 * Prints a table, then the same figures as one JSON object.
 */
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>

#include "bench-util.h"
#include <boxlite/boxlite.h>

#define QGA "/usr/sbin/qemu-ga"
#define STREAM_BYTES (256u << 20)

static BoxliteBox *
box_new (BoxliteRuntime *rt)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();

    /* The qga port and the cache size are for cold boxes: a template's copy
     * has the template's devices and cache. */
    boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
    boxlite_box_options_set_fast_start (options, FALSE);
    BoxliteBox *box = boxlite_runtime_create (rt, options, NULL, NULL, &error);
    bench_check (error);
    boxlite_box_start (box, NULL, &error);
    bench_check (error);
    return box;
}

static void
box_free (BoxliteRuntime *rt, BoxliteBox *box)
{
    boxlite_box_stop (box, TRUE, NULL, NULL);
    boxlite_runtime_remove (rt, boxlite_box_get_id (box), TRUE, NULL);
    g_object_unref (box);
}

/* Runs @argv in @box; returns its stdout (NUL-terminated) and the bytes it
 * held in @len. */
static char *
run (BoxliteBox *box, const char *const *argv, gsize *len)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);
    g_autoptr (BoxliteExecution) exe = boxlite_box_exec (box, cmd, NULL, &error);
    bench_check (error);
    g_autoptr (GByteArray) out = g_byte_array_new ();
    guint8 buf[65536];
    gssize n;
    while ((n = g_input_stream_read (boxlite_execution_get_stdout (exe), buf, sizeof buf, NULL,
                                     &error)) > 0)
        g_byte_array_append (out, buf, (guint) n);
    bench_check (error);
    boxlite_execution_wait (exe, NULL, &error);
    bench_check (error);
    if (!boxlite_execution_get_exited (exe) || boxlite_execution_get_exit_code (exe) != 0) {
        g_printerr ("bench: %s failed\n", argv[0]);
        exit (1);
    }
    if (len)
        *len = out->len;
    g_byte_array_append (out, (const guint8 *) "", 1);
    return (char *) g_byte_array_free (g_steal_pointer (&out), FALSE);
}

/* Seconds from the exec request to the exit event of @argv. */
static double
our_trip (BoxliteBox *box, const char *const *argv)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);
    double start = bench_now ();
    g_autoptr (BoxliteExecution) exe = boxlite_box_exec (box, cmd, NULL, &error);
    bench_check (error);
    boxlite_execution_wait (exe, NULL, &error);
    bench_check (error);
    return bench_now () - start;
}

/* The guest agent of QEMU as a client sees it: one JSON object a line. */
typedef struct {
    GSocketConnection *conn;
    GDataInputStream *in;
} Qga;

static JsonObject *
qga_call (Qga *qga, const char *request)
{
    g_autoptr (GError) error = NULL;
    g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (qga->conn)), request,
                               strlen (request), NULL, NULL, &error);
    bench_check (error);
    for (;;) {
        g_autofree char *line = g_data_input_stream_read_line (qga->in, NULL, NULL, &error);
        bench_check (error);
        if (!line) {
            g_printerr ("bench: qemu-ga closed its port\n");
            exit (1);
        }
        g_autoptr (JsonParser) parser = json_parser_new ();
        if (!json_parser_load_from_data (parser, line, -1, NULL) ||
            !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
            continue; /* the 0xff of a resync, or noise before it */
        JsonObject *reply = json_node_get_object (json_parser_get_root (parser));
        if (!json_object_has_member (reply, "return")) {
            g_printerr ("bench: qemu-ga: %s\n", line);
            exit (1);
        }
        JsonNode *ret = json_object_get_member (reply, "return");
        if (!JSON_NODE_HOLDS_OBJECT (ret))
            return json_object_new ();
        return json_object_ref (json_node_get_object (ret));
    }
}

/* Connects to the box's qga port, retrying until qemu-ga answers a sync. */
static void
qga_open (Qga *qga, const char *sock)
{
    g_autoptr (GSocketClient) client = g_socket_client_new ();
    g_autoptr (GSocketAddress) address = g_unix_socket_address_new (sock);
    g_autoptr (GError) error = NULL;

    qga->conn = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, &error);
    bench_check (error);
    qga->in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (qga->conn)));
    g_autoptr (JsonObject) sync =
        qga_call (qga, "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":4242}}\n");
}

/* Seconds from guest-exec of /bin/true to the guest-exec-status that says
 * it exited, polled back to back. */
static double
qga_trip (Qga *qga)
{
    double start = bench_now ();
    g_autoptr (JsonObject) started =
        qga_call (qga, "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/true\","
                       "\"capture-output\":true}}\n");
    g_autofree char *status = g_strdup_printf (
        "{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":%" G_GINT64_FORMAT "}}\n",
        json_object_get_int_member (started, "pid"));
    for (;;) {
        g_autoptr (JsonObject) st = qga_call (qga, status);
        if (json_object_get_boolean_member_with_default (st, "exited", FALSE))
            break;
    }
    return bench_now () - start;
}

/* Copies qemu-ga with its loader and libraries into the box under /qga and
 * starts it on the port; returns the execution that runs it. */
static BoxliteExecution *
qga_start (BoxliteBox *box, const char *home)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *dir = g_build_filename (home, "qga", NULL);
    g_autofree char *ldd_out = NULL;
    const char *const ldd[] = { "ldd", QGA, NULL };

    g_mkdir (dir, 0755);
    g_spawn_sync (NULL, (char **) ldd, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &ldd_out, NULL, NULL,
                  &error);
    bench_check (error);
    g_auto (GStrv) lines = g_strsplit (ldd_out, "\n", -1);
    g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
    g_ptr_array_add (files, g_strdup (QGA));
    for (guint i = 0; lines[i]; i++) {
        const char *slash = strchr (lines[i], '/');
        if (slash)
            g_ptr_array_add (files, g_strndup (slash, strcspn (slash, " (")));
    }
    for (guint i = 0; i < files->len; i++) {
        const char *src = g_ptr_array_index (files, i);
        g_autofree char *base = g_path_get_basename (src);
        g_autofree char *dst = g_build_filename (dir, base, NULL);
        g_autoptr (GFile) from = g_file_new_for_path (src);
        g_autoptr (GFile) to = g_file_new_for_path (dst);
        g_file_copy (from, to, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &error);
        bench_check (error);
    }
    boxlite_box_copy_in (box, dir, "/", 0, NULL, &error);
    bench_check (error);

    const char *const find[] = {
        "sh", "-c",
        "for d in /sys/class/virtio-ports/*; do "
        "[ \"$(cat $d/name)\" = org.qemu.guest_agent.0 ] && echo /dev/${d##*/}; done; true",
        NULL
    };
    g_autofree char *dev = run (box, find, NULL);
    g_strstrip (dev);
    if (!*dev) {
        g_printerr ("bench: the box has no org.qemu.guest_agent.0 port\n");
        exit (1);
    }
    const char *const argv[] = { "/qga/ld-linux-x86-64.so.2",
                                 "--library-path",
                                 "/qga",
                                 "/qga/qemu-ga",
                                 "-m",
                                 "virtio-serial",
                                 "-p",
                                 dev,
                                 "-t",
                                 "/tmp",
                                 "-f",
                                 "/tmp/qga.pid",
                                 NULL };
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);
    BoxliteExecution *exe = boxlite_box_exec (box, cmd, NULL, &error);
    bench_check (error);
    return exe;
}

/* Seconds to read STREAM_BYTES of stdout through exec. */
static double
stream_ours (BoxliteBox *box, double *qemu_cpu)
{
    gsize len = 0;
    const char *const argv[] = { "head", "-c", "268435456", "/dev/zero", NULL };
    int qemu = bench_qemu_pid (box);
    double cpu = bench_cpu_seconds (qemu);
    double start = bench_now ();
    g_autofree char *out = run (box, argv, &len);
    double t = bench_now () - start;
    *qemu_cpu = bench_cpu_seconds (qemu) - cpu;
    if (len != STREAM_BYTES) {
        g_printerr ("bench: %zu bytes of stdout, not %u\n", len, STREAM_BYTES);
        exit (1);
    }
    return t;
}

/* Seconds for the same bytes through a pipe inside the box. */
static double
stream_guest (BoxliteBox *box, double *qemu_cpu)
{
    const char *const argv[] = { "sh", "-c", "head -c 268435456 /dev/zero | cat >/dev/null", NULL };
    int qemu = bench_qemu_pid (box);
    double cpu = bench_cpu_seconds (qemu);
    double t = our_trip (box, argv);
    *qemu_cpu = bench_cpu_seconds (qemu) - cpu;
    return t;
}

typedef struct {
    guint mib;
    double trip_ms, loop_s, pss_mib;
} CacheRow;

static void
cache_row (BoxliteRuntime *rt, CacheRow *row, guint trips)
{
    g_autofree char *mib = g_strdup_printf ("%u", row->mib);
    g_setenv ("BOXLITE_TCG_TB_SIZE_MIB", mib, TRUE);
    BoxliteBox *box = box_new (rt);
    g_unsetenv ("BOXLITE_TCG_TB_SIZE_MIB");

    const char *const t[] = { "/bin/true", NULL };
    /* Work that keeps translating: a hundred small programs from a shell loop. */
    const char *const loop[] = { "sh", "-c",
                                 "i=0; while [ $i -lt 100 ]; do i=$((i+1)); ls / >/dev/null; "
                                 "done",
                                 NULL };
    GArray *a = g_array_new (FALSE, FALSE, sizeof (double));
    GArray *b = g_array_new (FALSE, FALSE, sizeof (double));
    for (guint i = 0; i < trips; i++) {
        double x = our_trip (box, t);
        g_array_append_val (a, x);
    }
    for (guint i = 0; i < 3; i++) {
        double x = our_trip (box, loop);
        g_array_append_val (b, x);
    }
    row->trip_ms = bench_median (a) * 1000;
    row->loop_s = bench_median (b);
    row->pss_mib = bench_pss_bytes (bench_qemu_pid (box)) / 1048576;
    g_array_unref (a);
    g_array_unref (b);
    box_free (rt, box);
}

int
main (void)
{
    guint runs = g_getenv ("RUNS") ? (guint) atoi (g_getenv ("RUNS")) : 3;
    guint trips = g_getenv ("TRIPS") ? (guint) atoi (g_getenv ("TRIPS")) : 30;
    g_autofree char *tmpl = g_build_filename (g_get_tmp_dir (), "boxlite-bench-XXXXXX", NULL);
    g_autofree char *home = g_mkdtemp (g_steal_pointer (&tmpl));
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (GError) error = NULL;

    if (!g_file_test (QGA, G_FILE_TEST_IS_EXECUTABLE)) {
        g_printerr ("bench: no %s (apt-get install qemu-guest-agent)\n", QGA);
        return 1;
    }
    boxlite_options_set_home_dir (options, home);
    g_autoptr (BoxliteRuntime) rt = boxlite_runtime_new (options, &error);
    bench_check (error);

    g_setenv ("BOXLITE_QGA_PORT", "1", TRUE);
    BoxliteBox *box = box_new (rt);
    g_unsetenv ("BOXLITE_QGA_PORT");
    g_autoptr (BoxliteExecution) qga_exe = qga_start (box, home);
    g_autofree char *sock =
        g_build_filename (home, "boxes", boxlite_box_get_id (box), "qga.sock", NULL);
    Qga qga = { 0 };
    qga_open (&qga, sock);

    /* Interleaved, so that a change in the machine's load hits both. */
    const char *const t[] = { "/bin/true", NULL };
    GArray *ours = g_array_new (FALSE, FALSE, sizeof (double));
    GArray *peer = g_array_new (FALSE, FALSE, sizeof (double));
    our_trip (box, t);
    qga_trip (&qga);
    for (guint i = 0; i < trips; i++) {
        double x = our_trip (box, t);
        g_array_append_val (ours, x);
        x = qga_trip (&qga);
        g_array_append_val (peer, x);
    }
    GArray *out = g_array_new (FALSE, FALSE, sizeof (double));
    GArray *pipe = g_array_new (FALSE, FALSE, sizeof (double));
    GArray *out_cpu = g_array_new (FALSE, FALSE, sizeof (double));
    GArray *pipe_cpu = g_array_new (FALSE, FALSE, sizeof (double));
    for (guint i = 0; i < runs; i++) {
        double cpu;
        double x = stream_ours (box, &cpu);
        g_array_append_val (out, x);
        g_array_append_val (out_cpu, cpu);
        x = stream_guest (box, &cpu);
        g_array_append_val (pipe, x);
        g_array_append_val (pipe_cpu, cpu);
    }
    g_clear_object (&qga.in);
    g_clear_object (&qga.conn);
    box_free (rt, box);

    CacheRow rows[] = { { .mib = 16 }, { .mib = 32 }, { .mib = 64 }, { .mib = 128 } };
    for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
        cache_row (rt, &rows[i], trips / 2 + 1);

    double trip = bench_median (ours) * 1000, qtrip = bench_median (peer) * 1000;
    double mib = STREAM_BYTES / 1048576.0;
    double rate = mib / bench_median (out), prate = mib / bench_median (pipe);
    double cpu = bench_median (out_cpu), pcpu = bench_median (pipe_cpu);
    g_print ("%-50s %12s %12s %8s\n", "figure (TCG, medians)", "boxlite", "peer", "ratio");
    g_print ("%-50s %10.1fms %10.1fms %7.2fx\n", "exec round trip /bin/true (peer: qemu-ga)", trip,
             qtrip, trip / qtrip);
    g_print ("%-50s %8.1fMiB/s %8.1fMiB/s %7.2fx\n",
             "256 MiB stdout to the host (peer: guest pipe)", rate, prate, rate / prate);
    /* The guest's vCPU bounds both streams; QEMU's CPU time for them holds
     * still when the host's load makes the wall clock swing. */
    g_print ("%-50s %11.2fs %11.2fs %7.2fx\n", "  QEMU CPU time for them (peer: guest pipe)", cpu,
             pcpu, cpu / pcpu);
    for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
        g_print ("tb-size=%-4u exec round trip %6.1fms   100x ls loop %6.2fs   QEMU PSS %6.1fMiB\n",
                 rows[i].mib, rows[i].trip_ms, rows[i].loop_s, rows[i].pss_mib);
    g_print ("{\"trips\": %u, \"runs\": %u, \"exec_ms\": %.1f, \"qga_exec_ms\": %.1f, "
             "\"exec_vs_qga\": %.2f, \"stdout_mib_s\": %.1f, \"guest_pipe_mib_s\": %.1f, "
             "\"stdout_vs_pipe\": %.2f, \"stdout_qemu_cpu_s\": %.2f, "
             "\"guest_pipe_qemu_cpu_s\": %.2f, \"tb_size\": [",
             trips, runs, trip, qtrip, trip / qtrip, rate, prate, rate / prate, cpu, pcpu);
    for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
        g_print ("%s{\"mib\": %u, \"exec_ms\": %.1f, \"loop_s\": %.2f, \"pss_mib\": %.1f}",
                 i ? ", " : "", rows[i].mib, rows[i].trip_ms, rows[i].loop_s, rows[i].pss_mib);
    g_print ("]}\n");
    g_array_unref (ours);
    g_array_unref (peer);
    g_array_unref (out);
    g_array_unref (pipe);
    g_array_unref (out_cpu);
    g_array_unref (pipe_cpu);
    const char *const rm[] = { "rm", "-rf", home, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
    return 0;
}

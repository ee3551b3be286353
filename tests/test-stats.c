/* test-stats.c: a real box's figures (TCG where KVM is unusable): present
 * and consistent, and moving when the box computes, writes, allocates and
 * downloads. The guest's answer is checked by src/box/metrics.c, whose
 * refusals are tested without a VM in test-units.c. */
#include <glib/gstdio.h>

#include <boxlite/boxlite.h>
#include "test-util.h"

#define MEMORY_MIB 512
/* How many one-second looks a counter written by another process gets to
 * move (the network's counts are written at most once a second). */
#define MAX_LOOKS 60

static char *home;
static BoxliteRuntime *runtime;
static BoxliteBox *box; /* with a network, shared by the cases */

static GVariant *
sample (void)
{
    g_autoptr (GError) error = NULL;
    GVariant *m = boxlite_box_get_metrics (box, NULL, &error);

    g_assert_no_error (error);
    g_assert_nonnull (m);
    g_assert_true (g_variant_is_of_type (m, G_VARIANT_TYPE_VARDICT));
    return m;
}

static guint64
get_t (GVariant *m, const char *key)
{
    guint64 v = 0;

    if (!g_variant_lookup (m, key, "t", &v))
        g_error ("no '%s' among the figures", key);
    return v;
}

static void
test_present (void)
{
    g_autoptr (GVariant) m = sample ();
    static const char *const host_keys[] = {
        "qemu-rss",     "qemu-cpu-ns",     "monitor-rss",      "monitor-cpu-ns", "net-rss",
        "net-cpu-ns",   "disk-read-bytes", "disk-write-bytes", "disk-read-ops",  "disk-write-ops",
        "net-bytes-in", "net-bytes-out",   "net-connections",  "net-denied",
    };

    for (guint i = 0; i < G_N_ELEMENTS (host_keys); i++)
        (void) get_t (m, host_keys[i]);
    /* A VM of a few hundred MiB, a monitor that runs, a disk it booted from. */
    g_assert_cmpuint (get_t (m, "qemu-rss"), >, 16u << 20);
    g_assert_cmpuint (get_t (m, "monitor-rss"), >, 0);
    g_assert_cmpuint (get_t (m, "qemu-cpu-ns"), >, 0);
    g_assert_cmpuint (get_t (m, "disk-read-bytes"), >, 0);
    g_assert_cmpuint (get_t (m, "disk-read-ops"), >, 0);

    guint64 total = get_t (m, "mem-total");
    g_assert_cmpuint (total, >, (MEMORY_MIB / 2) << 20);
    g_assert_cmpuint (total, <=, (guint64) MEMORY_MIB << 20);
    g_assert_cmpuint (get_t (m, "mem-available"), <=, total);
    g_assert_cmpuint (get_t (m, "mem-used") + get_t (m, "mem-available"), ==, total);
    g_assert_cmpuint (get_t (m, "processes"), >=, 1);
    g_assert_cmpuint (get_t (m, "fs-total"), >, 0);
    g_assert_cmpuint (get_t (m, "fs-used"), >, 0);
    g_assert_cmpuint (get_t (m, "fs-used"), <=, get_t (m, "fs-total"));
    g_assert_cmpuint (get_t (m, "fs-available"), <=, get_t (m, "fs-total"));
    double load = -1;
    g_assert_true (g_variant_lookup (m, "load-1", "d", &load));
    g_assert_cmpfloat (load, >=, 0);
    g_assert_true (g_variant_lookup (m, "load-15", "d", &load));
}

/* A fixed amount of work, not a time: it costs the VM's CPU whatever the
 * host's load. */
static void
test_cpu_moves (void)
{
    g_autoptr (GVariant) before = sample ();
    gint code = -1;
    g_autofree char *out =
        run_simple (box, "python3 -c 'print(sum(i * i for i in range(2000000)) > 0)'", &code);
    g_assert_cmpint (code, ==, 0);
    g_assert_cmpstr (out, ==, "True\n");
    g_autoptr (GVariant) after = sample ();

    guint64 used = get_t (after, "qemu-cpu-ns") - get_t (before, "qemu-cpu-ns");
    g_test_message ("the loop cost the VM %" G_GUINT64_FORMAT " ms of CPU", used / 1000000);
    g_assert_cmpuint (used, >=, 100u * 1000000u);
}

static void
test_disk_moves (void)
{
    g_autoptr (GVariant) before = sample ();
    gint code = -1;
    g_autofree char *out = run_simple (
        box, "dd if=/dev/urandom of=/var/tmp/stats-file bs=1M count=16 conv=fsync 2>/dev/null",
        &code);
    g_assert_cmpint (code, ==, 0);
    g_autoptr (GVariant) after = sample ();

    g_assert_cmpuint (get_t (after, "disk-write-bytes") - get_t (before, "disk-write-bytes"), >=,
                      16u << 20);
    g_assert_cmpuint (get_t (after, "disk-write-ops"), >, get_t (before, "disk-write-ops"));
    g_assert_cmpuint (get_t (after, "fs-used"), >=, get_t (before, "fs-used") + (8u << 20));
    g_free (run_simple (box, "rm -f /var/tmp/stats-file", NULL));
}

static void
test_memory_moves (void)
{
    g_autoptr (GVariant) before = sample ();
    g_autoptr (GError) error = NULL;
    /* Written, not only reserved: untouched pages are not used memory. */
    const char *argv[] = { "python3", "-c",
                           "import time\nb = bytearray(b'x') * (96 << 20)\ntime.sleep(600)", NULL };
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);
    guint64 grown = 0;

    boxlite_box_exec_detached (box, cmd, NULL, &error);
    g_assert_no_error (error);
    for (guint i = 0; i < MAX_LOOKS && grown < (64u << 20); i++) {
        g_usleep (G_USEC_PER_SEC);
        g_autoptr (GVariant) now = sample ();
        guint64 used = get_t (now, "mem-used"), was = get_t (before, "mem-used");
        grown = used > was ? used - was : 0;
    }
    g_test_message ("memory used grew by %" G_GUINT64_FORMAT " MiB", grown >> 20);
    g_assert_cmpuint (grown, >=, 64u << 20);
    gint code = -1;
    g_free (run_simple (box, "pkill -f bytearray; true", &code));
}

static char *
http_get_script (guint16 port)
{
    return g_strdup_printf ("python3 -c 'import socket\n"
                            "s = socket.create_connection((\"host.boxlite.internal\", %u), 20)\n"
                            "s.sendall(b\"GET / HTTP/1.0\\r\\n\\r\\n\")\n"
                            "print(s.makefile(\"rb\").read().partition(b\"\\r\\n\\r\\n\")[2]"
                            ".decode(), end=\"\")'",
                            port);
}

static void
test_network_moves (void)
{
    g_autoptr (GVariant) before = sample ();
    HttpServer *server = http_server_start ();
    g_autofree char *script = http_get_script (server->port);
    gint code = -1;
    g_autofree char *body = run_simple (box, script, &code);

    g_assert_cmpint (code, ==, 0);
    g_assert_cmpstr (body, ==, HTTP_BODY);
    g_assert_cmpint (http_server_stop (server), ==, 1);

    /* The network process writes its counts at most a second late. */
    guint64 in = 0, out = 0, connections = 0;
    for (guint i = 0; i < MAX_LOOKS; i++) {
        g_autoptr (GVariant) now = sample ();
        in = get_t (now, "net-bytes-in") - get_t (before, "net-bytes-in");
        out = get_t (now, "net-bytes-out") - get_t (before, "net-bytes-out");
        connections = get_t (now, "net-connections") - get_t (before, "net-connections");
        if (in >= sizeof HTTP_BODY && out > 0 && connections >= 1)
            break;
        g_usleep (G_USEC_PER_SEC);
    }
    g_test_message ("the download moved %" G_GUINT64_FORMAT " bytes in, %" G_GUINT64_FORMAT
                    " out, over %" G_GUINT64_FORMAT " connections",
                    in, out, connections);
    g_assert_cmpuint (in, >=, sizeof HTTP_BODY);
    g_assert_cmpuint (out, >, 0);
    g_assert_cmpuint (connections, >=, 1);
}

static void
on_metrics (GObject *source, GAsyncResult *res, gpointer user_data)
{
    GAsyncResult **out = user_data;

    *out = g_object_ref (res);
}

static void
test_async_completes (void)
{
    g_autoptr (GMainContext) context = g_main_context_new ();
    GAsyncResult *result = NULL;
    g_autoptr (GError) error = NULL;

    g_main_context_push_thread_default (context);
    boxlite_box_get_metrics_async (box, NULL, on_metrics, &result);
    while (!result)
        g_main_context_iteration (context, TRUE);
    g_main_context_pop_thread_default (context);
    g_autoptr (GVariant) m = boxlite_box_get_metrics_finish (box, result, &error);
    g_object_unref (result);
    g_assert_no_error (error);
    g_assert_cmpuint (get_t (m, "mem-total"), >, 0);
}

/* A paused guest cannot answer: the host's part comes alone. */
static void
test_paused (void)
{
    g_autoptr (GError) error = NULL;
    guint64 v = 0;

    g_assert_true (boxlite_box_pause (box, NULL, &error));
    g_assert_no_error (error);
    g_autoptr (GVariant) m = sample ();
    g_assert_true (boxlite_box_resume (box, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (get_t (m, "qemu-rss"), >, 0);
    g_assert_false (g_variant_lookup (m, "mem-total", "t", &v));
    g_assert_false (g_variant_lookup (m, "processes", "t", &v));
    g_autoptr (GVariant) again = sample ();
    g_assert_cmpuint (get_t (again, "mem-total"), >, 0);
}

static void
test_not_running (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    g_autoptr (BoxliteBox) idle = boxlite_runtime_create (runtime, options, "idle", NULL, &error);
    g_assert_no_error (error);

    g_autoptr (GVariant) m = boxlite_box_get_metrics (idle, NULL, &error);
    g_assert_null (m);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE);
    g_clear_error (&error);
    boxlite_runtime_remove (runtime, boxlite_box_get_id (idle), FALSE, &error);
    g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    home = test_home_open ("boxlite-test", &runtime);
    g_autoptr (BoxliteBoxOptions) box_options = boxlite_box_options_new ();
    g_autoptr (GError) error = NULL;
    boxlite_box_options_set_network (box_options, BOXLITE_NETWORK_ENABLED);
    boxlite_box_options_set_memory_mib (box_options, MEMORY_MIB);
    box = boxlite_runtime_create (runtime, box_options, "stats", NULL, &error);
    g_assert_no_error (error);
    boxlite_box_start (box, NULL, &error);
    g_assert_no_error (error);

    g_test_add_func ("/stats/present", test_present);
    g_test_add_func ("/stats/cpu-moves", test_cpu_moves);
    g_test_add_func ("/stats/disk-moves", test_disk_moves);
    g_test_add_func ("/stats/memory-moves", test_memory_moves);
    g_test_add_func ("/stats/network-moves", test_network_moves);
    g_test_add_func ("/stats/async", test_async_completes);
    g_test_add_func ("/stats/paused", test_paused);
    g_test_add_func ("/stats/not-running", test_not_running);

    int ret = g_test_run ();
    boxlite_box_stop (box, TRUE, NULL, NULL);
    g_clear_object (&box);
    test_home_close (&runtime, home);
    return ret;
}

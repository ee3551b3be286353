/* test-template.c: boxes started from VM templates, in real boxes (TCG on
 * machines without a usable KVM): what two copies of one template must not
 * share (random bytes, clock, name, disk), which inputs make a different
 * template, a damaged template made again, two monitors racing to make one,
 * the cold path, `boxlite template ls|prune`, and a template's RAM that its
 * copies' QEMUs cannot write. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <boxlite/boxlite.h>
#include "test-util.h"

static char *home;
static char *templates;
static BoxliteRuntime *runtime;

/* A box without a network (unless @network), started; fails the test when
 * it does not run. */
static BoxliteBox *
start_box (const char *name, gboolean network, guint memory_mib, guint disk_gb, gboolean fast)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();

    boxlite_box_options_set_network (options,
                                     network ? BOXLITE_NETWORK_ENABLED : BOXLITE_NETWORK_DISABLED);
    if (memory_mib)
        boxlite_box_options_set_memory_mib (options, memory_mib);
    if (disk_gb)
        boxlite_box_options_set_disk_size_gb (options, disk_gb);
    boxlite_box_options_set_fast_start (options, fast);
    BoxliteBox *box = boxlite_runtime_create (runtime, options, name, NULL, &error);
    g_assert_no_error (error);
    boxlite_box_start (box, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (boxlite_box_get_state (box), ==, BOXLITE_BOX_STATE_RUNNING);
    return box;
}

static void
remove_box (BoxliteBox *box)
{
    g_autoptr (GError) error = NULL;

    boxlite_runtime_remove (runtime, boxlite_box_get_id (box), TRUE, &error);
    g_assert_no_error (error);
    g_object_unref (box);
}

/* Member @name of the box's record as `inspect` prints it (NULL for null). */
static char *
inspect_member (BoxliteBox *box, const char *name)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *json = boxlite_box_inspect (box, &error);
    g_assert_no_error (error);
    g_autoptr (JsonNode) root = json_from_string (json, &error);
    g_assert_no_error (error);
    JsonObject *obj = json_node_get_object (root);
    g_assert_true (json_object_has_member (obj, name));
    return g_strdup (json_object_get_string_member_with_default (obj, name, NULL));
}

static void
assert_started_from_template (BoxliteBox *box)
{
    g_autofree char *start = inspect_member (box, "start");
    g_autofree char *reason = inspect_member (box, "start_reason");

    g_assert_cmpstr (reason, ==, NULL);
    g_assert_cmpstr (start, ==, "template");
}

/* The template keys (directory names) under the home. */
static GPtrArray *
template_keys (void)
{
    GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);
    g_autoptr (GDir) dir = g_dir_open (templates, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name (dir))) {
        g_autofree char *path = g_build_filename (templates, name, NULL);
        if (strlen (name) == 64 && g_file_test (path, G_FILE_TEST_IS_DIR))
            g_ptr_array_add (keys, g_strdup (name));
    }
    return keys;
}

static gboolean
has_key (GPtrArray *keys, const char *key)
{
    for (guint i = 0; i < keys->len; i++)
        if (g_str_equal (g_ptr_array_index (keys, i), key))
            return TRUE;
    return FALSE;
}

/* The one key in @after that is not in @before. */
static char *
new_key (GPtrArray *before, GPtrArray *after)
{
    char *found = NULL;

    for (guint i = 0; i < after->len; i++) {
        const char *key = g_ptr_array_index (after, i);
        if (!has_key (before, key)) {
            g_assert_null (found);
            found = g_strdup (key);
        }
    }
    g_assert_nonnull (found);
    return found;
}

static char *
monitor_log (BoxliteBox *box)
{
    g_autofree char *dir = inspect_member (box, "dir");
    g_autofree char *path = g_build_filename (dir, "monitor.log", NULL);
    char *text = NULL;

    g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
    return text;
}

static gint64
now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Two copies of one template: each has fresh random bytes, the host's
 * clock, its own name, and the disk it asked for (larger than the
 * template's scratch disk). */
static void
test_copies_differ (void)
{
    g_autoptr (GPtrArray) before = template_keys ();
    gint code = -1;
    /* Read at once after each start: the kernel rekeys its generator by
     * itself only every second or so, so a copy whose "identity" did not
     * reseed it would give its siblings' bytes here (the agent rekeys it
     * as the template is saved, so the kernel's own schedule starts the
     * same in every copy). */
    const char *random = "head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \\n'";
    BoxliteBox *a = start_box ("copy-a", FALSE, 0, 3, TRUE);
    g_autofree char *ra = run_simple (a, random, &code);
    g_assert_cmpint (code, ==, 0);
    BoxliteBox *b = start_box ("copy-b", FALSE, 0, 3, TRUE);
    g_autofree char *rb = run_simple (b, random, &code);
    g_assert_cmpint (code, ==, 0);
    g_autoptr (GPtrArray) after = template_keys ();

    assert_started_from_template (a);
    assert_started_from_template (b);
    g_assert_cmpuint (after->len, ==, before->len + 1);
    g_assert_cmpuint (strlen (ra), ==, 128);
    g_assert_cmpstr (ra, !=, rb);

    g_autofree char *na = run_simple (a, "hostname; cat /etc/hostname", &code);
    g_autofree char *nb = run_simple (b, "hostname; cat /etc/hostname", &code);
    g_assert_cmpstr (na, ==, "copy-a\ncopy-a\n");
    g_assert_cmpstr (nb, ==, "copy-b\ncopy-b\n");

    /* The guest reads its clock between t0 and t1 of the host's: within
     * 50 ms of that window, never the template's frozen time. */
    BoxliteBox *boxes[] = { a, b };
    for (guint i = 0; i < G_N_ELEMENTS (boxes); i++) {
        gint64 t0 = now_ns ();
        g_autofree char *guest = run_simple (boxes[i], "date +%s%N", &code);
        gint64 t1 = now_ns ();
        gint64 g = g_ascii_strtoll (guest, NULL, 10);
        g_test_message ("guest clock %" G_GINT64_FORMAT " ns into a %" G_GINT64_FORMAT " ns window",
                        g - t0, t1 - t0);
        g_assert_cmpint (g, >=, t0 - 50 * 1000000);
        g_assert_cmpint (g, <=, t1 + 50 * 1000000);
    }

    /* 3 GiB asked; the template saw a 1 MiB scratch disk. */
    g_autofree char *size = run_simple (a, "df -P -k / | awk 'NR == 2 { print $2 }'", &code);
    guint64 kib = g_ascii_strtoull (size, NULL, 10);
    g_assert_cmpuint (kib, <=, (guint64) 3 << 20);
    g_assert_cmpuint (kib, >=, ((guint64) 3 << 20) * 9 / 10);
    g_autofree char *write =
        run_simple (a, "echo kept > /var/tmp/f && sync && cat /var/tmp/f", &code);
    g_assert_cmpstr (write, ==, "kept\n");

    remove_box (a);
    remove_box (b);
}

/* A box with a NIC and one without need different device sets, so
 * different templates; the one with a network reaches the host. */
static void
test_network_template (void)
{
    BoxliteBox *off = start_box ("net-off", FALSE, 0, 0, TRUE);
    g_autoptr (GPtrArray) before = template_keys ();
    BoxliteBox *on = start_box ("net-on", TRUE, 0, 0, TRUE);
    g_autoptr (GPtrArray) after = template_keys ();
    HttpServer *server = http_server_start ();
    gint code = -1;

    assert_started_from_template (off);
    assert_started_from_template (on);
    g_autofree char *key = new_key (before, after);
    g_autofree char *script = g_strdup_printf (
        "python3 -c 'import socket\n"
        "s = socket.create_connection((\"host.boxlite.internal\", %u), 20)\n"
        "s.sendall(b\"GET / HTTP/1.0\\r\\n\\r\\n\")\n"
        "print(s.makefile(\"rb\").read().partition(b\"\\r\\n\\r\\n\")[2].decode(), end=\"\")'",
        server->port);
    g_autofree char *body = run_simple (on, script, &code);
    g_assert_cmpint (code, ==, 0);
    g_assert_cmpstr (body, ==, HTTP_BODY);
    g_autofree char *nics = run_simple (off, "ls /sys/class/net", &code);
    g_assert_null (strstr (nics, "eth0"));
    g_autofree char *on_nics = run_simple (on, "ls /sys/class/net", &code);
    g_assert_nonnull (strstr (on_nics, "eth0"));
    http_server_stop (server);
    remove_box (on);
    remove_box (off);
}

/* Memory is part of the key, and so is the kernel: a different file (a new
 * build) makes a new template. */
static void
test_inputs_change_key (void)
{
    g_autoptr (GPtrArray) k0 = template_keys ();
    BoxliteBox *small = start_box ("mem-256", FALSE, 256, 0, TRUE);
    g_autoptr (GPtrArray) k1 = template_keys ();
    g_autofree char *mem_key = new_key (k0, k1);
    assert_started_from_template (small);
    remove_box (small);

    const char *kernel = g_getenv ("BOXLITE_KERNEL");
    g_autofree char *real = g_strdup (kernel ? kernel : "/var/cache/boxlite/kernel/vmlinux");
    g_autofree char *copy = g_build_filename (home, "vmlinux-copy", NULL);
    g_autofree char *data = NULL;
    gsize len = 0;
    g_assert_true (g_file_get_contents (real, &data, &len, NULL));
    g_assert_true (g_file_set_contents (copy, data, (gssize) len, NULL));
    g_setenv ("BOXLITE_KERNEL", copy, TRUE);
    BoxliteBox *other = start_box ("new-kernel", FALSE, 256, 0, TRUE);
    g_autoptr (GPtrArray) k2 = template_keys ();
    g_autofree char *kernel_key = new_key (k1, k2);
    assert_started_from_template (other);
    g_autofree char *log = monitor_log (other);
    g_assert_nonnull (strstr (log, "made template"));
    remove_box (other);
    if (kernel)
        g_setenv ("BOXLITE_KERNEL", kernel, TRUE);
    else
        g_unsetenv ("BOXLITE_KERNEL");
    g_assert_cmpstr (mem_key, !=, kernel_key);
}

/* A template whose state or RAM file was damaged is made again, never
 * loaded: the box still starts from a template, a new one. */
static void
test_damaged_template_rebuilt (void)
{
    BoxliteBox *first = start_box ("first", FALSE, 0, 0, TRUE);
    remove_box (first);
    g_autoptr (GPtrArray) keys = template_keys ();
    g_assert_cmpuint (keys->len, >=, 1);

    for (guint round = 0; round < 2; round++) {
        for (guint i = 0; i < keys->len; i++) {
            g_autofree char *state =
                g_build_filename (templates, g_ptr_array_index (keys, i), "vmstate", NULL);
            g_autofree char *record =
                g_build_filename (templates, g_ptr_array_index (keys, i), "template.json", NULL);
            g_autofree char *text = NULL;
            if (round == 0) {
                /* One byte of the device state flipped. */
                gsize len = 0;
                g_assert_true (g_file_get_contents (state, &text, &len, NULL));
                text[len / 2] ^= 0x40;
                g_assert_true (g_file_set_contents (state, text, (gssize) len, NULL));
            } else {
                /* The RAM file cut short (its path is in the record). */
                g_autoptr (JsonParser) parser = json_parser_new ();
                g_assert_true (json_parser_load_from_file (parser, record, NULL));
                const char *ram = json_object_get_string_member (
                    json_node_get_object (json_parser_get_root (parser)), "ram_path");
                g_assert_cmpint (truncate (ram, 4096), ==, 0);
            }
        }
        BoxliteBox *box = start_box ("after-damage", FALSE, 0, 0, TRUE);
        assert_started_from_template (box);
        g_autofree char *log = monitor_log (box);
        g_assert_nonnull (strstr (log, "not usable, making it again"));
        g_autofree char *out = run_simple (box, "echo fine", NULL);
        g_assert_cmpstr (out, ==, "fine\n");
        remove_box (box);
    }
}

typedef struct {
    GMainLoop *loop;
    guint pending;
} Race;

static void
on_started (GObject *source, GAsyncResult *res, gpointer user_data)
{
    Race *race = user_data;
    g_autoptr (GError) error = NULL;

    boxlite_box_start_finish (BOXLITE_BOX (source), res, &error);
    g_assert_no_error (error);
    if (--race->pending == 0)
        g_main_loop_quit (race->loop);
}

/* Two monitors (two processes) want the same missing template at once:
 * it is made once, and both boxes start from it. */
static void
test_race_makes_once (void)
{
    g_autoptr (GError) error = NULL;
    guint made = 0;
    BoxliteBox *boxes[2];
    Race race = { g_main_loop_new (NULL, FALSE), G_N_ELEMENTS (boxes) };

    for (guint i = 0; i < G_N_ELEMENTS (boxes); i++) {
        g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
        g_autofree char *name = g_strdup_printf ("race-%u", i);
        boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
        /* A size no other test uses: its template does not exist yet. */
        boxlite_box_options_set_memory_mib (options, 320);
        boxes[i] = boxlite_runtime_create (runtime, options, name, NULL, &error);
        g_assert_no_error (error);
    }
    for (guint i = 0; i < G_N_ELEMENTS (boxes); i++)
        boxlite_box_start_async (boxes[i], NULL, on_started, &race);
    g_main_loop_run (race.loop);
    g_main_loop_unref (race.loop);
    for (guint i = 0; i < G_N_ELEMENTS (boxes); i++) {
        assert_started_from_template (boxes[i]);
        g_autofree char *log = monitor_log (boxes[i]);
        made += strstr (log, "made template") != NULL;
    }
    g_assert_cmpuint (made, ==, 1);
    for (guint i = 0; i < G_N_ELEMENTS (boxes); i++)
        remove_box (boxes[i]);
}

/* fast-start off and `--cold` boot the kernel, and inspect says why. */
static void
test_cold (void)
{
    BoxliteBox *box = start_box ("cold", FALSE, 0, 0, FALSE);
    g_autofree char *start = inspect_member (box, "start");
    g_autofree char *reason = inspect_member (box, "start_reason");
    g_assert_cmpstr (start, ==, "cold");
    g_assert_cmpstr (reason, ==, "fast_start is off");
    g_autofree char *out = run_simple (box, "hostname", NULL);
    g_assert_cmpstr (out, ==, "cold\n");
    remove_box (box);

    const char *cli = g_getenv ("BOXLITE_CLI");
    g_autofree char *stdout_text = NULL;
    gint status = -1;
    const char *const argv[] = { cli,    "run", "--rm",     "--cold", "--network",
                                 "none", "--",  "hostname", NULL };
    g_autoptr (GError) error = NULL;
    g_auto (GStrv) envp = g_environ_setenv (g_get_environ (), "BOXLITE_HOME", home, TRUE);
    g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_DEFAULT, NULL, NULL, &stdout_text, NULL,
                  &status, &error);
    g_assert_no_error (error);
    g_assert_cmpint (status, ==, 0);
    g_assert_true (g_str_has_prefix (stdout_text, "box-"));

    const char *const create[] = { cli,    "create", "--cold",   "--network",
                                   "none", "--name", "cli-cold", NULL };
    g_spawn_sync (NULL, (char **) create, envp, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status,
                  &error);
    g_assert_no_error (error);
    g_assert_cmpint (status, ==, 0);
    g_autoptr (BoxliteBox) made = boxlite_runtime_get (runtime, "cli-cold", &error);
    g_assert_no_error (error);
    g_autofree char *json = boxlite_box_inspect (made, &error);
    g_assert_no_error (error);
    g_assert_nonnull (strstr (json, "\"fast_start\" : false"));
    boxlite_runtime_remove (runtime, "cli-cold", TRUE, &error);
    g_assert_no_error (error);
}

static char *
cli_output (const char *const *args, gint *status)
{
    const char *cli = g_getenv ("BOXLITE_CLI");
    g_autoptr (GPtrArray) argv = g_ptr_array_new ();
    g_auto (GStrv) envp = g_environ_setenv (g_get_environ (), "BOXLITE_HOME", home, TRUE);
    g_autoptr (GError) error = NULL;
    char *out = NULL;

    g_ptr_array_add (argv, (char *) cli);
    for (guint i = 0; args[i]; i++)
        g_ptr_array_add (argv, (char *) args[i]);
    g_ptr_array_add (argv, NULL);
    g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL,
                  status, &error);
    g_assert_no_error (error);
    return out;
}

/* `template ls` lists what the home has; `template prune` removes it all,
 * RAM files included; `template warm` makes one again. */
static void
test_cli_ls_prune_warm (void)
{
    gint status = -1;
    g_autoptr (GPtrArray) keys = template_keys ();
    g_assert_cmpuint (keys->len, >=, 1);
    g_autoptr (GPtrArray) rams = g_ptr_array_new_with_free_func (g_free);
    for (guint i = 0; i < keys->len; i++) {
        g_autofree char *record =
            g_build_filename (templates, g_ptr_array_index (keys, i), "template.json", NULL);
        g_autoptr (JsonParser) parser = json_parser_new ();
        g_assert_true (json_parser_load_from_file (parser, record, NULL));
        g_ptr_array_add (rams,
                         g_strdup (json_object_get_string_member (
                             json_node_get_object (json_parser_get_root (parser)), "ram_path")));
        g_assert_true (g_file_test (g_ptr_array_index (rams, i), G_FILE_TEST_IS_REGULAR));
    }

    const char *const ls[] = { "template", "ls", NULL };
    g_autofree char *listing = cli_output (ls, &status);
    g_assert_cmpint (status, ==, 0);
    for (guint i = 0; i < keys->len; i++) {
        g_autofree char *prefix = g_strndup (g_ptr_array_index (keys, i), 12);
        g_assert_nonnull (strstr (listing, prefix));
    }

    const char *const prune[] = { "template", "prune", NULL };
    g_autofree char *pruned = cli_output (prune, &status);
    g_assert_cmpint (status, ==, 0);
    g_autofree char *expect = g_strdup_printf ("removed %u templates\n", keys->len);
    g_assert_cmpstr (pruned, ==, keys->len == 1 ? "removed 1 template\n" : expect);
    g_autoptr (GPtrArray) left = template_keys ();
    g_assert_cmpuint (left->len, ==, 0);
    for (guint i = 0; i < rams->len; i++)
        g_assert_false (g_file_test (g_ptr_array_index (rams, i), G_FILE_TEST_EXISTS));

    const char *const warm[] = { "template", "warm", "--network", "none", NULL };
    g_autofree char *warmed = cli_output (warm, &status);
    g_assert_cmpint (status, ==, 0);
    g_assert_cmpstr (warmed, ==, "ready\n");
    g_autoptr (GPtrArray) again = template_keys ();
    g_assert_cmpuint (again->len, ==, 1);
    BoxliteBox *box = start_box ("after-warm", FALSE, 0, 0, TRUE);
    g_autofree char *log = monitor_log (box);
    g_assert_null (strstr (log, "made template"));
    assert_started_from_template (box);
    remove_box (box);
}

/* A template that passes every check on the host but whose state QEMU
 * refuses: the copy is dropped, the box boots cold and says why, and the
 * template is made again for the next box. */
static void
test_refused_state_falls_back (void)
{
    BoxliteBox *first = start_box ("before-refusal", FALSE, 0, 0, TRUE);
    remove_box (first);
    g_autoptr (GPtrArray) keys = template_keys ();
    static const guint8 junk[] = { 'Q', 'E', 'V', 'M', 0, 0, 0, 3, 0x42, 0x42, 0x42, 0x42 };

    for (guint i = 0; i < keys->len; i++) {
        g_autofree char *dir = g_build_filename (templates, g_ptr_array_index (keys, i), NULL);
        g_autofree char *state = g_build_filename (dir, "vmstate", NULL);
        g_autofree char *record = g_build_filename (dir, "template.json", NULL);
        g_autoptr (JsonParser) parser = json_parser_new ();
        g_assert_true (json_parser_load_from_file (parser, record, NULL));
        JsonObject *obj = json_node_get_object (json_parser_get_root (parser));
        g_autofree char *sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, junk, sizeof junk);
        json_object_set_int_member (obj, "state_bytes", sizeof junk);
        json_object_set_string_member (obj, "state_sha256", sha);
        g_autofree char *text = json_to_string (json_parser_get_root (parser), FALSE);
        g_assert_true (g_file_set_contents (record, text, -1, NULL));
        g_assert_true (g_file_set_contents (state, (const char *) junk, sizeof junk, NULL));
    }
    BoxliteBox *box = start_box ("refused", FALSE, 0, 0, TRUE);
    g_autofree char *start = inspect_member (box, "start");
    g_autofree char *reason = inspect_member (box, "start_reason");
    g_assert_cmpstr (start, ==, "cold");
    g_assert_true (g_str_has_prefix (reason, "the start from a template failed: "));
    g_autofree char *out = run_simple (box, "hostname", NULL);
    g_assert_cmpstr (out, ==, "refused\n");
    remove_box (box);

    BoxliteBox *next = start_box ("after-refusal", FALSE, 0, 0, TRUE);
    assert_started_from_template (next);
    remove_box (next);
}

/* The QEMU of a running box: its monitor's child. */
static int
qemu_pid_of (BoxliteBox *box)
{
    int monitor = boxlite_box_get_monitor_pid (box);
    g_autofree char *path = g_strdup_printf ("/proc/%d/task/%d/children", monitor, monitor);
    g_autofree char *text = NULL;
    g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
    int pid = atoi (text);
    g_assert_cmpint (pid, >, 0);
    return pid;
}

/* The descriptor through which @pid maps the template's RAM, opened anew
 * (read-write, as the QEMU could), and what it is; -1 when none is a
 * memfd of ours. Fails the test if any descriptor is the RAM file. */
static int
open_ram_of (int pid, const char *ram_path, struct stat *st)
{
    g_autofree char *fds = g_strdup_printf ("/proc/%d/fd", pid);
    g_autoptr (GDir) dir = g_dir_open (fds, 0, NULL);
    const char *name;
    int found = -1;

    g_assert_nonnull (dir);
    while ((name = g_dir_read_name (dir))) {
        g_autofree char *link = g_build_filename (fds, name, NULL);
        g_autofree char *target = g_file_read_link (link, NULL);
        if (!target)
            continue;
        g_assert_cmpstr (target, !=, ram_path);
        if (found < 0 && g_str_has_prefix (target, "/memfd:boxlite-ram-")) {
            found = open (link, O_RDWR | O_CLOEXEC);
            g_assert_cmpint (found, >=, 0);
            g_assert_cmpint (fstat (found, st), ==, 0);
        }
    }
    return found;
}

/* A QEMU its guest took over holds its template's RAM read-write: what it
 * writes there must not reach the boxes started later from the template.
 * Its RAM is a sealed memfd that no descriptor can write; two copies
 * running at once still map the same one; the template's file is never
 * open in QEMU. */
static void
test_ram_sealed (void)
{
    BoxliteBox *a = start_box ("ram-a", FALSE, 0, 0, TRUE);
    BoxliteBox *b = start_box ("ram-b", FALSE, 0, 0, TRUE);
    assert_started_from_template (a);
    assert_started_from_template (b);

    g_autoptr (GPtrArray) keys = template_keys ();
    g_autofree char *ram_path = NULL;
    for (guint i = 0; i < keys->len && !ram_path; i++) {
        g_autofree char *record =
            g_build_filename (templates, g_ptr_array_index (keys, i), "template.json", NULL);
        g_autoptr (JsonParser) parser = json_parser_new ();
        if (json_parser_load_from_file (parser, record, NULL))
            ram_path = g_strdup (json_object_get_string_member (
                json_node_get_object (json_parser_get_root (parser)), "ram_path"));
    }
    g_assert_nonnull (ram_path);

    struct stat sa, sb;
    int fa = open_ram_of (qemu_pid_of (a), ram_path, &sa);
    int fb = open_ram_of (qemu_pid_of (b), ram_path, &sb);
    g_assert_cmpint (fa, >=, 0);
    g_assert_cmpint (fb, >=, 0);
    g_assert_cmpuint (sa.st_ino, ==, sb.st_ino);
    g_assert_cmpuint ((guint64) sa.st_size, ==, 512u << 20);

    guint8 page[4096];
    memset (page, 0xcc, sizeof page);
    g_assert_cmpint (pwrite (fa, page, sizeof page, 0), <, 0);
    g_assert_cmpint (errno, ==, EPERM);
    g_assert_true (mmap (NULL, sizeof page, PROT_READ | PROT_WRITE, MAP_SHARED, fa, 0) ==
                   MAP_FAILED);
    g_assert_cmpint (fallocate (fa, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1 << 20), <, 0);
    g_assert_cmpint (ftruncate (fa, 4096), <, 0);
    close (fa);
    close (fb);

    /* Both still run as before. */
    gint code = -1;
    g_autofree char *out = run_simple (b, "echo fine", &code);
    g_assert_cmpstr (out, ==, "fine\n");
    remove_box (a);
    remove_box (b);
}

/* The RAM of templates whose home was removed without a prune is host
 * memory until reboot: it goes once a box runs; this home's stays. */
static void
test_orphan_ram_swept (void)
{
    g_autofree char *name = g_strdup_printf ("boxlite-%u-0123456789abcdef", (unsigned) geteuid ());
    g_autofree char *orphan = g_build_filename ("/dev/shm", name, NULL);
    g_autofree char *home_file = g_build_filename (orphan, "home", NULL);
    g_autofree char *ram = g_build_filename (orphan, "k.ram", NULL);
    g_autofree char *gone =
        g_build_filename (g_get_tmp_dir (), "boxlite-no-such-home", "templates", NULL);

    g_assert_cmpint (g_mkdir_with_parents (orphan, 0700), ==, 0);
    g_assert_true (g_file_set_contents (home_file, gone, -1, NULL));
    g_assert_true (g_file_set_contents (ram, "pages", -1, NULL));

    BoxliteBox *box = start_box ("sweeper", FALSE, 0, 0, TRUE);
    assert_started_from_template (box);
    for (guint i = 0; i < 100 && g_file_test (orphan, G_FILE_TEST_EXISTS); i++)
        g_usleep (20 * 1000);
    g_assert_false (g_file_test (orphan, G_FILE_TEST_EXISTS));

    /* This home's RAM is still there: a second box starts from it. */
    BoxliteBox *next = start_box ("after-sweep", FALSE, 0, 0, TRUE);
    assert_started_from_template (next);
    remove_box (next);
    remove_box (box);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_autofree char *tmpl = g_build_filename (g_get_tmp_dir (), "boxlite-template-XXXXXX", NULL);
    home = g_mkdtemp (g_steal_pointer (&tmpl));
    g_assert_nonnull (home);
    templates = g_build_filename (home, "templates", NULL);
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (GError) error = NULL;
    boxlite_options_set_home_dir (options, home);
    runtime = boxlite_runtime_new (options, &error);
    g_assert_no_error (error);

    g_test_add_func ("/template/copies-differ", test_copies_differ);
    g_test_add_func ("/template/network", test_network_template);
    g_test_add_func ("/template/inputs-change-key", test_inputs_change_key);
    g_test_add_func ("/template/damaged-rebuilt", test_damaged_template_rebuilt);
    g_test_add_func ("/template/race-makes-once", test_race_makes_once);
    g_test_add_func ("/template/cold", test_cold);
    g_test_add_func ("/template/cli-ls-prune-warm", test_cli_ls_prune_warm);
    g_test_add_func ("/template/refused-state-falls-back", test_refused_state_falls_back);
    g_test_add_func ("/template/ram-sealed", test_ram_sealed);
    g_test_add_func ("/template/orphan-ram-swept", test_orphan_ram_swept);

    int ret = g_test_run ();
    const char *const prune[] = { "template", "prune", NULL };
    gint status = -1;
    g_autofree char *out = cli_output (prune, &status);
    g_clear_object (&runtime);
    const char *const rm[] = { "rm", "-rf", home, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
    g_free (templates);
    g_free (home);
    return ret;
}

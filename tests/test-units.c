/* test-units.c: the parts of the host side that need no VM: records,
 * options, launch descriptions, and the frame link's handling of bad input. */
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "box-record.h"
#include "boxlite-private.h"
#include <boxlite/boxlite.h>
#include "frame-conn.h"
#include "fs-tree.h"
#include "launch.h"
#include "main-log.h"
#include "metrics.h"
#include "netcounts.h"
#include "netspec.h"
#include "volume.h"

static char *
make_tmpdir (void)
{
    g_autofree char *tmpl = g_build_filename (g_get_tmp_dir (), "boxlite-unit-XXXXXX", NULL);
    return g_mkdtemp (g_steal_pointer (&tmpl));
}

static void
test_record_roundtrip (void)
{
    g_autofree char *dir = make_tmpdir ();
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    const char *env[] = { "A=1", "B=two words", NULL };
    boxlite_box_options_set_env (options, env);
    boxlite_box_options_set_cpus (options, 2);
    boxlite_box_options_set_auto_stop (options, 300);
    g_autoptr (JsonNode) json = bl_box_options_to_json (options);
    g_autoptr (BlRecord) record = bl_record_new ("0123abcd", "web", json);
    g_autoptr (GError) error = NULL;

    g_assert_true (bl_record_save (dir, record, &error));
    g_assert_no_error (error);
    g_assert_true (
        bl_record_set_state (dir, BOXLITE_BOX_STATE_CRASHED, 0, "QEMU was killed", &error));
    g_autoptr (BlRecord) loaded = bl_record_load (dir, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (loaded->id, ==, "0123abcd");
    g_assert_cmpstr (loaded->name, ==, "web");
    g_assert_cmpint (loaded->state, ==, BOXLITE_BOX_STATE_CRASHED);
    g_assert_cmpstr (loaded->error, ==, "QEMU was killed");
    g_assert_nonnull (loaded->finished_at);

    g_autoptr (BoxliteBoxOptions) back = bl_box_options_from_json (loaded->options, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (boxlite_box_options_get_cpus (back), ==, 2);
    g_assert_cmpuint (boxlite_box_options_get_auto_stop (back), ==, 300);
    g_assert_cmpstrv (boxlite_box_options_get_env (back), env);

    /* A damaged record is an error, not a crash. */
    g_autofree char *path = g_build_filename (dir, "box.json", NULL);
    g_file_set_contents (path, "{\"id\": 5", -1, NULL);
    g_autoptr (BlRecord) bad = bl_record_load (dir, &error);
    g_assert_null (bad);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED);
    g_clear_error (&error);
    g_file_set_contents (path, "{\"id\": \"x\", \"state\": \"flying\"}", -1, NULL);
    g_assert_null (bl_record_load (dir, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED);

    const char *const rm[] = { "rm", "-rf", dir, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
}

/* The "stop" events of @home's journal, as their "reason" attribute (or
 * "-" for none), in order, joined by spaces. */
static char *
stop_reasons (const char *home)
{
    g_autofree char *path = g_build_filename (home, "events.jsonl", NULL);
    g_autofree char *text = NULL;
    g_autoptr (GPtrArray) reasons = g_ptr_array_new_with_free_func (g_free);

    g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
    g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
    for (guint i = 0; lines[i] && *lines[i]; i++) {
        g_autoptr (JsonNode) node = json_from_string (lines[i], NULL);
        JsonObject *event = json_node_get_object (node);
        if (!g_str_equal (json_object_get_string_member (event, "action"), "stop"))
            continue;
        JsonNode *attributes = json_object_get_member (event, "attributes");
        g_ptr_array_add (reasons,
                         g_strdup (attributes ? json_object_get_string_member (
                                                    json_node_get_object (attributes), "reason")
                                              : "-"));
    }
    g_ptr_array_add (reasons, NULL);
    return g_strjoinv (" ", (char **) reasons->pdata);
}

/* Why a box stopped: kept while it is stopped, carried by the "stop" event,
 * forgotten by the next start and never kept by a crash. */
static void
test_record_stop_reason (void)
{
    g_autofree char *home = make_tmpdir ();
    g_autofree char *dir = g_build_filename (home, "boxes", "0123abcd", NULL);
    g_autoptr (BlRecord) record = bl_record_new ("0123abcd", "web", NULL);
    g_autoptr (GError) error = NULL;

    g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
    g_assert_true (bl_record_save (dir, record, &error));
    g_assert_true (bl_record_set_state (dir, BOXLITE_BOX_STATE_RUNNING, 1, NULL, &error));
    g_assert_true (bl_record_set_stopped (dir, BL_STOP_REASON_IDLE, &error));
    g_assert_no_error (error);
    g_autoptr (BlRecord) stopped = bl_record_load (dir, &error);
    g_assert_no_error (error);
    g_assert_cmpint (stopped->state, ==, BOXLITE_BOX_STATE_STOPPED);
    g_assert_cmpint (stopped->monitor_pid, ==, 0);
    g_assert_cmpstr (stopped->stop_reason, ==, "idle");
    g_assert_null (stopped->error);

    g_assert_true (bl_record_set_state (dir, BOXLITE_BOX_STATE_RUNNING, 1, NULL, &error));
    g_autoptr (BlRecord) running = bl_record_load (dir, &error);
    g_assert_null (running->stop_reason);
    g_assert_true (bl_record_set_stopped (dir, NULL, &error));
    g_assert_true (bl_record_set_state (dir, BOXLITE_BOX_STATE_RUNNING, 1, NULL, &error));
    g_assert_true (bl_record_set_state (dir, BOXLITE_BOX_STATE_CRASHED, 0, "gone", &error));
    g_autoptr (BlRecord) crashed = bl_record_load (dir, &error);
    g_assert_null (crashed->stop_reason);
    g_assert_cmpstr (crashed->error, ==, "gone");

    g_autofree char *reasons = stop_reasons (home);
    g_assert_cmpstr (reasons, ==, "idle -");

    const char *const rm[] = { "rm", "-rf", home, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
}

/* Writes @text as BOXDIR/net/netcounts.json. */
static char *
counts_file (const char *box_dir, const char *text)
{
    g_autofree char *net = g_build_filename (box_dir, "net", NULL);
    char *path = g_build_filename (net, BL_NET_COUNTS_NAME, NULL);

    g_assert_cmpint (g_mkdir_with_parents (net, 0700), ==, 0);
    g_unlink (path);
    if (text)
        g_assert_true (g_file_set_contents (path, text, -1, NULL));
    return path;
}

/* The network's counts, as the library and the monitor read them: what the
 * network process writes is summed; what a network process taken over by
 * its guest could leave there instead (a FIFO, a symlink, a huge file,
 * garbage) is refused at once, never waited on or followed. */
static void
test_net_counts (void)
{
    g_autofree char *dir = make_tmpdir ();
    g_autoptr (GError) error = NULL;
    BlNetTotals totals;

    g_autofree char *path = counts_file (dir, NULL);
    g_autoptr (GVariant) none = bl_net_counts_load (dir, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_variant_n_children (none), ==, 0);

    g_free (counts_file (dir, "{\"bytes in\": 1000, \"bytes out\": 200, \"tcp allowed listed\": 2,"
                              " \"udp allowed open\": 1, \"tcp denied not-listed\": 4,"
                              " \"dns allowed listed\": 7, \"bytes odd\": -5, \"x\": \"y\"}"));
    g_autoptr (GVariant) counts = bl_net_counts_load (dir, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_variant_n_children (counts), ==, 6);
    bl_net_counts_total (counts, &totals);
    g_assert_cmpuint (totals.bytes_in, ==, 1000);
    g_assert_cmpuint (totals.bytes_out, ==, 200);
    g_assert_cmpuint (totals.connections, ==, 3);
    g_assert_cmpuint (totals.denied, ==, 4);

    g_autofree char *huge = g_strnfill (BL_NET_COUNTS_MAX + 1, ' ');
    g_autofree char *target = g_build_filename (dir, "elsewhere.json", NULL);
    g_assert_true (g_file_set_contents (target, "{\"bytes in\": 1}", -1, NULL));
    for (guint i = 0; i < 4; i++) {
        g_free (counts_file (dir, i == 0 ? "[1, 2]" : i == 1 ? huge : NULL));
        if (i == 2)
            g_assert_cmpint (mkfifo (path, 0600), ==, 0);
        if (i == 3)
            g_assert_cmpint (symlink (target, path), ==, 0);
        g_autoptr (GVariant) bad = bl_net_counts_load (dir, &error);
        g_assert_null (bad);
        g_assert_nonnull (error);
        g_test_message ("refused: %s", error->message);
        g_clear_error (&error);
    }

    const char *const rm[] = { "rm", "-rf", dir, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
}

static void
test_options_validate (void)
{
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    g_autoptr (GError) error = NULL;

    g_assert_true (boxlite_box_options_validate (options, &error));
    g_assert_cmpuint (boxlite_box_options_get_cpus (options), ==, 1);
    g_assert_cmpuint (boxlite_box_options_get_memory_mib (options), ==, 512);
    /* The default network: enabled, with an empty allowlist (everything). */
    g_assert_cmpint (boxlite_box_options_get_network (options), ==, BOXLITE_NETWORK_ENABLED);
    const char *const *rules = boxlite_box_options_get_allow_net (options);
    g_assert_true (rules == NULL || rules[0] == NULL);

    boxlite_box_options_set_cpus (options, 0);
    g_assert_false (boxlite_box_options_validate (options, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    boxlite_box_options_set_cpus (options, 1);

    boxlite_box_options_set_memory_mib (options, 16);
    g_assert_false (boxlite_box_options_validate (options, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    boxlite_box_options_set_memory_mib (options, 512);

    const char *bad_env[] = { "NOEQUALS", NULL };
    boxlite_box_options_set_env (options, bad_env);
    g_assert_false (boxlite_box_options_validate (options, &error));
    g_assert_nonnull (strstr (error->message, "NOEQUALS"));
    g_clear_error (&error);
    boxlite_box_options_set_env (options, NULL);

    boxlite_box_options_set_working_dir (options, "relative/dir");
    g_assert_false (boxlite_box_options_validate (options, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
}

static void
test_options_network_roundtrip (void)
{
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    const char *rules[] = { "example.com", "*.allowed.test", "10.0.0.0/8", "2001:db8::1", NULL };
    const char *ports[] = { "8080:80", "0.0.0.0:5353:53/udp", "127.0.0.1:9000:9000/tcp", NULL };
    g_autoptr (GError) error = NULL;

    g_assert_null (boxlite_box_options_get_allow_net (options));
    g_assert_null (boxlite_box_options_get_ports (options));
    boxlite_box_options_set_network (options, BOXLITE_NETWORK_ENABLED);
    boxlite_box_options_set_allow_net (options, rules);
    boxlite_box_options_set_ports (options, ports);
    g_assert_true (bl_allow_net_validate (rules, &error) &&
                   bl_port_forwards_validate (ports, &error));
    g_assert_no_error (error);

    g_autoptr (JsonNode) json = bl_box_options_to_json (options);
    g_autofree char *text = json_to_string (json, FALSE);
    g_autoptr (JsonNode) parsed = json_from_string (text, &error);
    g_assert_no_error (error);
    g_autoptr (BoxliteBoxOptions) back = bl_box_options_from_json (parsed, &error);
    g_assert_no_error (error);
    g_assert_cmpint (boxlite_box_options_get_network (back), ==, BOXLITE_NETWORK_ENABLED);
    g_assert_cmpstrv (boxlite_box_options_get_allow_net (back), rules);
    g_assert_cmpstrv (boxlite_box_options_get_ports (back), ports);
    g_assert_true (bl_allow_net_validate (boxlite_box_options_get_allow_net (back), &error));

    /* Disabled survives a round trip too. */
    g_autoptr (BoxliteBoxOptions) off = boxlite_box_options_new ();
    boxlite_box_options_set_network (off, BOXLITE_NETWORK_DISABLED);
    g_autoptr (JsonNode) off_json = bl_box_options_to_json (off);
    g_autoptr (BoxliteBoxOptions) off_back = bl_box_options_from_json (off_json, &error);
    g_assert_no_error (error);
    g_assert_cmpint (boxlite_box_options_get_network (off_back), ==, BOXLITE_NETWORK_DISABLED);

    /* Without them, both stay empty after a round trip. */
    g_autoptr (BoxliteBoxOptions) plain = boxlite_box_options_new ();
    g_autoptr (JsonNode) plain_json = bl_box_options_to_json (plain);
    g_autoptr (BoxliteBoxOptions) plain_back = bl_box_options_from_json (plain_json, &error);
    g_assert_no_error (error);
    const char *const *none = boxlite_box_options_get_allow_net (plain_back);
    g_assert_true (none == NULL || none[0] == NULL);
    none = boxlite_box_options_get_ports (plain_back);
    g_assert_true (none == NULL || none[0] == NULL);
}

static void
test_options_network_invalid (void)
{
    const char *bad_ports[] = {
        "",
        "80",
        "0:80",
        "80:0",
        "65536:80",
        "80:65536",
        "a:80",
        "80:b",
        "-1:80",
        "+80:80",
        "80:80/sctp",
        "80:80/",
        "1.2.3:80:80",
        "localhost:80:80",
        "::1:80:80",
        "1:2:3:4",
        "80 :80",
        NULL,
    };
    const char *bad_rules[] = { "not a name", "10.0.0.1/8", "*.", "-bad.example", NULL };

    for (guint i = 0; bad_ports[i]; i++) {
        g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
        const char *one[] = { bad_ports[i], NULL };
        g_autoptr (GError) error = NULL;

        boxlite_box_options_set_network (options, BOXLITE_NETWORK_ENABLED);
        boxlite_box_options_set_ports (options, one);
        if (boxlite_box_options_validate (options, &error))
            g_error ("port forward '%s' was accepted", bad_ports[i]);
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    }
    for (guint i = 0; bad_rules[i]; i++) {
        g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
        const char *one[] = { bad_rules[i], NULL };
        g_autoptr (GError) error = NULL;

        boxlite_box_options_set_network (options, BOXLITE_NETWORK_ENABLED);
        boxlite_box_options_set_allow_net (options, one);
        if (boxlite_box_options_validate (options, &error))
            g_error ("allow_net rule '%s' was accepted", bad_rules[i]);
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    }

    /* Valid values still need the network. */
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    const char *ports[] = { "1:2", NULL };
    const char *rules[] = { "example.com", NULL };
    g_autoptr (GError) error = NULL;

    boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
    boxlite_box_options_set_ports (options, ports);
    g_assert_false (boxlite_box_options_validate (options, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    boxlite_box_options_set_ports (options, NULL);
    boxlite_box_options_set_allow_net (options, rules);
    g_assert_false (boxlite_box_options_validate (options, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    boxlite_box_options_set_network (options, BOXLITE_NETWORK_ENABLED);
    g_assert_true (boxlite_box_options_validate (options, &error));
    g_assert_no_error (error);
    boxlite_box_options_set_allow_net (options, NULL);
    boxlite_box_options_set_ports (options, ports);
    g_assert_true (boxlite_box_options_validate (options, &error));
    g_assert_no_error (error);
}

/* The runtime's hosts file must be an absolute path to a file. */
static void
test_options_hosts_file (void)
{
    const char *const bad[] = { "relative/hosts", "/nonexistent/hosts", "/etc" };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
        g_autoptr (BoxliteOptions) options = boxlite_options_new ();
        g_autoptr (GError) error = NULL;
        boxlite_options_set_hosts_file (options, bad[i]);
        g_assert_false (boxlite_options_validate (options, &error));
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull (strstr (error->message, bad[i]));
        g_assert_null (boxlite_runtime_new (options, NULL));
    }
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (GError) error = NULL;
    boxlite_options_set_hosts_file (options, "/etc/hosts");
    g_assert_true (boxlite_options_validate (options, &error));
    g_assert_no_error (error);
}

/* The spec grammar, without touching the host. */
static void
test_volume_parse (void)
{
    static const struct {
        const char *spec, *host, *guest;
        gboolean read_only, owners;
    } good[] = {
        { "/srv/data:/data", "/srv/data", "/data", FALSE, FALSE },
        { "/srv/data:/mnt//x/./y/:ro", "/srv/data", "/mnt/x/y", TRUE, FALSE },
        { "/srv/data:/data:rw", "/srv/data", "/data", FALSE, FALSE },
        { "/a b:/c d", "/a b", "/c d", FALSE, FALSE },
        { "/srv/root:/run/c:ro,owners", "/srv/root", "/run/c", TRUE, TRUE },
        { "/srv/root:/run/c:owners,ro", "/srv/root", "/run/c", TRUE, TRUE },
    };
    static const struct {
        const char *spec, *why;
    } bad[] = {
        { "/srv/data", "HOST:GUEST" },
        { "/srv/data:/data:rx", "unknown option 'rx'" },
        { "/srv/data:/data:ro:x", "HOST:GUEST" },
        { "/srv/data:/data:", "unknown option ''" },
        { "/srv/data:/data:owners", "only for read-only" },
        { "/srv/data:/data:rw,owners", "only for read-only" },
        { "/srv/data:/data:ro,owners,x", "unknown option 'x'" },
        { "srv/data:/data", "not an absolute path" },
        { ":/data", "not an absolute path" },
        { "/srv/data:data", "not absolute" },
        { "/srv/data:", "not absolute" },
        { "/srv/data:/", "cannot be '/'" },
        { "/srv/data:/./", "cannot be '/'" },
        { "/srv/data:/a/../etc", "'..'" },
        { "/srv/data:/..", "'..'" },
        { "/srv/data:/a\nb", NULL },
    };

    for (guint i = 0; i < G_N_ELEMENTS (good); i++) {
        g_autoptr (GError) error = NULL;
        g_autoptr (BlVolume) v = bl_volume_parse (good[i].spec, &error);
        g_assert_no_error (error);
        g_assert_cmpstr (v->host, ==, good[i].host);
        g_assert_cmpstr (v->guest, ==, good[i].guest);
        g_assert_cmpint (v->read_only, ==, good[i].read_only);
        g_assert_cmpint (v->owners, ==, good[i].owners);
    }
    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
        g_autoptr (GError) error = NULL;
        g_autofree char *spec = g_strcompress (bad[i].spec);
        g_autoptr (BlVolume) v = bl_volume_parse (spec, &error);
        g_assert_null (v);
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
        if (bad[i].why)
            g_assert_nonnull (strstr (error->message, bad[i].why));
    }
    g_autofree char *long_guest = g_strnfill (BL_VOLUME_MAX_GUEST_PATH + 1, 'a');
    long_guest[0] = '/';
    g_autofree char *long_spec = g_strconcat ("/srv:", long_guest, NULL);
    g_autoptr (GError) error = NULL;
    g_assert_null (bl_volume_parse (long_spec, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);

    g_autofree char *spec = bl_volume_format ("/h", "/g", TRUE);
    g_assert_cmpstr (spec, ==, "/h:/g:ro");
}

/* A list: the same guest path twice (however written), too many volumes. */
static void
test_volumes_list (void)
{
    g_autoptr (GError) error = NULL;
    const char *const dup[] = { "/a:/data", "/b:/data/./", NULL };
    g_assert_null (bl_volumes_parse (dup, FALSE, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "already a volume"));
    g_clear_error (&error);

    g_autoptr (GPtrArray) many = g_ptr_array_new_with_free_func (g_free);
    for (guint i = 0; i <= BL_VOLUME_MAX; i++)
        g_ptr_array_add (many, g_strdup_printf ("/h:/g%u", i));
    g_ptr_array_add (many, NULL);
    g_assert_null (bl_volumes_parse ((const char *const *) many->pdata, FALSE, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);

    g_autoptr (GPtrArray) none = bl_volumes_parse (NULL, TRUE, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (none->len, ==, 0);
}

/* The options keep volumes as specs: add_volume appends one, the record
 * round trip keeps them. */
static void
test_options_volumes (void)
{
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    g_autofree char *dir = make_tmpdir ();
    g_autoptr (GError) error = NULL;

    g_assert_null (boxlite_box_options_get_volumes (options));
    boxlite_box_options_add_volume (options, dir, "/data", FALSE);
    boxlite_box_options_add_volume (options, dir, "/ro", TRUE);
    g_autofree char *rw = g_strconcat (dir, ":/data", NULL);
    g_autofree char *ro = g_strconcat (dir, ":/ro:ro", NULL);
    const char *const want[] = { rw, ro, NULL };
    g_assert_cmpstrv (boxlite_box_options_get_volumes (options), want);
    g_assert_true (boxlite_box_options_validate (options, &error));
    g_assert_no_error (error);

    g_autoptr (JsonNode) json = bl_box_options_to_json (options);
    g_autoptr (BoxliteBoxOptions) back = bl_box_options_from_json (json, &error);
    g_assert_no_error (error);
    g_assert_cmpstrv (boxlite_box_options_get_volumes (back), want);
    g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_launch_roundtrip (void)
{
    g_autofree char *dir = make_tmpdir ();
    g_autofree char *path = g_build_filename (dir, "launch.json", NULL);
    BlLaunch launch = {
        .box_id = (char *) "abc",
        .box_dir = dir,
        .qemu = (char *) "/usr/bin/qemu",
        .kernel = (char *) "/k",
        .initrd = (char *) "/i",
        .disk = (char *) "/d",
        .cpus = 2,
        .memory_mib = 256,
        .max_processes = 100,
        .accel = BOXLITE_ACCEL_TCG,
        .hostname = (char *) "h",
        .detach = TRUE,
        .auto_stop = 30,
        .boot_timeout_ms = 5000,
    };
    g_autoptr (GError) error = NULL;

    g_assert_true (bl_launch_save (path, &launch, &error));
    g_autoptr (BlLaunch) back = bl_launch_load (path, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (back->disk, ==, "/d");
    g_assert_cmpuint (back->cpus, ==, 2);
    g_assert_cmpuint (back->max_processes, ==, 100);
    g_assert_cmpint (back->accel, ==, BOXLITE_ACCEL_TCG);
    g_assert_true (back->detach);
    g_assert_cmpuint (back->auto_stop, ==, 30);
    g_assert_true (!back->ports || !back->ports[0]);

    /* The network spec travels too, and is checked again on load. */
    const char *rules[] = { "*.allowed.test", "192.0.2.0/24", NULL };
    const char *ports[] = { "8080:80", "127.0.0.1:5353:53/udp", NULL };
    launch.network = BOXLITE_NETWORK_ENABLED;
    launch.allow_net = (GStrv) rules;
    launch.ports = (GStrv) ports;
    launch.hosts_file = (char *) "/etc/hosts";
    g_assert_true (bl_launch_save (path, &launch, &error));
    g_autoptr (BlLaunch) net = bl_launch_load (path, &error);
    g_assert_no_error (error);
    g_assert_cmpint (net->network, ==, BOXLITE_NETWORK_ENABLED);
    g_assert_cmpstrv (net->allow_net, rules);
    g_assert_cmpstrv (net->ports, ports);
    g_assert_cmpstr (net->hosts_file, ==, "/etc/hosts");
    launch.hosts_file = NULL;

    const char *bad_ports[] = { "8080:0", NULL };
    launch.ports = (GStrv) bad_ports;
    g_assert_true (bl_launch_save (path, &launch, &error));
    g_assert_null (bl_launch_load (path, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    launch.ports = (GStrv) ports;
    launch.network = BOXLITE_NETWORK_DISABLED;
    g_assert_true (bl_launch_save (path, &launch, &error));
    g_assert_null (bl_launch_load (path, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    launch.allow_net = NULL;
    launch.ports = NULL;

    /* Volumes travel, and a bad one is refused on load. */
    const char *volumes[] = { "/srv/a:/data", "/srv/b:/ro:ro", NULL };
    launch.volumes = (GStrv) volumes;
    g_assert_true (bl_launch_save (path, &launch, &error));
    g_autoptr (BlLaunch) vol = bl_launch_load (path, &error);
    g_assert_no_error (error);
    g_assert_cmpstrv (vol->volumes, volumes);
    const char *bad_volumes[] = { "/srv/a:relative", NULL };
    launch.volumes = (GStrv) bad_volumes;
    g_assert_true (bl_launch_save (path, &launch, &error));
    g_assert_null (bl_launch_load (path, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    launch.volumes = NULL;

    /* Relative paths are refused: the monitor may be run by hand. */
    g_file_set_contents (path,
                         "{\"box_id\":\"a\",\"box_dir\":\"rel\",\"qemu\":\"/q\",\"kernel\":\"/k\","
                         "\"initrd\":\"/i\",\"disk\":\"/d\"}",
                         -1, NULL);
    g_assert_null (bl_launch_load (path, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_unlink (path);
    g_rmdir (dir);
}

static void
test_header_decode (void)
{
    guint8 raw[BL_PROTO_HEADER_SIZE];
    struct bl_frame_header h = { .len = 10, .channel = 3, .type = BL_FRAME_STDOUT };
    struct bl_frame_header out;

    bl_proto_encode_header (raw, &h);
    g_assert_cmpint (bl_proto_decode_header (raw, &out), ==, 0);
    g_assert_cmpuint (out.len, ==, 10);
    g_assert_cmpuint (out.channel, ==, 3);

    raw[10] = 1; /* padding must be zero */
    g_assert_cmpint (bl_proto_decode_header (raw, &out), <, 0);

    h = (struct bl_frame_header){ .len = BL_PROTO_MAX_PAYLOAD + 1,
                                  .channel = 1,
                                  .type = BL_FRAME_STDOUT };
    bl_proto_encode_header (raw, &h);
    g_assert_cmpint (bl_proto_decode_header (raw, &out), <, 0);

    h = (struct bl_frame_header){ .len = 3, .channel = 1, .type = BL_FRAME_CREDIT };
    bl_proto_encode_header (raw, &h);
    g_assert_cmpint (bl_proto_decode_header (raw, &out), <, 0);

    h = (struct bl_frame_header){ .len = 1, .channel = 1, .type = 9 };
    bl_proto_encode_header (raw, &h);
    g_assert_cmpint (bl_proto_decode_header (raw, &out), <, 0);

    h = (struct bl_frame_header){ .len = 1, .channel = 0, .type = BL_FRAME_STDIN };
    bl_proto_encode_header (raw, &h);
    g_assert_cmpint (bl_proto_decode_header (raw, &out), <, 0);
}

typedef struct {
    GMainLoop *loop;
    guint frames;
    gboolean closed;
    GError *reason;
    GString *payloads;
} LinkState;

static void
on_test_frame (BlFrameConn *conn, guint channel, guint type, GBytes *payload, gpointer data)
{
    LinkState *st = data;
    gsize len = 0;
    const char *p = g_bytes_get_data (payload, &len);

    st->frames++;
    g_string_append_len (st->payloads, p, (gssize) len);
}

static void
on_test_closed (BlFrameConn *conn, const GError *reason, gpointer data)
{
    LinkState *st = data;

    st->closed = TRUE;
    st->reason = reason ? g_error_copy (reason) : NULL;
    g_main_loop_quit (st->loop);
}

/* Feeds @bytes as a peer would and returns what the link made of them. */
static void
feed_link (const void *bytes, gsize len, LinkState *st)
{
    int sv[2];
    g_autoptr (GError) error = NULL;

    g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    g_autoptr (GSocket) sock = g_socket_new_from_fd (sv[0], &error);
    g_assert_no_error (error);
    g_autoptr (GSocketConnection) conn = g_socket_connection_factory_create_connection (sock);
    st->loop = g_main_loop_new (NULL, FALSE);
    st->payloads = g_string_new (NULL);
    g_autoptr (BlFrameConn) link = bl_frame_conn_new (G_IO_STREAM (conn), "test peer");
    g_signal_connect (link, "frame", G_CALLBACK (on_test_frame), st);
    g_signal_connect (link, "closed", G_CALLBACK (on_test_closed), st);
    g_assert_cmpint (write (sv[1], bytes, len), ==, (gssize) len);
    close (sv[1]);
    g_main_loop_run (st->loop);
    g_main_loop_unref (st->loop);
}

static void
test_link_frames_and_eof (void)
{
    guint8 buf[2 * BL_PROTO_HEADER_SIZE + 5];
    struct bl_frame_header h1 = { .len = 3, .channel = 1, .type = BL_FRAME_STDOUT };
    struct bl_frame_header h2 = { .len = 2, .channel = 1, .type = BL_FRAME_STDERR };
    LinkState st = { 0 };

    bl_proto_encode_header (buf, &h1);
    memcpy (buf + BL_PROTO_HEADER_SIZE, "abc", 3);
    bl_proto_encode_header (buf + BL_PROTO_HEADER_SIZE + 3, &h2);
    memcpy (buf + 2 * BL_PROTO_HEADER_SIZE + 3, "de", 2);
    feed_link (buf, sizeof buf, &st);
    g_assert_cmpuint (st.frames, ==, 2);
    g_assert_cmpstr (st.payloads->str, ==, "abcde");
    g_assert_true (st.closed);
    g_assert_null (st.reason); /* clean EOF */
    g_string_free (st.payloads, TRUE);
}

static void
test_link_rejects_garbage (void)
{
    LinkState st = { 0 };
    const char garbage[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

    feed_link (garbage, sizeof garbage - 1, &st);
    g_assert_cmpuint (st.frames, ==, 0);
    g_assert_error (st.reason, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
    g_clear_error (&st.reason);
    g_string_free (st.payloads, TRUE);

    /* A header that promises more than it sends. */
    guint8 buf[BL_PROTO_HEADER_SIZE + 2] = { 0 };
    struct bl_frame_header h = { .len = 100, .channel = 1, .type = BL_FRAME_STDOUT };
    LinkState st2 = { 0 };
    bl_proto_encode_header (buf, &h);
    feed_link (buf, sizeof buf, &st2);
    g_assert_cmpuint (st2.frames, ==, 0);
    g_assert_error (st2.reason, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
    g_clear_error (&st2.reason);
    g_string_free (st2.payloads, TRUE);
}

static void
test_control_parse (void)
{
    const char *bad[] = { "[1,2]", "{\"a\":", "\xff\xfe", "42" };
    g_autoptr (GError) error = NULL;

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
        g_autoptr (GBytes) b = g_bytes_new_static (bad[i], strlen (bad[i]));
        g_autoptr (JsonObject) obj = bl_frame_parse_control (b, &error);
        g_assert_null (obj);
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
        g_clear_error (&error);
    }
    g_autoptr (GBytes) good = g_bytes_new_static ("{\"return\":{\"pid\":7}}", 20);
    g_autoptr (JsonObject) obj = bl_frame_parse_control (good, &error);
    g_assert_no_error (error);
    g_assert_true (json_object_has_member (obj, "return"));
}

static gpointer
parse_control_text (gpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) b = g_bytes_new_static (data, strlen (data));
    g_autoptr (JsonObject) obj = bl_frame_parse_control (b, &error);
    return GINT_TO_POINTER (obj != NULL ? -1 : error->code);
}

/* A control message nested 200 000 deep would exhaust the parser's stack
 * (json-glib recurses): it is refused before parsing, on a thread with a
 * small stack as the monitor's and the library's are not. Nesting up to the
 * limit parses. */
static void
test_control_nesting (void)
{
    const guint deep = 200000;
    GString *text = g_string_new ("{\"return\":");
    for (guint i = 0; i < deep; i++)
        g_string_append_c (text, '[');
    g_string_append_c (text, '}');

    pthread_attr_t attr;
    pthread_t thread;
    void *result = NULL;
    pthread_attr_init (&attr);
    pthread_attr_setstacksize (&attr, 256 * 1024);
    g_assert_cmpint (pthread_create (&thread, &attr, parse_control_text, text->str), ==, 0);
    g_assert_cmpint (pthread_join (thread, &result), ==, 0);
    pthread_attr_destroy (&attr);
    g_assert_cmpint (GPOINTER_TO_INT (result), ==, BOXLITE_ERROR_PROTOCOL);
    g_string_free (text, TRUE);

    /* The limit counts the outer object: 63 arrays inside it parse, 64 not. */
    for (guint arrays = 63; arrays <= 64; arrays++) {
        GString *t = g_string_new ("{\"return\":");
        for (guint i = 0; i < arrays; i++)
            g_string_append_c (t, '[');
        for (guint i = 0; i < arrays; i++)
            g_string_append_c (t, ']');
        g_string_append (t, ",\"s\":\"[[[[\\\"\"}");
        gint code = GPOINTER_TO_INT (parse_control_text (t->str));
        g_assert_cmpint (code, ==, arrays == 63 ? -1 : BOXLITE_ERROR_PROTOCOL);
        g_string_free (t, TRUE);
    }
}

static BoxliteRuntime *
runtime_at (const char *home, GError **error)
{
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    boxlite_options_set_home_dir (options, home);
    return boxlite_runtime_new (options, error);
}

static guint
mode_of (const char *path)
{
    struct stat st;
    g_assert_cmpint (lstat (path, &st), ==, 0);
    return st.st_mode & 07777;
}

/* The home directory and what boxlite keeps in it are the user's alone: modes
 * open to others are closed, and a part that belongs to someone else or is a
 * link to elsewhere is refused before anything is read from it. */
static void
test_home_private (void)
{
    g_autofree char *top = g_dir_make_tmp ("boxlite-home-XXXXXX", NULL);
    g_autofree char *home = g_build_filename (top, "home", NULL);
    g_autofree char *boxes = g_build_filename (home, "boxes", NULL);
    g_autofree char *registries = g_build_filename (home, "registries.json", NULL);
    g_autofree char *elsewhere = g_build_filename (top, "elsewhere", NULL);
    g_autoptr (GError) error = NULL;

    g_assert_cmpint (g_mkdir (home, 0777), ==, 0);
    g_assert_cmpint (chmod (home, 0777), ==, 0);
    g_assert_cmpint (g_mkdir (boxes, 0755), ==, 0);
    g_assert_true (g_file_set_contents (registries, "[]", -1, NULL));
    g_assert_cmpint (chmod (registries, 0644), ==, 0);
    {
        g_autoptr (BoxliteRuntime) rt = runtime_at (home, &error);
        g_assert_no_error (error);
        g_assert_nonnull (rt);
    }
    g_assert_cmpuint (mode_of (home), ==, 0700);
    g_assert_cmpuint (mode_of (boxes), ==, 0700);
    g_assert_cmpuint (mode_of (registries), ==, 0600);

    /* boxes/ swapped for a link to a directory of the attacker's choosing. */
    g_assert_cmpint (g_mkdir (elsewhere, 0700), ==, 0);
    g_assert_cmpint (rmdir (boxes), ==, 0);
    g_assert_cmpint (symlink (elsewhere, boxes), ==, 0);
    g_assert_null (runtime_at (home, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    g_assert_nonnull (strstr (error->message, boxes));
    g_clear_error (&error);
    g_assert_cmpint (unlink (boxes), ==, 0);

    /* registries.json (it holds passwords) as a link. */
    g_assert_cmpint (unlink (registries), ==, 0);
    g_assert_cmpint (symlink ("/etc/passwd", registries), ==, 0);
    g_assert_null (runtime_at (home, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    g_clear_error (&error);
    g_assert_cmpint (unlink (registries), ==, 0);

    /* A home of another user (only root can make one to test with). */
    if (geteuid () == 0) {
        g_assert_cmpint (chown (home, 65534, 65534), ==, 0);
        g_assert_null (runtime_at (home, &error));
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
        g_assert_nonnull (strstr (error->message, "uid 65534"));
        g_clear_error (&error);
        g_assert_cmpint (chown (home, 0, 0), ==, 0);
    }
    g_autoptr (BoxliteRuntime) again = runtime_at (home, &error);
    g_assert_no_error (error);
    g_assert_true (bl_tree_remove (top, NULL));
}

static void
append_record (GByteArray *file, BlMainLogStream stream, const char *text)
{
    guint8 head[BL_MAIN_LOG_HEADER_SIZE];

    bl_main_log_encode_header (head, stream, (guint32) strlen (text), 1000);
    g_byte_array_append (file, head, sizeof head);
    g_byte_array_append (file, (const guint8 *) text, (guint) strlen (text));
}

/* What bl_main_log_read() gives for @tail, as "1:text|2:text|". */
static char *
read_logs (const char *dir, guint tail)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) v = bl_main_log_read (dir, tail, &error);
    g_assert_no_error (error);
    GString *out = g_string_new (NULL);
    GVariantIter iter;
    gint64 t;
    guint8 stream;
    GVariant *bytes;

    g_variant_iter_init (&iter, v);
    while (g_variant_iter_next (&iter, "(xy@ay)", &t, &stream, &bytes)) {
        gsize n;
        const char *data = g_variant_get_fixed_array (bytes, &n, 1);
        g_string_append_printf (out, "%u:%.*s|", stream, (int) n, data);
        g_variant_unref (bytes);
    }
    return g_string_free (out, FALSE);
}

static void
check_logs (const char *dir, guint tail, const char *expected)
{
    g_autofree char *got = read_logs (dir, tail);

    g_assert_cmpstr (got, ==, expected);
}

/* The output log: both generations in order, --tail across records and
 * streams, a record cut short at the end left for later, and a file that
 * is not a log refused. */
static void
test_main_log (void)
{
    g_autofree char *dir = g_dir_make_tmp ("bl-mainlog-XXXXXX", NULL);
    g_autofree char *cur = g_build_filename (dir, BL_MAIN_LOG_NAME, NULL);
    g_autofree char *old = g_build_filename (dir, BL_MAIN_LOG_OLD_NAME, NULL);
    g_autoptr (GByteArray) a = g_byte_array_new ();
    g_autoptr (GByteArray) b = g_byte_array_new ();
    g_autoptr (GError) error = NULL;

    check_logs (dir, 0, "");
    append_record (a, BL_MAIN_LOG_STDOUT, "one\ntw");
    append_record (a, BL_MAIN_LOG_STDERR, "e1\n");
    append_record (b, BL_MAIN_LOG_STDOUT, "o\nthree\n");
    g_assert_true (g_file_set_contents (old, (char *) a->data, a->len, NULL));
    g_assert_true (g_file_set_contents (cur, (char *) b->data, b->len, NULL));
    check_logs (dir, 0, "1:one\ntw|2:e1\n|1:o\nthree\n|");
    check_logs (dir, 1, "1:three\n|");
    check_logs (dir, 2, "1:o\nthree\n|");
    /* Lines are counted in the order the bytes came, streams together. */
    check_logs (dir, 3, "1:tw|2:e1\n|1:o\nthree\n|");
    check_logs (dir, 4, "1:one\ntw|2:e1\n|1:o\nthree\n|");
    check_logs (dir, 99, "1:one\ntw|2:e1\n|1:o\nthree\n|");

    /* A record still being written is not shown yet. */
    append_record (b, BL_MAIN_LOG_STDOUT, "partial");
    g_assert_true (g_file_set_contents (cur, (char *) b->data, b->len - 3, NULL));
    check_logs (dir, 1, "1:three\n|");

    /* Not a log: refused, not half-read. */
    g_assert_true (g_file_set_contents (cur, "garbage that is long enough", -1, NULL));
    g_autoptr (GVariant) v = bl_main_log_read (dir, 0, &error);
    g_assert_null (v);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED);
    g_unlink (cur);
    g_unlink (old);
    g_rmdir (dir);
}

/* ---- metrics.c: the monitor's "stats" answer ---------------------------- */

#define GUEST_MEMORY_MAX (G_GUINT64_CONSTANT (512) << 20)

static gboolean
parse_metrics (const char *json, GVariant **out, GError **error)
{
    g_autoptr (JsonNode) root = json_from_string (json, NULL);
    g_autoptr (GVariantDict) dict = g_variant_dict_new (NULL);

    g_assert_nonnull (root);
    gboolean ok = bl_metrics_parse (json_node_get_object (root), GUEST_MEMORY_MAX, dict, error);
    *out = g_variant_ref_sink (g_variant_dict_end (dict));
    return ok;
}

#define HONEST_GUEST                                                                               \
    "\"mem_total\": 500000000, \"mem_available\": 400000000, \"load1\": 1250, \"load5\": 0, "      \
    "\"load15\": 30, \"processes\": 12, \"disk_total\": 1000000, \"disk_used\": 250000, "          \
    "\"disk_available\": 700000"

static void
test_metrics_honest (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) m = NULL;
    guint64 v = 0;
    double load = 0;

    g_assert_true (parse_metrics (
        "{\"processes\": {\"qemu\": {\"rss\": 1000, \"cpu_ns\": 5}, \"monitor\": {\"rss\": -1}},"
        " \"disk\": {\"read_bytes\": 7, \"write_bytes\": 8, \"read_ops\": 1, \"write_ops\": 2},"
        " \"guest\": {" HONEST_GUEST ", \"future\": \"ignored\"}}",
        &m, &error));
    g_assert_no_error (error);
    g_assert_true (g_variant_lookup (m, "qemu-rss", "t", &v));
    g_assert_cmpuint (v, ==, 1000);
    /* A host figure that is not a count is left out, not trusted. */
    g_assert_false (g_variant_lookup (m, "monitor-rss", "t", &v));
    g_assert_true (g_variant_lookup (m, "disk-write-bytes", "t", &v));
    g_assert_cmpuint (v, ==, 8);
    g_assert_true (g_variant_lookup (m, "mem-used", "t", &v));
    g_assert_cmpuint (v, ==, 100000000);
    g_assert_true (g_variant_lookup (m, "load-1", "d", &load));
    g_assert_cmpfloat (load, ==, 1.25);
    g_assert_true (g_variant_lookup (m, "fs-used", "t", &v));
    g_assert_cmpuint (v, ==, 250000);

    /* A guest that did not answer in time: the host's part alone. */
    g_clear_pointer (&m, g_variant_unref);
    g_assert_true (
        parse_metrics ("{\"processes\": {\"qemu\": {\"rss\": 1, \"cpu_ns\": 1}}}", &m, &error));
    g_assert_no_error (error);
    g_assert_false (g_variant_lookup (m, "mem-total", "t", &v));
}

/* What root in the guest might answer to make the figures lie: each is
 * refused as a whole, and none of the guest's figures is shown. */
static void
test_metrics_hostile (void)
{
    static const char *const guests[] = {
        "[]",
        "\"lots\"",
        "{\"mem_total\": -1, \"mem_available\": 0}",
        "{\"mem_total\": \"500000000\", \"mem_available\": 0}",
        "{\"mem_total\": 5e8, \"mem_available\": 0}",
        "{\"mem_total\": true, \"mem_available\": 0}",
        "{\"mem_total\": 100, \"mem_available\": 200}",
        "{\"mem_total\": 536870913, \"mem_available\": 0}",
        "{\"mem_total\": 9223372036854775807, \"mem_available\": 0}",
        "{\"mem_total\": 100}",
        "{\"processes\": 4194305}",
        "{\"processes\": null}",
        "{\"load1\": 1000000001}",
        "{\"load15\": -5}",
        "{\"disk_total\": 10, \"disk_used\": 11, \"disk_available\": 0}",
        "{\"disk_total\": 10, \"disk_used\": 1, \"disk_available\": 11}",
        "{\"disk_total\": 10, \"disk_used\": 1}",
        "{\"disk_total\": 2251799813685249, \"disk_used\": 0, \"disk_available\": 0}",
        "{\"disk_used\": {\"nested\": 1}, \"disk_total\": 10, \"disk_available\": 0}",
    };

    for (guint i = 0; i < G_N_ELEMENTS (guests); i++) {
        g_autoptr (GError) error = NULL;
        g_autoptr (GVariant) m = NULL;
        g_autofree char *json = g_strdup_printf ("{\"guest\": %s}", guests[i]);
        guint64 v = 0;

        g_test_message ("guest answer %s", guests[i]);
        g_assert_false (parse_metrics (json, &m, &error));
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
        g_assert_false (g_variant_lookup (m, "mem-total", "t", &v));
        g_assert_false (g_variant_lookup (m, "processes", "t", &v));
        g_assert_false (g_variant_lookup (m, "fs-total", "t", &v));
    }

    /* Too many members: a flood is refused before any is looked at. */
    g_autoptr (GString) flood = g_string_new ("{\"guest\": {" HONEST_GUEST);
    for (guint i = 0; i < BL_METRICS_GUEST_MAX_MEMBERS; i++)
        g_string_append_printf (flood, ", \"x%u\": 0", i);
    g_string_append (flood, "}}");
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) m = NULL;
    g_assert_false (parse_metrics (flood->str, &m, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/units/record/roundtrip", test_record_roundtrip);
    g_test_add_func ("/units/record/stop-reason", test_record_stop_reason);
    g_test_add_func ("/units/net-counts", test_net_counts);
    g_test_add_func ("/units/main-log", test_main_log);
    g_test_add_func ("/units/options/validate", test_options_validate);
    g_test_add_func ("/units/options/network-roundtrip", test_options_network_roundtrip);
    g_test_add_func ("/units/options/network-invalid", test_options_network_invalid);
    g_test_add_func ("/units/options/hosts-file", test_options_hosts_file);
    g_test_add_func ("/units/runtime/home-private", test_home_private);
    g_test_add_func ("/units/launch/roundtrip", test_launch_roundtrip);
    g_test_add_func ("/units/volumes/parse", test_volume_parse);
    g_test_add_func ("/units/volumes/list", test_volumes_list);
    g_test_add_func ("/units/volumes/options", test_options_volumes);
    g_test_add_func ("/units/proto/header-decode", test_header_decode);
    g_test_add_func ("/units/link/frames-and-eof", test_link_frames_and_eof);
    g_test_add_func ("/units/link/rejects-garbage", test_link_rejects_garbage);
    g_test_add_func ("/units/link/control-parse", test_control_parse);
    g_test_add_func ("/units/link/control-nesting", test_control_nesting);
    g_test_add_func ("/units/metrics/honest", test_metrics_honest);
    g_test_add_func ("/units/metrics/hostile-guest", test_metrics_hostile);
    return g_test_run ();
}

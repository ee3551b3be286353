/* test-idle.c: auto_stop on real boxes (TCG where KVM is unusable): a box
 * is not stopped while a command runs (attached or detached), while its
 * network carries traffic or while it is paused; it stops by itself once
 * idle, says so (its record, inspect, the "stop" event), and goes with
 * auto_remove; a box without auto_stop stays up. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <boxlite/boxlite.h>
#include "test-util.h"

#define AUTO_STOP_S 5
/* How long a box that should stop by itself gets to: its auto_stop, a
 * guest shutdown under TCG, and a loaded machine. */
#define STOP_BOUND_S 60

static char *home;
static BoxliteRuntime *runtime;

static BoxliteBox *
start_box (const char *name, guint auto_stop, gboolean auto_remove)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();

    boxlite_box_options_set_auto_stop (options, auto_stop);
    boxlite_box_options_set_auto_remove (options, auto_remove);
    BoxliteBox *box = boxlite_runtime_create (runtime, options, name, NULL, &error);
    g_assert_no_error (error);
    boxlite_box_start (box, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (boxlite_box_get_state (box), ==, BOXLITE_BOX_STATE_RUNNING);
    return box;
}

static gdouble
seconds_since (gint64 start_us)
{
    return (gdouble) (g_get_monotonic_time () - start_us) / G_USEC_PER_SEC;
}

/* Waits until @box is no longer running or paused; returns its state. */
static BoxliteBoxState
wait_stopped (BoxliteBox *box)
{
    gint64 start = g_get_monotonic_time ();
    BoxliteBoxState state = boxlite_box_get_state (box);

    while (state == BOXLITE_BOX_STATE_RUNNING && seconds_since (start) < STOP_BOUND_S) {
        g_usleep (G_USEC_PER_SEC / 4);
        state = boxlite_box_get_state (box);
    }
    g_test_message ("box %s is %s %.1f s later", boxlite_box_get_name (box),
                    state == BOXLITE_BOX_STATE_STOPPED ? "stopped" : "still not stopped",
                    seconds_since (start));
    return state;
}

static void
attributes_free (gpointer attributes)
{
    if (attributes)
        json_object_unref (attributes);
}

/* The attributes of the events of @action for box @id in the home's
 * journal, oldest first (JsonObject*, NULL for an event without). */
static GPtrArray *
events_of (const char *id, const char *action)
{
    g_autofree char *path = g_build_filename (home, "events.jsonl", NULL);
    g_autofree char *text = NULL;
    GPtrArray *found = g_ptr_array_new_with_free_func (attributes_free);

    if (!g_file_get_contents (path, &text, NULL, NULL))
        return found;
    g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        g_autoptr (JsonParser) parser = json_parser_new ();
        if (!*lines[i] || !json_parser_load_from_data (parser, lines[i], -1, NULL))
            continue;
        JsonObject *event = json_node_get_object (json_parser_get_root (parser));
        if (g_strcmp0 (json_object_get_string_member_with_default (event, "box", NULL), id) != 0 ||
            g_strcmp0 (json_object_get_string_member_with_default (event, "action", NULL),
                       action) != 0)
            continue;
        JsonNode *attributes = json_object_get_member (event, "attributes");
        g_ptr_array_add (found, attributes && JSON_NODE_HOLDS_OBJECT (attributes)
                                    ? json_object_ref (json_node_get_object (attributes))
                                    : NULL);
    }
    return found;
}

/* The box's one "stop" event gave @reason. */
static void
assert_stop_event (const char *id, const char *reason)
{
    g_autoptr (GPtrArray) stops = events_of (id, "stop");

    g_assert_cmpuint (stops->len, ==, 1);
    JsonObject *attributes = g_ptr_array_index (stops, 0);
    g_assert_nonnull (attributes);
    g_assert_cmpstr (json_object_get_string_member_with_default (attributes, "reason", NULL), ==,
                     reason);
}

/* Stopped by idle, as the library, inspect and the journal tell. */
static void
assert_stopped_idle (BoxliteBox *box)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *reason = boxlite_box_dup_stop_reason (box);
    g_autofree char *inspect = boxlite_box_inspect (box, &error);

    g_assert_no_error (error);
    g_assert_cmpint (boxlite_box_get_state (box), ==, BOXLITE_BOX_STATE_STOPPED);
    g_assert_cmpstr (reason, ==, "idle");
    g_autoptr (JsonNode) root = json_from_string (inspect, &error);
    g_assert_no_error (error);
    JsonObject *record = json_node_get_object (root);
    g_assert_cmpstr (json_object_get_string_member_with_default (record, "stop_reason", NULL), ==,
                     "idle");
    JsonObject *options = json_object_get_object_member (record, "options");
    g_assert_cmpint (json_object_get_int_member (options, "auto_stop"), ==, AUTO_STOP_S);
    g_assert_null (boxlite_box_dup_error (box));
    assert_stop_event (boxlite_box_get_id (box), "idle");
}

/* @box must run @seconds after @start; waits until then. */
static void
assert_running_at (BoxliteBox *box, gint64 start, gdouble seconds)
{
    gdouble left = seconds - seconds_since (start);

    if (left > 0)
        g_usleep ((gulong) (left * G_USEC_PER_SEC));
    g_assert_cmpint (boxlite_box_get_state (box), ==, BOXLITE_BOX_STATE_RUNNING);
}

static void
remove_box (BoxliteBox *box)
{
    g_autoptr (GError) error = NULL;

    boxlite_runtime_remove (runtime, boxlite_box_get_id (box), TRUE, &error);
    g_assert_no_error (error);
}

/* A command longer than auto_stop keeps the box up, and finishes; the box
 * stops once idle, and not before auto_stop seconds have passed since. */
static void
test_command_keeps_box (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box = start_box ("command", AUTO_STOP_S, FALSE);
    const char *argv[] = { "sleep", "9", NULL };
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);
    g_autoptr (BoxliteExecution) exe = boxlite_box_exec (box, cmd, NULL, &error);
    gint64 started = g_get_monotonic_time ();

    g_assert_no_error (error);
    assert_running_at (box, started, 8);
    boxlite_execution_wait (exe, NULL, &error);
    g_assert_no_error (error);
    gint64 ended = g_get_monotonic_time ();
    g_assert_true (boxlite_execution_get_exited (exe));
    g_assert_cmpint (boxlite_execution_get_exit_code (exe), ==, 0);

    /* Idle time counts from the command's end: still up a while after. */
    g_usleep (2 * G_USEC_PER_SEC);
    BoxliteBoxState soon = boxlite_box_get_state (box);
    if (seconds_since (ended) < AUTO_STOP_S - 1)
        g_assert_cmpint (soon, ==, BOXLITE_BOX_STATE_RUNNING);
    g_assert_cmpint (wait_stopped (box), ==, BOXLITE_BOX_STATE_STOPPED);
    g_assert_cmpfloat (seconds_since (ended), >=, AUTO_STOP_S);
    assert_stopped_idle (box);
    g_assert_cmpint (boxlite_box_get_monitor_pid (box), ==, 0);

    /* A stop asked for says so, and a new start forgets the old reason. */
    boxlite_box_start (box, NULL, &error);
    g_assert_no_error (error);
    g_assert_null (boxlite_box_dup_stop_reason (box));
    boxlite_box_stop (box, FALSE, NULL, &error);
    g_assert_no_error (error);
    g_autofree char *reason = boxlite_box_dup_stop_reason (box);
    g_assert_cmpstr (reason, ==, "requested");
    remove_box (box);
}

/* A detached command (`run -d`'s) that still runs is activity too. */
static void
test_detached_keeps_box (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box = start_box ("detached", AUTO_STOP_S, FALSE);
    const char *argv[] = { "sleep", "9", NULL };
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);

    boxlite_box_exec_detached (box, cmd, NULL, &error);
    gint64 started = g_get_monotonic_time ();
    g_assert_no_error (error);
    assert_running_at (box, started, 8);
    g_assert_cmpint (wait_stopped (box), ==, BOXLITE_BOX_STATE_STOPPED);
    g_assert_cmpfloat (seconds_since (started), >=, 9 + AUTO_STOP_S - 1);
    assert_stopped_idle (box);
    /* The command ended on its own before the stop, with status 0. */
    g_autoptr (GPtrArray) exits = events_of (boxlite_box_get_id (box), "exec_exit");
    g_assert_cmpuint (exits->len, ==, 1);
    g_assert_cmpint (json_object_get_int_member (g_ptr_array_index (exits, 0), "code"), ==, 0);
    remove_box (box);
}

/* Traffic through the box's network keeps it up with no command running:
 * a process left behind by a finished exec fetches from the host once a
 * second for a while, then stops. */
static void
test_network_keeps_box (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box = start_box ("network", AUTO_STOP_S, FALSE);
    HttpServer *server = http_server_start ();
    g_autofree char *script =
        g_strdup_printf ("python3 -c 'import socket, time\n"
                         "for i in range(14):\n"
                         "    s = socket.create_connection((\"host.boxlite.internal\", %u), 20)\n"
                         "    s.sendall(b\"GET / HTTP/1.0\\r\\n\\r\\n\")\n"
                         "    s.makefile(\"rb\").read()\n"
                         "    s.close()\n"
                         "    time.sleep(1)\n"
                         "' >/dev/null 2>&1 &",
                         server->port);
    gint code = -1;

    g_free (run_simple (box, script, &code));
    gint64 left = g_get_monotonic_time ();
    g_assert_cmpint (code, ==, 0);
    /* No command runs now: only the traffic keeps the box up. */
    assert_running_at (box, left, 10);
    g_assert_cmpint (wait_stopped (box), ==, BOXLITE_BOX_STATE_STOPPED);
    gint connections = http_server_stop (server);
    g_test_message ("the box made %d connections to the host", connections);
    g_assert_cmpint (connections, >=, 8);
    assert_stopped_idle (box);
    remove_box (box);
}

/* A paused box is not idle: it stays paused past auto_stop, and once
 * resumed it gets auto_stop seconds again. */
static void
test_paused_not_idle (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box = start_box ("paused", AUTO_STOP_S, FALSE);

    boxlite_box_pause (box, NULL, &error);
    g_assert_no_error (error);
    g_usleep ((AUTO_STOP_S + 4) * G_USEC_PER_SEC);
    g_assert_cmpint (boxlite_box_get_state (box), ==, BOXLITE_BOX_STATE_PAUSED);
    boxlite_box_resume (box, NULL, &error);
    g_assert_no_error (error);
    gint64 resumed = g_get_monotonic_time ();
    g_usleep (2 * G_USEC_PER_SEC);
    BoxliteBoxState soon = boxlite_box_get_state (box);
    if (seconds_since (resumed) < AUTO_STOP_S - 1)
        g_assert_cmpint (soon, ==, BOXLITE_BOX_STATE_RUNNING);
    g_assert_cmpint (wait_stopped (box), ==, BOXLITE_BOX_STATE_STOPPED);
    g_assert_cmpfloat (seconds_since (resumed), >=, AUTO_STOP_S);
    assert_stopped_idle (box);
    remove_box (box);
}

/* With auto_remove too, the idle box goes altogether. */
static void
test_auto_remove (void)
{
    g_autoptr (BoxliteBox) box = start_box ("removed", AUTO_STOP_S, TRUE);
    g_autofree char *id = g_strdup (boxlite_box_get_id (box));
    g_autofree char *dir = g_build_filename (home, "boxes", id, NULL);
    gint64 start = g_get_monotonic_time ();

    while (g_file_test (dir, G_FILE_TEST_EXISTS) && seconds_since (start) < STOP_BOUND_S)
        g_usleep (G_USEC_PER_SEC / 4);
    g_test_message ("the box was gone %.1f s after it started", seconds_since (start));
    g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) again = boxlite_runtime_get (runtime, id, &error);
    g_assert_null (again);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND);
    assert_stop_event (id, "idle");
    g_autoptr (GPtrArray) removes = events_of (id, "remove");
    g_assert_cmpuint (removes->len, ==, 1);
}

/* Without auto_stop an idle box runs on. */
static void
test_off (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box = start_box ("kept", 0, FALSE);
    gint64 start = g_get_monotonic_time ();

    assert_running_at (box, start, 2 * AUTO_STOP_S + 2);
    gint code = -1;
    g_autofree char *out = run_simple (box, "echo still here", &code);
    g_assert_cmpint (code, ==, 0);
    g_assert_cmpstr (out, ==, "still here\n");
    boxlite_box_stop (box, FALSE, NULL, &error);
    g_assert_no_error (error);
    assert_stop_event (boxlite_box_get_id (box), "requested");
    remove_box (box);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    home = test_home_open ("boxlite-test", &runtime);

    g_test_add_func ("/idle/command-keeps-box", test_command_keeps_box);
    g_test_add_func ("/idle/detached-keeps-box", test_detached_keeps_box);
    g_test_add_func ("/idle/network-keeps-box", test_network_keeps_box);
    g_test_add_func ("/idle/paused-not-idle", test_paused_not_idle);
    g_test_add_func ("/idle/auto-remove", test_auto_remove);
    g_test_add_func ("/idle/off", test_off);

    int ret = g_test_run ();
    test_home_close (&runtime, home);
    return ret;
}

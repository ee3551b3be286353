/* test-monitor.c: the box monitor's state machine, without a VM.
 *
 * The monitor (boxlite-shim) launches tests/fake-qemu.c in place of QEMU:
 * real QMP on a real socket and the real guest agent (in its --fd mode) on
 * the agent socket, with faults QEMU cannot be made to produce on cue. Each
 * case checks what a user would see: the box's state and error, what an
 * execution reports, and that no process or socket outlives the box.
 */
#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <boxlite/boxlite.h>
#include "launch.h"
#include "test-util.h"

static char *home;
static char *rootfs;
static BoxliteRuntime *runtime;

static BoxliteBox *
create_box (BoxliteRuntime *rt, const char *name)
{
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    g_autoptr (GError) error = NULL;

    boxlite_box_options_set_rootfs (options, rootfs);
    boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
    BoxliteBox *box = boxlite_runtime_create (rt, options, name, NULL, &error);
    g_assert_no_error (error);
    return box;
}

static void
start_box (BoxliteBox *box)
{
    g_autoptr (GError) error = NULL;

    gboolean started = boxlite_box_start (box, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (started);
    g_assert_cmpint (boxlite_box_get_state (box), ==, BOXLITE_BOX_STATE_RUNNING);
}

/* Where the box lives, as `boxlite inspect` shows it. */
static char *
box_dir (BoxliteBox *box)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *json = boxlite_box_inspect (box, &error);
    g_assert_no_error (error);
    g_autoptr (JsonNode) root = json_from_string (json, &error);
    g_assert_no_error (error);
    return g_strdup (json_object_get_string_member (json_node_get_object (root), "dir"));
}

/* The fake QEMU under a running box: the monitor's only child. */
static gint
qemu_pid (BoxliteBox *box)
{
    g_autoptr (GArray) children = test_child_pids (boxlite_box_get_monitor_pid (box));

    g_assert_cmpuint (children->len, ==, 1);
    return g_array_index (children, gint, 0);
}

/* Waits (at most @timeout_ms) for the box to leave RUNNING and PAUSED. */
static BoxliteBoxState
wait_not_live (BoxliteBox *box, guint timeout_ms)
{
    gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;
    BoxliteBoxState state;

    while ((state = boxlite_box_get_state (box)) == BOXLITE_BOX_STATE_RUNNING ||
           state == BOXLITE_BOX_STATE_PAUSED) {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (20 * 1000);
    }
    return state;
}

/* Nothing of the box is left: no socket in its directory, no monitor, no
 * QEMU, no guest process. Processes are reaped a moment after they exit,
 * so this waits a little for them. */
static void
assert_nothing_left (BoxliteBox *box, gint monitor_pid)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *dir = box_dir (box);
    g_autoptr (GDir) entries = g_dir_open (dir, 0, &error);
    g_assert_no_error (error);
    const char *name;
    while ((name = g_dir_read_name (entries))) {
        if (g_str_has_suffix (name, ".sock"))
            g_error ("%s is left in the box directory", name);
    }
    gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
    for (;;) {
        g_autoptr (GArray) pids = test_pids_mentioning (dir);
        gboolean monitor = monitor_pid > 0 && kill (monitor_pid, 0) == 0;
        if (pids->len == 0 && !monitor)
            break;
        if (g_get_monotonic_time () > deadline)
            g_error ("%u processes of the box (first: %d) and %s monitor are left", pids->len,
                     pids->len ? g_array_index (pids, gint, 0) : 0, monitor ? "its" : "no");
        g_usleep (20 * 1000);
    }
    g_assert_cmpint (boxlite_box_get_monitor_pid (box), ==, 0);
}

static void
test_lifecycle (void)
{
    g_autoptr (BoxliteBox) box = create_box (runtime, "clean");
    g_autoptr (GError) error = NULL;

    start_box (box);
    gint monitor = boxlite_box_get_monitor_pid (box);
    g_assert_cmpint (monitor, >, 0);
    g_assert_null (boxlite_box_dup_error (box));

    gint code = -1;
    g_autofree char *out = run_simple (box, "echo hello from the fake guest", &code);
    g_assert_cmpstr (out, ==, "hello from the fake guest\n");
    g_assert_cmpint (code, ==, 0);

    /* QMP stop/cont reach "QEMU" and the record. */
    g_assert_true (boxlite_box_pause (box, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpint (boxlite_box_get_state (box), ==, BOXLITE_BOX_STATE_PAUSED);
    g_assert_true (boxlite_box_resume (box, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpint (boxlite_box_get_state (box), ==, BOXLITE_BOX_STATE_RUNNING);

    /* A graceful stop: the agent shuts down, "QEMU" powers off; well before
     * the library's 10 s fallback to a forced stop. */
    gint64 t0 = g_get_monotonic_time ();
    g_assert_true (boxlite_box_stop (box, FALSE, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpint (g_get_monotonic_time () - t0, <, 5 * G_USEC_PER_SEC);
    g_assert_cmpint (boxlite_box_get_state (box), ==, BOXLITE_BOX_STATE_STOPPED);
    g_assert_null (boxlite_box_dup_error (box));
    assert_nothing_left (box, monitor);

    g_assert_true (boxlite_runtime_remove (runtime, "clean", FALSE, &error));
    g_assert_no_error (error);
}

/* The monitor's "stats" end to end. The fake's "guest" is the agent on
 * this host, so it reports the host's memory, more than the box was given:
 * a guest claiming that is refused, nothing of its answer is shown, and the
 * box goes on running. The fake QEMU's malformed block counters must not
 * trouble the monitor either. */
/* The box still runs commands; then it is stopped and removed. */
static void
still_runs_then_remove (BoxliteBox *box)
{
    g_autoptr (GError) error = NULL;
    gint code = -1;
    g_autofree char *out = run_simple (box, "echo still here", &code);

    g_assert_cmpstr (out, ==, "still here\n");
    g_assert_true (boxlite_box_stop (box, TRUE, NULL, &error));
    g_assert_no_error (error);
    g_assert_true (boxlite_runtime_remove (runtime, boxlite_box_get_name (box), FALSE, &error));
    g_assert_no_error (error);
}

/* A refused snapshot "s" left nothing: no name, no layer, no new overlay. */
static void
assert_no_snapshot (BoxliteBox *box, const char *dir)
{
    g_autoptr (GError) error = NULL;
    g_auto (GStrv) names = boxlite_box_snapshot_list (box, &error);
    g_autofree char *overlay = g_build_filename (dir, "disk.qcow2.new", NULL);
    g_autofree char *layer = g_build_filename (dir, "snapshots", "s.qcow2", NULL);

    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (names), ==, 0);
    g_assert_false (g_file_test (overlay, G_FILE_TEST_EXISTS));
    g_assert_false (g_file_test (layer, G_FILE_TEST_EXISTS));
}

static void
test_stats (void)
{
    g_autoptr (GError) error = NULL;

    g_autoptr (BoxliteBox) small = create_box (runtime, "stats-small");
    start_box (small);
    g_autoptr (GVariant) refused = boxlite_box_get_metrics (small, NULL, &error);
    g_assert_null (refused);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
    g_test_message ("%s", error->message);
    g_clear_error (&error);
    still_runs_then_remove (small);
}

/* The agent in --fd mode runs on the host and refuses to freeze (it would
 * freeze the host's filesystems): the snapshot of the running box fails
 * with that reason, and leaves no snapshot, no new disk layer, and a box
 * that runs on its old disk. */
static void
test_snapshot_refused (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box = create_box (runtime, "snap-refused");
    start_box (box);
    g_autofree char *dir = box_dir (box);
    g_autofree char *disk = g_build_filename (dir, "disk.qcow2", NULL);
    GStatBuf before, after;
    g_assert_cmpint (g_stat (disk, &before), ==, 0);

    g_assert_false (boxlite_box_snapshot_create (box, "s", NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "could not freeze"));
    g_assert_nonnull (strstr (error->message, "not PID 1"));
    g_clear_error (&error);

    assert_no_snapshot (box, dir);
    g_assert_cmpint (g_stat (disk, &after), ==, 0);
    g_assert_cmpuint (after.st_ino, ==, before.st_ino);
    g_assert_cmpuint (after.st_nlink, ==, 1);
    g_assert_cmpint (boxlite_box_get_state (box), ==, BOXLITE_BOX_STATE_RUNNING);
    still_runs_then_remove (box);
}

/* A guest that never answers the freeze, or answers it with a lie or the
 * wrong shape: each snapshot is refused with what went wrong, before QEMU
 * is touched, and the box runs on. (The real agent cannot be made to do
 * this: a relay in front of it answers for it.) */
static void
test_snapshot_hostile_guest (void)
{
    static const struct {
        const char *mode, *says;
    } cases[] = {
        { "silent", "did not freeze its filesystems within 5000 ms" },
        { "lie", "answer to freeze is not one" },
        { "shape", "could not freeze its filesystems" },
    };
    g_autoptr (GError) error = NULL;

    g_setenv ("FAKE_QEMU_AGENT_WRAPPER", HOSTILE_FREEZE, TRUE);
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_setenv ("HOSTILE_FREEZE", cases[i].mode, TRUE);
        g_autoptr (BoxliteBox) box = create_box (runtime, "snap-hostile");
        start_box (box);
        g_autofree char *dir = box_dir (box);
        gint64 start = g_get_monotonic_time ();
        g_assert_false (boxlite_box_snapshot_create (box, "s", NULL, &error));
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED);
        g_test_message ("%s: %s (%" G_GINT64_FORMAT " ms)", cases[i].mode, error->message,
                        (g_get_monotonic_time () - start) / 1000);
        g_assert_nonnull (strstr (error->message, cases[i].says));
        g_clear_error (&error);
        assert_no_snapshot (box, dir);
        still_runs_then_remove (box);
    }
    g_unsetenv ("FAKE_QEMU_AGENT_WRAPPER");
    g_unsetenv ("HOSTILE_FREEZE");
}

/* Starts `sh -c 'echo started; exec cat'` with a stdin, and returns once it
 * runs: cat ends when the guest agent does (its stdin closes). */
static BoxliteExecution *
start_cat (BoxliteBox *box)
{
    const char *argv[] = { "sh", "-c", "echo started; exec cat", NULL };
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);
    g_autoptr (GError) error = NULL;
    char buf[16] = { 0 };
    gsize got = 0;

    boxlite_command_set_stdin (cmd, TRUE);
    BoxliteExecution *exe = boxlite_box_exec (box, cmd, NULL, &error);
    g_assert_no_error (error);
    g_input_stream_read_all (boxlite_execution_get_stdout (exe), buf, 8, &got, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (buf, ==, "started\n");
    return exe;
}

static void
test_qemu_killed (void)
{
    g_autoptr (BoxliteBox) box = create_box (runtime, "killed");
    g_autoptr (GError) error = NULL;

    start_box (box);
    gint monitor = boxlite_box_get_monitor_pid (box);
    g_autoptr (BoxliteExecution) exe = start_cat (box);

    g_assert_cmpint (kill (qemu_pid (box), SIGKILL), ==, 0);
    g_assert_false (boxlite_execution_wait (exe, NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_CRASHED);
    g_clear_error (&error);
    g_assert_cmpint (wait_not_live (box, 10000), ==, BOXLITE_BOX_STATE_CRASHED);
    g_autofree char *why = boxlite_box_dup_error (box);
    g_assert_nonnull (why);
    g_assert_nonnull (strstr (why, "QEMU was killed by signal 9"));
    assert_nothing_left (box, monitor);

    /* The box can be started again after a crash. */
    start_box (box);
    g_autofree char *out = run_simple (box, "echo again", NULL);
    g_assert_cmpstr (out, ==, "again\n");
    g_assert_true (boxlite_runtime_remove (runtime, "killed", TRUE, &error));
    g_assert_no_error (error);
}

static void
test_agent_link_lost (void)
{
    g_autoptr (BoxliteBox) box = create_box (runtime, "agentless");
    g_autoptr (GError) error = NULL;

    start_box (box);
    gint monitor = boxlite_box_get_monitor_pid (box);
    g_autoptr (BoxliteExecution) exe = start_cat (box);

    /* The guest's agent dies and its port closes, but "QEMU" lives on: the
     * monitor must end it and say why. */
    g_assert_cmpint (kill (qemu_pid (box), SIGUSR1), ==, 0);
    g_assert_false (boxlite_execution_wait (exe, NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_CRASHED);
    g_clear_error (&error);
    g_assert_cmpint (wait_not_live (box, 10000), ==, BOXLITE_BOX_STATE_CRASHED);
    g_autofree char *why = boxlite_box_dup_error (box);
    g_assert_nonnull (why);
    g_assert_nonnull (strstr (why, "the agent link broke"));
    assert_nothing_left (box, monitor);

    const char *argv[] = { "true", NULL };
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);
    g_autoptr (BoxliteExecution) late = boxlite_box_exec (box, cmd, NULL, &error);
    g_assert_null (late);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE);
    g_clear_error (&error);
    g_assert_true (boxlite_runtime_remove (runtime, "agentless", FALSE, &error));
    g_assert_no_error (error);
}

static void
test_lifeline (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();

    boxlite_options_set_home_dir (options, home);
    BoxliteRuntime *creator = boxlite_runtime_new (options, &error);
    g_assert_no_error (error);
    BoxliteBox *created = create_box (creator, "orphan");
    start_box (created);
    g_object_unref (created);

    g_autoptr (BoxliteBox) box = boxlite_runtime_get (runtime, "orphan", &error);
    g_assert_no_error (error);
    gint monitor = boxlite_box_get_monitor_pid (box);
    g_assert_cmpint (boxlite_box_get_state (box), ==, BOXLITE_BOX_STATE_RUNNING);

    /* The creator goes away: its lifeline closes and the box is stopped,
     * cleanly (the guest is asked to shut down). */
    g_object_unref (creator);
    g_assert_cmpint (wait_not_live (box, 10000), ==, BOXLITE_BOX_STATE_STOPPED);
    g_assert_null (boxlite_box_dup_error (box));
    assert_nothing_left (box, monitor);
    g_assert_true (boxlite_runtime_remove (runtime, "orphan", FALSE, &error));
    g_assert_no_error (error);
}

/* A runtime that ran commands is finalized when its caller drops it, and
 * its boxes that are not detached stop with it. */
static void
test_runtime_released (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();

    boxlite_options_set_home_dir (options, home);
    BoxliteRuntime *creator = boxlite_runtime_new (options, &error);
    g_assert_no_error (error);
    BoxliteBox *created = create_box (creator, "dropped");
    start_box (created);
    for (guint i = 0; i < 3; i++) {
        g_autofree char *out = run_simple (created, "echo still here", NULL);
        g_assert_cmpstr (out, ==, "still here\n");
    }
    g_object_unref (created);
    g_object_add_weak_pointer (G_OBJECT (creator), (gpointer *) &creator);
    g_object_unref (creator);
    g_assert_null (creator);

    g_autoptr (BoxliteBox) box = boxlite_runtime_get (runtime, "dropped", &error);
    g_assert_no_error (error);
    g_assert_cmpint (wait_not_live (box, 10000), ==, BOXLITE_BOX_STATE_STOPPED);
    assert_nothing_left (box, 0);
    g_assert_true (boxlite_runtime_remove (runtime, "dropped", FALSE, &error));
    g_assert_no_error (error);
}

/* Our open descriptors once the monitors we started are reaped (GLib's
 * worker thread holds a descriptor for each until then); with @want, waits
 * up to two seconds for the count to come down to it. */
static guint
settled_fd_count (guint want)
{
    gint64 deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

    for (;;) {
        g_autoptr (GArray) children = test_child_pids (getpid ());
        guint fds = test_count_entries ("/proc/self/fd");
        if ((children->len == 0 && (!want || fds <= want)) || g_get_monotonic_time () > deadline)
            return fds;
        g_usleep (20 * 1000);
    }
}

/* A box whose monitor ended on its own (here: QEMU killed) and that is
 * neither stopped nor removed leaves no descriptor in the runtime once the
 * next box starts: long-running programs start many boxes. */
static void
test_dead_lifeline_released (void)
{
    g_autoptr (BoxliteBox) next = create_box (runtime, "next");
    g_autoptr (GError) error = NULL;

    /* Once, so that whatever the runtime sets up on first use is there. */
    start_box (next);
    g_assert_true (boxlite_box_stop (next, TRUE, NULL, &error));
    g_assert_no_error (error);
    guint fds = settled_fd_count (0);

    g_autoptr (BoxliteBox) box = create_box (runtime, "left");
    start_box (box);
    gint monitor = boxlite_box_get_monitor_pid (box);
    g_assert_cmpint (kill (qemu_pid (box), SIGKILL), ==, 0);
    g_assert_cmpint (wait_not_live (box, 10000), ==, BOXLITE_BOX_STATE_CRASHED);
    assert_nothing_left (box, monitor);

    start_box (next);
    g_assert_true (boxlite_box_stop (next, TRUE, NULL, &error));
    g_assert_no_error (error);
    /* At most as many: the first count can hold a descriptor some library
     * thread was still closing then; a leak only ever adds. */
    g_assert_cmpuint (settled_fd_count (fds), <=, fds);
    g_assert_true (boxlite_runtime_remove (runtime, "next", FALSE, &error));
    g_assert_no_error (error);
    g_assert_true (boxlite_runtime_remove (runtime, "left", FALSE, &error));
    g_assert_no_error (error);
}

/* Reads the monitor's boot verdict line from @fd, waiting at most
 * @timeout_ms. */
static char *
read_verdict (int fd, guint timeout_ms)
{
    GString *line = g_string_new (NULL);
    gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;

    while (!strchr (line->str, '\n')) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
        if (left <= 0 || poll (&pfd, 1, (int) left) <= 0)
            break;
        char buf[256];
        ssize_t n = read (fd, buf, sizeof buf);
        if (n <= 0)
            break;
        g_string_append_len (line, buf, n);
    }
    return g_string_free (line, FALSE);
}

/* A QEMU that hangs (no QMP greeting, no guest): the boot fails within the
 * launch's timeout with a verdict that says so, and nothing is left. The
 * library waits two minutes for a TCG boot, so this drives the monitor
 * directly with a short timeout in its launch document. */
static void
test_no_greeting (void)
{
    g_autoptr (BoxliteBox) box = create_box (runtime, "hung");
    g_autoptr (GError) error = NULL;
    g_autofree char *dir = box_dir (box);

    BlLaunch launch = {
        .box_id = (char *) boxlite_box_get_id (box),
        .box_dir = (char *) dir,
        .qemu = (char *) g_getenv ("BOXLITE_QEMU"),
        .kernel = (char *) "/dev/null",
        .initrd = (char *) "/dev/null",
        .disk = (char *) "/dev/null",
        .cpus = 1,
        .memory_mib = 64,
        .max_processes = 4096,
        .accel = BOXLITE_ACCEL_TCG,
        .network = BOXLITE_NETWORK_DISABLED,
        .hostname = (char *) "hung",
        .boot_timeout_ms = 1000,
    };
    g_autofree char *launch_path = g_build_filename (dir, "launch.json", NULL);
    g_assert_true (bl_launch_save (launch_path, &launch, &error));
    g_assert_no_error (error);

    int ready[2];
    g_assert_true (g_unix_open_pipe (ready, FD_CLOEXEC, NULL));
    g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
    g_subprocess_launcher_setenv (launcher, "FAKE_QEMU_MODE", "hang", TRUE);
    g_subprocess_launcher_take_fd (launcher, ready[1], 3);
    gint64 t0 = g_get_monotonic_time ();
    g_autoptr (GSubprocess) monitor = g_subprocess_launcher_spawn (
        launcher, &error, g_getenv ("BOXLITE_SHIM"), "--box-dir", dir, "--ready-fd", "3", NULL);
    g_assert_no_error (error);
    gint monitor_pid = (gint) g_ascii_strtoll (g_subprocess_get_identifier (monitor), NULL, 10);
    g_clear_object (&launcher);

    g_autofree char *verdict = read_verdict (ready[0], 10000);
    close (ready[0]);
    g_assert_true (g_str_has_prefix (verdict, "error: "));
    g_assert_nonnull (strstr (verdict, "did not answer within 1 s"));
    g_assert_nonnull (strstr (verdict, "QMP"));
    g_assert_true (g_subprocess_wait (monitor, NULL, &error));
    /* It waited for the timeout, and not much longer. */
    gint64 elapsed = g_get_monotonic_time () - t0;
    g_assert_cmpint (elapsed, >=, G_USEC_PER_SEC);
    g_assert_cmpint (elapsed, <, 6 * G_USEC_PER_SEC);
    g_assert_cmpint (g_subprocess_get_exit_status (monitor), !=, 0);

    g_assert_cmpint (boxlite_box_get_state (box), ==, BOXLITE_BOX_STATE_CRASHED);
    g_autofree char *why = boxlite_box_dup_error (box);
    g_assert_nonnull (why);
    g_assert_nonnull (strstr (why, "did not answer within 1 s"));
    assert_nothing_left (box, monitor_pid);
    g_assert_true (boxlite_runtime_remove (runtime, "hung", FALSE, &error));
    g_assert_no_error (error);
}

/* auto_stop with a second's grace: a command of two seconds and a pause of
 * two keep the box up; once both are over it stops by itself, gracefully,
 * and says it was idle. */
static void
test_idle (void)
{
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    g_autoptr (GError) error = NULL;

    boxlite_box_options_set_rootfs (options, rootfs);
    boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
    boxlite_box_options_set_auto_stop (options, 1);
    g_autoptr (BoxliteBox) box = boxlite_runtime_create (runtime, options, "idle", NULL, &error);
    g_assert_no_error (error);
    start_box (box);
    gint monitor = boxlite_box_get_monitor_pid (box);

    gint code = -1;
    g_autofree char *out = run_simple (box, "sleep 2; echo slept", &code);
    g_assert_cmpint (code, ==, 0);
    g_assert_cmpstr (out, ==, "slept\n");
    g_assert_true (boxlite_box_pause (box, NULL, &error));
    g_assert_no_error (error);
    g_usleep (2 * G_USEC_PER_SEC);
    g_assert_cmpint (boxlite_box_get_state (box), ==, BOXLITE_BOX_STATE_PAUSED);
    g_assert_true (boxlite_box_resume (box, NULL, &error));
    g_assert_no_error (error);
    gint64 resumed = g_get_monotonic_time ();

    g_assert_cmpint (wait_not_live (box, 10000), ==, BOXLITE_BOX_STATE_STOPPED);
    g_assert_cmpint (g_get_monotonic_time () - resumed, >=, G_USEC_PER_SEC);
    g_autofree char *reason = boxlite_box_dup_stop_reason (box);
    g_assert_cmpstr (reason, ==, "idle");
    g_assert_null (boxlite_box_dup_error (box));
    assert_nothing_left (box, monitor);
    g_assert_true (boxlite_runtime_remove (runtime, "idle", FALSE, &error));
    g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
    g_autoptr (GError) error = NULL;

    g_test_init (&argc, &argv, NULL);
    /* The fake QEMU reads neither a kernel nor an initramfs. */
    g_setenv ("BOXLITE_KERNEL", "/dev/null", TRUE);
    home = g_dir_make_tmp ("boxlite-monitor-XXXXXX", &error);
    g_assert_no_error (error);
    rootfs = g_build_filename (home, "rootfs", NULL);
    g_mkdir (rootfs, 0700);
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    boxlite_options_set_home_dir (options, home);
    runtime = boxlite_runtime_new (options, &error);
    g_assert_no_error (error);

    g_test_add_func ("/monitor/lifecycle", test_lifecycle);
    g_test_add_func ("/monitor/stats", test_stats);
    g_test_add_func ("/monitor/snapshot-refused", test_snapshot_refused);
    g_test_add_func ("/monitor/snapshot-hostile-guest", test_snapshot_hostile_guest);
    g_test_add_func ("/monitor/qemu-killed", test_qemu_killed);
    g_test_add_func ("/monitor/agent-link-lost", test_agent_link_lost);
    g_test_add_func ("/monitor/lifeline", test_lifeline);
    g_test_add_func ("/monitor/runtime-released", test_runtime_released);
    g_test_add_func ("/monitor/dead-lifeline-released", test_dead_lifeline_released);
    g_test_add_func ("/monitor/no-greeting", test_no_greeting);
    g_test_add_func ("/monitor/idle", test_idle);
    int rc = g_test_run ();

    g_clear_object (&runtime);
    const char *const rm[] = { "rm", "-rf", home, NULL };
    g_autoptr (GSubprocess) cleanup = g_subprocess_newv (rm, G_SUBPROCESS_FLAGS_NONE, NULL);
    if (cleanup)
        g_subprocess_wait (cleanup, NULL, NULL);
    g_free (rootfs);
    g_free (home);
    return rc;
}

/* test-snapshots.c: snapshots of a real box's disk and clones of it (TCG
 * where KVM is unusable).
 *
 * One box ("src") is written, snapshotted, changed and restored; its clones
 * are booted to see the source's files, diverge, and leave the source as it
 * was. The tests run in order and share "src".
 *
 * Then boxes of their own are snapshotted while they run: a process in the
 * box appends numbered lines to files and fsyncs each, and makes new files,
 * without a pause. The box must go on writing, and the snapshot's
 * filesystem, flattened out of its layer chain, must be clean to e2fsck (no
 * journal left to replay) and hold whole lines only, as a clone booted from
 * it shows. A paused box is snapshotted the same way and stays paused; a
 * guest whose root is frozen already cannot freeze it, and the snapshot is
 * refused with nothing left. */
#include <glib/gstdio.h>
#include <string.h>

#include <boxlite/boxlite.h>
#include "test-util.h"

#define FILE_PATH "/root/state.txt"

static char *home;
static BoxliteRuntime *runtime;
static BoxliteBox *src;

static void
start (BoxliteBox *box)
{
    g_autoptr (GError) error = NULL;
    boxlite_box_start (box, NULL, &error);
    g_assert_no_error (error);
}

static void
stop (BoxliteBox *box)
{
    g_autoptr (GError) error = NULL;
    boxlite_box_stop (box, FALSE, NULL, &error);
    g_assert_no_error (error);
}

/* Writes @text to FILE_PATH and makes sure it reached the disk. */
static void
write_state (BoxliteBox *box, const char *text)
{
    g_autofree char *script = g_strdup_printf ("printf %s > " FILE_PATH " && sync", text);
    gint code = -1;
    g_autofree char *out = run_simple (box, script, &code);
    g_assert_cmpint (code, ==, 0);
}

static char *
read_state (BoxliteBox *box)
{
    gint code = -1;
    char *out = run_simple (box, "cat " FILE_PATH, &code);
    g_assert_cmpint (code, ==, 0);
    return out;
}

static void
snapshot (BoxliteBox *box, const char *name)
{
    g_autoptr (GError) error = NULL;
    boxlite_box_snapshot_create (box, name, NULL, &error);
    g_assert_no_error (error);
}

static BoxliteBox *
make_clone (BoxliteBox *box, const char *snapshot_name, const char *name)
{
    g_autoptr (GError) error = NULL;
    BoxliteBox *copy = boxlite_runtime_clone (runtime, box, snapshot_name, name, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (copy);
    return copy;
}

/* Written, snapshotted, changed, restored: the first content is back. A
 * running box is not restored (its snapshots: test-live-snapshot.c). */
static void
test_restore (void)
{
    g_autoptr (GError) error = NULL;

    start (src);
    write_state (src, "first");
    stop (src);
    snapshot (src, "s1");

    start (src);
    g_assert_false (boxlite_box_snapshot_restore (src, "s1", NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE);
    g_clear_error (&error);
    write_state (src, "second");
    g_autofree char *changed = read_state (src);
    g_assert_cmpstr (changed, ==, "second");
    stop (src);
    snapshot (src, "s2");

    boxlite_box_snapshot_restore (src, "s1", NULL, &error);
    g_assert_no_error (error);
    start (src);
    g_autofree char *back = read_state (src);
    g_assert_cmpstr (back, ==, "first");
    stop (src);

    g_auto (GStrv) names = boxlite_box_snapshot_list (src, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (names), ==, 2);
    g_assert_cmpstr (names[0], ==, "s1");
    g_assert_cmpstr (names[1], ==, "s2");

    /* The later snapshot outlived going back to the earlier one. */
    boxlite_box_snapshot_restore (src, "s2", NULL, &error);
    g_assert_no_error (error);
    start (src);
    g_autofree char *later = read_state (src);
    g_assert_cmpstr (later, ==, "second");
    stop (src);
}

/* A clone of the stopped box has its files and its own hostname, diverges,
 * and the source does not see it. */
static void
test_clone (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) copy = make_clone (src, NULL, "copy");

    g_assert_cmpstr (boxlite_box_get_id (copy), !=, boxlite_box_get_id (src));
    start (copy);
    g_autofree char *seen = read_state (copy);
    g_assert_cmpstr (seen, ==, "second");
    gint code = -1;
    g_autofree char *hostname = run_simple (copy, "hostname", &code);
    g_assert_cmpstr (g_strstrip (hostname), ==, "copy");
    write_state (copy, "clone");
    stop (copy);

    start (src);
    g_autofree char *source = read_state (src);
    g_assert_cmpstr (source, ==, "second");
    write_state (src, "third");
    stop (src);

    /* And the clone does not see the source's later writes either. */
    start (copy);
    g_autofree char *own = read_state (copy);
    g_assert_cmpstr (own, ==, "clone");
    stop (copy);

    /* The source holds the clone's disk: not removed, even by force. */
    g_assert_false (boxlite_runtime_remove (runtime, "src", TRUE, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE);
    g_clear_error (&error);
    boxlite_runtime_remove (runtime, "copy", FALSE, &error);
    g_assert_no_error (error);

    /* The layer frozen for the clone went with it (merged into the
     * source's disk): only the two snapshots and their records are left. */
    g_autofree char *dir =
        g_build_filename (home, "boxes", boxlite_box_get_id (src), "snapshots", NULL);
    g_assert_cmpuint (test_count_entries (dir), ==, 4);
    start (src);
    g_autofree char *after = read_state (src);
    g_assert_cmpstr (after, ==, "third");
    stop (src);
}

/* A clone of a snapshot starts as the snapshot, not as the box's disk, and
 * the snapshot it reads cannot be removed while it exists. */
static void
test_clone_snapshot (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) copy = make_clone (src, "s1", "from-s1");

    start (copy);
    g_autofree char *seen = read_state (copy);
    g_assert_cmpstr (seen, ==, "first");
    stop (copy);

    g_assert_false (boxlite_box_snapshot_remove (src, "s1", NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE);
    g_clear_error (&error);
    boxlite_runtime_remove (runtime, "from-s1", FALSE, &error);
    g_assert_no_error (error);

    /* Nothing reads s1 now; s2 and the disk sit on it and keep what they
     * read once it is merged into them. */
    boxlite_box_snapshot_remove (src, "s1", NULL, &error);
    g_assert_no_error (error);
    g_auto (GStrv) names = boxlite_box_snapshot_list (src, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (names), ==, 1);
    g_assert_cmpstr (names[0], ==, "s2");
    start (src);
    g_autofree char *current = read_state (src);
    g_assert_cmpstr (current, ==, "third");
    stop (src);
    boxlite_box_snapshot_restore (src, "s2", NULL, &error);
    g_assert_no_error (error);
    start (src);
    g_autofree char *restored = read_state (src);
    g_assert_cmpstr (restored, ==, "second");
    stop (src);
}

/* Unknown snapshots, names that are paths, a running source: clear errors,
 * nothing made. */
static void
test_errors (void)
{
    static const char *const bad[] = {
        "",
        "../escape",
        "a/b",
        ".hidden",
        "-dash",
        "sp ace",
        "0123456789012345678901234567890123456789012345678901234567890"
        "12345"
    };
    g_autoptr (GError) error = NULL;

    g_assert_false (boxlite_box_snapshot_restore (src, "nope", NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND);
    g_clear_error (&error);
    g_assert_false (boxlite_box_snapshot_remove (src, "nope", NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND);
    g_clear_error (&error);
    g_assert_null (boxlite_runtime_clone (runtime, src, "nope", "c-nope", NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND);
    g_clear_error (&error);
    g_assert_false (boxlite_box_snapshot_create (src, "s2", NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_EXISTS);
    g_clear_error (&error);
    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
        g_assert_false (boxlite_box_snapshot_create (src, bad[i], NULL, &error));
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
        g_clear_error (&error);
        g_assert_false (boxlite_box_snapshot_restore (src, bad[i], NULL, &error));
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
        g_clear_error (&error);
    }
    /* A running box's disk moves under it: cloning it is refused, and no
     * box is left behind by the attempt. */
    start (src);
    g_assert_null (boxlite_runtime_clone (runtime, src, NULL, "c-live", NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE);
    g_clear_error (&error);
    g_assert_null (boxlite_runtime_get (runtime, "c-live", &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND);
    g_clear_error (&error);
    stop (src);

    g_auto (GStrv) names = boxlite_box_snapshot_list (src, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (names), ==, 1);
}

/* The box's snapshots are private files in its directory, and go with it. */
static void
test_remove_box (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *dir = g_build_filename (home, "boxes", boxlite_box_get_id (src), NULL);
    g_autofree char *file = g_build_filename (dir, "snapshots", "s2.qcow2", NULL);
    GStatBuf st;

    g_assert_cmpint (g_stat (file, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 077, ==, 0);
    boxlite_runtime_remove (runtime, "src", FALSE, &error);
    g_assert_no_error (error);
    g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

/* Four files get a line each per round, fsynced; a new 4 KiB file every
 * 50 rounds: data and metadata both move all the time. */
#define WRITER                                                                                     \
    "import os\n"                                                                                  \
    "os.makedirs('/root/w', exist_ok=True)\n"                                                      \
    "i = 0\n"                                                                                      \
    "while True:\n"                                                                                \
    "    for k in range(4):\n"                                                                     \
    "        fd = os.open('/root/w/f%d' % k, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)\n"     \
    "        os.write(fd, b'%08d\\n' % i)\n"                                                       \
    "        os.fsync(fd)\n"                                                                       \
    "        os.close(fd)\n"                                                                       \
    "    if i % 50 == 0:\n"                                                                        \
    "        with open('/root/w/n%d' % (i // 50), 'wb') as f:\n"                                   \
    "            f.write(b'x' * 4096)\n"                                                           \
    "            f.flush()\n"                                                                      \
    "            os.fsync(f.fileno())\n"                                                           \
    "    i += 1\n"

/* Prints how many lines f0 has, after checking that every file holds the
 * lines 0, 1, 2... whole and in order (exit 1 otherwise). */
#define CHECKER                                                                                    \
    "import sys\n"                                                                                 \
    "counts = []\n"                                                                                \
    "for k in range(4):\n"                                                                         \
    "    data = open('/root/w/f%d' % k, 'rb').read()\n"                                            \
    "    lines = data.split(b'\\n')\n"                                                             \
    "    if lines[-1] != b'':\n"                                                                   \
    "        sys.exit('f%d ends in a partial line' % k)\n"                                         \
    "    for j, line in enumerate(lines[:-1]):\n"                                                  \
    "        if line != b'%08d' % j:\n"                                                            \
    "            sys.exit('f%d line %d is %r' % (k, j, line))\n"                                   \
    "    counts.append(len(lines) - 1)\n"                                                          \
    "print(counts[0])\n"

static guint64
lines_written (BoxliteBox *box)
{
    gint code = -1;
    g_autofree char *out = run_simple (box, "cat /root/w/f0 2>/dev/null | wc -l", &code);
    g_assert_cmpint (code, ==, 0);
    return g_ascii_strtoull (out, NULL, 10);
}

/* Waits until f0 has more than @than lines. */
static guint64
wait_lines (BoxliteBox *box, guint64 than)
{
    for (int i = 0; i < 600; i++) {
        guint64 n = lines_written (box);
        if (n > than)
            return n;
        g_usleep (100 * 1000);
    }
    g_error ("the writer in the box wrote nothing past line %" G_GUINT64_FORMAT, than);
}

/* Runs CHECKER in @box: the lines of f0, all files checked whole. */
static guint64
checked_lines (BoxliteBox *box)
{
    const char *argv[] = { "python3", "-c", CHECKER, NULL };
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);
    g_autoptr (GByteArray) out = NULL;
    g_autoptr (GByteArray) err = NULL;
    g_autoptr (BoxliteExecution) exe = run_full (box, cmd, NULL, &out, &err);

    g_byte_array_append (out, (const guint8 *) "", 1);
    g_byte_array_append (err, (const guint8 *) "", 1);
    if (boxlite_execution_get_exit_code (exe) != 0)
        g_error ("the files in the box are not whole: %s", (const char *) err->data);
    return g_ascii_strtoull ((const char *) out->data, NULL, 10);
}

static char *
snapshot_file (BoxliteBox *box, const char *name)
{
    g_autofree char *file = g_strconcat (name, ".qcow2", NULL);
    return g_build_filename (home, "boxes", boxlite_box_get_id (box), "snapshots", file, NULL);
}

static char *
run_tool (const char *const *argv, gint *status)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, status,
                  &error);
    g_assert_no_error (error);
    return g_strconcat (out, err, NULL);
}

/* The snapshot's layer chain flattened to a raw file and checked by
 * `e2fsck -fn`: it must be clean without replaying a journal. */
static void
assert_clean_fs (BoxliteBox *box, const char *name)
{
    g_autofree char *layer = snapshot_file (box, name);
    g_autofree char *tmpl = g_build_filename (g_get_tmp_dir (), "boxlite-flat-XXXXXX", NULL);
    g_autofree char *dir = g_mkdtemp (g_steal_pointer (&tmpl));
    g_autofree char *raw = g_build_filename (dir, "flat.raw", NULL);
    gint status = -1;

    /* -U: QEMU holds the chain open; nothing writes this layer any more. */
    const char *const convert[] = { "qemu-img", "convert", "-U",  "-f", "qcow2",
                                    "-O",       "raw",     layer, raw,  NULL };
    g_autofree char *convert_out = run_tool (convert, &status);
    g_assert_true (g_spawn_check_wait_status (status, NULL));

    const char *const fsck[] = { "e2fsck", "-fn", raw, NULL };
    g_autofree char *fsck_out = run_tool (fsck, &status);
    g_test_message ("e2fsck -fn: %s", fsck_out);
    if (!g_spawn_check_wait_status (status, NULL) || strstr (fsck_out, "recovery"))
        g_error ("the snapshot's filesystem is not clean:\n%s", fsck_out);
    g_unlink (raw);
    g_rmdir (dir);
}

static GVariant *
info_of (BoxliteBox *box, const char *name)
{
    g_autoptr (GError) error = NULL;
    GVariant *info = boxlite_box_snapshot_get_info (box, name, &error);
    g_assert_no_error (error);
    return info;
}

static void
assert_taken_frozen (BoxliteBox *box, const char *name)
{
    g_autoptr (GVariant) info = info_of (box, name);
    const char *taken = NULL;
    gint64 frozen_ms = -1, filesystems = -1;

    g_assert_true (g_variant_lookup (info, "taken", "&s", &taken));
    g_assert_cmpstr (taken, ==, "live-frozen");
    g_assert_true (g_variant_lookup (info, "frozen-ms", "x", &frozen_ms));
    g_assert_true (g_variant_lookup (info, "filesystems", "x", &filesystems));
    g_assert_cmpint (filesystems, >=, 1);
    g_test_message ("%s: %" G_GINT64_FORMAT " filesystem(s) frozen for %" G_GINT64_FORMAT " ms",
                    name, filesystems, frozen_ms);
}

/* A new box without a network, started. */
static BoxliteBox *
start_new (const char *name)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
    BoxliteBox *box = boxlite_runtime_create (runtime, options, name, NULL, &error);
    g_assert_no_error (error);
    start (box);
    return box;
}

/* The writer runs through the snapshot and after it; the snapshot is a
 * clean filesystem with whole lines, and a clone of it boots and has them. */
static void
test_running (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box = start_new ("writer");

    const char *argv[] = { "python3", "-c", WRITER, NULL };
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);
    g_autoptr (BoxliteExecution) writer = boxlite_box_exec (box, cmd, NULL, &error);
    g_assert_no_error (error);
    guint64 before = wait_lines (box, 20);

    gint64 t0 = g_get_monotonic_time ();
    boxlite_box_snapshot_create (box, "hot", NULL, &error);
    g_assert_no_error (error);
    g_test_message ("snapshot of the running box: %" G_GINT64_FORMAT " ms",
                    (g_get_monotonic_time () - t0) / 1000);
    assert_taken_frozen (box, "hot");

    /* The box runs on, and so does the writer, into the new layer. */
    g_assert_cmpint (boxlite_box_get_state (box), ==, BOXLITE_BOX_STATE_RUNNING);
    guint64 after = wait_lines (box, lines_written (box));
    g_assert_cmpuint (after, >, before);
    g_assert_false (boxlite_execution_get_exited (writer));

    assert_clean_fs (box, "hot");

    g_autoptr (BoxliteBox) copy =
        boxlite_runtime_clone (runtime, box, "hot", "hot-copy", NULL, &error);
    g_assert_no_error (error);
    start (copy);
    guint64 in_copy = checked_lines (copy);
    g_test_message ("lines: %" G_GUINT64_FORMAT " before the snapshot, %" G_GUINT64_FORMAT
                    " in it, %" G_GUINT64_FORMAT " after",
                    before, in_copy, after);
    g_assert_cmpuint (in_copy, >=, before);
    g_assert_cmpuint (in_copy, <=, after);
    stop (copy);

    boxlite_execution_kill (writer, 9, &error);
    g_assert_no_error (error);
    boxlite_execution_wait (writer, NULL, &error);
    g_assert_no_error (error);

    /* And the box's own disk, now on the new layer, is whole too. */
    g_assert_cmpuint (checked_lines (box), >=, after);
    stop (box);
    boxlite_runtime_remove (runtime, "hot-copy", FALSE, &error);
    g_assert_no_error (error);
    boxlite_runtime_remove (runtime, "writer", FALSE, &error);
    g_assert_no_error (error);
}

/* A paused box runs for its freeze and is paused again; a guest whose root
 * is frozen already cannot freeze it, and nothing is taken. */
static void
test_paused_and_refused (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box = start_new ("paused");
    gint code = -1;
    g_autofree char *wrote = run_simple (box, "echo kept > /root/kept", &code);
    g_assert_cmpint (code, ==, 0);

    boxlite_box_pause (box, NULL, &error);
    g_assert_no_error (error);
    boxlite_box_snapshot_create (box, "cold", NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (boxlite_box_get_state (box), ==, BOXLITE_BOX_STATE_PAUSED);
    assert_taken_frozen (box, "cold");
    assert_clean_fs (box, "cold");
    boxlite_box_resume (box, NULL, &error);
    g_assert_no_error (error);

    /* FIFREEZE on / from inside: the agent's own freeze then fails. */
    g_autofree char *frozen = run_simple (
        box,
        "python3 -c 'import fcntl, os; fcntl.ioctl(os.open(\"/\", os.O_RDONLY), 0xC0045877, 0)'",
        &code);
    g_assert_cmpint (code, ==, 0);
    g_assert_false (boxlite_box_snapshot_create (box, "refused", NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED);
    g_test_message ("refused: %s", error->message);
    g_assert_nonnull (strstr (error->message, "freeze"));
    g_clear_error (&error);
    g_autofree char *thawed = run_simple (
        box,
        "python3 -c 'import fcntl, os; fcntl.ioctl(os.open(\"/\", os.O_RDONLY), 0xC0045878, 0)'",
        &code);
    g_assert_cmpint (code, ==, 0);

    g_auto (GStrv) names = boxlite_box_snapshot_list (box, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (names), ==, 1);
    g_assert_cmpstr (names[0], ==, "cold");
    g_autofree char *overlay =
        g_build_filename (home, "boxes", boxlite_box_get_id (box), "disk.qcow2.new", NULL);
    g_assert_false (g_file_test (overlay, G_FILE_TEST_EXISTS));

    /* The box still writes its disk, and the snapshot has what it had. */
    g_autofree char *again = run_simple (box, "echo later > /root/kept && cat /root/kept", &code);
    g_assert_cmpint (code, ==, 0);
    g_assert_cmpstr (again, ==, "later\n");
    stop (box);
    boxlite_box_snapshot_restore (box, "cold", NULL, &error);
    g_assert_no_error (error);
    start (box);
    g_autofree char *back = run_simple (box, "cat /root/kept", &code);
    g_assert_cmpstr (back, ==, "kept\n");
    stop (box);
    boxlite_runtime_remove (runtime, "paused", FALSE, &error);
    g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    home = test_home_open ("boxlite-test", &runtime);
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBoxOptions) box_options = boxlite_box_options_new ();
    boxlite_box_options_set_network (box_options, BOXLITE_NETWORK_DISABLED);
    src = boxlite_runtime_create (runtime, box_options, "src", NULL, &error);
    g_assert_no_error (error);

    g_test_add_func ("/snapshots/restore", test_restore);
    g_test_add_func ("/snapshots/clone", test_clone);
    g_test_add_func ("/snapshots/clone-snapshot", test_clone_snapshot);
    g_test_add_func ("/snapshots/errors", test_errors);
    g_test_add_func ("/snapshots/remove-box", test_remove_box);
    g_test_add_func ("/snapshots/live/running", test_running);
    g_test_add_func ("/snapshots/live/paused-and-refused", test_paused_and_refused);

    int ret = g_test_run ();
    g_clear_object (&src);
    test_home_close (&runtime, home);
    return ret;
}

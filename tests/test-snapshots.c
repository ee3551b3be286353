/* test-snapshots.c: snapshots of a real box's disk and clones of it (TCG
 * where KVM is unusable).
 *
 * One box ("src") is written, snapshotted, changed and restored; its clones
 * are booted to see the source's files, diverge, and leave the source as it
 * was. The tests run in order and share "src". */
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
 * running box is neither snapshotted nor restored. */
static void
test_restore (void)
{
    g_autoptr (GError) error = NULL;

    start (src);
    write_state (src, "first");
    g_assert_false (boxlite_box_snapshot_create (src, "live", NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE);
    g_clear_error (&error);
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
     * source's disk): only the two snapshots are left. */
    g_autofree char *dir =
        g_build_filename (home, "boxes", boxlite_box_get_id (src), "snapshots", NULL);
    g_assert_cmpuint (test_count_entries (dir), ==, 2);
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

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_autofree char *tmpl = g_build_filename (g_get_tmp_dir (), "boxlite-test-XXXXXX", NULL);
    home = g_mkdtemp (g_steal_pointer (&tmpl));
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (GError) error = NULL;
    boxlite_options_set_home_dir (options, home);
    runtime = boxlite_runtime_new (options, &error);
    g_assert_no_error (error);
    g_autoptr (BoxliteBoxOptions) box_options = boxlite_box_options_new ();
    boxlite_box_options_set_network (box_options, BOXLITE_NETWORK_DISABLED);
    src = boxlite_runtime_create (runtime, box_options, "src", NULL, &error);
    g_assert_no_error (error);

    g_test_add_func ("/snapshots/restore", test_restore);
    g_test_add_func ("/snapshots/clone", test_clone);
    g_test_add_func ("/snapshots/clone-snapshot", test_clone_snapshot);
    g_test_add_func ("/snapshots/errors", test_errors);
    g_test_add_func ("/snapshots/remove-box", test_remove_box);

    int ret = g_test_run ();
    g_clear_object (&src);
    g_clear_object (&runtime);
    const char *const rm[] = { "rm", "-rf", home, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
    g_free (home);
    return ret;
}

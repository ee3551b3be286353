/* test-fs-tree.c: bl_tree_remove() on hostile and awkward trees. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-tree.h"

typedef struct {
    char *dir;     /* scratch directory of the test */
    char *tree;    /* what gets removed */
    char *outside; /* must survive */
} Fixture;

static void
write_file (const char *path)
{
    g_assert_true (g_file_set_contents (path, "data", -1, NULL));
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp ("boxlite-fs-tree-XXXXXX", NULL);
    g_assert_nonnull (f->dir);
    f->tree = g_build_filename (f->dir, "tree", NULL);
    f->outside = g_build_filename (f->dir, "outside", NULL);
    g_assert_cmpint (g_mkdir (f->tree, 0755), ==, 0);
    g_assert_cmpint (g_mkdir (f->outside, 0755), ==, 0);
    g_autofree char *keep = g_build_filename (f->outside, "keep", NULL);
    write_file (keep);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
    g_assert_true (bl_tree_remove (f->dir, NULL));
    g_free (f->dir);
    g_free (f->tree);
    g_free (f->outside);
}

/* Removes the fixture's tree, which must go without an error. */
static void
assert_tree_removed (Fixture *f)
{
    g_autoptr (GError) error = NULL;

    g_assert_true (bl_tree_remove (f->tree, &error));
    g_assert_no_error (error);
    g_assert_false (g_file_test (f->tree, G_FILE_TEST_EXISTS));
}

static void
assert_outside_intact (Fixture *f)
{
    g_autofree char *keep = g_build_filename (f->outside, "keep", NULL);
    g_assert_true (g_file_test (keep, G_FILE_TEST_IS_REGULAR));
}

static void
test_symlinks_not_followed (Fixture *f, gconstpointer data)
{
    g_autofree char *sub = g_build_filename (f->tree, "sub", NULL);
    g_autofree char *to_dir = g_build_filename (sub, "to-dir", NULL);
    g_autofree char *to_file = g_build_filename (sub, "to-file", NULL);
    g_autofree char *keep = g_build_filename (f->outside, "keep", NULL);

    g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
    g_assert_cmpint (symlink (f->outside, to_dir), ==, 0);
    g_assert_cmpint (symlink (keep, to_file), ==, 0);
    assert_tree_removed (f);
    assert_outside_intact (f);
}

static void
test_top_symlink_removed_not_followed (Fixture *f, gconstpointer data)
{
    g_autofree char *link = g_build_filename (f->dir, "link", NULL);

    g_assert_cmpint (symlink (f->outside, link), ==, 0);
    g_assert_true (bl_tree_remove (link, NULL));
    g_assert_false (g_file_test (link, G_FILE_TEST_IS_SYMLINK));
    assert_outside_intact (f);
}

/* Deeper than the descriptors a process may hold and than PATH_MAX. */
static void
test_deep_tree (Fixture *f, gconstpointer data)
{
    const guint depth = 1200;
    int fd = open (f->tree, O_RDONLY | O_DIRECTORY);

    for (guint i = 0; i < depth; i++) {
        g_assert_cmpint (mkdirat (fd, "deep", 0755), ==, 0);
        int file = openat (fd, "f", O_WRONLY | O_CREAT, 0644);
        g_assert_cmpint (file, >=, 0);
        close (file);
        int next = openat (fd, "deep", O_RDONLY | O_DIRECTORY);
        g_assert_cmpint (next, >=, 0);
        close (fd);
        fd = next;
    }
    close (fd);
    assert_tree_removed (f);
}

static void
test_read_only_dirs (Fixture *f, gconstpointer data)
{
    g_autofree char *ro = g_build_filename (f->tree, "ro", NULL);
    g_autofree char *inner = g_build_filename (ro, "inner", NULL);
    g_autofree char *file = g_build_filename (inner, "file", NULL);
    g_autofree char *closed = g_build_filename (ro, "closed", NULL);

    g_assert_cmpint (g_mkdir_with_parents (inner, 0755), ==, 0);
    g_assert_cmpint (g_mkdir (closed, 0755), ==, 0);
    write_file (file);
    g_assert_cmpint (chmod (inner, 0500), ==, 0);
    g_assert_cmpint (chmod (closed, 0), ==, 0);
    g_assert_cmpint (chmod (ro, 0500), ==, 0);
    assert_tree_removed (f);
}

static void
test_missing_path (Fixture *f, gconstpointer data)
{
    g_autofree char *missing = g_build_filename (f->dir, "missing", NULL);
    g_autofree char *below = g_build_filename (missing, "below", NULL);
    g_autoptr (GError) error = NULL;

    g_assert_true (bl_tree_remove (missing, &error));
    g_assert_true (bl_tree_remove (below, &error));
    g_assert_no_error (error);
}

static void
test_single_file (Fixture *f, gconstpointer data)
{
    g_autofree char *file = g_build_filename (f->dir, "file", NULL);

    write_file (file);
    g_assert_true (bl_tree_remove (file, NULL));
    g_assert_false (g_file_test (file, G_FILE_TEST_EXISTS));
}

/* A filesystem mounted inside is neither entered nor emptied; what is
 * around it goes, and the error says what stayed. */
static void
test_stays_on_one_filesystem (Fixture *f, gconstpointer data)
{
    g_autofree char *mnt = g_build_filename (f->tree, "mnt", NULL);
    g_autofree char *inside = g_build_filename (mnt, "inside", NULL);
    g_autofree char *beside = g_build_filename (f->tree, "beside", NULL);
    g_autoptr (GError) error = NULL;

    if (geteuid () != 0) {
        g_test_skip ("mounting needs root");
        return;
    }
    g_assert_cmpint (g_mkdir (mnt, 0755), ==, 0);
    write_file (beside);
    if (mount ("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0) {
        g_test_skip_printf ("cannot mount a tmpfs: %s", g_strerror (errno));
        return;
    }
    write_file (inside);
    gboolean removed = bl_tree_remove (f->tree, &error);
    gboolean survived = g_file_test (inside, G_FILE_TEST_IS_REGULAR);
    g_assert_cmpint (umount (mnt), ==, 0);
    g_assert_false (removed);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
    g_assert_nonnull (strstr (error->message, mnt));
    g_assert_true (survived);
    g_assert_false (g_file_test (beside, G_FILE_TEST_EXISTS));
}

/* Sizes count what is in the tree, not what its symlinks point to. */
static void
test_usage (Fixture *f, gconstpointer data)
{
    g_autofree char *file = g_build_filename (f->tree, "file", NULL);
    g_autofree char *link = g_build_filename (f->tree, "outside", NULL);
    g_autofree char *big = g_build_filename (f->outside, "big", NULL);
    g_autofree char *missing = g_build_filename (f->dir, "missing", NULL);
    g_autofree char *text = g_strnfill (10000, 'x');
    BlTreeUsage usage;

    g_assert_true (g_file_set_contents (file, text, -1, NULL));
    g_assert_true (g_file_set_contents (big, text, -1, NULL));
    g_assert_cmpint (symlink (f->outside, link), ==, 0);
    bl_tree_usage (f->tree, &usage);
    g_assert_cmpuint (usage.entries, ==, 3);
    g_assert_cmpuint (usage.file_bytes, ==, 10000);
    g_assert_cmpuint (usage.disk_bytes, >=, 10000);
    bl_tree_usage (missing, &usage);
    g_assert_cmpuint (usage.entries, ==, 0);
    g_assert_cmpuint (usage.disk_bytes, ==, 0);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
#define ADD(name, func)                                                                            \
    g_test_add ("/fs-tree/" name, Fixture, NULL, fixture_setup, func, fixture_teardown)
    ADD ("symlinks-not-followed", test_symlinks_not_followed);
    ADD ("top-symlink", test_top_symlink_removed_not_followed);
    ADD ("deep-tree", test_deep_tree);
    ADD ("read-only-dirs", test_read_only_dirs);
    ADD ("missing-path", test_missing_path);
    ADD ("single-file", test_single_file);
    ADD ("one-filesystem", test_stays_on_one_filesystem);
    ADD ("usage", test_usage);
#undef ADD
    return g_test_run ();
}

/* test-copy-extract.c: the host's writer of archives copied out of a box
 * (bl_copy_extract()), fed crafted tar streams a real agent would never
 * send: "..", absolute names, entries under links from the archive or
 * already in the destination, hard links out, device nodes, extended
 * attributes, limits, the rename of the top entry, and mutated archives.
 * After each, nothing outside the destination may have changed. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <boxlite/boxlite-error.h>
#include "layer.h"

typedef struct {
    char *tmp;
    char *dest;
    char *sentinel;
    int dest_fd;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
    f->tmp = g_dir_make_tmp ("boxlite-extract-XXXXXX", NULL);
    f->dest = g_build_filename (f->tmp, "dest", NULL);
    f->sentinel = g_build_filename (f->tmp, "sentinel", NULL);
    g_assert_cmpint (g_mkdir (f->dest, 0755), ==, 0);
    g_assert_cmpint (g_mkdir (f->sentinel, 0755), ==, 0);
    g_autofree char *mark = g_build_filename (f->sentinel, "mark", NULL);
    g_assert_true (g_file_set_contents (mark, "untouched", -1, NULL));
    f->dest_fd = open (f->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_assert_cmpint (f->dest_fd, >=, 0);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
    close (f->dest_fd);
    g_autofree char *cmd = g_strdup_printf ("rm -rf %s", f->tmp);
    g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL));
    g_free (f->tmp);
    g_free (f->dest);
    g_free (f->sentinel);
}

/* Nothing next to the destination changed: the sentinel holds its mark
 * only, and the temporary directory holds dest and sentinel only. */
static void
assert_outside_untouched (Fixture *f)
{
    g_autofree char *mark = g_build_filename (f->sentinel, "mark", NULL);
    g_autofree char *text = NULL;
    g_autoptr (GDir) sentinel = g_dir_open (f->sentinel, 0, NULL);
    g_autoptr (GDir) tmp = g_dir_open (f->tmp, 0, NULL);
    guint n = 0;

    while (g_dir_read_name (sentinel))
        n++;
    g_assert_cmpuint (n, ==, 1);
    g_assert_true (g_file_get_contents (mark, &text, NULL, NULL));
    g_assert_cmpstr (text, ==, "untouched");
    n = 0;
    while (g_dir_read_name (tmp))
        n++;
    g_assert_cmpuint (n, ==, 2);
}

/* ---- building archives -------------------------------------------------- */

typedef struct {
    struct archive *a;
    GByteArray *out;
} Tar;

static la_ssize_t
tar_write (struct archive *a, void *data, const void *buf, size_t len)
{
    g_byte_array_append (data, buf, (guint) len);
    return (la_ssize_t) len;
}

static Tar *
tar_new (void)
{
    Tar *t = g_new0 (Tar, 1);
    t->out = g_byte_array_new ();
    t->a = archive_write_new ();
    archive_write_set_format_pax_restricted (t->a);
    archive_write_open (t->a, t->out, NULL, tar_write, NULL);
    return t;
}

static void
tar_add (Tar *t, const char *name, mode_t type, const char *data, const char *link,
         const char *hardlink)
{
    struct archive_entry *e = archive_entry_new ();
    gsize len = data ? strlen (data) : 0;

    archive_entry_set_pathname (e, name);
    archive_entry_set_filetype (e, type);
    archive_entry_set_perm (e, type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_mtime (e, 1700000000, 0);
    if (type == AE_IFREG)
        archive_entry_set_size (e, (la_int64_t) len);
    if (link)
        archive_entry_set_symlink (e, link);
    if (hardlink) {
        archive_entry_set_hardlink (e, hardlink);
        archive_entry_set_size (e, 0);
    }
    if (type == AE_IFCHR)
        archive_entry_set_rdev (e, makedev (1, 3));
    g_assert_cmpint (archive_write_header (t->a, e), ==, ARCHIVE_OK);
    if (len)
        archive_write_data (t->a, data, len);
    archive_entry_free (e);
}

static GBytes *
tar_end (Tar *t)
{
    archive_write_close (t->a);
    archive_write_free (t->a);
    GBytes *bytes = g_byte_array_free_to_bytes (t->out);
    g_free (t);
    return bytes;
}

static gboolean
extract (Fixture *f, GBytes *tar, const BlCopyOptions *given, GError **error)
{
    BlCopyOptions opts = { .limits = { 1 << 20, 1000 } };
    if (given)
        opts = *given;
    struct archive *a = archive_read_new ();
    archive_read_support_format_tar (a);
    gsize len = 0;
    const void *data = g_bytes_get_data (tar, &len);
    gboolean ok;
    if (archive_read_open_memory (a, data, len) != ARCHIVE_OK)
        ok = bl_layer_archive_error (error, a);
    else
        ok = bl_copy_extract (a, f->dest_fd, &opts, NULL, NULL, error);
    archive_read_free (a);
    return ok;
}

static char *
dest_path (Fixture *f, const char *rel)
{
    return g_build_filename (f->dest, rel, NULL);
}

/* ---- cases -------------------------------------------------------------- */

static void
test_dotdot_and_absolute (Fixture *f, gconstpointer data)
{
    const char *names[] = { "../escape", "a/../../escape", "/abs", "//abs" };

    for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
        g_autoptr (GError) error = NULL;
        Tar *t = tar_new ();
        tar_add (t, names[i], AE_IFREG, "x", NULL, NULL);
        g_autoptr (GBytes) tar = tar_end (t);
        g_assert_false (extract (f, tar, NULL, &error));
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
        assert_outside_untouched (f);
    }
    g_assert_false (g_file_test ("/abs", G_FILE_TEST_EXISTS));
}

static void
test_under_archive_links (Fixture *f, gconstpointer data)
{
    const char *targets[] = { f->sentinel, "../sentinel", "/", "../../.." };

    for (guint i = 0; i < G_N_ELEMENTS (targets); i++) {
        g_autoptr (GError) error = NULL;
        g_autofree char *name = g_strdup_printf ("esc%u", i);
        g_autofree char *under = g_strdup_printf ("esc%u/planted", i);
        g_autofree char *deeper = g_strdup_printf ("esc%u/sub/planted", i);
        Tar *t = tar_new ();
        tar_add (t, name, AE_IFLNK, NULL, targets[i], NULL);
        tar_add (t, i % 2 ? deeper : under, AE_IFREG, "x", NULL, NULL);
        g_autoptr (GBytes) tar = tar_end (t);
        g_assert_false (extract (f, tar, NULL, &error));
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
        assert_outside_untouched (f);
        /* The link itself was written, as a link. */
        g_autofree char *link = dest_path (f, name);
        g_autofree char *target = g_file_read_link (link, NULL);
        g_assert_cmpstr (target, ==, targets[i]);
    }
}

static void
test_under_existing_links (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *pre = dest_path (f, "pre");

    g_assert_cmpint (symlink (f->sentinel, pre), ==, 0);
    Tar *t = tar_new ();
    tar_add (t, "pre/planted", AE_IFREG, "x", NULL, NULL);
    g_autoptr (GBytes) tar = tar_end (t);
    g_assert_false (extract (f, tar, NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
    assert_outside_untouched (f);
    g_clear_error (&error);

    /* A file or a directory at the link's name replaces the link. */
    t = tar_new ();
    tar_add (t, "pre", AE_IFREG, "mine", NULL, NULL);
    g_autoptr (GBytes) tar2 = tar_end (t);
    g_assert_true (extract (f, tar2, NULL, &error));
    g_assert_no_error (error);
    g_assert_false (g_file_test (pre, G_FILE_TEST_IS_SYMLINK));
    assert_outside_untouched (f);
}

static void
test_hard_links (Fixture *f, gconstpointer data)
{
    const char *outside[] = { "../sentinel/mark", "/etc/passwd", "esc/mark" };

    for (guint i = 0; i < G_N_ELEMENTS (outside); i++) {
        g_autoptr (GError) error = NULL;
        Tar *t = tar_new ();
        tar_add (t, "esc", AE_IFLNK, NULL, f->sentinel, NULL);
        tar_add (t, "h", AE_IFREG, NULL, NULL, outside[i]);
        g_autoptr (GBytes) tar = tar_end (t);
        g_assert_false (extract (f, tar, NULL, &error));
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
        assert_outside_untouched (f);
        g_autofree char *h = dest_path (f, "h");
        g_assert_false (g_file_test (h, G_FILE_TEST_EXISTS));
    }

    g_autoptr (GError) error = NULL;
    Tar *t = tar_new ();
    tar_add (t, "a", AE_IFREG, "data", NULL, NULL);
    tar_add (t, "b", AE_IFREG, NULL, NULL, "a");
    g_autoptr (GBytes) tar = tar_end (t);
    g_assert_true (extract (f, tar, NULL, &error));
    g_assert_no_error (error);
    g_autofree char *a = dest_path (f, "a");
    g_autofree char *b = dest_path (f, "b");
    struct stat sa, sb;
    g_assert_cmpint (stat (a, &sa), ==, 0);
    g_assert_cmpint (stat (b, &sb), ==, 0);
    g_assert_cmpuint (sa.st_ino, ==, sb.st_ino);
}

static void
test_devices_refused (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    Tar *t = tar_new ();
    tar_add (t, "null", AE_IFCHR, NULL, NULL, NULL);
    g_autoptr (GBytes) tar = tar_end (t);

    g_assert_false (extract (f, tar, NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
    g_autofree char *node = dest_path (f, "null");
    g_assert_false (g_file_test (node, G_FILE_TEST_EXISTS));
}

static void
test_xattrs_ignored (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    Tar *t = tar_new ();
    struct archive_entry *e = archive_entry_new ();

    archive_entry_set_pathname (e, "withattr");
    archive_entry_set_filetype (e, AE_IFREG);
    archive_entry_set_perm (e, 0644);
    archive_entry_set_size (e, 0);
    archive_entry_xattr_add_entry (e, "user.planted", "1", 1);
    archive_write_header (t->a, e);
    archive_entry_free (e);
    g_autoptr (GBytes) tar = tar_end (t);
    g_assert_true (extract (f, tar, NULL, &error));
    g_assert_no_error (error);
    g_autofree char *path = dest_path (f, "withattr");
    char value[8];
    g_assert_cmpint (getxattr (path, "user.planted", value, sizeof value), <, 0);
}

static void
test_limits (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    BlCopyOptions opts = { .limits = { 10, 3 } };
    Tar *t = tar_new ();
    for (guint i = 0; i < 4; i++) {
        g_autofree char *name = g_strdup_printf ("f%u", i);
        tar_add (t, name, AE_IFREG, "x", NULL, NULL);
    }
    g_autoptr (GBytes) many = tar_end (t);
    g_assert_false (extract (f, many, &opts, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
    g_assert_nonnull (strstr (error->message, "entries"));
    g_clear_error (&error);

    t = tar_new ();
    tar_add (t, "big", AE_IFREG, "eleven byte", NULL, NULL);
    g_autoptr (GBytes) big = tar_end (t);
    g_assert_false (extract (f, big, &opts, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
    g_clear_error (&error);

    g_autofree char *long_name = g_strnfill (5000, 'n');
    t = tar_new ();
    tar_add (t, long_name, AE_IFREG, "x", NULL, NULL);
    g_autoptr (GBytes) longer = tar_end (t);
    g_assert_false (extract (f, longer, NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
}

static void
test_rename (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    BlCopyOptions opts = { .rename = "new", .limits = { 1 << 20, 100 } };
    Tar *t = tar_new ();

    tar_add (t, "top", AE_IFDIR, NULL, NULL, NULL);
    tar_add (t, "top/a", AE_IFREG, "a", NULL, NULL);
    g_autoptr (GBytes) tar = tar_end (t);
    g_assert_true (extract (f, tar, &opts, &error));
    g_assert_no_error (error);
    g_autofree char *a = dest_path (f, "new/a");
    g_assert_true (g_file_test (a, G_FILE_TEST_IS_REGULAR));

    /* Every entry must be below the top one. */
    t = tar_new ();
    tar_add (t, "top", AE_IFDIR, NULL, NULL, NULL);
    tar_add (t, "other", AE_IFREG, "o", NULL, NULL);
    g_autoptr (GBytes) two = tar_end (t);
    g_assert_false (extract (f, two, &opts, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
    g_clear_error (&error);

    /* "SRC/." into a new name. */
    opts.rename = "dot";
    t = tar_new ();
    tar_add (t, ".", AE_IFDIR, NULL, NULL, NULL);
    tar_add (t, "./b", AE_IFREG, "b", NULL, NULL);
    g_autoptr (GBytes) dot = tar_end (t);
    g_assert_true (extract (f, dot, &opts, &error));
    g_assert_no_error (error);
    g_autofree char *b = dest_path (f, "dot/b");
    g_assert_true (g_file_test (b, G_FILE_TEST_IS_REGULAR));

    /* A directory onto a file; a file where "NAME/" asked for a directory. */
    BlCopyOptions onto = { .rename = "file", .dest_is_file = TRUE, .limits = { 1 << 20, 100 } };
    g_assert_false (extract (f, tar, &onto, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    BlCopyOptions slash = { .rename = "d", .dest_slash = TRUE, .limits = { 1 << 20, 100 } };
    t = tar_new ();
    tar_add (t, "f", AE_IFREG, "f", NULL, NULL);
    g_autoptr (GBytes) file = tar_end (t);
    g_assert_false (extract (f, file, &slash, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY);
    assert_outside_untouched (f);
}

static void
test_directory_not_replaced (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *dir = dest_path (f, "keep");
    g_autofree char *inside = dest_path (f, "keep/file");

    g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
    g_assert_true (g_file_set_contents (inside, "mine", -1, NULL));
    Tar *t = tar_new ();
    tar_add (t, "keep", AE_IFLNK, NULL, "/", NULL);
    g_autoptr (GBytes) tar = tar_end (t);
    g_assert_false (extract (f, tar, NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
    g_assert_true (g_file_test (inside, G_FILE_TEST_IS_REGULAR));
}

/* Byte flips, truncations and spliced headers of an archive with links:
 * each must fail or succeed cleanly, and nothing may land outside. */
static void
test_mutated (Fixture *f, gconstpointer data)
{
    Tar *t = tar_new ();
    tar_add (t, "d", AE_IFDIR, NULL, NULL, NULL);
    tar_add (t, "d/link", AE_IFLNK, NULL, "../../sentinel", NULL);
    tar_add (t, "d/file", AE_IFREG, "contents of a file", NULL, NULL);
    tar_add (t, "d/hard", AE_IFREG, NULL, NULL, "d/file");
    tar_add (t, "up", AE_IFLNK, NULL, "..", NULL);
    g_autoptr (GBytes) base = tar_end (t);
    gsize len = 0;
    const guint8 *orig = g_bytes_get_data (base, &len);
    GRand *rand = g_rand_new_with_seed (20261203);

    for (guint round = 0; round < 500; round++) {
        g_autofree guint8 *copy = g_memdup2 (orig, len);
        gsize use = len;
        guint flips = g_rand_int_range (rand, 1, 8);
        for (guint k = 0; k < flips; k++)
            copy[g_rand_int_range (rand, 0, (gint32) len)] = (guint8) g_rand_int (rand);
        if (round % 5 == 0)
            use = g_rand_int_range (rand, 0, (gint32) len);
        g_autoptr (GBytes) mutated = g_bytes_new (copy, use);
        g_autoptr (GError) error = NULL;
        extract (f, mutated, NULL, &error);
        assert_outside_untouched (f);
        g_autofree char *cmd = g_strdup_printf ("sh -c 'rm -rf %s/* %s/.[!.]*'", f->dest, f->dest);
        g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL));
    }
    g_rand_free (rand);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
    ADD ("/copy-extract/dotdot-absolute", test_dotdot_and_absolute);
    ADD ("/copy-extract/under-archive-links", test_under_archive_links);
    ADD ("/copy-extract/under-existing-links", test_under_existing_links);
    ADD ("/copy-extract/hard-links", test_hard_links);
    ADD ("/copy-extract/devices", test_devices_refused);
    ADD ("/copy-extract/xattrs", test_xattrs_ignored);
    ADD ("/copy-extract/limits", test_limits);
    ADD ("/copy-extract/rename", test_rename);
    ADD ("/copy-extract/directory-not-replaced", test_directory_not_replaced);
    ADD ("/copy-extract/mutated", test_mutated);
    return g_test_run ();
}

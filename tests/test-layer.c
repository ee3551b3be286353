/* test-layer.c: applying OCI layers built here with libarchive onto a
 * temporary root filesystem. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <boxlite/boxlite-error.h>
#include "layer.h"

typedef enum {
    COMPRESS_NONE,
    COMPRESS_GZIP,
    COMPRESS_ZSTD,
} Compression;

/* One archive entry: 'f' file, 'd' directory, 'l' symlink, 'h' hard link,
 * 'p' fifo, 'c' the character device 1:3. @data is a file's contents or a link's target. */
typedef struct {
    char type;
    const char *path;
    const char *data;
    guint mode;
} Spec;

#define MTIME 1234567890

typedef struct {
    char *base; /* holds root/ and anything the tests put beside it */
    char *root;
    guint layers; /* layer files written so far */
} Fixture;

static void
fixture_set_up (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    g_autoptr (GError) error = NULL;

    fx->base = g_dir_make_tmp ("test-layer-XXXXXX", &error);
    g_assert_no_error (error);
    fx->root = g_build_filename (fx->base, "root", NULL);
    g_assert_cmpint (g_mkdir (fx->root, 0755), ==, 0);
}

static void
remove_all (const char *path)
{
    struct stat st;

    if (lstat (path, &st) < 0)
        return;
    if (S_ISDIR (st.st_mode)) {
        g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
        const char *name;
        chmod (path, 0700);
        while (dir && (name = g_dir_read_name (dir))) {
            g_autofree char *child = g_build_filename (path, name, NULL);
            remove_all (child);
        }
        g_rmdir (path);
    } else {
        g_unlink (path);
    }
}

static void
fixture_tear_down (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    remove_all (fx->base);
    g_free (fx->root);
    g_free (fx->base);
}

static void
add_entry (struct archive *out, const Spec *spec)
{
    struct archive_entry *entry = archive_entry_new ();
    size_t len = spec->data ? strlen (spec->data) : 0;

    archive_entry_set_pathname (entry, spec->path);
    archive_entry_set_mtime (entry, MTIME, 0);
    archive_entry_set_uid (entry, 0);
    archive_entry_set_gid (entry, 0);
    switch (spec->type) {
    case 'f':
        archive_entry_set_filetype (entry, AE_IFREG);
        archive_entry_set_perm (entry, spec->mode ? spec->mode : 0644);
        archive_entry_set_size (entry, (la_int64_t) len);
        break;
    case 'd':
        archive_entry_set_filetype (entry, AE_IFDIR);
        archive_entry_set_perm (entry, spec->mode ? spec->mode : 0755);
        len = 0;
        break;
    case 'l':
        archive_entry_set_filetype (entry, AE_IFLNK);
        archive_entry_set_perm (entry, 0777);
        archive_entry_set_symlink (entry, spec->data);
        len = 0;
        break;
    case 'h':
        archive_entry_set_filetype (entry, AE_IFREG);
        archive_entry_set_perm (entry, 0644);
        archive_entry_set_hardlink (entry, spec->data);
        len = 0;
        break;
    case 'c':
        archive_entry_set_filetype (entry, AE_IFCHR);
        archive_entry_set_perm (entry, 0666);
        archive_entry_set_rdev (entry, makedev (1, 3));
        break;
    case 'p':
        archive_entry_set_filetype (entry, AE_IFIFO);
        archive_entry_set_perm (entry, spec->mode ? spec->mode : 0600);
        break;
    default:
        g_assert_not_reached ();
    }
    g_assert_cmpint (archive_write_header (out, entry), ==, ARCHIVE_OK);
    if (len > 0)
        g_assert_cmpint (archive_write_data (out, spec->data, len), ==, (la_ssize_t) len);
    archive_entry_free (entry);
}

/* Writes a layer made of @specs into the fixture's base directory and
 * returns its path. */
static char *
write_layer (Fixture *fx, Compression compression, const Spec *specs, gsize n_specs)
{
    struct archive *out = archive_write_new ();
    char *path = g_strdup_printf ("%s/layer%u.tar", fx->base, fx->layers++);

    g_assert_cmpint (archive_write_set_format_pax_restricted (out), ==, ARCHIVE_OK);
    if (compression == COMPRESS_GZIP)
        g_assert_cmpint (archive_write_add_filter_gzip (out), ==, ARCHIVE_OK);
    else if (compression == COMPRESS_ZSTD)
        g_assert_cmpint (archive_write_add_filter_zstd (out), ==, ARCHIVE_OK);
    g_assert_cmpint (archive_write_open_filename (out, path), ==, ARCHIVE_OK);
    for (gsize i = 0; i < n_specs; i++)
        add_entry (out, &specs[i]);
    g_assert_cmpint (archive_write_close (out), ==, ARCHIVE_OK);
    archive_write_free (out);
    return path;
}

static gboolean
apply_specs (Fixture *fx, Compression compression, const Spec *specs, gsize n_specs,
             BlLayerStats *stats, GError **error)
{
    g_autofree char *layer = write_layer (fx, compression, specs, n_specs);
    return bl_layer_apply (layer, fx->root, stats, NULL, error);
}

#define APPLY_OK(fx, compression, specs, stats)                                                    \
    G_STMT_START                                                                                   \
    {                                                                                              \
        g_autoptr (GError) apply_error = NULL;                                                     \
        gboolean applied =                                                                         \
            apply_specs (fx, compression, specs, G_N_ELEMENTS (specs), stats, &apply_error);       \
        g_assert_no_error (apply_error);                                                           \
        g_assert_true (applied);                                                                   \
    }                                                                                              \
    G_STMT_END

/* Applies @specs expecting a BOXLITE_ERROR_IMAGE that mentions @needle. */
static void
apply_fails (Fixture *fx, const Spec *specs, gsize n_specs, const char *needle)
{
    g_autoptr (GError) error = NULL;

    g_assert_false (apply_specs (fx, COMPRESS_NONE, specs, n_specs, NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    g_test_message ("expected failure: %s", error->message);
    g_assert_nonnull (strstr (error->message, needle));
}

static void
list_tree (const char *dir, const char *prefix, GPtrArray *out)
{
    g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
    const char *name;

    g_assert_nonnull (d);
    while ((name = g_dir_read_name (d))) {
        g_autofree char *full = g_build_filename (dir, name, NULL);
        g_autofree char *rel = *prefix ? g_strconcat (prefix, "/", name, NULL) : g_strdup (name);
        struct stat st;
        g_assert_cmpint (lstat (full, &st), ==, 0);
        char kind = S_ISDIR (st.st_mode) ? 'd' : S_ISLNK (st.st_mode) ? 'l' : 'f';
        g_ptr_array_add (out, g_strdup_printf ("%c %s", kind, rel));
        if (S_ISDIR (st.st_mode))
            list_tree (full, rel, out);
    }
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
    /* By path, past the "kind " prefix. */
    return strcmp (*(const char *const *) a + 2, *(const char *const *) b + 2);
}

/* Every path below @root, one "kind path" line each, sorted by path. */
static char *
tree_of (const char *root)
{
    g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);

    list_tree (root, "", lines);
    g_ptr_array_sort (lines, compare_strings);
    g_ptr_array_add (lines, NULL);
    return g_strjoinv ("\n", (char **) lines->pdata);
}

static void
assert_contents (const char *root, const char *rel, const char *expected)
{
    g_autofree char *path = g_build_filename (root, rel, NULL);
    g_autofree char *contents = NULL;
    g_autoptr (GError) error = NULL;

    g_file_get_contents (path, &contents, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (contents, ==, expected);
}

static struct stat
lstat_of (const char *root, const char *rel)
{
    g_autofree char *path = g_build_filename (root, rel, NULL);
    struct stat st;

    g_assert_cmpint (lstat (path, &st), ==, 0);
    return st;
}

static gboolean
exists (const char *root, const char *rel)
{
    g_autofree char *path = g_build_filename (root, rel, NULL);
    struct stat st;
    return lstat (path, &st) == 0;
}

static const Spec base_layer[] = {
    { 'd', "bin/", NULL, 0 },
    { 'f', "bin/sh", "#!sh", 0755 },
    { 'd', "etc/", NULL, 0 },
    { 'f', "etc/passwd", "root:x:0:0", 0 },
    { 'f', "etc/hosts", "127.0.0.1 localhost", 0 },
    { 'd', "var/", NULL, 0 },
    { 'd', "var/cache/", NULL, 0 },
    { 'f', "var/cache/x", "x", 0 },
    { 'd', "usr/", NULL, 0 },
    { 'd', "usr/lib/", NULL, 0 },
    { 'f', "usr/lib/a", "a", 0 },
    { 'd', "usr/lib/sub/", NULL, 0 },
    { 'f', "usr/lib/sub/b", "b", 0 },
    { 'd', "opt/", NULL, 0 },
    { 'f', "opt/keep", "lower", 0 },
    { 'd', "opt/sub/", NULL, 0 },
    { 'f', "opt/sub/old", "old", 0 },
    { 'f', "opt/newfile", "lower version", 0 },
};

/* Deletes a file and a whole tree, adds a file. */
static const Spec whiteout_layer[] = {
    { 'f', "etc/.wh.hosts", NULL, 0 },
    { 'f', ".wh.var", NULL, 0 },
    { 'f', "usr/lib/c", "c", 0 },
};

/* usr/lib turns opaque with the marker before its new entries, opt with the
 * marker after them. */
static const Spec opaque_layer[] = {
    { 'd', "usr/lib/", NULL, 0 },
    { 'f', "usr/lib/.wh..wh..opq", NULL, 0 },
    { 'f', "usr/lib/new", "new", 0 },
    { 'd', "opt/", NULL, 0 },
    { 'f', "opt/newfile", "upper version", 0 },
    { 'd', "opt/sub/", NULL, 0 },
    { 'f', "opt/sub/z", "z", 0 },
    { 'f', "opt/.wh..wh..opq", NULL, 0 },
};

static void
test_three_layers (Fixture *fx, gconstpointer data)
{
    Compression compression = GPOINTER_TO_INT (data);
    BlLayerStats stats = { 0 };
    g_autofree char *tree = NULL;

    APPLY_OK (fx, compression, base_layer, &stats);
    g_assert_cmpuint (stats.entries, ==, G_N_ELEMENTS (base_layer));
    g_assert_cmpuint (stats.whiteouts, ==, 0);
    g_assert_cmpuint (stats.bytes, >, 0);

    APPLY_OK (fx, compression, whiteout_layer, &stats);
    g_assert_cmpuint (stats.entries, ==, 3);
    g_assert_cmpuint (stats.whiteouts, ==, 2);
    g_assert_cmpuint (stats.bytes, ==, 1);
    tree = tree_of (fx->root);
    g_assert_cmpstr (tree, ==,
                     "d bin\nf bin/sh\n"
                     "d etc\nf etc/passwd\n"
                     "d opt\nf opt/keep\nf opt/newfile\nd opt/sub\nf opt/sub/old\n"
                     "d usr\nd usr/lib\nf usr/lib/a\nf usr/lib/c\nd usr/lib/sub\nf usr/lib/sub/b");
    g_clear_pointer (&tree, g_free);

    APPLY_OK (fx, compression, opaque_layer, &stats);
    g_assert_cmpuint (stats.whiteouts, ==, 2);
    tree = tree_of (fx->root);
    g_assert_cmpstr (tree, ==,
                     "d bin\nf bin/sh\n"
                     "d etc\nf etc/passwd\n"
                     "d opt\nf opt/newfile\nd opt/sub\nf opt/sub/z\n"
                     "d usr\nd usr/lib\nf usr/lib/new");
    assert_contents (fx->root, "bin/sh", "#!sh");
    assert_contents (fx->root, "etc/passwd", "root:x:0:0");
    assert_contents (fx->root, "opt/newfile", "upper version");
    assert_contents (fx->root, "opt/sub/z", "z");
    assert_contents (fx->root, "usr/lib/new", "new");
    g_assert_cmpint (lstat_of (fx->root, "opt").st_mtime, ==, MTIME);
}

static void
test_links_and_modes (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    const Spec lower[] = {
        { 'd', "/bin/", NULL, 0751 },    { 'f', "/bin/busybox", "bb", 04755 },
        { 'l', "bin/sh", "busybox", 0 }, { 'h', "bin/ls", "bin/busybox", 0 },
        { 'd', "./secret", NULL, 0700 }, { 'f', "./secret/key", "k", 0600 },
        { 'd', "ro/", NULL, 0555 },      { 'f', "ro/file", "r", 0444 },
        { 'p', "run/fifo", NULL, 0620 }, { 'l', "abs", "/etc/passwd", 0 },
        { 'c', "dev/null", NULL, 0 },
    };
    /* A hard link into a lower layer, and one to a symlink pointing out. */
    const Spec upper[] = {
        { 'h', "bin/cat", "/bin/busybox", 0 },
        { 'h', "abs-link", "abs", 0 },
        { 'f', "ro/second", "2", 0 },
    };

    APPLY_OK (fx, COMPRESS_NONE, lower, NULL);
    APPLY_OK (fx, COMPRESS_NONE, upper, NULL);

    struct stat busybox = lstat_of (fx->root, "bin/busybox");
    g_assert_cmpint (busybox.st_mode & 07777, ==, 04755);
    g_assert_cmpint (busybox.st_mtime, ==, MTIME);
    g_assert_cmpint (busybox.st_nlink, ==, 3);
    g_assert_cmpint (lstat_of (fx->root, "bin/ls").st_ino, ==, busybox.st_ino);
    g_assert_cmpint (lstat_of (fx->root, "bin/cat").st_ino, ==, busybox.st_ino);
    g_assert_cmpint (lstat_of (fx->root, "bin").st_mode & 07777, ==, 0751);
    g_assert_cmpint (lstat_of (fx->root, "secret").st_mtime, ==, MTIME);

    g_autofree char *sh = g_build_filename (fx->root, "bin/sh", NULL);
    g_autofree char *sh_target = g_file_read_link (sh, NULL);
    g_assert_true (S_ISLNK (lstat_of (fx->root, "bin/sh").st_mode));
    g_assert_cmpstr (sh_target, ==, "busybox");
    g_assert_cmpint (lstat_of (fx->root, "bin/sh").st_mtime, ==, MTIME);

    g_assert_cmpint (lstat_of (fx->root, "secret").st_mode & 07777, ==, 0700);
    g_assert_cmpint (lstat_of (fx->root, "secret/key").st_mode & 07777, ==, 0600);
    g_assert_cmpint (lstat_of (fx->root, "ro").st_mode & 07777, ==, 0555);
    g_assert_cmpint (lstat_of (fx->root, "ro/file").st_mode & 07777, ==, 0444);
    assert_contents (fx->root, "ro/second", "2");

    struct stat fifo = lstat_of (fx->root, "run/fifo");
    g_assert_true (S_ISFIFO (fifo.st_mode));
    g_assert_cmpint (fifo.st_mode & 07777, ==, 0620);

    /* Device nodes need the privilege to make them; without it they are skipped. */
    g_autofree char *null_path = g_build_filename (fx->root, "dev/null", NULL);
    struct stat null_st;
    if (lstat (null_path, &null_st) == 0) {
        g_assert_true (S_ISCHR (null_st.st_mode));
        g_assert_cmpint (null_st.st_rdev, ==, makedev (1, 3));
        g_assert_cmpint (null_st.st_mode & 07777, ==, 0666);
    } else {
        g_assert_cmpint (errno, ==, ENOENT);
        g_test_message ("device node skipped: not permitted here");
    }

    /* Linking the symlink links the symlink, not what it points at. */
    struct stat abs_link = lstat_of (fx->root, "abs-link");
    g_assert_true (S_ISLNK (abs_link.st_mode));
    g_assert_cmpint (abs_link.st_ino, ==, lstat_of (fx->root, "abs").st_ino);
}

static void
test_owner (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    struct archive *out = archive_write_new ();
    struct archive_entry *entry = archive_entry_new ();
    g_autofree char *layer = g_build_filename (fx->base, "owner.tar", NULL);
    g_autoptr (GError) error = NULL;

    if (geteuid () != 0) {
        g_test_skip ("owners are only kept when running as root");
        archive_entry_free (entry);
        archive_write_free (out);
        return;
    }
    archive_write_set_format_pax_restricted (out);
    g_assert_cmpint (archive_write_open_filename (out, layer), ==, ARCHIVE_OK);
    archive_entry_set_pathname (entry, "owned");
    archive_entry_set_filetype (entry, AE_IFREG);
    archive_entry_set_perm (entry, 02750);
    archive_entry_set_uid (entry, 1234);
    archive_entry_set_gid (entry, 5678);
    archive_entry_set_size (entry, 0);
    archive_entry_xattr_add_entry (entry, "user.note", "hi", 2);
    g_assert_cmpint (archive_write_header (out, entry), ==, ARCHIVE_OK);
    archive_entry_free (entry);
    archive_write_close (out);
    archive_write_free (out);

    g_assert_true (bl_layer_apply (layer, fx->root, NULL, NULL, &error));
    g_assert_no_error (error);
    struct stat st = lstat_of (fx->root, "owned");
    g_assert_cmpint (st.st_uid, ==, 1234);
    g_assert_cmpint (st.st_gid, ==, 5678);
    g_assert_cmpint (st.st_mode & 07777, ==, 02750);
}

static void
test_dotdot_rejected (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    const Spec escape[] = { { 'f', "../escape", "x", 0 } };
    const Spec nested[] = { { 'd', "a/", NULL, 0 }, { 'f', "a/../../escape", "x", 0 } };
    const Spec whiteout[] = { { 'f', "a/.wh...", NULL, 0 } };

    apply_fails (fx, escape, G_N_ELEMENTS (escape), "'../escape'");
    apply_fails (fx, nested, G_N_ELEMENTS (nested), "a/../../escape");
    apply_fails (fx, whiteout, G_N_ELEMENTS (whiteout), "a/.wh...");
    g_assert_false (exists (fx->base, "escape"));
}

/* Symlinks are followed as container tools follow them: inside the root,
 * an absolute target starting at the root. Nothing outside the root is
 * touched, and a link that climbs above the root fails the layer. */
static void
test_symlink_escape_rejected (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    g_autofree char *outside = g_build_filename (fx->base, "outside", NULL);
    const Spec same_layer[] = { { 'l', "evil", outside, 0 }, { 'f', "evil/file", "contained", 0 } };
    const Spec lower[] = { { 'l', "evil2", outside, 0 },
                           { 'l', "up", "..", 0 },
                           { 'l', "deep", "a/../../..", 0 } };
    const Spec upper[] = { { 'f', "/evil2/file2", "contained", 0 } };
    const Spec relative[] = { { 'd', "up/x/", NULL, 0 } };
    const Spec deeper[] = { { 'f', "deep/x", "no", 0 } };
    const Spec opaque[] = { { 'f', "evil2/.wh..wh..opq", NULL, 0 } };
    const Spec whiteout[] = { { 'f', "up/.wh.outside", NULL, 0 } };

    g_assert_cmpint (g_mkdir (outside, 0755), ==, 0);
    g_autofree char *victim = g_build_filename (outside, "victim", NULL);
    g_assert_true (g_file_set_contents (victim, "keep me", -1, NULL));

    /* The host path a link names is a path inside the root. */
    APPLY_OK (fx, COMPRESS_NONE, same_layer, NULL);
    g_autofree char *inside = g_build_filename (fx->root, outside, "file", NULL);
    g_assert_true (g_file_test (inside, G_FILE_TEST_IS_REGULAR));
    APPLY_OK (fx, COMPRESS_NONE, lower, NULL);
    APPLY_OK (fx, COMPRESS_NONE, upper, NULL);
    g_autofree char *inside2 = g_build_filename (fx->root, outside, "file2", NULL);
    g_assert_true (g_file_test (inside2, G_FILE_TEST_IS_REGULAR));
    APPLY_OK (fx, COMPRESS_NONE, opaque, NULL);
    apply_fails (fx, relative, G_N_ELEMENTS (relative), "symlink 'up' points outside the root");
    apply_fails (fx, deeper, G_N_ELEMENTS (deeper), "symlink 'deep' points outside the root");
    apply_fails (fx, whiteout, G_N_ELEMENTS (whiteout), "symlink 'up' points outside the root");

    g_autofree char *tree = tree_of (outside);
    g_assert_cmpstr (tree, ==, "f victim");
    g_assert_false (exists (fx->base, "x"));
}

/* Mutated archives (uncompressed, so that mutations reach the tar headers):
 * each one applies or fails with an image error, on top of a base that has
 * links pointing everywhere, and nothing outside the root changes. */
static void
test_mutated_archives (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    g_autofree char *outside = g_build_filename (fx->base, "outside", NULL);
    const Spec base[] = { { 'd', "usr/", NULL, 0 },
                          { 'd', "usr/lib/", NULL, 0 },
                          { 'l', "lib", "usr/lib", 0 },
                          { 'l', "out", outside, 0 },
                          { 'l', "up", "..", 0 } };
    const Spec seed[] = { { 'd', "a/", NULL, 0 },
                          { 'f', "a/one", "1111", 0 },
                          { 'f', "lib/two", "22", 0 },
                          { 'l', "a/link", "../lib/two", 0 },
                          { 'h', "a/hard", "a/one", 0 },
                          { 'f', "a/.wh.gone", NULL, 0 },
                          { 'f', "usr/.wh..wh..opq", NULL, 0 },
                          { 'f', "out/three", "3", 0 } };
    g_autoptr (GRand) rand = g_rand_new_with_seed (0x6c61796bu);

    g_assert_cmpint (g_mkdir (outside, 0755), ==, 0);
    APPLY_OK (fx, COMPRESS_NONE, base, NULL);
    g_autofree char *layer = write_layer (fx, COMPRESS_NONE, seed, G_N_ELEMENTS (seed));
    g_autofree char *original = NULL;
    gsize len = 0;
    g_assert_true (g_file_get_contents (layer, &original, &len, NULL));
    g_autofree char *mutated = g_build_filename (fx->base, "mutated.tar", NULL);
    guint applied = 0;

    for (guint i = 0; i < 2000; i++) {
        g_autofree guint8 *bytes = g_memdup2 (original, len);
        gsize n = len;
        guint flips = (guint) g_rand_int_range (rand, 1, 12);
        for (guint k = 0; k < flips; k++) {
            /* Most mutations land in headers, where the parser decides. */
            gsize at = g_rand_boolean (rand) ? (gsize) g_rand_int_range (rand, 0, 512 * 3)
                                             : (gsize) g_rand_int_range (rand, 0, (gint32) n);
            bytes[MIN (at, n - 1)] = (guint8) g_rand_int (rand);
        }
        if (g_rand_int_range (rand, 0, 8) == 0)
            n = (gsize) g_rand_int_range (rand, 0, (gint32) n);
        g_assert_true (g_file_set_contents (mutated, (const char *) bytes, (gssize) n, NULL));
        g_autoptr (GError) error = NULL;
        if (bl_layer_apply (mutated, fx->root, NULL, NULL, &error))
            applied++;
        else
            g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    }
    g_test_message ("%u of 2000 mutated layers applied", applied);
    g_autoptr (GDir) dir = g_dir_open (outside, 0, NULL);
    g_assert_null (g_dir_read_name (dir));
    g_autoptr (GDir) base_dir = g_dir_open (fx->base, 0, NULL);
    const char *name;
    while ((name = g_dir_read_name (base_dir)))
        g_assert_true (g_str_equal (name, "root") || g_str_equal (name, "outside") ||
                       g_str_has_prefix (name, "layer") || g_str_equal (name, "mutated.tar"));
}

/* A merged-/usr base (lib -> usr/lib) and a later layer that writes under
 * lib/: the file lands in usr/lib, as in the running container. */
static void
test_symlinked_parent_followed (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    const Spec base[] = { { 'd', "usr/", NULL, 0 },
                          { 'd', "usr/lib/", NULL, 0 },
                          { 'l', "lib", "usr/lib", 0 },
                          { 'l', "lib64", "/usr/lib", 0 },
                          { 'l', "loop", "loop", 0 } };
    const Spec upper[] = { { 'f', "lib/libfoo.so", "foo", 0 },
                           { 'd', "lib64/sub/", NULL, 0 },
                           { 'f', "lib64/sub/bar", "bar", 0 } };
    const Spec looping[] = { { 'f', "loop/x", "x", 0 } };

    APPLY_OK (fx, COMPRESS_NONE, base, NULL);
    APPLY_OK (fx, COMPRESS_GZIP, upper, NULL);
    g_autofree char *foo = g_build_filename (fx->root, "usr", "lib", "libfoo.so", NULL);
    g_autofree char *bar = g_build_filename (fx->root, "usr", "lib", "sub", "bar", NULL);
    g_autofree char *foo_text = NULL, *bar_text = NULL;
    g_assert_true (g_file_get_contents (foo, &foo_text, NULL, NULL));
    g_assert_cmpstr (foo_text, ==, "foo");
    g_assert_true (g_file_get_contents (bar, &bar_text, NULL, NULL));
    g_assert_cmpstr (bar_text, ==, "bar");
    /* The links themselves stay links. */
    g_autofree char *lib = g_build_filename (fx->root, "lib", NULL);
    g_assert_true (g_file_test (lib, G_FILE_TEST_IS_SYMLINK));
    apply_fails (fx, looping, G_N_ELEMENTS (looping), "too many symlinks");
}

static void
test_hardlink_escape_rejected (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    const Spec dotdot[] = { { 'h', "passwd", "../../etc/passwd", 0 } };
    const Spec through_symlink[] = { { 'l', "etc", "/etc", 0 },
                                     { 'h', "passwd", "etc/passwd", 0 } };
    const Spec absolute[] = { { 'h', "passwd2", "/etc/shadow", 0 } };

    apply_fails (fx, dotdot, G_N_ELEMENTS (dotdot), "../../etc/passwd");
    /* etc -> /etc is etc itself inside the root: a loop, not the host's. */
    apply_fails (fx, through_symlink, G_N_ELEMENTS (through_symlink), "too many symlinks");
    /* Absolute targets are inside the root, where there is no etc/shadow. */
    g_autofree char *etc = g_build_filename (fx->root, "etc", NULL);
    g_assert_cmpint (unlink (etc), ==, 0);
    apply_fails (fx, absolute, G_N_ELEMENTS (absolute), "/etc/shadow");
    g_assert_false (exists (fx->root, "passwd"));
    g_assert_false (exists (fx->root, "passwd2"));
}

static void
test_long_name_rejected (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    g_autoptr (GString) name = g_string_new (NULL);

    while (name->len <= 4096)
        g_string_append (name, "d/");
    g_string_append (name, "f");
    const Spec spec[] = { { 'f', name->str, "x", 0 } };
    apply_fails (fx, spec, G_N_ELEMENTS (spec), "longer than 4096");
}

static void
test_truncated_gzip (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    g_autoptr (GString) big = g_string_new (NULL);
    g_autoptr (GRand) rand = g_rand_new_with_seed (42);
    g_autoptr (GError) error = NULL;

    for (guint i = 0; i < 256 * 1024; i++)
        g_string_append_c (big, (char) ('a' + g_rand_int_range (rand, 0, 26)));
    const Spec spec[] = { { 'd', "data/", NULL, 0 }, { 'f', "data/big", big->str, 0 } };
    g_autofree char *layer = write_layer (fx, COMPRESS_GZIP, spec, G_N_ELEMENTS (spec));
    struct stat st;
    g_assert_cmpint (stat (layer, &st), ==, 0);
    g_assert_cmpint (truncate (layer, st.st_size / 2), ==, 0);

    g_assert_false (bl_layer_apply (layer, fx->root, NULL, NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    g_test_message ("truncated: %s", error->message);
    g_assert_nonnull (strstr (error->message, "data/big"));
}

static void
test_not_an_archive (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    g_autofree char *layer = g_build_filename (fx->base, "junk", NULL);
    g_autoptr (GError) error = NULL;

    g_assert_true (g_file_set_contents (layer, "this is not a tar archive at all", -1, NULL));
    g_assert_false (bl_layer_apply (layer, fx->root, NULL, NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    g_clear_error (&error);

    g_autofree char *missing = g_build_filename (fx->base, "missing.tar", NULL);
    g_assert_false (bl_layer_apply (missing, fx->root, NULL, NULL, &error));
    /* Not the archive's fault: the system's own error, naming the file. */
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_nonnull (strstr (error->message, missing));
}

static void
test_cancelled (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();
    g_autofree char *layer = write_layer (fx, COMPRESS_NONE, base_layer, 3);
    g_autoptr (GError) error = NULL;

    g_cancellable_cancel (cancellable);
    g_assert_false (bl_layer_apply (layer, fx->root, NULL, cancellable, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* Whiteouts only hide what lower layers wrote, whatever their position. */
static void
test_whiteout_same_layer (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    const Spec lower[] = { { 'd', "y/", NULL, 0 }, { 'f', "y/b", "b", 0 } };
    const Spec upper[] = {
        { 'f', "x/a", "a", 0 },
        { 'f', "x/.wh.a", NULL, 0 },
        { 'f', "y/sub/c", "c", 0 },
        { 'f', ".wh.y", NULL, 0 },
    };
    BlLayerStats stats = { 0 };

    APPLY_OK (fx, COMPRESS_NONE, lower, NULL);
    APPLY_OK (fx, COMPRESS_NONE, upper, &stats);
    g_assert_cmpuint (stats.whiteouts, ==, 2);
    g_autofree char *tree = tree_of (fx->root);
    g_assert_cmpstr (tree, ==, "d x\nf x/a\nd y\nd y/sub\nf y/sub/c");
}

/* Same-layer entries replace lower ones of another kind. */
static void
test_replace_kinds (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    const Spec lower[] = {
        { 'd', "a/", NULL, 0 }, { 'f', "a/x", "x", 0 }, { 'f', "b", "b", 0 }, { 'l', "c", "b", 0 }
    };
    const Spec upper[] = { { 'f', "a", "now a file", 0 },
                           { 'd', "b/", NULL, 0 },
                           { 'f', "c", "now a file", 0 } };

    APPLY_OK (fx, COMPRESS_NONE, lower, NULL);
    APPLY_OK (fx, COMPRESS_NONE, upper, NULL);
    g_autofree char *tree = tree_of (fx->root);
    g_assert_cmpstr (tree, ==, "f a\nd b\nf c");
    assert_contents (fx->root, "c", "now a file");
}

static gboolean
writes_zstd (void)
{
    struct archive *out = archive_write_new ();
    gboolean ok = archive_write_add_filter_zstd (out) == ARCHIVE_OK;

    archive_write_free (out);
    return ok;
}

/* A layer with one file of @size zero bytes at @path, compressed with zstd
 * (gzip where zstd is missing): a few kilobytes that unpack to @size. */
static char *
write_bomb (Fixture *fx, const char *path, gsize size)
{
    struct archive *out = archive_write_new ();
    char *layer = g_strdup_printf ("%s/layer%u.tar", fx->base, fx->layers++);
    g_autofree char *zeros = g_malloc0 (1 << 20);

    g_assert_cmpint (archive_write_set_format_pax_restricted (out), ==, ARCHIVE_OK);
    if (writes_zstd ())
        g_assert_cmpint (archive_write_add_filter_zstd (out), ==, ARCHIVE_OK);
    else
        g_assert_cmpint (archive_write_add_filter_gzip (out), ==, ARCHIVE_OK);
    g_assert_cmpint (archive_write_open_filename (out, layer), ==, ARCHIVE_OK);
    struct archive_entry *entry = archive_entry_new ();
    archive_entry_set_pathname (entry, path);
    archive_entry_set_filetype (entry, AE_IFREG);
    archive_entry_set_perm (entry, 0644);
    archive_entry_set_size (entry, (la_int64_t) size);
    g_assert_cmpint (archive_write_header (out, entry), ==, ARCHIVE_OK);
    for (gsize done = 0; done < size; done += 1 << 20)
        g_assert_cmpint (archive_write_data (out, zeros, MIN (size - done, (gsize) 1 << 20)), >, 0);
    archive_entry_free (entry);
    g_assert_cmpint (archive_write_close (out), ==, ARCHIVE_OK);
    archive_write_free (out);
    return layer;
}

static gboolean
apply_limited (Fixture *fx, const char *layer, const BlLayerLimits *limits, BlLayerStats *totals,
               GError **error)
{
    int fd = open (layer, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint (fd, >=, 0);
    gboolean ok = bl_layer_apply_limited (fd, fx->root, limits, totals, NULL, error);
    close (fd);
    return ok;
}

/* A small compressed layer that would unpack to 64 MiB is refused under an
 * 8 MiB limit before its file is created; one under the limit applies. */
static void
test_bytes_limit (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    g_autoptr (GError) error = NULL;
    const BlLayerLimits limits = { 8 << 20, 1000 };
    BlLayerStats totals = { 0 };
    g_autofree char *bomb = write_bomb (fx, "bomb", 64 << 20);
    g_autofree char *small = write_bomb (fx, "small", 5 << 20);
    g_autofree char *second = write_bomb (fx, "second", 5 << 20);
    g_autofree char *bomb_path = g_build_filename (fx->root, "bomb", NULL);
    GStatBuf st;

    g_assert_cmpint (g_stat (bomb, &st), ==, 0);
    g_assert_cmpint (st.st_size, <, 1 << 20);
    g_assert_false (apply_limited (fx, bomb, &limits, &totals, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    g_assert_nonnull (strstr (error->message, "unpacks to more than 8388608 bytes"));
    g_assert_false (g_file_test (bomb_path, G_FILE_TEST_EXISTS));
    g_clear_error (&error);

    /* The limit is the image's, over its layers: 5 MiB fits, 5 more do not. */
    totals = (BlLayerStats){ 0 };
    g_assert_true (apply_limited (fx, small, &limits, &totals, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (totals.bytes, ==, 5 << 20);
    g_assert_false (apply_limited (fx, second, &limits, &totals, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
}

/* Entries are counted over the image's layers too. */
static void
test_entries_limit (Fixture *fx, gconstpointer data G_GNUC_UNUSED)
{
    g_autoptr (GError) error = NULL;
    const BlLayerLimits limits = { 1 << 20, 10 };
    BlLayerStats totals = { 0 };
    const Spec first[] = { { 'd', "a" },        { 'f', "a/1", "x" }, { 'f', "a/2", "x" },
                           { 'f', "a/3", "x" }, { 'f', "a/4", "x" }, { 'f', "a/5", "x" } };
    const Spec again[] = { { 'd', "b" },        { 'f', "b/1", "x" }, { 'f', "b/2", "x" },
                           { 'f', "b/3", "x" }, { 'f', "b/4", "x" }, { 'f', "b/5", "x" } };
    g_autofree char *one = write_layer (fx, COMPRESS_NONE, first, G_N_ELEMENTS (first));
    g_autofree char *two = write_layer (fx, COMPRESS_NONE, again, G_N_ELEMENTS (again));

    g_assert_true (apply_limited (fx, one, &limits, &totals, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (totals.entries, ==, 6);
    g_assert_false (apply_limited (fx, two, &limits, &totals, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    g_assert_nonnull (strstr (error->message, "more than 10 entries"));
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);

#define ADD(name, data, func)                                                                      \
    g_test_add ("/layer/" name, Fixture, data, fixture_set_up, func, fixture_tear_down)
    ADD ("three-layers/plain", GINT_TO_POINTER (COMPRESS_NONE), test_three_layers);
    ADD ("three-layers/gzip", GINT_TO_POINTER (COMPRESS_GZIP), test_three_layers);
    if (writes_zstd ())
        ADD ("three-layers/zstd", GINT_TO_POINTER (COMPRESS_ZSTD), test_three_layers);
    ADD ("links-and-modes", NULL, test_links_and_modes);
    ADD ("owner", NULL, test_owner);
    ADD ("replace-kinds", NULL, test_replace_kinds);
    ADD ("whiteout-same-layer", NULL, test_whiteout_same_layer);
    ADD ("reject/dotdot", NULL, test_dotdot_rejected);
    ADD ("reject/symlink-escape", NULL, test_symlink_escape_rejected);
    ADD ("symlinked-parent-followed", NULL, test_symlinked_parent_followed);
    ADD ("mutated-archives", NULL, test_mutated_archives);
    ADD ("reject/hardlink-escape", NULL, test_hardlink_escape_rejected);
    ADD ("reject/long-name", NULL, test_long_name_rejected);
    ADD ("reject/truncated-gzip", NULL, test_truncated_gzip);
    ADD ("reject/not-an-archive", NULL, test_not_an_archive);
    ADD ("cancelled", NULL, test_cancelled);
    ADD ("limit/bytes", NULL, test_bytes_limit);
    ADD ("limit/entries", NULL, test_entries_limit);
#undef ADD

    return g_test_run ();
}

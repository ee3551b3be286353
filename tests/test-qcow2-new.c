/* test-qcow2-new.c: the empty qcow2 boxlite writes itself, as QEMU's own
 * tools read it: `qemu-img check` finds it clean before and after writes,
 * `qemu-img info` reads its size, backing file and format, qemu-io reads
 * the backing file's bytes through it; sizes and names it cannot hold are
 * refused with nothing left behind. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include <boxlite/boxlite-error.h>
#include "qcow2-new.h"

static char *dir;

/* Runs @argv; its standard output, or the test fails if it did not exit 0. */
static char *
run (const char *const *argv)
{
    g_autofree char *out = NULL, *err = NULL;
    gint status = -1;
    g_autoptr (GError) error = NULL;

    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status,
                  &error);
    g_assert_no_error (error);
    if (!g_spawn_check_wait_status (status, NULL))
        g_error ("%s failed: %s%s", argv[0], out, err);
    return g_steal_pointer (&out);
}

static void
check_clean (const char *image)
{
    const char *const argv[] = { "qemu-img", "check", "-f", "qcow2", image, NULL };
    g_autofree char *out = run (argv);
    g_assert_nonnull (strstr (out, "No errors were found"));
}

static gboolean
qemu_io (const char *image, const char *command)
{
    const char *const argv[] = { "qemu-io", "-f", "qcow2", "-c", command, image, NULL };
    g_autofree char *out = run (argv);
    g_assert_nonnull (strstr (out, "bytes at offset"));
    return strstr (out, "failed") == NULL;
}

static JsonObject *
info (const char *image)
{
    const char *const argv[] = { "qemu-img", "info",          "-U",  "-f",
                                 "qcow2",    "--output=json", image, NULL };
    g_autofree char *out = run (argv);
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonParser) parser = json_parser_new ();
    json_parser_load_from_data (parser, out, -1, &error);
    g_assert_no_error (error);
    return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static char *
make_raw_base (const char *name, gsize size, guint8 pattern)
{
    char *path = g_build_filename (dir, name, NULL);
    g_autofree guint8 *bytes = g_malloc (size);
    memset (bytes, pattern, size);
    g_autoptr (GError) error = NULL;
    g_file_set_contents (path, (const char *) bytes, (gssize) size, &error);
    g_assert_no_error (error);
    return path;
}

static void
test_over_raw (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *base = make_raw_base ("base.raw", 4 << 20, 0x5a);
    g_autofree char *disk = g_build_filename (dir, "disk.qcow2", NULL);
    g_autofree char *base_copy = NULL;
    gsize base_len = 0;

    g_assert_true (bl_qcow2_new (disk, base, "raw", G_GUINT64_CONSTANT (10) << 30, &error));
    g_assert_no_error (error);
    check_clean (disk);

    g_autoptr (JsonObject) o = info (disk);
    g_assert_cmpstr (json_object_get_string_member (o, "format"), ==, "qcow2");
    g_assert_cmpint (json_object_get_int_member (o, "virtual-size"), ==,
                     G_GINT64_CONSTANT (10) << 30);
    g_assert_cmpint (json_object_get_int_member (o, "cluster-size"), ==, 65536);
    g_assert_cmpstr (json_object_get_string_member (o, "backing-filename"), ==, base);
    g_assert_cmpstr (json_object_get_string_member (o, "backing-filename-format"), ==, "raw");
    g_assert_false (json_object_get_boolean_member_with_default (o, "dirty-flag", FALSE));

    GStatBuf st;
    g_assert_cmpint (g_stat (disk, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 0777, ==, 0600);

    /* Reads fall through to the base, past its end they are zero; writes
     * stay in the overlay and the image stays consistent. */
    g_assert_true (qemu_io (disk, "read -P 0x5a 0 4M"));
    g_assert_true (qemu_io (disk, "read -P 0 4M 1M"));
    g_assert_true (qemu_io (disk, "write -P 0x11 1M 3M"));
    g_assert_true (qemu_io (disk, "write -P 0x22 9G 1M"));
    g_assert_true (qemu_io (disk, "read -P 0x5a 0 1M"));
    g_assert_true (qemu_io (disk, "read -P 0x11 1M 3M"));
    g_assert_true (qemu_io (disk, "read -P 0x22 9G 1M"));
    check_clean (disk);
    g_assert_true (g_file_get_contents (base, &base_copy, &base_len, NULL));
    g_assert_cmpuint (base_len, ==, 4 << 20);
    for (gsize i = 0; i < base_len; i++)
        g_assert_cmpint ((guint8) base_copy[i], ==, 0x5a);

    /* A layer over it: qcow2 over qcow2, reads through both. */
    g_autofree char *layer = g_build_filename (dir, "layer.qcow2", NULL);
    g_assert_true (bl_qcow2_new (layer, disk, "qcow2", G_GUINT64_CONSTANT (10) << 30, &error));
    check_clean (layer);
    g_assert_true (qemu_io (layer, "read -P 0x11 1M 3M"));
    g_assert_true (qemu_io (layer, "read -P 0x5a 0 1M"));
    g_autoptr (JsonObject) lo = info (layer);
    g_assert_cmpstr (json_object_get_string_member (lo, "backing-filename-format"), ==, "qcow2");

    g_unlink (layer);
    g_unlink (disk);
    g_unlink (base);
}

/* The L1 table grows with the size: several clusters of it, and the
 * largest size QEMU itself takes. */
static void
test_sizes (void)
{
    g_autofree char *base = make_raw_base ("small.raw", 4096, 1);
    const guint64 sizes[] = { 512, (G_GUINT64_CONSTANT (1) << 29) + 512,
                              G_GUINT64_CONSTANT (8) << 40, G_GUINT64_CONSTANT (64) << 40 };

    for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
        g_autoptr (GError) error = NULL;
        g_autofree char *disk = g_build_filename (dir, "sized.qcow2", NULL);
        g_assert_true (bl_qcow2_new (disk, base, "raw", sizes[i], &error));
        g_assert_no_error (error);
        check_clean (disk);
        g_autoptr (JsonObject) o = info (disk);
        g_assert_cmpuint ((guint64) json_object_get_int_member (o, "virtual-size"), ==, sizes[i]);
        g_autofree char *cmd =
            g_strdup_printf ("write -P 7 %" G_GUINT64_FORMAT " 512", sizes[i] - 512);
        g_assert_true (qemu_io (disk, cmd));
        check_clean (disk);
        g_unlink (disk);
    }
    g_unlink (base);
}

static void
assert_refused (const char *path, const char *backing, const char *format, guint64 size, gint code)
{
    g_autoptr (GError) error = NULL;
    g_assert_false (bl_qcow2_new (path, backing, format, size, &error));
    g_assert_nonnull (error);
    if (code >= 0)
        g_assert_error (error, BOXLITE_ERROR, code);
}

static void
test_refused (void)
{
    g_autofree char *disk = g_build_filename (dir, "refused.qcow2", NULL);
    g_autofree char *long_name = g_strnfill (1024, 'a');
    g_autofree char *ok_name = g_strnfill (1023, 'a');

    assert_refused (disk, "base", "raw", 0, BOXLITE_ERROR_INVALID_ARGUMENT);
    assert_refused (disk, "base", "raw", 1000, BOXLITE_ERROR_INVALID_ARGUMENT);
    assert_refused (disk, "base", "raw", G_MAXUINT64 - 511, BOXLITE_ERROR_INVALID_ARGUMENT);
    /* One L1 entry more than QEMU opens (32 MiB of L1 table). */
    assert_refused (disk, "base", "raw", (G_GUINT64_CONSTANT (1) << 51) + 512,
                    BOXLITE_ERROR_INVALID_ARGUMENT);
    assert_refused (disk, "", "raw", 512, BOXLITE_ERROR_INVALID_ARGUMENT);
    assert_refused (disk, long_name, "raw", 512, BOXLITE_ERROR_INVALID_ARGUMENT);
    assert_refused (disk, "base", "", 512, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_assert_false (g_file_test (disk, G_FILE_TEST_EXISTS));

    /* The longest name fits in the header's cluster. */
    g_autoptr (GError) error = NULL;
    g_assert_true (bl_qcow2_new (disk, ok_name, "raw", 512, &error));
    g_assert_no_error (error);
    g_autofree char *contents = NULL;
    gsize len = 0;
    g_assert_true (g_file_get_contents (disk, &contents, &len, NULL));
    g_assert_nonnull (memmem (contents, 65536, ok_name, 1023));

    /* An existing file, or a link planted where the disk goes, is not
     * written through. */
    assert_refused (disk, "base", "raw", 512, -1);
    g_autofree char *target = g_build_filename (dir, "target", NULL);
    g_autofree char *link = g_build_filename (dir, "link.qcow2", NULL);
    g_assert_cmpint (symlink (target, link), ==, 0);
    assert_refused (link, "base", "raw", 512, -1);
    g_assert_false (g_file_test (target, G_FILE_TEST_EXISTS));
    g_unlink (link);
    g_unlink (disk);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    dir = g_dir_make_tmp ("boxlite-qcow2-XXXXXX", NULL);
    g_test_add_func ("/qcow2-new/over-raw", test_over_raw);
    g_test_add_func ("/qcow2-new/sizes", test_sizes);
    g_test_add_func ("/qcow2-new/refused", test_refused);
    int rc = g_test_run ();
    g_rmdir (dir);
    g_free (dir);
    return rc;
}

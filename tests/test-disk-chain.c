/* test-disk-chain.c: snapshot layers of a box's disk without a VM: what
 * each file reads after create, remove and restore (checked with qemu-io),
 * states and names refused, and qcow2 headers that lie. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "box-record.h"
#include <boxlite/boxlite-error.h>
#include "disk.h"
#include "snapshot.h"

static char *boxes;

static char *
make_box (const char *id, BoxliteBoxState state)
{
    g_autoptr (GError) error = NULL;
    char *dir = g_build_filename (boxes, id, NULL);
    g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
    g_autoptr (JsonNode) options = json_node_new (JSON_NODE_NULL);
    g_autoptr (BlRecord) record = bl_record_new (id, id, options);
    record->state = state;
    bl_record_save (dir, record, &error);
    g_assert_no_error (error);

    g_autofree char *base = g_build_filename (boxes, "base.raw", NULL);
    g_autofree char *disk = g_build_filename (dir, "disk.qcow2", NULL);
    bl_disk_create_overlay (base, disk, 0, NULL, &error);
    g_assert_no_error (error);
    return dir;
}

/* Runs qemu-io @command on @image; FALSE when a pattern did not match (the
 * command itself must have run: a file qemu-io cannot open fails the test). */
static gboolean
qemu_io (const char *image, const char *command)
{
    const char *argv[] = { "qemu-io", "-f", "qcow2", "-c", command, image, NULL };
    g_autofree char *out = NULL, *err = NULL;
    gint status = -1;
    g_autoptr (GError) error = NULL;

    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status,
                  &error);
    g_assert_no_error (error);
    g_assert_nonnull (strstr (out, "bytes at offset"));
    return g_spawn_check_wait_status (status, NULL) && !strstr (out, "failed");
}

static gboolean
disk_reads (const char *dir, const char *command)
{
    g_autofree char *disk = g_build_filename (dir, "disk.qcow2", NULL);
    return qemu_io (disk, command);
}

static void
test_layers (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *dir = make_box ("a", BOXLITE_BOX_STATE_STOPPED);

    g_assert_true (disk_reads (dir, "write -P 1 0 1M"));
    bl_snapshot_create (dir, "s1", NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (disk_reads (dir, "write -P 2 0 1M"));
    bl_snapshot_create (dir, "s2", NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (disk_reads (dir, "write -P 3 1M 1M"));

    /* s1 goes; s2 and the disk keep what they read through it. */
    bl_snapshot_remove (boxes, dir, "s1", NULL, &error);
    g_assert_no_error (error);
    g_assert_true (disk_reads (dir, "read -P 2 0 1M"));
    g_assert_true (disk_reads (dir, "read -P 3 1M 1M"));
    g_auto (GStrv) names = bl_snapshot_list (dir, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (names), ==, 1);
    g_assert_cmpstr (names[0], ==, "s2");

    bl_snapshot_restore (dir, "s2", NULL, &error);
    g_assert_no_error (error);
    g_assert_true (disk_reads (dir, "read -P 2 0 1M"));
    g_assert_true (disk_reads (dir, "read -P 0 1M 1M"));
    g_assert_false (disk_reads (dir, "read -P 3 1M 1M"));

    /* A clone of the disk: both read it, neither sees the other's writes,
     * and the source cannot go while the clone reads its files. */
    g_autofree char *clone_dir = make_box ("b", BOXLITE_BOX_STATE_STOPPED);
    g_autofree char *clone_disk = g_build_filename (clone_dir, "disk.qcow2", NULL);
    /* As a new box's folder: no disk yet (a disk is never written over). */
    g_unlink (clone_disk);
    bl_snapshot_clone_disk (dir, NULL, clone_dir, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (disk_reads (clone_dir, "read -P 2 0 1M"));
    g_assert_true (disk_reads (clone_dir, "write -P 4 0 1M"));
    g_assert_true (disk_reads (dir, "read -P 2 0 1M"));
    g_assert_true (disk_reads (dir, "write -P 5 0 1M"));
    g_assert_true (disk_reads (clone_dir, "read -P 4 0 1M"));
    g_autofree char *who = bl_snapshot_find_clone (boxes, dir, NULL);
    g_assert_cmpstr (who, ==, "b (b)");
    g_assert_false (bl_snapshot_remove (boxes, dir, "s2", NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE);
    g_clear_error (&error);

    /* The clone gone, its frozen layer is merged into the source. */
    g_autofree char *frozen = bl_snapshot_frozen_for (clone_dir);
    g_assert_nonnull (frozen);
    g_assert_true (g_str_has_prefix (frozen, dir));
    const char *const rm[] = { "rm", "-rf", clone_dir, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
    bl_snapshot_drop_frozen (boxes, frozen);
    g_assert_false (g_file_test (frozen, G_FILE_TEST_EXISTS));
    g_assert_true (disk_reads (dir, "read -P 5 0 1M"));
    bl_snapshot_remove (boxes, dir, "s2", NULL, &error);
    g_assert_no_error (error);
    g_assert_true (disk_reads (dir, "read -P 5 0 1M"));
    g_assert_null (bl_snapshot_find_clone (boxes, dir, NULL));
}

static void
test_refused (void)
{
    static const char *const bad[] = {
        "", ".", "..", "../x", "a/b", ".clone-x", "-a", "a b", "x\n"
    };
    g_autoptr (GError) error = NULL;
    g_autofree char *dir = make_box ("live", BOXLITE_BOX_STATE_RUNNING);

    g_assert_false (bl_snapshot_create (dir, "s", NULL, NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE);
    g_clear_error (&error);
    g_assert_false (bl_snapshot_restore (dir, "s", NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND);
    g_clear_error (&error);
    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
        g_assert_false (bl_snapshot_name_valid (bad[i]));
        g_assert_false (bl_snapshot_create (dir, bad[i], NULL, NULL, &error));
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
        g_clear_error (&error);
    }
    g_autofree char *long_name = g_strnfill (65, 'a');
    g_assert_false (bl_snapshot_name_valid (long_name));
    long_name[64] = '\0';
    g_assert_true (bl_snapshot_name_valid (long_name));
    g_assert_true (bl_snapshot_name_valid ("v1.2_rc-3"));
}

/* A qcow2 header of @len bytes: the magic, then @offset and @size for the
 * backing file name, then @name at @offset. */
static char *
write_header (const char *file, guint64 offset, guint32 size, const char *name, gsize name_len)
{
    guint8 buf[4096] = { 0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3 };
    guint64 be_offset = GUINT64_TO_BE (offset);
    guint32 be_size = GUINT32_TO_BE (size);
    char *path = g_build_filename (boxes, file, NULL);

    memcpy (buf + 8, &be_offset, 8);
    memcpy (buf + 16, &be_size, 4);
    if (name && offset + name_len <= sizeof buf)
        memcpy (buf + offset, name, name_len);
    g_assert_true (g_file_set_contents (path, (const char *) buf, sizeof buf, NULL));
    return path;
}

static void
test_headers (void)
{
    g_autoptr (GError) error = NULL;

    g_autofree char *good = write_header ("good.qcow2", 512, 6, "/x/y.z", 6);
    g_autofree char *name = bl_disk_backing (good, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (name, ==, "/x/y.z");

    g_autofree char *none = write_header ("none.qcow2", 0, 0, NULL, 0);
    g_autofree char *empty = bl_disk_backing (none, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (empty, ==, "");

    const struct {
        guint64 offset;
        guint32 size;
        const char *name;
        gsize len;
    } lies[] = {
        { 512, 1024, "x", 1 },           /* longer than QEMU allows */
        { 8192, 4, "abcd", 4 },          /* past the end of the file */
        { G_MAXUINT64 - 2, 8, NULL, 0 }, /* wraps around */
        { 512, 5, "a\0b/c", 5 },         /* a NUL inside */
    };
    for (guint i = 0; i < G_N_ELEMENTS (lies); i++) {
        g_autofree char *path =
            write_header ("lie.qcow2", lies[i].offset, lies[i].size, lies[i].name, lies[i].len);
        g_autofree char *got = bl_disk_backing (path, &error);
        g_assert_null (got);
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED);
        g_clear_error (&error);
    }

    g_autofree char *raw = g_build_filename (boxes, "base.raw", NULL);
    g_assert_null (bl_disk_backing (raw, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED);
    g_clear_error (&error);
    g_autofree char *shortf = g_build_filename (boxes, "short.qcow2", NULL);
    g_assert_true (g_file_set_contents (shortf, "QFI\xfb", 4, NULL));
    g_assert_null (bl_disk_backing (shortf, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED);
    g_clear_error (&error);

    /* Two files naming each other: the walk of a box's chains ends. */
    g_autofree char *dir = g_build_filename (boxes, "loop", NULL);
    g_autofree char *snaps = g_build_filename (dir, "snapshots", NULL);
    g_assert_cmpint (g_mkdir_with_parents (snaps, 0700), ==, 0);
    g_autofree char *p = g_build_filename (snaps, "p.qcow2", NULL);
    g_autofree char *q = g_build_filename (snaps, "q.qcow2", NULL);
    g_autofree char *p_rel = g_build_filename ("loop", "snapshots", "p.qcow2", NULL);
    g_autofree char *q_rel = g_build_filename ("loop", "snapshots", "q.qcow2", NULL);
    g_autofree char *disk_rel = g_build_filename ("loop", "disk.qcow2", NULL);
    g_free (write_header (p_rel, 512, strlen (q), q, strlen (q)));
    g_free (write_header (q_rel, 512, strlen (p), p, strlen (p)));
    g_free (write_header (disk_rel, 512, strlen (p), p, strlen (p)));
    g_autofree char *other = g_build_filename (boxes, "other", NULL);
    g_assert_cmpint (g_mkdir (other, 0700), ==, 0);
    g_assert_null (bl_snapshot_find_clone (boxes, other, NULL));
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_autoptr (GError) error = NULL;
    boxes = g_dir_make_tmp ("boxlite-chain-XXXXXX", &error);
    g_assert_no_error (error);
    g_autofree char *base = g_build_filename (boxes, "base.raw", NULL);
    const char *argv_img[] = { "qemu-img", "create", "-q", "-f", "raw", base, "16M", NULL };
    gint status = -1;
    g_spawn_sync (NULL, (char **) argv_img, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                  &status, &error);
    g_assert_no_error (error);
    g_assert_true (g_spawn_check_wait_status (status, NULL));

    g_test_add_func ("/disk-chain/layers", test_layers);
    g_test_add_func ("/disk-chain/refused", test_refused);
    g_test_add_func ("/disk-chain/headers", test_headers);

    int ret = g_test_run ();
    const char *const rm[] = { "rm", "-rf", boxes, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
    g_free (boxes);
    return ret;
}

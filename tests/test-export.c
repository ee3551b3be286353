/* test-export.c: a box exported on one home and imported on another (real
 * boxes under TCG), and archives made to be refused.
 *
 * The hostile archives are written here with libarchive, each from a valid
 * one changed in one way; the valid one itself must import, so that a
 * refusal is the change's doing. Every refusal must leave the home as it
 * was: no box, no half-made directory, the image store untouched. */
#include <archive.h>
#include <archive_entry.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boxlite/boxlite.h>
#include "registry-fixture.h"
#include "test-util.h"

static char *base;   /* holds every home and file below */
static char *home_a; /* where the box is made and exported */
static char *home_b; /* where it is imported */
static BoxliteRuntime *runtime_a;
static BoxliteRuntime *runtime_b;
static char *archive_path; /* the real export, once /export/round-trip ran */

static BoxliteRuntime *
runtime_at (const char *home)
{
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (GError) error = NULL;

    boxlite_options_set_home_dir (options, home);
    BoxliteRuntime *runtime = boxlite_runtime_new (options, &error);
    g_assert_no_error (error);
    return runtime;
}

static char *
run_ok (BoxliteBox *box, const char *script)
{
    gint code = -1;
    char *out = run_simple (box, script, &code);
    g_assert_cmpint (code, ==, 0);
    return out;
}

/* ---- the round trip ---- */

static void
on_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
    *(GAsyncResult **) user_data = g_object_ref (result);
}

static void
test_round_trip (void)
{
    const char *env[] = { "EXPORT_TEST=kept", NULL };
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    g_autoptr (GError) error = NULL;

    boxlite_box_options_set_cpus (options, 2);
    boxlite_box_options_set_memory_mib (options, 384);
    boxlite_box_options_set_env (options, env);
    boxlite_box_options_set_working_dir (options, "/srv");
    boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
    g_autoptr (BoxliteBox) box =
        boxlite_runtime_create (runtime_a, options, "exported", NULL, &error);
    g_assert_no_error (error);
    boxlite_box_start (box, NULL, &error);
    g_assert_no_error (error);
    g_free (run_ok (box, "mkdir -p /srv && echo exported-content > /srv/marker && "
                         "head -c 8388608 /dev/urandom > /srv/random && sync"));
    g_autofree char *sum = run_ok (box, "sha256sum /srv/random | cut -d' ' -f1");
    g_assert_cmpuint (strlen (g_strstrip (sum)), ==, 64);

    /* A running box is refused, and no file is written. */
    archive_path = g_build_filename (base, "box.boxlite", NULL);
    g_assert_false (boxlite_box_export (box, archive_path, NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE);
    g_assert_nonnull (strstr (error->message, "stop it"));
    g_clear_error (&error);
    g_assert_false (g_file_test (archive_path, G_FILE_TEST_EXISTS));

    boxlite_box_stop (box, FALSE, NULL, &error);
    g_assert_no_error (error);
    GAsyncResult *exported = NULL;
    boxlite_box_export_async (box, archive_path, NULL, on_done, &exported);
    while (!exported)
        g_main_context_iteration (NULL, TRUE);
    g_assert_true (boxlite_box_export_finish (box, exported, &error));
    g_object_unref (exported);
    g_assert_no_error (error);
    g_assert_true (boxlite_is_box_archive (archive_path));
    g_assert_cmpuint (test_count_entries (base), ==, 3); /* the homes and the archive */

    g_autoptr (BoxliteBox) copy =
        boxlite_runtime_import_box (runtime_b, archive_path, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (boxlite_box_get_name (copy), ==, "exported");
    g_assert_cmpstr (boxlite_box_get_id (copy), !=, boxlite_box_get_id (box));
    BoxliteBoxOptions *got = boxlite_box_get_options (copy);
    g_assert_cmpuint (boxlite_box_options_get_cpus (got), ==, 2);
    g_assert_cmpuint (boxlite_box_options_get_memory_mib (got), ==, 384);
    g_assert_cmpstrv (boxlite_box_options_get_env (got), env);
    g_assert_cmpstr (boxlite_box_options_get_working_dir (got), ==, "/srv");

    /* Taken apart from the source: removing it must not matter. */
    g_assert_true (boxlite_runtime_remove (runtime_a, "exported", FALSE, &error));
    g_assert_no_error (error);
    boxlite_box_start (copy, NULL, &error);
    g_assert_no_error (error);
    g_autofree char *marker = run_ok (copy, "cat /srv/marker");
    g_assert_cmpstr (marker, ==, "exported-content\n");
    g_autofree char *copy_sum = run_ok (copy, "sha256sum /srv/random | cut -d' ' -f1");
    g_assert_cmpstr (g_strstrip (copy_sum), ==, sum);
    g_autofree char *pwd = run_ok (copy, "pwd; echo $EXPORT_TEST");
    g_assert_cmpstr (pwd, ==, "/srv\nkept\n");
    boxlite_box_stop (copy, FALSE, NULL, &error);
    g_assert_no_error (error);

    /* The name is taken now; --name gives another. */
    g_autoptr (BoxliteBox) none =
        boxlite_runtime_import_box (runtime_b, archive_path, NULL, NULL, &error);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_EXISTS);
    g_assert_null (none);
    g_clear_error (&error);
    GAsyncResult *result = NULL;
    boxlite_runtime_import_box_async (runtime_b, archive_path, "second", NULL, on_done, &result);
    while (!result)
        g_main_context_iteration (NULL, TRUE);
    g_autoptr (BoxliteBox) second = boxlite_runtime_import_box_finish (runtime_b, result, &error);
    g_object_unref (result);
    g_assert_no_error (error);
    g_assert_cmpstr (boxlite_box_get_name (second), ==, "second");
    g_assert_true (boxlite_runtime_remove (runtime_b, "second", FALSE, &error));

    /* Each import is journalled on its home. */
    g_autofree char *journal_path = g_build_filename (home_b, "events.jsonl", NULL);
    g_autofree char *journal = NULL;
    g_file_get_contents (journal_path, &journal, NULL, &error);
    g_assert_no_error (error);
    guint imports = 0;
    for (const char *p = strstr (journal, "\"action\":\"import\""); p;
         p = strstr (p + 1, "\"action\":\"import\""))
        imports++;
    g_assert_cmpuint (imports, ==, 2);
}

/* ---- hostile archives ---- */

typedef struct {
    const char *name;
    GBytes *data;
    gint64 header_size; /* -1: the data's size */
    gboolean symlink;
} Member;

static GBytes *
read_bytes (const char *path)
{
    char *data = NULL;
    gsize len = 0;
    g_autoptr (GError) error = NULL;

    g_file_get_contents (path, &data, &len, &error);
    g_assert_no_error (error);
    return g_bytes_new_take (data, len);
}

static char *
sum_of (GBytes *bytes)
{
    return g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
}

/* A manifest of @version listing @n members (name, size, sum); NULL sums
 * and negative sizes take the member's own. */
static GBytes *
manifest (gint version, const char *const *names, GBytes *const *datas, const gint64 *sizes,
          const char *const *sums, guint n)
{
    GString *s = g_string_new (NULL);

    g_string_append_printf (s, "{\"format\": \"boxlite-box\", \"version\": %d, \"members\": [",
                            version);
    for (guint i = 0; i < n; i++) {
        g_autofree char *own = sum_of (datas[i]);
        gint64 size = sizes && sizes[i] >= 0 ? sizes[i] : (gint64) g_bytes_get_size (datas[i]);
        g_string_append_printf (
            s, "%s{\"name\": \"%s\", \"size\": %" G_GINT64_FORMAT ", \"sha256\": \"%s\"}",
            i ? ", " : "", names[i], size, sums && sums[i] ? sums[i] : own);
    }
    g_string_append (s, "]}");
    return g_string_free_to_bytes (s);
}

static void
write_archive (const char *path, const Member *members, guint n)
{
    struct archive *a = archive_write_new ();

    g_assert_cmpint (archive_write_add_filter_zstd (a), ==, ARCHIVE_OK);
    g_assert_cmpint (archive_write_set_format_pax_restricted (a), ==, ARCHIVE_OK);
    g_assert_cmpint (archive_write_open_filename (a, path), ==, ARCHIVE_OK);
    for (guint i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new ();
        gsize len = 0;
        const void *data = g_bytes_get_data (members[i].data, &len);
        archive_entry_set_pathname (e, members[i].name);
        if (members[i].symlink) {
            archive_entry_set_filetype (e, AE_IFLNK);
            archive_entry_set_symlink (e, "/etc/passwd");
            archive_entry_set_size (e, 0);
            len = 0;
        } else {
            archive_entry_set_filetype (e, AE_IFREG);
            archive_entry_set_size (e, members[i].header_size >= 0 ? members[i].header_size
                                                                   : (la_int64_t) len);
        }
        archive_entry_set_perm (e, 0600);
        g_assert_cmpint (archive_write_header (a, e), ==, ARCHIVE_OK);
        if (len)
            archive_write_data (a, data, len);
        archive_entry_free (e);
    }
    g_assert_cmpint (archive_write_close (a), ==, ARCHIVE_OK);
    archive_write_free (a);
}

static GBytes *
make_qcow2 (const char *name, const char *extra_option, const char *size)
{
    g_autofree char *path = g_build_filename (base, name, NULL);
    g_autofree char *out = NULL, *err = NULL;
    gint status = -1;
    g_autoptr (GError) error = NULL;
    const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-u",
                           path,       size,     NULL, NULL, NULL };
    if (extra_option) {
        argv[6] = "-o";
        argv[7] = extra_option;
        argv[8] = path;
        argv[9] = size;
    }
    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status,
                  &error);
    g_assert_no_error (error);
    if (status != 0)
        g_error ("qemu-img create: %s", err);
    GBytes *bytes = read_bytes (path);
    g_unlink (path);
    return bytes;
}

static GBytes *
text (const char *s)
{
    return g_bytes_new (s, strlen (s));
}

/* The regular files under @dir other than locks (a pull that fails still
 * creates the store's lock files), each as "path size". */
static void
store_files (const char *dir, GString *out)
{
    g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
    const char *name;

    while (d && (name = g_dir_read_name (d))) {
        g_autofree char *path = g_build_filename (dir, name, NULL);
        GStatBuf st;
        if (g_lstat (path, &st) < 0)
            continue;
        if (S_ISDIR (st.st_mode))
            store_files (path, out);
        else if (!g_str_has_suffix (name, ".lock"))
            g_string_append_printf (out, "%s %ld\n", path, (long) st.st_size);
    }
}

/* What a refusal must leave as it was. */
typedef struct {
    guint home_entries;
    guint boxes;
    char *image_files;
} HomeState;

static void
home_state (const char *home, HomeState *state)
{
    g_autofree char *boxes = g_build_filename (home, "boxes", NULL);
    g_autofree char *images = g_build_filename (home, "images", NULL);

    state->home_entries = test_count_entries (home);
    state->boxes = test_count_entries (boxes);
    GString *files = g_string_new (NULL);
    store_files (images, files);
    g_free (state->image_files);
    state->image_files = g_string_free (files, FALSE);
}

#define GOOD_RECORD "{\"name\": \"hostile\", \"options\": {\"cpus\": 1}}"

typedef enum {
    CASE_VALID,
    CASE_TRAVERSAL_MEMBER,
    CASE_ABSOLUTE_MEMBER,
    CASE_TRAVERSAL_IN_MANIFEST,
    CASE_HUGE_IN_MANIFEST,
    CASE_LONGER_THAN_MANIFEST,
    CASE_WRONG_DISK_SUM,
    CASE_WRONG_RECORD_SUM,
    CASE_TRUNCATED,
    CASE_UNKNOWN_VERSION,
    CASE_EXTRA_MEMBER,
    CASE_MISSING_MEMBER,
    CASE_MANIFEST_NOT_FIRST,
    CASE_SYMLINK_DISK,
    CASE_BACKING_FILE,
    CASE_DATA_FILE,
    CASE_RAW_DISK,
    CASE_VOLUMES,
    CASE_BAD_NAME,
    CASE_IMAGE_UNAVAILABLE,
    CASE_NOT_JSON,
    CASE_HUGE_VIRTUAL_SIZE,
    N_CASES,
} Case;

static const char *const case_names[N_CASES] = {
    "valid",
    "traversal-member",
    "absolute-member",
    "traversal-in-manifest",
    "huge",
    "longer",
    "wrong-disk-sum",
    "wrong-record-sum",
    "truncated",
    "unknown-version",
    "extra-member",
    "missing-member",
    "manifest-second",
    "symlink-disk",
    "backing-file",
    "data-file",
    "raw-disk",
    "volumes",
    "bad-name",
    "image-unavailable",
    "record-not-json",
    "huge-virtual-size",
};

/* Writes the archive of case @c to @path. */
static void
build_case (Case c, const char *path)
{
    g_autoptr (GBytes) disk = NULL;
    g_autoptr (GBytes) record = NULL;
    g_autoptr (GBytes) extra = text ("escaped\n");

    if (c == CASE_BACKING_FILE)
        disk = make_qcow2 ("evil.qcow2", "backing_file=/etc/passwd,backing_fmt=raw", "64M");
    else if (c == CASE_DATA_FILE) {
        g_autofree char *target = g_build_filename (base, "data-target", NULL);
        g_autofree char *option = g_strdup_printf ("data_file=%s", target);
        g_file_set_contents (target, "", 0, NULL);
        disk = make_qcow2 ("evil.qcow2", option, "64M");
    } else if (c == CASE_HUGE_VIRTUAL_SIZE)
        disk = make_qcow2 ("huge.qcow2", NULL, "2T");
    else if (c == CASE_RAW_DISK)
        disk = g_bytes_new_take (g_malloc0 (1 << 20), 1 << 20);
    else
        disk = make_qcow2 ("small.qcow2", NULL, "64M");
    if (c == CASE_VOLUMES)
        record = text ("{\"name\": \"hostile\", \"options\": {\"volumes\": [\"/:/host\"]}}");
    else if (c == CASE_BAD_NAME)
        record = text ("{\"name\": \"../../escape\", \"options\": {}}");
    else if (c == CASE_NOT_JSON)
        record = text ("not json {");
    else if (c == CASE_IMAGE_UNAVAILABLE)
        record = text ("{\"name\": \"hostile\", \"image\": \"127.0.0.1:9/nothing/here:1\", "
                       "\"image_id\": \"sha256:"
                       "1111111111111111111111111111111111111111111111111111111111111111\", "
                       "\"image_digest\": \"sha256:"
                       "2222222222222222222222222222222222222222222222222222222222222222\", "
                       "\"options\": {\"image\": \"127.0.0.1:9/nothing/here:1\"}}");
    else
        record = text (GOOD_RECORD);

    const char *names[] = { "box.json", "disk.qcow2" };
    GBytes *datas[] = { record, disk };
    gint64 sizes[] = { -1, -1 };
    const char *sums[] = { NULL, NULL };
    gint version = 1;
    if (c == CASE_TRAVERSAL_IN_MANIFEST)
        names[1] = "../disk.qcow2";
    if (c == CASE_HUGE_IN_MANIFEST)
        sizes[1] = G_GINT64_CONSTANT (1) << 42;
    if (c == CASE_LONGER_THAN_MANIFEST)
        sizes[1] = (gint64) g_bytes_get_size (disk) - 512;
    if (c == CASE_WRONG_DISK_SUM)
        sums[1] = "00000000000000000000000000000000000000000000000000000000000000ff";
    if (c == CASE_WRONG_RECORD_SUM)
        sums[0] = "00000000000000000000000000000000000000000000000000000000000000ff";
    if (c == CASE_UNKNOWN_VERSION)
        version = 2;
    g_autoptr (GBytes) man = manifest (version, names, datas, sizes, sums, 2);

    Member members[5] = {
        { "manifest.json", man, -1, FALSE },
        { "box.json", record, -1, FALSE },
        { names[1], disk, -1, FALSE },
    };
    guint n = 3;
    /* A listed member's bytes under a name that climbs out, where a
     * careless reader would write them. */
    if (c == CASE_TRAVERSAL_MEMBER)
        members[2].name = "../escaped";
    if (c == CASE_ABSOLUTE_MEMBER || c == CASE_EXTRA_MEMBER)
        members[n++] =
            (Member){ c == CASE_ABSOLUTE_MEMBER ? "/tmp/boxlite-export-escaped" : "notes.txt",
                      extra, -1, FALSE };
    if (c == CASE_MISSING_MEMBER)
        n = 2;
    if (c == CASE_MANIFEST_NOT_FIRST) {
        members[0] = (Member){ "box.json", record, -1, FALSE };
        members[1] = (Member){ "manifest.json", man, -1, FALSE };
    }
    if (c == CASE_SYMLINK_DISK)
        members[2].symlink = TRUE;
    write_archive (path, members, n);
    if (c == CASE_TRUNCATED) {
        g_autoptr (GBytes) whole = read_bytes (path);
        g_assert_true (g_file_set_contents (path, g_bytes_get_data (whole, NULL),
                                            (gssize) g_bytes_get_size (whole) / 2, NULL));
    }
}

static void
test_hostile (void)
{
    g_autofree char *home = g_build_filename (base, "home-hostile", NULL);
    g_autoptr (BoxliteRuntime) runtime = runtime_at (home);
    g_autofree char *parent_of_home = g_path_get_dirname (home);
    HomeState before = { 0 }, after = { 0 };

    home_state (home, &before);
    for (Case c = 0; c < N_CASES; c++) {
        g_autofree char *path = g_strdup_printf ("%s/%s.boxlite", base, case_names[c]);
        g_autoptr (GError) error = NULL;
        build_case (c, path);
        g_assert_true (boxlite_is_box_archive (path) || c == CASE_MANIFEST_NOT_FIRST ||
                       c == CASE_TRUNCATED);
        g_autoptr (BoxliteBox) box = boxlite_runtime_import_box (runtime, path, NULL, NULL, &error);
        if (c == CASE_VALID) {
            /* The builder makes archives the reader takes. */
            g_assert_no_error (error);
            g_assert_true (boxlite_runtime_remove (runtime, "hostile", FALSE, &error));
            g_assert_no_error (error);
            home_state (home, &before);
            continue;
        }
        g_test_message ("%s: %s", case_names[c], error ? error->message : "(imported)");
        g_assert_nonnull (error);
        g_assert_null (box);
        home_state (home, &after);
        g_assert_cmpuint (after.home_entries, ==, before.home_entries);
        g_assert_cmpuint (after.boxes, ==, before.boxes);
        g_assert_cmpstr (after.image_files, ==, before.image_files);
        g_autofree char *escaped = g_build_filename (parent_of_home, "escaped", NULL);
        g_assert_false (g_file_test (escaped, G_FILE_TEST_EXISTS));
        g_assert_false (g_file_test ("/tmp/boxlite-export-escaped", G_FILE_TEST_EXISTS));
        g_unlink (path);
    }
    g_free (before.image_files);
    g_free (after.image_files);
    /* What each refusal says, for the ones a user meets most. */
    g_autofree char *path = g_build_filename (base, "again.boxlite", NULL);
    const struct {
        Case c;
        const char *says;
    } says[] = {
        { CASE_UNKNOWN_VERSION, "unknown format version" },
        { CASE_WRONG_DISK_SUM, "does not match its sha256" },
        { CASE_BACKING_FILE, "outside itself" },
        { CASE_IMAGE_UNAVAILABLE, "cannot pull" },
        { CASE_HUGE_IN_MANIFEST, "allowed" },
    };
    for (guint i = 0; i < G_N_ELEMENTS (says); i++) {
        g_autoptr (GError) error = NULL;
        build_case (says[i].c, path);
        g_assert_null (boxlite_runtime_import_box (runtime, path, NULL, NULL, &error));
        g_assert_nonnull (error);
        if (!strstr (error->message, says[i].says))
            g_error ("%s: '%s' lacks '%s'", case_names[says[i].c], error->message, says[i].says);
    }
}

/* ---- the command line ---- */

static gint
cli (const char *home, const char *const *args, char **out, char **err)
{
    const char *binary = g_getenv ("BOXLITE_CLI");
    g_autoptr (GPtrArray) argv = g_ptr_array_new ();
    gint status = -1;
    g_autoptr (GError) error = NULL;

    g_assert_nonnull (binary);
    g_ptr_array_add (argv, (gpointer) binary);
    g_ptr_array_add (argv, (gpointer) "--home");
    g_ptr_array_add (argv, (gpointer) home);
    for (guint i = 0; args[i]; i++)
        g_ptr_array_add (argv, (gpointer) args[i]);
    g_ptr_array_add (argv, NULL);
    g_spawn_sync (NULL, (char **) argv->pdata, NULL, 0, NULL, NULL, out, err, &status, &error);
    g_assert_no_error (error);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static void
test_cli (void)
{
    g_autofree char *home = g_build_filename (base, "home-cli", NULL);
    g_autofree char *other = g_build_filename (base, "home-cli-other", NULL);
    g_autofree char *path = g_build_filename (base, "cli.boxlite", NULL);
    g_autofree char *out = NULL, *err = NULL;

    const char *create[] = {
        "create", "--name", "clibox", "--network", "none", "-e", "CLI=1", NULL
    };
    g_assert_cmpint (cli (home, create, &out, &err), ==, 0);
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    const char *start[] = { "start", "clibox", NULL };
    g_assert_cmpint (cli (home, start, &out, &err), ==, 0);
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    const char *export[] = { "export", "clibox", "-o", path, NULL };
    g_assert_cmpint (cli (home, export, &out, &err), ==, 125);
    g_assert_nonnull (strstr (err, "is running; stop it before exporting it"));
    g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    const char *stop[] = { "stop", "clibox", NULL };
    g_assert_cmpint (cli (home, stop, &out, &err), ==, 0);
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (cli (home, export, &out, &err), ==, 0);
    g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    const char *no_output[] = { "export", "clibox", NULL };
    g_assert_cmpint (cli (home, no_output, &out, &err), ==, 125);
    g_assert_nonnull (strstr (err, "-o FILE"));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    const char *import[] = { "import", "--name", "arrived", path, NULL };
    g_assert_cmpint (cli (other, import, &out, &err), ==, 0);
    g_assert_cmpuint (strlen (g_strstrip (out)), ==, 32);
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    const char *inspect[] = { "inspect", "arrived", NULL };
    g_assert_cmpint (cli (other, inspect, &out, &err), ==, 0);
    g_assert_nonnull (strstr (out, "CLI=1"));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    /* A damaged box archive is refused as one, not tried as an image. */
    g_autofree char *bad = g_build_filename (base, "cli-bad.boxlite", NULL);
    build_case (CASE_WRONG_DISK_SUM, bad);
    const char *import_bad[] = { "import", bad, NULL };
    g_assert_cmpint (cli (other, import_bad, &out, &err), ==, 125);
    g_assert_nonnull (strstr (err, "not a valid box archive"));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    /* Anything else still goes to the image import. */
    g_autofree char *not_box = g_build_filename (base, "not-a-box.tar", NULL);
    g_file_set_contents (not_box, "plain bytes", -1, NULL);
    const char *import_other[] = { "import", not_box, NULL };
    g_assert_cmpint (cli (other, import_other, &out, &err), ==, 125);
    g_assert_null (strstr (err, "box archive"));
}

/* ---- the pull on import ---- */

/* The digests of the images in @runtime's store, joined by spaces. */
static char *
image_digests (BoxliteRuntime *runtime)
{
    g_autoptr (GError) error = NULL;
    GList *images = boxlite_runtime_list_images (runtime, &error);
    GString *digests = g_string_new (NULL);

    g_assert_no_error (error);
    for (GList *l = images; l; l = l->next)
        g_string_append_printf (digests, "%s%s", digests->len ? " " : "",
                                boxlite_image_get_digest (l->data));
    g_list_free_full (images, g_object_unref);
    return g_string_free (digests, FALSE);
}

/* A home that lacks the box's image, which a real registry on loopback
 * has: the import pulls it (by the digest the archive pins), and the box
 * boots with its files. */
static void
test_import_pulls (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BlTestRegistry) registry = bl_test_registry_start (&error);
    g_assert_no_error (error);
    g_autofree char *layout = g_build_filename (base, "layout", NULL);
    g_autofree char *digest = bl_test_make_layout (layout, "simple", NULL, &error);
    g_assert_no_error (error);
    bl_test_registry_push (registry, layout, "tools/simple:latest", &error);
    g_assert_no_error (error);
    g_autofree char *ref = g_strdup_printf ("%s/tools/simple:latest", registry->host);
    g_autofree char *home_c = g_build_filename (base, "home-c", NULL);
    g_autofree char *home_d = g_build_filename (base, "home-d", NULL);
    g_autoptr (BoxliteRuntime) runtime_c = runtime_at (home_c);
    g_autoptr (BoxliteRuntime) runtime_d = runtime_at (home_d);

    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    boxlite_box_options_set_image (options, ref);
    boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
    g_autoptr (BoxliteBox) box =
        boxlite_runtime_create (runtime_c, options, "pulled", NULL, &error);
    g_assert_no_error (error);
    boxlite_box_start (box, NULL, &error);
    g_assert_no_error (error);
    g_free (run_ok (box, "echo written-in-c > /marker && sync"));
    boxlite_box_stop (box, FALSE, NULL, &error);
    g_assert_no_error (error);
    g_autofree char *archive = g_build_filename (base, "pulled.boxlite", NULL);
    g_assert_true (boxlite_box_export (box, archive, NULL, &error));
    g_assert_no_error (error);

    g_autofree char *none = image_digests (runtime_d);
    g_assert_cmpstr (none, ==, "");
    g_autoptr (BoxliteBox) copy =
        boxlite_runtime_import_box (runtime_d, archive, NULL, NULL, &error);
    g_assert_no_error (error);
    g_autofree char *pulled = image_digests (runtime_d);
    g_assert_cmpstr (pulled, ==, digest);

    boxlite_box_start (copy, NULL, &error);
    g_assert_no_error (error);
    g_autofree char *marker = run_ok (copy, "cat /marker");
    g_assert_cmpstr (marker, ==, "written-in-c\n");
    g_autofree char *hello = run_ok (copy, "cat /hello.txt");
    g_assert_cmpstr (hello, ==, "hello from simple\n");
    boxlite_box_stop (copy, FALSE, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (boxlite_runtime_remove (runtime_d, "pulled", FALSE, &error));
    g_assert_true (boxlite_runtime_remove (runtime_c, "pulled", FALSE, &error));
    g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
    g_autoptr (GError) error = NULL;

    g_test_init (&argc, &argv, NULL);
    base = g_dir_make_tmp ("boxlite-export-XXXXXX", &error);
    g_assert_no_error (error);
    home_a = g_build_filename (base, "home-a", NULL);
    home_b = g_build_filename (base, "home-b", NULL);
    runtime_a = runtime_at (home_a);
    runtime_b = runtime_at (home_b);

    g_test_add_func ("/export/round-trip", test_round_trip);
    g_test_add_func ("/export/hostile", test_hostile);
    g_test_add_func ("/export/cli", test_cli);
    g_test_add_func ("/export/import-pulls", test_import_pulls);

    int ret = g_test_run ();
    g_clear_object (&runtime_a);
    g_clear_object (&runtime_b);
    const char *const rm[] = { "rm", "-rf", base, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
    g_free (archive_path);
    g_free (home_a);
    g_free (home_b);
    g_free (base);
    return ret;
}

/* test-image.c: the image store with real layouts (make-layout.py), real
 * skopeo archives, real boxes booted from the images, and a real registry
 * on loopback. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/mount.h>
#include <unistd.h>
#include <json-glib/json-glib.h>
#include <sys/file.h>
#include <unistd.h>

#include <boxlite/boxlite.h>
#include "disk.h"
#include "image-config.h"
#include "registry-fixture.h"
#include "test-util.h"

typedef struct {
    char *home;
    char *scratch;
    BoxliteRuntime *runtime;
} Fixture;

static void
fixture_set_up (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (GError) error = NULL;

    f->home = g_dir_make_tmp ("boxlite-image-XXXXXX", &error);
    g_assert_no_error (error);
    f->scratch = g_dir_make_tmp ("boxlite-image-src-XXXXXX", &error);
    g_assert_no_error (error);
    boxlite_options_set_home_dir (options, f->home);
    f->runtime = boxlite_runtime_new (options, &error);
    g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, G_GNUC_UNUSED gconstpointer data)
{
    g_autoptr (GList) boxes = boxlite_runtime_list (f->runtime, NULL);

    for (GList *l = boxes; l; l = l->next) {
        boxlite_runtime_remove (f->runtime, boxlite_box_get_id (l->data), TRUE, NULL);
        g_object_unref (l->data);
    }
    g_clear_object (&f->runtime);
    bl_test_rm_rf (f->home);
    bl_test_rm_rf (f->scratch);
    g_free (f->home);
    g_free (f->scratch);
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
    *(GAsyncResult **) user_data = g_object_ref (result);
}

/* Runs this thread's main context until *@result is set. */
static GAsyncResult *
wait_result (GAsyncResult **result)
{
    while (!*result)
        g_main_context_iteration (NULL, TRUE);
    return *result;
}

/* Writes the layout @preset under the scratch dir; returns its path. */
static char *
make_layout (Fixture *f, const char *preset, const char *const *extra)
{
    g_autofree char *dir = g_build_filename (f->scratch, preset, NULL);
    g_autoptr (GError) error = NULL;
    g_autofree char *digest = bl_test_make_layout (dir, preset, extra, &error);

    g_assert_no_error (error);
    g_assert_nonnull (digest);
    return g_steal_pointer (&dir);
}

static BoxliteImage *
import (Fixture *f, const char *preset, const char *reference)
{
    g_autofree char *dir = make_layout (f, preset, NULL);
    g_autoptr (GError) error = NULL;
    BoxliteImage *image = boxlite_runtime_import_image (f->runtime, dir, reference, NULL, &error);

    g_assert_no_error (error);
    return image;
}

static BoxliteBox *
start_box (Fixture *f, const char *image, const char *const *env)
{
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    g_autoptr (GError) error = NULL;

    boxlite_box_options_set_image (options, image);
    boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
    boxlite_box_options_set_env (options, env);
    BoxliteBox *box = boxlite_runtime_create (f->runtime, options, NULL, NULL, &error);
    g_assert_no_error (error);
    boxlite_box_start (box, NULL, &error);
    g_assert_no_error (error);
    return box;
}

/* Files in @dir (not recursive), as a count; 0 when it does not exist. */
static guint
count_entries (const char *dir)
{
    g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
    guint n = 0;

    while (d && g_dir_read_name (d))
        n++;
    return n;
}

static char *
store_path (Fixture *f, const char *what)
{
    return g_build_filename (f->home, "images", what, NULL);
}

static void
assert_store_empty (Fixture *f)
{
    g_autoptr (GList) images = boxlite_runtime_list_images (f->runtime, NULL);
    g_autofree char *blobs = store_path (f, "blobs/sha256");
    g_autofree char *rootfs = store_path (f, "rootfs");
    g_autofree char *disks = store_path (f, "disks");

    g_assert_null (images);
    g_assert_cmpuint (count_entries (blobs), ==, 0);
    g_assert_cmpuint (count_entries (rootfs), ==, 0);
    g_assert_cmpuint (count_entries (disks), ==, 0);
}

/* Host processes whose command line names @path (a disk tool at work). */
static guint
count_processes_naming (const char *path)
{
    g_autoptr (GDir) proc = g_dir_open ("/proc", 0, NULL);
    const char *entry;
    guint count = 0;

    while ((entry = g_dir_read_name (proc))) {
        g_autofree char *file = g_strdup_printf ("/proc/%s/cmdline", entry);
        g_autofree char *cmdline = NULL;
        gsize len = 0;

        if (!g_ascii_isdigit (entry[0]) || !g_file_get_contents (file, &cmdline, &len, NULL))
            continue;
        for (gsize i = 0; i + 1 < len; i++)
            if (cmdline[i] == '\0')
                cmdline[i] = ' ';
        if (len && strstr (cmdline, path) && (gsize) atoi (entry) != (gsize) getpid ())
            count++;
    }
    return count;
}

static gboolean
strv_has (const char *const *strv, const char *item)
{
    return strv && g_strv_contains (strv, item);
}

static void
test_import_layout (Fixture *f, gconstpointer data)
{
    g_autoptr (BoxliteImage) image = import (f, "simple", "simple:1");
    g_autoptr (GError) error = NULL;

    g_assert_cmpstr (boxlite_image_get_reference (image), ==, "docker.io/library/simple:1");
    g_assert_true (g_str_has_prefix (boxlite_image_get_id (image), "sha256:"));
    g_assert_cmpuint (g_strv_length ((char **) boxlite_image_get_layers (image)), ==, 1);
    g_assert_true (strv_has (boxlite_image_get_env (image), "FOO=bar"));
    g_assert_cmpstr (boxlite_image_get_cmd (image)[0], ==, "sh");
    g_assert_cmpuint (boxlite_image_get_size (image), >, 100000);

    g_autolist (BoxliteImage) images = boxlite_runtime_list_images (f->runtime, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_list_length (images), ==, 1);
    g_assert_cmpstr (boxlite_image_get_id (images->data), ==, boxlite_image_get_id (image));

    /* By short name, by id and by id prefix. */
    const char *id = boxlite_image_get_id (image);
    g_autofree char *prefix = g_strndup (id + 7, 12);
    const char *names[] = { "simple:1", "docker.io/library/simple:1", id, prefix };
    for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
        g_autoptr (BoxliteImage) found =
            boxlite_runtime_inspect_image (f->runtime, names[i], &error);
        g_assert_no_error (error);
        g_assert_cmpstr (boxlite_image_get_digest (found), ==, boxlite_image_get_digest (image));
    }
    /* By repository and manifest digest, whatever the tag. */
    g_autofree char *by_digest = g_strdup_printf ("simple@%s", boxlite_image_get_digest (image));
    g_autoptr (BoxliteImage) pinned = boxlite_runtime_inspect_image (f->runtime, by_digest, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (boxlite_image_get_id (pinned), ==, id);
    g_autofree char *other_repo = g_strdup_printf ("other@%s", boxlite_image_get_digest (image));
    g_autoptr (BoxliteImage) not_pinned =
        boxlite_runtime_inspect_image (f->runtime, other_repo, &error);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND);
    g_clear_error (&error);
    g_autoptr (BoxliteImage) missing =
        boxlite_runtime_inspect_image (f->runtime, "simple:2", &error);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND);

    g_autofree char *json = boxlite_image_to_json (image);
    g_autoptr (JsonNode) node = json_from_string (json, NULL);
    JsonObject *obj = json_node_get_object (node);
    g_assert_cmpstr (json_object_get_string_member (obj, "id"), ==, id);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (obj, "layers")), ==, 1);
    g_assert_true (
        json_object_has_member (json_object_get_object_member (obj, "config"), "rootfs"));

    /* One disk for the image, named by its id. */
    g_autofree char *disk_name = g_strdup_printf ("disks/%s.ext4", id + 7);
    g_autofree char *disk = store_path (f, disk_name);
    g_assert_true (g_file_test (disk, G_FILE_TEST_IS_REGULAR));
}

static void
skopeo_copy (const char *src, const char *dest)
{
    const char *argv[] = { "skopeo", "copy", "-q", src, dest, NULL };
    g_autoptr (GError) error = NULL;
    g_autoptr (GSubprocess) skopeo = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_NONE, &error);

    g_assert_no_error (error);
    g_subprocess_wait_check (skopeo, NULL, &error);
    g_assert_no_error (error);
}

static void
test_import_docker_archive (Fixture *f, gconstpointer data)
{
    g_autofree char *dir = make_layout (f, "simple", NULL);
    g_autofree char *tar = g_build_filename (f->scratch, "simple.tar", NULL);
    g_autofree char *src = g_strdup_printf ("oci:%s:latest", dir);
    g_autofree char *dest = g_strdup_printf ("docker-archive:%s:archived:v1", tar);
    g_autoptr (GError) error = NULL;

    skopeo_copy (src, dest);

    g_autoptr (BoxliteImage) image =
        boxlite_runtime_import_image (f->runtime, tar, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (boxlite_image_get_reference (image), ==, "docker.io/library/archived:v1");
    g_assert_true (strv_has (boxlite_image_get_env (image), "FOO=bar"));

    /* The same config makes the same image id as the layout it came from. */
    g_autoptr (BoxliteImage) same =
        boxlite_runtime_import_image (f->runtime, dir, "other:1", NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (boxlite_image_get_id (same), ==, boxlite_image_get_id (image));
    g_autofree char *disks = store_path (f, "disks");
    g_assert_cmpuint (count_entries (disks), ==, 1);

    /* The same layout packed as an oci-archive tarball. */
    g_autofree char *oci_tar = g_build_filename (f->scratch, "simple-oci.tar", NULL);
    g_autofree char *oci_dest = g_strdup_printf ("oci-archive:%s:latest", oci_tar);
    skopeo_copy (src, oci_dest);
    g_autoptr (BoxliteImage) from_oci_tar =
        boxlite_runtime_import_image (f->runtime, oci_tar, "ocitar:1", NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (boxlite_image_get_id (from_oci_tar), ==, boxlite_image_get_id (image));
    g_autofree char *blobs = store_path (f, "blobs");
    g_assert_cmpuint (count_entries (blobs), ==, 1); /* only sha256/: no scratch left */
}

static gboolean
cancel_now (gpointer cancellable)
{
    g_cancellable_cancel (cancellable);
    return G_SOURCE_REMOVE;
}

/* Imports cancelled from the main loop at several moments (the first before
 * it starts): each either completes or fails with CANCELLED leaving the
 * store empty and no tool running; an import afterwards works. */
static void
test_import_cancelled (Fixture *f, gconstpointer data)
{
    g_autofree char *dir = make_layout (f, "simple", NULL);
    const guint delays_ms[] = { 0, 5, 20, 60, 150 };
    guint cancelled = 0;

    for (guint i = 0; i < G_N_ELEMENTS (delays_ms); i++) {
        g_autoptr (GCancellable) cancellable = g_cancellable_new ();
        g_autoptr (GAsyncResult) result = NULL;
        g_autoptr (GError) error = NULL;

        if (delays_ms[i] == 0)
            g_cancellable_cancel (cancellable);
        else
            g_timeout_add (delays_ms[i], cancel_now, cancellable);
        boxlite_runtime_import_image_async (f->runtime, dir, "simple:1", cancellable, store_result,
                                            &result);
        g_autoptr (BoxliteImage) image =
            boxlite_runtime_import_image_finish (f->runtime, wait_result (&result), &error);
        /* A timeout that did not fire must not cancel the next round. */
        while (delays_ms[i] && !g_cancellable_is_cancelled (cancellable))
            g_main_context_iteration (NULL, TRUE);
        if (image) {
            g_test_message ("import cancelled after %u ms had finished", delays_ms[i]);
            break;
        }
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        cancelled++;
        assert_store_empty (f);
        g_assert_cmpuint (count_processes_naming (f->home), ==, 0);
    }
    g_assert_cmpuint (cancelled, >=, 1);
    g_autoptr (BoxliteImage) image = import (f, "simple", "simple:1");
    g_assert_nonnull (image);
}

/* An import waiting for the store's gc lock (a prune holds it) ends when
 * cancelled, instead of waiting for the prune. */
static void
test_import_cancelled_waiting (Fixture *f, gconstpointer data)
{
    g_autofree char *dir = make_layout (f, "simple", NULL);
    g_autofree char *lock_path = store_path (f, "gc.lock");
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();
    g_autoptr (GAsyncResult) result = NULL;
    g_autoptr (GError) error = NULL;
    int fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    g_assert_cmpint (fd, >=, 0);
    g_assert_cmpint (flock (fd, LOCK_EX), ==, 0);
    gint64 begin = g_get_monotonic_time ();
    boxlite_runtime_import_image_async (f->runtime, dir, "simple:1", cancellable, store_result,
                                        &result);
    g_timeout_add (300, cancel_now, cancellable);
    g_autoptr (BoxliteImage) image =
        boxlite_runtime_import_image_finish (f->runtime, wait_result (&result), &error);
    g_assert_null (image);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpint (g_get_monotonic_time () - begin, <, 2 * G_USEC_PER_SEC);
    close (fd);
    assert_store_empty (f);
}

/* Removing and pruning wait for the store's lock while a build or another
 * prune holds it: a cancellation ends that wait at once, and nothing is
 * removed. */
static void
test_remove_prune_cancelled_waiting (Fixture *f, gconstpointer data)
{
    g_autoptr (BoxliteImage) image = import (f, "simple", "simple:1");
    g_autofree char *lock_path = store_path (f, "gc.lock");
    g_autoptr (GError) error = NULL;
    int fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    g_assert_cmpint (fd, >=, 0);
    g_assert_cmpint (flock (fd, LOCK_EX), ==, 0);
    for (guint which = 0; which < 2; which++) {
        g_autoptr (GCancellable) cancellable = g_cancellable_new ();
        g_autoptr (GAsyncResult) result = NULL;
        gint64 begin = g_get_monotonic_time ();
        if (which == 0)
            boxlite_runtime_remove_image_async (f->runtime, "simple:1", FALSE, cancellable,
                                                store_result, &result);
        else
            boxlite_runtime_prune_images_async (f->runtime, cancellable, store_result, &result);
        g_timeout_add (300, cancel_now, cancellable);
        GAsyncResult *done = wait_result (&result);
        if (which == 0)
            g_assert_false (boxlite_runtime_remove_image_finish (f->runtime, done, &error));
        else
            g_assert_cmpint (boxlite_runtime_prune_images_finish (f->runtime, done, NULL, &error),
                             ==, -1);
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
        g_clear_error (&error);
        g_assert_cmpint (g_get_monotonic_time () - begin, <, 2 * G_USEC_PER_SEC);
    }
    close (fd);
    g_autoptr (BoxliteImage) still = boxlite_runtime_inspect_image (f->runtime, "simple:1", &error);
    g_assert_no_error (error);
    g_assert_nonnull (still);
}

/* An index of three platforms: the linux/amd64 one is the simple image. */
static void
test_import_multiplatform (Fixture *f, gconstpointer data)
{
    g_autoptr (BoxliteImage) simple = import (f, "simple", "simple:1");
    g_autoptr (BoxliteImage) multi = import (f, "multiplatform", "multi:1");

    g_assert_cmpstr (boxlite_image_get_id (multi), ==, boxlite_image_get_id (simple));
}

static const char *self_exe;

/* Two processes import one layout into one home at once: both succeed,
 * one of them builds the image, the other finds it built. */
static void
test_import_concurrent (Fixture *f, gconstpointer data)
{
    g_autofree char *dir = make_layout (f, "simple", NULL);
    GSubprocess *children[2];
    g_autoptr (GError) error = NULL;
    guint built = 0;

    for (guint i = 0; i < G_N_ELEMENTS (children); i++) {
        g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
            G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE);
        g_subprocess_launcher_setenv (launcher, "G_MESSAGES_DEBUG", "boxlite-image", TRUE);
        children[i] = g_subprocess_launcher_spawn (launcher, &error, self_exe, "--import-child",
                                                   f->home, dir, NULL);
        g_assert_no_error (error);
    }
    for (guint i = 0; i < G_N_ELEMENTS (children); i++) {
        g_autofree char *out = NULL;
        g_subprocess_communicate_utf8 (children[i], NULL, NULL, &out, NULL, &error);
        g_assert_no_error (error);
        g_assert_true (g_subprocess_get_successful (children[i]));
        if (strstr (out, "built image sha256:"))
            built++;
        g_object_unref (children[i]);
    }
    g_assert_cmpuint (built, ==, 1);
    g_autolist (BoxliteImage) images = boxlite_runtime_list_images (f->runtime, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_list_length (images), ==, 1);
    g_autofree char *disks = store_path (f, "disks");
    g_assert_cmpuint (count_entries (disks), ==, 1);
}

static int
import_child (const char *home, const char *layout)
{
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (GError) error = NULL;

    boxlite_options_set_home_dir (options, home);
    g_autoptr (BoxliteRuntime) runtime = boxlite_runtime_new (options, &error);
    g_autoptr (BoxliteImage) image =
        runtime ? boxlite_runtime_import_image (runtime, layout, "simple:1", NULL, &error) : NULL;
    if (!image) {
        g_printerr ("%s\n", error->message);
        return 1;
    }
    return 0;
}

static void
test_traversal_rejected (Fixture *f, gconstpointer data)
{
    g_autofree char *dir = make_layout (f, "traversal", NULL);
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteImage) image =
        boxlite_runtime_import_image (f->runtime, dir, "evil:1", NULL, &error);

    g_assert_null (image);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    g_test_message ("refused: %s", error->message);
    g_assert_nonnull (strstr (error->message, "layer 2"));
    g_assert_nonnull (strstr (error->message, "escape.txt"));
    assert_store_empty (f);
    g_autofree char *escaped = g_build_filename (f->home, "images", "escape.txt", NULL);
    g_assert_false (g_file_test (escaped, G_FILE_TEST_EXISTS));
}

/* Mounts a 2 MiB tmpfs on @dir: a disk that fills up. FALSE (the test
 * skipped) when this process may not mount. */
static gboolean
mount_small_disk (const char *dir)
{
    if (geteuid () != 0) {
        g_test_skip ("mounting a small tmpfs needs root");
        return FALSE;
    }
    g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
    if (mount ("tmpfs", dir, "tmpfs", 0, "size=2m,mode=0700") < 0) {
        g_test_skip_printf ("cannot mount a tmpfs on %s: %s", dir, g_strerror (errno));
        return FALSE;
    }
    return TRUE;
}

/* What an import that ran out of space must look like to its caller. */
static void
assert_no_space (GError *error)
{
    g_test_message ("full disk: %s", error ? error->message : "(no error)");
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
    g_assert_nonnull (strstr (error->message, "No space left on device"));
}

/* The whole store on a disk too small for the image's 8 MiB layer: the
 * blob cannot be written, and the error says so instead of blaming the
 * image. Nothing half-written stays in the store. */
static void
test_full_disk_store (Fixture *f, gconstpointer data)
{
    const char *const size[] = { "--size-mb", "8", "--layers", "1", NULL };
    g_autofree char *dir = make_layout (f, "big", size);
    g_autofree char *home = g_build_filename (f->scratch, "home", NULL);
    g_autofree char *images = g_build_filename (home, "images", NULL);
    g_autofree char *blobs = g_build_filename (images, "blobs", NULL);
    g_autofree char *sha = g_build_filename (blobs, "sha256", NULL);
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (GError) error = NULL;

    if (!mount_small_disk (images))
        return;
    boxlite_options_set_home_dir (options, home);
    BoxliteRuntime *runtime = boxlite_runtime_new (options, &error);
    BoxliteImage *image =
        runtime ? boxlite_runtime_import_image (runtime, dir, "big:1", NULL, &error) : NULL;
    GList *listed = runtime ? boxlite_runtime_list_images (runtime, NULL) : NULL;
    /* Counted before the tmpfs (and what it holds) goes. */
    guint n_blob_dir = count_entries (blobs), n_blobs = count_entries (sha);
    g_clear_object (&image);
    g_clear_object (&runtime);
    g_list_free_full (listed, g_object_unref);
    g_assert_cmpint (umount (images), ==, 0);

    g_assert_null (listed);
    assert_no_space (error);
    g_assert_cmpuint (n_blob_dir, ==, 1); /* sha256/, no temporary file */
    g_assert_cmpuint (n_blobs, ==, 0);
}

/* The blobs fit but the unpacked tree does not: the build reports the full
 * disk, and neither the tree, the disk, the blobs nor an index entry stay. */
static void
test_full_disk_build (Fixture *f, gconstpointer data)
{
    const char *const size[] = { "--size-mb", "8", "--layers", "1", NULL };
    g_autofree char *dir = make_layout (f, "big", size);
    g_autofree char *rootfs = store_path (f, "rootfs");
    g_autoptr (GError) error = NULL;

    if (!mount_small_disk (rootfs))
        return;
    BoxliteImage *image = boxlite_runtime_import_image (f->runtime, dir, "big:1", NULL, &error);
    guint n_trees = count_entries (rootfs);
    g_clear_object (&image);
    g_assert_cmpint (umount (rootfs), ==, 0);

    assert_no_space (error);
    g_assert_nonnull (strstr (error->message, "big-0.bin"));
    g_assert_cmpuint (n_trees, ==, 0);
    assert_store_empty (f);
}

/* Writes the tarball @out with python's tarfile: @script adds members to
 * the archive `t`. */
static void
write_tarball (const char *out, const char *script)
{
    g_autofree char *program =
        g_strdup_printf ("import io, sys, tarfile\n"
                         "t = tarfile.open(sys.argv[1], 'w')\n"
                         "def add(name, data=b'', kind=tarfile.REGTYPE, link=''):\n"
                         "    i = tarfile.TarInfo(name); i.type = kind; i.linkname = link\n"
                         "    i.size = len(data); i.mode = 0o755 if kind == tarfile.DIRTYPE "
                         "else 0o644\n"
                         "    t.addfile(i, io.BytesIO(data))\n"
                         "%s\nt.close()\n",
                         script);
    const char *argv[] = { "python3", "-c", program, out, NULL };
    gint status = 0;
    g_autoptr (GError) error = NULL;

    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status,
                  &error);
    g_assert_no_error (error);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
}

/* A root filesystem given as a tarball goes through the image layer
 * applier: its contents reach the disk, and an entry aimed outside the
 * root is refused as the image's fault with nothing written outside. */
static void
test_rootfs_tarball (Fixture *f, gconstpointer data)
{
    g_autofree char *good = g_build_filename (f->scratch, "good.tar", NULL);
    g_autofree char *evil = g_build_filename (f->scratch, "evil.tar", NULL);
    g_autofree char *escaped = g_build_filename (f->home, "images", "escape.txt", NULL);
    g_autoptr (GError) error = NULL;

    write_tarball (good, "add('etc', kind=tarfile.DIRTYPE)\n"
                         "add('etc/hello', b'from the tarball\\n')\n"
                         "add('bin', kind=tarfile.DIRTYPE)\n"
                         "add('bin/sh', kind=tarfile.SYMTYPE, link='/bin/busybox')");
    g_autofree char *disk = bl_disk_base_image (f->home, good, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (g_file_test (disk, G_FILE_TEST_IS_REGULAR));
    const char *argv[] = { "debugfs", "-R", "cat /etc/hello", disk, NULL };
    g_autofree char *out = NULL;
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL,
                                 G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
                                 NULL, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (out, ==, "from the tarball\n");

    write_tarball (evil, "add('etc', kind=tarfile.DIRTYPE)\n"
                         "add('up', kind=tarfile.SYMTYPE, link='../../..')\n"
                         "add('up/escape.txt', b'out')");
    g_autofree char *none = bl_disk_base_image (f->home, evil, NULL, &error);
    g_assert_null (none);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    g_test_message ("refused: %s", error->message);
    g_assert_false (g_file_test (escaped, G_FILE_TEST_EXISTS));
    g_autofree char *local = g_build_filename (f->home, "images", "local", NULL);
    g_assert_cmpuint (count_entries (local), ==, 2); /* the good disk and the lock */
}

/* Flips one byte in the middle of the first layer's blob. */
static void
tamper_first_layer (const char *layout)
{
    g_autofree char *index_path = g_build_filename (layout, "index.json", NULL);
    g_autofree char *text = NULL;
    g_autoptr (GError) error = NULL;

    g_file_get_contents (index_path, &text, NULL, &error);
    g_assert_no_error (error);
    g_autoptr (JsonNode) index = json_from_string (text, &error);
    g_assert_no_error (error);
    JsonObject *desc = json_array_get_object_element (
        json_object_get_array_member (json_node_get_object (index), "manifests"), 0);
    const char *manifest_digest = json_object_get_string_member (desc, "digest");
    g_autofree char *manifest_path =
        g_build_filename (layout, "blobs", "sha256", manifest_digest + 7, NULL);
    g_autofree char *manifest_text = NULL;
    g_file_get_contents (manifest_path, &manifest_text, NULL, &error);
    g_assert_no_error (error);
    g_autoptr (JsonNode) manifest = json_from_string (manifest_text, &error);
    g_assert_no_error (error);
    JsonObject *layer = json_array_get_object_element (
        json_object_get_array_member (json_node_get_object (manifest), "layers"), 0);
    const char *layer_digest = json_object_get_string_member (layer, "digest");
    g_autofree char *layer_path =
        g_build_filename (layout, "blobs", "sha256", layer_digest + 7, NULL);
    g_autofree char *data = NULL;
    gsize len = 0;
    g_file_get_contents (layer_path, &data, &len, &error);
    g_assert_no_error (error);
    data[len / 2] ^= 0x01;
    g_file_set_contents (layer_path, data, (gssize) len, &error);
    g_assert_no_error (error);
}

static void
test_tampered_rejected (Fixture *f, gconstpointer data)
{
    g_autofree char *dir = make_layout (f, "simple", NULL);
    g_autoptr (GError) error = NULL;

    tamper_first_layer (dir);
    g_autoptr (BoxliteImage) image =
        boxlite_runtime_import_image (f->runtime, dir, "tampered:1", NULL, &error);
    g_assert_null (image);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    g_test_message ("refused: %s", error->message);
    g_assert_nonnull (strstr (error->message, "does not match its digest"));
    assert_store_empty (f);
}

static void
test_multilayer_in_box (Fixture *f, gconstpointer data)
{
    g_autoptr (BoxliteImage) image = import (f, "multilayer", "multi:1");
    g_autoptr (BoxliteBox) box = start_box (f, "multi:1", NULL);
    gint code = -1;

    g_autofree char *a = run_simple (box, "test -e /data/a.txt && echo present || echo gone", NULL);
    g_assert_cmpstr (a, ==, "gone\n");
    g_autofree char *b = run_simple (box, "cat /data/b.txt", &code);
    g_assert_cmpint (code, ==, 0);
    g_assert_cmpstr (b, ==, "b\n");
    g_autofree char *keep = run_simple (box, "ls -A /data/keep", NULL);
    g_assert_cmpstr (keep, ==, "y\n");
    g_autofree char *y = run_simple (box, "cat /data/keep/y", NULL);
    g_assert_cmpstr (y, ==, "y\n");
    g_autofree char *gone =
        run_simple (box, "test -e /gone.txt && echo present || echo gone", NULL);
    g_assert_cmpstr (gone, ==, "gone\n");
    g_autofree char *hello = run_simple (box, "cat /hello.txt", NULL);
    g_assert_cmpstr (hello, ==, "hello from simple\n");
    /* No marker of the layers survives into the root filesystem. */
    g_autofree char *markers =
        run_simple (box, "ls -A /data /data/keep / | grep -c '^.wh.' || true", NULL);
    g_assert_cmpstr (markers, ==, "0\n");
}

/* The backing file of a box's overlay, as qemu-img reports it. */
static char *
backing_file (BoxliteBox *box)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *inspect = boxlite_box_inspect (box, &error);
    g_assert_no_error (error);
    g_autoptr (JsonNode) node = json_from_string (inspect, &error);
    g_assert_no_error (error);
    const char *dir = json_object_get_string_member (json_node_get_object (node), "dir");
    g_autofree char *overlay = g_build_filename (dir, "disk.qcow2", NULL);
    const char *argv[] = { "qemu-img", "info", "-U", "--output=json", overlay, NULL };
    g_autoptr (GSubprocess) proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
    g_assert_no_error (error);
    g_autofree char *out = NULL;
    g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error);
    g_assert_no_error (error);
    g_autoptr (JsonNode) info = json_from_string (out, &error);
    g_assert_no_error (error);
    return g_strdup (
        json_object_get_string_member (json_node_get_object (info), "backing-filename"));
}

static void
test_two_boxes_share_image (Fixture *f, gconstpointer data)
{
    g_autoptr (BoxliteImage) image = import (f, "simple", "simple:1");
    g_autoptr (BoxliteBox) one = start_box (f, "simple:1", NULL);
    g_autoptr (BoxliteBox) two = start_box (f, "simple:1", NULL);

    g_free (run_simple (one, "echo one > /mine.txt && sync", NULL));
    g_free (run_simple (two, "echo two > /mine.txt && echo only-two > /two.txt && sync", NULL));
    g_autofree char *mine_one = run_simple (one, "cat /mine.txt; ls /two.txt 2>/dev/null", NULL);
    g_autofree char *mine_two = run_simple (two, "cat /mine.txt /two.txt", NULL);
    g_assert_cmpstr (mine_one, ==, "one\n");
    g_assert_cmpstr (mine_two, ==, "two\nonly-two\n");

    g_autofree char *backing_one = backing_file (one);
    g_autofree char *backing_two = backing_file (two);
    g_autofree char *disk_name =
        g_strdup_printf ("disks/%s.ext4", boxlite_image_get_id (image) + 7);
    g_autofree char *disk = store_path (f, disk_name);
    g_assert_cmpstr (backing_one, ==, disk);
    g_assert_cmpstr (backing_two, ==, disk);
    g_autofree char *inspect = boxlite_box_inspect (one, NULL);
    g_assert_nonnull (strstr (inspect, "\"image_id\" : \""));
    g_assert_nonnull (strstr (inspect, "docker.io/library/simple:1"));
}

static void
test_remove_in_use (Fixture *f, gconstpointer data)
{
    g_autoptr (BoxliteImage) image = import (f, "simple", "simple:1");
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();

    boxlite_box_options_set_image (options, "simple:1");
    g_autoptr (BoxliteBox) box = boxlite_runtime_create (f->runtime, options, NULL, NULL, &error);
    g_assert_no_error (error);

    g_assert_false (boxlite_runtime_remove_image (f->runtime, "simple:1", FALSE, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE);
    g_clear_error (&error);
    /* A second name of the image can go: the first still holds it. */
    g_autoptr (BoxliteImage) again = import (f, "simple", "simple:2");
    g_assert_true (boxlite_runtime_remove_image (f->runtime, "simple:2", FALSE, &error));
    g_assert_no_error (error);
    GAsyncResult *result = NULL;
    boxlite_runtime_remove_image_async (f->runtime, "simple:1", TRUE, NULL, store_result, &result);
    g_assert_true (boxlite_runtime_remove_image_finish (f->runtime, wait_result (&result), &error));
    g_assert_no_error (error);
    g_object_unref (result);
    g_autoptr (GList) left = boxlite_runtime_list_images (f->runtime, NULL);
    g_assert_null (left);

    /* The box still has its disk, through a prune too... */
    g_autofree char *disk_name =
        g_strdup_printf ("disks/%s.ext4", boxlite_image_get_id (image) + 7);
    g_autofree char *disk = store_path (f, disk_name);
    g_assert_cmpint (boxlite_runtime_prune_images (f->runtime, NULL, &error), >=, 0);
    g_assert_no_error (error);
    g_assert_true (g_file_test (disk, G_FILE_TEST_IS_REGULAR));
    /* ...until the box is gone. */
    g_assert_true (boxlite_runtime_remove (f->runtime, boxlite_box_get_id (box), TRUE, &error));
    g_assert_no_error (error);
    guint64 reclaimed = 0;
    g_assert_cmpint (boxlite_runtime_prune_images (f->runtime, &reclaimed, &error), >, 0);
    g_assert_no_error (error);
    g_assert_cmpuint (reclaimed, >, 0);
    assert_store_empty (f);
}

static void
test_prune_orphans (Fixture *f, gconstpointer data)
{
    g_autoptr (BoxliteImage) image = import (f, "simple", "simple:1");
    g_autoptr (GError) error = NULL;
    const char orphan_data[] = "nobody points at me";
    g_autofree char *hex = g_compute_checksum_for_string (G_CHECKSUM_SHA256, orphan_data, -1);
    g_autofree char *orphan_name = g_strdup_printf ("blobs/sha256/%s", hex);
    g_autofree char *orphan = store_path (f, orphan_name);
    g_autofree char *blobs = store_path (f, "blobs/sha256");

    guint before = count_entries (blobs);
    g_file_set_contents (orphan, orphan_data, -1, &error);
    g_assert_no_error (error);
    GAsyncResult *result = NULL;
    guint64 reclaimed = 0;
    boxlite_runtime_prune_images_async (f->runtime, NULL, store_result, &result);
    g_assert_cmpint (
        boxlite_runtime_prune_images_finish (f->runtime, wait_result (&result), &reclaimed, &error),
        ==, 1);
    g_assert_no_error (error);
    g_assert_cmpuint (reclaimed, >, 0);
    g_object_unref (result);
    g_assert_false (g_file_test (orphan, G_FILE_TEST_EXISTS));
    /* manifest, config and layer of the image stay. */
    g_assert_cmpuint (count_entries (blobs), ==, before);
    g_assert_cmpuint (before, ==, 3);
    g_autoptr (BoxliteImage) still = boxlite_runtime_inspect_image (f->runtime, "simple:1", &error);
    g_assert_no_error (error);
}

static void
test_config_defaults (Fixture *f, gconstpointer data)
{
    g_autoptr (BoxliteImage) image = import (f, "simple", "simple:1");
    const char *own_env[] = { "MINE=1", NULL };
    g_autoptr (BoxliteBox) box = start_box (f, "simple:1", own_env);
    BoxliteBoxOptions *options = boxlite_box_get_options (box);

    g_assert_true (strv_has (boxlite_box_options_get_env (options), "FOO=bar"));
    g_assert_true (strv_has (boxlite_box_options_get_env (options), "MINE=1"));
    g_assert_cmpstr (boxlite_box_options_get_working_dir (options), ==, "/");
    g_assert_cmpstr (boxlite_box_options_get_cmd (options)[0], ==, "sh");

    /* The image's command (sh) with no command of our own: it reads stdin. */
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (boxlite_box_options_get_cmd (options));
    const char *script = "echo \"$FOO $MINE $PATH\"; pwd\n";
    g_autoptr (GBytes) input = g_bytes_new_static (script, strlen (script));
    GByteArray *out, *err;
    g_autoptr (BoxliteExecution) exe = run_full (box, cmd, input, &out, &err);
    g_byte_array_append (out, (const guint8 *) "", 1);
    g_assert_cmpstr ((char *) out->data, ==, "bar 1 /bin:/usr/bin\n/\n");
    g_byte_array_unref (out);
    g_byte_array_unref (err);

    /* A command's own env wins over the image's. */
    const char *argv[] = { "sh", "-c", "echo $FOO", NULL };
    const char *override[] = { "FOO=mine", NULL };
    g_autoptr (BoxliteCommand) cmd2 = boxlite_command_new (argv);
    boxlite_command_set_env (cmd2, override);
    g_autoptr (BoxliteExecution) exe2 = run_full (box, cmd2, NULL, &out, &err);
    g_byte_array_append (out, (const guint8 *) "", 1);
    g_assert_cmpstr ((char *) out->data, ==, "mine\n");

    /* The image has no /etc/hosts; the box still knows localhost. */
    g_autofree char *hosts = run_simple (box, "cat /etc/hosts", NULL);
    g_assert_nonnull (strstr (hosts, "127.0.0.1 localhost\n"));
    g_byte_array_unref (out);
    g_byte_array_unref (err);
}

/* Stores @data as a blob of @layout; returns its digest. */
static char *
layout_put_blob (const char *layout, const char *data)
{
    g_autofree char *hex = g_compute_checksum_for_string (G_CHECKSUM_SHA256, data, -1);
    g_autofree char *path = g_build_filename (layout, "blobs", "sha256", hex, NULL);
    g_autoptr (GError) error = NULL;

    g_file_set_contents (path, data, -1, &error);
    g_assert_no_error (error);
    return g_strconcat ("sha256:", hex, NULL);
}

static JsonNode *
layout_read_blob (const char *layout, const char *digest)
{
    g_autofree char *path = g_build_filename (layout, "blobs", "sha256", digest + 7, NULL);
    g_autofree char *text = NULL;
    g_autoptr (GError) error = NULL;

    g_file_get_contents (path, &text, NULL, &error);
    g_assert_no_error (error);
    JsonNode *node = json_from_string (text, &error);
    g_assert_no_error (error);
    return node;
}

/* Gives the image of @layout a new config: @run (JSON) replaces its
 * "config" object; the manifest and index.json follow. */
static void
layout_set_run_config (const char *layout, const char *run)
{
    g_autofree char *index_path = g_build_filename (layout, "index.json", NULL);
    g_autofree char *index_text = NULL;
    g_autoptr (GError) error = NULL;

    g_file_get_contents (index_path, &index_text, NULL, &error);
    g_assert_no_error (error);
    g_autoptr (JsonNode) index = json_from_string (index_text, &error);
    JsonObject *desc = json_array_get_object_element (
        json_object_get_array_member (json_node_get_object (index), "manifests"), 0);
    g_autoptr (JsonNode) manifest =
        layout_read_blob (layout, json_object_get_string_member (desc, "digest"));
    JsonObject *config_desc =
        json_object_get_object_member (json_node_get_object (manifest), "config");
    g_autoptr (JsonNode) config =
        layout_read_blob (layout, json_object_get_string_member (config_desc, "digest"));

    json_object_set_member (json_node_get_object (config), "config", json_from_string (run, NULL));
    g_autofree char *config_text = json_to_string (config, FALSE);
    g_autofree char *config_digest = layout_put_blob (layout, config_text);
    json_object_set_string_member (config_desc, "digest", config_digest);
    json_object_set_int_member (config_desc, "size", (gint64) strlen (config_text));
    g_autofree char *manifest_text = json_to_string (manifest, FALSE);
    g_autofree char *manifest_digest = layout_put_blob (layout, manifest_text);
    json_object_set_string_member (desc, "digest", manifest_digest);
    json_object_set_int_member (desc, "size", (gint64) strlen (manifest_text));
    g_autofree char *new_index = json_to_string (index, TRUE);
    g_file_set_contents (index_path, new_index, -1, &error);
    g_assert_no_error (error);
}

/* Entrypoint + Cmd run with no command of our own, in a WorkingDir the
 * layers never made; a cmd of our own replaces the image's, not its
 * entrypoint. */
static void
test_entrypoint_workdir (Fixture *f, gconstpointer data)
{
    g_autofree char *dir = make_layout (f, "simple", NULL);
    g_autoptr (GError) error = NULL;

    layout_set_run_config (dir, "{\"Env\": [\"PATH=/bin\", \"FOO=from-image\"], "
                                "\"Entrypoint\": [\"sh\", \"-c\"], "
                                "\"Cmd\": [\"echo $FOO $(pwd)\"], "
                                "\"WorkingDir\": \"/srv/app\", \"User\": \"root\"}");
    g_autoptr (BoxliteImage) image =
        boxlite_runtime_import_image (f->runtime, dir, "entry:1", NULL, &error);
    g_assert_no_error (error);
    g_autoptr (BoxliteBox) box = start_box (f, "entry:1", NULL);
    BoxliteBoxOptions *options = boxlite_box_get_options (box);
    g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
    g_strv_builder_addv (builder, (const char **) boxlite_box_options_get_entrypoint (options));
    g_strv_builder_addv (builder, (const char **) boxlite_box_options_get_cmd (options));
    g_auto (GStrv) argv = g_strv_builder_end (builder);
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new ((const char *const *) argv);
    GByteArray *out, *err;
    g_autoptr (BoxliteExecution) exe = run_full (box, cmd, NULL, &out, &err);
    g_byte_array_append (out, (const guint8 *) "", 1);
    g_assert_cmpstr ((char *) out->data, ==, "from-image /srv/app\n");
    g_byte_array_unref (out);
    g_byte_array_unref (err);
    g_assert_cmpstr (boxlite_box_options_get_user (options), ==, "root");

    /* Our own cmd keeps the image's entrypoint. */
    g_autoptr (BoxliteBoxOptions) own = boxlite_box_options_new ();
    const char *own_cmd[] = { "echo mine", NULL };
    boxlite_box_options_set_image (own, "entry:1");
    boxlite_box_options_set_cmd (own, own_cmd);
    g_autoptr (BoxliteBox) second = boxlite_runtime_create (f->runtime, own, NULL, NULL, &error);
    g_assert_no_error (error);
    BoxliteBoxOptions *second_options = boxlite_box_get_options (second);
    g_assert_cmpstr (boxlite_box_options_get_entrypoint (second_options)[0], ==, "sh");
    g_assert_cmpstr (boxlite_box_options_get_cmd (second_options)[0], ==, "echo mine");
}

static void
on_progress (G_GNUC_UNUSED BoxliteRuntime *rt, const char *digest, guint64 done, guint64 total,
             gpointer user_data)
{
    guint *calls = user_data;

    g_assert_true (g_str_has_prefix (digest, "sha256:"));
    g_assert_cmpuint (done, <=, total);
    (*calls)++;
}

static void
test_pull_and_boot (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BlTestRegistry) registry = bl_test_registry_start (&error);
    g_assert_no_error (error);
    g_autofree char *dir = make_layout (f, "simple", NULL);
    bl_test_registry_push (registry, dir, "tools/simple:latest", &error);
    g_assert_no_error (error);
    g_autofree char *ref = g_strdup_printf ("%s/tools/simple:latest", registry->host);

    /* Pull by tag, async, with progress on this thread's main context. */
    guint calls = 0;
    GAsyncResult *result = NULL;
    g_signal_connect (f->runtime, "pull-progress", G_CALLBACK (on_progress), &calls);
    boxlite_runtime_pull_image_async (f->runtime, ref, NULL, store_result, &result);
    g_autoptr (BoxliteImage) image =
        boxlite_runtime_pull_image_finish (f->runtime, wait_result (&result), &error);
    g_object_unref (result);
    g_assert_no_error (error);
    g_assert_cmpstr (boxlite_image_get_reference (image), ==, ref);
    g_assert_cmpuint (calls, >, 0);

    g_autoptr (BoxliteBox) box = start_box (f, ref, NULL);
    g_autofree char *hello = run_simple (box, "cat /hello.txt", NULL);
    g_assert_cmpstr (hello, ==, "hello from simple\n");
}

/* A box made from a reference the store lacks pulls it first. */
static void
test_create_pulls (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BlTestRegistry) registry = bl_test_registry_start (&error);
    g_assert_no_error (error);
    g_autofree char *dir = make_layout (f, "multiplatform", NULL);
    bl_test_registry_push (registry, dir, "multi:latest", &error);
    g_assert_no_error (error);
    g_autofree char *ref = g_strdup_printf ("%s/multi", registry->host);

    g_autoptr (BoxliteBox) box = start_box (f, ref, NULL);
    g_autofree char *hello = run_simple (box, "cat /hello.txt; ls /arch.txt 2>/dev/null", NULL);
    g_assert_cmpstr (hello, ==, "hello from simple\n");
    g_autoptr (BoxliteImage) image = boxlite_runtime_inspect_image (f->runtime, ref, &error);
    g_assert_no_error (error);
}

#define DIGEST_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* Manifests and configs as a registry or an archive might send them:
 * each is refused with an image error, and nothing crashes. */
static void
test_hostile_documents (void)
{
    static const char *const manifests[] = {
        "",
        "[]",
        "{\"schemaVersion\": 1}",
        "{\"schemaVersion\": 2, \"manifests\": []}",
        "{\"schemaVersion\": 2, \"config\": {\"digest\": \"sha256:x\", \"size\": 1}, "
        "\"layers\": []}",
        "{\"schemaVersion\": 2, \"config\": {\"digest\": \"" DIGEST_A "\", \"size\": -1}, "
        "\"layers\": []}",
        "{\"schemaVersion\": 2, \"config\": {\"digest\": \"" DIGEST_A "\", \"size\": 1}}",
        "{\"schemaVersion\": 2, \"config\": {\"digest\": \"" DIGEST_A "\", \"size\": 1}, "
        "\"layers\": [{\"digest\": \"../../etc/passwd\", \"size\": 1}]}",
        "{\"schemaVersion\": 2, \"config\": {\"digest\": \"" DIGEST_A "\", \"size\": 1}, "
        "\"layers\": [{\"digest\": \"SHA256:AAAA\", \"size\": \"1\"}]}",
    };
    static const char *const configs[] = {
        "",
        "\"config\"",
        "{\"config\": {\"Env\": \"PATH=/bin\"}}",
        "{\"config\": {\"Env\": [\"NOEQUALS\"]}}",
        "{\"config\": {\"Env\": [\"=value\"]}}",
        "{\"config\": {\"Cmd\": [\"sh\", 1]}}",
        "{\"config\": {\"WorkingDir\": \"relative/dir\"}}",
        "{\"rootfs\": {\"diff_ids\": [\"sha256:short\"]}}",
    };

    for (guint i = 0; i < G_N_ELEMENTS (manifests); i++) {
        g_autoptr (GError) error = NULL;
        g_autoptr (BlImageManifest) m =
            bl_image_manifest_parse (manifests[i], strlen (manifests[i]), &error);
        g_assert_null (m);
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    }
    for (guint i = 0; i < G_N_ELEMENTS (configs); i++) {
        g_autoptr (GError) error = NULL;
        g_autoptr (BlImageConfig) c =
            bl_image_config_parse (configs[i], strlen (configs[i]), &error);
        g_assert_null (c);
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    }
    /* Too many layers, and too large a document. */
    GString *many = g_string_new ("{\"schemaVersion\": 2, \"config\": {\"digest\": \"" DIGEST_A
                                  "\", \"size\": 1}, \"layers\": [");
    for (guint i = 0; i <= BL_IMAGE_LAYERS_MAX; i++)
        g_string_append_printf (many, "%s{\"digest\": \"" DIGEST_A "\", \"size\": 1}",
                                i ? "," : "");
    g_string_append (many, "]}");
    g_autoptr (GError) error = NULL;
    g_autoptr (BlImageManifest) m = bl_image_manifest_parse (many->str, many->len, &error);
    g_assert_null (m);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    g_string_free (many, TRUE);
    g_clear_error (&error);
    g_autofree char *huge = g_malloc0 (BL_IMAGE_JSON_MAX + 2);
    memset (huge, ' ', BL_IMAGE_JSON_MAX + 1);
    g_autoptr (BlImageConfig) c = bl_image_config_parse (huge, BL_IMAGE_JSON_MAX + 1, &error);
    g_assert_null (c);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);

    /* A valid pair parses to what it says. */
    const char *good = "{\"architecture\": \"amd64\", \"os\": \"linux\", \"config\": "
                       "{\"Env\": [\"A=1\"], \"Entrypoint\": [\"/bin/x\"], \"Cmd\": null, "
                       "\"WorkingDir\": \"/w\", \"User\": \"1000:1000\"}}";
    g_clear_error (&error);
    g_autoptr (BlImageConfig) ok = bl_image_config_parse (good, strlen (good), &error);
    g_assert_no_error (error);
    g_assert_cmpstr (ok->env[0], ==, "A=1");
    g_assert_cmpstr (ok->entrypoint[0], ==, "/bin/x");
    g_assert_null (ok->cmd);
    g_assert_cmpstr (ok->working_dir, ==, "/w");
    g_assert_cmpstr (ok->user, ==, "1000:1000");
}

/* An image and a root filesystem at once, or a reference that is not one,
 * are refused before anything is created. */
static void
test_options_image (void)
{
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    g_autoptr (GError) error = NULL;

    boxlite_box_options_set_image (options, "alpine:3");
    g_assert_true (boxlite_box_options_validate (options, &error));
    g_assert_no_error (error);
    boxlite_box_options_set_rootfs (options, "/tmp");
    g_assert_false (boxlite_box_options_validate (options, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    boxlite_box_options_set_rootfs (options, NULL);
    boxlite_box_options_set_image (options, "Not A Reference::");
    g_assert_false (boxlite_box_options_validate (options, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
}

int
main (int argc, char **argv)
{
    if (argc == 4 && g_str_equal (argv[1], "--import-child"))
        return import_child (argv[2], argv[3]);
    self_exe = argv[0];
    g_test_init (&argc, &argv, NULL);

    g_test_add_func ("/image/config/hostile-documents", test_hostile_documents);
    g_test_add_func ("/image/options/image-or-rootfs", test_options_image);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
    ADD ("/image/import/layout", test_import_layout);
    ADD ("/image/import/docker-archive", test_import_docker_archive);
    ADD ("/image/import/multiplatform", test_import_multiplatform);
    ADD ("/image/import/cancelled", test_import_cancelled);
    ADD ("/image/import/cancelled-waiting", test_import_cancelled_waiting);
    ADD ("/image/remove-prune/cancelled-waiting", test_remove_prune_cancelled_waiting);
    ADD ("/image/import/concurrent", test_import_concurrent);
    ADD ("/image/import/traversal-rejected", test_traversal_rejected);
    ADD ("/image/import/tampered-rejected", test_tampered_rejected);
    ADD ("/image/import/full-disk-store", test_full_disk_store);
    ADD ("/image/import/full-disk-build", test_full_disk_build);
    ADD ("/image/rootfs/tarball", test_rootfs_tarball);
    ADD ("/image/prune/orphans", test_prune_orphans);
    ADD ("/image/box/multilayer-whiteouts", test_multilayer_in_box);
    ADD ("/image/box/two-boxes-share-image", test_two_boxes_share_image);
    ADD ("/image/box/remove-in-use", test_remove_in_use);
    ADD ("/image/box/config-defaults", test_config_defaults);
    ADD ("/image/box/entrypoint-workdir", test_entrypoint_workdir);
    ADD ("/image/registry/pull-and-boot", test_pull_and_boot);
    ADD ("/image/registry/create-pulls", test_create_pulls);
#undef ADD
    return g_test_run ();
}

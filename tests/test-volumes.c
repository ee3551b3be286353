/* test-volumes.c: host folders in real boxes (TCG where KVM is unusable).
 *
 * One box carries three volumes: a read-write one, a read-only one and one
 * whose folder holds symlinks pointing out of it. The folders are made by
 * the test's user (root in CI) under a private mktemp directory; when the
 * runtime is root, QEMU runs as an unprivileged user, and the test gives
 * that user the folders as the README says a caller must. */
#include <errno.h>
#include <glib/gstdio.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boxlite/boxlite.h>
#include "test-util.h"

#define BOX_NAME "vols"

static char *home;
static char *base; /* 0700, holds every folder below */
static char *rw_dir, *ro_dir, *esc_dir, *outside_dir;
static char *sentinel; /* a random token in a host file outside every volume */
static BoxliteRuntime *runtime;
static BoxliteBox *shared_box;

/* The user QEMU runs as when we are root (the monitor's choice), or NULL. */
static struct passwd *
qemu_user (void)
{
    if (geteuid () != 0)
        return NULL;
    struct passwd *pw = getpwnam ("boxlite-qemu");
    return pw ? pw : getpwnam ("nobody");
}

/* The fix the start error names, in its chown form: the folder becomes
 * QEMU's user's (setfacl is not installed everywhere). */
static void
give_to_qemu (const char *path)
{
    struct passwd *pw = qemu_user ();

    if (pw)
        g_assert_cmpint (chown (path, pw->pw_uid, (gid_t) -1), ==, 0);
}

static char *
make_dir (const char *name, mode_t mode)
{
    char *dir = g_build_filename (base, name, NULL);
    g_assert_cmpint (g_mkdir (dir, mode), ==, 0);
    return dir;
}

static void
write_host (const char *dir, const char *name, const char *text)
{
    g_autofree char *path = g_build_filename (dir, name, NULL);
    g_autoptr (GError) error = NULL;
    g_file_set_contents (path, text, -1, &error);
    g_assert_no_error (error);
}

static char *
read_host (const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename (dir, name, NULL);
    char *text = NULL;
    g_autoptr (GError) error = NULL;
    g_file_get_contents (path, &text, NULL, &error);
    g_assert_no_error (error);
    return text;
}

static void
make_folders (void)
{
    g_autoptr (GError) error = NULL;

    base = g_dir_make_tmp ("boxlite-volumes-XXXXXX", &error);
    g_assert_no_error (error);
    rw_dir = make_dir ("rw", 0755);
    ro_dir = make_dir ("ro", 0755);
    esc_dir = make_dir ("esc", 0755);
    outside_dir = make_dir ("outside", 0755);
    give_to_qemu (rw_dir);
    write_host (rw_dir, "host.txt", "written on the host\n");
    write_host (ro_dir, "keep.txt", "read-only content\n");
    /* QEMU's user could write the read-only folder: only readonly=on
     * stands between the guest and it. */
    give_to_qemu (ro_dir);
    g_autofree char *keep = g_build_filename (ro_dir, "keep.txt", NULL);
    give_to_qemu (keep);

    /* Links a process on the host would follow out of the folder. */
    guint32 r = g_random_int ();
    sentinel = g_strdup_printf ("host-secret-%08x", r);
    write_host (outside_dir, "sentinel", sentinel);
    g_autofree char *target = g_build_filename (outside_dir, "sentinel", NULL);
    g_autofree char *abs_link = g_build_filename (esc_dir, "abs", NULL);
    g_autofree char *rel_link = g_build_filename (esc_dir, "rel", NULL);
    g_autofree char *etc_link = g_build_filename (esc_dir, "etc", NULL);
    g_assert_cmpint (symlink (target, abs_link), ==, 0);
    g_assert_cmpint (symlink ("../outside/sentinel", rel_link), ==, 0);
    g_assert_cmpint (symlink ("/etc", etc_link), ==, 0);
}

static BoxliteBox *
get_shared_box (void)
{
    g_autoptr (GError) error = NULL;

    if (!shared_box) {
        g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
        boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
        boxlite_box_options_add_volume (options, rw_dir, "/data", FALSE);
        boxlite_box_options_add_volume (options, ro_dir, "/mnt/ro", TRUE);
        boxlite_box_options_add_volume (options, esc_dir, "/esc", TRUE);
        shared_box = boxlite_runtime_create (runtime, options, BOX_NAME, NULL, &error);
        g_assert_no_error (error);
        boxlite_box_start (shared_box, NULL, &error);
        g_assert_no_error (error);
    }
    g_assert_cmpint (boxlite_box_get_state (shared_box), ==, BOXLITE_BOX_STATE_RUNNING);
    return shared_box;
}

/* Runs @script and checks it exits 0; returns its stdout. */
static char *
run_ok (const char *script)
{
    gint code = -1;
    char *out = run_simple (get_shared_box (), script, &code);
    if (code != 0)
        g_error ("'%s' exited %d: %s", script, code, out);
    return out;
}

static void
test_read_write (void)
{
    g_autofree char *seen = run_ok ("cat /data/host.txt");
    g_assert_cmpstr (seen, ==, "written on the host\n");

    g_free (run_ok ("echo written in the guest > /data/guest.txt && mkdir -p /data/sub/deep && "
                    "echo nested > /data/sub/deep/n.txt"));
    g_autofree char *back = read_host (rw_dir, "guest.txt");
    g_assert_cmpstr (back, ==, "written in the guest\n");
    g_autofree char *sub = g_build_filename (rw_dir, "sub", "deep", NULL);
    g_autofree char *nested = read_host (sub, "n.txt");
    g_assert_cmpstr (nested, ==, "nested\n");

    /* A write on the host while the box runs is seen at once (no cache). */
    write_host (rw_dir, "late.txt", "changed while running\n");
    g_autofree char *late = run_ok ("cat /data/late.txt");
    g_assert_cmpstr (late, ==, "changed while running\n");
    write_host (rw_dir, "late.txt", "changed again\n");
    g_free (late);
    late = run_ok ("cat /data/late.txt");
    g_assert_cmpstr (late, ==, "changed again\n");
}

/* Root in the guest can lift the guest's own read-only flag; QEMU still
 * refuses every write, and the host folder stays as it was. */
static void
test_read_only (void)
{
    static const char *const writes[] = {
        "echo x > /mnt/ro/new.txt",   "echo x >> /mnt/ro/keep.txt",
        "rm /mnt/ro/keep.txt",        "mkdir /mnt/ro/dir",
        "chmod 777 /mnt/ro/keep.txt", "mv /mnt/ro/keep.txt /mnt/ro/moved.txt",
    };

    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            g_autofree char *mounts =
                run_ok ("mount -o remount,rw /mnt/ro && grep ' /mnt/ro ' /proc/mounts");
            g_assert_nonnull (strstr (mounts, " rw,")); /* the guest believes it may write */
        }
        for (guint i = 0; i < G_N_ELEMENTS (writes); i++) {
            gint code = -1;
            g_autofree char *script = g_strdup_printf ("%s 2>&1", writes[i]);
            g_autofree char *out = run_simple (get_shared_box (), script, &code);
            if (code == 0)
                g_error ("'%s' succeeded on a read-only volume (pass %d)", writes[i], pass);
        }
    }
    g_autofree char *keep = read_host (ro_dir, "keep.txt");
    g_assert_cmpstr (keep, ==, "read-only content\n");
    g_assert_cmpuint (test_count_entries (ro_dir), ==, 1);
    struct stat st;
    g_autofree char *keep_path = g_build_filename (ro_dir, "keep.txt", NULL);
    g_assert_cmpint (g_stat (keep_path, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 07777, ==, 0644);
}

/* A symlink made on the host inside the folder leads nowhere: QEMU opens
 * it without following it, and in mapped-xattr mode a link is read as the
 * file that holds its target, so the guest gets ELOOP, never the host
 * file it names, through any path. */
static void
test_symlinks_stay_inside (void)
{
    g_autofree char *host_name = NULL;
    g_assert_true (g_file_get_contents ("/etc/hostname", &host_name, NULL, NULL));
    g_strstrip (host_name);
    g_assert_cmpstr (host_name, !=, "");

    g_autofree char *listing = run_ok ("ls -l /esc 2>/dev/null | cut -c1 | sort | uniq -c");
    g_assert_nonnull (strstr (listing, "3 l")); /* seen as the three links they are */
    static const char *const reads[] = {
        "readlink /esc/etc",
        "cat /esc/etc/hostname",
        "ls /esc/etc/",
        "cat /esc/abs",
        "cat /esc/rel",
        "cat /esc/../outside/sentinel",
        "cat /data/../../outside/sentinel",
        "cd /esc/etc",
        "find / -xdev -name sentinel -exec cat {} +",
    };
    for (guint i = 0; i < G_N_ELEMENTS (reads); i++) {
        gint code = -1;
        g_autofree char *script = g_strdup_printf ("%s 2>&1", reads[i]);
        g_autofree char *out = run_simple (get_shared_box (), script, &code);
        if (strstr (out, sentinel) || strstr (out, host_name))
            g_error ("'%s' showed a host file outside the volume: %s", reads[i], out);
        if (g_str_has_prefix (reads[i], "find"))
            continue;
        if (code == 0)
            g_error ("'%s' succeeded: %s", reads[i], out);
    }
    g_autofree char *loop = run_simple (get_shared_box (), "cat /esc/abs 2>&1", NULL);
    g_assert_nonnull (strstr (loop, "Too many levels of symbolic links"));
}

/* mapped-xattr: what root in the guest makes is a plain file of QEMU's user
 * on the host: no symlink, no set-uid bit, no device node. */
static void
test_guest_cannot_plant (void)
{
    g_free (run_ok ("ln -s /etc/shadow /data/link && echo x > /data/suid && "
                    "chmod 4755 /data/suid && mknod /data/null c 1 3 && ls -l /data/suid"));
    g_autofree char *link = g_build_filename (rw_dir, "link", NULL);
    g_autofree char *suid = g_build_filename (rw_dir, "suid", NULL);
    g_autofree char *node = g_build_filename (rw_dir, "null", NULL);
    struct stat st;

    g_assert_cmpint (g_lstat (link, &st), ==, 0);
    g_assert_true (S_ISREG (st.st_mode));
    g_assert_cmpint (g_lstat (suid, &st), ==, 0);
    g_assert_true (S_ISREG (st.st_mode));
    g_assert_cmpint (st.st_mode & (S_ISUID | S_ISGID | 0111), ==, 0);
    g_assert_cmpint (g_lstat (node, &st), ==, 0);
    g_assert_true (S_ISREG (st.st_mode));
    /* ... while the guest sees what it made. */
    g_autofree char *seen = run_ok ("readlink /data/link; stat -c %A /data/suid; "
                                    "stat -c %F /data/null");
    g_assert_cmpstr (seen, ==, "/etc/shadow\n-rwsr-xr-x\ncharacter special file\n");
}

/* The volumes are in the record: a stop and a start from another runtime
 * object mounts them again, with the same modes. */
static void
test_survives_restart (void)
{
    g_autoptr (GError) error = NULL;

    get_shared_box ();
    boxlite_box_stop (shared_box, FALSE, NULL, &error);
    g_assert_no_error (error);
    g_clear_object (&shared_box);

    g_autoptr (BoxliteBox) again = boxlite_runtime_get (runtime, BOX_NAME, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (
        g_strv_length ((char **) boxlite_box_options_get_volumes (boxlite_box_get_options (again))),
        ==, 3);
    boxlite_box_start (again, NULL, &error);
    g_assert_no_error (error);
    gint code = -1;
    g_autofree char *out =
        run_simple (again,
                    "cat /data/guest.txt && grep -c ' 9p ' /proc/mounts && "
                    "grep ' /mnt/ro ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1",
                    &code);
    g_assert_cmpint (code, ==, 0);
    g_assert_cmpstr (out, ==, "written in the guest\n3\nro\n");
    shared_box = g_steal_pointer (&again);
}

static void
expect_invalid (BoxliteBoxOptions *options, const char *why)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box = boxlite_runtime_create (runtime, options, "invalid", NULL, &error);

    g_assert_null (box);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    if (!strstr (error->message, why))
        g_error ("'%s' does not say '%s'", error->message, why);
}

/* Each mistake is refused when the box is made, before anything starts. */
static void
test_invalid (void)
{
    g_autofree char *missing = g_build_filename (base, "missing", NULL);
    g_autofree char *file = g_build_filename (ro_dir, "keep.txt", NULL);
    g_autofree char *bad_suffix = g_strconcat (rw_dir, ":/data:rx", NULL);
    g_autofree char *no_guest = g_strconcat (rw_dir, ":", NULL);
    const struct {
        const char *host, *guest, *why;
    } cases[] = {
        { missing, "/data", "No such file or directory" },
        { file, "/data", "not a directory" },
        { rw_dir, "data", "not absolute" },
        { rw_dir, "/", "cannot be '/'" },
        { rw_dir, "/a/../etc", "'..'" },
        { "relative/dir", "/data", "not an absolute path" },
    };

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
        boxlite_box_options_add_volume (options, cases[i].host, cases[i].guest, FALSE);
        expect_invalid (options, cases[i].why);
    }
    g_autoptr (BoxliteBoxOptions) twice = boxlite_box_options_new ();
    boxlite_box_options_add_volume (twice, rw_dir, "/data", FALSE);
    boxlite_box_options_add_volume (twice, ro_dir, "/data/", TRUE);
    expect_invalid (twice, "already a volume");

    const char *const suffix[] = { bad_suffix, NULL };
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    boxlite_box_options_set_volumes (options, suffix);
    expect_invalid (options, "unknown option 'rx'");
    const char *const empty[] = { no_guest, NULL };
    boxlite_box_options_set_volumes (options, empty);
    expect_invalid (options, "not absolute");

    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) none = boxlite_runtime_get (runtime, "invalid", &error);
    g_assert_null (none);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND);
}

static BoxliteBox *
create_with (const char *host, const char *guest, gboolean read_only, const char *name)
{
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    g_autoptr (GError) error = NULL;

    boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
    boxlite_box_options_add_volume (options, host, guest, read_only);
    BoxliteBox *box = boxlite_runtime_create (runtime, options, name, NULL, &error);
    g_assert_no_error (error);
    return box;
}

static void
expect_start_fails (BoxliteBox *box, const char *const *whys)
{
    g_autoptr (GError) error = NULL;

    g_assert_false (boxlite_box_start (box, NULL, &error));
    g_assert_nonnull (error);
    for (guint i = 0; whys[i]; i++) {
        if (!strstr (error->message, whys[i]))
            g_error ("'%s' does not say '%s'", error->message, whys[i]);
    }
    g_assert_cmpint (boxlite_box_get_state (box), !=, BOXLITE_BOX_STATE_RUNNING);
    boxlite_runtime_remove (runtime, boxlite_box_get_id (box), TRUE, NULL);
}

/* A folder that went away after the box was made stops the start. */
static void
test_folder_gone (void)
{
    g_autofree char *dir = make_dir ("gone", 0755);
    g_autoptr (BoxliteBox) box = create_with (dir, "/gone", FALSE, "gone");
    g_assert_cmpint (g_rmdir (dir), ==, 0);
    const char *const whys[] = { dir, "No such file or directory", NULL };
    expect_start_fails (box, whys);
}

/* As root, a folder QEMU's user cannot write is refused before QEMU starts,
 * with the user and the fix named. */
static void
test_unusable_by_qemu (void)
{
    struct passwd *pw = qemu_user ();
    if (!pw) {
        g_test_skip ("QEMU runs as the caller when the runtime is not root");
        return;
    }
    g_autofree char *dir = make_dir ("root-only", 0755);
    g_autoptr (BoxliteBox) box = create_with (dir, "/data", FALSE, "unusable");
    const char *const whys[] = { dir, pw->pw_name, "cannot read and write", "setfacl", NULL };
    expect_start_fails (box, whys);
    /* Read-only needs only what the folder's mode already gives. */
    g_autoptr (BoxliteBox) ro = create_with (dir, "/data", TRUE, "readable");
    g_autoptr (GError) error = NULL;
    boxlite_box_start (ro, NULL, &error);
    g_assert_no_error (error);
    boxlite_runtime_remove (runtime, "readable", TRUE, NULL);
}

/* A mount point the guest cannot make is a failed start with the guest's
 * reason, not a box without its folder. */
static void
test_mount_failure (void)
{
    g_autoptr (BoxliteBox) box = create_with (rw_dir, "/proc/boxlite-volume", FALSE, "badmount");
    const char *const whys[] = { "could not mount a volume", "/proc/boxlite-volume", NULL };
    expect_start_fails (box, whys);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    home = test_home_open ("boxlite-test", &runtime);
    make_folders ();

    g_test_add_func ("/volumes/read-write", test_read_write);
    g_test_add_func ("/volumes/read-only", test_read_only);
    g_test_add_func ("/volumes/symlinks-stay-inside", test_symlinks_stay_inside);
    g_test_add_func ("/volumes/guest-cannot-plant", test_guest_cannot_plant);
    g_test_add_func ("/volumes/survives-restart", test_survives_restart);
    g_test_add_func ("/volumes/invalid", test_invalid);
    g_test_add_func ("/volumes/folder-gone", test_folder_gone);
    g_test_add_func ("/volumes/unusable-by-qemu", test_unusable_by_qemu);
    g_test_add_func ("/volumes/mount-failure", test_mount_failure);

    int ret = g_test_run ();
    if (shared_box)
        boxlite_box_stop (shared_box, FALSE, NULL, NULL);
    g_clear_object (&shared_box);
    test_home_close (&runtime, home);
    const char *const rm[] = { "rm", "-rf", base, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
    return ret;
}

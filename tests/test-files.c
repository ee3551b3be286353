/* test-files.c: files copied into and out of real boxes (TCG where KVM is
 * not usable): trees compared byte for byte and by mode, time and link
 * target; a 1 GiB file with the test's memory bounded; hostile names and
 * links from the guest, and links already in the guest, that must not
 * redirect a copy; small-file helpers; the destination rules of cp. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boxlite/boxlite.h>
#include "test-util.h"

static char *home;
static BoxliteRuntime *runtime;
static BoxliteBox *box;

static BoxliteBox *
get_box (void)
{
    g_autoptr (GError) error = NULL;

    if (!box) {
        g_autoptr (BoxliteOptions) options = boxlite_options_new ();
        boxlite_options_set_home_dir (options, home);
        runtime = boxlite_runtime_new (options, &error);
        g_assert_no_error (error);
        g_autoptr (BoxliteBoxOptions) bopts = boxlite_box_options_new ();
        boxlite_box_options_set_network (bopts, BOXLITE_NETWORK_DISABLED);
        box = boxlite_runtime_create (runtime, bopts, "files", NULL, &error);
        g_assert_no_error (error);
        boxlite_box_start (box, NULL, &error);
        g_assert_no_error (error);
    }
    g_assert_cmpint (boxlite_box_get_state (box), ==, BOXLITE_BOX_STATE_RUNNING);
    return box;
}

static void
sh_ok (const char *script)
{
    gint code = -1;
    g_autofree char *out = run_simple (get_box (), script, &code);
    if (code != 0)
        g_error ("in the box, '%s' exited %d: %s", script, code, out);
}

static char *
make_tmp (const char *name)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *tmpl = g_strdup_printf ("boxlite-%s-XXXXXX", name);
    char *dir = g_dir_make_tmp (tmpl, &error);
    g_assert_no_error (error);
    return dir;
}

static void
write_file_at (const char *path, const void *data, gsize len, mode_t mode, gint64 sec, long nsec)
{
    g_autoptr (GError) error = NULL;
    g_file_set_contents (path, data, (gssize) len, &error);
    g_assert_no_error (error);
    g_assert_cmpint (chmod (path, mode), ==, 0);
    struct timespec times[2] = { { sec, nsec }, { sec, nsec } };
    g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);
}

/* A tree of 1 000 files in 10 directories, with modes from 0400 to 0755,
 * distinct modification times (with nanoseconds), symlinks relative,
 * absolute and long, an empty directory and names past ustar's 100 bytes.
 * Returns the bytes of file contents. */
static guint64
make_tree (const char *root)
{
    static const mode_t modes[] = { 0644, 0600, 0755, 0700, 0444, 0640, 0750, 0400 };
    guint64 bytes = 0;

    g_assert_cmpint (g_mkdir (root, 0755), ==, 0);
    for (guint d = 0; d < 10; d++) {
        g_autofree char *dir = g_strdup_printf ("%s/d%u", root, d);
        g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
        for (guint f = 0; f < 100; f++) {
            g_autofree char *path = g_strdup_printf ("%s/f%03u", dir, f);
            gsize len = (d * 100 + f) * 37 % 9000;
            g_autofree guint8 *data = g_malloc (len + 1);
            for (gsize i = 0; i < len; i++)
                data[i] = (guint8) (i * 31 + d * 7 + f);
            write_file_at (path, data, len, modes[f % G_N_ELEMENTS (modes)],
                           1600000000 + d * 1000 + f, (long) (f * 1000 + 7));
            bytes += len;
        }
    }
    g_autofree char *empty = g_strdup_printf ("%s/empty", root);
    g_assert_cmpint (g_mkdir (empty, 0750), ==, 0);
    g_autofree char *rel = g_strdup_printf ("%s/d1/rel-link", root);
    g_assert_cmpint (symlink ("../d0/f001", rel), ==, 0);
    g_autofree char *abs = g_strdup_printf ("%s/d1/abs-link", root);
    g_assert_cmpint (symlink ("/etc/hostname", abs), ==, 0);
    g_autofree char *long_target = g_strnfill (150, 'T');
    g_autofree char *long_link = g_strdup_printf ("%s/d2/long-link", root);
    g_assert_cmpint (symlink (long_target, long_link), ==, 0);
    g_autofree char *long_name = g_strnfill (120, 'n');
    g_autofree char *long_dir = g_strdup_printf ("%s/%s", root, long_name);
    g_assert_cmpint (g_mkdir (long_dir, 0755), ==, 0);
    g_autofree char *long_file = g_strdup_printf ("%s/%s.txt", long_dir, long_name);
    write_file_at (long_file, "long", 4, 0600, 1500000000, 123456789);
    return bytes + 4;
}

static void
compare_trees (const char *a, const char *b, guint *count)
{
    struct stat sa, sb;

    g_assert_cmpint (lstat (a, &sa), ==, 0);
    if (lstat (b, &sb) != 0)
        g_error ("%s is missing", b);
    g_assert_cmpuint (sa.st_mode & S_IFMT, ==, sb.st_mode & S_IFMT);
    (*count)++;
    if (S_ISLNK (sa.st_mode)) {
        g_autofree char *ta = g_file_read_link (a, NULL);
        g_autofree char *tb = g_file_read_link (b, NULL);
        g_assert_cmpstr (ta, ==, tb);
        return;
    }
    if ((sa.st_mode & 07777) != (sb.st_mode & 07777))
        g_error ("%s has mode %o, %s %o", a, sa.st_mode & 07777, b, sb.st_mode & 07777);
    if (sa.st_mtim.tv_sec != sb.st_mtim.tv_sec || sa.st_mtim.tv_nsec != sb.st_mtim.tv_nsec)
        g_error ("%s has mtime %ld.%09ld, %s %ld.%09ld", a, (long) sa.st_mtim.tv_sec,
                 sa.st_mtim.tv_nsec, b, (long) sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
    if (S_ISREG (sa.st_mode)) {
        g_autofree char *ca = NULL, *cb = NULL;
        gsize la = 0, lb = 0;
        g_assert_true (g_file_get_contents (a, &ca, &la, NULL));
        g_assert_true (g_file_get_contents (b, &cb, &lb, NULL));
        g_assert_cmpmem (ca, la, cb, lb);
        return;
    }
    g_autoptr (GDir) dir = g_dir_open (a, 0, NULL);
    const char *name;
    guint in_a = 0;
    while ((name = g_dir_read_name (dir))) {
        g_autofree char *ca = g_build_filename (a, name, NULL);
        g_autofree char *cb = g_build_filename (b, name, NULL);
        compare_trees (ca, cb, count);
        in_a++;
    }
    g_assert_cmpuint (in_a, ==, test_count_entries (b));
}

typedef struct {
    guint calls;
    guint64 done;
    guint64 total;
} Seen;

static void
on_progress (BoxliteBox *b, guint64 done, guint64 total, gpointer data)
{
    Seen *seen = data;
    g_assert_cmpuint (done, >=, seen->done);
    seen->calls++;
    seen->done = done;
    seen->total = total;
}

static void
test_tree_round_trip (void)
{
    g_autofree char *tmp = make_tmp ("tree");
    g_autofree char *src = g_build_filename (tmp, "src", NULL);
    g_autofree char *back = g_build_filename (tmp, "back", NULL);
    g_autoptr (GError) error = NULL;
    guint64 bytes = make_tree (src);
    Seen seen = { 0 };

    sh_ok ("rm -rf /srv/tree");
    gulong id = g_signal_connect (get_box (), "copy-progress", G_CALLBACK (on_progress), &seen);
    boxlite_box_copy_in (get_box (), src, "/srv/tree", BOXLITE_COPY_NONE, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (seen.calls, >, 0);
    g_assert_cmpuint (seen.total, ==, bytes);
    g_assert_cmpuint (seen.done, >, bytes); /* the archive: contents and headers */

    /* What a user would look at in the box. */
    g_autofree char *listing =
        run_simple (get_box (),
                    "cd /srv/tree && find . -type f | wc -l && stat -c '%a %Y' d0/f001 && "
                    "readlink d1/rel-link d1/abs-link && find empty | wc -l",
                    NULL);
    g_assert_cmpstr (listing, ==, "1001\n600 1600000001\n../d0/f001\n/etc/hostname\n1\n");

    g_assert_cmpint (g_mkdir (back, 0755), ==, 0);
    seen = (Seen){ 0 };
    boxlite_box_copy_out (get_box (), "/srv/tree", back, BOXLITE_COPY_NONE, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (seen.calls, >, 0);
    g_signal_handler_disconnect (get_box (), id);

    /* /srv/tree landed in the existing directory as back/tree. */
    g_autofree char *copied = g_build_filename (back, "tree", NULL);
    guint count = 0;
    compare_trees (src, copied, &count);
    g_assert_cmpuint (count, >=, 1000 + 10 + 1 + 3 + 3);

    /* The contents of a directory, "DIR/.", into a new directory. */
    g_autofree char *contents = g_build_filename (tmp, "contents", NULL);
    boxlite_box_copy_out (get_box (), "/srv/tree/d3/.", contents, BOXLITE_COPY_NONE, NULL, &error);
    g_assert_no_error (error);
    g_autofree char *d3 = g_build_filename (src, "d3", NULL);
    count = 0;
    compare_trees (d3, contents, &count);
    g_assert_cmpuint (count, ==, 101);
    sh_ok ("rm -rf /srv/tree");
    g_assert_true (
        g_spawn_command_line_sync (g_strdup_printf ("rm -rf %s", tmp), NULL, NULL, NULL, NULL));
}

static guint64
vm_hwm_kib (void)
{
    g_autofree char *status = NULL;
    g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
    const char *line = strstr (status, "VmHWM:");
    g_assert_nonnull (line);
    return g_ascii_strtoull (line + 6, NULL, 10);
}

static char *
host_sha256 (const char *path)
{
    g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
    g_autofree guint8 *buf = g_malloc (1 << 20);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    g_assert_cmpint (fd, >=, 0);
    while ((n = read (fd, buf, 1 << 20)) > 0)
        g_checksum_update (sum, buf, n);
    close (fd);
    return g_strdup (g_checksum_get_string (sum));
}

static void
test_big_file (void)
{
    g_autofree char *tmp = make_tmp ("big");
    g_autoptr (GError) error = NULL;
    Seen seen = { 0 };

    sh_ok ("dd if=/dev/urandom of=/srv/big.bin bs=1M count=1024 2>/dev/null");
    g_autofree char *guest_sum =
        run_simple (get_box (), "sha256sum /srv/big.bin | cut -c1-64", NULL);
    guint64 before = vm_hwm_kib ();
    gulong id = g_signal_connect (get_box (), "copy-progress", G_CALLBACK (on_progress), &seen);
    gint64 start = g_get_monotonic_time ();
    boxlite_box_copy_out (get_box (), "/srv/big.bin", tmp, BOXLITE_COPY_NONE, NULL, &error);
    gint64 took = g_get_monotonic_time () - start;
    g_assert_no_error (error);
    g_signal_handler_disconnect (get_box (), id);
    guint64 after = vm_hwm_kib ();
    g_test_message ("1 GiB copied out in %.1f s; peak RSS %" G_GUINT64_FORMAT
                    " -> %" G_GUINT64_FORMAT " KiB",
                    took / 1e6, before, after);
    g_print ("# 1 GiB copied out in %.1f s (%.1f MiB/s); VmHWM grew %" G_GUINT64_FORMAT " KiB\n",
             took / 1e6, 1024.0 / (took / 1e6), after - before);
    g_assert_cmpuint (after - before, <, 100 * 1024);
    g_assert_cmpuint (seen.done, >, (guint64) 1 << 30);

    g_autofree char *copy = g_build_filename (tmp, "big.bin", NULL);
    struct stat st;
    g_assert_cmpint (stat (copy, &st), ==, 0);
    g_assert_cmpint (st.st_size, ==, (goffset) 1 << 30);
    g_autofree char *sum = host_sha256 (copy);
    g_strchomp (guest_sum);
    g_assert_cmpstr (sum, ==, guest_sum);
    sh_ok ("rm -f /srv/big.bin");
    g_unlink (copy);
    g_rmdir (tmp);
}

/* Nothing but the sentinel's own file may be in @sentinel. */
static void
assert_sentinel_untouched (const char *sentinel)
{
    g_autofree char *mark = g_build_filename (sentinel, "mark", NULL);
    g_autofree char *text = NULL;
    g_assert_cmpuint (test_count_entries (sentinel), ==, 1);
    g_assert_true (g_file_get_contents (mark, &text, NULL, NULL));
    g_assert_cmpstr (text, ==, "untouched");
}

static void
test_hostile_out (void)
{
    g_autofree char *tmp = make_tmp ("hostile");
    g_autofree char *dest = g_build_filename (tmp, "dest", NULL);
    g_autofree char *sentinel = g_build_filename (tmp, "sentinel", NULL);
    g_autofree char *mark = g_build_filename (sentinel, "mark", NULL);
    g_autoptr (GError) error = NULL;

    g_assert_cmpint (g_mkdir (dest, 0755), ==, 0);
    g_assert_cmpint (g_mkdir (sentinel, 0755), ==, 0);
    g_assert_true (g_file_set_contents (mark, "untouched", -1, NULL));

    /* As root in the guest: links out of the tree, and a directory that a
     * loop keeps swapping for a link to the host's sentinel (as seen from
     * the destination) while the copy walks it. */
    sh_ok ("rm -rf /srv/h && mkdir -p /srv/h/d /srv/h/real && cd /srv/h && ln -s / esc && "
           "ln -s ../../.. up && ln -s ../../sentinel swap && "
           "for i in $(seq 1 300); do echo $i > d/f$i; echo $i > real/f$i; done");
    const char *argv[] = { "sh", "-c",
                           "cd /srv/h; while :; do mv d d.x; ln -s ../../sentinel d; rm d; "
                           "mv d.x d; done",
                           NULL };
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);
    g_autoptr (BoxliteExecution) swapper = boxlite_box_exec (get_box (), cmd, NULL, &error);
    g_assert_no_error (error);

    for (guint round = 0; round < 5; round++) {
        g_autoptr (GError) copy_error = NULL;
        boxlite_box_copy_out (get_box (), "/srv/h", dest, BOXLITE_COPY_NONE, NULL, &copy_error);
        /* Whether the walk saw a link or a directory, the copy is whole or
         * refused; nothing lands outside the destination. */
        if (copy_error)
            g_test_message ("round %u: %s", round, copy_error->message);
        assert_sentinel_untouched (sentinel);
        g_autofree char *d = g_build_filename (dest, "h", "d", NULL);
        struct stat st;
        if (lstat (d, &st) == 0 && S_ISLNK (st.st_mode)) {
            g_autofree char *target = g_file_read_link (d, NULL);
            g_assert_cmpstr (target, ==, "../../sentinel");
        }
        g_assert_true (g_spawn_command_line_sync (g_strdup_printf ("rm -rf %s/h", dest), NULL, NULL,
                                                  NULL, NULL));
    }
    boxlite_execution_kill (swapper, 9, NULL);
    boxlite_execution_wait (swapper, NULL, NULL);

    /* The links arrive as links, pointing where they pointed. */
    boxlite_box_copy_out (get_box (), "/srv/h", dest, BOXLITE_COPY_NONE, NULL, &error);
    g_assert_no_error (error);
    g_autofree char *esc = g_build_filename (dest, "h", "esc", NULL);
    g_autofree char *esc_target = g_file_read_link (esc, NULL);
    g_assert_cmpstr (esc_target, ==, "/");
    g_autofree char *up = g_build_filename (dest, "h", "up", NULL);
    g_autofree char *up_target = g_file_read_link (up, NULL);
    g_assert_cmpstr (up_target, ==, "../../..");
    assert_sentinel_untouched (sentinel);

    /* Copied again onto what is there now, links included: the links in
     * the destination are replaced, never followed. */
    boxlite_box_copy_out (get_box (), "/srv/h", dest, BOXLITE_COPY_NONE, NULL, &error);
    g_assert_no_error (error);
    assert_sentinel_untouched (sentinel);
    sh_ok ("rm -rf /srv/h");
    g_assert_true (
        g_spawn_command_line_sync (g_strdup_printf ("rm -rf %s", tmp), NULL, NULL, NULL, NULL));
}

static la_ssize_t
to_byte_array (struct archive *a, void *data, const void *buf, size_t len)
{
    g_byte_array_append (data, buf, (guint) len);
    return (la_ssize_t) len;
}

/* A tar stream with one file entry "link/x", and no entry for "link". */
static GBytes *
tar_under_link (void)
{
    GByteArray *out = g_byte_array_new ();
    struct archive *a = archive_write_new ();
    struct archive_entry *e = archive_entry_new ();

    archive_write_set_format_pax_restricted (a);
    archive_write_open (a, out, NULL, to_byte_array, NULL);
    archive_entry_set_pathname (e, "link/x");
    archive_entry_set_filetype (e, AE_IFREG);
    archive_entry_set_perm (e, 0644);
    archive_entry_set_size (e, 3);
    archive_write_header (a, e);
    archive_write_data (a, "bad", 3);
    archive_entry_free (e);
    archive_write_close (a);
    archive_write_free (a);
    return g_byte_array_free_to_bytes (out);
}

static void
test_copy_in_not_redirected (void)
{
    g_autofree char *tmp = make_tmp ("in");
    g_autofree char *src = g_build_filename (tmp, "src", NULL);
    g_autofree char *sub = g_build_filename (src, "link", NULL);
    g_autofree char *x = g_build_filename (sub, "x", NULL);
    g_autoptr (GError) error = NULL;

    g_assert_cmpint (g_mkdir_with_parents (sub, 0755), ==, 0);
    g_assert_true (g_file_set_contents (x, "bad", -1, NULL));
    sh_ok ("rm -rf /dst /etc/x && mkdir /dst && ln -s /etc /dst/link");

    /* The raw stream: an entry under the guest's link is refused. */
    g_autoptr (GBytes) tar = tar_under_link ();
    g_autoptr (GInputStream) in = g_memory_input_stream_new_from_bytes (tar);
    g_assert_false (
        boxlite_box_copy_in_tar (get_box (), in, "/dst", BOXLITE_COPY_NONE, NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "symbolic link"));
    g_clear_error (&error);
    g_autofree char *check =
        run_simple (get_box (), "test -e /etc/x && echo BAD; readlink /dst/link", NULL);
    g_assert_cmpstr (check, ==, "/etc\n");

    /* A tree whose directory "link" meets the guest's link: the link is
     * replaced by the directory, /etc gets nothing. */
    g_autofree char *contents = g_strdup_printf ("%s/.", src);
    boxlite_box_copy_in (get_box (), contents, "/dst", BOXLITE_COPY_NONE, NULL, &error);
    g_assert_no_error (error);
    g_autofree char *after =
        run_simple (get_box (),
                    "test -e /etc/x && echo BAD; test -L /dst/link && echo LINK; "
                    "cat /dst/link/x; ls /etc | wc -l > /dev/null",
                    NULL);
    g_assert_cmpstr (after, ==, "bad");
    sh_ok ("rm -rf /dst");
    g_assert_true (
        g_spawn_command_line_sync (g_strdup_printf ("rm -rf %s", tmp), NULL, NULL, NULL, NULL));
}

static void
test_read_write_file (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) data = g_bytes_new_static ("hello\0world\n", 12);

    sh_ok ("rm -rf /srv/rw && mkdir /srv/rw && ln -s /etc/passwd /srv/rw/link");
    boxlite_box_write_file (get_box (), "/srv/rw/a.bin", data, 0640, NULL, &error);
    g_assert_no_error (error);
    g_autofree char *st = run_simple (get_box (), "stat -c '%a %s' /srv/rw/a.bin", NULL);
    g_assert_cmpstr (st, ==, "640 12\n");
    g_autoptr (GBytes) back = boxlite_box_read_file (get_box (), "/srv/rw/a.bin", 12, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (g_bytes_equal (back, data));

    /* The size cap. */
    g_autoptr (GBytes) none = boxlite_box_read_file (get_box (), "/srv/rw/a.bin", 11, NULL, &error);
    g_assert_null (none);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE);
    g_clear_error (&error);
    g_assert_null (boxlite_box_read_file (get_box (), "/srv/rw", 100, NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
    g_clear_error (&error);
    g_assert_null (boxlite_box_read_file (get_box (), "/srv/rw/missing", 100, NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND);
    g_clear_error (&error);

    /* A link at the path is replaced, not followed. */
    boxlite_box_write_file (get_box (), "/srv/rw/link", data, 0600, NULL, &error);
    g_assert_no_error (error);
    g_autofree char *check = run_simple (
        get_box (), "test -L /srv/rw/link || echo replaced; head -c4 /etc/passwd", NULL);
    g_assert_cmpstr (check, ==, "replaced\nroot");
    g_assert_false (boxlite_box_write_file (get_box (), "/srv/rw", data, 0600, NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    sh_ok ("rm -rf /srv/rw");
}

static void
on_copied (GObject *source, GAsyncResult *result, gpointer data)
{
    GError **error = data;
    boxlite_box_copy_out_finish (BOXLITE_BOX (source), result, error);
    *(gboolean *) g_object_get_data (source, "done") = TRUE;
}

/* The cp rules for destinations, and the async call. */
static void
test_destinations (void)
{
    g_autofree char *tmp = make_tmp ("dest");
    g_autofree char *file = g_build_filename (tmp, "file", NULL);
    g_autoptr (GError) error = NULL;

    g_assert_true (g_file_set_contents (file, "content", -1, NULL));
    sh_ok ("rm -rf /srv/c && mkdir -p /srv/c/dir && echo old > /srv/c/existing");

    /* Into an existing directory; as a new name; over an existing file. */
    boxlite_box_copy_in (get_box (), file, "/srv/c/dir", BOXLITE_COPY_NONE, NULL, &error);
    g_assert_no_error (error);
    boxlite_box_copy_in (get_box (), file, "/srv/c/renamed", BOXLITE_COPY_NONE, NULL, &error);
    g_assert_no_error (error);
    boxlite_box_copy_in (get_box (), file, "/srv/c/existing", BOXLITE_COPY_NONE, NULL, &error);
    g_assert_no_error (error);
    g_autofree char *out =
        run_simple (get_box (), "cat /srv/c/dir/file /srv/c/renamed /srv/c/existing", NULL);
    g_assert_cmpstr (out, ==, "contentcontentcontent");

    /* A trailing slash on a destination that does not exist or is a file. */
    g_assert_false (
        boxlite_box_copy_in (get_box (), file, "/srv/c/nodir/", BOXLITE_COPY_NONE, NULL, &error));
    g_assert_nonnull (error);
    g_clear_error (&error);
    g_assert_false (boxlite_box_copy_in (get_box (), file, "/srv/c/existing/", BOXLITE_COPY_NONE,
                                         NULL, &error));
    g_assert_nonnull (error);
    g_clear_error (&error);
    /* A directory onto a file. */
    g_assert_false (
        boxlite_box_copy_in (get_box (), tmp, "/srv/c/existing", BOXLITE_COPY_NONE, NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    /* A missing source in the box. */
    g_assert_false (
        boxlite_box_copy_out (get_box (), "/srv/c/missing", tmp, BOXLITE_COPY_NONE, NULL, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND);
    g_clear_error (&error);
    /* A file's name with a trailing slash. */
    g_assert_false (boxlite_box_copy_out (get_box (), "/srv/c/existing/", tmp, BOXLITE_COPY_NONE,
                                          NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY);
    g_clear_error (&error);
    g_autofree char *slash = g_strdup_printf ("%s/", file);
    g_assert_false (boxlite_box_copy_out (get_box (), "/srv/c/existing", slash, BOXLITE_COPY_NONE,
                                          NULL, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY);
    g_clear_error (&error);

    /* Async, out of the box over the host's file. */
    gboolean done = FALSE;
    g_object_set_data (G_OBJECT (get_box ()), "done", &done);
    boxlite_box_copy_out_async (get_box (), "/srv/c/existing", file, BOXLITE_COPY_NONE, NULL,
                                on_copied, &error);
    while (!done)
        g_main_context_iteration (NULL, TRUE);
    g_assert_no_error (error);
    g_autofree char *text = NULL;
    g_assert_true (g_file_get_contents (file, &text, NULL, NULL));
    g_assert_cmpstr (text, ==, "content");
    sh_ok ("rm -rf /srv/c");
    g_assert_true (
        g_spawn_command_line_sync (g_strdup_printf ("rm -rf %s", tmp), NULL, NULL, NULL, NULL));
}

int
main (int argc, char **argv)
{
    g_autoptr (GError) error = NULL;

    g_test_init (&argc, &argv, NULL);
    home = g_dir_make_tmp ("boxlite-files-XXXXXX", &error);
    g_assert_no_error (error);

    /* The 1 GiB copy first, before other tests raise the peak. */
    g_test_add_func ("/files/big-file", test_big_file);
    g_test_add_func ("/files/tree-round-trip", test_tree_round_trip);
    g_test_add_func ("/files/hostile-out", test_hostile_out);
    g_test_add_func ("/files/copy-in-not-redirected", test_copy_in_not_redirected);
    g_test_add_func ("/files/read-write-file", test_read_write_file);
    g_test_add_func ("/files/destinations", test_destinations);
    int rc = g_test_run ();

    if (box) {
        boxlite_box_stop (box, TRUE, NULL, NULL);
        g_object_unref (box);
    }
    g_clear_object (&runtime);
    g_autofree char *cmd = g_strdup_printf ("rm -rf %s", home);
    g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
    g_free (home);
    return rc;
}

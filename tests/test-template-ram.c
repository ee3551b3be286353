/* test-template-ram.c: the template RAM a copy's QEMU is given: a sealed
 * memfd that holds the RAM file's bytes, which no descriptor of it can
 * write (as QEMU's own read-write reopen through /proc/self/fd would),
 * while a private mapping still copies on write; the one a live holder
 * has is shared, and records that lead to anything else are dropped. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <unistd.h>

#include "template-ram.h"

#define RAM_SIZE (64u << 20)
#define PAGE 4096

static char *dir;

/* A sparse RAM file with @mark at a few pages, as a template leaves it. */
static char *
make_ram (const char *name, guint8 mark)
{
    char *path = g_build_filename (dir, name, NULL);
    int fd = open (path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    guint8 page[PAGE];

    g_assert_cmpint (fd, >=, 0);
    g_assert_cmpint (ftruncate (fd, RAM_SIZE), ==, 0);
    memset (page, mark, sizeof page);
    const off_t at[] = { 0, 5 * PAGE, 17 << 20, RAM_SIZE - PAGE };
    for (guint i = 0; i < G_N_ELEMENTS (at); i++)
        g_assert_cmpint (pwrite (fd, page, sizeof page, at[i]), ==, PAGE);
    close (fd);
    return path;
}

/* share, then fill when the memfd is new: what a monitor does by the time
 * its copy runs. */
static int
share (const char *ram, const char *holders, char **record, GError **error)
{
    BlTemplateRamFill *fill = NULL;
    int fd = bl_template_ram_share (ram, holders, record, &fill, error);

    if (fd >= 0 && fill && !bl_template_ram_fill (fill, error)) {
        close (fd);
        return -1;
    }
    return fd;
}

static guint8
byte_at (int fd, off_t off)
{
    guint8 b = 0xee;
    g_assert_cmpint (pread (fd, &b, 1, off), ==, 1);
    return b;
}

static void
assert_unwritable (int fd)
{
    guint8 page[PAGE] = { 0 };

    errno = 0;
    g_assert_cmpint (pwrite (fd, page, sizeof page, 0), <, 0);
    g_assert_cmpint (errno, ==, EPERM);
    g_assert_true (mmap (NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
    g_assert_cmpint (errno, ==, EPERM);
    g_assert_cmpint (ftruncate (fd, 0), <, 0);
    g_assert_cmpint (fallocate (fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, PAGE), <, 0);
    g_assert_cmpint (fcntl (fd, F_ADD_SEALS, 0), <, 0); /* no seal can be lifted or added */
}

static void
test_sealed (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *ram = make_ram ("sealed.ram", 0x5a);
    g_autofree char *holders = g_build_filename (dir, "holders", NULL);
    g_autofree char *record = NULL;
    BlTemplateRamFill *fill = NULL;
    int fd = bl_template_ram_share (ram, holders, &record, &fill, &error);

    g_assert_no_error (error);
    g_assert_cmpint (fd, >=, 0);
    g_assert_nonnull (fill);
    /* New, it is nobody's to find until it is sealed; QEMU maps it while
     * it is filled, and sees the bytes once they are there. */
    g_assert_false (bl_template_ram_is_sealed (fd, RAM_SIZE));
    g_assert_false (g_file_test (record, G_FILE_TEST_EXISTS));
    g_autofree char *early_path = g_strdup_printf ("/proc/self/fd/%d", fd);
    int early = open (early_path, O_RDWR | O_CLOEXEC);
    guint8 *early_map = mmap (NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, early, 0);
    g_assert_true (early_map != MAP_FAILED);
    g_assert_true (bl_template_ram_fill (fill, &error));
    g_assert_no_error (error);
    g_assert_true (g_file_test (record, G_FILE_TEST_IS_REGULAR));
    g_assert_cmpint (early_map[5 * PAGE], ==, 0x5a);
    munmap (early_map, RAM_SIZE);
    close (early);
    g_assert_true (bl_template_ram_is_sealed (fd, RAM_SIZE));
    g_assert_cmpint (byte_at (fd, 0), ==, 0x5a);
    g_assert_cmpint (byte_at (fd, 5 * PAGE + 7), ==, 0x5a);
    g_assert_cmpint (byte_at (fd, 17 << 20), ==, 0x5a);
    g_assert_cmpint (byte_at (fd, RAM_SIZE - 1), ==, 0x5a);
    g_assert_cmpint (byte_at (fd, PAGE), ==, 0);
    assert_unwritable (fd);

    /* What QEMU does: open the path read-write, map it privately. */
    g_autofree char *proc = g_strdup_printf ("/proc/self/fd/%d", fd);
    int again = open (proc, O_RDWR | O_CLOEXEC);
    g_assert_cmpint (again, >=, 0);
    assert_unwritable (again);
    guint8 *map = mmap (NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, again, 0);
    g_assert_true (map != MAP_FAILED);
    g_assert_cmpint (map[0], ==, 0x5a);
    map[0] = 1;
    g_assert_cmpint (byte_at (fd, 0), ==, 0x5a);
    munmap (map, RAM_SIZE);
    close (again);

    /* The holder's record, and the RAM file untouched. */
    g_autofree char *text = NULL;
    g_assert_true (g_file_get_contents (record, &text, NULL, NULL));
    g_autofree char *fd_text = g_strdup_printf ("%d ", fd);
    g_assert_true (g_str_has_prefix (text, fd_text));
    int rfd = open (ram, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint (byte_at (rfd, 0), ==, 0x5a);
    close (rfd);

    bl_template_ram_release (fd, record);
    g_assert_false (g_file_test (record, G_FILE_TEST_EXISTS));
    g_unlink (ram);
}

/* A copy started while another runs maps the same memfd; a changed RAM
 * file gets a memfd of its own. */
static void
test_shared (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *ram = make_ram ("shared.ram", 0x11);
    g_autofree char *holders = g_build_filename (dir, "holders-shared", NULL);
    g_autofree char *r1 = NULL, *r2 = NULL, *r3 = NULL, *r4 = NULL;

    /* A holder in another process, as another box's monitor. */
    int ready[2];
    g_assert_cmpint (pipe (ready), ==, 0);
    pid_t holder = fork ();
    if (holder == 0) {
        g_autofree char *rec = NULL;
        int fd = share (ram, holders, &rec, NULL);
        char c = fd >= 0 ? 'y' : 'n';
        if (write (ready[1], &c, 1) != 1)
            _exit (1);
        pause ();
        _exit (0);
    }
    char c = 0;
    g_assert_cmpint (read (ready[0], &c, 1), ==, 1);
    g_assert_cmpint (c, ==, 'y');
    close (ready[0]);
    close (ready[1]);

    int a = share (ram, holders, &r1, &error);
    g_assert_no_error (error);
    struct stat sa, sh;
    g_assert_cmpint (fstat (a, &sa), ==, 0);
    g_autofree char *theirs = g_strdup_printf ("%s/%d", holders, (int) holder);
    g_assert_true (g_file_test (theirs, G_FILE_TEST_IS_REGULAR));
    g_autofree char *text = NULL;
    g_assert_true (g_file_get_contents (theirs, &text, NULL, NULL));
    g_autofree char *proc = g_strdup_printf ("/proc/%d/fd/%d", (int) holder, atoi (text));
    int h = open (proc, O_RDONLY | O_CLOEXEC);
    g_assert_cmpint (fstat (h, &sh), ==, 0);
    close (h);
    g_assert_cmpuint (sa.st_ino, ==, sh.st_ino);

    /* The holder dies: ours still leads to the same memfd. */
    kill (holder, SIGKILL);
    waitpid (holder, NULL, 0);
    int b = share (ram, holders, &r2, &error);
    g_assert_no_error (error);
    struct stat sb;
    g_assert_cmpint (fstat (b, &sb), ==, 0);
    g_assert_cmpuint (sb.st_ino, ==, sa.st_ino);
    close (b);

    /* Once we let go too, the dead one's record leads nowhere and goes. */
    bl_template_ram_release (a, r1);
    int fresh = share (ram, holders, &r4, &error);
    g_assert_no_error (error);
    g_assert_false (g_file_test (theirs, G_FILE_TEST_EXISTS));
    g_assert_cmpint (byte_at (fresh, 0), ==, 0x11);
    bl_template_ram_release (fresh, r4);

    /* The template was made again: same path, new bytes. */
    g_unlink (ram);
    g_free (make_ram ("shared.ram", 0x22));
    int n = share (ram, holders, &r3, &error);
    g_assert_no_error (error);
    struct stat sn;
    g_assert_cmpint (fstat (n, &sn), ==, 0);
    g_assert_cmpuint (sn.st_ino, !=, sa.st_ino);
    g_assert_cmpint (byte_at (n, 0), ==, 0x22);

    bl_template_ram_release (n, r3);
    g_unlink (ram);
    g_rmdir (holders);
}

/* Records that lead to anything but our sealed memfd of this RAM file are
 * dropped, and a new memfd is made. */
static void
test_records_refused (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *ram = make_ram ("refused.ram", 0x33);
    g_autofree char *holders = g_build_filename (dir, "holders-refused", NULL);
    g_autofree char *record = NULL;
    int fd = share (ram, holders, &record, &error);
    g_assert_no_error (error);
    g_autofree char *line = NULL;
    g_assert_true (g_file_get_contents (record, &line, NULL, NULL));
    const char *identity = strchr (line, ' ') + 1;
    bl_template_ram_release (fd, record);
    g_clear_pointer (&record, g_free);

    /* An unsealed file of the right size, a memfd of the wrong size, and
     * the sealed memfd of another RAM file, all in this process. */
    int plain = open (ram, O_RDONLY | O_CLOEXEC);
    int small = memfd_create ("boxlite-ram-x", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    g_assert_cmpint (ftruncate (small, PAGE), ==, 0);
    fcntl (small, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
    g_autofree char *other_ram = make_ram ("other.ram", 0x44);
    g_autofree char *other_holders = g_build_filename (dir, "holders-other", NULL);
    g_autofree char *other_record = NULL;
    int other = share (other_ram, other_holders, &other_record, &error);
    g_assert_no_error (error);

    g_assert_cmpint (g_mkdir_with_parents (holders, 0700), ==, 0);
    const int fds[] = { plain, small, other, 999 };
    ino_t planted[3];
    for (guint i = 0; i < G_N_ELEMENTS (planted); i++) {
        struct stat sp;
        g_assert_cmpint (fstat (fds[i], &sp), ==, 0);
        planted[i] = sp.st_ino;
    }
    for (guint i = 0; i < G_N_ELEMENTS (fds); i++) {
        /* A live PID that is not ours: the record names a descriptor of
         * this process through it only when the PID is this one. */
        g_autofree char *name = g_strdup_printf ("%s/%d", holders, (int) getpid ());
        g_autofree char *text = g_strdup_printf ("%d %s", fds[i], identity);
        g_assert_true (g_file_set_contents (name, text, -1, NULL));
        g_autofree char *junk = g_build_filename (holders, "not-a-pid", NULL);
        g_assert_true (g_file_set_contents (junk, "1 x", -1, NULL));
        g_autofree char *bad = g_build_filename (holders, "1", NULL);
        g_assert_true (g_file_set_contents (bad, "0 another-identity", -1, NULL));

        int got = share (ram, holders, &record, &error);
        g_assert_no_error (error);
        struct stat sg;
        g_assert_cmpint (fstat (got, &sg), ==, 0);
        for (guint k = 0; k < G_N_ELEMENTS (planted); k++)
            g_assert_cmpuint (sg.st_ino, !=, planted[k]);
        g_assert_true (bl_template_ram_is_sealed (got, RAM_SIZE));
        g_assert_cmpint (byte_at (got, 0), ==, 0x33);
        g_assert_false (g_file_test (junk, G_FILE_TEST_EXISTS));
        g_assert_false (g_file_test (bad, G_FILE_TEST_EXISTS));
        bl_template_ram_release (got, record);
        g_clear_pointer (&record, g_free);
    }
    close (plain);
    close (small);
    bl_template_ram_release (other, other_record);
    g_unlink (ram);
    g_unlink (other_ram);
    g_rmdir (holders);
    g_rmdir (other_holders);
}

/* A memfd that could not be sealed is nobody's: no record says it is
 * held, and the caller is told (its copy then boots cold). */
static void
test_fill_fails (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *ram = make_ram ("fails.ram", 0x66);
    g_autofree char *holders = g_build_filename (dir, "holders-fails", NULL);
    g_autofree char *record = NULL;
    BlTemplateRamFill *fill = NULL;
    int fd = bl_template_ram_share (ram, holders, &record, &fill, &error);

    g_assert_cmpint (fd, >=, 0);
    g_assert_nonnull (fill);
    /* No more seals can be added: the write seal will not take. */
    g_assert_cmpint (fcntl (fd, F_ADD_SEALS, F_SEAL_SEAL), ==, 0);
    g_assert_false (bl_template_ram_fill (fill, &error));
    g_assert_nonnull (error);
    g_assert_false (g_file_test (record, G_FILE_TEST_EXISTS));
    g_assert_false (bl_template_ram_is_sealed (fd, RAM_SIZE));

    /* The next one does not find it and makes its own. */
    g_clear_error (&error);
    g_autofree char *next_record = NULL;
    int next = share (ram, holders, &next_record, &error);
    g_assert_no_error (error);
    struct stat a, b;
    g_assert_cmpint (fstat (fd, &a), ==, 0);
    g_assert_cmpint (fstat (next, &b), ==, 0);
    g_assert_cmpuint (a.st_ino, !=, b.st_ino);
    g_assert_true (bl_template_ram_is_sealed (next, RAM_SIZE));
    bl_template_ram_release (fd, NULL);
    bl_template_ram_release (next, next_record);
    g_unlink (ram);
    g_rmdir (holders);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    dir = g_dir_make_tmp ("boxlite-ram-XXXXXX", NULL);
    g_test_add_func ("/template-ram/sealed", test_sealed);
    g_test_add_func ("/template-ram/shared", test_shared);
    g_test_add_func ("/template-ram/records-refused", test_records_refused);
    g_test_add_func ("/template-ram/fill-fails", test_fill_fails);
    int rc = g_test_run ();
    g_autofree char *holders = g_build_filename (dir, "holders", NULL);
    g_rmdir (holders);
    g_rmdir (dir);
    g_free (dir);
    return rc;
}

/* template-ram.c: the template RAM a copy's QEMU maps, sealed against writes.
 *
 * A copy maps its template's RAM privately: its own writes are its own.
 * But QEMU 7.2 opens a memory-backend-file read-write whatever the
 * mapping, and keeps that descriptor: a QEMU taken over by its guest could
 * write the shared file, and every box started later from the template
 * would run the attacker's pages. A memfd sealed with F_SEAL_WRITE refuses
 * write(), fallocate() and writable shared mappings on every descriptor of
 * it, while private mappings still copy on write. So the copy's QEMU is
 * given such a memfd (mem-path=/proc/self/fd/N, which QEMU reopens
 * read-write: the seals still hold), never the file.
 *
 * A memfd lives as long as someone holds it, and copies that run at the
 * same time must map the same one to share its pages. So each monitor of
 * a copy keeps its memfd open and says so in HOLDERS/PID ("FD IDENTITY");
 * the next copy opens /proc/PID/fd/FD of a holder that is alive, and only
 * when none is makes a new memfd from the file, while its QEMU starts. A
 * descriptor found that way is used only if it is a memfd of this user,
 * named after this very RAM file, of its size, and sealed: a record left
 * by a dead monitor whose PID came back names something else.
 */
#define G_LOG_DOMAIN "boxlite-shim"

#include "template-ram.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file-identity.h"
#include "os-error.h"

#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)
#define RECORD_MAX 256

gboolean
bl_template_ram_is_sealed (int fd, guint64 size)
{
    struct stat st;
    int seals = fcntl (fd, F_GET_SEALS);

    return seals >= 0 && (seals & SEALS) == SEALS && fstat (fd, &st) == 0 && S_ISREG (st.st_mode) &&
           st.st_uid == geteuid () && (guint64) st.st_size == size;
}

static char *
memfd_name (const char *identity)
{
    g_autofree char *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, identity, -1);
    return g_strdup_printf ("boxlite-ram-%.32s", sum);
}

/* Whether @fd (opened through another process) is the memfd we want. */
static gboolean
is_ours (int fd, const char *name, guint64 size)
{
    g_autofree char *link = g_strdup_printf ("/proc/self/fd/%d", fd);
    g_autofree char *target = g_file_read_link (link, NULL);
    g_autofree char *want = g_strdup_printf ("/memfd:%s (deleted)", name);

    return target && g_str_equal (target, want) && bl_template_ram_is_sealed (fd, size);
}

/* A live holder's memfd, or -1; records that lead nowhere are removed. */
static int
find_holder (const char *holders_dir, const char *identity, const char *name, guint64 size)
{
    g_autoptr (GDir) dir = g_dir_open (holders_dir, 0, NULL);
    const char *entry;

    while (dir && (entry = g_dir_read_name (dir))) {
        g_autofree char *path = g_build_filename (holders_dir, entry, NULL);
        guint64 pid = 0;
        if (!g_ascii_string_to_unsigned (entry, 10, 1, G_MAXINT, &pid, NULL)) {
            g_unlink (path);
            continue;
        }
        char text[RECORD_MAX + 1];
        int rfd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        ssize_t n = rfd < 0 ? -1 : read (rfd, text, RECORD_MAX);
        if (rfd >= 0)
            close (rfd);
        text[MAX (n, 0)] = '\0';
        char *space = strchr (text, ' ');
        guint64 held = 0;
        if (space)
            *space = '\0';
        if (n <= 0 || !space || !g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT, &held, NULL) ||
            strcmp (g_strchomp (space + 1), identity) != 0) {
            g_unlink (path);
            continue;
        }
        g_autofree char *proc = g_strdup_printf ("/proc/%d/fd/%d", (int) pid, (int) held);
        int fd = open (proc, O_RDWR | O_CLOEXEC);
        if (fd >= 0 && is_ours (fd, name, size))
            return fd;
        if (fd >= 0)
            close (fd);
        g_unlink (path);
    }
    return -1;
}

/* Moves [@from, @to) of @src to the same place in @dst within the kernel. */
static gboolean
send_range (int src, int dst, off_t from, off_t to)
{
    if (lseek (dst, from, SEEK_SET) != from)
        return FALSE;
    for (off_t off = from; off < to;) {
        ssize_t n = sendfile (dst, src, &off, (size_t) MIN (to - off, (off_t) G_MAXINT32));
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            errno = EIO; /* the file ended early: it shrank under us */
        if (n <= 0)
            return FALSE;
    }
    return TRUE;
}

/* Says that this process holds the memfd @fd, a copy of @identity. */
static gboolean
write_record (const char *record, int fd, const char *identity, GError **error)
{
    g_autofree char *text = g_strdup_printf ("%d %s\n", fd, identity);
    return g_file_set_contents_full (record, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

struct _BlTemplateRamFill {
    int ram;   /* the RAM file, read */
    int memfd; /* the caller's descriptor (not owned) */
    guint64 size;
    char *ram_path;
    char *record; /* written once sealed */
    char *identity;
};

void
bl_template_ram_fill_free (BlTemplateRamFill *fill)
{
    if (!fill)
        return;
    if (fill->ram >= 0)
        close (fill->ram);
    g_free (fill->ram_path);
    g_free (fill->record);
    g_free (fill->identity);
    g_free (fill);
}

gboolean
bl_template_ram_fill (BlTemplateRamFill *fill, GError **error)
{
    g_autoptr (BlTemplateRamFill) f = fill;
    gboolean ok = TRUE;

    errno = 0; /* a failure below says its own errno, not an earlier one */

    /* Only what the template touched: its file is sparse (about 34 MiB of
     * 512, moved in about 10 ms). */
    for (off_t off = 0; ok && off < (off_t) f->size;) {
        /* A file system that does not track holes reports it all as data. */
        off_t data = lseek (f->ram, off, SEEK_DATA);
        if (data < 0) {
            ok = errno == ENXIO;
            break;
        }
        off_t hole = lseek (f->ram, data, SEEK_HOLE);
        ok = hole > data && send_range (f->ram, f->memfd, data, MIN (hole, (off_t) f->size));
        off = hole;
    }
    if (!ok || fcntl (f->memfd, F_ADD_SEALS, SEALS) < 0 ||
        !bl_template_ram_is_sealed (f->memfd, f->size)) {
        bl_os_error (error, errno ? errno : EIO, "copy the template's RAM from", f->ram_path);
        return FALSE;
    }
    return write_record (f->record, f->memfd, f->identity, error);
}

int
bl_template_ram_share (const char *ram_path, const char *holders_dir, char **record,
                       BlTemplateRamFill **fill, GError **error)
{
    g_return_val_if_fail (ram_path && holders_dir && record && fill, -1);

    *record = NULL;
    *fill = NULL;
    int ram = open (ram_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (ram < 0) {
        bl_os_error (error, errno, "open", ram_path);
        return -1;
    }
    /* The RAM file as it is now: a holder's memfd is a copy of this only. */
    struct stat st;
    if (fstat (ram, &st) < 0) {
        bl_os_error (error, errno, "stat", ram_path);
        close (ram);
        return -1;
    }
    guint64 size = (guint64) st.st_size;
    g_autofree char *identity = bl_file_identity (&st);
    g_autofree char *name = memfd_name (identity);
    if (g_mkdir_with_parents (holders_dir, 0700) < 0) {
        bl_os_error (error, errno, "create", holders_dir);
        close (ram);
        return -1;
    }
    g_autofree char *mine = g_strdup_printf ("%d", (int) getpid ());
    g_autofree char *path = g_build_filename (holders_dir, mine, NULL);
    int fd = find_holder (holders_dir, identity, name, size);
    if (fd >= 0) {
        close (ram);
        if (!write_record (path, fd, identity, error)) {
            close (fd);
            return -1;
        }
        *record = g_steal_pointer (&path);
        return fd;
    }
    fd = memfd_create (name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ftruncate (fd, (off_t) size) < 0) {
        bl_os_error (error, errno, "make a memfd for", ram_path);
        if (fd >= 0)
            close (fd);
        close (ram);
        return -1;
    }
    BlTemplateRamFill *f = g_new0 (BlTemplateRamFill, 1);
    f->ram = ram;
    f->memfd = fd;
    f->size = size;
    f->ram_path = g_strdup (ram_path);
    f->record = g_strdup (path);
    f->identity = g_steal_pointer (&identity);
    *fill = f;
    *record = g_steal_pointer (&path);
    return fd;
}

void
bl_template_ram_release (int fd, const char *record)
{
    if (record)
        g_unlink (record);
    if (fd >= 0)
        close (fd);
}

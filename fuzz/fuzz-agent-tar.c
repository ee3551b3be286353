/* fuzz-agent-tar.c: the guest agent's tar reader, which unpacks what a copy
 * into the box sends, on arbitrary bytes: headers, checksums, numbers, pax
 * records and GNU long names. Built as a libFuzzer target with
 * -Dfuzzing=true (clang); otherwise a driver checks that archives written
 * by the agent's own writer read back as written (long names and links,
 * large owners, nanosecond times), then replays mutations of them. */
#include <glib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agent.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

typedef struct {
    const guint8 *data;
    size_t size;
    size_t off;
} Memory;

static ssize_t
memory_read (void *ctx, void *buf, size_t len)
{
    Memory *m = ctx;
    size_t n = MIN (len, m->size - m->off);

    memcpy (buf, m->data + m->off, n);
    m->off += n;
    return (ssize_t) n;
}

/* Reads every entry and its data; returns the entries read, or -1 when the
 * archive was refused. */
static int
read_all (const guint8 *data, size_t size)
{
    Memory m = { data, size, 0 };
    struct agent_tar_in in = { .read = memory_read, .ctx = &m };
    static struct agent_tar_entry e;
    char err[256];
    guint8 buf[4096];
    int n = 0, rc;

    while ((rc = agent_tar_next (&in, &e, err, sizeof err)) == 1) {
        g_assert_cmpuint (strlen (e.name), <=, AGENT_TAR_MAX_NAME);
        g_assert_cmpuint (strlen (e.link), <=, AGENT_TAR_MAX_NAME);
        g_assert_cmpuint (e.mode, <=, 07777);
        ssize_t got;
        while ((got = agent_tar_read_data (&in, buf, sizeof buf)) > 0)
            ;
        if (got < 0)
            return -1;
        n++;
    }
    return rc < 0 ? -1 : n;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
    read_all (data, size);
    return 0;
}

#ifndef BOXLITE_LIBFUZZER
static void
add (struct agent_tar_out *out, const struct agent_tar_entry *e, const char *data)
{
    g_assert_cmpint (agent_tar_write_header (out, e), ==, 0);
    if (e->type == AGENT_TAR_REG) {
        g_assert_cmpint (agent_tar_write_data (out, data, e->size), ==, 0);
        g_assert_cmpint (agent_tar_pad (out, e->size), ==, 0);
    }
}

/* An archive of the writer's hard cases; checks it reads back whole. */
static GBytes *
seed_archive (void)
{
    static struct agent_tar_out out;
    static struct agent_tar_entry e[5];
    int fd = memfd_create ("tar", MFD_CLOEXEC);

    g_assert_cmpint (fd, >=, 0);
    out.fd = fd;
    out.len = 0;
    memset (e, 0, sizeof e);
    strcpy (e[0].name, "dir");
    e[0].type = AGENT_TAR_DIR, e[0].mode = 0755, e[0].mtime = 1700000000;
    memset (e[1].name, 'n', 300);
    e[1].name[3] = '/';
    e[1].type = AGENT_TAR_REG, e[1].mode = 0600, e[1].size = 5;
    e[1].mtime = 1700000001, e[1].mtime_nsec = 123456789, e[1].uid = 4000000000u;
    strcpy (e[2].name, "dir/link");
    memset (e[2].link, 'T', 200);
    e[2].type = AGENT_TAR_SYMLINK, e[2].mode = 0777;
    strcpy (e[3].name, "dir/empty");
    e[3].type = AGENT_TAR_REG, e[3].mode = 0644;
    strcpy (e[4].name, "dir/fifo");
    e[4].type = AGENT_TAR_FIFO, e[4].mode = 0640;
    for (guint i = 0; i < G_N_ELEMENTS (e); i++)
        add (&out, &e[i], "hello");
    g_assert_cmpint (agent_tar_finish (&out), ==, 0);

    off_t len = lseek (fd, 0, SEEK_END);
    guint8 *bytes = g_malloc (len);
    g_assert_cmpint (pread (fd, bytes, len, 0), ==, len);
    close (fd);

    Memory m = { bytes, (size_t) len, 0 };
    struct agent_tar_in in = { .read = memory_read, .ctx = &m };
    static struct agent_tar_entry got;
    char err[256], data[8];
    for (guint i = 0; i < G_N_ELEMENTS (e); i++) {
        g_assert_cmpint (agent_tar_next (&in, &got, err, sizeof err), ==, 1);
        g_assert_cmpstr (got.name, ==, e[i].name);
        g_assert_cmpstr (got.link, ==, e[i].link);
        g_assert_cmpint (got.type, ==, e[i].type);
        g_assert_cmpuint (got.mode, ==, e[i].mode);
        g_assert_cmpuint (got.uid, ==, e[i].uid);
        g_assert_cmpint (got.mtime, ==, e[i].mtime);
        g_assert_cmpint (got.mtime_nsec, ==, e[i].mtime_nsec);
        g_assert_cmpuint (got.size, ==, e[i].size);
        if (got.size)
            g_assert_cmpint (agent_tar_read_data (&in, data, sizeof data), ==, 5);
    }
    g_assert_cmpint (agent_tar_next (&in, &got, err, sizeof err), ==, 0);
    return g_bytes_new_take (bytes, (gsize) len);
}

int
main (int argc, char **argv)
{
    guint runs = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 20000;
    g_autoptr (GRand) rand = g_rand_new_with_seed (argc > 2 ? (guint32) atoi (argv[2]) : 1);
    g_autoptr (GBytes) seed = seed_archive ();
    gsize len = 0;
    const guint8 *orig = g_bytes_get_data (seed, &len);
    guint refused = 0;

    g_assert_cmpint (read_all (orig, len), ==, 5);
    for (guint i = 0; i < runs; i++) {
        g_autofree guint8 *buf = g_memdup2 (orig, len);
        gsize use = len;
        guint flips = g_rand_int_range (rand, 1, 8);
        for (guint f = 0; f < flips; f++)
            buf[g_rand_int_range (rand, 0, (gint32) len)] = (guint8) g_rand_int (rand);
        if (g_rand_boolean (rand))
            use = g_rand_int_range (rand, 0, (gint32) len + 1);
        if (read_all (buf, use) < 0)
            refused++;
    }
    g_print ("%u archives replayed, %u refused\n", runs, refused);
    return 0;
}
#endif

/* main-log.c: the record format of a box's command output (main-log.h). */
#define G_LOG_DOMAIN "boxlite"

#include "main-log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bl_proto.h"
#include <boxlite/boxlite-error.h>
#include "os-error.h"

/* Neither file is ever larger than this; one that is was not written by a
 * monitor, and is not read. */
#define FILE_MAX (BL_MAIN_LOG_MAX + BL_MAIN_LOG_HEADER_SIZE + BL_MAIN_LOG_RECORD_MAX)

void
bl_main_log_encode_header (guint8 out[BL_MAIN_LOG_HEADER_SIZE], BlMainLogStream stream, guint32 len,
                           gint64 time_us)
{
    out[0] = 'B';
    out[1] = 'L';
    out[2] = 'G';
    out[3] = (guint8) stream;
    bl_proto_put_u32 (out + 4, len);
    bl_proto_put_u32 (out + 8, (guint32) ((guint64) time_us >> 32));
    bl_proto_put_u32 (out + 12, (guint32) (guint64) time_us);
}

gsize
bl_main_log_parse (const guint8 *data, gsize len, BlMainLogFunc func, gpointer user_data,
                   GError **error)
{
    gsize at = 0;

    while (len - at >= BL_MAIN_LOG_HEADER_SIZE) {
        const guint8 *h = data + at;
        guint32 n = bl_proto_get_u32 (h + 4);
        if (h[0] != 'B' || h[1] != 'L' || h[2] != 'G' ||
            (h[3] != BL_MAIN_LOG_STDOUT && h[3] != BL_MAIN_LOG_STDERR) ||
            n > BL_MAIN_LOG_RECORD_MAX) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED,
                         "malformed output record at byte %zu", at);
            return at;
        }
        if (len - at - BL_MAIN_LOG_HEADER_SIZE < n)
            break;
        gint64 time_us =
            (gint64) (((guint64) bl_proto_get_u32 (h + 8) << 32) | bl_proto_get_u32 (h + 12));
        at += BL_MAIN_LOG_HEADER_SIZE + n;
        if (!func ((BlMainLogStream) h[3], time_us, h + BL_MAIN_LOG_HEADER_SIZE, n, user_data))
            break;
    }
    return at;
}

typedef struct {
    gint64 time_us;
    guint8 stream;
    GBytes *data;
} Record;

static void
record_clear (gpointer p)
{
    g_bytes_unref (((Record *) p)->data);
}

typedef struct {
    GArray *records;
    GBytes *file;
} Collect;

static gboolean
collect (BlMainLogStream stream, gint64 time_us, const guint8 *data, gsize len, gpointer user_data)
{
    Collect *c = user_data;
    const guint8 *base = g_bytes_get_data (c->file, NULL);
    Record r = { time_us, (guint8) stream, g_bytes_new_from_bytes (c->file, data - base, len) };

    g_array_append_val (c->records, r);
    return TRUE;
}

/* Reads what @fd holds from @offset on and collects its whole records;
 * @consumed says how far they went. */
static gboolean
read_fd (int fd, const char *path, guint64 offset, Collect *c, guint64 *consumed, GError **error)
{
    struct stat st;

    if (fstat (fd, &st) < 0)
        return bl_os_error (error, errno, "stat", path);
    if (!S_ISREG (st.st_mode) || (guint64) st.st_size > FILE_MAX) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED,
                     "%s is not an output log a box monitor wrote", path);
        return FALSE;
    }
    gsize want = (guint64) st.st_size > offset ? (gsize) ((guint64) st.st_size - offset) : 0;
    g_autofree guint8 *buf = g_malloc (want + 1);
    gsize got = 0;
    while (got < want) {
        ssize_t n = pread (fd, buf + got, want - got, (off_t) (offset + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return bl_os_error (error, errno, "read", path);
        if (n == 0)
            break;
        got += (gsize) n;
    }
    c->file = g_bytes_new_take (g_steal_pointer (&buf), got);
    g_autoptr (GError) local = NULL;
    gsize used = bl_main_log_parse (g_bytes_get_data (c->file, NULL), got, collect, c, &local);
    g_clear_pointer (&c->file, g_bytes_unref);
    if (local) {
        g_propagate_prefixed_error (error, g_steal_pointer (&local), "%s: ", path);
        return FALSE;
    }
    if (consumed)
        *consumed = offset + used;
    return TRUE;
}

/* Opens @name in @box_dir; -1 with no error when it does not exist. */
static int
open_log (const char *box_dir, const char *name, char **path, GError **error)
{
    *path = g_build_filename (box_dir, name, NULL);
    int fd = open (*path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno != ENOENT)
        bl_os_error (error, errno, "open", *path);
    return fd;
}

/* Index of the first record to keep, trimming it in place, so that only
 * the last @tail lines remain (a final newline ends the last line, it does
 * not begin another). */
static guint
keep_tail (GArray *records, guint tail)
{
    guint lines = 0;
    gboolean last_byte = TRUE;

    for (guint i = records->len; i-- > 0;) {
        Record *r = &g_array_index (records, Record, i);
        gsize len;
        const guint8 *data = g_bytes_get_data (r->data, &len);
        for (gsize k = len; k-- > 0;) {
            if (data[k] == '\n' && !last_byte && ++lines == tail) {
                GBytes *rest = g_bytes_new_from_bytes (r->data, k + 1, len - k - 1);
                g_bytes_unref (r->data);
                r->data = rest;
                return i;
            }
            last_byte = FALSE;
        }
    }
    return 0;
}

static GVariant *
records_variant (GArray *records, guint first)
{
    GVariantBuilder b;

    g_variant_builder_init (&b, G_VARIANT_TYPE ("a(xyay)"));
    for (guint i = first; i < records->len; i++) {
        Record *r = &g_array_index (records, Record, i);
        if (g_bytes_get_size (r->data) == 0)
            continue;
        g_variant_builder_add (&b, "(xy@ay)", r->time_us, r->stream,
                               g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, r->data, TRUE));
    }
    return g_variant_ref_sink (g_variant_builder_end (&b));
}

GVariant *
bl_main_log_read_follow (const char *box_dir, guint tail, int *fd_out, guint64 *offset_out,
                         GError **error)
{
    g_autoptr (GArray) records = g_array_new (FALSE, FALSE, sizeof (Record));
    Collect c = { records, NULL };
    g_autofree char *old_path = NULL;
    g_autofree char *cur_path = NULL;
    guint64 offset = 0;

    g_array_set_clear_func (records, record_clear);
    /* The current file first: if it rotates meanwhile, what it held is in
     * the old one by the time that is opened, and this descriptor still
     * reads the rest of it. */
    g_autoptr (GError) local = NULL;
    int cur = open_log (box_dir, BL_MAIN_LOG_NAME, &cur_path, &local);
    if (local) {
        g_propagate_error (error, g_steal_pointer (&local));
        return NULL;
    }
    int old = open_log (box_dir, BL_MAIN_LOG_OLD_NAME, &old_path, &local);
    gboolean ok = !local;
    if (local)
        g_propagate_error (error, g_steal_pointer (&local));
    struct stat cur_st, old_st;
    if (old >= 0 && cur >= 0 && fstat (old, &old_st) == 0 && fstat (cur, &cur_st) == 0 &&
        old_st.st_ino == cur_st.st_ino && old_st.st_dev == cur_st.st_dev) {
        /* It rotated in between: the old file is the one already open. */
        close (old);
        old = -1;
    }
    if (ok && old >= 0)
        ok = read_fd (old, old_path, 0, &c, NULL, error);
    if (ok && cur >= 0)
        ok = read_fd (cur, cur_path, 0, &c, &offset, error);
    if (old >= 0)
        close (old);
    if (!ok) {
        if (cur >= 0)
            close (cur);
        return NULL;
    }
    if (fd_out)
        *fd_out = cur;
    else if (cur >= 0)
        close (cur);
    if (offset_out)
        *offset_out = offset;
    return records_variant (records, tail ? keep_tail (records, tail) : 0);
}

GVariant *
bl_main_log_read (const char *box_dir, guint tail, GError **error)
{
    return bl_main_log_read_follow (box_dir, tail, NULL, NULL, error);
}

GVariant *
bl_main_log_read_more (int fd, guint64 *offset, GError **error)
{
    g_autoptr (GArray) records = g_array_new (FALSE, FALSE, sizeof (Record));
    Collect c = { records, NULL };

    g_array_set_clear_func (records, record_clear);
    if (!read_fd (fd, BL_MAIN_LOG_NAME, *offset, &c, offset, error))
        return NULL;
    return records_variant (records, 0);
}

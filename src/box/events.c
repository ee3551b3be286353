/* events.c: the home directory's event journal (events.h). */
#define G_LOG_DOMAIN "boxlite"

#include "events.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "box-record.h"

static gboolean
same_file (int fd, const char *path)
{
    struct stat a, b;

    return fstat (fd, &a) == 0 && stat (path, &b) == 0 && a.st_ino == b.st_ino &&
           a.st_dev == b.st_dev;
}

/* Opens the journal for appending, locked, and not past its size: a
 * writer that finds it full moves it aside; one that finds it was moved
 * while it waited for the lock opens the new one. */
static int
open_locked (const char *path, const char *old_path)
{
    for (guint attempt = 0; attempt < 8; attempt++) {
        int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        struct stat st;
        if (fd < 0)
            return -1;
        if (flock (fd, LOCK_EX) < 0 || fstat (fd, &st) < 0) {
            close (fd);
            return -1;
        }
        if (!same_file (fd, path)) {
            close (fd);
            continue;
        }
        if ((guint64) st.st_size < BL_EVENTS_MAX)
            return fd;
        int moved = g_rename (path, old_path);
        close (fd);
        if (moved < 0)
            return -1;
    }
    errno = EAGAIN;
    return -1;
}

void
bl_events_append (const char *box_dir, const char *name, const char *action, JsonObject *attributes)
{
    g_autofree char *boxes = g_path_get_dirname (box_dir);
    g_autofree char *home = g_path_get_dirname (boxes);
    g_autofree char *id = g_path_get_basename (box_dir);
    g_autofree char *path = g_build_filename (home, BL_EVENTS_NAME, NULL);
    g_autofree char *old_path = g_build_filename (home, BL_EVENTS_OLD_NAME, NULL);
    g_autoptr (JsonBuilder) b = json_builder_new ();
    g_autofree char *now = bl_now_iso8601 ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "time");
    json_builder_add_string_value (b, now);
    json_builder_set_member_name (b, "time_us");
    json_builder_add_int_value (b, g_get_real_time ());
    json_builder_set_member_name (b, "box");
    json_builder_add_string_value (b, id);
    if (name) {
        json_builder_set_member_name (b, "name");
        json_builder_add_string_value (b, name);
    }
    json_builder_set_member_name (b, "action");
    json_builder_add_string_value (b, action);
    if (attributes) {
        JsonNode *node = json_node_init_object (json_node_alloc (), attributes);
        json_builder_set_member_name (b, "attributes");
        json_builder_add_value (b, node);
    }
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    g_autofree char *text = json_to_string (root, FALSE);
    g_autofree char *line = g_strconcat (text, "\n", NULL);
    gsize len = strlen (line);

    if (len > BL_EVENTS_LINE_MAX) {
        g_warning ("event '%s' for box %s is too long to record", action, id);
        return;
    }
    int fd = open_locked (path, old_path);
    if (fd < 0) {
        g_warning ("cannot record event '%s' for box %s in %s: %s", action, id, path,
                   g_strerror (errno));
        return;
    }
    /* One write of one line, under the lock: lines never interleave. */
    ssize_t n;
    do
        n = write (fd, line, len);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t) len)
        g_warning ("cannot record event '%s' for box %s in %s", action, id, path);
    close (fd);
}

struct _BlEventsReader {
    char *path;
    char *old_path;
    int fd;
    GString *partial;  /* a line not yet ended */
    gboolean skipping; /* inside an over-long line */
    gboolean read_old; /* the moved-aside file first, once */
};

static void
take_lines (BlEventsReader *reader, const char *data, gsize len, GPtrArray *out)
{
    while (len > 0) {
        const char *nl = memchr (data, '\n', len);
        gsize n = nl ? (gsize) (nl - data) : len;
        if (!reader->skipping) {
            if (reader->partial->len + n > BL_EVENTS_LINE_MAX) {
                reader->skipping = TRUE;
                g_string_truncate (reader->partial, 0);
            } else {
                g_string_append_len (reader->partial, data, (gssize) n);
            }
        }
        if (!nl)
            return;
        if (!reader->skipping) {
            g_autoptr (JsonParser) parser = json_parser_new ();
            if (json_parser_load_from_data (parser, reader->partial->str,
                                            (gssize) reader->partial->len, NULL) &&
                JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
                g_ptr_array_add (out, g_strdup (reader->partial->str));
        }
        reader->skipping = FALSE;
        g_string_truncate (reader->partial, 0);
        data = nl + 1;
        len -= n + 1;
    }
}

static void
drain (BlEventsReader *reader, int fd, GPtrArray *out)
{
    char buf[16384];

    for (;;) {
        ssize_t n = read (fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        take_lines (reader, buf, (gsize) n, out);
    }
}

BlEventsReader *
bl_events_reader_new (const char *home_dir, gboolean from_start)
{
    BlEventsReader *reader = g_new0 (BlEventsReader, 1);

    reader->path = g_build_filename (home_dir, BL_EVENTS_NAME, NULL);
    reader->old_path = g_build_filename (home_dir, BL_EVENTS_OLD_NAME, NULL);
    reader->partial = g_string_new (NULL);
    reader->fd = open (reader->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    reader->read_old = from_start;
    if (reader->fd >= 0 && !from_start)
        lseek (reader->fd, 0, SEEK_END);
    return reader;
}

GPtrArray *
bl_events_reader_read (BlEventsReader *reader)
{
    GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

    if (reader->read_old) {
        /* From the start: what was moved aside comes first, unless it is
         * the file already open (moved since). */
        int old = open (reader->old_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (old >= 0 && !(reader->fd >= 0 && same_file (reader->fd, reader->old_path))) {
            drain (reader, old, out);
            g_string_truncate (reader->partial, 0);
            reader->skipping = FALSE;
        }
        if (old >= 0)
            close (old);
        reader->read_old = FALSE;
    }
    for (;;) {
        if (reader->fd >= 0)
            drain (reader, reader->fd, out);
        if (reader->fd >= 0 && same_file (reader->fd, reader->path))
            break;
        /* Moved aside (and read to its end above), or not there before. */
        int fd = open (reader->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            break;
        if (reader->fd >= 0)
            close (reader->fd);
        reader->fd = fd;
        g_string_truncate (reader->partial, 0);
        reader->skipping = FALSE;
    }
    return out;
}

void
bl_events_reader_free (BlEventsReader *reader)
{
    if (!reader)
        return;
    if (reader->fd >= 0)
        close (reader->fd);
    g_free (reader->path);
    g_free (reader->old_path);
    g_string_free (reader->partial, TRUE);
    g_free (reader);
}

/* box-archive.c: write and read the .boxlite archive of a box. */
#define G_LOG_DOMAIN "boxlite"

#include "box-archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <boxlite/boxlite-error.h>
#include "json-file.h"
#include "os-error.h"

#define CHUNK (1024 * 1024)

/* ---- writing ---- */

static gboolean
archive_failed (struct archive *a, const char *what, const char *path, GError **error)
{
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED, "cannot %s %s: %s", what, path,
                 archive_error_string (a) ? archive_error_string (a) : "unknown error");
    return FALSE;
}

/* The sha256 (hex) and size of the file @path. */
static char *
file_sha256 (const char *path, guint64 *size, GCancellable *cancellable, GError **error)
{
    g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
    g_autofree guchar *buf = g_malloc (CHUNK);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    gssize n;

    if (fd < 0) {
        bl_os_error (error, errno, "read", path);
        return NULL;
    }
    *size = 0;
    while ((n = read (fd, buf, CHUNK)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || g_cancellable_set_error_if_cancelled (cancellable, error)) {
            if (n < 0)
                bl_os_error (error, errno, "read", path);
            close (fd);
            return NULL;
        }
        g_checksum_update (sum, buf, n);
        *size += (guint64) n;
    }
    close (fd);
    return g_strdup (g_checksum_get_string (sum));
}

static void
add_member (JsonBuilder *b, const char *name, guint64 size, const char *sha256)
{
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, name);
    json_builder_set_member_name (b, "size");
    json_builder_add_int_value (b, (gint64) size);
    json_builder_set_member_name (b, "sha256");
    json_builder_add_string_value (b, sha256);
    json_builder_end_object (b);
}

static gboolean
write_header (struct archive *a, const char *name, guint64 size, const char *dest, GError **error)
{
    g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
    struct archive_entry *entry = archive_entry_new ();

    archive_entry_set_pathname (entry, name);
    archive_entry_set_filetype (entry, AE_IFREG);
    archive_entry_set_perm (entry, 0600);
    archive_entry_set_size (entry, (la_int64_t) size);
    archive_entry_set_mtime (entry, g_date_time_to_unix (now), 0);
    int r = archive_write_header (a, entry);
    archive_entry_free (entry);
    return r == ARCHIVE_OK || archive_failed (a, "write", dest, error);
}

static gboolean
write_bytes (struct archive *a, const char *name, GBytes *bytes, const char *dest, GError **error)
{
    gsize len = 0;
    const void *data = g_bytes_get_data (bytes, &len);

    if (!write_header (a, name, len, dest, error))
        return FALSE;
    return len == 0 || archive_write_data (a, data, len) == (la_ssize_t) len ||
           archive_failed (a, "write", dest, error);
}

static gboolean
write_file (struct archive *a, const char *name, const char *path, guint64 size, const char *dest,
            GCancellable *cancellable, GError **error)
{
    g_autofree guchar *buf = g_malloc (CHUNK);
    guint64 done = 0;
    int fd = open (path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return bl_os_error (error, errno, "read", path);
    gboolean ok = write_header (a, name, size, dest, error);
    while (ok && done < size) {
        gssize n = read (fd, buf, MIN ((guint64) CHUNK, size - done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            /* The file shrank since it was hashed. */
            ok = n < 0 ? bl_os_error (error, errno, "read", path)
                       : (g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED,
                                       "%s changed while it was archived", path),
                          FALSE);
            break;
        }
        ok = !g_cancellable_set_error_if_cancelled (cancellable, error) &&
             (archive_write_data (a, buf, n) == n || archive_failed (a, "write", dest, error));
        done += (guint64) n;
    }
    close (fd);
    return ok;
}

gboolean
bl_box_archive_write (const char *dest, GBytes *record, const char *disk, GCancellable *cancellable,
                      GError **error)
{
    guint64 disk_size = 0;
    g_autofree char *disk_sum = file_sha256 (disk, &disk_size, cancellable, error);
    if (!disk_sum)
        return FALSE;
    g_autofree char *record_sum = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, record);

    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "format");
    json_builder_add_string_value (b, BL_BOX_ARCHIVE_FORMAT);
    json_builder_set_member_name (b, "version");
    json_builder_add_int_value (b, BL_BOX_ARCHIVE_VERSION);
    json_builder_set_member_name (b, "members");
    json_builder_begin_array (b);
    add_member (b, BL_BOX_ARCHIVE_RECORD, g_bytes_get_size (record), record_sum);
    add_member (b, BL_BOX_ARCHIVE_DISK, disk_size, disk_sum);
    json_builder_end_array (b);
    json_builder_end_object (b);
    g_autoptr (GBytes) manifest = bl_json_builder_to_bytes (b);

    g_autofree char *tmp = g_strdup_printf ("%s.tmp-%d", dest, (int) getpid ());
    /* 0600: the disk holds whatever the box's user kept in it. */
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return bl_os_error (error, errno, "create", tmp);
    struct archive *a = archive_write_new ();
    gboolean ok = (archive_write_add_filter_zstd (a) == ARCHIVE_OK &&
                   archive_write_set_format_pax_restricted (a) == ARCHIVE_OK &&
                   archive_write_open_fd (a, fd) == ARCHIVE_OK) ||
                  archive_failed (a, "create", tmp, error);
    ok = ok && write_bytes (a, BL_BOX_ARCHIVE_MANIFEST, manifest, dest, error) &&
         write_bytes (a, BL_BOX_ARCHIVE_RECORD, record, dest, error) &&
         write_file (a, BL_BOX_ARCHIVE_DISK, disk, disk_size, dest, cancellable, error);
    ok = ok && (archive_write_close (a) == ARCHIVE_OK || archive_failed (a, "write", dest, error));
    archive_write_free (a);
    if (ok && fsync (fd) < 0)
        ok = bl_os_error (error, errno, "write", tmp);
    close (fd);
    if (ok && g_rename (tmp, dest) < 0)
        ok = bl_os_error (error, errno, "rename", tmp);
    if (!ok)
        g_unlink (tmp);
    return ok;
}

/* ---- reading ---- */

typedef struct {
    const char *name;
    guint64 max;
    guint64 size;
    char *sha256;
    gboolean seen;
} Member;

static gboolean refuse (GError **error, const char *path, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

static gboolean
refuse (GError **error, const char *path, const char *format, ...)
{
    va_list args;

    va_start (args, format);
    g_autofree char *why = g_strdup_vprintf (format, args);
    va_end (args);
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "%s is not a valid box archive: %s",
                 path, why);
    return FALSE;
}

static struct archive *
open_archive (const char *path, GError **error)
{
    struct archive *a = archive_read_new ();

    archive_read_support_filter_zstd (a);
    archive_read_support_format_tar (a);
    if (archive_read_open_filename (a, path, 64 * 1024) != ARCHIVE_OK) {
        archive_failed (a, "open", path, error);
        archive_read_free (a);
        return NULL;
    }
    return a;
}

/* Reads the current entry's data, at most @max bytes, into memory. */
static GBytes *
read_small (struct archive *a, struct archive_entry *entry, guint64 max, const char *path,
            GError **error)
{
    if (!archive_entry_size_is_set (entry) || archive_entry_size (entry) < 0 ||
        (guint64) archive_entry_size (entry) > max) {
        refuse (error, path, "%s is missing or larger than %" G_GUINT64_FORMAT " bytes",
                archive_entry_pathname (entry), max);
        return NULL;
    }
    gsize len = (gsize) archive_entry_size (entry);
    g_autofree char *buf = g_malloc (len + 1);
    la_ssize_t n = archive_read_data (a, buf, len + 1);
    if (n < 0 || (gsize) n != len) {
        refuse (error, path, "%s is truncated or longer than its header says",
                archive_entry_pathname (entry));
        return NULL;
    }
    return g_bytes_new_take (g_steal_pointer (&buf), len);
}

static gboolean
is_sha256_hex (const char *text)
{
    if (!text || strlen (text) != 64)
        return FALSE;
    for (const char *p = text; *p; p++) {
        if (!g_ascii_isdigit (*p) && !(*p >= 'a' && *p <= 'f'))
            return FALSE;
    }
    return TRUE;
}

/* Member @name of @obj when it is an integer. */
static gboolean
member_int (JsonObject *obj, const char *name, gint64 *value)
{
    JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

    if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
        return FALSE;
    *value = json_node_get_int (node);
    return TRUE;
}

/* The manifest's object when @bytes is JSON of our format, else NULL. */
static JsonObject *
manifest_object (JsonParser *parser, GBytes *bytes)
{
    gsize len = 0;
    const char *data = g_bytes_get_data (bytes, &len);

    JsonObject *obj = bl_json_load_object (parser, data, len);
    if (g_strcmp0 (bl_json_member_string (obj, "format"), BL_BOX_ARCHIVE_FORMAT) != 0)
        return NULL;
    return obj;
}

static gboolean
parse_manifest (GBytes *bytes, Member *members, guint n_members, const char *path, GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();
    JsonObject *obj = manifest_object (parser, bytes);
    gint64 version = 0;

    if (!obj)
        return refuse (error, path, "its manifest is not a JSON object of format %s",
                       BL_BOX_ARCHIVE_FORMAT);
    if (!member_int (obj, "version", &version) || version != BL_BOX_ARCHIVE_VERSION)
        return refuse (error, path, "unknown format version (this boxlite reads version %d)",
                       BL_BOX_ARCHIVE_VERSION);
    JsonArray *array = bl_json_member_array (obj, "members");
    if (!array || json_array_get_length (array) != n_members)
        return refuse (error, path, "its manifest must list exactly %u members", n_members);
    for (guint i = 0; i < n_members; i++) {
        JsonNode *node = json_array_get_element (array, i);
        JsonObject *m = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
        const char *name = bl_json_member_string (m, "name");
        const char *sum = bl_json_member_string (m, "sha256");
        gint64 size = 0;
        if (!name || !member_int (m, "size", &size) || !is_sha256_hex (sum))
            return refuse (error, path, "manifest member %u lacks a name, size or sha256", i);
        Member *member = NULL;
        for (guint j = 0; j < n_members; j++) {
            if (g_str_equal (members[j].name, name))
                member = &members[j];
        }
        if (!member || member->sha256)
            return refuse (error, path, "its manifest lists an unknown or repeated member");
        if (size < 0 || (guint64) size > member->max)
            return refuse (error, path,
                           "member %s is %" G_GINT64_FORMAT " bytes (at most %" G_GUINT64_FORMAT
                           " allowed)",
                           member->name, size, member->max);
        member->size = (guint64) size;
        member->sha256 = g_strdup (sum);
    }
    return TRUE;
}

/* Streams the current entry to @fd, hashing it; refused unless it is
 * exactly @member's size and sum. */
static gboolean
copy_member (struct archive *a, Member *member, int fd, const char *dest, const char *path,
             GCancellable *cancellable, GError **error)
{
    g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
    g_autofree guchar *buf = g_malloc (CHUNK);
    guint64 done = 0;
    la_ssize_t n;

    while ((n = archive_read_data (a, buf, CHUNK)) > 0) {
        if (g_cancellable_set_error_if_cancelled (cancellable, error))
            return FALSE;
        done += (guint64) n;
        if (done > member->size)
            return refuse (error, path, "member %s is longer than its manifest says", member->name);
        g_checksum_update (sum, buf, n);
        for (la_ssize_t off = 0; off < n;) {
            gssize w = write (fd, buf + off, (gsize) (n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return bl_os_error (error, errno, "write", dest);
            off += w;
        }
    }
    if (n < 0)
        return refuse (error, path, "member %s is truncated or damaged: %s", member->name,
                       archive_error_string (a) ? archive_error_string (a) : "read error");
    if (done != member->size)
        return refuse (error, path,
                       "member %s is %" G_GUINT64_FORMAT " bytes, not %" G_GUINT64_FORMAT,
                       member->name, done, member->size);
    if (!g_str_equal (g_checksum_get_string (sum), member->sha256))
        return refuse (error, path, "member %s does not match its sha256", member->name);
    return TRUE;
}

static gboolean
check_space (const char *dir, guint64 size, GError **error)
{
    struct statvfs st;

    if (statvfs (dir, &st) < 0)
        return bl_os_error (error, errno, "read the free space of", dir);
    guint64 avail = (guint64) st.f_bavail * st.f_frsize;
    if (size > avail) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                     "the box's disk takes %" G_GUINT64_FORMAT " bytes; %s has %" G_GUINT64_FORMAT
                     " free",
                     size, dir, avail);
        return FALSE;
    }
    return TRUE;
}

static gboolean
extract_entries (struct archive *a, Member *members, guint n_members, const char *path,
                 const char *dest_dir, GBytes **record, GCancellable *cancellable, GError **error)
{
    struct archive_entry *entry;
    int r;

    for (guint i = 0; i < n_members; i++) {
        r = archive_read_next_header (a, &entry);
        if (r == ARCHIVE_EOF)
            return refuse (error, path, "it ends before all its members");
        if (r != ARCHIVE_OK)
            return refuse (error, path, "%s", archive_error_string (a));
        const char *name = archive_entry_pathname (entry);
        Member *member = NULL;
        for (guint j = 0; j < n_members; j++) {
            if (g_strcmp0 (members[j].name, name) == 0)
                member = &members[j];
        }
        if (!member || member->seen)
            return refuse (error, path, "member '%s' is not one its manifest lists once",
                           name ? name : "");
        member->seen = TRUE;
        if (archive_entry_filetype (entry) != AE_IFREG || archive_entry_hardlink (entry) ||
            archive_entry_symlink (entry) || !archive_entry_size_is_set (entry) ||
            archive_entry_size (entry) < 0 || (guint64) archive_entry_size (entry) != member->size)
            return refuse (error, path, "member %s is not a regular file of the manifest's size",
                           name);
        if (g_str_equal (name, BL_BOX_ARCHIVE_RECORD)) {
            GBytes *bytes = read_small (a, entry, member->size, path, error);
            if (!bytes)
                return FALSE;
            *record = bytes;
            g_autofree char *sum = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
            if (!g_str_equal (sum, member->sha256))
                return refuse (error, path, "member %s does not match its sha256", name);
            continue;
        }
        if (!check_space (dest_dir, member->size, error))
            return FALSE;
        g_autofree char *dest = g_build_filename (dest_dir, name, NULL);
        int fd = open (dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
            return bl_os_error (error, errno, "create", dest);
        gboolean ok = copy_member (a, member, fd, dest, path, cancellable, error);
        if (ok && fsync (fd) < 0)
            ok = bl_os_error (error, errno, "write", dest);
        close (fd);
        if (!ok)
            return FALSE;
    }
    r = archive_read_next_header (a, &entry);
    if (r == ARCHIVE_OK)
        return refuse (error, path, "member '%s' follows the ones its manifest lists",
                       archive_entry_pathname (entry) ? archive_entry_pathname (entry) : "");
    if (r != ARCHIVE_EOF)
        return refuse (error, path, "%s", archive_error_string (a));
    return TRUE;
}

GBytes *
bl_box_archive_extract (const char *path, const char *dest_dir, GCancellable *cancellable,
                        GError **error)
{
    Member members[] = {
        { .name = BL_BOX_ARCHIVE_RECORD, .max = BL_BOX_ARCHIVE_RECORD_MAX },
        { .name = BL_BOX_ARCHIVE_DISK, .max = BL_BOX_ARCHIVE_DISK_MAX },
    };
    struct archive *a = open_archive (path, error);
    struct archive_entry *entry;
    g_autoptr (GBytes) manifest = NULL;
    GBytes *record = NULL;
    gboolean ok = FALSE;

    if (!a)
        return NULL;
    int r = archive_read_next_header (a, &entry);
    if (r != ARCHIVE_OK)
        refuse (error, path, "%s", r == ARCHIVE_EOF ? "it is empty" : archive_error_string (a));
    else if (g_strcmp0 (archive_entry_pathname (entry), BL_BOX_ARCHIVE_MANIFEST) != 0 ||
             archive_entry_filetype (entry) != AE_IFREG)
        refuse (error, path, "its first member is not %s", BL_BOX_ARCHIVE_MANIFEST);
    else if ((manifest = read_small (a, entry, BL_BOX_ARCHIVE_MANIFEST_MAX, path, error)))
        ok = parse_manifest (manifest, members, G_N_ELEMENTS (members), path, error) &&
             extract_entries (a, members, G_N_ELEMENTS (members), path, dest_dir, &record,
                              cancellable, error);
    archive_read_free (a);
    for (guint i = 0; i < G_N_ELEMENTS (members); i++)
        g_free (members[i].sha256);
    if (!ok)
        g_clear_pointer (&record, g_bytes_unref);
    return record;
}

gboolean
bl_box_archive_probe (const char *path)
{
    struct archive *a = open_archive (path, NULL);
    struct archive_entry *entry;
    gboolean is_box = FALSE;

    if (!a)
        return FALSE;
    if (archive_read_next_header (a, &entry) == ARCHIVE_OK &&
        g_strcmp0 (archive_entry_pathname (entry), BL_BOX_ARCHIVE_MANIFEST) == 0) {
        g_autoptr (GBytes) manifest =
            read_small (a, entry, BL_BOX_ARCHIVE_MANIFEST_MAX, path, NULL);
        g_autoptr (JsonParser) parser = json_parser_new_immutable ();
        is_box = manifest && manifest_object (parser, manifest);
    }
    archive_read_free (a);
    return is_box;
}

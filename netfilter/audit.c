/* audit.c: appending egress decisions to the box's bounded record. */
#define G_LOG_DOMAIN "boxlite-net"

#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Least time between two rewrites of the counts, in microseconds. */
#define COUNTS_INTERVAL_US G_USEC_PER_SEC

struct _BlNetAudit {
    char *path;
    int fd;
    guint64 size;
    gboolean warned;
    char *counts_path;
    GHashTable *counts; /* "event verdict reason" -> guint64 * */
    gint64 counts_written_us;
    gboolean counts_dirty;
    guint counts_timer; /* writes what a burst left unwritten */
    guint64 *bytes[2];  /* the "bytes out" and "bytes in" counts, once there are some */
};

const char *
bl_net_ipv4_to_string (uint32_t addr, char out[16])
{
    g_snprintf (out, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
                addr & 0xff);
    return out;
}

static gboolean
audit_open (BlNetAudit *audit)
{
    audit->fd = open (audit->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (audit->fd < 0) {
        if (!audit->warned)
            g_warning ("cannot open the network record %s: %s", audit->path, g_strerror (errno));
        audit->warned = TRUE;
        return FALSE;
    }
    audit->size = (guint64) lseek (audit->fd, 0, SEEK_END);
    return TRUE;
}

/* Takes up the counts an earlier run of the box left, so that they cover
 * the box's whole life; anything unexpected in the file is ignored. */
static void
load_counts (BlNetAudit *audit)
{
    g_autofree char *text = NULL;
    gsize len = 0;

    if (!g_file_get_contents (audit->counts_path, &text, &len, NULL) || len > 64 * 1024)
        return;
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();
    if (!json_parser_load_from_data (parser, text, (gssize) len, NULL))
        return;
    JsonNode *root = json_parser_get_root (parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT (root))
        return;
    JsonObjectIter iter;
    const char *key;
    JsonNode *value;
    json_object_iter_init (&iter, json_node_get_object (root));
    while (json_object_iter_next (&iter, &key, &value)) {
        if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_INT64 ||
            json_node_get_int (value) < 0 || strlen (key) > 128)
            continue;
        guint64 *n = g_new (guint64, 1);
        *n = (guint64) json_node_get_int (value);
        g_hash_table_replace (audit->counts, g_strdup (key), n);
    }
}

BlNetAudit *
bl_net_audit_new (const char *path)
{
    BlNetAudit *audit = g_new0 (BlNetAudit, 1);

    audit->fd = -1;
    audit->counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    if (path) {
        g_autofree char *dir = g_path_get_dirname (path);
        audit->path = g_strdup (path);
        audit->counts_path = g_build_filename (dir, "netcounts.json", NULL);
        load_counts (audit);
        audit_open (audit);
    }
    return audit;
}

static void
rotate (BlNetAudit *audit)
{
    g_autofree char *old = g_strconcat (audit->path, ".1", NULL);

    close (audit->fd);
    audit->fd = -1;
    if (rename (audit->path, old) < 0)
        g_warning ("cannot rotate %s: %s", audit->path, g_strerror (errno));
    audit_open (audit);
}

static void
write_counts (BlNetAudit *audit)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();
    GHashTableIter iter;
    gpointer key, value;

    json_builder_begin_object (b);
    g_hash_table_iter_init (&iter, audit->counts);
    while (g_hash_table_iter_next (&iter, &key, &value)) {
        json_builder_set_member_name (b, key);
        json_builder_add_int_value (b, (gint64) * (guint64 *) value);
    }
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    g_autofree char *text = json_to_string (root, TRUE);
    g_autoptr (GError) error = NULL;
    if (!g_file_set_contents_full (audit->counts_path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                   0600, &error))
        g_warning ("%s", error->message);
    audit->counts_written_us = g_get_monotonic_time ();
    audit->counts_dirty = FALSE;
}

static gboolean
on_counts_timer (gpointer data)
{
    BlNetAudit *audit = data;

    audit->counts_timer = 0;
    if (audit->counts_dirty)
        write_counts (audit);
    return G_SOURCE_REMOVE;
}

/* The count of @key, made 0 when missing. The hash table never replaces a
 * value once loaded, so the pointer stays good for the audit's life. */
static guint64 *
counter (BlNetAudit *audit, const char *key)
{
    guint64 *n = g_hash_table_lookup (audit->counts, key);

    if (!n) {
        n = g_new0 (guint64, 1);
        g_hash_table_insert (audit->counts, g_strdup (key), n);
    }
    return n;
}

static void counts_changed (BlNetAudit *audit);

static void
count (BlNetAudit *audit, const char *event, const char *verdict, const char *reason)
{
    g_autofree char *key = g_strdup_printf ("%s %s %s", event, verdict, reason);

    (*counter (audit, key))++;
    counts_changed (audit);
}

void
bl_net_audit_bytes (BlNetAudit *audit, gboolean to_guest, gsize len)
{
    guint i = to_guest ? 1 : 0;

    /* Every frame passes here: no key is built after the first. */
    if (!audit->bytes[i])
        audit->bytes[i] = counter (audit, to_guest ? "bytes in" : "bytes out");
    *audit->bytes[i] += len;
    counts_changed (audit);
}

static void
counts_changed (BlNetAudit *audit)
{
    audit->counts_dirty = TRUE;
    if (!audit->counts_path)
        return;
    if (g_get_monotonic_time () - audit->counts_written_us >= COUNTS_INTERVAL_US)
        write_counts (audit);
    else if (!audit->counts_timer)
        audit->counts_timer = g_timeout_add (COUNTS_INTERVAL_US / 1000, on_counts_timer, audit);
}

/* Finishes the object @b holds and appends it as one line. */
static void
append (BlNetAudit *audit, JsonBuilder *b)
{
    json_builder_end_object (b);
    if (audit->fd < 0)
        return;
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    g_autofree char *text = json_to_string (root, FALSE);
    g_autofree char *line = g_strconcat (text, "\n", NULL);
    gsize len = strlen (line);

    if (audit->size + len > BL_NET_AUDIT_MAX_BYTES)
        rotate (audit);
    if (audit->fd < 0)
        return;
    /* One write per line with O_APPEND: readers never see half a line. */
    ssize_t n = write (audit->fd, line, len);
    if (n > 0)
        audit->size += (guint64) n;
}

static JsonBuilder *
begin (const char *event, const char *verdict, const char *reason)
{
    JsonBuilder *b = json_builder_new ();
    g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
    g_autofree char *stamp = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");
    g_autofree char *time =
        g_strdup_printf ("%s.%03dZ", stamp, g_date_time_get_microsecond (now) / 1000);

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "time");
    json_builder_add_string_value (b, time);
    json_builder_set_member_name (b, "event");
    json_builder_add_string_value (b, event);
    json_builder_set_member_name (b, "verdict");
    json_builder_add_string_value (b, verdict);
    json_builder_set_member_name (b, "reason");
    json_builder_add_string_value (b, reason);
    return b;
}

static void
add_string (JsonBuilder *b, const char *member, const char *value)
{
    if (!value)
        return;
    json_builder_set_member_name (b, member);
    json_builder_add_string_value (b, value);
}

void
bl_net_audit_dns (BlNetAudit *audit, const char *name, const char *qtype, const char *verdict,
                  const char *reason, const char *const *addresses)
{
    g_autoptr (JsonBuilder) b = begin ("dns", verdict, reason);

    count (audit, "dns", verdict, reason);
    add_string (b, "name", name);
    add_string (b, "type", qtype);
    if (addresses) {
        json_builder_set_member_name (b, "addresses");
        json_builder_begin_array (b);
        for (guint i = 0; addresses[i]; i++)
            json_builder_add_string_value (b, addresses[i]);
        json_builder_end_array (b);
    }
    append (audit, b);
}

void
bl_net_audit_flow (BlNetAudit *audit, const char *event, uint32_t dst, uint16_t port,
                   gboolean allowed, const char *reason, const char *name, const char *sni,
                   const char *host)
{
    g_autoptr (JsonBuilder) b = begin (event, allowed ? "allowed" : "denied", reason);
    char addr[16];
    g_autofree char *dest = g_strdup_printf ("%s:%u", bl_net_ipv4_to_string (dst, addr), port);

    count (audit, event, allowed ? "allowed" : "denied", reason);
    add_string (b, "dest", dest);
    add_string (b, "name", name);
    add_string (b, "sni", sni);
    add_string (b, "host", host);
    append (audit, b);
}

void
bl_net_audit_free (BlNetAudit *audit)
{
    if (!audit)
        return;
    g_clear_handle_id (&audit->counts_timer, g_source_remove);
    if (audit->counts_path && audit->counts_dirty)
        write_counts (audit);
    if (audit->fd >= 0)
        close (audit->fd);
    g_hash_table_unref (audit->counts);
    g_free (audit->counts_path);
    g_free (audit->path);
    g_free (audit);
}

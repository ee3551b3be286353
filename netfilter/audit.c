/* audit.c: appending egress decisions to the box's bounded record. */
#define G_LOG_DOMAIN "boxlite-net"

#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct _BlNetAudit {
    char *path;
    int fd;
    guint64 size;
    gboolean warned;
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

BlNetAudit *
bl_net_audit_new (const char *path)
{
    BlNetAudit *audit = g_new0 (BlNetAudit, 1);

    audit->fd = -1;
    if (path) {
        audit->path = g_strdup (path);
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
    if (audit->fd >= 0)
        close (audit->fd);
    g_free (audit->path);
    g_free (audit);
}

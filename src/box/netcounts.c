/* netcounts.c: reading the network's totals (netcounts.h). */
#define G_LOG_DOMAIN "boxlite"

#include "netcounts.h"

#include <errno.h>
#include <fcntl.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boxlite/boxlite-error.h>
#include "json-file.h"
#include "os-error.h"

/* Reads @path, a regular file of at most BL_NET_COUNTS_MAX bytes, into
 * *@text; TRUE with *@text NULL when it does not exist. */
static gboolean
read_bounded (const char *path, char **text, gsize *len, GError **error)
{
    /* O_NONBLOCK: a FIFO put in the file's place must not hang the reader. */
    int fd = open (path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;

    *text = NULL;
    if (fd < 0)
        return errno == ENOENT ? TRUE : bl_os_error (error, errno, "open", path);
    if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size > BL_NET_COUNTS_MAX) {
        close (fd);
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL, "%s is not a counts file", path);
        return FALSE;
    }
    g_autofree char *buf = g_malloc (BL_NET_COUNTS_MAX + 1);
    gsize got = 0;
    while (got <= BL_NET_COUNTS_MAX) {
        ssize_t n = read (fd, buf + got, BL_NET_COUNTS_MAX + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int saved = errno;
            close (fd);
            return bl_os_error (error, saved, "read", path);
        }
        if (n == 0)
            break;
        got += (gsize) n;
    }
    close (fd);
    if (got > BL_NET_COUNTS_MAX) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL, "%s is not a counts file", path);
        return FALSE;
    }
    buf[got] = '\0';
    *text = g_steal_pointer (&buf);
    *len = got;
    return TRUE;
}

GVariant *
bl_net_counts_load (const char *box_dir, GError **error)
{
    g_autofree char *path = g_build_filename (box_dir, "net", BL_NET_COUNTS_NAME, NULL);
    g_autofree char *text = NULL;
    gsize len = 0;
    g_auto (GVariantBuilder) builder = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a{st}"));

    if (!read_bounded (path, &text, &len, error))
        return NULL;
    if (!text)
        return g_variant_ref_sink (g_variant_builder_end (&builder));
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();
    JsonObject *root = bl_json_load_object (parser, text, len);
    if (!root) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL, "%s is not a counts file", path);
        return NULL;
    }
    JsonObjectIter iter;
    const char *key;
    JsonNode *value;
    json_object_iter_init (&iter, root);
    while (json_object_iter_next (&iter, &key, &value)) {
        if (JSON_NODE_HOLDS_VALUE (value) && json_node_get_value_type (value) == G_TYPE_INT64 &&
            json_node_get_int (value) >= 0)
            g_variant_builder_add (&builder, "{st}", key, (guint64) json_node_get_int (value));
    }
    return g_variant_ref_sink (g_variant_builder_end (&builder));
}

static void
add (guint64 *sum, guint64 n)
{
    *sum = n > G_MAXUINT64 - *sum ? G_MAXUINT64 : *sum + n;
}

void
bl_net_counts_total (GVariant *counts, BlNetTotals *totals)
{
    GVariantIter iter;
    const char *key;
    guint64 n;

    memset (totals, 0, sizeof *totals);
    g_variant_iter_init (&iter, counts);
    while (g_variant_iter_next (&iter, "{&st}", &key, &n)) {
        if (g_str_equal (key, "bytes in"))
            add (&totals->bytes_in, n);
        else if (g_str_equal (key, "bytes out"))
            add (&totals->bytes_out, n);
        else if (g_str_has_prefix (key, "tcp allowed ") || g_str_has_prefix (key, "udp allowed "))
            add (&totals->connections, n);
        else if (strstr (key, " denied "))
            add (&totals->denied, n);
    }
}

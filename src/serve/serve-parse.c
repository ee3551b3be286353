/* serve-parse.c: what the server parses of a client's by hand: the control
 * messages of the attach WebSocket and the list pages' tokens. Both take
 * untrusted bytes and either fill a checked value or say why not; neither
 * touches anything else (fuzz/fuzz-serve.c drives them). Also here, as it
 * reads a wire too: the WebSocket frames the server writes, followed to
 * count what left (serve-ws-stream.c). */
#define G_LOG_DOMAIN "boxlite-serve"

#include <signal.h>
#include <string.h>

#include "serve.h"

gboolean
bl_serve_signal_allowed (gint64 sig)
{
    static const int allowed[] = { SIGHUP,  SIGINT,  SIGQUIT, SIGABRT,
                                   SIGUSR1, SIGUSR2, SIGTERM, SIGWINCH };
    for (guint i = 0; i < G_N_ELEMENTS (allowed); i++)
        if (sig == allowed[i])
            return TRUE;
    return FALSE;
}

/* A member @name of @object holding an integer in @min..@max. */
static gboolean
int_member (JsonObject *object, const char *name, gint64 min, gint64 max, gint64 *value)
{
    JsonNode *node = json_object_get_member (object, name);

    if (!node || json_node_get_value_type (node) != G_TYPE_INT64)
        return FALSE;
    *value = json_node_get_int (node);
    return *value >= min && *value <= max;
}

const char *
bl_serve_control_parse (const char *data, gsize len, BlServeControl *out)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    gint64 a, b;

    memset (out, 0, sizeof *out);
    if (len > BL_SERVE_MAX_CONTROL || !g_utf8_validate (data, (gssize) len, NULL) ||
        !json_parser_load_from_data (parser, data, (gssize) len, NULL) ||
        !json_parser_get_root (parser) || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        return "a control message must be a JSON object";
    JsonObject *message = json_node_get_object (json_parser_get_root (parser));
    JsonNode *type_node = json_object_get_member (message, "type");
    const char *type = type_node && json_node_get_value_type (type_node) == G_TYPE_STRING
                           ? json_node_get_string (type_node)
                           : "";
    if (g_str_equal (type, "resize")) {
        if (!int_member (message, "cols", 1, 65535, &a) ||
            !int_member (message, "rows", 1, 65535, &b))
            return "resize needs cols and rows in 1..65535";
        out->kind = BL_SERVE_CONTROL_RESIZE;
        out->cols = (guint) a;
        out->rows = (guint) b;
        return NULL;
    }
    if (g_str_equal (type, "signal")) {
        if (!int_member (message, "sig", 1, 64, &a) || !bl_serve_signal_allowed (a))
            return "sig must be one of HUP INT QUIT ABRT USR1 USR2 TERM WINCH (1 2 3 6 10 12 15 "
                   "28)";
        out->kind = BL_SERVE_CONTROL_SIGNAL;
        out->sig = (gint) a;
        return NULL;
    }
    if (g_str_equal (type, "stdin_eof")) {
        out->kind = BL_SERVE_CONTROL_STDIN_EOF;
        return NULL;
    }
    return "unknown message type (resize, signal, stdin_eof)";
}

char *
bl_serve_page_token_new (gint64 time, const char *key)
{
    g_autofree char *plain = g_strdup_printf ("%" G_GINT64_FORMAT ":%s", time, key);
    return g_base64_encode ((const guchar *) plain, strlen (plain));
}

gboolean
bl_serve_page_token_parse (const char *text, gint64 *time, char **key)
{
    gsize len;
    g_autofree guchar *raw = NULL;
    gint64 t;

    if (strlen (text) > BL_SERVE_MAX_PAGE_TOKEN)
        return FALSE;
    raw = g_base64_decode (text, &len);
    g_autofree char *plain = g_strndup ((const char *) raw, len);
    char *colon = strchr (plain, ':');
    if (!colon || colon[1] == '\0' || strlen (plain) != len ||
        !g_utf8_validate (colon + 1, -1, NULL))
        return FALSE;
    *colon = '\0';
    if (!g_ascii_string_to_signed (plain, 10, 0, G_MAXINT64, &t, NULL))
        return FALSE;
    *time = t;
    *key = g_strdup (colon + 1);
    return TRUE;
}

/* The header's length once its first two bytes are known (RFC 6455 5.2). */
static guint
ws_header_length (const guint8 *header)
{
    guint len = 2;
    guint8 len7 = header[1] & 0x7f;

    if (len7 == 126)
        len += 2;
    else if (len7 == 127)
        len += 8;
    if (header[1] & 0x80)
        len += 4; /* a mask: a client's frames only, but cheap to follow */
    return len;
}

static guint64
ws_payload_length (const guint8 *header)
{
    guint8 len7 = header[1] & 0x7f;
    guint64 len = 0;

    if (len7 < 126)
        return len7;
    for (guint i = 0; i < (len7 == 126 ? 2u : 8u); i++)
        len = (len << 8) | header[2 + i];
    return len;
}

/**
 * bl_serve_ws_follow:
 * @f: the state, zeroed before the first bytes of a connection
 * @buf: the next bytes of the stream
 * @len: how many
 *
 * Follows a stream of WebSocket frames, in any pieces, and adds the
 * payload bytes of binary frames (and of continuations, which only follow
 * binary ones here) to @f->binary.
 */
void
bl_serve_ws_follow (BlServeWsFollow *f, const guint8 *buf, gsize len)
{
    while (len > 0) {
        if (f->payload_left == 0) {
            f->header[f->header_len++] = *buf++;
            len--;
            if (f->header_len == 2)
                f->header_need = ws_header_length (f->header);
            if (f->header_len < 2 || f->header_len < f->header_need)
                continue;
            f->opcode = f->header[0] & 0x0f;
            f->payload_left = ws_payload_length (f->header);
            f->header_len = 0;
            continue;
        }
        gsize n = (gsize) MIN ((guint64) len, f->payload_left);
        if (f->opcode == BL_SERVE_WS_OPCODE_BINARY || f->opcode == BL_SERVE_WS_OPCODE_CONTINUATION)
            f->binary += n;
        f->payload_left -= n;
        buf += n;
        len -= n;
    }
}

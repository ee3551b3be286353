/* http_host.c: the Host header of a plain HTTP/1.x request (RFC 9112 2-5,
 * RFC 9110 7.2).
 *
 *   request-line  = method SP request-target SP "HTTP/1." DIGIT CRLF
 *   field-line    = field-name ":" OWS field-value OWS CRLF
 *   head          = request-line *( field-line ) CRLF
 *   Host          = uri-host [ ":" port ]
 *
 * The request line decides whether the flow is HTTP at all, so it is read
 * byte by byte: a prefix that can still become a request line is
 * NEED_MORE, anything else NOT_HTTP. Header lines are read only once whole.
 * The reading is strict where a lax reader could be told a different Host
 * than the server behind the filter.
 */
#define G_LOG_DOMAIN "boxlite-net"

#include "http_host.h"

#include <string.h>

#include "allowlist.h"

/* The longest method accepted, in bytes (the registered ones are shorter). */
#define METHOD_MAX 32
/* Room for an IPv6 literal with a zone, in bytes. */
#define IPV6_TEXT_CAP 64
#define PORT_MAX 65535

/* RFC 9110 5.6.2 token characters. */
static gboolean
is_tchar (uint8_t c)
{
    return g_ascii_isalnum (c) || (c != 0 && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Checks that buf[*pos...] continues with @text; advances past it. */
static BlHostResult
expect (const uint8_t *buf, size_t len, size_t *pos, const char *text)
{
    for (; *text != '\0'; text++, (*pos)++) {
        if (*pos == len)
            return BL_HOST_NEED_MORE;
        if (buf[*pos] != (uint8_t) *text)
            return BL_HOST_NOT_HTTP;
    }
    return BL_HOST_FOUND;
}

/* Reads the request line at the start of @buf. Returns BL_HOST_FOUND with
 * *@end just past its CRLF, the method's length in *@method_len and the
 * target at buf[*@target_start], *@target_len bytes; or BL_HOST_NEED_MORE
 * or BL_HOST_NOT_HTTP. */
static BlHostResult
parse_request_line (const uint8_t *buf, size_t len, size_t *end, size_t *method_len,
                    size_t *target_start, size_t *target_len)
{
    size_t pos = 0, start;
    BlHostResult result;

    while (pos < len && pos <= METHOD_MAX && is_tchar (buf[pos]))
        pos++;
    if (pos > METHOD_MAX)
        return BL_HOST_NOT_HTTP;
    if (pos == len)
        return BL_HOST_NEED_MORE;
    if (pos == 0 || buf[pos] != ' ')
        return BL_HOST_NOT_HTTP;
    *method_len = pos;
    start = ++pos;
    while (pos < len && buf[pos] > ' ' && buf[pos] < 0x7f)
        pos++;
    if (pos == len)
        return BL_HOST_NEED_MORE;
    if (pos == start || buf[pos] != ' ')
        return BL_HOST_NOT_HTTP;
    *target_start = start;
    *target_len = pos - start;
    pos++;
    if ((result = expect (buf, len, &pos, "HTTP/1.")) != BL_HOST_FOUND)
        return result;
    if (pos == len)
        return BL_HOST_NEED_MORE;
    if (!g_ascii_isdigit (buf[pos++]))
        return BL_HOST_NOT_HTTP;
    if ((result = expect (buf, len, &pos, "\r\n")) != BL_HOST_FOUND)
        return result;
    *end = pos;
    return BL_HOST_FOUND;
}

/* TRUE if @c may appear in a field value: HTAB, visible ASCII, SP, and
 * obs-text (0x80 and up). */
static gboolean
is_field_char (uint8_t c)
{
    return c == '\t' || (c >= ' ' && c != 0x7f);
}

/* TRUE if the @len bytes at @text are "" or ":" followed by a port. */
static gboolean
port_is_valid (const uint8_t *text, size_t len)
{
    unsigned port = 0;

    if (len == 0)
        return TRUE;
    if (text[0] != ':' || len > 6)
        return FALSE;
    for (size_t i = 1; i < len; i++) {
        if (!g_ascii_isdigit (text[i]))
            return FALSE;
        port = port * 10 + (unsigned) (text[i] - '0');
    }
    return port <= PORT_MAX;
}

/* Writes the IPv6 address inside "[...]" at the start of @value. */
static BlHostResult
parse_ipv6_host (const uint8_t *value, size_t len, char *out, size_t cap)
{
    const uint8_t *close = memchr (value, ']', len);
    char text[IPV6_TEXT_CAP];
    size_t text_len;

    if (close == NULL)
        return BL_HOST_MALFORMED;
    text_len = (size_t) (close - value) - 1;
    if (text_len == 0 || text_len >= sizeof text || text_len >= cap)
        return BL_HOST_MALFORMED;
    memcpy (text, value + 1, text_len);
    text[text_len] = '\0';
    if (strchr (text, ':') == NULL || !g_hostname_is_ip_address (text) ||
        !port_is_valid (close + 1, len - (size_t) (close + 1 - value)))
        return BL_HOST_MALFORMED;
    for (size_t i = 0; i <= text_len; i++)
        out[i] = g_ascii_tolower (text[i]);
    return BL_HOST_FOUND;
}

/* Parses a Host value (@len bytes, whitespace trimmed) into @out. */
static BlHostResult
parse_host_value (const uint8_t *value, size_t len, char *out, size_t cap)
{
    const uint8_t *colon;
    size_t host_len;
    char text[BL_NET_NAME_CAP];

    if (len == 0)
        return BL_HOST_NO_HOST;
    if (value[0] == '[')
        return parse_ipv6_host (value, len, out, cap);

    colon = memchr (value, ':', len);
    host_len = colon ? (size_t) (colon - value) : len;
    if (!port_is_valid (value + host_len, len - host_len) || host_len >= sizeof text)
        return BL_HOST_MALFORMED;
    memcpy (text, value, host_len); /* no NUL inside: is_field_char() excludes it */
    text[host_len] = '\0';
    if (g_hostname_is_ip_address (text)) {
        if (host_len >= cap)
            return BL_HOST_MALFORMED;
        memcpy (out, text, host_len + 1);
        return BL_HOST_FOUND;
    }
    return bl_net_name_normalize (text, host_len, out, cap) ? BL_HOST_FOUND : BL_HOST_MALFORMED;
}

/* What the header lines said, as they are read. */
typedef struct {
    gboolean seen_host;
    BlHostResult host;
    gboolean seen_length;
    guint64 length;
    gboolean seen_encoding;
    gboolean chunked;
    gboolean upgrade;
} Fields;

static gboolean
name_is (const uint8_t *line, size_t name_len, const char *name)
{
    return name_len == strlen (name) &&
           g_ascii_strncasecmp ((const char *) line, name, name_len) == 0;
}

/* Reads one header line, @len bytes without its CRLF, into @fields; a Host
 * value goes to @out. */
static BlHostResult
parse_field_line (const uint8_t *line, size_t len, Fields *fields, char *out, size_t cap)
{
    size_t name_len = 0, start, end;

    while (name_len < len && is_tchar (line[name_len]))
        name_len++;
    if (name_len == 0 || name_len == len || line[name_len] != ':')
        return BL_HOST_MALFORMED; /* also a folded line, which starts with SP or HTAB */
    for (size_t i = name_len + 1; i < len; i++) {
        if (!is_field_char (line[i]))
            return BL_HOST_MALFORMED;
    }
    start = name_len + 1;
    end = len;
    while (start < end && (line[start] == ' ' || line[start] == '\t'))
        start++;
    while (end > start && (line[end - 1] == ' ' || line[end - 1] == '\t'))
        end--;

    if (name_is (line, name_len, "content-length")) {
        /* One value, digits only: anything else lets two readers disagree
         * on where the next request starts. */
        if (fields->seen_length || end == start || end - start > 18)
            return BL_HOST_MALFORMED;
        fields->seen_length = TRUE;
        for (size_t i = start; i < end; i++) {
            if (!g_ascii_isdigit (line[i]))
                return BL_HOST_MALFORMED;
            fields->length = fields->length * 10 + (guint64) (line[i] - '0');
        }
        return BL_HOST_FOUND;
    }
    if (name_is (line, name_len, "transfer-encoding")) {
        fields->chunked = !fields->seen_encoding && end - start == 7 &&
                          g_ascii_strncasecmp ((const char *) line + start, "chunked", 7) == 0;
        fields->seen_encoding = TRUE;
        return BL_HOST_FOUND;
    }
    if (name_is (line, name_len, "upgrade")) {
        fields->upgrade = TRUE;
        return BL_HOST_FOUND;
    }
    if (!name_is (line, name_len, "host"))
        return BL_HOST_FOUND;
    if (fields->seen_host)
        return BL_HOST_MALFORMED;
    fields->seen_host = TRUE;
    fields->host = parse_host_value (line + start, end - start, out, cap);
    return fields->host == BL_HOST_MALFORMED ? BL_HOST_MALFORMED : BL_HOST_FOUND;
}

/* Reads the request target at @t (@len bytes) of a request whose method is
 * CONNECT or not (@connect); the host it names, if any, goes to @out. */
static BlHostResult
parse_target (const uint8_t *t, size_t len, gboolean connect, char *out, size_t cap)
{
    size_t scheme = 0, auth, auth_end;

    out[0] = '\0';
    if (connect) {
        /* authority-form: host:port, the port required */
        const uint8_t *colon = memchr (t, ':', len);
        if (t[0] == '[')
            colon = memchr (t, ']', len)
                        ? memchr (memchr (t, ']', len), ':',
                                  len - (size_t) ((const uint8_t *) memchr (t, ']', len) - t))
                        : NULL;
        if (!colon || colon + 1 == t + len)
            return BL_HOST_MALFORMED;
        return parse_host_value (t, len, out, cap) == BL_HOST_FOUND ? BL_HOST_FOUND
                                                                    : BL_HOST_MALFORMED;
    }
    if (t[0] == '/' || (len == 1 && t[0] == '*'))
        return BL_HOST_FOUND;
    while (scheme < len && g_ascii_isalpha (t[scheme]))
        scheme++;
    if (!((scheme == 4 && g_ascii_strncasecmp ((const char *) t, "http", 4) == 0) ||
          (scheme == 5 && g_ascii_strncasecmp ((const char *) t, "https", 5) == 0)) ||
        len - scheme < 3 || memcmp (t + scheme, "://", 3) != 0)
        return BL_HOST_MALFORMED;
    auth = auth_end = scheme + 3;
    while (auth_end < len && t[auth_end] != '/' && t[auth_end] != '?' && t[auth_end] != '#')
        auth_end++;
    /* No user information: "http://allowed.test@other.test/" is not
     * something to guess about. */
    if (auth_end == auth || memchr (t + auth, '@', auth_end - auth))
        return BL_HOST_MALFORMED;
    return parse_host_value (t + auth, auth_end - auth, out, cap) == BL_HOST_FOUND
               ? BL_HOST_FOUND
               : BL_HOST_MALFORMED;
}

/* The start of the HTTP/2 connection preface (RFC 9113 3.4). */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n";

BlHostResult
bl_net_http_head_parse (const uint8_t *buf, size_t len, BlHttpHead *out)
{
    gboolean at_bound = len >= BL_NET_HTTP_HEAD_MAX;
    Fields fields = { .host = BL_HOST_NO_HOST };
    BlHostResult result;
    size_t pos = 0, method_len = 0, target_start = 0, target_len = 0;

    memset (out, 0, sizeof *out);
    if (len == 0)
        return BL_HOST_NEED_MORE;
    if (buf == NULL)
        return BL_HOST_NOT_HTTP;
    if (memcmp (buf, h2_preface, MIN (len, sizeof h2_preface - 1)) == 0)
        return len >= sizeof h2_preface - 1 ? BL_HOST_H2_PREFACE : BL_HOST_NEED_MORE;
    len = MIN (len, BL_NET_HTTP_HEAD_MAX);

    result = parse_request_line (buf, len, &pos, &method_len, &target_start, &target_len);
    if (result == BL_HOST_NEED_MORE && at_bound)
        return BL_HOST_MALFORMED;
    if (result != BL_HOST_FOUND)
        return result;
    gboolean connect = method_len == 7 && memcmp (buf, "CONNECT", 7) == 0;
    if (parse_target (buf + target_start, target_len, connect, out->target, sizeof out->target) !=
        BL_HOST_FOUND)
        return BL_HOST_MALFORMED;

    for (;;) {
        const uint8_t *lf = memchr (buf + pos, '\n', len - pos);
        size_t line_len;

        if (lf == NULL) {
            result = at_bound ? BL_HOST_MALFORMED : BL_HOST_NEED_MORE;
            break;
        }
        line_len = (size_t) (lf - (buf + pos));
        if (line_len == 0 || buf[pos + line_len - 1] != '\r') {
            result = BL_HOST_MALFORMED; /* a bare LF */
            break;
        }
        line_len--;
        if (line_len == 0) {
            out->head_len = pos + 2;
            result = fields.host; /* the empty line: the head is complete */
            break;
        }
        result = parse_field_line (buf + pos, line_len, &fields, out->host, sizeof out->host);
        if (result != BL_HOST_FOUND)
            break;
        pos += line_len + 2;
    }
    if (result != BL_HOST_FOUND && result != BL_HOST_NO_HOST) {
        out->host[0] = out->target[0] = '\0';
        return result;
    }
    if (fields.seen_length && fields.seen_encoding)
        return BL_HOST_MALFORMED;
    if (connect)
        out->body = BL_HTTP_BODY_TUNNEL;
    else if (fields.upgrade || (fields.seen_encoding && !fields.chunked))
        out->body = BL_HTTP_BODY_UNKNOWN;
    else if (fields.chunked)
        out->body = BL_HTTP_BODY_CHUNKED;
    else if (fields.seen_length && fields.length > 0)
        out->body = BL_HTTP_BODY_LENGTH;
    out->content_length = fields.length;
    return result;
}

BlHostResult
bl_net_http_host_parse (const uint8_t *buf, size_t len, char *host_out, size_t cap)
{
    BlHttpHead head;
    BlHostResult result = bl_net_http_head_parse (buf, len, &head);

    if (cap > 0)
        host_out[0] = '\0';
    if (result == BL_HOST_H2_PREFACE)
        return BL_HOST_NOT_HTTP;
    if (result == BL_HOST_FOUND) {
        if (strlen (head.host) >= cap)
            return BL_HOST_MALFORMED;
        strcpy (host_out, head.host);
    }
    return result;
}

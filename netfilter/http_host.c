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
 * *@end just past its CRLF, or BL_HOST_NEED_MORE or BL_HOST_NOT_HTTP. */
static BlHostResult
parse_request_line (const uint8_t *buf, size_t len, size_t *end)
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
    start = ++pos;
    while (pos < len && buf[pos] > ' ' && buf[pos] < 0x7f)
        pos++;
    if (pos == len)
        return BL_HOST_NEED_MORE;
    if (pos == start || buf[pos] != ' ')
        return BL_HOST_NOT_HTTP;
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

/* Reads one header line, @len bytes without its CRLF. If it is Host,
 * parses its value into @out, with *@seen_host counting Host lines. */
static BlHostResult
parse_field_line (const uint8_t *line, size_t len, gboolean *seen_host, BlHostResult *host,
                  char *out, size_t cap)
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
    if (name_len != 4 || g_ascii_strncasecmp ((const char *) line, "host", 4) != 0)
        return BL_HOST_FOUND;

    if (*seen_host)
        return BL_HOST_MALFORMED;
    *seen_host = TRUE;
    start = name_len + 1;
    end = len;
    while (start < end && (line[start] == ' ' || line[start] == '\t'))
        start++;
    while (end > start && (line[end - 1] == ' ' || line[end - 1] == '\t'))
        end--;
    *host = parse_host_value (line + start, end - start, out, cap);
    return *host == BL_HOST_MALFORMED ? BL_HOST_MALFORMED : BL_HOST_FOUND;
}

BlHostResult
bl_net_http_host_parse (const uint8_t *buf, size_t len, char *host_out, size_t cap)
{
    gboolean at_bound = len >= BL_NET_HTTP_HEAD_MAX;
    gboolean seen_host = FALSE;
    BlHostResult host = BL_HOST_NO_HOST, result;
    size_t pos = 0;

    if (cap > 0)
        host_out[0] = '\0';
    if (len == 0)
        return BL_HOST_NEED_MORE;
    if (buf == NULL)
        return BL_HOST_NOT_HTTP;
    len = MIN (len, BL_NET_HTTP_HEAD_MAX);

    result = parse_request_line (buf, len, &pos);
    if (result == BL_HOST_NEED_MORE && at_bound)
        return BL_HOST_MALFORMED;
    if (result != BL_HOST_FOUND)
        return result;

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
            result = host; /* the empty line: the head is complete */
            break;
        }
        result = parse_field_line (buf + pos, line_len, &seen_host, &host, host_out, cap);
        if (result != BL_HOST_FOUND)
            break;
        pos += line_len + 2;
    }
    if (result != BL_HOST_FOUND && cap > 0)
        host_out[0] = '\0';
    return result;
}

/* agent_json.c: a small JSON reader and writer for control payloads.
 *
 * Input is hostile: sizes, nesting and node counts are bounded, strings must
 * be valid UTF-8, and numbers must be integers that fit a long long. */
#include "agent.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    const char *p;
    const char *end;
    int depth;
    size_t nodes;
};

static struct agent_json *parse_value(struct parser *ps);

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

static void *xrealloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        abort();
    return q;
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static struct agent_json *new_node(struct parser *ps, enum agent_json_type type)
{
    if (++ps->nodes > AGENT_JSON_MAX_NODES)
        return NULL;
    struct agent_json *v = xcalloc(1, sizeof *v);
    v->type = type;
    return v;
}

static bool literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Length of the valid UTF-8 sequence at @s (at most @n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp, min;

    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) {
        len = 2, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Parses a string starting at the opening quote into a fresh buffer. */
static char *parse_string_raw(struct parser *ps, size_t *out_len)
{
    if (ps->p >= ps->end || *ps->p != '"')
        return NULL;
    ps->p++;
    /* Escapes only shrink, so the output fits in the remaining input. */
    char *out = xcalloc((size_t)(ps->end - ps->p) + 1, 1);
    size_t o = 0;

    while (ps->p < ps->end) {
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            out[o] = '\0';
            *out_len = o;
            return out;
        }
        if (c < 0x20)
            break;
        if (c != '\\') {
            size_t n = utf8_seq((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
            if (!n)
                break;
            memcpy(out + o, ps->p, n);
            o += n;
            ps->p += n;
            continue;
        }
        if (ps->end - ps->p < 2)
            break;
        char e = ps->p[1];
        ps->p += 2;
        switch (e) {
        case '"':
            out[o++] = '"';
            continue;
        case '\\':
            out[o++] = '\\';
            continue;
        case '/':
            out[o++] = '/';
            continue;
        case 'b':
            out[o++] = '\b';
            continue;
        case 'f':
            out[o++] = '\f';
            continue;
        case 'n':
            out[o++] = '\n';
            continue;
        case 'r':
            out[o++] = '\r';
            continue;
        case 't':
            out[o++] = '\t';
            continue;
        case 'u':
            break;
        default:
            goto fail;
        }
        unsigned cp, lo;
        if (ps->end - ps->p < 4 || hex4(ps->p, &cp) < 0)
            break;
        ps->p += 4;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            break; /* lone low surrogate */
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
                hex4(ps->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                break;
            ps->p += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        o += put_utf8(out + o, cp);
    }
fail:
    free(out);
    return NULL;
}

static struct agent_json *parse_number(struct parser *ps)
{
    const char *s = ps->p;
    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
        return NULL;
    if (*ps->p == '0' && ps->p + 1 < ps->end && ps->p[1] >= '0' && ps->p[1] <= '9')
        return NULL; /* leading zero */
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
        ps->p++;
    if (ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E'))
        return NULL; /* only integers are used by the protocol */
    char tmp[32];
    size_t n = (size_t)(ps->p - s);
    if (n >= sizeof tmp)
        return NULL;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    long long v = strtoll(tmp, NULL, 10);
    if (errno)
        return NULL;
    struct agent_json *j = new_node(ps, AGENT_JSON_INT);
    if (j)
        j->integer = v;
    return j;
}

static struct agent_json *parse_container(struct parser *ps, bool object)
{
    struct agent_json *v = new_node(ps, object ? AGENT_JSON_OBJECT : AGENT_JSON_ARRAY);
    size_t cap = 0;
    char close = object ? '}' : ']';

    if (!v)
        return NULL;
    if (++ps->depth > AGENT_JSON_MAX_DEPTH)
        goto fail;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return v;
    }
    for (;;) {
        char *key = NULL;
        size_t key_len = 0;
        skip_ws(ps);
        if (object) {
            key = parse_string_raw(ps, &key_len);
            if (!key)
                goto fail;
            if (strlen(key) != key_len) {
                free(key);
                goto fail;
            }
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                free(key);
                goto fail;
            }
            ps->p++;
        }
        struct agent_json *item = parse_value(ps);
        if (!item) {
            free(key);
            goto fail;
        }
        if (v->n == cap) {
            cap = cap ? cap * 2 : 4;
            v->items = xrealloc(v->items, cap * sizeof *v->items);
            if (object)
                v->keys = xrealloc(v->keys, cap * sizeof *v->keys);
        }
        v->items[v->n] = item;
        if (object)
            v->keys[v->n] = key;
        v->n++;
        skip_ws(ps);
        if (ps->p >= ps->end)
            goto fail;
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p == close) {
            ps->p++;
            ps->depth--;
            return v;
        }
        goto fail;
    }
fail:
    agent_json_free(v);
    return NULL;
}

static struct agent_json *parse_value(struct parser *ps)
{
    struct agent_json *v;

    skip_ws(ps);
    if (ps->p >= ps->end)
        return NULL;
    switch (*ps->p) {
    case '{':
        return parse_container(ps, true);
    case '[':
        return parse_container(ps, false);
    case '"': {
        size_t len = 0;
        char *s = parse_string_raw(ps, &len);
        if (!s)
            return NULL;
        v = new_node(ps, AGENT_JSON_STRING);
        if (!v) {
            free(s);
            return NULL;
        }
        v->str = s;
        v->str_len = len;
        return v;
    }
    case 't':
    case 'f': {
        bool b = *ps->p == 't';
        if (!literal(ps, b ? "true" : "false"))
            return NULL;
        v = new_node(ps, AGENT_JSON_BOOL);
        if (v)
            v->boolean = b;
        return v;
    }
    case 'n':
        return literal(ps, "null") ? new_node(ps, AGENT_JSON_NULL) : NULL;
    default:
        return parse_number(ps);
    }
}

struct agent_json *agent_json_parse(const char *text, size_t len)
{
    struct parser ps = { .p = text, .end = text + len };

    if (!text || len > AGENT_JSON_MAX_INPUT)
        return NULL;
    struct agent_json *v = parse_value(&ps);
    if (!v)
        return NULL;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        agent_json_free(v);
        return NULL;
    }
    return v;
}

void agent_json_free(struct agent_json *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++) {
        agent_json_free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    free(v);
}

const struct agent_json *agent_json_get(const struct agent_json *obj, const char *key)
{
    if (!obj || obj->type != AGENT_JSON_OBJECT)
        return NULL;
    for (size_t i = obj->n; i-- > 0;)
        if (strcmp(obj->keys[i], key) == 0)
            return obj->items[i];
    return NULL;
}

bool agent_json_is_cstring(const struct agent_json *v)
{
    return v && v->type == AGENT_JSON_STRING && strlen(v->str) == v->str_len;
}

const char *agent_json_get_str(const struct agent_json *obj, const char *key)
{
    const struct agent_json *v = agent_json_get(obj, key);
    return agent_json_is_cstring(v) ? v->str : NULL;
}

/* ---- writer ------------------------------------------------------------- */

static void buf_reserve(struct agent_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void agent_buf_free(struct agent_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void agent_buf_add(struct agent_buf *b, const void *data, size_t len)
{
    buf_reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void agent_buf_add_str(struct agent_buf *b, const char *s)
{
    agent_buf_add(b, s, strlen(s));
}

void agent_buf_addf(struct agent_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void agent_buf_add_json_str(struct agent_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);

    agent_buf_add(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char esc[2] = { '\\', (char)c };
            agent_buf_add(b, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            agent_buf_addf(b, "\\u%04x", c);
            i++;
        } else {
            size_t len = utf8_seq(p + i, n - i);
            if (len) {
                agent_buf_add(b, p + i, len);
                i += len;
            } else {
                agent_buf_add_str(b, "\\ufffd"); /* not UTF-8: keep the output valid */
                i++;
            }
        }
    }
    agent_buf_add(b, "\"", 1);
}

/* agent_tar.c: the tar streams of file copies, written and read without a
 * tar program in the image.
 *
 * Written: ustar headers, preceded by a pax extended header when a name or
 * link does not fit its field, when a time has nanoseconds or a number is
 * too large for its octal field. Read: ustar and old-style headers, pax
 * extended headers (path, linkpath, size, mtime, uid, gid) and GNU long
 * names and links, every length checked against a fixed bound before it is
 * used. The reader is fed by whoever copies into the box, so it trusts no
 * field. */
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 512
/* Extended headers larger than this are refused (ours are a few hundred bytes). */
#define MAX_EXT_HEADER (64 * 1024)

/* Offsets of the ustar header fields. */
enum {
    H_NAME = 0,
    H_MODE = 100,
    H_UID = 108,
    H_GID = 116,
    H_SIZE = 124,
    H_MTIME = 136,
    H_CHKSUM = 148,
    H_TYPE = 156,
    H_LINK = 157,
    H_MAGIC = 257,
    H_VERSION = 263,
    H_PREFIX = 345,
};

/* ---- writing ------------------------------------------------------------ */

static int out_write(struct agent_tar_out *out, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        size_t room = sizeof out->buf - out->len;
        size_t n = len < room ? len : room;
        memcpy(out->buf + out->len, p, n);
        out->len += n;
        p += n;
        len -= n;
        if (out->len == sizeof out->buf && agent_tar_flush(out) < 0)
            return -1;
    }
    return 0;
}

int agent_tar_flush(struct agent_tar_out *out)
{
    size_t off = 0;
    while (off < out->len) {
        ssize_t n = write(out->fd, out->buf + off, out->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    out->len = 0;
    return 0;
}

/* Writes @v as @width-1 octal digits and a NUL; false when it does not fit. */
static bool put_octal(uint8_t *field, size_t width, uint64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%0*llo", (int)width - 1, (unsigned long long)v);
    if (n < 0 || (size_t)n > width - 1)
        return false;
    memcpy(field, tmp, width - 1);
    field[width - 1] = '\0';
    return true;
}

/* Appends one "LEN key=value\n" record, LEN counting the whole record. */
static void pax_add(struct agent_buf *b, const char *key, const char *value)
{
    size_t body = strlen(key) + strlen(value) + 3; /* ' ', '=', '\n' */
    size_t len = body + 1;
    for (;;) {
        char digits[24];
        size_t total = body + (size_t)snprintf(digits, sizeof digits, "%zu", len);
        if (total == len)
            break;
        len = total;
    }
    agent_buf_addf(b, "%zu %s=%s\n", len, key, value);
}

static void checksum(uint8_t *h)
{
    unsigned sum = 0;
    memset(h + H_CHKSUM, ' ', 8);
    for (size_t i = 0; i < BLOCK; i++)
        sum += h[i];
    snprintf((char *)h + H_CHKSUM, 8, "%06o", sum);
    h[H_CHKSUM + 7] = ' ';
}

/* Fills a header block; long values go to @pax instead. */
static void fill_header(uint8_t *h, const struct agent_tar_entry *e, char type, uint64_t size,
                        struct agent_buf *pax)
{
    size_t nlen = strlen(e->name);
    char num[64];

    memset(h, 0, BLOCK);
    if (nlen <= 100) {
        memcpy(h + H_NAME, e->name, nlen);
    } else {
        /* ustar can split at a '/' into a 155-byte prefix and a 100-byte name. */
        const char *slash = NULL;
        for (const char *p = e->name + nlen - 1; p > e->name; p--) {
            if (*p == '/' && (size_t)(p - e->name) <= 155 &&
                nlen - (size_t)(p - e->name) - 1 <= 100 && nlen - (size_t)(p - e->name) - 1 > 0) {
                slash = p;
                break;
            }
        }
        if (slash) {
            memcpy(h + H_PREFIX, e->name, (size_t)(slash - e->name));
            memcpy(h + H_NAME, slash + 1, nlen - (size_t)(slash - e->name) - 1);
        } else {
            memcpy(h + H_NAME, e->name, 100);
            pax_add(pax, "path", e->name);
        }
    }
    if (e->link[0]) {
        size_t llen = strlen(e->link);
        memcpy(h + H_LINK, e->link, llen < 100 ? llen : 100);
        if (llen > 100)
            pax_add(pax, "linkpath", e->link);
    }
    put_octal(h + H_MODE, 8, e->mode & 07777);
    if (!put_octal(h + H_UID, 8, e->uid)) {
        snprintf(num, sizeof num, "%u", (unsigned)e->uid);
        pax_add(pax, "uid", num);
    }
    if (!put_octal(h + H_GID, 8, e->gid)) {
        snprintf(num, sizeof num, "%u", (unsigned)e->gid);
        pax_add(pax, "gid", num);
    }
    if (!put_octal(h + H_SIZE, 12, size)) {
        snprintf(num, sizeof num, "%llu", (unsigned long long)size);
        pax_add(pax, "size", num);
    }
    int64_t mt = e->mtime < 0 ? 0 : e->mtime;
    put_octal(h + H_MTIME, 12, (uint64_t)mt);
    if (e->mtime_nsec > 0 || e->mtime < 0) {
        snprintf(num, sizeof num, "%lld.%09ld", (long long)e->mtime, e->mtime_nsec);
        pax_add(pax, "mtime", num);
    }
    h[H_TYPE] = (uint8_t)type;
    memcpy(h + H_MAGIC, "ustar", 6);
    memcpy(h + H_VERSION, "00", 2);
}

int agent_tar_write_header(struct agent_tar_out *out, const struct agent_tar_entry *e)
{
    uint8_t h[BLOCK];
    struct agent_buf pax = { 0 };
    uint64_t size = e->type == AGENT_TAR_REG ? e->size : 0;
    int rc = 0;

    fill_header(h, e, (char)e->type, size, &pax);
    if (pax.len) {
        uint8_t xh[BLOCK];
        struct agent_tar_entry x = { .mode = 0644, .type = 'x' };
        static const uint8_t zero[BLOCK];
        struct agent_buf none = { 0 };
        snprintf(x.name, sizeof x.name, "PaxHeaders/entry");
        fill_header(xh, &x, 'x', pax.len, &none);
        checksum(xh);
        rc = out_write(out, xh, BLOCK);
        if (rc == 0)
            rc = out_write(out, pax.data, pax.len);
        if (rc == 0 && pax.len % BLOCK)
            rc = out_write(out, zero, BLOCK - pax.len % BLOCK);
        agent_buf_free(&none);
    }
    agent_buf_free(&pax);
    checksum(h);
    if (rc == 0)
        rc = out_write(out, h, BLOCK);
    return rc;
}

int agent_tar_write_data(struct agent_tar_out *out, const void *data, size_t len)
{
    return out_write(out, data, len);
}

int agent_tar_pad(struct agent_tar_out *out, uint64_t size)
{
    static const uint8_t zero[BLOCK];
    if (size % BLOCK)
        return out_write(out, zero, BLOCK - size % BLOCK);
    return 0;
}

int agent_tar_finish(struct agent_tar_out *out)
{
    static const uint8_t zero[2 * BLOCK];
    if (out_write(out, zero, sizeof zero) < 0)
        return -1;
    return agent_tar_flush(out);
}

/* ---- reading ------------------------------------------------------------ */

/* Reads exactly @len bytes; -1 on a short stream or a read error. */
static int in_read(struct agent_tar_in *in, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = in->read(in->ctx, p, len);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int in_skip(struct agent_tar_in *in, uint64_t len)
{
    uint8_t buf[4096];
    while (len > 0) {
        size_t n = len < sizeof buf ? (size_t)len : sizeof buf;
        if (in_read(in, buf, n) < 0)
            return -1;
        len -= n;
    }
    return 0;
}

static int fail(char *err, size_t err_len, const char *msg)
{
    snprintf(err, err_len, "%s", msg);
    return -1;
}

/* An octal field (NUL or space terminated) or a GNU base-256 number. */
static bool get_number(const uint8_t *field, size_t width, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;

    if (field[0] & 0x80) {
        if (field[0] != 0x80)
            return false; /* negative or huge */
        for (i = 1; i < width; i++) {
            if (v >> 56)
                return false;
            v = (v << 8) | field[i];
        }
        *out = v;
        return true;
    }
    while (i < width && field[i] == ' ')
        i++;
    for (; i < width && field[i] >= '0' && field[i] <= '7'; i++) {
        if (v >> 60)
            return false;
        v = v * 8 + (uint64_t)(field[i] - '0');
    }
    for (; i < width; i++)
        if (field[i] != ' ' && field[i] != '\0')
            return false;
    *out = v;
    return true;
}

static bool all_zero(const uint8_t *b)
{
    for (size_t i = 0; i < BLOCK; i++)
        if (b[i])
            return false;
    return true;
}

static bool checksum_ok(const uint8_t *h)
{
    uint64_t want;
    unsigned sum = 0;
    if (!get_number(h + H_CHKSUM, 8, &want))
        return false;
    for (size_t i = 0; i < BLOCK; i++)
        sum += (i >= H_CHKSUM && i < H_CHKSUM + 8) ? ' ' : h[i];
    return sum == want;
}

/* Copies a field of at most @width bytes, stopping at a NUL. */
static void get_string(char *dst, const uint8_t *field, size_t width)
{
    size_t n = strnlen((const char *)field, width);
    memcpy(dst, field, n);
    dst[n] = '\0';
}

/* A decimal number that fits in @max, as pax writes them. */
static bool parse_decimal(const char *s, size_t len, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (max - (uint64_t)(s[i] - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* Copies a value that must fit a name field and hold no NUL. */
static bool set_name(char *dst, const char *v, size_t vlen)
{
    if (vlen == 0 || vlen > AGENT_TAR_MAX_NAME || memchr(v, '\0', vlen))
        return false;
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
    return true;
}

/* Applies the records of a pax extended header to @x. */
static int parse_pax(const char *p, size_t len, struct agent_tar_ext *x, char *err, size_t err_len)
{
    while (len > 0) {
        size_t i = 0;
        uint64_t rec;
        while (i < len && i < 20 && p[i] != ' ')
            i++;
        if (i == len || p[i] != ' ' || !parse_decimal(p, i, len, &rec) || rec <= i + 1 ||
            rec > len || p[rec - 1] != '\n')
            return fail(err, err_len, "malformed pax extended header");
        const char *kv = p + i + 1;
        size_t kvlen = (size_t)rec - i - 2;
        const char *eq = memchr(kv, '=', kvlen);
        if (!eq)
            return fail(err, err_len, "malformed pax extended header");
        size_t klen = (size_t)(eq - kv);
        const char *v = eq + 1;
        size_t vlen = kvlen - klen - 1;
        uint64_t num;

        if (klen == 4 && memcmp(kv, "path", 4) == 0) {
            if (!set_name(x->name, v, vlen))
                return fail(err, err_len, "pax path is empty, too long or holds a NUL");
            x->has_name = true;
        } else if (klen == 8 && memcmp(kv, "linkpath", 8) == 0) {
            if (!set_name(x->link, v, vlen))
                return fail(err, err_len, "pax linkpath is empty, too long or holds a NUL");
            x->has_link = true;
        } else if (klen == 4 && memcmp(kv, "size", 4) == 0) {
            if (!parse_decimal(v, vlen, INT64_MAX, &num))
                return fail(err, err_len, "malformed pax size");
            x->size = num;
            x->has_size = true;
        } else if ((klen == 3 && memcmp(kv, "uid", 3) == 0) ||
                   (klen == 3 && memcmp(kv, "gid", 3) == 0)) {
            if (!parse_decimal(v, vlen, UINT32_MAX - 1, &num))
                return fail(err, err_len, "malformed pax owner");
            if (kv[0] == 'u') {
                x->uid = (uint32_t)num;
                x->has_uid = true;
            } else {
                x->gid = (uint32_t)num;
                x->has_gid = true;
            }
        } else if (klen == 5 && memcmp(kv, "mtime", 5) == 0) {
            const char *dot = memchr(v, '.', vlen);
            size_t ilen = dot ? (size_t)(dot - v) : vlen;
            uint64_t frac = 0;
            if (!parse_decimal(v, ilen, INT64_MAX, &num))
                return fail(err, err_len, "malformed pax mtime");
            x->mtime = (int64_t)num;
            x->mtime_nsec = 0;
            if (dot) {
                size_t flen = vlen - ilen - 1;
                size_t use = flen < 9 ? flen : 9;
                if (flen > 0 && !parse_decimal(dot + 1, use, 999999999, &frac))
                    return fail(err, err_len, "malformed pax mtime");
                for (size_t k = use; k < 9; k++)
                    frac *= 10;
                x->mtime_nsec = (long)frac;
            }
            x->has_mtime = true;
        }
        /* Other keys (atime, xattrs, charset...) are not applied. */
        p += rec;
        len -= (size_t)rec;
    }
    return 0;
}

/* Reads an extended header's body of @size bytes (and its padding). */
static char *read_ext(struct agent_tar_in *in, uint64_t size, char *err, size_t err_len)
{
    if (size > MAX_EXT_HEADER) {
        fail(err, err_len, "extended header too large");
        return NULL;
    }
    char *body = malloc((size_t)size + 1);
    if (!body)
        abort();
    if (in_read(in, body, (size_t)size) < 0 || in_skip(in, (BLOCK - size % BLOCK) % BLOCK) < 0) {
        free(body);
        fail(err, err_len, "the archive ends inside an extended header");
        return NULL;
    }
    body[size] = '\0';
    return body;
}

int agent_tar_next(struct agent_tar_in *in, struct agent_tar_entry *e, char *err, size_t err_len)
{
    struct agent_tar_ext x = { 0 };
    uint8_t h[BLOCK];

    if (in_skip(in, in->remaining + in->pad) < 0)
        return fail(err, err_len, "the archive ends inside a file");
    in->remaining = in->pad = 0;
    for (int ext = 0;; ext++) {
        if (ext > 8)
            return fail(err, err_len, "too many extended headers for one entry");
        if (in_read(in, h, BLOCK) < 0)
            return fail(err, err_len, "the archive ends without its end marker");
        if (all_zero(h))
            return 0;
        if (!checksum_ok(h))
            return fail(err, err_len, "a header's checksum does not match");
        uint64_t size;
        if (!get_number(h + H_SIZE, 12, &size) || size > INT64_MAX)
            return fail(err, err_len, "a header has an invalid size");
        char type = (char)h[H_TYPE];
        if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
            char *body = read_ext(in, size, err, err_len);
            int rc = 0;
            if (!body)
                return -1;
            if (type == 'x') {
                rc = parse_pax(body, (size_t)size, &x, err, err_len);
            } else if (type == 'L' || type == 'K') {
                size_t n = strnlen(body, (size_t)size);
                if (!set_name(type == 'L' ? x.name : x.link, body, n))
                    rc = fail(err, err_len, "a GNU long name is empty or too long");
                else if (type == 'L')
                    x.has_name = true;
                else
                    x.has_link = true;
            }
            free(body);
            if (rc < 0)
                return -1;
            continue; /* 'g' (global) headers are read and not applied */
        }

        memset(e, 0, sizeof *e);
        if (x.has_name) {
            memcpy(e->name, x.name, sizeof e->name);
        } else {
            char name[101], prefix[156];
            get_string(name, h + H_NAME, 100);
            get_string(prefix, h + H_PREFIX, 155);
            if (memcmp(h + H_MAGIC, "ustar", 5) == 0 && prefix[0])
                snprintf(e->name, sizeof e->name, "%s/%s", prefix, name);
            else
                memcpy(e->name, name, sizeof name);
        }
        if (x.has_link)
            memcpy(e->link, x.link, sizeof e->link);
        else
            get_string(e->link, h + H_LINK, 100);
        if (!e->name[0])
            return fail(err, err_len, "an entry has no name");
        uint64_t mode, uid, gid, mtime;
        if (!get_number(h + H_MODE, 8, &mode) || !get_number(h + H_UID, 8, &uid) ||
            !get_number(h + H_GID, 8, &gid) || !get_number(h + H_MTIME, 12, &mtime) ||
            uid >= UINT32_MAX || gid >= UINT32_MAX || mtime > INT64_MAX)
            return fail(err, err_len, "a header has an invalid number");
        e->mode = (uint32_t)(mode & 07777);
        e->uid = x.has_uid ? x.uid : (uint32_t)uid;
        e->gid = x.has_gid ? x.gid : (uint32_t)gid;
        e->mtime = x.has_mtime ? x.mtime : (int64_t)mtime;
        e->mtime_nsec = x.has_mtime ? x.mtime_nsec : 0;
        if (x.has_size)
            size = x.size;
        switch (type) {
        case '\0':
        case '0':
        case '7':
            e->type = AGENT_TAR_REG;
            break;
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
            e->type = (enum agent_tar_type)type;
            break;
        default:
            return fail(err, err_len, "an entry has an unsupported type");
        }
        if ((e->type == AGENT_TAR_LINK || e->type == AGENT_TAR_SYMLINK) && !e->link[0])
            return fail(err, err_len, "a link has no target");
        /* Only regular files carry data; a size on anything else is skipped. */
        e->size = e->type == AGENT_TAR_REG ? size : 0;
        in->remaining = size;
        in->pad = (BLOCK - size % BLOCK) % BLOCK;
        if (e->type == AGENT_TAR_CHR || e->type == AGENT_TAR_BLK) {
            uint64_t major, minor;
            if (!get_number(h + 329, 8, &major) || !get_number(h + 337, 8, &minor) ||
                major > 0xfff || minor > 0xfffff)
                return fail(err, err_len, "a device entry has an invalid number");
            e->dev_major = (uint32_t)major;
            e->dev_minor = (uint32_t)minor;
        }
        return 1;
    }
}

ssize_t agent_tar_read_data(struct agent_tar_in *in, void *buf, size_t len)
{
    if (in->remaining == 0)
        return 0;
    if (len > in->remaining)
        len = (size_t)in->remaining;
    ssize_t n = in->read(in->ctx, buf, len);
    if (n <= 0)
        return -1;
    in->remaining -= (uint64_t)n;
    return n;
}

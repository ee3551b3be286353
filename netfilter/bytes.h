/* bytes.h: reading (and writing) big-endian fields of untrusted buffers.
 *
 * The parsers of what the guest sends (packet.c, dns.c, tls_sni.c) take a
 * field only through these: bl_bytes_at() gives the @n bytes at an offset
 * of a buffer, or NULL if they are not all inside it, and the readers
 * below read from such a slice by a named offset. So a parser never
 * computes a pointer it has not checked against the length it was given.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

G_BEGIN_DECLS

/* The @n bytes at @off of @buf (@len bytes), or NULL if any of them lies
 * outside (or @buf is NULL). */
static inline const uint8_t *
bl_bytes_at (const uint8_t *buf, size_t len, size_t off, size_t n)
{
    return buf && off <= len && n <= len - off ? buf + off : NULL;
}

/* Big-endian fields at @p, inside a slice bl_bytes_at() checked. */
static inline uint16_t
bl_be16 (const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static inline uint32_t
bl_be24 (const uint8_t *p)
{
    return (uint32_t) p[0] << 16 | (uint32_t) p[1] << 8 | p[2];
}

static inline uint32_t
bl_be32 (const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | bl_be24 (p + 1);
}

/* The big-endian 16-bit field at @off of @buf (@len bytes) into *@out.
 * FALSE, leaving *@out alone, if it is not all there. */
static inline gboolean
bl_be16_at (const uint8_t *buf, size_t len, size_t off, uint16_t *out)
{
    const uint8_t *p = bl_bytes_at (buf, len, off, 2);

    if (!p)
        return FALSE;
    *out = bl_be16 (p);
    return TRUE;
}

static inline void
bl_put16 (uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t) (v >> 8);
    p[1] = (uint8_t) v;
}

static inline void
bl_put32 (uint8_t *p, uint32_t v)
{
    bl_put16 (p, (uint16_t) (v >> 16));
    bl_put16 (p + 2, (uint16_t) v);
}

G_END_DECLS

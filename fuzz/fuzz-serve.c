/* fuzz-serve.c: what `boxlite serve` makes of a client's bytes that it
 * parses itself: the attach WebSocket's control messages and list page
 * tokens; and the frames it writes, followed to count what left. The first
 * byte picks the parser; the rest is the input. Built as
 * a replay test (mutated valid messages) or, with -Dfuzzing=true, as a
 * libFuzzer target. */
#include <string.h>

#include "serve.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* Any bytes, in one piece and in pieces cut where the bytes say: the same
 * count, never more than the bytes. */
static void
follow_frames (const guint8 *data, gsize len)
{
    BlServeWsFollow whole = { 0 }, pieces = { 0 };

    bl_serve_ws_follow (&whole, data, len);
    g_assert (whole.binary <= len);
    for (gsize at = 0; at < len;) {
        gsize n = MIN (len - at, (gsize) (data[at] % 7) + 1);
        bl_serve_ws_follow (&pieces, data + at, n);
        at += n;
    }
    g_assert (pieces.binary == whole.binary && pieces.payload_left == whole.payload_left);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *text = (const char *) data + 1;
    gsize len = size - 1;

    if (data[0] == 2) {
        follow_frames (data + 1, len);
    } else if (data[0] & 1) {
        BlServeControl c;
        if (!bl_serve_control_parse (text, len, &c)) {
            g_assert (c.kind <= BL_SERVE_CONTROL_STDIN_EOF);
            if (c.kind == BL_SERVE_CONTROL_RESIZE)
                g_assert (c.cols >= 1 && c.cols <= 65535 && c.rows >= 1 && c.rows <= 65535);
            if (c.kind == BL_SERVE_CONTROL_SIGNAL)
                g_assert (bl_serve_signal_allowed (c.sig));
        }
    } else {
        g_autofree char *token = g_strndup (text, len);
        g_autofree char *key = NULL;
        gint64 t;
        if (bl_serve_page_token_parse (token, &t, &key)) {
            /* What parses makes the same token again. */
            g_autofree char *again = bl_serve_page_token_new (t, key);
            g_autofree char *key2 = NULL;
            gint64 t2;
            g_assert (bl_serve_page_token_parse (again, &t2, &key2));
            g_assert (t2 == t && g_str_equal (key, key2));
        }
    }
    return 0;
}

#ifndef BOXLITE_LIBFUZZER
/* Frames as the server writes them: binary with 7-, 16- and 64-bit
 * lengths, a text frame, a ping; the selector first. */
static const guint8 frames_seed[] = {
    2,                                                        /* the selector */
    0x82, 3,   'a', 'b', 'c',                                 /* binary, 3 bytes */
    0x82, 126, 0,   2,   'x', 'y',                            /* binary, 16-bit length */
    0x81, 2,   '{', '}',                                      /* text */
    0x89, 0,                                                  /* ping */
    0x82, 127, 0,   0,   0,   0,   0, 0, 0, 3, 'd', 'a', 't', /* binary, 64-bit length */
};
#define FRAMES_SEED_BINARY 8

static const char *const seeds[] = {
    "\x01{\"type\":\"resize\",\"cols\":120,\"rows\":40}",
    "\x01{\"type\":\"signal\",\"sig\":15}",
    "\x01{\"type\":\"stdin_eof\"}",
    "\x01{\"type\":\"resize\",\"cols\":1e9,\"rows\":-1}",
    "\x00MTc2NDc3MTIzNDU2Nzg5MDowZjNjMmE5YjhlN2Q0YzZh",
    "\x00MDpzaGEyNTY6MDEyM2FiY2QgMTI3LjAuMC4xOjUwMDAvc2ltcGxlOmxhdGVzdA==",
};

int
main (int argc, char **argv)
{
    guint runs = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 20000;
    g_autoptr (GRand) rand = g_rand_new_with_seed (argc > 2 ? (guint32) atoi (argv[2]) : 1);
    BlServeWsFollow known = { 0 };

    bl_serve_ws_follow (&known, frames_seed + 1, sizeof frames_seed - 1);
    g_assert (known.binary == FRAMES_SEED_BINARY && known.payload_left == 0 &&
              known.header_len == 0);

    for (guint i = 0; i < runs; i++) {
        gint pick = g_rand_int_range (rand, 0, G_N_ELEMENTS (seeds) + 1);
        const char *seed = pick < (gint) G_N_ELEMENTS (seeds) ? seeds[pick] : NULL;
        g_autoptr (GByteArray) buf = g_byte_array_new ();
        /* The selector byte, then the text (after the NUL of "\x00…"). */
        if (seed) {
            g_byte_array_append (buf, (const guint8 *) seed, 1);
            g_byte_array_append (buf, (const guint8 *) seed + 1, (guint) strlen (seed + 1));
        } else {
            g_byte_array_append (buf, frames_seed, sizeof frames_seed);
        }
        guint flips = g_rand_int_range (rand, 0, 6);
        for (guint f = 0; f < flips && buf->len > 1; f++)
            buf->data[g_rand_int_range (rand, 1, (gint32) buf->len)] = (guint8) g_rand_int (rand);
        if (g_rand_boolean (rand))
            g_byte_array_set_size (buf, g_rand_int_range (rand, 1, (gint32) buf->len + 1));
        LLVMFuzzerTestOneInput (buf->data, buf->len);
    }
    g_print ("%u inputs replayed\n", runs);
    return 0;
}
#endif

/* fuzz-e2b.c: what the /e2b API of `boxlite serve` parses itself: the
 * Connect envelope of a client's request stream, and the file records
 * GNU find prints in a box. The first byte picks the parser; the rest is
 * the input. Built as a replay test (mutated valid inputs) or, with
 * -Dfuzzing=true, as a libFuzzer target. */
#include <string.h>

#include "e2b.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
    if (size < 1)
        return 0;
    const guint8 *in = data + 1;
    gsize len = size - 1;

    if (data[0] & 1) {
        const guint8 *message = NULL;
        gsize message_len = 0;
        if (!bl_e2b_envelope_read (in, len, &message, &message_len)) {
            /* The message is all of the rest, within the bound. */
            g_assert (message == in + 5 && message_len == len - 5);
            g_assert (message_len <= BL_E2B_MAX_ENVELOPE);
            g_autoptr (GByteArray) again = g_byte_array_new ();
            bl_e2b_envelope_append (again, 0, (const char *) message, message_len);
            g_assert (again->len == len && memcmp (again->data, in, len) == 0);
        }
    } else {
        g_autoptr (JsonBuilder) b = json_builder_new ();
        const char *why = NULL;
        json_builder_begin_array (b);
        if (bl_e2b_entries_parse (in, len, data[0] & 2, b, &why)) {
            json_builder_end_array (b);
            g_autoptr (JsonNode) root = json_builder_get_root (b);
            JsonArray *entries = json_node_get_array (root);
            for (guint i = 0; i < json_array_get_length (entries); i++) {
                JsonObject *e = json_array_get_object_element (entries, i);
                g_assert (json_object_get_string_member (e, "path")[0] == '/');
                g_assert (json_object_get_int_member (e, "mode") <= 07777);
            }
        } else {
            g_assert (why);
        }
    }
    return 0;
}

#ifndef BOXLITE_LIBFUZZER
#define RECORD(y, path)                                                                            \
    y "\0"                                                                                         \
      "11\0"                                                                                       \
      "644\0"                                                                                      \
      "-rw-r--r--\0"                                                                               \
      "root\0"                                                                                     \
      "root\0"                                                                                     \
      "1764771234.5\0" path "\0"                                                                   \
      "\0"
static const struct {
    const char *data;
    gsize len;
} seeds[] = {
#define SEED(s)                                                                                    \
    {                                                                                              \
        s, sizeof s - 1                                                                            \
    }
    SEED ("\x01\x00\x00\x00\x00\x02{}"),
    SEED ("\x01\x00\x00\x00\x00\x0c{\"path\":\"/\"}"),
    SEED ("\x01\x02\x00\x00\x00\x02{}"),
    SEED ("\x02" RECORD ("d", "/tmp") RECORD ("f", "/tmp/a.txt") RECORD ("l", "/tmp/link")),
    SEED ("\x00" RECORD ("f", "/tmp/a.txt")),
#undef SEED
};

int
main (int argc, char **argv)
{
    guint runs = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 20000;
    g_autoptr (GRand) rand = g_rand_new_with_seed (argc > 2 ? (guint32) atoi (argv[2]) : 1);

    for (guint i = 0; i < runs; i++) {
        guint pick = (guint) g_rand_int_range (rand, 0, G_N_ELEMENTS (seeds));
        g_autoptr (GByteArray) buf = g_byte_array_new ();
        g_byte_array_append (buf, (const guint8 *) seeds[pick].data, (guint) seeds[pick].len);
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

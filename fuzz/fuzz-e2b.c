/* fuzz-e2b.c: what the /e2b API of `boxlite serve` parses itself: the
 * Connect envelope of a client's request stream, the file records GNU
 * find prints in a box, the sandbox list's query (state, limit, page token,
 * order) and the user of a Basic Authorization header. The first byte
 * picks the parser; the rest is the input. Built as a replay test (mutated valid inputs) or, with
 * -Dfuzzing=true, as a libFuzzer target. */
#include <string.h>

#include "e2b.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* The list's query: state, limit, token and order, NUL-separated (a field
 * not there is absent). */
static void
list_query (const guint8 *in, gsize len)
{
    g_autofree char *text = g_strndup ((const char *) in, len);
    const char *field[4] = { NULL };
    const char *p = text, *end = text + len;
    BlE2bListQuery q;

    for (guint i = 0; i < G_N_ELEMENTS (field) && p <= end; i++) {
        field[i] = p;
        p += strlen (p) + 1;
    }
    if (bl_e2b_list_query_parse (field[0], field[1], field[2], field[3], &q))
        return;
    g_assert (q.limit >= 1 && q.limit <= BL_E2B_LIST_MAX_LIMIT);
    g_assert (q.states && !(q.states & ~(BL_E2B_LIST_RUNNING | BL_E2B_LIST_PAUSED)));
    g_assert (q.after == (field[2] != NULL));
    if (q.after) {
        /* One token per position: it is made again from what was read. */
        g_autofree char *again = bl_e2b_list_token (q.after_us, q.after_id);
        g_assert_cmpstr (again, ==, field[2]);
        g_assert (q.after_us >= 0 && strlen (q.after_id) <= BL_E2B_LIST_MAX_ID);
        g_assert (bl_e2b_list_compare (&q, q.after_us, q.after_id, q.after_us, q.after_id) == 0);
        g_assert (!bl_e2b_list_wants (&q, q.after_us, q.after_id));
        g_assert (bl_e2b_list_compare (&q, q.after_us, q.after_id, q.after_us + 1, "x") ==
                  -bl_e2b_list_compare (&q, q.after_us + 1, "x", q.after_us, q.after_id));
    }
}

/* The user of an Authorization header. */
static void
basic_user (const guint8 *in, gsize len)
{
    g_autofree char *header = g_strndup ((const char *) in, len);
    g_autofree char *user = NULL;

    if (bl_e2b_basic_user (header, &user) || !user)
        return;
    gsize n = strlen (user);
    g_assert (n >= 1 && n <= BL_E2B_MAX_USER && user[0] != '-');
    for (gsize i = 0; i < n; i++)
        g_assert (g_ascii_isalnum (user[i]) || strchr ("._-", user[i]));
    /* What the SDK would send for that user reads back as it. */
    g_autofree char *pair = g_strconcat (user, ":", NULL);
    g_autofree char *b64 = g_base64_encode ((const guchar *) pair, strlen (pair));
    g_autofree char *again = g_strconcat ("Basic ", b64, NULL);
    g_autofree char *user2 = NULL;
    g_assert (!bl_e2b_basic_user (again, &user2));
    g_assert_cmpstr (user2, ==, user);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
    if (size < 1)
        return 0;
    const guint8 *in = data + 1;
    gsize len = size - 1;

    if (data[0] & 0x10) {
        if (data[0] & 1)
            basic_user (in, len);
        else
            list_query (in, len);
    } else if (data[0] & 1) {
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
    SEED ("\x10running,paused\0"
          "1\0"
          "1764771234500000.0b5e4f7c-1d2a-4c3b-9e8f-123456789abc\0"
          "asc"),
    SEED ("\x10paused\0"
          "100"),
    SEED ("\x11"
          "Basic dXNlcjo="),
    SEED ("\x11"
          "Basic bm9ib2R5OnNlY3JldA=="),
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

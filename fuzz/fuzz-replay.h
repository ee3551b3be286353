/* fuzz-replay.h: the driver of a fuzz target built without libFuzzer: it
 * replays inputs made by @seed (well-formed, so that mutations reach past
 * the first checks), each with a few random bytes changed and sometimes cut
 * short, so that every test run covers the same code.
 *
 *   fuzz-TARGET [RUNS [SEED]]      (20000 runs, seed 1 by default)
 */
#pragma once

#include <gio/gio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

typedef GByteArray *(*FuzzSeedFunc) (GRand *rand);

/* A stream whose reads give a copy of @data, then the end, and whose writes
 * are kept in memory: a peer that sends @data and closes. */
static inline GIOStream *
fuzz_stream_new (const guint8 *data, size_t size)
{
    g_autoptr (GInputStream) in =
        g_memory_input_stream_new_from_data (g_memdup2 (data, size), size, g_free);
    g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();

    return g_simple_io_stream_new (in, out);
}

static inline int
fuzz_replay_main (int argc, char **argv, FuzzSeedFunc seed, const char *what)
{
    guint runs = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 20000;
    g_autoptr (GRand) rand = g_rand_new_with_seed (argc > 2 ? (guint32) atoi (argv[2]) : 1);

    for (guint i = 0; i < runs; i++) {
        g_autoptr (GByteArray) buf = seed (rand);
        guint flips = g_rand_int_range (rand, 0, 8);
        for (guint f = 0; f < flips && buf->len; f++)
            buf->data[g_rand_int_range (rand, 0, (gint32) buf->len)] = (guint8) g_rand_int (rand);
        if (g_rand_boolean (rand))
            g_byte_array_set_size (buf, g_rand_int_range (rand, 0, (gint32) buf->len + 1));
        LLVMFuzzerTestOneInput (buf->data, buf->len);
    }
    g_print ("%u %s replayed\n", runs, what);
    return 0;
}

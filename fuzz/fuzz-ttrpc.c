/* fuzz-ttrpc.c: what containerd-shim-boxlite-v2 makes of an arbitrary byte
 * stream from a ttrpc client: headers, stream ids, Request envelopes, and a
 * reply to every request taken. Built as a libFuzzer target with
 * -Dfuzzing=true (clang); otherwise a small driver replays random and
 * mutated streams in every test run. */
#include <gio/gio.h>

#include "ttrpc-conn.h"

#include "fuzz-replay.h"

static void
on_request (BlTtrpcConn *conn, gpointer data, gpointer user_data)
{
    BlTtrpcRequest *request = data;

    (*(guint *) user_data)++;
    bl_ttrpc_conn_reply (conn, request->stream_id, BL_TTRPC_UNIMPLEMENTED, request->method,
                         request->payload);
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
    g_autoptr (GIOStream) stream = fuzz_stream_new (data, size);
    g_autoptr (BlTtrpcConn) conn = bl_ttrpc_conn_new (stream);
    guint requests = 0;

    g_signal_connect (conn, "request", G_CALLBACK (on_request), &requests);
    while (!bl_ttrpc_conn_is_closed (conn))
        g_main_context_iteration (NULL, TRUE);
    return 0;
}

#ifndef BOXLITE_LIBFUZZER
/* Well-formed requests, so that mutations reach past the header checks. */
static GByteArray *
seed_stream (GRand *rand)
{
    GByteArray *buf = g_byte_array_new ();
    const char *methods[] = { "Create", "State", "Wait", "Kill", "Exec" };
    guint n = g_rand_int_range (rand, 1, 5);

    for (guint i = 0; i < n; i++) {
        g_autoptr (GBytes) payload = g_bytes_new_static ("\x0a\x03"
                                                         "abc",
                                                         5);
        g_autoptr (GBytes) msg = bl_ttrpc_request_encode (
            2 * i + 1, "containerd.task.v2.Task", methods[g_rand_int_range (rand, 0, 5)], payload);
        g_byte_array_append (buf, g_bytes_get_data (msg, NULL), g_bytes_get_size (msg));
    }
    return buf;
}

int
main (int argc, char **argv)
{
    return fuzz_replay_main (argc, argv, seed_stream, "streams");
}
#endif

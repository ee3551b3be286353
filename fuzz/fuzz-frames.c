/* fuzz-frames.c: what the host makes of an arbitrary byte stream from a
 * peer (guest agent or box monitor): frame headers, payload bounds, control
 * JSON. Built as a libFuzzer target with -Dfuzzing=true (clang); otherwise a
 * small driver replays random and mutated streams so every test run covers
 * the same code. */
#include <gio/gio.h>

#include "bl_proto.h"
#include "frame-conn.h"

#include "fuzz-replay.h"

typedef struct {
    gboolean closed;
    guint frames;
} State;

static void
on_frame (BlFrameConn *conn, guint channel, guint type, GBytes *payload, gpointer user_data)
{
    State *st = user_data;

    st->frames++;
    if (type == BL_FRAME_CONTROL) {
        g_autoptr (JsonObject) obj = bl_frame_parse_control (payload, NULL);
        if (obj)
            (void) json_object_get_string_member_with_default (obj, "execute", NULL);
    }
}

static void
on_closed (BlFrameConn *conn, const GError *reason, gpointer user_data)
{
    ((State *) user_data)->closed = TRUE;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
    g_autoptr (GIOStream) stream = fuzz_stream_new (data, size);
    State st = { 0 };
    g_autoptr (BlFrameConn) conn = bl_frame_conn_new (stream, "fuzz");

    g_signal_connect (conn, "frame", G_CALLBACK (on_frame), &st);
    g_signal_connect (conn, "closed", G_CALLBACK (on_closed), &st);
    while (!st.closed)
        g_main_context_iteration (NULL, TRUE);
    return 0;
}

#ifndef BOXLITE_LIBFUZZER
/* Valid frames, so that mutations reach past the header checks. */
static GByteArray *
seed_stream (GRand *rand)
{
    GByteArray *buf = g_byte_array_new ();
    const char *controls[] = { "{\"return\":{\"pid\":12}}",
                               "{\"event\":\"exit\",\"data\":{\"code\":0}}",
                               "{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"x\"}}" };
    guint n = g_rand_int_range (rand, 1, 6);

    for (guint i = 0; i < n; i++) {
        guint8 header[BL_PROTO_HEADER_SIZE];
        guint kind = g_rand_int_range (rand, 0, 3);
        const char *payload = kind == 0 ? controls[g_rand_int_range (rand, 0, 3)] : "some output";
        struct bl_frame_header h = {
            .len = (uint32_t) strlen (payload),
            .channel = (uint32_t) g_rand_int_range (rand, 0, 3),
            .type = kind == 0 ? BL_FRAME_CONTROL : BL_FRAME_STDOUT,
        };
        if (h.type != BL_FRAME_CONTROL && h.channel == 0)
            h.channel = 1;
        bl_proto_encode_header (header, &h);
        g_byte_array_append (buf, header, sizeof header);
        g_byte_array_append (buf, (const guint8 *) payload, h.len);
    }
    return buf;
}

int
main (int argc, char **argv)
{
    return fuzz_replay_main (argc, argv, seed_stream, "streams");
}
#endif

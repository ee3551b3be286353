/* test-ttrpc.c: the ttrpc link of containerd-shim-boxlite-v2 against well-
 * formed and hostile clients: each hostile stream must end the link with a
 * protocol error, and nothing it sent may reach a handler. */
#include <gio/gio.h>

#include "ttrpc-conn.h"
#include "ttrpc.pb-c.h"
#include <boxlite/boxlite-error.h>

typedef struct {
    GPtrArray *methods; /* "service/method" of each request seen */
    GPtrArray *payloads;
    gboolean closed;
    GError *reason;
    gboolean answer; /* reply OK to each request */
} Seen;

static void
on_request (BlTtrpcConn *conn, gpointer data, gpointer user_data)
{
    BlTtrpcRequest *request = data;
    Seen *seen = user_data;

    g_ptr_array_add (seen->methods, g_strdup_printf ("%s/%s", request->service, request->method));
    g_ptr_array_add (seen->payloads, g_bytes_ref (request->payload));
    if (seen->answer)
        g_assert_true (
            bl_ttrpc_conn_reply (conn, request->stream_id, BL_TTRPC_OK, NULL, request->payload));
}

static void
on_closed (BlTtrpcConn *conn, const GError *reason, gpointer user_data)
{
    Seen *seen = user_data;

    g_assert_false (seen->closed);
    seen->closed = TRUE;
    seen->reason = reason ? g_error_copy (reason) : NULL;
}

static void
seen_clear (Seen *seen)
{
    g_ptr_array_unref (seen->methods);
    g_ptr_array_unref (seen->payloads);
    g_clear_error (&seen->reason);
}

/* Feeds @input to a link as the whole of what a client sends and runs it
 * until it closes; what the server wrote goes to @output_or_null. */
static void
run_link (GBytes *input, Seen *seen, GBytes **output_or_null)
{
    g_autoptr (GInputStream) in = g_memory_input_stream_new_from_bytes (input);
    g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
    g_autoptr (GIOStream) stream = g_simple_io_stream_new (in, out);

    seen->methods = g_ptr_array_new_with_free_func (g_free);
    seen->payloads = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
    g_autoptr (BlTtrpcConn) conn = bl_ttrpc_conn_new (stream);
    g_signal_connect (conn, "request", G_CALLBACK (on_request), seen);
    g_signal_connect (conn, "closed", G_CALLBACK (on_closed), seen);
    while (!seen->closed)
        g_main_context_iteration (NULL, TRUE);
    if (output_or_null)
        *output_or_null = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (out));
}

static GBytes *
request (guint32 stream_id, const char *service, const char *method, const char *payload)
{
    g_autoptr (GBytes) body = g_bytes_new_static (payload, strlen (payload));
    return bl_ttrpc_request_encode (stream_id, service, method, body);
}

static GBytes *
concat (GBytes *a, GBytes *b)
{
    g_autoptr (GByteArray) all = g_byte_array_new ();
    g_byte_array_append (all, g_bytes_get_data (a, NULL), g_bytes_get_size (a));
    g_byte_array_append (all, g_bytes_get_data (b, NULL), g_bytes_get_size (b));
    return g_byte_array_free_to_bytes (g_steal_pointer (&all));
}

/* A header with any fields and @body_len bytes of zeros after it. */
static GBytes *
raw_message (guint32 length, guint32 stream_id, guint8 type, guint8 flags, gsize body_len)
{
    guint8 *buf = g_malloc0 (BL_TTRPC_HEADER_SIZE + body_len);
    BlTtrpcHeader h = { .length = length, .stream_id = stream_id, .type = type, .flags = flags };

    bl_ttrpc_header_encode (buf, &h);
    return g_bytes_new_take (buf, BL_TTRPC_HEADER_SIZE + body_len);
}

static void
assert_refused (GBytes *input, const char *expected_words)
{
    Seen seen = { 0 };

    run_link (input, &seen, NULL);
    g_assert_cmpuint (seen.methods->len, ==, 0);
    g_assert_error (seen.reason, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
    g_assert_nonnull (strstr (seen.reason->message, expected_words));
    seen_clear (&seen);
}

static void
test_round_trip (void)
{
    g_autoptr (GBytes) one = request (1, "containerd.task.v2.Task", "State", "abc");
    g_autoptr (GBytes) two = request (3, "containerd.task.v2.Task", "Wait", "");
    g_autoptr (GBytes) input = concat (one, two);
    g_autoptr (GBytes) output = NULL;
    Seen seen = { .answer = TRUE };

    run_link (input, &seen, &output);
    g_assert_null (seen.reason);
    g_assert_cmpuint (seen.methods->len, ==, 2);
    g_assert_cmpstr (seen.methods->pdata[0], ==, "containerd.task.v2.Task/State");
    g_assert_cmpstr (seen.methods->pdata[1], ==, "containerd.task.v2.Task/Wait");
    g_assert_cmpuint (g_bytes_get_size (seen.payloads->pdata[0]), ==, 3);

    /* Two responses, on the requests' streams, carrying status OK and the
     * payload back. */
    gsize len = 0;
    const guint8 *p = g_bytes_get_data (output, &len);
    guint32 expect_ids[] = { 1, 3 };
    for (guint i = 0; i < 2; i++) {
        g_assert_cmpuint (len, >=, BL_TTRPC_HEADER_SIZE);
        guint32 body = (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
        guint32 id = (guint32) p[4] << 24 | (guint32) p[5] << 16 | (guint32) p[6] << 8 | p[7];
        g_assert_cmpuint (id, ==, expect_ids[i]);
        g_assert_cmpuint (p[8], ==, BL_TTRPC_TYPE_RESPONSE);
        g_assert_cmpuint (len - BL_TTRPC_HEADER_SIZE, >=, body);
        Boxlite__Ttrpc__Response *resp =
            boxlite__ttrpc__response__unpack (NULL, body, p + BL_TTRPC_HEADER_SIZE);
        g_assert_nonnull (resp);
        g_assert_nonnull (resp->status);
        g_assert_cmpint (resp->status->code, ==, 0);
        g_assert_cmpuint (resp->payload.len, ==, i == 0 ? 3 : 0);
        boxlite__ttrpc__response__free_unpacked (resp, NULL);
        p += BL_TTRPC_HEADER_SIZE + body;
        len -= BL_TTRPC_HEADER_SIZE + body;
    }
    g_assert_cmpuint (len, ==, 0);
    seen_clear (&seen);
}

static void
test_clean_end (void)
{
    g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
    Seen seen = { 0 };

    run_link (empty, &seen, NULL);
    g_assert_true (seen.closed);
    g_assert_null (seen.reason);
    seen_clear (&seen);
}

static void
test_even_stream (void)
{
    g_autoptr (GBytes) input = request (2, "s", "m", "");
    assert_refused (input, "even stream");
}

static void
test_zero_stream (void)
{
    g_autoptr (GBytes) input = request (0, "s", "m", "");
    assert_refused (input, "even stream");
}

static void
test_reused_stream (void)
{
    g_autoptr (GBytes) one = request (5, "s", "m", "");
    g_autoptr (GBytes) two = request (5, "s", "m", "");
    g_autoptr (GBytes) input = concat (one, two);
    Seen seen = { 0 };

    /* The first is taken (and left unanswered), the second ends the link. */
    run_link (input, &seen, NULL);
    g_assert_cmpuint (seen.methods->len, ==, 1);
    g_assert_error (seen.reason, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
    g_assert_nonnull (strstr (seen.reason->message, "after stream 5"));
    seen_clear (&seen);
}

static void
test_oversized (void)
{
    /* Only the header: the link must refuse before reading or allocating. */
    g_autoptr (GBytes) input = raw_message (0xffffffffu, 1, BL_TTRPC_TYPE_REQUEST, 0, 0);
    assert_refused (input, "the limit is");
    g_autoptr (GBytes) just_over =
        raw_message (BL_TTRPC_MAX_MESSAGE + 1, 1, BL_TTRPC_TYPE_REQUEST, 0, 0);
    assert_refused (just_over, "the limit is");
}

static void
test_unknown_types (void)
{
    const guint8 types[] = { 0, BL_TTRPC_TYPE_RESPONSE, 3, 0xff };

    for (guint i = 0; i < G_N_ELEMENTS (types); i++) {
        g_autoptr (GBytes) input = raw_message (0, 1, types[i], 0, 0);
        assert_refused (input, "where a request was due");
    }
}

static void
test_flags (void)
{
    g_autoptr (GBytes) input = raw_message (0, 1, BL_TTRPC_TYPE_REQUEST, 0x4, 0);
    assert_refused (input, "flags");
}

static void
test_truncated (void)
{
    g_autoptr (GBytes) whole = request (1, "svc", "method", "payload");
    gsize len = g_bytes_get_size (whole);

    /* Cut inside the header and inside the body. */
    gsize cuts[] = { 1, BL_TTRPC_HEADER_SIZE - 1, BL_TTRPC_HEADER_SIZE + 1, len - 1 };
    for (guint i = 0; i < G_N_ELEMENTS (cuts); i++) {
        g_autoptr (GBytes) part = g_bytes_new_from_bytes (whole, 0, cuts[i]);
        assert_refused (part, "ended inside a message");
    }
}

static void
test_garbage_body (void)
{
    /* 0xff is a field with wire type 7, which does not exist. */
    g_autoptr (GBytes) input = raw_message (4, 1, BL_TTRPC_TYPE_REQUEST, 0, 4);
    g_autoptr (GByteArray) buf = g_bytes_unref_to_array (g_bytes_ref (input));
    memset (buf->data + BL_TTRPC_HEADER_SIZE, 0xff, 4);
    g_autoptr (GBytes) bad = g_byte_array_free_to_bytes (g_steal_pointer (&buf));
    assert_refused (bad, "not a valid Request");

    /* An empty body is a Request without names. */
    g_autoptr (GBytes) empty = raw_message (0, 1, BL_TTRPC_TYPE_REQUEST, 0, 0);
    assert_refused (empty, "without a service");
}

static void
test_bad_names (void)
{
    g_autoptr (GBytes) no_method = request (1, "svc", "", "");
    assert_refused (no_method, "without a method");

    g_autofree char *long_name = g_strnfill (BL_TTRPC_MAX_NAME + 1, 'a');
    g_autoptr (GBytes) long_method = request (1, "svc", long_name, "");
    assert_refused (long_method, "method of 257 bytes");

    g_autoptr (GBytes) not_utf8 = request (1, "svc\xff\xfe", "m", "");
    assert_refused (not_utf8, "not UTF-8");
}

static void
test_too_much_metadata (void)
{
    Boxlite__Ttrpc__Request req = BOXLITE__TTRPC__REQUEST__INIT;
    Boxlite__Ttrpc__KeyValue kv = BOXLITE__TTRPC__KEY_VALUE__INIT;
    Boxlite__Ttrpc__KeyValue *list[BL_TTRPC_MAX_METADATA + 1];

    kv.key = "k";
    kv.value = "v";
    for (guint i = 0; i < G_N_ELEMENTS (list); i++)
        list[i] = &kv;
    req.service = "svc";
    req.method = "m";
    req.metadata = list;
    req.n_metadata = G_N_ELEMENTS (list);
    gsize size = boxlite__ttrpc__request__get_packed_size (&req);
    g_autoptr (GBytes) head = raw_message ((guint32) size, 1, BL_TTRPC_TYPE_REQUEST, 0, 0);
    guint8 *body = g_malloc (size);
    boxlite__ttrpc__request__pack (&req, body);
    g_autoptr (GBytes) tail = g_bytes_new_take (body, size);
    g_autoptr (GBytes) input = concat (head, tail);
    assert_refused (input, "65 metadata pairs");
}

static void
test_too_many_in_flight (void)
{
    g_autoptr (GByteArray) all = g_byte_array_new ();
    Seen seen = { 0 };

    for (guint i = 0; i <= BL_TTRPC_MAX_IN_FLIGHT; i++) {
        g_autoptr (GBytes) one = request (2 * i + 1, "svc", "Wait", "");
        g_byte_array_append (all, g_bytes_get_data (one, NULL), g_bytes_get_size (one));
    }
    g_autoptr (GBytes) input = g_byte_array_free_to_bytes (g_steal_pointer (&all));
    run_link (input, &seen, NULL);
    g_assert_cmpuint (seen.methods->len, ==, BL_TTRPC_MAX_IN_FLIGHT);
    g_assert_error (seen.reason, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL);
    seen_clear (&seen);
}

static void
on_request_reply_twice (BlTtrpcConn *conn, gpointer data, gpointer user_data)
{
    BlTtrpcRequest *request = data;
    gboolean *checked = user_data;

    g_assert_true (bl_ttrpc_conn_reply (conn, request->stream_id, BL_TTRPC_NOT_FOUND, "no", NULL));
    g_assert_false (bl_ttrpc_conn_reply (conn, request->stream_id, BL_TTRPC_OK, NULL, NULL));
    g_assert_false (bl_ttrpc_conn_reply (conn, request->stream_id + 2, BL_TTRPC_OK, NULL, NULL));
    *checked = TRUE;
}

static void
test_one_reply_per_stream (void)
{
    g_autoptr (GBytes) input = request (1, "svc", "m", "");
    g_autoptr (GInputStream) in = g_memory_input_stream_new_from_bytes (input);
    g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
    g_autoptr (GIOStream) stream = g_simple_io_stream_new (in, out);
    g_autoptr (BlTtrpcConn) conn = bl_ttrpc_conn_new (stream);
    gboolean checked = FALSE;

    g_signal_connect (conn, "request", G_CALLBACK (on_request_reply_twice), &checked);
    while (!bl_ttrpc_conn_is_closed (conn))
        g_main_context_iteration (NULL, TRUE);
    g_assert_true (checked);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/ttrpc/round-trip", test_round_trip);
    g_test_add_func ("/ttrpc/clean-end", test_clean_end);
    g_test_add_func ("/ttrpc/even-stream", test_even_stream);
    g_test_add_func ("/ttrpc/zero-stream", test_zero_stream);
    g_test_add_func ("/ttrpc/reused-stream", test_reused_stream);
    g_test_add_func ("/ttrpc/oversized", test_oversized);
    g_test_add_func ("/ttrpc/unknown-types", test_unknown_types);
    g_test_add_func ("/ttrpc/flags", test_flags);
    g_test_add_func ("/ttrpc/truncated", test_truncated);
    g_test_add_func ("/ttrpc/garbage-body", test_garbage_body);
    g_test_add_func ("/ttrpc/bad-names", test_bad_names);
    g_test_add_func ("/ttrpc/too-much-metadata", test_too_much_metadata);
    g_test_add_func ("/ttrpc/too-many-in-flight", test_too_many_in_flight);
    g_test_add_func ("/ttrpc/one-reply-per-stream", test_one_reply_per_stream);
    return g_test_run ();
}

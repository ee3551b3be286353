/* test-netparse.c: the egress filter's parsers (TLS SNI, HTTP Host) and the
 * allowlist, without a box. Real ClientHellos come from `openssl s_client`
 * talking to a listener in this process; the rest are built here. */
#include <string.h>

#include <gio/gio.h>

#include "allowlist.h"
#include "http_follow.h"
#include "http_host.h"
#include "tls_sni.h"

/* Inputs fed to each parser by the random replay. */
#define REPLAY_COUNT 100000
#define REPLAY_SEED 0x626c6e70u
/* How long openssl may take to connect and send its hello, in seconds. */
#define OPENSSL_TIMEOUT 20

/* ---- building TLS records ---------------------------------------------- */

static void
put_u8 (GByteArray *out, guint v)
{
    guint8 b = (guint8) v;
    g_byte_array_append (out, &b, 1);
}

static void
put_u16 (GByteArray *out, guint v)
{
    put_u8 (out, v >> 8);
    put_u8 (out, v);
}

static void
put_u24 (GByteArray *out, guint v)
{
    put_u8 (out, v >> 16);
    put_u16 (out, v & 0xffff);
}

/* Appends a server_name extension with one host_name of @len bytes. */
static void
put_sni_ext (GByteArray *out, const char *name, gsize len)
{
    put_u16 (out, 0x0000);
    put_u16 (out, (guint) len + 5);
    put_u16 (out, (guint) len + 3);
    put_u8 (out, 0);
    put_u16 (out, (guint) len);
    g_byte_array_append (out, (const guint8 *) name, (guint) len);
}

/* Appends an extension of @type carrying @len zero bytes. */
static void
put_filler_ext (GByteArray *out, guint type, gsize len)
{
    put_u16 (out, type);
    put_u16 (out, (guint) len);
    for (gsize i = 0; i < len; i++)
        put_u8 (out, 0);
}

/* A ClientHello handshake message (its 4-byte header included) with the
 * given extensions block; @exts NULL leaves the block out entirely. */
static GByteArray *
hello_message (const GByteArray *exts)
{
    GByteArray *body = g_byte_array_new ();
    GByteArray *msg = g_byte_array_new ();

    put_u16 (body, 0x0303);
    for (guint i = 0; i < 32; i++)
        put_u8 (body, i);
    put_u8 (body, 32);
    for (guint i = 0; i < 32; i++)
        put_u8 (body, 0xa0 + i);
    put_u16 (body, 4);
    put_u16 (body, 0x1301);
    put_u16 (body, 0xc02f);
    put_u8 (body, 1);
    put_u8 (body, 0);
    if (exts != NULL) {
        put_u16 (body, exts->len);
        g_byte_array_append (body, exts->data, exts->len);
    }
    put_u8 (msg, 1);
    put_u24 (msg, body->len);
    g_byte_array_append (msg, body->data, body->len);
    g_byte_array_unref (body);
    return msg;
}

/* A ClientHello naming @name (NULL: no server_name), behind another
 * extension as real clients send it. */
static GByteArray *
hello_for (const char *name)
{
    g_autoptr (GByteArray) exts = g_byte_array_new ();

    put_filler_ext (exts, 0x002b, 3);
    if (name != NULL)
        put_sni_ext (exts, name, strlen (name));
    put_filler_ext (exts, 0x000a, 4);
    return hello_message (exts);
}

/* Wraps a handshake message in records of at most @frag bytes each. */
static GByteArray *
in_records (const guint8 *msg, gsize len, gsize frag)
{
    GByteArray *out = g_byte_array_new ();

    for (gsize off = 0; off < len; off += frag) {
        gsize n = MIN (frag, len - off);
        put_u8 (out, 0x16);
        put_u16 (out, 0x0301);
        put_u16 (out, (guint) n);
        g_byte_array_append (out, msg + off, (guint) n);
    }
    return out;
}

static GByteArray *
record_for (const char *name)
{
    g_autoptr (GByteArray) msg = hello_for (name);
    return in_records (msg->data, msg->len, 16384);
}

/* Joins the handshake bytes of well-formed records back into a message. */
static GByteArray *
join_records (const guint8 *buf, gsize len)
{
    GByteArray *msg = g_byte_array_new ();

    for (gsize pos = 0; pos + 5 <= len;) {
        gsize n = ((gsize) buf[pos + 3] << 8) | buf[pos + 4];
        g_assert_cmpuint (pos + 5 + n, <=, len);
        g_byte_array_append (msg, buf + pos + 5, (guint) n);
        pos += 5 + n;
    }
    return msg;
}

/* Parses an exact-size heap copy, so that any over-read is caught. */
static BlSniResult
sni_parse_copy (const guint8 *buf, gsize len, char *name, gsize cap)
{
    g_autofree guint8 *copy = len ? g_memdup2 (buf, len) : NULL;
    return bl_net_tls_sni_parse (copy, len, name, cap);
}

static void
assert_sni (const GByteArray *bytes, BlSniResult expected, const char *expected_name)
{
    char name[BL_NET_NAME_CAP];

    g_assert_cmpint (sni_parse_copy (bytes->data, bytes->len, name, sizeof name), ==, expected);
    g_assert_cmpstr (name, ==, expected_name ? expected_name : "");
}

/* Every proper prefix of @bytes asks for more; the whole gives @expected. */
static void
assert_sni_prefixes (const GByteArray *bytes, BlSniResult expected, const char *expected_name)
{
    char name[BL_NET_NAME_CAP];

    for (gsize n = 0; n < bytes->len; n++)
        g_assert_cmpint (sni_parse_copy (bytes->data, n, name, sizeof name), ==, BL_SNI_NEED_MORE);
    assert_sni (bytes, expected, expected_name);
}

/* ---- real ClientHellos from openssl ------------------------------------ */

typedef struct {
    GSocketListener *listener;
    GCancellable *cancel;
    GByteArray *captured; /* the bytes read before the parser stopped asking */
} Capture;

static gpointer
capture_thread (gpointer data)
{
    Capture *cap = data;
    g_autoptr (GError) error = NULL;
    g_autoptr (GSocketConnection) conn = NULL;
    guint8 chunk[4096];
    char name[BL_NET_NAME_CAP];

    conn = g_socket_listener_accept (cap->listener, NULL, cap->cancel, &error);
    if (conn == NULL)
        return NULL;
    g_socket_set_timeout (g_socket_connection_get_socket (conn), OPENSSL_TIMEOUT);
    for (;;) {
        gssize n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)), chunk,
                                        sizeof chunk, NULL, NULL);
        if (n <= 0)
            break;
        g_byte_array_append (cap->captured, chunk, (guint) n);
        if (bl_net_tls_sni_parse (cap->captured->data, cap->captured->len, name, sizeof name) !=
            BL_SNI_NEED_MORE)
            break;
    }
    g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
    return NULL;
}

static gboolean
on_openssl_timeout (gpointer data)
{
    g_subprocess_force_exit (data);
    return G_SOURCE_CONTINUE; /* removed by the caller */
}

static void
on_openssl_exit (GObject *source, GAsyncResult *res, gpointer data)
{
    gboolean *done = data;
    g_subprocess_wait_finish (G_SUBPROCESS (source), res, NULL);
    *done = TRUE;
}

/* The first bytes `openssl s_client` sends with @extra_args; NULL if
 * openssl is not installed. */
static GByteArray *
openssl_client_hello (const char *const *extra_args)
{
    g_autofree char *openssl = g_find_program_in_path ("openssl");
    g_autoptr (GError) error = NULL;
    g_autoptr (GSocketListener) listener = g_socket_listener_new ();
    g_autoptr (GCancellable) cancel = g_cancellable_new ();
    g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
    g_autoptr (GSocketAddress) bound = NULL;
    g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
    g_autoptr (GSubprocess) proc = NULL;
    Capture cap = { listener, cancel, g_byte_array_new () };
    GThread *thread;
    gboolean done = FALSE;
    guint timeout;

    if (openssl == NULL) {
        g_byte_array_unref (cap.captured);
        return NULL;
    }
    g_assert_true (g_socket_listener_add_address (listener, any_port, G_SOCKET_TYPE_STREAM,
                                                  G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error));
    g_assert_no_error (error);

    g_ptr_array_add (argv, g_strdup (openssl));
    g_ptr_array_add (argv, g_strdup ("s_client"));
    g_ptr_array_add (argv, g_strdup ("-connect"));
    g_ptr_array_add (argv, g_strdup_printf ("127.0.0.1:%u", g_inet_socket_address_get_port (
                                                                G_INET_SOCKET_ADDRESS (bound))));
    for (gsize i = 0; extra_args[i] != NULL; i++)
        g_ptr_array_add (argv, g_strdup (extra_args[i]));
    g_ptr_array_add (argv, NULL);

    thread = g_thread_new ("capture", capture_thread, &cap);
    /* stdin stays open and silent so that openssl waits for the server. */
    proc = g_subprocess_newv ((const char *const *) argv->pdata,
                              G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                                  G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                              &error);
    g_assert_no_error (error);
    g_subprocess_wait_async (proc, NULL, on_openssl_exit, &done);
    timeout = g_timeout_add_seconds (OPENSSL_TIMEOUT, on_openssl_timeout, proc);
    while (!done)
        g_main_context_iteration (NULL, TRUE);
    g_source_remove (timeout);
    g_cancellable_cancel (cancel);
    g_thread_join (thread);
    return cap.captured;
}

static void
test_sni_openssl (void)
{
    static const struct {
        const char *args[4];
        BlSniResult result;
        const char *name;
    } cases[] = {
        { { "-servername", "allowed.test", NULL }, BL_SNI_FOUND, "allowed.test" },
        { { "-servername", "Mixed.Allowed.TEST", NULL }, BL_SNI_FOUND, "mixed.allowed.test" },
        { { "-tls1_2", "-servername", "a.allowed.test", NULL }, BL_SNI_FOUND, "a.allowed.test" },
        { { "-noservername", NULL }, BL_SNI_NO_SNI, NULL },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_autoptr (GByteArray) hello = openssl_client_hello (cases[i].args);
        g_autoptr (GByteArray) msg = NULL;
        const gsize frags[] = { 1, 2, 7, 100, 16384 };

        if (hello == NULL) {
            g_test_skip ("openssl is not installed; hand-built hellos cover the rest");
            return;
        }
        g_test_message ("openssl %s: %u bytes", cases[i].args[0], hello->len);
        assert_sni_prefixes (hello, cases[i].result, cases[i].name);

        /* The same message split across records of every size. */
        msg = join_records (hello->data, hello->len);
        for (gsize f = 0; f < G_N_ELEMENTS (frags); f++) {
            g_autoptr (GByteArray) split = in_records (msg->data, msg->len, frags[f]);
            if (split->len <= BL_NET_TLS_SNI_BUFFER_MAX)
                assert_sni (split, cases[i].result, cases[i].name);
            else
                assert_sni (split, BL_SNI_MALFORMED, NULL);
        }
    }
}

/* ---- hand-built ClientHellos ------------------------------------------- */

static void
test_sni_found (void)
{
    g_autoptr (GByteArray) plain = record_for ("allowed.test");
    g_autoptr (GByteArray) upper = record_for ("WWW.Allowed.Test.");
    g_autoptr (GByteArray) none = record_for (NULL);
    g_autoptr (GByteArray) no_exts = hello_message (NULL);
    g_autoptr (GByteArray) no_exts_rec = in_records (no_exts->data, no_exts->len, 16384);
    g_autoptr (GByteArray) msg = hello_for ("frag.allowed.test");
    g_autoptr (GByteArray) frag3 = in_records (msg->data, msg->len, 3);
    g_autoptr (GByteArray) trailing = record_for ("allowed.test");
    char small[5];

    assert_sni_prefixes (plain, BL_SNI_FOUND, "allowed.test");
    assert_sni (upper, BL_SNI_FOUND, "www.allowed.test");
    assert_sni_prefixes (none, BL_SNI_NO_SNI, NULL);
    assert_sni (no_exts_rec, BL_SNI_NO_SNI, NULL);
    assert_sni_prefixes (frag3, BL_SNI_FOUND, "frag.allowed.test");

    /* Bytes after the ClientHello (the next flight) are not looked at. */
    g_byte_array_append (trailing, (const guint8 *) "\x17\x03\x03\x00\x00", 5);
    assert_sni (trailing, BL_SNI_FOUND, "allowed.test");

    /* A name that does not fit the caller's buffer is not truncated. */
    g_assert_cmpint (sni_parse_copy (plain->data, plain->len, small, sizeof small), ==,
                     BL_SNI_MALFORMED);
    g_assert_cmpstr (small, ==, "");
}

static void
test_sni_not_tls (void)
{
    static const struct {
        const char *bytes;
        gsize len;
        BlSniResult result;
    } cases[] = {
        { "\x16", 1, BL_SNI_NEED_MORE },
        { "\x16\x03", 2, BL_SNI_NEED_MORE },
        { "\x16\x03\x01\x00", 4, BL_SNI_NEED_MORE },
        { "\x17\x03\x03\x00\x10", 5, BL_SNI_NOT_TLS },
        { "\x15\x03\x01\x00\x02", 5, BL_SNI_NOT_TLS },
        { "\x16\x02", 2, BL_SNI_NOT_TLS },
        { "\x16\x03\x05", 3, BL_SNI_NOT_TLS },
        { "\x80\x2e\x01\x03\x01", 5, BL_SNI_NOT_TLS }, /* SSLv2-style hello */
        { "GET / HTTP/1.1\r\n", 16, BL_SNI_NOT_TLS },
        { "SSH-2.0-x\r\n", 11, BL_SNI_NOT_TLS },
    };
    char name[BL_NET_NAME_CAP];

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
        g_assert_cmpint (
            sni_parse_copy ((const guint8 *) cases[i].bytes, cases[i].len, name, sizeof name), ==,
            cases[i].result);
}

/* Offsets in record_for()'s output (one record holding the whole message). */
enum {
    OFF_RECORD_LEN = 3,
    OFF_HS_TYPE = 5,
    OFF_HS_LEN = 6,
    OFF_SID_LEN = 43,
    OFF_SUITES_LEN = 76,
    OFF_COMP_LEN = 82,
    OFF_EXTS_LEN = 84,
    OFF_SNI_EXT_LEN = 95, /* after a 7-byte filler extension */
    OFF_SNI_LIST_LEN = 97,
    OFF_SNI_TYPE = 99,
    OFF_SNI_NAME_LEN = 100,
};

static void
patch16 (GByteArray *bytes, gsize off, guint v)
{
    bytes->data[off] = (guint8) (v >> 8);
    bytes->data[off + 1] = (guint8) v;
}

static void
test_sni_malformed (void)
{
    /* Each entry changes one field of a valid hello for "allowed.test". */
    static const struct {
        gsize off;
        int delta; /* added to the big-endian u16 at off, or u8 if byte */
        gboolean byte;
        BlSniResult result;
    } cases[] = {
        { OFF_HS_TYPE, 1, TRUE, BL_SNI_MALFORMED },      /* ServerHello */
        { OFF_SID_LEN, 1, TRUE, BL_SNI_MALFORMED },      /* 33-byte session id */
        { OFF_SUITES_LEN, -1, FALSE, BL_SNI_MALFORMED }, /* odd */
        { OFF_SUITES_LEN, 4000, FALSE, BL_SNI_MALFORMED },
        { OFF_COMP_LEN, -1, TRUE, BL_SNI_MALFORMED }, /* none */
        { OFF_COMP_LEN, 200, TRUE, BL_SNI_MALFORMED },
        { OFF_EXTS_LEN, 1, FALSE, BL_SNI_MALFORMED },
        { OFF_EXTS_LEN, -1, FALSE, BL_SNI_MALFORMED },
        { OFF_SNI_EXT_LEN, 1, FALSE, BL_SNI_MALFORMED },
        { OFF_SNI_EXT_LEN, -1, FALSE, BL_SNI_MALFORMED },
        { OFF_SNI_LIST_LEN, 1, FALSE, BL_SNI_MALFORMED },
        { OFF_SNI_LIST_LEN, -1, FALSE, BL_SNI_MALFORMED },
        { OFF_SNI_TYPE, 1, TRUE, BL_SNI_MALFORMED },
        { OFF_SNI_NAME_LEN, 1, FALSE, BL_SNI_MALFORMED },
        { OFF_SNI_NAME_LEN, -1, FALSE, BL_SNI_MALFORMED },
        { OFF_SNI_NAME_LEN, 0x7f00, FALSE, BL_SNI_MALFORMED },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_autoptr (GByteArray) rec = record_for ("allowed.test");
        guint8 *p = rec->data + cases[i].off;

        g_test_message ("field at %" G_GSIZE_FORMAT " %+d", cases[i].off, cases[i].delta);
        if (cases[i].byte)
            *p = (guint8) (*p + cases[i].delta);
        else
            patch16 (rec, cases[i].off, (guint) (((p[0] << 8) | p[1]) + cases[i].delta) & 0xffff);
        assert_sni (rec, cases[i].result, NULL);
    }
}

static void
test_sni_lengths (void)
{
    g_autoptr (GByteArray) rec = NULL;
    g_autoptr (GByteArray) msg = hello_for ("allowed.test");
    g_autoptr (GByteArray) exts = g_byte_array_new ();
    g_autoptr (GByteArray) big = NULL;
    g_autoptr (GByteArray) tiny = NULL;
    g_autofree char *long_name = NULL;

    /* Record length 0 and over 2^14. */
    rec = record_for ("allowed.test");
    patch16 (rec, OFF_RECORD_LEN, 0);
    assert_sni (rec, BL_SNI_MALFORMED, NULL);
    patch16 (rec, OFF_RECORD_LEN, 16385);
    assert_sni (rec, BL_SNI_MALFORMED, NULL);
    g_clear_pointer (&rec, g_byte_array_unref);

    /* A handshake length that could never fit in the buffer bound. */
    rec = record_for ("allowed.test");
    rec->data[OFF_HS_LEN] = 0x01;
    assert_sni (rec, BL_SNI_MALFORMED, NULL);
    rec->data[OFF_HS_LEN] = 0x00;
    patch16 (rec, OFF_HS_LEN + 1, 16384);
    assert_sni (rec, BL_SNI_MALFORMED, NULL);
    /* A larger but allowed handshake length just waits for more records. */
    patch16 (rec, OFF_HS_LEN + 1, 8000);
    assert_sni (rec, BL_SNI_NEED_MORE, NULL);
    /* A handshake length shorter than what follows cuts the extensions. */
    patch16 (rec, OFF_HS_LEN + 1, 90);
    assert_sni (rec, BL_SNI_MALFORMED, NULL);
    g_clear_pointer (&rec, g_byte_array_unref);

    /* A record that is not a handshake in the middle of the message. */
    rec = in_records (msg->data, 20, 16384);
    g_byte_array_append (rec, (const guint8 *) "\x15\x03\x03\x00\x02\x02\x28", 7);
    assert_sni (rec, BL_SNI_MALFORMED, NULL);
    g_clear_pointer (&rec, g_byte_array_unref);

    /* Fragmented so finely that the message cannot end within the bound. */
    put_filler_ext (exts, 0x0015, 3000);
    put_sni_ext (exts, "allowed.test", 12);
    big = hello_message (exts);
    tiny = in_records (big->data, big->len, 1);
    g_assert_cmpuint (tiny->len, >, BL_NET_TLS_SNI_BUFFER_MAX);
    assert_sni (tiny, BL_SNI_MALFORMED, NULL);
    g_byte_array_set_size (tiny, BL_NET_TLS_SNI_BUFFER_MAX - 1);
    assert_sni (tiny, BL_SNI_NEED_MORE, NULL);
    g_clear_pointer (&rec, g_byte_array_unref);
    rec = in_records (big->data, big->len, 16384);
    assert_sni (rec, BL_SNI_FOUND, "allowed.test");
    g_clear_pointer (&rec, g_byte_array_unref);

    /* Names that are not host names. */
    long_name = g_strnfill (254, 'a');
    long_name[100] = '.';
    long_name[200] = '.';
    const char *bad[] = { "a b.test", "evil.test\n", "-a.test",       "a..test", ".a.test",
                          "1.2.3.4",  "a.test/x",    "\xc3\xa9.test", long_name };
    for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
        g_clear_pointer (&rec, g_byte_array_unref);
        rec = record_for (bad[i]);
        assert_sni (rec, BL_SNI_MALFORMED, NULL);
    }
    g_clear_pointer (&rec, g_byte_array_unref);
    {
        /* A NUL inside the name. */
        g_autoptr (GByteArray) e = g_byte_array_new ();
        g_autoptr (GByteArray) m = NULL;
        put_sni_ext (e, "evil.test\0allowed.test", 22);
        m = hello_message (e);
        rec = in_records (m->data, m->len, 16384);
        assert_sni (rec, BL_SNI_MALFORMED, NULL);
    }
}

static void
test_sni_duplicates (void)
{
    g_autoptr (GByteArray) twice = g_byte_array_new ();
    g_autoptr (GByteArray) two_names = g_byte_array_new ();
    g_autoptr (GByteArray) empty_list = g_byte_array_new ();
    g_autoptr (GByteArray) empty_ext = g_byte_array_new ();
    const GByteArray *all[] = { twice, two_names, empty_list, empty_ext };

    put_sni_ext (twice, "allowed.test", 12);
    put_sni_ext (twice, "evil.test", 9);

    put_u16 (two_names, 0);
    put_u16 (two_names, 2 + 3 + 12 + 3 + 9);
    put_u16 (two_names, 3 + 12 + 3 + 9);
    put_u8 (two_names, 0);
    put_u16 (two_names, 12);
    g_byte_array_append (two_names, (const guint8 *) "allowed.test", 12);
    put_u8 (two_names, 0);
    put_u16 (two_names, 9);
    g_byte_array_append (two_names, (const guint8 *) "evil.test", 9);

    put_u16 (empty_list, 0);
    put_u16 (empty_list, 2);
    put_u16 (empty_list, 0);

    put_filler_ext (empty_ext, 0, 0);

    for (gsize i = 0; i < G_N_ELEMENTS (all); i++) {
        g_autoptr (GByteArray) msg = hello_message (all[i]);
        g_autoptr (GByteArray) rec = in_records (msg->data, msg->len, 16384);
        assert_sni (rec, BL_SNI_MALFORMED, NULL);
    }
}

/* ---- HTTP -------------------------------------------------------------- */

static BlHostResult
http_parse_copy (const char *text, gsize len, char *host, gsize cap)
{
    g_autofree guint8 *copy = len ? g_memdup2 (text, len) : NULL;
    return bl_net_http_host_parse (copy, len, host, cap);
}

static void
assert_http (const char *text, BlHostResult expected, const char *expected_host)
{
    char host[BL_NET_NAME_CAP];
    g_autofree char *escaped = g_strescape (text, NULL);

    g_test_message ("%s", escaped);
    g_assert_cmpint (http_parse_copy (text, strlen (text), host, sizeof host), ==, expected);
    g_assert_cmpstr (host, ==, expected_host ? expected_host : "");
}

static void
test_http_cases (void)
{
    static const struct {
        const char *text;
        BlHostResult result;
        const char *host;
    } cases[] = {
        { "GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n", BL_HOST_FOUND, "allowed.test" },
        { "GET /x?y=1 HTTP/1.1\r\nUser-Agent: t\r\nhOsT:  A.Allowed.TEST.:8080 \t\r\n"
          "Accept: */*\r\n\r\n",
          BL_HOST_FOUND, "a.allowed.test" },
        { "POST /up HTTP/1.1\r\nHost:allowed.test\r\nContent-Length: 3\r\n\r\nabc", BL_HOST_FOUND,
          "allowed.test" },
        { "GET / HTTP/1.1\r\nHost: 10.1.2.3:80\r\n\r\n", BL_HOST_FOUND, "10.1.2.3" },
        { "GET / HTTP/1.1\r\nHost: [FD00::1]:80\r\n\r\n", BL_HOST_FOUND, "fd00::1" },
        { "GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", BL_HOST_FOUND, "::1" },
        { "GET / HTTP/1.1\r\nHost: allowed.test:\r\n\r\n", BL_HOST_FOUND, "allowed.test" },
        { "GET / HTTP/1.0\r\n\r\n", BL_HOST_NO_HOST, NULL },
        { "GET / HTTP/1.0\r\nAccept: x\r\n\r\n", BL_HOST_NO_HOST, NULL },
        { "GET / HTTP/1.1\r\nHost:\r\n\r\n", BL_HOST_NO_HOST, NULL },
        { "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", BL_HOST_MALFORMED, NULL },
        { "GET / HTTP/1.1\r\nHost: a.test\r\nhost: a.test\r\n\r\n", BL_HOST_MALFORMED, NULL },
        { "GET / HTTP/1.1\r\nHost:\r\nHost: a.test\r\n\r\n", BL_HOST_MALFORMED, NULL },
        { "GET / HTTP/1.1\r\nHost : a.test\r\n\r\n", BL_HOST_MALFORMED, NULL },
        { "GET / HTTP/1.1\r\nX: y\r\n Host: a.test\r\n\r\n", BL_HOST_MALFORMED, NULL },
        { "GET / HTTP/1.1\r\nHost: a.test\n\r\n", BL_HOST_MALFORMED, NULL },
        { "GET / HTTP/1.1\r\nHost: a.test\rX: y\r\n\r\n", BL_HOST_MALFORMED, NULL },
        { "GET / HTTP/1.1\r\nHost: a.test:99999\r\n\r\n", BL_HOST_MALFORMED, NULL },
        { "GET / HTTP/1.1\r\nHost: a.test:8o\r\n\r\n", BL_HOST_MALFORMED, NULL },
        { "GET / HTTP/1.1\r\nHost: user@a.test\r\n\r\n", BL_HOST_MALFORMED, NULL },
        { "GET / HTTP/1.1\r\nHost: a.test b.test\r\n\r\n", BL_HOST_MALFORMED, NULL },
        { "GET / HTTP/1.1\r\nHost: [a.test]\r\n\r\n", BL_HOST_MALFORMED, NULL },
        { "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", BL_HOST_MALFORMED, NULL },
        { "GET / HTTP/1.1\r\nHost: 1.2.3\r\n\r\n", BL_HOST_MALFORMED, NULL },
        { "GET / HTTP/1.1\r\nHo\x01st: a.test\r\n\r\n", BL_HOST_MALFORMED, NULL },
        { "GET / HTTP/1.1\r\nHost: a.test\r\n", BL_HOST_NEED_MORE, NULL },
        { "GET / HTTP/1.1\r\nHost: a.te", BL_HOST_NEED_MORE, NULL },
        { "GE", BL_HOST_NEED_MORE, NULL },
        { "GET /index.html HTTP/1.", BL_HOST_NEED_MORE, NULL },
        { "GET / HTTP/2.0\r\n\r\n", BL_HOST_NOT_HTTP, NULL },
        { "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", BL_HOST_NOT_HTTP, NULL },
        { "GET  / HTTP/1.1\r\n\r\n", BL_HOST_NOT_HTTP, NULL },
        { "GET / HTTP/1.1\n\n", BL_HOST_NOT_HTTP, NULL },
        { "GET / http/1.1\r\n\r\n", BL_HOST_NOT_HTTP, NULL },
        { "GET / HTTP/1.x\r\n\r\n", BL_HOST_NOT_HTTP, NULL },
        { " GET / HTTP/1.1\r\n", BL_HOST_NOT_HTTP, NULL },
        { "SSH-2.0-OpenSSH_9.6\r\n", BL_HOST_NOT_HTTP, NULL },
        { "\x16\x03\x01\x02\x00", BL_HOST_NOT_HTTP, NULL },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
        assert_http (cases[i].text, cases[i].result, cases[i].host);
}

static void
test_http_split (void)
{
    static const char request[] = "GET /path HTTP/1.1\r\nUser-Agent: curl\r\n"
                                  "Host: Split.Allowed.Test:443\r\nAccept: */*\r\n\r\n";
    char host[BL_NET_NAME_CAP];
    gsize len = strlen (request);

    /* As if each byte came in its own segment. */
    for (gsize n = 0; n < len; n++)
        g_assert_cmpint (http_parse_copy (request, n, host, sizeof host), ==, BL_HOST_NEED_MORE);
    g_assert_cmpint (http_parse_copy (request, len, host, sizeof host), ==, BL_HOST_FOUND);
    g_assert_cmpstr (host, ==, "split.allowed.test");

    /* A host that does not fit the caller's buffer is not truncated. */
    g_assert_cmpint (http_parse_copy (request, len, host, 8), ==, BL_HOST_MALFORMED);
    g_assert_cmpstr (host, ==, "");
}

static void
test_http_bound (void)
{
    g_autoptr (GString) head = g_string_new ("GET / HTTP/1.1\r\nHost: allowed.test\r\n");
    g_autoptr (GString) target = g_string_new ("GET /");
    char host[BL_NET_NAME_CAP];

    while (head->len < BL_NET_HTTP_HEAD_MAX + 100)
        g_string_append (head, "X-Filler: 0123456789abcdef0123456789abcdef\r\n");
    g_assert_cmpint (http_parse_copy (head->str, BL_NET_HTTP_HEAD_MAX - 1, host, sizeof host), ==,
                     BL_HOST_NEED_MORE);
    g_assert_cmpint (http_parse_copy (head->str, head->len, host, sizeof host), ==,
                     BL_HOST_MALFORMED);
    /* Ending just past the bound is still too long. */
    g_string_append (head, "\r\n");
    g_assert_cmpint (http_parse_copy (head->str, head->len, host, sizeof host), ==,
                     BL_HOST_MALFORMED);

    while (target->len < BL_NET_HTTP_HEAD_MAX)
        g_string_append_c (target, 'a');
    g_assert_cmpint (http_parse_copy (target->str, target->len, host, sizeof host), ==,
                     BL_HOST_MALFORMED);
}

/* ---- allowlist --------------------------------------------------------- */

static gboolean
allows_address (const BlAllowlist *list, const char *text)
{
    g_autoptr (GInetAddress) addr = g_inet_address_new_from_string (text);
    g_assert_nonnull (addr);
    return bl_net_allowlist_allows_address (list, addr);
}

static void
test_allowlist_match (void)
{
    const char *rules[] = { "*.allowed.test", "Exact.Test.", "10.0.0.0/8",      "192.0.2.7",
                            "fd00::/8",       "2001:db8::1", "198.51.100.0/23", NULL };
    g_autoptr (GError) error = NULL;
    g_autoptr (BlAllowlist) list = bl_net_allowlist_new (rules, &error);
    static const struct {
        const char *name;
        gboolean allowed;
    } names[] = {
        { "a.allowed.test", TRUE },
        { "A.B.Allowed.Test.", TRUE },
        { "allowed.test", FALSE },
        { "allowed.test.evil", FALSE },
        { "a.allowed.test.evil", FALSE },
        { "evilallowed.test", FALSE },
        { "exact.test", TRUE },
        { "EXACT.TEST.", TRUE },
        { "sub.exact.test", FALSE },
        { "exact.test.evil", FALSE },
        { "", FALSE },
        { ".", FALSE },
        { "10.1.2.3", FALSE },
        { "a..allowed.test", FALSE },
        { "a b.allowed.test", FALSE },
    };
    static const struct {
        const char *addr;
        gboolean allowed;
    } addrs[] = {
        { "10.1.2.3", TRUE },        { "10.255.255.255", TRUE },   { "11.0.0.1", FALSE },
        { "9.255.255.255", FALSE },  { "192.0.2.7", TRUE },        { "192.0.2.8", FALSE },
        { "198.51.101.9", TRUE },    { "198.51.102.1", FALSE },    { "fd12::1", TRUE },
        { "fe00::1", FALSE },        { "2001:db8::1", TRUE },      { "2001:db8::2", FALSE },
        { "::ffff:10.0.0.1", TRUE }, { "::ffff:11.0.0.1", FALSE }, { "::a00:1", FALSE },
    };

    g_assert_no_error (error);
    g_assert_false (bl_net_allowlist_is_empty (list));
    for (gsize i = 0; i < G_N_ELEMENTS (names); i++) {
        g_test_message ("name %s", names[i].name);
        g_assert_cmpint (bl_net_allowlist_allows_name (list, names[i].name), ==, names[i].allowed);
    }
    for (gsize i = 0; i < G_N_ELEMENTS (addrs); i++) {
        g_test_message ("address %s", addrs[i].addr);
        g_assert_cmpint (allows_address (list, addrs[i].addr), ==, addrs[i].allowed);
    }
}

static void
test_allowlist_empty (void)
{
    const char *none[] = { NULL };
    const char *all_v4[] = { "0.0.0.0/0", NULL };
    const char *names_only[] = { "allowed.test", NULL };
    g_autoptr (BlAllowlist) from_null = bl_net_allowlist_new (NULL, NULL);
    g_autoptr (BlAllowlist) from_empty = bl_net_allowlist_new (none, NULL);
    g_autoptr (BlAllowlist) any_v4 = bl_net_allowlist_new (all_v4, NULL);
    g_autoptr (BlAllowlist) named = bl_net_allowlist_new (names_only, NULL);

    g_assert_true (bl_net_allowlist_is_empty (from_null));
    g_assert_true (bl_net_allowlist_is_empty (from_empty));
    g_assert_true (bl_net_allowlist_allows_name (from_null, "anything.example"));
    g_assert_true (allows_address (from_empty, "203.0.113.9"));
    g_assert_true (allows_address (from_empty, "2001:db8::9"));

    g_assert_false (bl_net_allowlist_is_empty (any_v4));
    g_assert_true (allows_address (any_v4, "203.0.113.9"));
    g_assert_false (allows_address (any_v4, "2001:db8::9"));
    g_assert_false (bl_net_allowlist_allows_name (any_v4, "anything.example"));

    /* Names do not allow addresses: that needs a resolver's answer. */
    g_assert_false (allows_address (named, "127.0.0.1"));
}

static void
test_allowlist_invalid (void)
{
    g_autofree char *long_label = g_strnfill (64, 'a');
    g_autofree char *ok_label = g_strnfill (63, 'a');
    g_autofree char *long_name =
        g_strdup_printf ("%s.%s.%s.%s.test", ok_label, ok_label, ok_label, ok_label);
    const char *bad[] = { "",           "*",           "*.",         "**.a.test",     "*.*.a.test",
                          "a*.test",    "a.*.test",    "a..test",    "-a.test",       "a-.test",
                          "a.test:443", "10.0.0.0/33", "10.0.0.1/8", "10.0.0.0/",     "10.0.0.0/8x",
                          "fd00::/129", "fd00::1/8",   "foo/8",      "256.1.1.1",     "1.2.3",
                          "a b.test",   " a.test",     "a.test/",    "http://a.test", long_label,
                          long_name };

    for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
        const char *rules[] = { "good.test", bad[i], NULL };
        g_autoptr (GError) error = NULL;
        g_autoptr (BlAllowlist) list = bl_net_allowlist_new (rules, &error);

        g_test_message ("rule '%s'", bad[i]);
        g_assert_null (list);
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull (strstr (error->message, "rule 1"));
    }
    {
        /* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 bytes. */
        g_autofree char *last = g_strnfill (61, 'b');
        g_autofree char *just_fits =
            g_strdup_printf ("%s.%s.%s.%s", ok_label, ok_label, ok_label, last);
        const char *rules[] = { ok_label, just_fits, NULL };
        g_autoptr (GError) error = NULL;
        g_autoptr (BlAllowlist) list = bl_net_allowlist_new (rules, &error);

        g_assert_cmpuint (strlen (just_fits), ==, BL_NET_NAME_MAX);
        g_assert_no_error (error);
        g_assert_true (bl_net_allowlist_allows_name (list, just_fits));
    }
}

/* ---- random replay ----------------------------------------------------- */

/* Checks what a parser wrote on FOUND: a terminated, normalised name or an
 * address literal, within @cap. */
static void
assert_output_sane (const char *out, gsize cap)
{
    char again[BL_NET_NAME_CAP];
    gsize len = strnlen (out, cap);

    g_assert_cmpuint (len, <, cap);
    if (g_hostname_is_ip_address (out))
        return;
    g_assert_true (bl_net_name_normalize (out, len, again, sizeof again));
    g_assert_cmpstr (again, ==, out);
}

/* Changes @input in one of several ways that hit length fields and bounds. */
static void
mutate (GRand *rand, GByteArray *input)
{
    guint op = (guint) g_rand_int_range (rand, 0, 6);
    guint pos = input->len ? (guint) g_rand_int_range (rand, 0, (gint32) input->len) : 0;

    switch (op) {
    case 0: /* flip bits */
        if (input->len)
            input->data[pos] ^= (guint8) g_rand_int_range (rand, 1, 256);
        break;
    case 1: /* an extreme byte, as in a length's high half */
        if (input->len)
            input->data[pos] = g_rand_boolean (rand) ? 0xff : 0x00;
        break;
    case 2: /* cut short */
        g_byte_array_set_size (input, pos);
        break;
    case 3: { /* insert bytes */
        guint8 junk[8];
        guint n = (guint) g_rand_int_range (rand, 1, sizeof junk + 1);
        for (guint i = 0; i < n; i++)
            junk[i] = (guint8) g_rand_int_range (rand, 0, 256);
        g_byte_array_set_size (input, input->len + n);
        memmove (input->data + pos + n, input->data + pos, input->len - n - pos);
        memcpy (input->data + pos, junk, n);
        break;
    }
    case 4: /* delete bytes */
        if (input->len) {
            guint n = (guint) g_rand_int_range (rand, 1, 8);
            g_byte_array_remove_range (input, pos, MIN (input->len - pos, n));
        }
        break;
    default: /* swap in an HTTP control character */
        if (input->len) {
            static const guint8 specials[] = { '\r', '\n', ':', ' ', '\t', '[', ']', '.', 0 };
            input->data[pos] = specials[g_rand_int_range (rand, 0, G_N_ELEMENTS (specials))];
        }
        break;
    }
}

static void
test_replay (void)
{
    g_autoptr (GRand) rand = g_rand_new_with_seed (REPLAY_SEED);
    g_autoptr (GPtrArray) seeds =
        g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref);
    g_autoptr (GByteArray) msg = hello_for ("seed.allowed.test");
    static const char *http_seeds[] = {
        "GET / HTTP/1.1\r\nHost: seed.allowed.test:8080\r\nAccept: */*\r\n\r\n",
        "POST /x HTTP/1.0\r\nhost: [fd00::1]:1\r\nContent-Length: 0\r\n\r\n",
    };
    guint counts[2][5] = { { 0 } };

    g_ptr_array_add (seeds, record_for ("seed.allowed.test"));
    g_ptr_array_add (seeds, record_for (NULL));
    g_ptr_array_add (seeds, in_records (msg->data, msg->len, 9));
    for (gsize i = 0; i < G_N_ELEMENTS (http_seeds); i++) {
        GByteArray *b = g_byte_array_new ();
        g_byte_array_append (b, (const guint8 *) http_seeds[i], (guint) strlen (http_seeds[i]));
        g_ptr_array_add (seeds, b);
    }

    for (guint iter = 0; iter < REPLAY_COUNT; iter++) {
        g_autoptr (GByteArray) input = g_byte_array_new ();
        g_autofree guint8 *copy = NULL;
        char out[BL_NET_NAME_CAP];
        gsize cap = g_rand_int_range (rand, 0, 8) == 0 ? (gsize) g_rand_int_range (rand, 0, 40)
                                                       : sizeof out;
        BlSniResult sni;
        BlHostResult host;

        if (g_rand_int_range (rand, 0, 10) == 0) {
            guint n = (guint) g_rand_int_range (rand, 0, 64);
            static const guint8 tls_start[] = { 0x16, 0x03, 0x01 };
            if (g_rand_boolean (rand))
                g_byte_array_append (input, tls_start, sizeof tls_start);
            for (guint i = 0; i < n; i++)
                put_u8 (input, (guint) g_rand_int_range (rand, 0, 256));
        } else {
            const GByteArray *seed =
                g_ptr_array_index (seeds, (guint) g_rand_int_range (rand, 0, (gint32) seeds->len));
            guint rounds = (guint) g_rand_int_range (rand, 1, 5);
            g_byte_array_append (input, seed->data, seed->len);
            for (guint r = 0; r < rounds; r++)
                mutate (rand, input);
        }

        copy = input->len ? g_memdup2 (input->data, input->len) : NULL;
        sni = bl_net_tls_sni_parse (copy, input->len, cap ? out : NULL, cap);
        g_assert_cmpint (sni, >=, BL_SNI_FOUND);
        g_assert_cmpint (sni, <=, BL_SNI_MALFORMED);
        if (sni == BL_SNI_FOUND)
            assert_output_sane (out, cap);
        else if (cap)
            g_assert_cmpstr (out, ==, "");
        counts[0][sni]++;

        host = bl_net_http_host_parse (copy, input->len, cap ? out : NULL, cap);
        g_assert_cmpint (host, >=, BL_HOST_FOUND);
        g_assert_cmpint (host, <=, BL_HOST_MALFORMED);
        if (host == BL_HOST_FOUND)
            assert_output_sane (out, cap);
        else if (cap)
            g_assert_cmpstr (out, ==, "");
        counts[1][host]++;
    }
    g_test_message ("sni found/more/none/not/bad: %u %u %u %u %u", counts[0][0], counts[0][1],
                    counts[0][2], counts[0][3], counts[0][4]);
    g_test_message ("http found/more/none/not/bad: %u %u %u %u %u", counts[1][0], counts[1][1],
                    counts[1][2], counts[1][3], counts[1][4]);
    /* The replay must reach every outcome, or it is not exercising much. */
    for (guint p = 0; p < 2; p++)
        for (guint r = 0; r < 5; r++)
            g_assert_cmpuint (counts[p][r], >, 0);
}

/* What a request head says about its target and its body. */
static void
test_http_head (void)
{
    const struct {
        const char *text;
        BlHostResult result;
        const char *target;
        BlHttpBody body;
        guint64 length;
    } cases[] = {
        { "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", BL_HOST_FOUND, "", BL_HTTP_BODY_NONE, 0 },
        { "GET http://B.Test:8080/x?y HTTP/1.1\r\nHost: a.test\r\n\r\n", BL_HOST_FOUND, "b.test",
          BL_HTTP_BODY_NONE, 0 },
        { "GET https://[fd00::1]/ HTTP/1.1\r\nHost: a.test\r\n\r\n", BL_HOST_FOUND, "fd00::1",
          BL_HTTP_BODY_NONE, 0 },
        { "CONNECT b.test:443 HTTP/1.1\r\nHost: b.test:443\r\n\r\n", BL_HOST_FOUND, "b.test",
          BL_HTTP_BODY_TUNNEL, 0 },
        { "OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n", BL_HOST_FOUND, "", BL_HTTP_BODY_NONE, 0 },
        { "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 12\r\n\r\n", BL_HOST_FOUND, "",
          BL_HTTP_BODY_LENGTH, 12 },
        { "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: Chunked\r\n\r\n", BL_HOST_FOUND,
          "", BL_HTTP_BODY_CHUNKED, 0 },
        { "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
          BL_HOST_FOUND, "", BL_HTTP_BODY_UNKNOWN, 0 },
        { "GET / HTTP/1.1\r\nHost: a.test\r\nUpgrade: h2c\r\n\r\n", BL_HOST_FOUND, "",
          BL_HTTP_BODY_UNKNOWN, 0 },
        { "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", BL_HOST_H2_PREFACE, "", 0, 0 },
        { "PRI * HTTP/2", BL_HOST_NEED_MORE, "", 0, 0 },
        { "CONNECT b.test HTTP/1.1\r\n\r\n", BL_HOST_MALFORMED, "", 0, 0 },
        { "GET ftp://b.test/ HTTP/1.1\r\n\r\n", BL_HOST_MALFORMED, "", 0, 0 },
        { "GET http://a.test@b.test/ HTTP/1.1\r\n\r\n", BL_HOST_MALFORMED, "", 0, 0 },
        { "GET b.test HTTP/1.1\r\n\r\n", BL_HOST_MALFORMED, "", 0, 0 },
        { "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", BL_HOST_MALFORMED,
          "", 0, 0 },
        { "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
          BL_HOST_MALFORMED, "", 0, 0 },
        { "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", BL_HOST_MALFORMED, "", 0, 0 },
    };

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
        BlHttpHead head;
        BlHostResult r =
            bl_net_http_head_parse ((const guint8 *) cases[i].text, strlen (cases[i].text), &head);
        g_test_message ("%s", cases[i].text);
        g_assert_cmpint (r, ==, cases[i].result);
        if (r != BL_HOST_FOUND && r != BL_HOST_NO_HOST)
            continue;
        g_assert_cmpstr (head.target, ==, cases[i].target);
        g_assert_cmpint (head.body, ==, cases[i].body);
        g_assert_cmpuint (head.content_length, ==, cases[i].length);
        g_assert_cmpuint (head.head_len, ==, strlen (cases[i].text));
    }
}

/* Feeds @text to a follower byte by byte and whole; both must agree on
 * where the body ends (or that it is malformed). Returns the body length,
 * or -1 if malformed, or -2 if it has not ended. */
static gssize
follow_end (gboolean chunked, guint64 length, const char *text)
{
    BlHttpFollow whole, bytes;
    gsize len = strlen (text), used = 0;

    bl_net_http_follow_start (&whole, chunked, length);
    bl_net_http_follow_start (&bytes, chunked, length);
    gsize n = bl_net_http_follow_feed (&whole, (const guint8 *) text, len);
    for (gsize i = 0; i < len && bytes.state != BL_FOLLOW_DONE && bytes.state != BL_FOLLOW_BAD; i++)
        used += bl_net_http_follow_feed (&bytes, (const guint8 *) text + i, 1);
    g_assert_cmpint (whole.state, ==, bytes.state);
    if (whole.state == BL_FOLLOW_BAD)
        return -1;
    g_assert_cmpuint (n, ==, used);
    return whole.state == BL_FOLLOW_DONE ? (gssize) n : -2;
}

static void
test_http_follow (void)
{
    g_assert_cmpint (follow_end (FALSE, 5, "helloGET "), ==, 5);
    g_assert_cmpint (follow_end (FALSE, 10, "hello"), ==, -2);
    g_assert_cmpint (follow_end (TRUE, 0, "5\r\nhello\r\n0\r\n\r\nGET"), ==, 15);
    g_assert_cmpint (follow_end (TRUE, 0, "A;ext=1\r\n0123456789\r\n0\r\nX: y\r\n\r\nG"), ==, 32);
    g_assert_cmpint (follow_end (TRUE, 0, "5\r\nhello\r\n"), ==, -2);
    /* Malformed: no size, a bare LF, data not followed by CRLF, too many
     * digits, junk in the size. */
    g_assert_cmpint (follow_end (TRUE, 0, "\r\n"), ==, -1);
    g_assert_cmpint (follow_end (TRUE, 0, "5\nhello"), ==, -1);
    g_assert_cmpint (follow_end (TRUE, 0, "5\r\nhelloXX"), ==, -1);
    g_assert_cmpint (follow_end (TRUE, 0, "1234567890abcdef0\r\n"), ==, -1);
    g_assert_cmpint (follow_end (TRUE, 0, "5x\r\n"), ==, -1);
    /* An overlong extension line or trailer. */
    g_autofree char *ext = g_strnfill (5000, 'e');
    g_autofree char *long_ext = g_strconcat ("5;", ext, "\r\n", NULL);
    g_assert_cmpint (follow_end (TRUE, 0, long_ext), ==, -1);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);

    g_test_add_func ("/netparse/sni/openssl", test_sni_openssl);
    g_test_add_func ("/netparse/sni/found", test_sni_found);
    g_test_add_func ("/netparse/sni/not-tls", test_sni_not_tls);
    g_test_add_func ("/netparse/sni/malformed", test_sni_malformed);
    g_test_add_func ("/netparse/sni/lengths", test_sni_lengths);
    g_test_add_func ("/netparse/sni/duplicates", test_sni_duplicates);
    g_test_add_func ("/netparse/http/cases", test_http_cases);
    g_test_add_func ("/netparse/http/split", test_http_split);
    g_test_add_func ("/netparse/http/bound", test_http_bound);
    g_test_add_func ("/netparse/http/head", test_http_head);
    g_test_add_func ("/netparse/http/follow", test_http_follow);
    g_test_add_func ("/netparse/allowlist/match", test_allowlist_match);
    g_test_add_func ("/netparse/allowlist/empty", test_allowlist_empty);
    g_test_add_func ("/netparse/allowlist/invalid", test_allowlist_invalid);
    g_test_add_func ("/netparse/replay", test_replay);

    return g_test_run ();
}

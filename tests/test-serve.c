/* test-serve.c: `boxlite serve` over real HTTP on loopback, with real boxes.
 *
 * One server process (the CLI) on a fresh home, driven by a libsoup client:
 * the token, every route with and without it, bodies that are malformed,
 * too large or without a length, a box created, started, and commands run
 * over the attach WebSocket (stdin, stdout and stderr apart, a resize on a
 * terminal, a detach and re-attach, signals, kill), files up and down as
 * tar, two clients at once, twenty executions at once, an image pulled from
 * a real registry on loopback, /metrics, the command line's --host mode
 * (terminals on a real pseudo-terminal, cp both ways, inspect, stop and
 * start), and the server killed and started again with its detached box
 * still running. Every answer is checked
 * against docs/openapi.json, and every operation of that file must have
 * answered by the end. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "registry-fixture.h"
#include "serve-schema.h"
#include "test-util.h"

static char *home;
static char *base_url;
static guint16 port;
static char *token;
static GSubprocess *server;
static SoupSession *session;
static ServeSchema *schema;
static BlTestRegistry *registry;
static char *box_id;       /* "srv-main": detached, running */
static char *other_box_id; /* "srv-other": never started */

/* ---- the server process ---- */

static void
die_with_parent (gpointer data)
{
    prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static GSubprocess *
spawn_cli (GError **error, const char *first, ...)
{
    g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
    g_autoptr (GPtrArray) argv = g_ptr_array_new ();
    va_list args;

    g_ptr_array_add (argv, (gpointer) g_getenv ("BOXLITE_CLI"));
    g_ptr_array_add (argv, (gpointer) "--home");
    g_ptr_array_add (argv, home);
    va_start (args, first);
    for (const char *a = first; a; a = va_arg (args, const char *))
        g_ptr_array_add (argv, (gpointer) a);
    va_end (args);
    g_ptr_array_add (argv, NULL);
    g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
    return g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, error);
}

static guint
raw_get_status (const char *path)
{
    g_autofree char *url = g_strconcat (base_url, path, NULL);
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
    g_autoptr (GBytes) body = soup_session_send_and_read (session, msg, NULL, NULL);
    return soup_message_get_status (msg);
}

static void
server_start (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", port);

    server = spawn_cli (&error, "--insecure-registry", registry->host, "serve", "--listen", listen,
                        NULL);
    g_assert_no_error (error);
    for (guint i = 0; i < 300; i++) {
        if (raw_get_status ("/v1/config") == 200)
            return;
        g_usleep (100 * 1000);
    }
    g_error ("the server did not answer within 30 s");
}

static void
server_stop (int sig)
{
    g_subprocess_send_signal (server, sig);
    g_assert_true (g_subprocess_wait (server, NULL, NULL));
    g_clear_object (&server);
}

/* ---- HTTP ---- */

typedef struct {
    guint status;
    GBytes *body;
    JsonNode *json;
    SoupMessageHeaders *headers;
} Reply;

static void
reply_free (Reply *reply)
{
    g_clear_pointer (&reply->body, g_bytes_unref);
    g_clear_pointer (&reply->json, json_node_unref);
    g_clear_pointer (&reply->headers, soup_message_headers_unref);
    g_free (reply);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Reply, reply_free)

/* Set while asking for what the file does not have (unknown routes). */
static gboolean unlisted;

static void
check_answer (const char *method, SoupMessage *msg, GBytes *body)
{
    g_autoptr (GError) error = NULL;

    if (unlisted)
        return;
    const char *type =
        soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL);

    if (!serve_schema_check (schema, method, g_uri_get_path (soup_message_get_uri (msg)),
                             soup_message_get_status (msg), type, body, &error))
        g_error ("answer not as docs/openapi.json says: %s\n%.*s", error->message,
                 body ? (int) MIN (g_bytes_get_size (body), 2000) : 0,
                 body ? (const char *) g_bytes_get_data (body, NULL) : "");
}

static Reply *
request_full (const char *method, const char *path, const char *credential, const char *type,
              GBytes *body)
{
    g_autofree char *url = g_strconcat (base_url, path, NULL);
    g_autoptr (SoupMessage) msg = soup_message_new (method, url);
    g_autoptr (GError) error = NULL;
    Reply *reply = g_new0 (Reply, 1);

    g_assert_nonnull (msg);
    if (credential) {
        g_autofree char *value = g_strdup_printf ("Bearer %s", credential);
        soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
                                      value);
    }
    if (body)
        soup_message_set_request_body_from_bytes (msg, type, body);
    reply->body = soup_session_send_and_read (session, msg, NULL, &error);
    g_assert_no_error (error);
    reply->status = soup_message_get_status (msg);
    reply->headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
    check_answer (method, msg, reply->body);
    const char *ctype = soup_message_headers_get_content_type (reply->headers, NULL);
    if (ctype && g_str_equal (ctype, "application/json") && g_bytes_get_size (reply->body)) {
        g_autofree char *text =
            g_strndup (g_bytes_get_data (reply->body, NULL), g_bytes_get_size (reply->body));
        reply->json = json_from_string (text, NULL);
    }
    return reply;
}

static Reply *
request (const char *method, const char *path, const char *json)
{
    g_autoptr (GBytes) body = json ? g_bytes_new (json, strlen (json)) : NULL;
    return request_full (method, path, token, "application/json", body);
}

static JsonObject *
object (Reply *reply)
{
    g_assert_nonnull (reply->json);
    return json_node_get_object (reply->json);
}

static const char *
member (Reply *reply, const char *name)
{
    return json_object_get_string_member (object (reply), name);
}

static void
assert_error (Reply *reply, guint status, const char *code)
{
    g_assert_cmpuint (reply->status, ==, status);
    JsonObject *error = json_object_get_object_member (object (reply), "error");
    g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, code);
    g_assert_cmpstr (json_object_get_string_member (error, "request_id"), ==,
                     soup_message_headers_get_one (reply->headers, "X-Request-Id"));
}

/* Sends @text as it is and returns the status line of the answer: for
 * requests libsoup's client would not make. */
static char *
raw_exchange (const char *text)
{
    g_autoptr (GSocketClient) client = g_socket_client_new ();
    g_autoptr (GError) error = NULL;
    g_autoptr (GSocketConnection) conn =
        g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
    char buf[512];
    gssize n;

    g_assert_no_error (error);
    g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)),
                                              text, strlen (text), NULL, NULL, &error));
    g_assert_no_error (error);
    n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)), buf, sizeof buf - 1,
                             NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (n, >, 0);
    buf[n] = '\0';
    char *eol = strstr (buf, "\r\n");
    return g_strndup (buf, eol ? (gsize) (eol - buf) : (gsize) n);
}

/* ---- executions and the attach WebSocket ---- */

typedef struct {
    SoupWebsocketConnection *ws;
    GString *out;
    GString *err;
    GPtrArray *errors;
    gint exit_code;
    gboolean exited;
    gboolean closed;
    gushort close_code;
} Attach;

static char *
start_exec (const char *box, const char *json)
{
    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s/exec", box);
    g_autoptr (Reply) reply = request ("POST", path, json);

    g_assert_cmpuint (reply->status, ==, 201);
    g_autofree char *location =
        g_strdup_printf ("/v1/boxes/%s/executions/%s", box_id, member (reply, "execution_id"));
    g_assert_cmpstr (soup_message_headers_get_one (reply->headers, "Location"), ==, location);
    return g_strdup (member (reply, "execution_id"));
}

static void
on_ws_message (SoupWebsocketConnection *ws, gint type, GBytes *message, Attach *a)
{
    gsize len;
    const char *data = g_bytes_get_data (message, &len);

    if (type == SOUP_WEBSOCKET_DATA_BINARY) {
        g_assert_cmpuint (len, >=, 1);
        g_assert_true (data[0] == 1 || data[0] == 2);
        g_string_append_len (data[0] == 1 ? a->out : a->err, data + 1, (gssize) len - 1);
        return;
    }
    g_autofree char *text = g_strndup (data, len);
    g_autoptr (JsonNode) node = json_from_string (text, NULL);
    g_assert_nonnull (node);
    JsonObject *obj = json_node_get_object (node);
    const char *kind = json_object_get_string_member (obj, "type");
    if (g_str_equal (kind, "exit")) {
        g_assert_false (a->exited);
        a->exited = TRUE;
        a->exit_code = (gint) json_object_get_int_member (obj, "exit_code");
    } else {
        g_assert_cmpstr (kind, ==, "error");
        g_ptr_array_add (a->errors, g_strdup (json_object_get_string_member (obj, "message")));
    }
}

static void
on_ws_closed (SoupWebsocketConnection *ws, Attach *a)
{
    a->closed = TRUE;
    a->close_code = soup_websocket_connection_get_close_code (ws);
}

static void
got_ws (GObject *source, GAsyncResult *result, gpointer data)
{
    GError *error = NULL;
    SoupWebsocketConnection *ws =
        soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
    *(gpointer *) data = ws ? (gpointer) ws : (gpointer) error;
    if (!ws)
        g_object_set_data (G_OBJECT (source), "ws-error", GINT_TO_POINTER (1));
}

#define SPIN_UNTIL(cond, seconds)                                                                  \
    G_STMT_START                                                                                   \
    {                                                                                              \
        gint64 _deadline = g_get_monotonic_time () + (seconds) *G_USEC_PER_SEC;                    \
        while (!(cond)) {                                                                          \
            if (g_get_monotonic_time () > _deadline)                                               \
                g_error ("timed out waiting for %s", #cond);                                       \
            g_main_context_iteration (NULL, TRUE);                                                 \
        }                                                                                          \
    }                                                                                              \
    G_STMT_END

/* Connects to .../attach; returns the HTTP status of the handshake, and the
 * attach in *@out when it is 101. */
static guint
attach_try (SoupSession *s, const char *box, const char *exec_id, const char *credential,
            Attach **out)
{
    g_autofree char *url =
        g_strdup_printf ("%s/v1/boxes/%s/executions/%s/attach", base_url, box, exec_id);
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
    gpointer result = NULL;

    if (credential) {
        g_autofree char *value = g_strdup_printf ("Bearer %s", credential);
        soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
                                      value);
    }
    g_object_set_data (G_OBJECT (s), "ws-error", NULL);
    soup_session_websocket_connect_async (s, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL, got_ws,
                                          &result);
    SPIN_UNTIL (result != NULL, 60);
    guint status = soup_message_get_status (msg);
    if (g_object_get_data (G_OBJECT (s), "ws-error")) {
        g_error_free (result);
        return status;
    }
    Attach *a = g_new0 (Attach, 1);
    a->ws = result;
    a->out = g_string_new (NULL);
    a->err = g_string_new (NULL);
    a->errors = g_ptr_array_new_with_free_func (g_free);
    g_signal_connect (a->ws, "message", G_CALLBACK (on_ws_message), a);
    g_signal_connect (a->ws, "closed", G_CALLBACK (on_ws_closed), a);
    g_autoptr (GError) error = NULL;
    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s/executions/%s/attach", box, exec_id);
    g_assert_true (serve_schema_check (schema, "GET", path, 101, NULL, NULL, &error));
    *out = a;
    return status;
}

static Attach *
attach_open (const char *box, const char *exec_id)
{
    Attach *a = NULL;
    g_assert_cmpuint (attach_try (session, box, exec_id, token, &a), ==, 101);
    return a;
}

static void
attach_free (Attach *a)
{
    if (!a->closed)
        soup_websocket_connection_close (a->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    SPIN_UNTIL (a->closed, 30);
    g_signal_handlers_disconnect_by_data (a->ws, a);
    g_object_unref (a->ws);
    g_string_free (a->out, TRUE);
    g_string_free (a->err, TRUE);
    g_ptr_array_unref (a->errors);
    g_free (a);
}

static void
send_text (Attach *a, const char *text)
{
    soup_websocket_connection_send_text (a->ws, text);
}

static void
send_stdin (Attach *a, const char *text)
{
    soup_websocket_connection_send_binary (a->ws, text, strlen (text));
}

static void
wait_exit (Attach *a, gint code)
{
    SPIN_UNTIL (a->exited && a->closed, 120);
    g_assert_cmpint (a->exit_code, ==, code);
    g_assert_cmpuint (a->close_code, ==, SOUP_WEBSOCKET_CLOSE_NORMAL);
}

static JsonObject *
execution_info (const char *exec_id, Reply **keep)
{
    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s/executions/%s", box_id, exec_id);
    *keep = request ("GET", path, NULL);
    g_assert_cmpuint ((*keep)->status, ==, 200);
    return object (*keep);
}

/* ---- the tests ---- */

static void
test_token (void)
{
    g_autofree char *path = g_build_filename (home, "api-token", NULL);
    GStatBuf st;

    g_assert_cmpint (g_stat (path, &st), ==, 0);
    g_assert_cmpuint (st.st_mode & 0777, ==, 0600);
    g_assert_cmpuint (strlen (token), ==, 64);

    /* A token file others can read is refused, and so is a link. */
    g_autofree char *loose_home = g_build_filename (home, "loose", NULL);
    g_autofree char *loose = g_build_filename (loose_home, "api-token", NULL);
    g_assert_cmpint (g_mkdir (loose_home, 0700), ==, 0);
    g_assert_true (g_file_set_contents (loose, "0123456789abcdef0123\n", -1, NULL));
    g_assert_cmpint (g_chmod (loose, 0644), ==, 0);
    g_autofree char *listen = g_strdup_printf ("127.0.0.1:%u", bl_test_free_port ());
    const char *argv[] = {
        g_getenv ("BOXLITE_CLI"), "--home", loose_home, "serve", "--listen", listen, NULL
    };
    g_autofree char *err = NULL;
    gint status;
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL,
                                 &err, &status, NULL));
    g_assert_false (g_spawn_check_wait_status (status, NULL));
    g_assert_nonnull (strstr (err, "mode 0600"));
    g_assert_cmpint (g_unlink (loose), ==, 0);
    g_assert_cmpint (symlink (path, loose), ==, 0);
    g_clear_pointer (&err, g_free);
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL,
                                 &err, &status, NULL));
    g_assert_false (g_spawn_check_wait_status (status, NULL));
    g_assert_nonnull (strstr (err, "symbolic link"));
}

/* Every operation of the file, with placeholders for its parameters. */
static char *
concrete_path (const char *template)
{
    g_autoptr (GString) path = g_string_new (template);
    g_string_replace (path, "{box_id}", box_id ? box_id : "nobox", 0);
    g_string_replace (path, "{exec_id}", "exec-0000", 0);
    g_string_replace (path, "{image_id}", "sha256:0000", 0);
    return g_string_free (g_steal_pointer (&path), FALSE);
}

static void
test_auth (void)
{
    g_auto (GStrv) ops = serve_schema_operations (schema);
    g_autofree char *wrong = g_strdup_printf ("%.*sx", (int) strlen (token) - 1, token);

    g_assert_cmpuint (g_strv_length (ops), >=, 20);
    for (guint i = 0; ops[i]; i++) {
        g_auto (GStrv) parts = g_strsplit (ops[i], " ", 2);
        g_autofree char *path = concrete_path (parts[1]);
        const char *credentials[] = { NULL, wrong, "" };
        for (guint c = 0; c < G_N_ELEMENTS (credentials); c++) {
            g_autoptr (Reply) reply = request_full (parts[0], path, credentials[c], NULL, NULL);
            if (g_str_equal (ops[i], "GET /v1/config")) {
                g_assert_cmpuint (reply->status, ==, 200);
            } else if (g_str_equal (parts[0], "HEAD")) {
                g_assert_cmpuint (reply->status, ==, 401);
            } else {
                g_test_message ("%s without a good token", ops[i]);
                assert_error (reply, 401, "unauthenticated");
            }
        }
    }
    g_autoptr (Reply) me = request ("GET", "/v1/me", NULL);
    g_assert_cmpuint (me->status, ==, 200);
    g_assert_true (json_object_get_null_member (object (me), "path_prefix"));
    /* A token sent in another scheme is not one. */
    g_autofree char *url = g_strconcat (base_url, "/v1/me", NULL);
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
    g_autofree char *basic = g_strdup_printf ("Basic %s", token);
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", basic);
    g_autoptr (GBytes) body = soup_session_send_and_read (session, msg, NULL, NULL);
    g_assert_cmpuint (soup_message_get_status (msg), ==, 401);
}

static void
test_bad_bodies (void)
{
    const char *malformed[] = { "{bad",
                                "[1,2]",
                                "\"text\"",
                                "",
                                "{\"image\": 5}",
                                "{\"cpus\": \"two\"}",
                                "{\"volumes\": []}",
                                "{\"env\": {\"A=B\": \"c\"}}",
                                "{\"memory_mib\": 1}" };

    for (guint i = 0; i < G_N_ELEMENTS (malformed); i++) {
        g_test_message ("POST /v1/boxes %s", malformed[i]);
        g_autoptr (Reply) reply = request ("POST", "/v1/boxes", malformed[i]);
        assert_error (reply, 400, i == 6 ? "unsupported" : "invalid_argument");
    }
    /* Nothing was made of any of them. */
    g_autoptr (Reply) list = request ("GET", "/v1/boxes", NULL);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (object (list), "boxes")),
                      ==, 0);

    /* Too large: refused on the headers, before the body is read. */
    g_autofree char *big =
        g_strdup_printf ("POST /v1/boxes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                         "Content-Type: application/json\r\nContent-Length: %u\r\n\r\n",
                         token, 64u * 1024 * 1024);
    g_autofree char *big_status = raw_exchange (big);
    g_assert_cmpstr (big_status, ==, "HTTP/1.1 413 Request Entity Too Large");
    /* A body without a length cannot be bounded before it is read. */
    g_autofree char *chunked =
        g_strdup_printf ("POST /v1/boxes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n",
                         token);
    g_autofree char *chunked_status = raw_exchange (chunked);
    g_assert_cmpstr (chunked_status, ==, "HTTP/1.1 411 Length Required");
    /* Without the token, not even the size is looked at. */
    g_autofree char *anonymous =
        raw_exchange ("POST /v1/boxes HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n");
    g_assert_cmpstr (anonymous, ==, "HTTP/1.1 401 Unauthorized");
    /* Unknown routes and methods. */
    unlisted = TRUE;
    g_autoptr (Reply) nothing = request_full ("GET", "/v1/nothing", token, NULL, NULL);
    assert_error (nothing, 404, "not_found");
    g_autoptr (Reply) put = request_full ("PUT", "/v1/boxes", token, NULL, NULL);
    assert_error (put, 405, "invalid_argument");
    /* A segment that decodes to a "/" matches no route. */
    g_autoptr (Reply) slash = request_full ("GET", "/v1/boxes/a%2Fb", token, NULL, NULL);
    assert_error (slash, 404, "not_found");
    unlisted = FALSE;
    /* The server still answers. */
    g_assert_cmpuint (raw_get_status ("/v1/config"), ==, 200);
}

static void
test_boxes (void)
{
    g_autoptr (Reply) created = request (
        "POST", "/v1/boxes",
        "{\"name\": \"srv-main\", \"detach\": true, \"memory_mib\": 256, \"env\": {\"GREETING\": "
        "\"hi\"}, \"network\": {\"outbound\": {\"mode\": \"enabled\"}}}");
    g_assert_cmpuint (created->status, ==, 201);
    box_id = g_strdup (member (created, "box_id"));
    g_assert_cmpstr (member (created, "status"), ==, "configured");
    g_autofree char *location = g_strdup_printf ("/v1/boxes/%s", box_id);
    g_assert_cmpstr (soup_message_headers_get_one (created->headers, "Location"), ==, location);

    g_autoptr (Reply) other =
        request ("POST", "/v1/boxes", "{\"name\": \"srv-other\", \"auto_stop\": 3600}");
    g_assert_cmpuint (other->status, ==, 201);
    g_assert_cmpint (json_object_get_int_member (object (other), "auto_stop"), ==, 3600);
    other_box_id = g_strdup (member (other, "box_id"));
    g_autoptr (Reply) again = request ("POST", "/v1/boxes", "{\"name\": \"srv-other\"}");
    assert_error (again, 409, "already_exists");

    /* By id and by name; HEAD. */
    g_autoptr (Reply) by_name = request ("GET", "/v1/boxes/srv-main", NULL);
    g_assert_cmpstr (member (by_name, "box_id"), ==, box_id);
    g_autoptr (Reply) head = request ("HEAD", location, NULL);
    g_assert_cmpuint (head->status, ==, 204);
    g_autoptr (Reply) head_missing = request ("HEAD", "/v1/boxes/no-such-box", NULL);
    g_assert_cmpuint (head_missing->status, ==, 404);
    g_autoptr (Reply) missing = request ("GET", "/v1/boxes/no-such-box", NULL);
    assert_error (missing, 404, "not_found");

    /* Pages of one, then the status filter. */
    g_autoptr (Reply) page1 = request ("GET", "/v1/boxes?pageSize=1", NULL);
    JsonArray *boxes = json_object_get_array_member (object (page1), "boxes");
    g_assert_cmpuint (json_array_get_length (boxes), ==, 1);
    g_assert_cmpstr (
        json_object_get_string_member (json_array_get_object_element (boxes, 0), "box_id"), ==,
        box_id);
    g_autofree char *page2_path =
        g_strdup_printf ("/v1/boxes?pageSize=1&pageToken=%s", member (page1, "next_page_token"));
    g_autoptr (Reply) page2 = request ("GET", page2_path, NULL);
    boxes = json_object_get_array_member (object (page2), "boxes");
    g_assert_cmpuint (json_array_get_length (boxes), ==, 1);
    g_assert_cmpstr (
        json_object_get_string_member (json_array_get_object_element (boxes, 0), "box_id"), ==,
        other_box_id);
    g_assert_true (json_object_get_null_member (object (page2), "next_page_token"));
    g_autoptr (Reply) bad_token = request ("GET", "/v1/boxes?pageToken=garbage", NULL);
    assert_error (bad_token, 400, "invalid_argument");

    g_autofree char *start = g_strdup_printf ("/v1/boxes/%s/start", box_id);
    g_autoptr (Reply) started = request ("POST", start, NULL);
    g_assert_cmpuint (started->status, ==, 200);
    g_assert_cmpstr (member (started, "status"), ==, "running");
    g_assert_cmpint (json_object_get_int_member (object (started), "pid"), >, 0);
    g_autoptr (Reply) started_again = request ("POST", start, NULL);
    g_assert_cmpuint (started_again->status, ==, 200);

    g_autoptr (Reply) running = request ("GET", "/v1/boxes?status=running", NULL);
    boxes = json_object_get_array_member (object (running), "boxes");
    g_assert_cmpuint (json_array_get_length (boxes), ==, 1);
    g_autoptr (Reply) configured = request ("GET", "/v1/boxes?status=configured", NULL);
    boxes = json_object_get_array_member (object (configured), "boxes");
    g_assert_cmpuint (json_array_get_length (boxes), ==, 1);

    /* A running box is not removed without force. */
    g_autoptr (Reply) refused = request ("DELETE", location, NULL);
    assert_error (refused, 409, "invalid_state");
}

static void
test_exec_streams (void)
{
    g_autofree char *id = start_exec (
        box_id, "{\"command\": \"sh\", \"args\": [\"-c\", \"read line; echo out:$line:$GREETING; "
                "echo err:$line >&2; exit 3\"]}");
    Attach *a = attach_open (box_id, id);

    send_stdin (a, "hello\n");
    wait_exit (a, 3);
    g_assert_cmpstr (a->out->str, ==, "out:hello:hi\n");
    g_assert_cmpstr (a->err->str, ==, "err:hello\n");
    attach_free (a);

    g_autoptr (Reply) keep = NULL;
    JsonObject *info = execution_info (id, &keep);
    g_assert_cmpstr (json_object_get_string_member (info, "status"), ==, "completed");
    g_assert_cmpint (json_object_get_int_member (info, "exit_code"), ==, 3);

    /* A program that does not exist. */
    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s/exec", box_id);
    g_autoptr (Reply) missing = request ("POST", path, "{\"command\": \"/no/such/program\"}");
    g_assert_cmpuint (missing->status, ==, 400);
    g_autoptr (Reply) no_command = request ("POST", path, "{\"args\": [\"x\"]}");
    assert_error (no_command, 400, "invalid_argument");
}

static void
test_exec_tty (void)
{
    g_autofree char *id = start_exec (
        box_id, "{\"command\": \"sh\", \"tty\": true, \"args\": [\"-c\", \"stty size; read x; "
                "stty size; read y; stty size; exit 5\"]}");
    g_autofree char *resize = g_strdup_printf ("/v1/boxes/%s/executions/%s/resize", box_id, id);
    Attach *a = attach_open (box_id, id);

    SPIN_UNTIL (strstr (a->out->str, "24 80"), 60);
    send_text (a, "{\"type\":\"resize\",\"cols\":100,\"rows\":30}");
    /* A refused control message leaves the connection open. */
    send_text (a, "{\"type\":\"signal\",\"sig\":9}");
    send_text (a, "not json");
    send_text (a, "{\"type\":\"resize\",\"cols\":0,\"rows\":30}");
    SPIN_UNTIL (a->errors->len == 3, 30);
    send_stdin (a, "go\n");
    SPIN_UNTIL (strstr (a->out->str, "30 100"), 60);
    /* The same out of band. */
    g_autoptr (Reply) resized = request ("POST", resize, "{\"cols\": 120, \"rows\": 40}");
    g_assert_cmpuint (resized->status, ==, 204);
    g_autoptr (Reply) bad = request ("POST", resize, "{\"cols\": 120}");
    assert_error (bad, 400, "invalid_argument");
    send_stdin (a, "go\n");
    wait_exit (a, 5);
    g_assert_nonnull (strstr (a->out->str, "40 120"));
    g_assert_cmpuint (a->err->len, ==, 0);
    attach_free (a);

    /* A size from the start, for a command that asks at once. */
    g_autofree char *sized =
        start_exec (box_id, "{\"command\": \"stty\", \"args\": [\"size\"], \"tty\": true, "
                            "\"tty_size\": {\"rows\": 33, \"cols\": 101}}");
    a = attach_open (box_id, sized);
    wait_exit (a, 0);
    g_assert_cmpstr (a->out->str, ==, "33 101\r\n");
    attach_free (a);
    g_autofree char *exec_path = g_strdup_printf ("/v1/boxes/%s/exec", box_id);
    const char *const bad_sizes[] = {
        "{\"command\": \"true\", \"tty\": true, \"tty_size\": [24, 80]}",
        "{\"command\": \"true\", \"tty\": true, \"tty_size\": {\"rows\": 0, \"cols\": 80}}",
        "{\"command\": \"true\", \"tty\": true, \"tty_size\": {\"rows\": 24, \"cols\": 65536}}",
    };
    for (guint i = 0; i < G_N_ELEMENTS (bad_sizes); i++) {
        g_autoptr (Reply) refused = request ("POST", exec_path, bad_sizes[i]);
        assert_error (refused, 400, "invalid_argument");
    }
    g_autoptr (Reply) unknown =
        request ("POST", exec_path,
                 "{\"command\": \"true\", \"tty\": true, \"tty_size\": {\"rows\": 24, \"w\": 1}}");
    assert_error (unknown, 400, "unsupported");
}

static void
test_exec_reattach (void)
{
    g_autofree char *id = start_exec (
        box_id, "{\"command\": \"sh\", \"args\": [\"-c\", \"read a; echo first:$a; read b; echo "
                "second:$b; exit 7\"]}");
    Attach *a = attach_open (box_id, id);

    send_stdin (a, "1\n");
    SPIN_UNTIL (strstr (a->out->str, "first:1\n"), 60);
    /* One client at a time. */
    Attach *second = NULL;
    g_assert_cmpuint (attach_try (session, box_id, id, token, &second), ==, 409);
    /* Nor without the token. */
    g_assert_cmpuint (attach_try (session, box_id, id, NULL, &second), ==, 401);
    attach_free (a);

    g_autoptr (Reply) keep = NULL;
    JsonObject *info = execution_info (id, &keep);
    g_assert_cmpstr (json_object_get_string_member (info, "status"), ==, "running");
    g_assert_true (json_object_get_null_member (info, "exit_code"));

    Attach *b = attach_open (box_id, id);
    send_stdin (b, "2\n");
    wait_exit (b, 7);
    g_assert_cmpstr (b->out->str, ==, "second:2\n");
    attach_free (b);

    /* Output written while nobody was attached waits for the next one. */
    g_autofree char *late = start_exec (
        box_id, "{\"command\": \"sh\", \"args\": [\"-c\", \"echo early; echo late >&2\"]}");
    g_autoptr (Reply) keep2 = NULL;
    for (guint i = 0; i < 600; i++) {
        g_clear_pointer (&keep2, reply_free);
        if (g_str_equal (json_object_get_string_member (execution_info (late, &keep2), "status"),
                         "completed"))
            break;
        g_usleep (100 * 1000);
    }
    Attach *c = attach_open (box_id, late);
    wait_exit (c, 0);
    g_assert_cmpstr (c->out->str, ==, "early\n");
    g_assert_cmpstr (c->err->str, ==, "late\n");
    attach_free (c);
}

static void
test_exec_signal_kill (void)
{
    g_autofree char *id = start_exec (
        box_id, "{\"command\": \"sh\", \"args\": [\"-c\", \"trap 'echo got-term; exit 9' TERM; "
                "echo ready; while true; do sleep 0.1; done\"]}");
    Attach *a = attach_open (box_id, id);
    g_autofree char *signal_path =
        g_strdup_printf ("/v1/boxes/%s/executions/%s/signal", box_id, id);

    SPIN_UNTIL (strstr (a->out->str, "ready"), 60);
    g_autoptr (Reply) refused = request ("POST", signal_path, "{\"signal\": 9}");
    assert_error (refused, 400, "invalid_argument");
    g_autoptr (Reply) sent = request ("POST", signal_path, "{\"signal\": 15}");
    g_assert_cmpuint (sent->status, ==, 204);
    wait_exit (a, 9);
    g_assert_nonnull (strstr (a->out->str, "got-term"));
    attach_free (a);

    /* DELETE kills and forgets; an attached client sees the exit. */
    g_autofree char *sleeper = start_exec (box_id, "{\"command\": \"sleep\", \"args\": [\"600\"]}");
    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s/executions/%s", box_id, sleeper);
    g_autofree char *resize = g_strdup_printf ("%s/resize", path);
    g_autoptr (Reply) not_tty = request ("POST", resize, "{\"cols\": 10, \"rows\": 10}");
    g_assert_cmpuint (not_tty->status, !=, 204);
    Attach *b = attach_open (box_id, sleeper);
    g_autoptr (Reply) killed = request ("DELETE", path, NULL);
    g_assert_cmpuint (killed->status, ==, 204);
    wait_exit (b, 128 + SIGKILL);
    attach_free (b);
    g_autoptr (Reply) gone = request ("GET", path, NULL);
    assert_error (gone, 404, "not_found");
    g_autoptr (Reply) gone_again = request ("DELETE", path, NULL);
    g_assert_cmpuint (gone_again->status, ==, 404);
}

static GBytes *
make_tar (const char *name, const char *contents)
{
    gsize size = 64 * 1024, used = 0;
    g_autofree char *buf = g_malloc (size);
    struct archive *a = archive_write_new ();
    struct archive_entry *e = archive_entry_new ();

    archive_write_set_format_pax_restricted (a);
    g_assert_cmpint (archive_write_open_memory (a, buf, size, &used), ==, ARCHIVE_OK);
    archive_entry_set_pathname (e, name);
    archive_entry_set_filetype (e, AE_IFREG);
    archive_entry_set_perm (e, 0644);
    archive_entry_set_size (e, (la_int64_t) strlen (contents));
    g_assert_cmpint (archive_write_header (a, e), ==, ARCHIVE_OK);
    g_assert_cmpint (archive_write_data (a, contents, strlen (contents)), ==,
                     (la_ssize_t) strlen (contents));
    archive_entry_free (e);
    g_assert_cmpint (archive_write_close (a), ==, ARCHIVE_OK);
    archive_write_free (a);
    return g_bytes_new (buf, used);
}

/* The contents of @name in the tar @tar, or NULL. */
static char *
tar_member (GBytes *tar, const char *name)
{
    struct archive *a = archive_read_new ();
    struct archive_entry *e;
    char *found = NULL;

    archive_read_support_format_tar (a);
    g_assert_cmpint (
        archive_read_open_memory (a, g_bytes_get_data (tar, NULL), g_bytes_get_size (tar)), ==,
        ARCHIVE_OK);
    while (!found && archive_read_next_header (a, &e) == ARCHIVE_OK) {
        if (!g_str_equal (archive_entry_pathname (e), name))
            continue;
        gsize len = (gsize) archive_entry_size (e);
        found = g_malloc0 (len + 1);
        g_assert_cmpint (archive_read_data (a, found, len), ==, (la_ssize_t) len);
    }
    archive_read_free (a);
    return found;
}

static void
test_files (void)
{
    g_autoptr (GBytes) tar = make_tar ("hello.txt", "uploaded through the API\n");
    g_autofree char *put_path = g_strdup_printf ("/v1/boxes/%s/files?path=/tmp", box_id);
    g_autoptr (Reply) put = request_full ("PUT", put_path, token, "application/x-tar", tar);

    g_assert_cmpuint (put->status, ==, 204);
    g_autofree char *id =
        start_exec (box_id, "{\"command\": \"cat\", \"args\": [\"/tmp/hello.txt\"]}");
    Attach *a = attach_open (box_id, id);
    wait_exit (a, 0);
    g_assert_cmpstr (a->out->str, ==, "uploaded through the API\n");
    attach_free (a);

    g_autofree char *get_path = g_strdup_printf ("/v1/boxes/%s/files?path=/tmp/hello.txt", box_id);
    g_autoptr (Reply) got = request ("GET", get_path, NULL);
    g_assert_cmpuint (got->status, ==, 200);
    g_autofree char *contents = tar_member (got->body, "hello.txt");
    g_assert_cmpstr (contents, ==, "uploaded through the API\n");

    /* Refused: a relative path, a missing file, a hostile archive, a box
     * that does not run. */
    g_autofree char *relative = g_strdup_printf ("/v1/boxes/%s/files?path=tmp", box_id);
    g_autoptr (Reply) r1 = request ("GET", relative, NULL);
    assert_error (r1, 400, "invalid_argument");
    g_autofree char *missing = g_strdup_printf ("/v1/boxes/%s/files?path=/no/such", box_id);
    g_autoptr (Reply) r2 = request ("GET", missing, NULL);
    assert_error (r2, 404, "not_found");
    g_autoptr (GBytes) evil = make_tar ("../../escape.txt", "x");
    g_autoptr (Reply) r3 = request_full ("PUT", put_path, token, "application/x-tar", evil);
    assert_error (r3, 400, "invalid_argument");
    g_autoptr (GBytes) junk = g_bytes_new_static ("not a tar archive at all", 24);
    g_autoptr (Reply) r4 = request_full ("PUT", put_path, token, "application/x-tar", junk);
    g_assert_cmpuint (r4->status, ==, 400);
    g_autofree char *stopped = g_strdup_printf ("/v1/boxes/%s/files?path=/tmp", other_box_id);
    g_autoptr (Reply) r5 = request_full ("PUT", stopped, token, "application/x-tar", tar);
    assert_error (r5, 409, "invalid_state");

    /* With cp's rules the one source is placed: as the path's new name,
     * or inside it when it is a directory. */
    g_autofree char *as_name =
        g_strdup_printf ("/v1/boxes/%s/files?path=/tmp/renamed.txt&cp_rules=true", box_id);
    g_autoptr (Reply) placed = request_full ("PUT", as_name, token, "application/x-tar", tar);
    g_assert_cmpuint (placed->status, ==, 204);
    g_autofree char *into = g_strdup_printf ("/v1/boxes/%s/files?path=/root&cp_rules=true", box_id);
    g_autoptr (Reply) placed_into = request_full ("PUT", into, token, "application/x-tar", tar);
    g_assert_cmpuint (placed_into->status, ==, 204);
    g_autofree char *both = start_exec (
        box_id, "{\"command\": \"cat\", \"args\": [\"/tmp/renamed.txt\", \"/root/hello.txt\"]}");
    a = attach_open (box_id, both);
    wait_exit (a, 0);
    g_assert_cmpstr (a->out->str, ==, "uploaded through the API\nuploaded through the API\n");
    attach_free (a);
    g_autofree char *bad_flag =
        g_strdup_printf ("/v1/boxes/%s/files?path=/tmp&cp_rules=maybe", box_id);
    g_autoptr (Reply) r6 = request_full ("PUT", bad_flag, token, "application/x-tar", tar);
    assert_error (r6, 400, "invalid_argument");
    g_autofree char *nowhere =
        g_strdup_printf ("/v1/boxes/%s/files?path=/no/such/dir/x&cp_rules=true", box_id);
    g_autoptr (Reply) r7 = request_full ("PUT", nowhere, token, "application/x-tar", tar);
    assert_error (r7, 404, "not_found");
    g_autoptr (Reply) r8 = request_full ("PUT", as_name, token, "application/x-tar", evil);
    assert_error (r8, 400, "invalid_argument");
}

typedef struct {
    SoupSession *session;
    char *exec_id;
    Attach *attach;
} Client;

static void
test_two_clients (void)
{
    Client clients[2];

    /* Two sessions (two connections), attached at the same time, each
     * talking to its own command. */
    for (guint i = 0; i < 2; i++) {
        clients[i].session = soup_session_new ();
        clients[i].exec_id = start_exec (box_id, "{\"command\": \"sh\", \"args\": [\"-c\", "
                                                 "\"read x; echo reply:$x\"]}");
        g_assert_cmpuint (
            attach_try (clients[i].session, box_id, clients[i].exec_id, token, &clients[i].attach),
            ==, 101);
    }
    send_stdin (clients[1].attach, "second\n");
    send_stdin (clients[0].attach, "first\n");
    for (guint i = 0; i < 2; i++) {
        wait_exit (clients[i].attach, 0);
        g_autofree char *want = g_strdup_printf ("reply:%s\n", i == 0 ? "first" : "second");
        g_assert_cmpstr (clients[i].attach->out->str, ==, want);
        attach_free (clients[i].attach);
        g_free (clients[i].exec_id);
        g_object_unref (clients[i].session);
    }
}

static guint64
server_rss_kib (void)
{
    g_autofree char *path =
        g_strdup_printf ("/proc/%s/status", g_subprocess_get_identifier (server));
    g_autofree char *text = NULL;
    g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
    const char *line = strstr (text, "VmRSS:");
    g_assert_nonnull (line);
    return g_ascii_strtoull (line + 6, NULL, 10);
}

typedef struct {
    guint pending;
    GPtrArray *ids;
} Burst;

static void
posted (GObject *source, GAsyncResult *result, gpointer data)
{
    Burst *burst = data;
    SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) body =
        soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);

    g_assert_no_error (error);
    check_answer ("POST", msg, body);
    g_assert_cmpuint (soup_message_get_status (msg), ==, 201);
    g_autofree char *text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
    g_autoptr (JsonNode) node = json_from_string (text, NULL);
    g_ptr_array_add (burst->ids, g_strdup (json_object_get_string_member (
                                     json_node_get_object (node), "execution_id")));
    burst->pending--;
}

static void
run_burst (guint n)
{
    Burst burst = { n, g_ptr_array_new_with_free_func (g_free) };
    g_autofree char *url = g_strdup_printf ("%s/v1/boxes/%s/exec", base_url, box_id);
    g_autofree char *auth = g_strdup_printf ("Bearer %s", token);
    g_autoptr (GPtrArray) attaches = g_ptr_array_new ();

    for (guint i = 0; i < n; i++) {
        g_autoptr (SoupMessage) msg = soup_message_new ("POST", url);
        g_autofree char *json = g_strdup_printf (
            "{\"command\": \"sh\", \"args\": [\"-c\", \"echo n=%u; exit %u\"]}", i, i % 4);
        g_autoptr (GBytes) body = g_bytes_new (json, strlen (json));
        soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
                                      auth);
        soup_message_set_request_body_from_bytes (msg, "application/json", body);
        soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, posted, &burst);
    }
    SPIN_UNTIL (burst.pending == 0, 300);
    for (guint i = 0; i < n; i++)
        g_ptr_array_add (attaches, attach_open (box_id, burst.ids->pdata[i]));
    guint seen = 0;
    for (guint i = 0; i < n; i++) {
        Attach *a = attaches->pdata[i];
        SPIN_UNTIL (a->exited && a->closed, 300);
        guint which = (guint) g_ascii_strtoull (a->out->str + 2, NULL, 10);
        g_autofree char *want = g_strdup_printf ("n=%u\n", which);
        g_assert_cmpstr (a->out->str, ==, want);
        g_assert_cmpint (a->exit_code, ==, (gint) (which % 4));
        seen |= 1u << which;
        attach_free (a);
    }
    g_assert_cmpuint (seen, ==, (1u << n) - 1);
    g_ptr_array_unref (burst.ids);
}

static void
test_concurrent_execs (void)
{
    run_burst (20);
    guint64 baseline = server_rss_kib ();
    for (guint round = 0; round < 3; round++)
        run_burst (20);
    guint64 after = server_rss_kib ();
    g_test_message ("server VmRSS: %" G_GUINT64_FORMAT " KiB after one burst of 20 executions, "
                    "%" G_GUINT64_FORMAT " KiB after three more",
                    baseline, after);
    /* Finished executions are kept (for GET) but their buffers are not:
     * three more bursts must not grow the server by more than a few MiB. */
#ifndef __SANITIZE_ADDRESS__
    g_assert_cmpuint (after, <, baseline + 8 * 1024);
#else
    /* AddressSanitizer holds freed memory back on purpose. */
    g_test_message ("not compared: AddressSanitizer's quarantine");
#endif
}

static void
test_images (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *layout = g_build_filename (home, "layout", NULL);
    g_autofree char *digest = bl_test_make_layout (layout, "simple", NULL, &error);
    g_assert_no_error (error);
    g_assert_true (bl_test_registry_push (registry, layout, "simple:latest", &error));
    g_assert_no_error (error);

    g_autofree char *json =
        g_strdup_printf ("{\"reference\": \"%s/simple:latest\"}", registry->host);
    g_autoptr (Reply) pulled = request ("POST", "/v1/images/pull", json);
    g_assert_cmpuint (pulled->status, ==, 200);
    g_assert_cmpstr (member (pulled, "digest"), ==, digest);
    g_assert_cmpstr (member (pulled, "tag"), ==, "latest");
    g_autofree char *id = g_strdup (member (pulled, "id"));
    g_autofree char *missing_json =
        g_strdup_printf ("{\"reference\": \"%s/absent:latest\"}", registry->host);
    g_autoptr (Reply) absent = request ("POST", "/v1/images/pull", missing_json);
    assert_error (absent, 422, "image_pull_failed");

    g_autoptr (Reply) list = request ("GET", "/v1/images", NULL);
    JsonArray *images = json_object_get_array_member (object (list), "images");
    g_assert_cmpuint (json_array_get_length (images), ==, 1);
    g_autofree char *path = g_strdup_printf ("/v1/images/%s", id);
    g_autoptr (Reply) got = request ("GET", path, NULL);
    g_assert_cmpstr (member (got, "id"), ==, id);
    g_autoptr (Reply) head = request ("HEAD", path, NULL);
    g_assert_cmpuint (head->status, ==, 204);
    g_autoptr (Reply) removed = request ("DELETE", path, NULL);
    g_assert_cmpuint (removed->status, ==, 204);
    g_autoptr (Reply) head_gone = request ("HEAD", path, NULL);
    g_assert_cmpuint (head_gone->status, ==, 404);
    g_autoptr (Reply) gone = request ("GET", path, NULL);
    assert_error (gone, 404, "not_found");
}

/* The value of the sample @line_prefix (a full name with labels). */
static gdouble
sample (const char *text, const char *line_prefix)
{
    g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        if (g_str_has_prefix (lines[i], line_prefix) && lines[i][strlen (line_prefix)] == ' ')
            return g_ascii_strtod (lines[i] + strlen (line_prefix) + 1, NULL);
    }
    g_error ("no sample %s in:\n%s", line_prefix, text);
}

/* The exposition format: comments, or NAME{LABELS} VALUE with a number. */
static void
check_exposition (const char *text)
{
    g_autoptr (GRegex) line = g_regex_new (
        "^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\\})? "
        "[0-9.e+-]+)$",
        0, 0, NULL);
    g_auto (GStrv) lines = g_strsplit (text, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        if (*lines[i] && !g_regex_match (line, lines[i], 0, NULL))
            g_error ("not a line of the exposition format: %s", lines[i]);
    }
}

static void
test_metrics (void)
{
    g_autoptr (Reply) prom = request ("GET", "/metrics", NULL);
    g_autofree char *text =
        g_strndup (g_bytes_get_data (prom->body, NULL), g_bytes_get_size (prom->body));
    g_autofree char *memory = g_strdup_printf (
        "boxlite_box_memory_bytes{box_id=\"%s\",name=\"srv-main\",process=\"qemu\"}", box_id);
    g_autofree char *cpu = g_strdup_printf (
        "boxlite_box_cpu_seconds_total{box_id=\"%s\",name=\"srv-main\",process=\"qemu\"}", box_id);

    g_assert_cmpuint (prom->status, ==, 200);
    check_exposition (text);
    g_assert_cmpfloat (sample (text, "boxlite_boxes{state=\"running\"}"), ==, 1);
    g_assert_cmpfloat (sample (text, "boxlite_boxes{state=\"configured\"}"), ==, 1);
    g_assert_cmpfloat (sample (text, "boxlite_box_starts_total{result=\"ok\"}"), ==, 1);
    g_assert_cmpfloat (sample (text, "boxlite_box_start_seconds_count"), ==, 1);
    g_assert_cmpfloat (sample (text, "boxlite_box_start_seconds_bucket{le=\"+Inf\"}"), ==, 1);
    g_assert_cmpfloat (sample (text, "boxlite_execs_total{result=\"ok\"}"), >=, 80);
    g_assert_cmpfloat (sample (text, "boxlite_exec_bytes_total{stream=\"stdout\"}"), >, 0);
    g_assert_cmpfloat (sample (text, "boxlite_exec_bytes_total{stream=\"stderr\"}"), >, 0);
    g_assert_cmpfloat (sample (text, "boxlite_exec_bytes_total{stream=\"stdin\"}"), >, 0);
    g_assert_cmpfloat (sample (text, "boxlite_image_pulls_total{result=\"ok\"}"), ==, 1);
    g_assert_cmpfloat (sample (text, "boxlite_image_pulls_total{result=\"failed\"}"), ==, 1);
    g_assert_cmpfloat (sample (text, "boxlite_image_pull_bytes_total"), >, 0);
    g_assert_cmpfloat (sample (text, memory), >, 16 << 20);
    g_assert_cmpfloat (sample (text, cpu), >, 0);

    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s/metrics", box_id);
    g_autoptr (Reply) box = request ("GET", path, NULL);
    g_assert_cmpuint (box->status, ==, 200);
    g_assert_cmpint (json_object_get_int_member (object (box), "commands_executed_total"), >=, 80);
    g_assert_cmpint (json_object_get_int_member (object (box), "memory_bytes"), >, 16 << 20);
    g_autoptr (Reply) runtime = request ("GET", "/v1/metrics", NULL);
    g_assert_cmpint (json_object_get_int_member (object (runtime), "num_running_boxes"), ==, 1);
}

/* The bytes of stdout the server has read from its commands. */
static gdouble
stdout_bytes_read (void)
{
    g_autoptr (Reply) prom = request ("GET", "/metrics", NULL);
    g_autofree char *text =
        g_strndup (g_bytes_get_data (prom->body, NULL), g_bytes_get_size (prom->body));

    return sample (text, "boxlite_exec_bytes_total{stream=\"stdout\"}");
}

#define FLOOD_BYTES (64 * 1024 * 1024)

/* A client that attaches and then reads nothing: the server reads no more
 * of the command's output than its bound and the kernel's socket buffers
 * hold, instead of queueing all of it for the client. */
static void
test_attach_stalled_reader (void)
{
    g_autoptr (GSocketClient) client = g_socket_client_new ();
    g_autoptr (GError) error = NULL;
    gdouble before = stdout_bytes_read ();
    g_autofree char *id = start_exec (
        box_id, "{\"command\": \"head\", \"args\": [\"-c\", \"67108864\", \"/dev/zero\"]}");
    g_autofree char *upgrade = g_strdup_printf (
        "GET /v1/boxes/%s/executions/%s/attach HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Authorization: Bearer %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        box_id, id, token);
    g_autoptr (GSocketConnection) conn =
        g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)),
                                              upgrade, strlen (upgrade), NULL, NULL, &error));
    g_assert_no_error (error);
    /* The answer's head, a byte at a time so as to take nothing after it. */
    g_autoptr (GString) head = g_string_new (NULL);
    while (!strstr (head->str, "\r\n\r\n") && head->len < 4096) {
        char c;
        g_assert_cmpint (g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)), &c,
                                              1, NULL, &error),
                         ==, 1);
        g_string_append_c (head, c);
    }
    g_assert_true (g_str_has_prefix (head->str, "HTTP/1.1 101"));

    /* Until the server stops reading (3 s without a byte more), or read it
     * all. */
    gdouble read = 0;
    for (guint i = 0, still = 0; i < 600 && still < 6 && read < FLOOD_BYTES; i++) {
        g_usleep (500 * 1000);
        gdouble now = stdout_bytes_read () - before;
        still = now == read ? still + 1 : 0;
        read = now;
    }
    g_test_message ("the server read %.0f of %d bytes for a client that reads nothing", read,
                    FLOOD_BYTES);
    g_assert_cmpfloat (read, <, 24.0 * 1024 * 1024);
    Reply *info_reply;
    JsonObject *info = execution_info (id, &info_reply);
    g_assert_cmpstr (json_object_get_string_member (info, "status"), ==, "running");
    reply_free (info_reply);

    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s/executions/%s", box_id, id);
    g_autoptr (Reply) killed = request ("DELETE", path, NULL);
    g_assert_cmpuint (killed->status, ==, 204);
    g_assert_true (g_io_stream_close (G_IO_STREAM (conn), NULL, NULL));
}

/* `boxlite --host URL @args…` with @input on its stdin; the token from
 * $BOXLITE_TOKEN (@token, nullable) or, with @token_file, from the file. */
static int
remote_cli (const char *const *args, const char *token_value, const char *token_file,
            const char *input, char **out, char **err)
{
    g_autoptr (GSubprocessLauncher) launcher =
        g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                   G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_autoptr (GPtrArray) argv = g_ptr_array_new ();
    g_autoptr (GError) error = NULL;

    g_subprocess_launcher_unsetenv (launcher, "BOXLITE_TOKEN");
    if (token_value)
        g_subprocess_launcher_setenv (launcher, "BOXLITE_TOKEN", token_value, TRUE);
    g_ptr_array_add (argv, (gpointer) g_getenv ("BOXLITE_CLI"));
    g_ptr_array_add (argv, (gpointer) "--host");
    g_ptr_array_add (argv, base_url);
    if (token_file) {
        g_ptr_array_add (argv, (gpointer) "--token-file");
        g_ptr_array_add (argv, (gpointer) token_file);
    }
    for (guint i = 0; args[i]; i++)
        g_ptr_array_add (argv, (gpointer) args[i]);
    g_ptr_array_add (argv, NULL);
    g_autoptr (GSubprocess) p =
        g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
    g_assert_no_error (error);
    g_assert_true (g_subprocess_communicate_utf8 (p, input ? input : "", NULL, out, err, &error));
    g_assert_no_error (error);
    return g_subprocess_get_exit_status (p);
}

/* `boxlite --host URL @args…` succeeds; its output is @out when given. */
static void
remote_cli_ok (const char *const *args, const char *out)
{
    g_autofree char *got = NULL, *err = NULL;

    g_assert_cmpint (remote_cli (args, token, NULL, NULL, &got, &err), ==, 0);
    if (out)
        g_assert_cmpstr (got, ==, out);
}

static void
test_remote_cli (void)
{
    g_autofree char *token_file = g_build_filename (home, "api-token", NULL);
    g_autofree char *out = NULL, *err = NULL;

    const char *ps[] = { "ps", NULL };
    g_assert_cmpint (remote_cli (ps, token, NULL, NULL, &out, &err), ==, 0);
    g_assert_nonnull (strstr (out, "srv-main"));
    g_assert_nonnull (strstr (out, "running"));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    const char *exec_i[] = {
        "exec", "-i", "srv-main", "--", "sh", "-c", "cat; echo to-stderr >&2; exit 6", NULL
    };
    g_assert_cmpint (remote_cli (exec_i, NULL, token_file, "piped in\n", &out, &err), ==, 6);
    g_assert_cmpstr (out, ==, "piped in\n");
    g_assert_nonnull (strstr (err, "to-stderr"));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    /* Without -i the command's stdin is closed at once. */
    const char *exec_cat[] = { "exec", "srv-main", "cat", NULL };
    g_assert_cmpint (remote_cli (exec_cat, token, NULL, "not sent\n", &out, &err), ==, 0);
    g_assert_cmpstr (out, ==, "");
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    g_autoptr (Reply) before = request ("GET", "/v1/boxes", NULL);
    guint n = json_array_get_length (json_object_get_array_member (object (before), "boxes"));
    const char *run[] = { "run", "--rm", "--", "sh", "-c", "echo from-run; exit 2", NULL };
    g_assert_cmpint (remote_cli (run, token, NULL, NULL, &out, &err), ==, 2);
    g_assert_cmpstr (out, ==, "from-run\n");
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    g_autoptr (Reply) after = request ("GET", "/v1/boxes", NULL);
    g_assert_cmpuint (
        json_array_get_length (json_object_get_array_member (object (after), "boxes")), ==, n);

    const char *images[] = { "images", NULL };
    g_assert_cmpint (remote_cli (images, token, NULL, NULL, &out, &err), ==, 0);
    g_assert_true (g_str_has_prefix (out, "REPOSITORY"));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    /* Refused: a wrong token, none, an unknown box. */
    g_assert_cmpint (remote_cli (ps, "0123456789abcdef0123", NULL, NULL, &out, &err), ==, 125);
    g_assert_nonnull (strstr (err, "bearer token"));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (remote_cli (ps, NULL, NULL, NULL, &out, &err), ==, 125);
    g_assert_nonnull (strstr (err, "BOXLITE_TOKEN"));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    const char *rm[] = { "rm", "no-such-box", NULL };
    g_assert_cmpint (remote_cli (rm, token, NULL, NULL, &out, &err), !=, 0);
    g_assert_nonnull (strstr (err, "no-such-box"));
}

/* ---- the command line's terminals, on a pseudo-terminal of ours ---- */

typedef struct {
    int master;
    int slave; /* kept open here, to read its settings */
    GString *out;
} Pty;

static void
pty_set_size (Pty *p, gushort rows, gushort cols)
{
    struct winsize ws = { .ws_row = rows, .ws_col = cols };

    g_assert_cmpint (ioctl (p->master, TIOCSWINSZ, &ws), ==, 0);
}

static void
pty_open (Pty *p, gushort rows, gushort cols)
{
    p->master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
    g_assert_cmpint (p->master, >=, 0);
    g_assert_cmpint (grantpt (p->master), ==, 0);
    g_assert_cmpint (unlockpt (p->master), ==, 0);
    p->slave = open (ptsname (p->master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    g_assert_cmpint (p->slave, >=, 0);
    p->out = g_string_new (NULL);
    pty_set_size (p, rows, cols);
}

static void
pty_close (Pty *p)
{
    close (p->master);
    close (p->slave);
    g_string_free (p->out, TRUE);
}

/* Reads what the terminal shows until @text is among it, or @timeout_ms
 * of silence. */
static gboolean
pty_read_until (Pty *p, const char *text, int timeout_ms)
{
    while (!text || !strstr (p->out->str, text)) {
        struct pollfd pfd = { .fd = p->master, .events = POLLIN };
        char buf[4096];
        if (poll (&pfd, 1, timeout_ms) <= 0)
            return FALSE;
        ssize_t n = read (p->master, buf, sizeof buf);
        if (n <= 0)
            return FALSE;
        g_string_append_len (p->out, buf, n);
    }
    return TRUE;
}

/* The terminal becomes the controlling one of the child's new session, as
 * a shell would make it. */
static void
on_terminal (gpointer data)
{
    setsid ();
    ioctl (STDIN_FILENO, TIOCSCTTY, 0);
    prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static GSubprocess *
remote_cli_on_pty (Pty *p, const char *const *args)
{
    g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
    g_autoptr (GPtrArray) argv = g_ptr_array_new ();
    g_autoptr (GError) error = NULL;

    g_subprocess_launcher_setenv (launcher, "BOXLITE_TOKEN", token, TRUE);
    g_subprocess_launcher_take_stdin_fd (launcher, dup (p->slave));
    g_subprocess_launcher_take_stdout_fd (launcher, dup (p->slave));
    g_subprocess_launcher_take_stderr_fd (launcher, dup (p->slave));
    g_subprocess_launcher_set_child_setup (launcher, on_terminal, NULL, NULL);
    g_ptr_array_add (argv, (gpointer) g_getenv ("BOXLITE_CLI"));
    g_ptr_array_add (argv, (gpointer) "--host");
    g_ptr_array_add (argv, base_url);
    for (guint i = 0; args[i]; i++)
        g_ptr_array_add (argv, (gpointer) args[i]);
    g_ptr_array_add (argv, NULL);
    GSubprocess *child =
        g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
    g_assert_no_error (error);
    return child;
}

/* Waits for @child, showing what it printed, and returns its exit status
 * (128+N for signal N). */
static int
pty_wait (Pty *p, GSubprocess *child)
{
    g_autoptr (GError) error = NULL;

    g_assert_true (g_subprocess_wait (child, NULL, &error));
    g_assert_no_error (error);
    (void) pty_read_until (p, NULL, 200);
    g_test_message ("the terminal showed: %s", p->out->str);
    if (g_subprocess_get_if_signaled (child))
        return 128 + g_subprocess_get_term_sig (child);
    return g_subprocess_get_exit_status (child);
}

#define TTY_MODES (ICANON | ECHO | ISIG)

static tcflag_t
pty_modes (Pty *p)
{
    struct termios t;

    g_assert_cmpint (tcgetattr (p->slave, &t), ==, 0);
    return t.c_lflag & TTY_MODES;
}

static void
send_ctrl_c (Pty *p, GSubprocess *child)
{
    g_assert_cmpint (write (p->master, "\003", 1), ==, 1);
}

static void
send_sigterm (Pty *p, GSubprocess *child)
{
    g_subprocess_send_signal (child, SIGTERM);
}

/* Runs @args on a terminal until it says "ready", then ends the session
 * with @end: the terminal must be @cooked again after. Returns the exit
 * status. */
static int
pty_session_ended (const char *const *args, tcflag_t cooked,
                   void (*end) (Pty *p, GSubprocess *child))
{
    Pty p;

    pty_open (&p, 24, 80);
    g_autoptr (GSubprocess) child = remote_cli_on_pty (&p, args);
    g_assert_true (pty_read_until (&p, "ready", 60000));
    end (&p, child);
    int status = pty_wait (&p, child);
    g_assert_cmpuint (pty_modes (&p), ==, cooked);
    pty_close (&p);
    return status;
}

static void
test_remote_tty (void)
{
    Pty p;

    /* The command sees our size from its start and our new size after a
     * SIGWINCH; its input is ours through the box's terminal (echoed by
     * it); our terminal is raw meanwhile, and set back after. */
    pty_open (&p, 33, 101);
    tcflag_t cooked = pty_modes (&p);
    g_assert_cmpuint (cooked, ==, TTY_MODES);
    const char *exec_it[] = { "exec",
                              "-it",
                              "srv-main",
                              "--",
                              "sh",
                              "-c",
                              "stty size; echo ready; i=0; "
                              "while [ \"$(stty size)\" = '33 101' ] && [ $i -lt 300 ]; "
                              "do sleep 0.1; i=$((i+1)); done; "
                              "stty size; echo resized; read x; echo got-$x; exit 3",
                              NULL };
    g_autoptr (GSubprocess) child = remote_cli_on_pty (&p, exec_it);
    g_assert_true (pty_read_until (&p, "ready", 60000));
    g_assert_cmpuint (pty_modes (&p), ==, 0);
    pty_set_size (&p, 40, 120);
    g_assert_true (pty_read_until (&p, "resized", 60000));
    g_assert_cmpint (write (p.master, "hello\r", 6), ==, 6);
    g_assert_cmpint (pty_wait (&p, child), ==, 3);
    g_assert_nonnull (strstr (p.out->str, "33 101\r\n"));
    g_assert_nonnull (strstr (p.out->str, "40 120\r\n"));
    g_assert_nonnull (strstr (p.out->str, "hello\r\n"));
    g_assert_nonnull (strstr (p.out->str, "got-hello\r\n"));
    g_assert_cmpuint (pty_modes (&p), ==, cooked);
    pty_close (&p);

    /* A key the box's terminal turns into a signal: Ctrl-C ends the command
     * there, as it would here. */
    const char *sleeper[] = {
        "exec", "-it", "srv-main", "--", "sh", "-c", "echo ready; exec sleep 300", NULL
    };
    g_assert_cmpint (pty_session_ended (sleeper, cooked, send_ctrl_c), ==, 128 + SIGINT);
    /* SIGTERM to us, and a command that ignores it: our terminal is ours
     * again at once, and the command is killed after the grace period. */
    const char *stubborn[] = {
        "exec", "-it", "srv-main", "--", "sh", "-c", "trap '' TERM; echo ready; sleep 300", NULL
    };
    g_assert_cmpint (pty_session_ended (stubborn, cooked, send_sigterm), ==, 128 + SIGKILL);
    g_autofree char *out = NULL, *err = NULL;
    const char *left[] = { "exec", "srv-main", "--",
                           "sh",   "-c",       "ps -eo args | grep -c '^sleep 30[0]'",
                           NULL };
    g_assert_cmpint (remote_cli (left, token, NULL, NULL, &out, &err), ==, 1);
    g_assert_cmpstr (out, ==, "0\n");

    /* run -t: a fresh box, the command on a terminal of our size. */
    pty_open (&p, 21, 77);
    const char *run_t[] = { "run", "-t", "--rm", "--", "sh", "-c", "stty size; tty; exit 4", NULL };
    g_autoptr (GSubprocess) ran = remote_cli_on_pty (&p, run_t);
    g_assert_cmpint (pty_wait (&p, ran), ==, 4);
    /* Not raw without -i: our terminal adds its own '\r' to the box's. */
    g_assert_nonnull (strstr (p.out->str, "21 77\r"));
    g_assert_nonnull (strstr (p.out->str, "/dev/pts/"));
    pty_close (&p);

    /* -t needs a terminal, as locally. */
    const char *no_tty[] = { "exec", "-t", "srv-main", "--", "true", NULL };
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (remote_cli (no_tty, token, NULL, NULL, &out, &err), ==, 125);
    g_assert_nonnull (strstr (err, "not a TTY"));
}

/* `boxlite --home HOME @args…`, this machine's command line on the
 * server's home: what a local user of the same boxes sees. */
static int
local_cli (const char *const *args, char **out, char **err)
{
    g_autoptr (GSubprocessLauncher) launcher =
        g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
    g_autoptr (GPtrArray) argv = g_ptr_array_new ();
    g_autoptr (GError) error = NULL;

    g_ptr_array_add (argv, (gpointer) g_getenv ("BOXLITE_CLI"));
    g_ptr_array_add (argv, (gpointer) "--home");
    g_ptr_array_add (argv, home);
    for (guint i = 0; args[i]; i++)
        g_ptr_array_add (argv, (gpointer) args[i]);
    g_ptr_array_add (argv, NULL);
    g_autoptr (GSubprocess) p =
        g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
    g_assert_no_error (error);
    g_assert_true (g_subprocess_communicate_utf8 (p, NULL, NULL, out, err, &error));
    g_assert_no_error (error);
    return g_subprocess_get_exit_status (p);
}

/* The same failure through the server and locally: the same status and
 * message. */
static void
assert_same_failure (const char *const *args)
{
    g_autofree char *out = NULL, *err = NULL, *local_out = NULL, *local_err = NULL;
    int status = remote_cli (args, token, NULL, NULL, &out, &err);

    g_assert_cmpint (local_cli (args, &local_out, &local_err), ==, status);
    g_assert_cmpint (status, ==, 125);
    g_assert_cmpstr (err, ==, local_err);
}

static void
test_remote_cp (void)
{
    g_autofree char *dir = g_build_filename (home, "cp-test", NULL);
    g_autofree char *tree = g_build_filename (dir, "tree", NULL);
    g_autofree char *sub = g_build_filename (tree, "sub", NULL);
    g_autofree char *file = g_build_filename (dir, "data.bin", NULL);
    g_autofree char *back = g_build_filename (dir, "back", NULL);
    g_autofree guint8 *data = g_malloc (300 * 1024 + 7);

    for (gsize i = 0; i < 300 * 1024 + 7; i++)
        data[i] = (guint8) g_random_int ();
    g_assert_cmpint (g_mkdir_with_parents (sub, 0755), ==, 0);
    g_assert_cmpint (g_mkdir_with_parents (back, 0755), ==, 0);
    g_assert_true (g_file_set_contents (file, (const char *) data, 300 * 1024 + 7, NULL));
    g_autofree char *leaf = g_build_filename (sub, "leaf.txt", NULL);
    g_assert_true (g_file_set_contents (leaf, "in a tree\n", -1, NULL));
    g_autofree char *link = g_build_filename (sub, "link", NULL);
    g_assert_cmpint (symlink ("leaf.txt", link), ==, 0);

    /* Up: a file under a new name, a tree into an existing directory. */
    const char *up_file[] = { "cp", file, "srv-main:/tmp/renamed.bin", NULL };
    remote_cli_ok (up_file, "");
    const char *up_tree[] = { "cp", tree, "srv-main:/tmp", NULL };
    remote_cli_ok (up_tree, "");
    const char *look[] = { "exec",
                           "srv-main",
                           "--",
                           "sh",
                           "-c",
                           "cat /tmp/tree/sub/leaf.txt; readlink /tmp/tree/sub/link; "
                           "wc -c < /tmp/renamed.bin",
                           NULL };
    remote_cli_ok (look, "in a tree\nleaf.txt\n307207\n");

    /* And back: byte for byte, the link a link. */
    const char *down_file[] = { "cp", "srv-main:/tmp/renamed.bin", back, NULL };
    remote_cli_ok (down_file, "");
    g_autofree char *copied = g_build_filename (back, "renamed.bin", NULL);
    g_autofree char *contents = NULL;
    gsize len = 0;
    g_assert_true (g_file_get_contents (copied, &contents, &len, NULL));
    g_assert_cmpmem (contents, len, data, 300 * 1024 + 7);
    g_autofree char *tree_back = g_build_filename (back, "tree-copy", NULL);
    const char *down_tree[] = { "cp", "srv-main:/tmp/tree", tree_back, NULL };
    remote_cli_ok (down_tree, "");
    g_autofree char *leaf_back = g_build_filename (tree_back, "sub", "leaf.txt", NULL);
    g_autofree char *leaf_text = NULL;
    g_assert_true (g_file_get_contents (leaf_back, &leaf_text, NULL, NULL));
    g_assert_cmpstr (leaf_text, ==, "in a tree\n");
    g_autofree char *link_back = g_build_filename (tree_back, "sub", "link", NULL);
    g_autofree char *target = g_file_read_link (link_back, NULL);
    g_assert_cmpstr (target, ==, "leaf.txt");

    /* Failures say what a local cp says. */
    g_autofree char *missing_here = g_build_filename (dir, "no-such-file", NULL);
    const char *up_missing[] = { "cp", missing_here, "srv-main:/tmp", NULL };
    assert_same_failure (up_missing);
    const char *down_missing[] = { "cp", "srv-main:/no/such/file", back, NULL };
    assert_same_failure (down_missing);
    const char *up_nowhere[] = { "cp", file, "srv-main:/no/such/dir/x", NULL };
    assert_same_failure (up_nowhere);
    const char *no_box[] = { "cp", file, "no-such-box:/tmp", NULL };
    assert_same_failure (no_box);
    const char *not_running[] = { "cp", file, "srv-other:/tmp", NULL };
    assert_same_failure (not_running);
    const char *not_running_out[] = { "cp", "srv-other:/etc/hostname", back, NULL };
    assert_same_failure (not_running_out);
    bl_test_rm_rf (dir);
}

/* The box's status as the API shows it. */
static char *
box_status (const char *name)
{
    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s", name);
    g_autoptr (Reply) r = request ("GET", path, NULL);

    return g_strdup (member (r, "status"));
}

static void
test_remote_lifecycle (void)
{
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr (GError) error = NULL;

    const char *inspect[] = { "inspect", "srv-main", NULL };
    g_assert_cmpint (remote_cli (inspect, token, NULL, NULL, &out, &err), ==, 0);
    g_autoptr (JsonNode) shown = json_from_string (out, &error);
    g_assert_no_error (error);
    JsonArray *boxes = json_node_get_array (shown);
    g_assert_cmpuint (json_array_get_length (boxes), ==, 1);
    JsonObject *box = json_array_get_object_element (boxes, 0);
    g_assert_cmpstr (json_object_get_string_member (box, "box_id"), ==, box_id);
    g_assert_cmpstr (json_object_get_string_member (box, "status"), ==, "running");
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    const char *stop[] = { "stop", "srv-main", NULL };
    remote_cli_ok (stop, "srv-main\n");
    g_autofree char *stopped = box_status (box_id);
    g_assert_cmpstr (stopped, ==, "stopped");
    g_clear_pointer (&out, g_free);
    g_assert_cmpint (remote_cli (inspect, token, NULL, NULL, &out, &err), ==, 0);
    g_assert_nonnull (strstr (out, "\"status\" : \"stopped\""));
    g_clear_pointer (&out, g_free);
    g_clear_pointer (&err, g_free);

    const char *start[] = { "start", "srv-main", NULL };
    remote_cli_ok (start, "srv-main\n");
    g_autofree char *running = box_status (box_id);
    g_assert_cmpstr (running, ==, "running");
    const char *echo[] = { "exec", "srv-main", "--", "echo", "back", NULL };
    remote_cli_ok (echo, "back\n");

    /* One unknown box among known ones: the others are done, the status
     * says one failed. */
    const char *some[] = { "inspect", "srv-main", "no-such-box", NULL };
    g_assert_cmpint (remote_cli (some, token, NULL, NULL, &out, &err), ==, 125);
    g_assert_nonnull (strstr (out, box_id));
    g_assert_nonnull (strstr (err, "no-such-box"));
}

static void
test_restart (void)
{
    /* A box that is not detached goes with the server; a detached one
     * stays, and a new server serves it. */
    g_autoptr (Reply) made = request ("POST", "/v1/boxes", "{\"name\": \"srv-attached\"}");
    g_autofree char *attached = g_strdup (member (made, "box_id"));
    g_autofree char *start = g_strdup_printf ("/v1/boxes/%s/start", attached);
    g_autoptr (Reply) started = request ("POST", start, NULL);
    g_assert_cmpstr (member (started, "status"), ==, "running");
    g_autofree char *running_exec =
        start_exec (box_id, "{\"command\": \"sleep\", \"args\": [\"600\"]}");

    server_stop (SIGKILL);
    server_start ();

    g_autoptr (Reply) main_box = request ("GET", "/v1/boxes/srv-main", NULL);
    g_assert_cmpstr (member (main_box, "status"), ==, "running");
    g_autofree char *attached_path = g_strdup_printf ("/v1/boxes/%s", attached);
    for (guint i = 0; i < 300; i++) {
        g_autoptr (Reply) r = request ("GET", attached_path, NULL);
        if (!g_str_equal (member (r, "status"), "running"))
            break;
        g_usleep (100 * 1000);
    }
    g_autoptr (Reply) gone = request ("GET", attached_path, NULL);
    g_assert_cmpstr (member (gone, "status"), !=, "running");
    /* The executions of the old server are not this one's. */
    g_autofree char *old = g_strdup_printf ("/v1/boxes/%s/executions/%s", box_id, running_exec);
    g_autoptr (Reply) old_exec = request ("GET", old, NULL);
    g_assert_cmpuint (old_exec->status, ==, 404);
    g_autofree char *id =
        start_exec (box_id, "{\"command\": \"echo\", \"args\": [\"still here\"]}");
    Attach *a = attach_open (box_id, id);
    wait_exit (a, 0);
    g_assert_cmpstr (a->out->str, ==, "still here\n");
    attach_free (a);
    g_autoptr (Reply) removed = request ("DELETE", attached_path, NULL);
    g_assert_cmpuint (removed->status, ==, 204);
}

static void
test_stop_and_remove (void)
{
    g_autofree char *stop = g_strdup_printf ("/v1/boxes/%s/stop", box_id);
    g_autoptr (Reply) bad = request ("POST", stop, "{\"timeout_seconds\": -1}");
    assert_error (bad, 400, "invalid_argument");
    g_autoptr (Reply) stopped = request ("POST", stop, "{\"timeout_seconds\": 10}");
    g_assert_cmpuint (stopped->status, ==, 200);
    g_assert_cmpstr (member (stopped, "status"), ==, "stopped");
    g_autoptr (Reply) again = request ("POST", stop, NULL);
    g_assert_cmpuint (again->status, ==, 200);

    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s", box_id);
    g_autoptr (Reply) removed = request ("DELETE", path, NULL);
    g_assert_cmpuint (removed->status, ==, 204);
    g_autofree char *other = g_strdup_printf ("/v1/boxes/%s?force=true", other_box_id);
    g_autoptr (Reply) removed_other = request ("DELETE", other, NULL);
    g_assert_cmpuint (removed_other->status, ==, 204);
    g_autoptr (Reply) list = request ("GET", "/v1/boxes", NULL);
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (object (list), "boxes")),
                      ==, 0);
}

static gboolean
accept_any_certificate (SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors,
                        gpointer data)
{
    return TRUE;
}

/* GET /v1/config through @s at @url, retried while the server starts. */
static guint
config_status (SoupSession *s, const char *url, gboolean tls)
{
    for (guint i = 0; i < 300; i++) {
        g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
        if (tls)
            g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
        g_autoptr (GBytes) body = soup_session_send_and_read (s, msg, NULL, NULL);
        if (soup_message_get_status (msg) != SOUP_STATUS_NONE)
            return soup_message_get_status (msg);
        g_usleep (100 * 1000);
    }
    return 0;
}

/* The other ways to listen: a unix socket only its user may use, and
 * https with a certificate given. */
static void
test_listen (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *sock = g_build_filename (home, "api.sock", NULL);
    g_autofree char *unix_listen = g_strdup_printf ("unix:%s", sock);
    g_autoptr (GSubprocess) on_unix = spawn_cli (&error, "serve", "--listen", unix_listen, NULL);
    g_assert_no_error (error);
    g_autoptr (GSocketAddress) address = g_unix_socket_address_new (sock);
    g_autoptr (SoupSession) unix_session =
        soup_session_new_with_options ("remote-connectable", address, NULL);
    g_assert_cmpuint (config_status (unix_session, "http://localhost/v1/config", FALSE), ==, 200);
    GStatBuf st;
    g_assert_cmpint (g_lstat (sock, &st), ==, 0);
    g_assert_cmpuint (st.st_mode & 0077, ==, 0);
    g_subprocess_send_signal (on_unix, SIGTERM);
    g_assert_true (g_subprocess_wait_check (on_unix, NULL, &error));

    g_autofree char *key = g_build_filename (home, "key.pem", NULL);
    g_autofree char *cert = g_build_filename (home, "cert.pem", NULL);
    const char *openssl[] = { "openssl", "req",     "-x509", "-newkey",       "rsa:2048",
                              "-nodes",  "-keyout", key,     "-out",          cert,
                              "-days",   "1",       "-subj", "/CN=127.0.0.1", NULL };
    gint status;
    g_assert_true (g_spawn_sync (NULL, (char **) openssl, NULL,
                                 G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL,
                                 NULL, &status, &error));
    g_assert_no_error (error);
    guint16 tls_port = bl_test_free_port ();
    g_autofree char *tls_listen = g_strdup_printf ("127.0.0.1:%u", tls_port);
    g_autoptr (GSubprocess) on_tls = spawn_cli (&error, "serve", "--listen", tls_listen,
                                                "--tls-cert", cert, "--tls-key", key, NULL);
    g_assert_no_error (error);
    g_autofree char *url = g_strdup_printf ("https://127.0.0.1:%u/v1/config", tls_port);
    g_autoptr (SoupSession) tls_session = soup_session_new ();
    g_assert_cmpuint (config_status (tls_session, url, TRUE), ==, 200);
    g_subprocess_send_signal (on_tls, SIGTERM);
    g_assert_true (g_subprocess_wait_check (on_tls, NULL, &error));
}

static void
test_every_operation_answered (void)
{
    g_auto (GStrv) missing = serve_schema_unanswered (schema);

    for (guint i = 0; missing[i]; i++)
        g_test_message ("never answered with 1xx or 2xx: %s", missing[i]);
    g_assert_cmpuint (g_strv_length (missing), ==, 0);
}

static int
run_tests (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *openapi =
        g_test_build_filename (G_TEST_DIST, "..", "docs", "openapi.json", NULL);
    schema = serve_schema_load (openapi, &error);
    g_assert_no_error (error);
    registry = bl_test_registry_start (&error);
    g_assert_no_error (error);
    /* Enough connections for the twenty requests at once. */
    session = soup_session_new_with_options ("max-conns", 64, "max-conns-per-host", 32, NULL);
    port = bl_test_free_port ();
    base_url = g_strdup_printf ("http://127.0.0.1:%u", port);
    server_start ();
    g_autofree char *token_path = g_build_filename (home, "api-token", NULL);
    g_assert_true (g_file_get_contents (token_path, &token, NULL, NULL));
    g_strstrip (token);

    g_test_add_func ("/serve/token", test_token);
    g_test_add_func ("/serve/auth", test_auth);
    g_test_add_func ("/serve/bad-bodies", test_bad_bodies);
    g_test_add_func ("/serve/listen", test_listen);
    g_test_add_func ("/serve/boxes", test_boxes);
    g_test_add_func ("/serve/exec-streams", test_exec_streams);
    g_test_add_func ("/serve/exec-tty-resize", test_exec_tty);
    g_test_add_func ("/serve/exec-reattach", test_exec_reattach);
    g_test_add_func ("/serve/exec-signal-kill", test_exec_signal_kill);
    g_test_add_func ("/serve/files", test_files);
    g_test_add_func ("/serve/two-clients", test_two_clients);
    g_test_add_func ("/serve/concurrent-execs", test_concurrent_execs);
    g_test_add_func ("/serve/images", test_images);
    g_test_add_func ("/serve/metrics", test_metrics);
    g_test_add_func ("/serve/attach-stalled-reader", test_attach_stalled_reader);
    g_test_add_func ("/serve/remote-cli", test_remote_cli);
    g_test_add_func ("/serve/remote-cli-tty", test_remote_tty);
    g_test_add_func ("/serve/remote-cli-cp", test_remote_cp);
    g_test_add_func ("/serve/remote-cli-lifecycle", test_remote_lifecycle);
    g_test_add_func ("/serve/restart", test_restart);
    g_test_add_func ("/serve/stop-and-remove", test_stop_and_remove);
    g_test_add_func ("/serve/openapi-every-operation", test_every_operation_answered);
    int status = g_test_run ();

    server_stop (SIGTERM);
    g_clear_object (&session);
    serve_schema_free (schema);
    bl_test_registry_stop (registry);
    g_autoptr (GArray) left = test_pids_mentioning (home);
    g_assert_cmpuint (left->len, ==, 0);
    g_free (base_url);
    g_free (token);
    g_free (box_id);
    g_free (other_box_id);
    return status;
}

/* Removes the boxes of the home, as a failed run may leave them: a detached
 * box outlives the server that made it. */
static void
remove_boxes (void)
{
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (GError) error = NULL;

    boxlite_options_set_home_dir (options, home);
    g_autoptr (BoxliteRuntime) runtime = boxlite_runtime_new (options, &error);
    g_assert_no_error (error);
    GList *boxes = boxlite_runtime_list (runtime, NULL);
    for (GList *l = boxes; l; l = l->next) {
        g_test_message ("removing box %s, left by the run", boxlite_box_get_name (l->data));
        boxlite_runtime_remove (runtime, boxlite_box_get_id (l->data), TRUE, NULL);
    }
    g_list_free_full (boxes, g_object_unref);
}

/* The tests run in a child, so that whatever way they end, this process
 * removes what they made. */
int
main (int argc, char **argv)
{
    g_autofree char *tmpl = g_build_filename (g_get_tmp_dir (), "boxlite-serve-XXXXXX", NULL);
    int wstatus = 0;

    g_test_init (&argc, &argv, NULL);
    home = g_mkdtemp (g_steal_pointer (&tmpl));
    g_assert_nonnull (home);
    pid_t pid = fork ();
    g_assert_cmpint (pid, >=, 0);
    if (pid == 0)
        _exit (run_tests ());
    g_assert_cmpint (waitpid (pid, &wstatus, 0), ==, pid);
    remove_boxes ();
    g_autoptr (GArray) left = test_pids_mentioning (home);
    g_assert_cmpuint (left->len, ==, 0);
    bl_test_rm_rf (home);
    g_free (home);
    return WIFEXITED (wstatus) ? WEXITSTATUS (wstatus) : 1;
}

/* bench-serve.c: what going through `boxlite serve` costs a command, against
 * the library on the same box in the same run:
 *
 *   library: boxlite_box_exec (echo) → its output → its exit   (median of RUNS)
 *   serve:   POST .../exec → WebSocket attach → output → exit  (median of RUNS)
 *   serve:   GET /v1/boxes/ID                                  (median of RUNS)
 *
 * and the server's resident memory idle and after the runs. Run by hand:
 * build/bench/bench-serve [RUNS] with BOXLITE_AGENT, BOXLITE_SHIM and
 * BOXLITE_NET set as for the tests. */
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

#include "bench-util.h"
#include <boxlite/boxlite.h>

static char *base;
static char *auth;

static double
library_once (BoxliteBox *box)
{
    const char *argv[] = { "echo", "hi", NULL };
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);
    g_autoptr (GError) error = NULL;
    char buf[16];
    double start = bench_now ();
    g_autoptr (BoxliteExecution) exe = boxlite_box_exec (box, cmd, NULL, &error);

    bench_check (error);
    while (g_input_stream_read (boxlite_execution_get_stdout (exe), buf, sizeof buf, NULL, &error) >
           0)
        ;
    boxlite_execution_wait (exe, NULL, &error);
    bench_check (error);
    return bench_now () - start;
}

static SoupMessage *
message (const char *method, const char *path)
{
    g_autofree char *url = g_strconcat (base, path, NULL);
    SoupMessage *msg = soup_message_new (method, url);
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", auth);
    return msg;
}

static void
on_message (SoupWebsocketConnection *ws, gint type, GBytes *bytes, gpointer data)
{
    if (type == SOUP_WEBSOCKET_DATA_TEXT)
        *(gboolean *) data = TRUE; /* the exit message */
}

static void
connected (GObject *source, GAsyncResult *result, gpointer data)
{
    GError *error = NULL;
    *(gpointer *) data =
        soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
    bench_check (error);
}

static double
serve_once (SoupSession *session, const char *box_id)
{
    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s/exec", box_id);
    g_autoptr (SoupMessage) post = message ("POST", path);
    const char *json = "{\"command\": \"echo\", \"args\": [\"hi\"]}";
    g_autoptr (GBytes) body = g_bytes_new_static (json, strlen (json));
    g_autoptr (GError) error = NULL;
    double start = bench_now ();

    soup_message_set_request_body_from_bytes (post, "application/json", body);
    g_autoptr (GBytes) reply = soup_session_send_and_read (session, post, NULL, &error);
    bench_check (error);
    g_autofree char *text = g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
    g_autoptr (JsonNode) node = json_from_string (text, NULL);
    g_autofree char *attach = g_strdup_printf (
        "/v1/boxes/%s/executions/%s/attach", box_id,
        json_object_get_string_member (json_node_get_object (node), "execution_id"));
    g_autoptr (SoupMessage) upgrade = message ("GET", attach);
    SoupWebsocketConnection *ws = NULL;
    gboolean exited = FALSE;
    soup_session_websocket_connect_async (session, upgrade, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                          connected, &ws);
    while (!ws)
        g_main_context_iteration (NULL, TRUE);
    g_signal_connect (ws, "message", G_CALLBACK (on_message), &exited);
    while (!exited)
        g_main_context_iteration (NULL, TRUE);
    double elapsed = bench_now () - start;
    while (soup_websocket_connection_get_state (ws) != SOUP_WEBSOCKET_STATE_CLOSED)
        g_main_context_iteration (NULL, TRUE);
    g_object_unref (ws);
    return elapsed;
}

static double
get_once (SoupSession *session, const char *box_id)
{
    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s", box_id);
    g_autoptr (SoupMessage) get = message ("GET", path);
    g_autoptr (GError) error = NULL;
    double start = bench_now ();
    g_autoptr (GBytes) reply = soup_session_send_and_read (session, get, NULL, &error);

    bench_check (error);
    return bench_now () - start;
}

static guint64
rss_kib (GSubprocess *server)
{
    g_autofree char *path =
        g_strdup_printf ("/proc/%s/status", g_subprocess_get_identifier (server));
    g_autofree char *text = NULL;
    g_file_get_contents (path, &text, NULL, NULL);
    const char *line = text ? strstr (text, "VmRSS:") : NULL;
    return line ? g_ascii_strtoull (line + 6, NULL, 10) : 0;
}

int
main (int argc, char **argv)
{
    guint runs = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 30;
    g_autoptr (GError) error = NULL;
    g_autofree char *home = NULL;
    g_autoptr (BoxliteRuntime) rt = NULL;
    g_autoptr (BoxliteBox) box = bench_started_box ("boxlite-bench-serve", &home, &rt);

    const char *listen = "127.0.0.1:18179";
    g_autoptr (GSubprocess) server =
        g_subprocess_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, BENCH_CLI, "--home", home,
                          "serve", "--listen", listen, NULL);
    bench_check (error);
    base = g_strdup_printf ("http://%s", listen);
    g_autoptr (SoupSession) session = soup_session_new ();
    g_autofree char *token_path = g_build_filename (home, "api-token", NULL);
    g_autofree char *token = NULL;
    for (guint i = 0; i < 100 && !g_file_get_contents (token_path, &token, NULL, NULL); i++)
        g_usleep (100 * 1000);
    g_strstrip (token);
    auth = g_strdup_printf ("Bearer %s", token);
    for (guint i = 0; i < 100; i++) {
        g_autoptr (SoupMessage) ping = message ("GET", "/v1/config");
        g_autoptr (GBytes) reply = soup_session_send_and_read (session, ping, NULL, NULL);
        if (soup_message_get_status (ping) == SOUP_STATUS_OK)
            break;
        g_usleep (100 * 1000);
    }
    g_usleep (500 * 1000);
    guint64 idle = rss_kib (server);

    g_autoptr (GArray) lib = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr (GArray) srv = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr (GArray) gets = g_array_new (FALSE, FALSE, sizeof (double));
    for (guint i = 0; i < runs; i++) {
        /* Interleaved, so that a slow moment of the host hits both. */
        double l = library_once (box), s = serve_once (session, boxlite_box_get_id (box));
        double g = get_once (session, boxlite_box_get_id (box));
        g_array_append_val (lib, l);
        g_array_append_val (srv, s);
        g_array_append_val (gets, g);
    }
    double ml = bench_median (lib), ms = bench_median (srv);
    g_print ("exec echo, library: median %.1f ms of %u\n", ml * 1000, runs);
    g_print ("exec echo, through serve (POST + attach + exit): median %.1f ms of %u\n", ms * 1000,
             runs);
    g_print ("ratio serve / library: %.2f\n", ms / ml);
    g_print ("GET /v1/boxes/ID: median %.2f ms of %u\n", bench_median (gets) * 1000, runs);
    g_print ("server RSS: %" G_GUINT64_FORMAT " KiB idle, %" G_GUINT64_FORMAT
             " KiB after the runs\n",
             idle, rss_kib (server));

    g_subprocess_send_signal (server, SIGTERM);
    g_subprocess_wait (server, NULL, NULL);
    boxlite_box_stop (box, TRUE, NULL, NULL);
    boxlite_runtime_remove (rt, boxlite_box_get_id (box), TRUE, NULL);
    const char *rm[] = { "rm", "-rf", home, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
    return 0;
}

/* cli-remote-exec.c: a command run through a `boxlite serve` elsewhere
 * (`boxlite --host URL exec|run`). POST …/exec makes it; its attach
 * WebSocket then carries its output to ours and our stdin to it, and in
 * text frames the signals we get and our terminal's size; its exit status
 * becomes ours.
 *
 * With -t the command runs on a terminal in the box, of our terminal's size
 * from the start and following ours (SIGWINCH). With -i as well, our
 * terminal is in raw mode meanwhile (cli-tty.c), so that every key, Ctrl-C
 * included, goes to the box's terminal; it is restored on every way out. A
 * signal to us is passed on; on a terminal it also ends the session as a
 * local one does: our terminal back at once, and the command killed
 * (DELETE) if it has not ended TTY_GRACE_S seconds later, since a shell on
 * a terminal ignores SIGTERM. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "cli-remote.h"

/* Seconds a command on a terminal has to end after we passed it a signal. */
#define TTY_GRACE_S 2

typedef struct {
    CliRemote *remote;
    char *exec_path; /* /v1/boxes/BOX/executions/ID */
    SoupWebsocketConnection *ws;
    GInputStream *in;
    GCancellable *cancellable; /* our stdin's read */
    gboolean tty;
    gboolean reading; /* a read of our stdin is in flight */
    gboolean killing; /* a DELETE is in flight */
    gboolean killed;
    gboolean ending; /* terminal: a signal ended the session */
    guint grace_timer;
    gboolean exited; /* the server sent the exit message */
    gint exit_code;  /* its code: -1 when the server does not know it */
    gboolean closed;
    char buf[16384];
} Session;

typedef struct {
    Session *session;
    int signal_number;
    guint source_id;
} SignalForward;

static void
send_text (Session *s, const char *text)
{
    if (soup_websocket_connection_get_state (s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_send_text (s->ws, text);
}

static void
on_message (SoupWebsocketConnection *ws, gint type, GBytes *message, Session *s)
{
    gsize len;
    const char *data = g_bytes_get_data (message, &len);

    if (type == SOUP_WEBSOCKET_DATA_BINARY) {
        if (len < 1)
            return;
        FILE *out = data[0] == 2 ? stderr : stdout;
        fwrite (data + 1, 1, len - 1, out);
        fflush (out);
        return;
    }
    g_autofree char *text = g_strndup (data, len);
    g_autoptr (JsonNode) node = json_from_string (text, NULL);
    if (!node || !JSON_NODE_HOLDS_OBJECT (node))
        return;
    JsonObject *obj = json_node_get_object (node);
    JsonNode *kind = cli_remote_member (obj, "type", G_TYPE_STRING);
    if (kind && g_str_equal (json_node_get_string (kind), "exit")) {
        JsonNode *code = cli_remote_member (obj, "exit_code", G_TYPE_INT64);
        s->exited = TRUE;
        s->exit_code = code ? (gint) CLAMP (json_node_get_int (code), -1, 255) : -1;
    } else if (kind && g_str_equal (json_node_get_string (kind), "error")) {
        JsonNode *text_node = cli_remote_member (obj, "message", G_TYPE_STRING);
        cli_error ("%s", text_node ? json_node_get_string (text_node) : "?");
    }
}

static void
on_closed (SoupWebsocketConnection *ws, Session *s)
{
    s->closed = TRUE;
}

static void read_stdin (Session *s);

static void
stdin_read (GObject *source, GAsyncResult *result, gpointer data)
{
    Session *s = data;
    g_autoptr (GError) error = NULL;
    gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

    s->reading = FALSE;
    if (s->closed || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
    if (n <= 0) {
        send_text (s, "{\"type\":\"stdin_eof\"}");
        return;
    }
    if (soup_websocket_connection_get_state (s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_send_binary (s->ws, s->buf, (gsize) n);
    read_stdin (s);
}

static void
read_stdin (Session *s)
{
    s->reading = TRUE;
    g_input_stream_read_async (s->in, s->buf, sizeof s->buf, G_PRIORITY_DEFAULT, s->cancellable,
                               stdin_read, s);
}

static void
killed (GObject *source, GAsyncResult *result, gpointer data)
{
    Session *s = data;
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) body =
        soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);

    s->killing = FALSE;
    s->killed = TRUE;
    if (!body)
        g_debug ("killing the command: %s", error->message);
    if (soup_websocket_connection_get_state (s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (s->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

static gboolean
on_grace_over (gpointer data)
{
    Session *s = data;
    g_autoptr (SoupMessage) msg = cli_remote_message (s->remote, "DELETE", s->exec_path, NULL);

    s->grace_timer = 0;
    if (msg && !s->closed) {
        s->killing = TRUE;
        soup_session_send_and_read_async (s->remote->session, msg, G_PRIORITY_DEFAULT, NULL, killed,
                                          s);
    }
    return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer data)
{
    SignalForward *forward = data;
    Session *s = forward->session;
    g_autofree char *text =
        g_strdup_printf ("{\"type\":\"signal\",\"sig\":%d}", forward->signal_number);

    g_debug ("forwarding signal %d to the command", forward->signal_number);
    send_text (s, text);
    if (s->tty && !s->ending) {
        s->ending = TRUE;
        cli_tty_restore ();
        s->grace_timer = g_timeout_add_seconds (TTY_GRACE_S, on_grace_over, s);
    }
    return G_SOURCE_CONTINUE;
}

/* Our terminal changed size: so does the command's. */
static gboolean
on_window_changed (gpointer data)
{
    Session *s = data;
    guint rows, cols;

    if (cli_tty_get_size (&rows, &cols)) {
        g_autofree char *text =
            g_strdup_printf ("{\"type\":\"resize\",\"cols\":%u,\"rows\":%u}", cols, rows);
        send_text (s, text);
    }
    return G_SOURCE_CONTINUE;
}

/* The body of POST …/exec. */
static char *
exec_request (char **command, gboolean tty)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();
    guint rows, cols;

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "command");
    json_builder_add_string_value (b, command[0]);
    json_builder_set_member_name (b, "args");
    json_builder_begin_array (b);
    for (guint i = 1; command[i]; i++)
        json_builder_add_string_value (b, command[i]);
    json_builder_end_array (b);
    if (tty) {
        json_builder_set_member_name (b, "tty");
        json_builder_add_boolean_value (b, TRUE);
    }
    if (tty && cli_tty_get_size (&rows, &cols)) {
        json_builder_set_member_name (b, "tty_size");
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "rows");
        json_builder_add_int_value (b, rows);
        json_builder_set_member_name (b, "cols");
        json_builder_add_int_value (b, cols);
        json_builder_end_object (b);
    }
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    return json_to_string (root, FALSE);
}

typedef struct {
    SoupWebsocketConnection *ws;
    GError *error;
    gboolean done;
} Connecting;

static void
connected (GObject *source, GAsyncResult *result, gpointer data)
{
    Connecting *c = data;

    c->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &c->error);
    c->done = TRUE;
}

static SoupWebsocketConnection *
attach (CliRemote *r, const char *exec_path, GError **error)
{
    g_autofree char *path = g_strconcat (exec_path, "/attach", NULL);
    g_autoptr (SoupMessage) msg = cli_remote_message (r, "GET", path, error);
    Connecting c = { NULL, NULL, FALSE };

    if (!msg)
        return NULL;
    soup_session_websocket_connect_async (r->session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                          connected, &c);
    while (!c.done)
        g_main_context_iteration (NULL, TRUE);
    if (c.error)
        g_propagate_prefixed_error (error, c.error, "attaching to the command: ");
    return c.ws;
}

/* Runs the attached session until the server closed it; our terminal is
 * ours again on return. */
static void
run_session (Session *s, gboolean forward_stdin)
{
    SignalForward forwards[] = { { s, SIGINT, 0 }, { s, SIGTERM, 0 }, { s, SIGHUP, 0 } };
    guint winch_id = 0;

    g_signal_connect (s->ws, "message", G_CALLBACK (on_message), s);
    g_signal_connect (s->ws, "closed", G_CALLBACK (on_closed), s);
    /* The handlers go in before the terminal changes, so that no signal
     * can end us with the terminal left raw. */
    for (guint i = 0; i < G_N_ELEMENTS (forwards); i++)
        forwards[i].source_id =
            g_unix_signal_add (forwards[i].signal_number, on_signal, &forwards[i]);
    if (s->tty) {
        winch_id = g_unix_signal_add (SIGWINCH, on_window_changed, s);
        if (forward_stdin)
            (void) cli_tty_make_raw ();
    }
    if (forward_stdin)
        read_stdin (s);
    else
        send_text (s, "{\"type\":\"stdin_eof\"}");
    while (!s->closed || s->killing)
        g_main_context_iteration (NULL, TRUE);
    cli_tty_restore ();
    g_cancellable_cancel (s->cancellable);
    while (s->reading)
        g_main_context_iteration (NULL, TRUE);
    for (guint i = 0; i < G_N_ELEMENTS (forwards); i++)
        g_source_remove (forwards[i].source_id);
    if (winch_id)
        g_source_remove (winch_id);
    g_clear_handle_id (&s->grace_timer, g_source_remove);
    g_signal_handlers_disconnect_by_data (s->ws, s);
}

/**
 * cli_remote_exec_in:
 * @r: the server
 * @box: the box's id or name
 * @command: what to run
 * @forward_stdin: whether our stdin goes to the command (-i)
 * @tty: whether the command runs on a terminal of our terminal's size (-t;
 *   our stdin must be a terminal)
 *
 * Returns: the command's exit status, 128+N when signal N ended it, or 125
 *   after a message
 */
int
cli_remote_exec_in (CliRemote *r, const char *box, char **command, gboolean forward_stdin,
                    gboolean tty)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *json = exec_request (command, tty);
    g_autofree char *escaped = cli_remote_escape (box);
    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s/exec", escaped);
    g_autoptr (JsonNode) node = cli_remote_call (r, "POST", path, json, &error);

    if (!node)
        return cli_fail (error);
    JsonNode *id_node =
        JSON_NODE_HOLDS_OBJECT (node)
            ? cli_remote_member (json_node_get_object (node), "execution_id", G_TYPE_STRING)
            : NULL;
    const char *id = id_node ? json_node_get_string (id_node) : NULL;
    if (!id) {
        cli_error ("the server answered no execution id");
        return CLI_EXIT_FAILURE;
    }
    g_autofree char *id_escaped = cli_remote_escape (id);
    g_autofree char *exec_path =
        g_strdup_printf ("/v1/boxes/%s/executions/%s", escaped, id_escaped);
    g_autoptr (SoupWebsocketConnection) ws = attach (r, exec_path, &error);
    if (!ws) {
        /* Nobody would ever feed or read it: it goes. */
        g_autoptr (JsonNode) killed = cli_remote_call (r, "DELETE", exec_path, NULL, NULL);
        return cli_fail (error);
    }
    g_autoptr (GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();
    g_autofree Session *s = g_new0 (Session, 1);
    s->remote = r;
    s->exec_path = exec_path;
    s->ws = ws;
    s->in = in;
    s->cancellable = cancellable;
    s->tty = tty;
    run_session (s, forward_stdin);
    if (s->exited && s->exit_code >= 0)
        return s->exit_code & 0xff;
    if (s->killed)
        return 128 + SIGKILL;
    if (s->exited)
        cli_error ("the command ended, but the server does not know how");
    else
        cli_error ("the server closed the connection before the command ended");
    return CLI_EXIT_FAILURE;
}

/**
 * cli_remote_stream_flags:
 * @arg: one argument
 * @interactive: (inout): set for -i
 * @tty: (inout): set for -t
 *
 * Returns: whether @arg is -i, -t, their long names, or both at once (-it)
 */
gboolean
cli_remote_stream_flags (const char *arg, gboolean *interactive, gboolean *tty)
{
    if (g_str_equal (arg, "--interactive") || g_str_equal (arg, "--tty")) {
        *(arg[2] == 'i' ? interactive : tty) = TRUE;
        return TRUE;
    }
    if (arg[0] != '-' || !arg[1] || strspn (arg + 1, "it") != strlen (arg + 1))
        return FALSE;
    for (const char *c = arg + 1; *c; c++)
        *(*c == 'i' ? interactive : tty) = TRUE;
    return TRUE;
}

/* `exec [-i] [-t] BOX [--] COMMAND…` */
int
cli_remote_exec (CliRemote *r, char **args)
{
    gboolean interactive = FALSE, tty = FALSE;
    guint i = 0;

    for (; args[i] && cli_remote_stream_flags (args[i], &interactive, &tty); i++)
        ;
    const char *box = args[i] && args[i][0] != '-' ? args[i++] : NULL;
    if (box && args[i] && g_str_equal (args[i], "--"))
        i++;
    if (!box || !args[i]) {
        cli_error ("usage: boxlite --host URL exec [-i] [-t] BOX [--] COMMAND [ARG…]");
        return CLI_EXIT_FAILURE;
    }
    if (tty && !cli_tty_check_stdin ())
        return CLI_EXIT_FAILURE;
    return cli_remote_exec_in (r, box, args + i, interactive, tty);
}

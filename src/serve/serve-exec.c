/* serve-exec.c: executions: POST .../exec, GET and DELETE
 * .../executions/ID, resize and signal, and .../attach over a WebSocket.
 *
 * The server keeps each execution it started, by id, on the main context.
 * Its output is read from the moment it starts: while a client is attached
 * it goes out as binary frames ([1 stdout | 2 stderr][bytes]); while none is,
 * up to MAX_QUEUED bytes wait for the next attach and then reading stops,
 * so a command that writes more waits on its full pipe (the library returns
 * the agent's credit only for bytes that reached it). So an execution
 * survives a dropped WebSocket, and a client that attaches again gets what
 * it missed, then the rest, then {"type":"exit"} and a normal close once
 * the command ended and both streams reached their end. Frames handed to
 * an attached client count against the same MAX_QUEUED until they left
 * (serve-ws-stream.c), so a client that stops reading stops the command's
 * output there too.
 *
 * From the client: binary frames go to the command's stdin (at most
 * MAX_STDIN_QUEUED bytes waiting, past which the WebSocket is closed with
 * 1008); text frames are JSON control messages: resize, signal (a few
 * signals only: SIGKILL is DELETE's), stdin_eof. A bad control message gets
 * {"type":"error"} and the connection stays. A finished execution is
 * forgotten FORGET_AFTER_S seconds after it ended. */
#define G_LOG_DOMAIN "boxlite-serve"

#include <signal.h>
#include <string.h>

#include "serve.h"

#define MAX_QUEUED (1024 * 1024)
#define MAX_STDIN_QUEUED (4 * 1024 * 1024)
#define READ_CHUNK 65536
#define FORGET_AFTER_S 600
#define KEEPALIVE_S 15

enum { STREAM_STDOUT, STREAM_STDERR, STREAM_STDIN };

typedef struct {
    gint refs;
    BlServe *serve;
    BlServeExecs *owner; /* NULL once evicted */
    char *id;
    char *box_id;
    char *box_name;
    BoxliteExecution *execution;
    GCancellable *cancellable;
    GDateTime *started_at;
    gint64 started_us, ended_us;

    gboolean done; /* the command ended (or could not be waited for) */
    gboolean killed;
    char *error_message;
    /* The outcome, kept once the execution (and its pipes) is let go. */
    gint exit_code;
    gboolean timed_out;
    gboolean signalled;
    gboolean oom_killed;

    /* Output: frames not yet sent, and which streams reached their end. */
    GQueue frames; /* GBytes: channel byte + data */
    gsize queued;
    gboolean reading[2];
    gboolean eof[2];

    /* Stdin. */
    GQueue input; /* GBytes */
    gsize input_queued;
    gboolean writing;
    gboolean input_eof; /* the client asked for EOF */
    gboolean input_closed;

    SoupWebsocketConnection *ws;
    guint64 ws_handed;  /* payload bytes of binary frames given to @ws */
    gboolean attaching; /* an upgrade was accepted, the connection not yet there */
    gboolean exit_sent;
    guint forget_source;
} Exec;

struct _BlServeExecs {
    BlServe *serve;
    GHashTable *by_id; /* id -> Exec (a reference) */
};

static Exec *
exec_ref (Exec *exec)
{
    exec->refs++;
    return exec;
}

static void
exec_unref (Exec *exec)
{
    if (--exec->refs > 0)
        return;
    g_assert (!exec->ws);
    g_free (exec->id);
    g_free (exec->box_id);
    g_free (exec->box_name);
    g_clear_object (&exec->execution);
    g_clear_object (&exec->cancellable);
    g_clear_pointer (&exec->started_at, g_date_time_unref);
    g_free (exec->error_message);
    g_queue_clear_full (&exec->frames, (GDestroyNotify) g_bytes_unref);
    g_queue_clear_full (&exec->input, (GDestroyNotify) g_bytes_unref);
    g_free (exec);
}

BlServeExecs *
bl_serve_execs_new (BlServe *serve)
{
    BlServeExecs *execs = g_new0 (BlServeExecs, 1);

    execs->serve = serve;
    execs->by_id = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, NULL);
    return execs;
}

static void exec_detach (Exec *exec);

/* Takes @exec out of the table; what is in flight ends on its own. */
static void
exec_evict (Exec *exec)
{
    if (!exec->owner)
        return;
    g_hash_table_remove (exec->owner->by_id, exec->id);
    exec->owner = NULL;
    g_clear_handle_id (&exec->forget_source, g_source_remove);
    exec_unref (exec);
}

void
bl_serve_execs_free (BlServeExecs *execs)
{
    GList *all = g_hash_table_get_values (execs->by_id);

    for (GList *l = all; l; l = l->next) {
        Exec *exec = l->data;
        exec_ref (exec);
        g_cancellable_cancel (exec->cancellable);
        if (exec->ws)
            soup_websocket_connection_close (exec->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
        exec_detach (exec);
        exec_evict (exec);
        exec_unref (exec);
    }
    g_list_free (all);
    g_hash_table_unref (execs->by_id);
    g_free (execs);
}

static gboolean
ws_open (Exec *exec)
{
    return exec->ws && soup_websocket_connection_get_state (exec->ws) == SOUP_WEBSOCKET_STATE_OPEN;
}

static void
send_control (Exec *exec, JsonBuilder *b)
{
    g_autoptr (JsonNode) node = json_builder_get_root (b);
    g_autofree char *text = json_to_string (node, FALSE);

    if (ws_open (exec))
        soup_websocket_connection_send_text (exec->ws, text);
}

static void
send_error (Exec *exec, const char *message)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, "error");
    json_builder_set_member_name (b, "message");
    json_builder_add_string_value (b, message);
    json_builder_end_object (b);
    send_control (exec, b);
}

/* What a shell would say: the exit code, or 128 + the signal; -1 when
 * neither is known. */
static void
keep_outcome (Exec *exec)
{
    BoxliteExecution *e = exec->execution;

    exec->exit_code = boxlite_execution_get_exited (e) ? boxlite_execution_get_exit_code (e)
                      : boxlite_execution_get_term_signal (e) > 0
                          ? 128 + boxlite_execution_get_term_signal (e)
                          : -1;
    exec->signalled = boxlite_execution_get_term_signal (e) > 0;
    exec->timed_out = boxlite_execution_get_timed_out (e);
    exec->oom_killed = boxlite_execution_get_oom_killed (e);
}

/* Once the command ended and its output was read: its pipes are closed and
 * the execution let go, so that finished executions cost no descriptors
 * while they wait to be asked about. */
static void
maybe_release (Exec *exec)
{
    if (!exec->execution || !exec->done || !exec->eof[0] || !exec->eof[1] || exec->writing)
        return;
    GOutputStream *in = boxlite_execution_get_stdin (exec->execution);
    if (in)
        g_output_stream_close (in, NULL, NULL);
    g_input_stream_close (boxlite_execution_get_stdout (exec->execution), NULL, NULL);
    if (boxlite_execution_get_stderr (exec->execution))
        g_input_stream_close (boxlite_execution_get_stderr (exec->execution), NULL, NULL);
    g_queue_clear_full (&exec->input, (GDestroyNotify) g_bytes_unref);
    exec->input_queued = 0;
    exec->input_closed = TRUE;
    g_clear_object (&exec->execution);
}

/* Once the command ended and all its output went out: the exit message and
 * a normal close. */
static void
maybe_finish (Exec *exec)
{
    if (!exec->done || !exec->eof[0] || !exec->eof[1] || exec->frames.length || !ws_open (exec) ||
        exec->exit_sent)
        return;
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "type");
    json_builder_add_string_value (b, "exit");
    json_builder_set_member_name (b, "exit_code");
    json_builder_add_int_value (b, exec->exit_code);
    json_builder_end_object (b);
    send_control (exec, b);
    exec->exit_sent = TRUE;
    soup_websocket_connection_close (exec->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
}

static void read_more (Exec *exec, guint stream);

/* What the attached client was sent and has not taken yet. */
static guint64
ws_unsent (Exec *exec)
{
    if (!exec->ws)
        return 0;
    return exec->ws_handed -
           bl_serve_ws_stream_binary_written (soup_websocket_connection_get_io_stream (exec->ws));
}

static void
flush_frames (Exec *exec)
{
    GBytes *frame;

    while (ws_open (exec) && (frame = g_queue_pop_head (&exec->frames))) {
        exec->queued -= g_bytes_get_size (frame) - 1;
        exec->ws_handed += g_bytes_get_size (frame);
        soup_websocket_connection_send_message (exec->ws, SOUP_WEBSOCKET_DATA_BINARY, frame);
        g_bytes_unref (frame);
    }
}

/* Some of what the client was sent went out: reading may go on. */
static void
on_ws_written (gpointer data)
{
    Exec *exec = data;

    read_more (exec, STREAM_STDOUT);
    read_more (exec, STREAM_STDERR);
}

static void
read_done (GObject *source, GAsyncResult *result, gpointer data)
{
    Exec *exec = data;
    guint stream = GPOINTER_TO_UINT (g_object_get_data (source, "bl-stream"));
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) bytes =
        g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);

    exec->reading[stream] = FALSE;
    if (!bytes || g_bytes_get_size (bytes) == 0) {
        /* The end, or the server going away: nothing more comes. */
        exec->eof[stream] = TRUE;
        maybe_finish (exec);
        maybe_release (exec);
        exec_unref (exec);
        return;
    }
    gsize len = g_bytes_get_size (bytes);
    g_autoptr (GByteArray) frame = g_byte_array_sized_new ((guint) len + 1);
    guint8 channel = stream == STREAM_STDOUT ? 1 : 2;
    g_byte_array_append (frame, &channel, 1);
    g_byte_array_append (frame, g_bytes_get_data (bytes, NULL), (guint) len);
    bl_serve_stats_exec_bytes (bl_serve_get_stats (exec->serve), exec->box_id, stream, len);
    g_queue_push_tail (&exec->frames, g_byte_array_free_to_bytes (g_steal_pointer (&frame)));
    exec->queued += len;
    flush_frames (exec);
    read_more (exec, stream);
    exec_unref (exec);
}

static void
read_more (Exec *exec, guint stream)
{
    if (exec->reading[stream] || exec->eof[stream] ||
        exec->queued + ws_unsent (exec) >= MAX_QUEUED || !exec->execution)
        return;
    GInputStream *in = stream == STREAM_STDOUT ? boxlite_execution_get_stdout (exec->execution)
                                               : boxlite_execution_get_stderr (exec->execution);

    if (!in) {
        exec->eof[stream] = TRUE;
        return;
    }
    exec->reading[stream] = TRUE;
    g_object_set_data (G_OBJECT (in), "bl-stream", GUINT_TO_POINTER (stream));
    g_input_stream_read_bytes_async (in, READ_CHUNK, G_PRIORITY_DEFAULT, exec->cancellable,
                                     read_done, exec_ref (exec));
}

static gboolean
forget (gpointer data)
{
    Exec *exec = data;

    exec->forget_source = 0;
    exec_evict (exec);
    return G_SOURCE_REMOVE;
}

static void
wait_done (GObject *source, GAsyncResult *result, gpointer data)
{
    Exec *exec = data;
    g_autoptr (GError) error = NULL;

    if (!boxlite_execution_wait_finish (BOXLITE_EXECUTION (source), result, &error))
        exec->error_message = g_strdup (error->message);
    exec->done = TRUE;
    exec->ended_us = g_get_monotonic_time ();
    keep_outcome (exec);
    if (exec->owner)
        exec->forget_source = g_timeout_add_seconds (FORGET_AFTER_S, forget, exec);
    maybe_finish (exec);
    maybe_release (exec);
    exec_unref (exec);
}

static void write_more (Exec *exec);

static void
close_done (GObject *source, GAsyncResult *result, gpointer data)
{
    g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, NULL);
    exec_unref (data);
}

static void
write_done (GObject *source, GAsyncResult *result, gpointer data)
{
    Exec *exec = data;
    g_autoptr (GError) error = NULL;
    gsize written = 0;

    exec->writing = FALSE;
    if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &written, &error)) {
        /* The command closed its stdin: what is left cannot go anywhere. */
        g_queue_clear_full (&exec->input, (GDestroyNotify) g_bytes_unref);
        exec->input_queued = 0;
        exec->input_closed = TRUE;
    } else {
        exec->input_queued -= written;
        write_more (exec);
    }
    maybe_release (exec);
    exec_unref (exec);
}

static void
write_more (Exec *exec)
{
    GOutputStream *out = exec->execution ? boxlite_execution_get_stdin (exec->execution) : NULL;

    if (exec->writing || exec->input_closed || !out)
        return;
    g_autoptr (GBytes) next = g_queue_pop_head (&exec->input);
    if (next) {
        gsize len;
        const void *data = g_bytes_get_data (next, &len);
        exec->writing = TRUE;
        /* The bytes stay alive with the call's data. */
        g_object_set_data_full (G_OBJECT (out), "bl-writing", g_bytes_ref (next),
                                (GDestroyNotify) g_bytes_unref);
        g_output_stream_write_all_async (out, data, len, G_PRIORITY_DEFAULT, exec->cancellable,
                                         write_done, exec_ref (exec));
    } else if (exec->input_eof) {
        exec->input_closed = TRUE;
        g_output_stream_close_async (out, G_PRIORITY_DEFAULT, exec->cancellable, close_done,
                                     exec_ref (exec));
    }
}

/* Acts on a control message; NULL when done, or why not. */
static const char *
control (Exec *exec, const BlServeControl *c, char **detail)
{
    g_autoptr (GError) error = NULL;

    switch (c->kind) {
    case BL_SERVE_CONTROL_RESIZE:
        if (exec->done)
            return "the command has ended";
        if (!boxlite_execution_resize (exec->execution, c->rows, c->cols, &error)) {
            *detail = g_strdup (error->message);
            return "";
        }
        return NULL;
    case BL_SERVE_CONTROL_SIGNAL:
        if (exec->done)
            return "the command has ended";
        if (!boxlite_execution_kill (exec->execution, c->sig, &error)) {
            *detail = g_strdup (error->message);
            return "";
        }
        return NULL;
    case BL_SERVE_CONTROL_STDIN_EOF:
        exec->input_eof = TRUE;
        write_more (exec);
        return NULL;
    }
    return "unknown message";
}

static void
on_message (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
    Exec *exec = data;

    if (type == SOUP_WEBSOCKET_DATA_BINARY) {
        gsize len = g_bytes_get_size (message);
        if (exec->input_eof || exec->input_closed) {
            send_error (exec, "stdin is closed");
            return;
        }
        if (exec->input_queued + len > MAX_STDIN_QUEUED) {
            soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                             "stdin backlog too large");
            return;
        }
        bl_serve_stats_exec_bytes (bl_serve_get_stats (exec->serve), exec->box_id, STREAM_STDIN,
                                   len);
        exec->input_queued += len;
        g_queue_push_tail (&exec->input, g_bytes_ref (message));
        write_more (exec);
        return;
    }
    gsize len;
    const char *text = g_bytes_get_data (message, &len);
    g_autofree char *detail = NULL;
    BlServeControl c;
    const char *problem = bl_serve_control_parse (text, len, &c);
    if (!problem)
        problem = control (exec, &c, &detail);
    if (problem)
        send_error (exec, detail ? detail : problem);
}

static void
unref_when_closed (SoupWebsocketConnection *ws, gpointer data)
{
    g_object_unref (ws);
}

/* Forgets the client: output waits for the next one. A connection still
 * closing is kept until it is closed, so that its close frame goes out. */
static void
exec_detach (Exec *exec)
{
    SoupWebsocketConnection *ws = g_steal_pointer (&exec->ws);

    if (!ws)
        return;
    bl_serve_ws_stream_set_notify (soup_websocket_connection_get_io_stream (ws), NULL, NULL);
    g_signal_handlers_disconnect_by_data (ws, exec);
    if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_CLOSED)
        g_object_unref (ws);
    else
        g_signal_connect (ws, "closed", G_CALLBACK (unref_when_closed), NULL);
    exec_unref (exec);
}

static void
on_closed (SoupWebsocketConnection *ws, gpointer data)
{
    exec_detach (data);
}

/* The handshake's answer went out: the connection is the WebSocket's. */
static void
upgraded (SoupServerMessage *msg, gpointer data)
{
    Exec *exec = data;
    SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
    g_autoptr (GIOStream) stolen = soup_server_message_steal_connection (msg);
    g_autoptr (GIOStream) stream = bl_serve_ws_stream_new (stolen);
    SoupWebsocketConnection *connection = soup_websocket_connection_new (
        stream, soup_server_message_get_uri (msg), SOUP_WEBSOCKET_CONNECTION_SERVER,
        soup_message_headers_get_one (request, "Origin"), NULL, NULL);

    exec->attaching = FALSE;
    exec->exit_sent = FALSE;
    exec->ws = connection;
    exec->ws_handed = 0;
    bl_serve_ws_stream_set_notify (stream, on_ws_written, exec);
    exec_ref (exec);
    soup_websocket_connection_set_max_incoming_payload_size (connection, 1024 * 1024);
    soup_websocket_connection_set_keepalive_interval (connection, KEEPALIVE_S);
    g_signal_connect (connection, "message", G_CALLBACK (on_message), exec);
    /* The slot is free as soon as either side starts closing, so that a
     * client that closed can attach again at once. */
    g_signal_connect (connection, "closing", G_CALLBACK (on_closed), exec);
    g_signal_connect (connection, "closed", G_CALLBACK (on_closed), exec);
    flush_frames (exec);
    read_more (exec, STREAM_STDOUT);
    read_more (exec, STREAM_STDERR);
    maybe_finish (exec);
}

/* The execution named by the call's captures (box, execution), or NULL
 * with 404 answered. */
static Exec *
find_exec (BlServeCall *call)
{
    BlServeExecs *execs = bl_serve_get_execs (call->serve);
    Exec *exec = g_hash_table_lookup (execs->by_id, call->args[1]);

    if (!exec || (g_strcmp0 (call->args[0], exec->box_id) != 0 &&
                  g_strcmp0 (call->args[0], exec->box_name) != 0)) {
        bl_serve_reply_error (call, SOUP_STATUS_NOT_FOUND, "NotFoundError", "not_found",
                              "execution not found: %s", call->args[1]);
        return NULL;
    }
    return exec;
}

static void
attach_finished (SoupServerMessage *msg, gpointer data)
{
    Exec *exec = data;

    /* The client went before the upgrade. */
    if (!exec->ws)
        exec->attaching = FALSE;
}

/* Upgrades to a WebSocket here rather than with a handler of the server's:
 * that one would take over every GET left unanswered, and handlers on
 * worker threads leave theirs unanswered until they are done. */
static void
attach (BlServeCall *call)
{
    Exec *exec = find_exec (call);
    g_autoptr (GError) error = NULL;

    if (!exec)
        return;
    if (exec->ws || exec->attaching) {
        bl_serve_reply_error (call, SOUP_STATUS_CONFLICT, "InvalidStateError", "invalid_state",
                              "another client is attached to %s", exec->id);
        return;
    }
    if (!soup_websocket_server_check_handshake (call->msg, NULL, NULL, NULL, &error)) {
        bl_serve_reply_error (call, SOUP_STATUS_BAD_REQUEST, "InvalidArgumentError",
                              "invalid_argument", "not a WebSocket handshake: %s", error->message);
        return;
    }
    soup_websocket_server_process_handshake (call->msg, NULL, NULL, NULL, NULL);
    exec->attaching = TRUE;
    g_signal_connect_data (call->msg, "wrote-informational", G_CALLBACK (upgraded), exec_ref (exec),
                           (GClosureNotify) (void (*) (void)) exec_unref, 0);
    g_signal_connect_data (call->msg, "finished", G_CALLBACK (attach_finished), exec_ref (exec),
                           (GClosureNotify) (void (*) (void)) exec_unref, 0);
}

static void
info_json (Exec *exec, JsonBuilder *b)
{
    g_autofree char *started = bl_serve_time (exec->started_at);
    const char *status = !exec->done                       ? "running"
                         : exec->timed_out                 ? "timed_out"
                         : exec->killed || exec->signalled ? "killed"
                                                           : "completed";

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "execution_id");
    json_builder_add_string_value (b, exec->id);
    json_builder_set_member_name (b, "status");
    json_builder_add_string_value (b, status);
    json_builder_set_member_name (b, "exit_code");
    if (exec->done && exec->exit_code >= 0)
        json_builder_add_int_value (b, exec->exit_code);
    else
        json_builder_add_null_value (b);
    json_builder_set_member_name (b, "started_at");
    json_builder_add_string_value (b, started);
    json_builder_set_member_name (b, "duration_ms");
    if (exec->done)
        json_builder_add_int_value (b, (exec->ended_us - exec->started_us) / 1000);
    else
        json_builder_add_null_value (b);
    json_builder_set_member_name (b, "error_message");
    if (exec->error_message)
        json_builder_add_string_value (b, exec->error_message);
    else if (exec->oom_killed)
        json_builder_add_string_value (b, "killed by the box's out-of-memory killer");
    else
        json_builder_add_null_value (b);
    json_builder_end_object (b);
}

static void
get_execution (BlServeCall *call)
{
    Exec *exec = find_exec (call);
    g_autoptr (JsonBuilder) b = json_builder_new ();

    if (!exec)
        return;
    info_json (exec, b);
    bl_serve_reply_builder (call, SOUP_STATUS_OK, b);
}

static void
kill_execution (BlServeCall *call)
{
    Exec *exec = find_exec (call);
    g_autoptr (GError) error = NULL;

    if (!exec)
        return;
    if (!exec->done && !boxlite_execution_kill (exec->execution, SIGKILL, &error)) {
        bl_serve_reply_gerror (call, error);
        return;
    }
    exec->killed = !exec->done;
    exec_evict (exec);
    bl_serve_reply_status (call, SOUP_STATUS_NO_CONTENT);
}

static void
resize_execution (BlServeCall *call)
{
    Exec *exec = find_exec (call);
    guint cols = 0, rows = 0;
    g_autoptr (GError) error = NULL;

    if (!exec || !bl_serve_json_uint (call, call->json, "cols", 1, 65535, &cols) ||
        !bl_serve_json_uint (call, call->json, "rows", 1, 65535, &rows))
        return;
    if (!cols || !rows) {
        bl_serve_reply_error (call, 400, "InvalidArgumentError", "invalid_argument",
                              "cols and rows are required");
        return;
    }
    if (exec->done)
        bl_serve_reply_error (call, 409, "InvalidStateError", "invalid_state",
                              "the command has ended");
    else if (!boxlite_execution_resize (exec->execution, rows, cols, &error))
        bl_serve_reply_gerror (call, error);
    else
        bl_serve_reply_status (call, SOUP_STATUS_NO_CONTENT);
}

static void
signal_execution (BlServeCall *call)
{
    Exec *exec = find_exec (call);
    guint sig = 0;
    g_autoptr (GError) error = NULL;

    if (!exec || !bl_serve_json_uint (call, call->json, "signal", 1, 64, &sig))
        return;
    if (!bl_serve_signal_allowed (sig)) {
        bl_serve_reply_error (call, 400, "InvalidArgumentError", "invalid_argument",
                              "signal must be one of 1 2 3 6 10 12 15 28 (SIGKILL: DELETE)");
        return;
    }
    if (exec->done)
        bl_serve_reply_error (call, 409, "InvalidStateError", "invalid_state",
                              "the command has ended");
    else if (!boxlite_execution_kill (exec->execution, (gint) sig, &error))
        bl_serve_reply_gerror (call, error);
    else
        bl_serve_reply_status (call, SOUP_STATUS_NO_CONTENT);
}

typedef struct {
    BoxliteExecution *execution;
    char *box_id;
    char *box_name;
} Started;

static void
started_free (gpointer data)
{
    Started *started = data;
    g_clear_object (&started->execution);
    g_free (started->box_id);
    g_free (started->box_name);
    g_free (started);
}

/* On the main context: the new execution joins the table. */
static void
register_execution (BlServeCall *call)
{
    Started *started = call->then_data;
    BlServeExecs *execs = bl_serve_get_execs (call->serve);
    Exec *exec = g_new0 (Exec, 1);
    g_autoptr (JsonBuilder) b = json_builder_new ();

    if (!started)
        return;
    exec->refs = 1;
    exec->serve = call->serve;
    exec->owner = execs;
    exec->id = g_strdup_printf ("exec-%08x%08x", g_random_int (), g_random_int ());
    exec->box_id = g_strdup (started->box_id);
    exec->box_name = g_strdup (started->box_name);
    exec->execution = g_steal_pointer (&started->execution);
    exec->cancellable = g_cancellable_new ();
    exec->started_at = g_date_time_new_now_utc ();
    exec->started_us = g_get_monotonic_time ();
    g_hash_table_insert (execs->by_id, exec->id, exec);
    boxlite_execution_wait_async (exec->execution, exec->cancellable, wait_done, exec_ref (exec));
    read_more (exec, STREAM_STDOUT);
    read_more (exec, STREAM_STDERR);

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "execution_id");
    json_builder_add_string_value (b, exec->id);
    json_builder_end_object (b);
    call->location = g_strdup_printf ("/v1/boxes/%s/executions/%s", exec->box_id, exec->id);
    bl_serve_reply_builder (call, SOUP_STATUS_CREATED, b);
}

/* "tty_size": {"rows", "cols"}, the terminal's size from the start, so
 * that a command that asks at once sees the client's (boxlite's own). */
static gboolean
tty_size_from_request (BlServeCall *call, guint *rows, guint *cols)
{
    static const char *const known[] = { "rows", "cols", NULL };
    JsonNode *node = json_object_get_member (call->json, "tty_size");

    if (!node || JSON_NODE_HOLDS_NULL (node))
        return TRUE;
    if (!JSON_NODE_HOLDS_OBJECT (node)) {
        bl_serve_reply_error (call, 400, "InvalidArgumentError", "invalid_argument",
                              "tty_size must be an object with rows and cols");
        return FALSE;
    }
    JsonObject *size = json_node_get_object (node);
    return bl_serve_json_only (call, size, known) &&
           bl_serve_json_uint (call, size, "rows", 1, 65535, rows) &&
           bl_serve_json_uint (call, size, "cols", 1, 65535, cols);
}

static BoxliteCommand *
command_from_request (BlServeCall *call)
{
    static const char *const known[] = { "command",     "args", "env",  "timeout_seconds",
                                         "working_dir", "tty",  "user", "tty_size",
                                         NULL };
    JsonObject *req = call->json;
    const char *program = NULL, *working_dir = NULL, *user = NULL;
    g_auto (GStrv) args = NULL, env = NULL;
    gboolean tty = FALSE;
    guint rows = 24, cols = 80;

    if (!bl_serve_json_only (call, req, known) ||
        !bl_serve_json_string (call, req, "command", &program) ||
        !bl_serve_json_strv (call, req, "args", &args) ||
        !bl_serve_json_env (call, req, "env", &env) ||
        !bl_serve_json_string (call, req, "working_dir", &working_dir) ||
        !bl_serve_json_string (call, req, "user", &user) ||
        !bl_serve_json_bool (call, req, "tty", &tty) || !tty_size_from_request (call, &rows, &cols))
        return NULL;
    if (!program || !*program) {
        bl_serve_reply_error (call, 400, "InvalidArgumentError", "invalid_argument",
                              "command is required");
        return NULL;
    }
    JsonNode *timeout = json_object_get_member (req, "timeout_seconds");
    gdouble seconds = 0;
    if (timeout && !JSON_NODE_HOLDS_NULL (timeout)) {
        GType type = json_node_get_value_type (timeout);
        seconds =
            type == G_TYPE_INT64 || type == G_TYPE_DOUBLE ? json_node_get_double (timeout) : -1;
        if (seconds < 0.1 || seconds > 86400) {
            bl_serve_reply_error (call, 400, "InvalidArgumentError", "invalid_argument",
                                  "timeout_seconds must be a number in 0.1..86400");
            return NULL;
        }
    }
    g_autoptr (GStrvBuilder) argv = g_strv_builder_new ();
    g_strv_builder_add (argv, program);
    if (args)
        g_strv_builder_addv (argv, (const char **) args);
    g_auto (GStrv) full = g_strv_builder_end (argv);
    BoxliteCommand *command = boxlite_command_new ((const char *const *) full);
    if (env)
        boxlite_command_set_env (command, (const char *const *) env);
    boxlite_command_set_working_dir (command, working_dir);
    boxlite_command_set_user (command, user);
    boxlite_command_set_timeout_ms (command, (guint) (seconds * 1000));
    boxlite_command_set_stdin (command, TRUE);
    boxlite_command_set_tty (command, tty);
    if (tty)
        boxlite_command_set_tty_size (command, rows, cols);
    return command;
}

/* On a worker thread: the box is started when it does not run, as upstream
 * does, then the command. */
static void
start_execution (BlServeCall *call)
{
    g_autoptr (BoxliteCommand) command = command_from_request (call);
    g_autoptr (BoxliteBox) box = NULL;
    g_autoptr (GError) error = NULL;

    if (!command || !(box = bl_serve_find_box (call)))
        return;
    BoxliteBoxState state = boxlite_box_get_state (box);
    if (state != BOXLITE_BOX_STATE_RUNNING && state != BOXLITE_BOX_STATE_PAUSED &&
        !bl_serve_start_box (call->serve, box, &error)) {
        bl_serve_reply_gerror (call, error);
        return;
    }
    g_autoptr (BoxliteExecution) execution = boxlite_box_exec (box, command, NULL, &error);
    bl_serve_stats_exec (bl_serve_get_stats (call->serve), boxlite_box_get_id (box),
                         execution != NULL);
    if (!execution) {
        bl_serve_reply_gerror (call, error);
        return;
    }
    Started *started = g_new0 (Started, 1);
    started->execution = g_steal_pointer (&execution);
    started->box_id = g_strdup (boxlite_box_get_id (box));
    started->box_name = g_strdup (boxlite_box_get_name (box));
    call->then = register_execution;
    call->then_data = started;
    call->then_data_free = started_free;
}

const BlServeRoute bl_serve_exec_routes[] = {
    { "POST", "/boxes/*/exec", start_execution, BL_SERVE_ROUTE_JSON },
    { "GET", "/boxes/*/executions/*", get_execution, BL_SERVE_ROUTE_MAIN },
    { "DELETE", "/boxes/*/executions/*", kill_execution, BL_SERVE_ROUTE_MAIN },
    { "GET", "/boxes/*/executions/*/attach", attach, BL_SERVE_ROUTE_MAIN },
    { "POST", "/boxes/*/executions/*/resize", resize_execution,
      BL_SERVE_ROUTE_MAIN | BL_SERVE_ROUTE_JSON },
    { "POST", "/boxes/*/executions/*/signal", signal_execution,
      BL_SERVE_ROUTE_MAIN | BL_SERVE_ROUTE_JSON },
};
const guint bl_serve_exec_n_routes = G_N_ELEMENTS (bl_serve_exec_routes);

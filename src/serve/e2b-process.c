/* e2b-process.c: envd's process service: Start and Connect (server
 * streams of start, data and end events), List, SendInput, CloseStdin,
 * SendSignal, Update (a terminal's size).
 *
 * A process is an execution in the sandbox's box, kept by the server (on
 * its main context) from its start to its end, by sandbox and pid. Its
 * output goes to every stream open on it (Start's, and Connect's) as
 * chunks of a chunked response; a stream that goes away leaves the
 * process running, as E2B's background commands need. Output waiting to be
 * written to clients is bounded: past MAX_QUEUED, reading stops until the
 * slowest stream catches up, and the command waits on its pipe.
 *
 * A process started with a pty runs on a terminal in the box: its output
 * and errors are one stream, sent as data.pty; its input (SendInput's
 * input.pty) goes through the terminal, and Update changes its size. */
#define G_LOG_DOMAIN "boxlite-serve"

#include <signal.h>
#include <string.h>

#include "e2b.h"

#define READ_CHUNK 65536
#define MAX_QUEUED (4 * 1024 * 1024)
/* Bytes of stdin waiting to reach the command. */
#define MAX_STDIN_QUEUED (4 * 1024 * 1024)
/* A terminal's rows and columns, as the library takes them. */
#define PTY_MAX 65535

typedef struct _Proc Proc;

typedef struct {
    Proc *proc;
    SoupServerMessage *msg;
    gsize queued;       /* appended, not yet written */
    GSource *keepalive; /* keepalive events, as the client asked */
} Stream;

struct _Proc {
    gint refs;
    char *key; /* "SANDBOX/PID" */
    char *sandbox_id;
    gint pid;
    gboolean pty;
    char *tag;
    JsonNode *config; /* the ProcessConfig it was started with */
    BoxliteExecution *execution;
    GCancellable *cancellable;
    GPtrArray *streams; /* Stream */
    gboolean reading[2];
    gboolean eof[2];
    gboolean done;
    gint exit_code;
    gboolean exited;
    char *error;
    GQueue input; /* GBytes */
    gsize input_queued;
    gboolean writing;
    gboolean close_input;
    gboolean input_closed;
};

static GHashTable *procs; /* key -> Proc, main context only */

static Proc *
proc_ref (Proc *p)
{
    p->refs++;
    return p;
}

static void
proc_unref (Proc *p)
{
    if (--p->refs > 0)
        return;
    g_free (p->key);
    g_free (p->sandbox_id);
    g_free (p->tag);
    g_clear_pointer (&p->config, json_node_unref);
    g_clear_object (&p->execution);
    g_clear_object (&p->cancellable);
    g_ptr_array_unref (p->streams);
    g_free (p->error);
    g_queue_clear_full (&p->input, (GDestroyNotify) g_bytes_unref);
    g_free (p);
}

static void
stream_finished (SoupServerMessage *msg, Stream *s)
{
    Proc *p = s->proc;

    g_signal_handlers_disconnect_by_data (msg, s);
    g_ptr_array_remove (p->streams, s);
}

static void read_more (Proc *p, guint which);

static void
stream_wrote (SoupServerMessage *msg, guint size, Stream *s)
{
    s->queued -= MIN (s->queued, size);
    for (guint which = 0; which < 2; which++)
        read_more (s->proc, which);
}

static void
stream_free (gpointer data)
{
    Stream *s = data;

    if (s->keepalive) {
        g_source_destroy (s->keepalive);
        g_source_unref (s->keepalive);
    }
    g_signal_handlers_disconnect_by_data (s->msg, s);
    g_object_unref (s->msg);
    g_free (s);
}

static void
stream_append (Stream *s, GByteArray *bytes, gboolean last)
{
    SoupMessageBody *body = soup_server_message_get_response_body (s->msg);

    soup_message_body_append (body, SOUP_MEMORY_COPY, bytes->data, bytes->len);
    s->queued += bytes->len;
    if (last)
        soup_message_body_complete (body);
    soup_server_message_unpause (s->msg);
}

/* To every stream. */
static void
broadcast (Proc *p, GByteArray *bytes, gboolean last)
{
    for (guint i = 0; i < p->streams->len; i++)
        stream_append (p->streams->pdata[i], bytes, last);
}

static void
add_event (GByteArray *out, const char *kind, JsonObject *value)
{
    JsonObject *event = json_object_new ();
    JsonObject *top = json_object_new ();
    g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), top);

    json_object_set_object_member (event, kind, value);
    json_object_set_object_member (top, "event", event);
    json_object_unref (top);
    bl_e2b_envelope_append_json (out, 0, node);
}

static void
add_start (GByteArray *out, Proc *p)
{
    JsonObject *o = json_object_new ();

    json_object_set_int_member (o, "pid", p->pid);
    add_event (out, "start", o);
}

static void
add_end (GByteArray *out, Proc *p)
{
    JsonObject *o = json_object_new ();
    g_autofree char *status = p->exited ? g_strdup_printf ("exit status %d", p->exit_code)
                                        : g_strdup_printf ("signal: %d", p->exit_code - 128);

    json_object_set_int_member (o, "exitCode", p->exit_code);
    json_object_set_boolean_member (o, "exited", p->exited);
    json_object_set_string_member (o, "status", status);
    if (p->error)
        json_object_set_string_member (o, "error", p->error);
    add_event (out, "end", o);
    bl_e2b_envelope_append (out, BL_E2B_ENVELOPE_END_STREAM, "{}", 2);
}

/* Once the command ended and both outputs reached their end: the end
 * event to every stream, and the process forgotten. */
static void
maybe_finish (Proc *p)
{
    if (!p->done || !p->eof[0] || !p->eof[1])
        return;
    g_autoptr (GByteArray) out = g_byte_array_new ();
    add_end (out, p);
    broadcast (p, out, TRUE);
    g_ptr_array_set_size (p->streams, 0);
    g_cancellable_cancel (p->cancellable);
    if (procs && g_hash_table_lookup (procs, p->key) == p)
        g_hash_table_remove (procs, p->key);
}

static gboolean
backed_up (Proc *p)
{
    for (guint i = 0; i < p->streams->len; i++)
        if (((Stream *) p->streams->pdata[i])->queued > MAX_QUEUED)
            return TRUE;
    return FALSE;
}

static void
read_done (GObject *source, GAsyncResult *result, gpointer data)
{
    Proc *p = data;
    guint which = G_INPUT_STREAM (source) == boxlite_execution_get_stdout (p->execution) ? 0 : 1;
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) bytes =
        g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);

    p->reading[which] = FALSE;
    if (!bytes || g_bytes_get_size (bytes) == 0) {
        p->eof[which] = TRUE;
        maybe_finish (p);
        proc_unref (p);
        return;
    }
    g_autofree char *b64 =
        g_base64_encode (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    JsonObject *o = json_object_new ();
    json_object_set_string_member (o, p->pty ? "pty" : which == 0 ? "stdout" : "stderr", b64);
    g_autoptr (GByteArray) out = g_byte_array_new ();
    add_event (out, "data", o);
    broadcast (p, out, FALSE);
    read_more (p, which);
    proc_unref (p);
}

static void
read_more (Proc *p, guint which)
{
    GInputStream *in = which == 0 ? boxlite_execution_get_stdout (p->execution)
                                  : boxlite_execution_get_stderr (p->execution);

    if (!in) {
        p->eof[which] = TRUE;
        return;
    }
    if (p->reading[which] || p->eof[which] || backed_up (p))
        return;
    p->reading[which] = TRUE;
    g_input_stream_read_bytes_async (in, READ_CHUNK, G_PRIORITY_DEFAULT, p->cancellable, read_done,
                                     proc_ref (p));
}

static void
wait_done (GObject *source, GAsyncResult *result, gpointer data)
{
    Proc *p = data;
    g_autoptr (GError) error = NULL;

    if (!boxlite_execution_wait_finish (p->execution, result, &error)) {
        p->exit_code = -1;
        p->error = g_strdup (error->message);
    } else if (boxlite_execution_get_term_signal (p->execution)) {
        p->exit_code = 128 + boxlite_execution_get_term_signal (p->execution);
    } else {
        p->exited = TRUE;
        p->exit_code = boxlite_execution_get_exit_code (p->execution);
    }
    p->done = TRUE;
    maybe_finish (p);
    proc_unref (p);
}

static void write_input (Proc *p);

static void
input_written (GObject *source, GAsyncResult *result, gpointer data)
{
    Proc *p = data;
    g_autoptr (GBytes) bytes = g_queue_pop_head (&p->input);

    p->writing = FALSE;
    p->input_queued -= g_bytes_get_size (bytes);
    if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL)) {
        g_queue_clear_full (&p->input, (GDestroyNotify) g_bytes_unref);
        p->input_queued = 0;
        p->input_closed = TRUE;
    }
    write_input (p);
    proc_unref (p);
}

static void
write_input (Proc *p)
{
    GOutputStream *in = boxlite_execution_get_stdin (p->execution);

    if (p->writing || p->input_closed || !in)
        return;
    GBytes *next = g_queue_peek_head (&p->input);
    if (next) {
        p->writing = TRUE;
        g_output_stream_write_all_async (in, g_bytes_get_data (next, NULL), g_bytes_get_size (next),
                                         G_PRIORITY_DEFAULT, p->cancellable, input_written,
                                         proc_ref (p));
    } else if (p->close_input) {
        p->input_closed = TRUE;
        g_output_stream_close_async (in, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
    }
}

/* A keepalive event, so that nothing between the client and us takes a
 * quiet command's stream for a dead one. */
static gboolean
send_keepalive (gpointer data)
{
    Stream *s = data;
    g_autoptr (GByteArray) out = g_byte_array_new ();

    if (s->queued <= MAX_QUEUED) {
        add_event (out, "keepalive", json_object_new ());
        stream_append (s, out, FALSE);
    }
    return G_SOURCE_CONTINUE;
}

/* A new stream on @p, its answer begun with the start event. */
static void
open_stream (Proc *p, SoupServerMessage *msg)
{
    Stream *s = g_new0 (Stream, 1);
    SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
    g_autoptr (GByteArray) out = g_byte_array_new ();

    s->proc = p;
    s->msg = g_object_ref (msg);
    soup_message_headers_set_content_type (headers, "application/connect+json", NULL);
    soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
    soup_message_body_set_accumulate (soup_server_message_get_response_body (msg), FALSE);
    g_signal_connect (msg, "finished", G_CALLBACK (stream_finished), s);
    g_signal_connect (msg, "wrote-body-data", G_CALLBACK (stream_wrote), s);
    g_ptr_array_add (p->streams, s);
    /* The SDK asks for one every N seconds (Keepalive-Ping-Interval). */
    const char *every = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                      "Keepalive-Ping-Interval");
    guint64 seconds = every ? g_ascii_strtoull (every, NULL, 10) : 0;
    if (seconds >= 1 && seconds <= 3600) {
        s->keepalive = g_timeout_source_new_seconds ((guint) seconds);
        g_source_set_callback (s->keepalive, send_keepalive, s, NULL);
        g_source_attach (s->keepalive, g_main_context_get_thread_default ());
    }
    add_start (out, p);
    stream_append (s, out, FALSE);
}

/* The process a request's "process" selector names, or NULL with not_found
 * answered. */
static Proc *
find_proc (BlServeCall *call, JsonObject *req)
{
    JsonNode *sel = json_object_get_member (req, "process");
    JsonObject *o = sel && JSON_NODE_HOLDS_OBJECT (sel) ? json_node_get_object (sel) : NULL;
    JsonNode *pid = o ? json_object_get_member (o, "pid") : NULL;
    JsonNode *tag = o ? json_object_get_member (o, "tag") : NULL;

    if (!procs || !call->args[0])
        goto none;
    if (pid && JSON_NODE_HOLDS_VALUE (pid) && json_node_get_value_type (pid) == G_TYPE_INT64) {
        g_autofree char *key =
            g_strdup_printf ("%s/%" G_GINT64_FORMAT, call->args[0], json_node_get_int (pid));
        Proc *p = g_hash_table_lookup (procs, key);
        if (p)
            return p;
    } else if (tag && JSON_NODE_HOLDS_VALUE (tag) &&
               json_node_get_value_type (tag) == G_TYPE_STRING) {
        GHashTableIter iter;
        gpointer value;
        g_hash_table_iter_init (&iter, procs);
        while (g_hash_table_iter_next (&iter, NULL, &value)) {
            Proc *p = value;
            if (p->tag && g_str_equal (p->sandbox_id, call->args[0]) &&
                g_str_equal (p->tag, json_node_get_string (tag)))
                return p;
        }
    } else {
        bl_e2b_connect_reply_error (call, "invalid_argument", "process needs a pid or a tag");
        return NULL;
    }
none:
    bl_e2b_connect_reply_error (call, "not_found", "no such process");
    return NULL;
}

/* find_proc() for calls that act on a running command: one that has
 * ended is not_found like one gone. */
static Proc *
find_live_proc (BlServeCall *call, JsonObject *req)
{
    Proc *p = find_proc (call, req);

    if (p && p->done) {
        bl_e2b_connect_reply_error (call, "not_found", "the process has ended");
        return NULL;
    }
    return p;
}

typedef struct {
    BoxliteExecution *execution;
    JsonNode *config;
    char *tag;
    gboolean stdin_open;
    gboolean pty;
} Started;

static void
started_free (gpointer data)
{
    Started *st = data;

    g_clear_object (&st->execution);
    g_clear_pointer (&st->config, json_node_unref);
    g_free (st->tag);
    g_free (st);
}

/* On the main context: the process joins the table and Start's stream
 * begins. */
static void
register_process (BlServeCall *call)
{
    Started *st = call->then_data;
    Proc *p = g_new0 (Proc, 1);

    if (!procs)
        procs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) proc_unref);
    p->refs = 1;
    p->sandbox_id = g_strdup (call->args[0]);
    p->pid = boxlite_execution_get_pid (st->execution);
    p->pty = st->pty;
    p->key = g_strdup_printf ("%s/%d", p->sandbox_id, p->pid);
    p->tag = g_steal_pointer (&st->tag);
    p->config = g_steal_pointer (&st->config);
    p->execution = g_steal_pointer (&st->execution);
    p->cancellable = g_cancellable_new ();
    p->streams = g_ptr_array_new_with_free_func (stream_free);
    g_queue_init (&p->input);
    g_hash_table_replace (procs, p->key, p);
    /* A terminal's input stays open: closing it would type Ctrl-D. */
    if (!st->stdin_open && !st->pty) {
        p->close_input = TRUE;
        write_input (p);
    }
    open_stream (p, call->msg);
    /* apply_reply() sets only the status: the body is the stream's. */
    call->status = SOUP_STATUS_OK;
    boxlite_execution_wait_async (p->execution, p->cancellable, wait_done, proc_ref (p));
    read_more (p, 0);
    read_more (p, 1);
}

/* A stream's answer that is only an error, in its end-of-stream message. */
static void
reply_stream_error (BlServeCall *call, const char *code, const char *message)
{
    g_autoptr (GByteArray) out = g_byte_array_new ();
    g_autoptr (JsonNode) error = bl_e2b_connect_error_json (code, message);
    JsonObject *end = json_object_new ();
    g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), end);

    json_object_set_member (end, "error", json_node_ref (error));
    json_object_unref (end);
    bl_e2b_envelope_append_json (out, BL_E2B_ENVELOPE_END_STREAM, node);
    bl_serve_reply_bytes (call, SOUP_STATUS_OK, "application/connect+json",
                          g_byte_array_free_to_bytes (g_steal_pointer (&out)));
}

/* The request message of a stream call, or NULL with an error answered. */
static JsonObject *
stream_request (BlServeCall *call, JsonParser *parser)
{
    const guint8 *message;
    gsize message_len, len;
    const guint8 *data = g_bytes_get_data (call->body, &len);
    const char *why = bl_e2b_envelope_read (data, len, &message, &message_len);

    if (why) {
        reply_stream_error (call, "invalid_argument", why);
        return NULL;
    }
    if (!json_parser_load_from_data (parser, (const char *) message, (gssize) message_len, NULL) ||
        !json_parser_get_root (parser) || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
        reply_stream_error (call, "invalid_argument", "malformed JSON message");
        return NULL;
    }
    return json_node_get_object (json_parser_get_root (parser));
}

static gboolean
string_member (JsonObject *o, const char *name, const char **value)
{
    JsonNode *node = json_object_get_member (o, name);

    *value = NULL;
    if (!node || JSON_NODE_HOLDS_NULL (node))
        return TRUE;
    if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        return FALSE;
    *value = json_node_get_string (node);
    return TRUE;
}

/* The size of a PTY message ({"size": {"cols", "rows"}}); FALSE with
 * @why when it is missing or not a terminal's. */
static gboolean
pty_size (JsonNode *pty, guint *rows, guint *cols, const char **why)
{
    JsonObject *o = JSON_NODE_HOLDS_OBJECT (pty) ? json_node_get_object (pty) : NULL;
    JsonNode *size = o ? json_object_get_member (o, "size") : NULL;
    JsonObject *s = size && JSON_NODE_HOLDS_OBJECT (size) ? json_node_get_object (size) : NULL;
    const char *const names[] = { "rows", "cols" };
    guint *values[] = { rows, cols };

    *why = "pty.size needs cols and rows, each from 1 to 65535";
    for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
        JsonNode *n = s ? json_object_get_member (s, names[i]) : NULL;
        if (!n || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64 ||
            json_node_get_int (n) < 1 || json_node_get_int (n) > PTY_MAX)
            return FALSE;
        *values[i] = (guint) json_node_get_int (n);
    }
    return TRUE;
}

/* The command of a StartRequest, or NULL with @why set. */
static BoxliteCommand *
command_from_request (JsonObject *req, const char **why)
{
    JsonNode *process = json_object_get_member (req, "process");
    const char *cmd = NULL, *cwd = NULL;
    guint rows = 0, cols = 0;

    if (!process || !JSON_NODE_HOLDS_OBJECT (process)) {
        *why = "process is required";
        return NULL;
    }
    JsonObject *p = json_node_get_object (process);
    if (!string_member (p, "cmd", &cmd) || !cmd || !*cmd) {
        *why = "process.cmd must be a non-empty string";
        return NULL;
    }
    if (!string_member (p, "cwd", &cwd)) {
        *why = "process.cwd must be a string";
        return NULL;
    }
    JsonNode *pty = json_object_get_member (req, "pty");
    if (pty && JSON_NODE_HOLDS_NULL (pty))
        pty = NULL;
    if (pty && !pty_size (pty, &rows, &cols, why))
        return NULL;
    g_autoptr (GPtrArray) argv = g_ptr_array_new ();
    g_ptr_array_add (argv, (gpointer) cmd);
    JsonNode *args = json_object_get_member (p, "args");
    if (args && !JSON_NODE_HOLDS_NULL (args)) {
        JsonArray *a = JSON_NODE_HOLDS_ARRAY (args) ? json_node_get_array (args) : NULL;
        for (guint i = 0; a && i < json_array_get_length (a); i++) {
            JsonNode *arg = json_array_get_element (a, i);
            if (!JSON_NODE_HOLDS_VALUE (arg) || json_node_get_value_type (arg) != G_TYPE_STRING)
                a = NULL;
            else
                g_ptr_array_add (argv, (gpointer) json_node_get_string (arg));
        }
        if (!a) {
            *why = "process.args must be an array of strings";
            return NULL;
        }
    }
    g_ptr_array_add (argv, NULL);
    g_autoptr (BoxliteCommand) command = boxlite_command_new ((const char *const *) argv->pdata);
    JsonNode *envs = json_object_get_member (p, "envs");
    if (envs && !JSON_NODE_HOLDS_NULL (envs)) {
        if (!JSON_NODE_HOLDS_OBJECT (envs)) {
            *why = "process.envs must be an object of strings";
            return NULL;
        }
        g_autoptr (GStrvBuilder) env = g_strv_builder_new ();
        JsonObjectIter iter;
        const char *name;
        JsonNode *value;
        json_object_iter_init (&iter, json_node_get_object (envs));
        while (json_object_iter_next (&iter, &name, &value)) {
            if (!JSON_NODE_HOLDS_VALUE (value) ||
                json_node_get_value_type (value) != G_TYPE_STRING || !*name || strchr (name, '=')) {
                *why = "process.envs must be an object of strings";
                return NULL;
            }
            g_autofree char *entry = g_strdup_printf ("%s=%s", name, json_node_get_string (value));
            g_strv_builder_add (env, entry);
        }
        g_auto (GStrv) list = g_strv_builder_end (env);
        boxlite_command_set_env (command, (const char *const *) list);
    }
    boxlite_command_set_working_dir (command, cwd);
    boxlite_command_set_stdin (command, TRUE);
    if (pty) {
        boxlite_command_set_tty (command, TRUE);
        boxlite_command_set_tty_size (command, rows, cols);
    }
    return g_steal_pointer (&command);
}

/* On a worker thread: the command started in the box. */
static void
process_start (BlServeCall *call)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonObject *req = stream_request (call, parser);
    const char *why = NULL, *tag = NULL;
    g_autoptr (GError) error = NULL;

    if (!req)
        return;
    g_autoptr (BoxliteCommand) command = command_from_request (req, &why);
    g_autofree char *user = NULL;
    if (!command || (why = bl_e2b_basic_user (call->args[1], &user))) {
        reply_stream_error (call, "invalid_argument", why);
        return;
    }
    /* The box says whether the user exists. */
    boxlite_command_set_user (command, user);
    if (!string_member (req, "tag", &tag)) {
        reply_stream_error (call, "invalid_argument", "tag must be a string");
        return;
    }
    JsonNode *stdin_node = json_object_get_member (req, "stdin");
    gboolean stdin_open = stdin_node && JSON_NODE_HOLDS_VALUE (stdin_node) &&
                          json_node_get_value_type (stdin_node) == G_TYPE_BOOLEAN &&
                          json_node_get_boolean (stdin_node);
    g_autoptr (BoxliteBox) box = bl_e2b_sandbox_box (call, call->args[0]);
    if (!box)
        return;
    g_autoptr (BoxliteExecution) execution = boxlite_box_exec (box, command, NULL, &error);
    bl_serve_stats_exec (bl_serve_get_stats (call->serve), boxlite_box_get_id (box),
                         execution != NULL);
    if (!execution) {
        reply_stream_error (call, bl_e2b_connect_code (error), error->message);
        return;
    }
    Started *st = g_new0 (Started, 1);
    st->execution = g_steal_pointer (&execution);
    st->config = json_node_copy (json_object_get_member (req, "process"));
    st->tag = g_strdup (tag);
    st->stdin_open = stdin_open;
    st->pty = boxlite_command_get_tty (command);
    call->then = register_process;
    call->then_data = st;
    call->then_data_free = started_free;
}

static void
process_start_main (BlServeCall *call)
{
    if (bl_e2b_take_sandbox_id (call))
        bl_serve_call_run_in_thread (call, process_start);
}

static void
process_connect (BlServeCall *call)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonObject *req;
    Proc *p;

    if (!bl_e2b_take_sandbox_id (call) || !(req = stream_request (call, parser)))
        return;
    if (!(p = find_proc (call, req))) {
        /* find_proc answered as a unary call; a stream says it at its end. */
        g_clear_pointer (&call->reply, json_node_unref);
        reply_stream_error (call, "not_found", "no such process");
        return;
    }
    open_stream (p, call->msg);
    call->status = SOUP_STATUS_OK;
}

static void
process_list (BlServeCall *call)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (JsonBuilder) b = json_builder_new ();

    if (!bl_e2b_take_sandbox_id (call) || !bl_e2b_unary_request (call, parser))
        return;
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "processes");
    json_builder_begin_array (b);
    if (procs) {
        GHashTableIter iter;
        gpointer value;
        g_hash_table_iter_init (&iter, procs);
        while (g_hash_table_iter_next (&iter, NULL, &value)) {
            Proc *p = value;
            if (!g_str_equal (p->sandbox_id, call->args[0]) || p->done)
                continue;
            json_builder_begin_object (b);
            json_builder_set_member_name (b, "config");
            json_builder_add_value (b, json_node_copy (p->config));
            json_builder_set_member_name (b, "pid");
            json_builder_add_int_value (b, p->pid);
            if (p->tag) {
                json_builder_set_member_name (b, "tag");
                json_builder_add_string_value (b, p->tag);
            }
            json_builder_end_object (b);
        }
    }
    json_builder_end_array (b);
    json_builder_end_object (b);
    bl_serve_reply_builder (call, SOUP_STATUS_OK, b);
}

static void
reply_empty (BlServeCall *call)
{
    bl_serve_reply_json (call, SOUP_STATUS_OK,
                         json_node_init_object (json_node_alloc (), json_object_new ()));
}

static void
process_send_input (BlServeCall *call)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonObject *req;
    Proc *p;
    const char *b64 = NULL;

    if (!bl_e2b_take_sandbox_id (call) || !(req = bl_e2b_unary_request (call, parser)) ||
        !(p = find_live_proc (call, req)))
        return;
    /* A terminal takes input.pty, any other process input.stdin. */
    const char *want = p->pty ? "pty" : "stdin";
    JsonNode *input = json_object_get_member (req, "input");
    if (!input || !JSON_NODE_HOLDS_OBJECT (input) ||
        !string_member (json_node_get_object (input), want, &b64) || !b64) {
        bl_e2b_connect_reply_error (call, "invalid_argument", "input.%s (base64) is required%s",
                                    want, p->pty ? ": the process runs on a terminal" : "");
        return;
    }
    gsize len;
    g_autofree guchar *data = g_base64_decode (b64, &len);
    if (p->close_input || p->input_closed || !boxlite_execution_get_stdin (p->execution)) {
        bl_e2b_connect_reply_error (call, "failed_precondition", "the process's stdin is closed");
        return;
    }
    if (p->input_queued + len > MAX_STDIN_QUEUED) {
        bl_e2b_connect_reply_error (call, "resource_exhausted", "too much stdin waiting");
        return;
    }
    if (len) {
        g_queue_push_tail (&p->input, g_bytes_new_take (g_steal_pointer (&data), len));
        p->input_queued += len;
        write_input (p);
    }
    reply_empty (call);
}

static void
process_close_stdin (BlServeCall *call)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonObject *req;
    Proc *p;

    if (!bl_e2b_take_sandbox_id (call) || !(req = bl_e2b_unary_request (call, parser)) ||
        !(p = find_proc (call, req)))
        return;
    p->close_input = TRUE;
    write_input (p);
    reply_empty (call);
}

static void
process_send_signal (BlServeCall *call)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (GError) error = NULL;
    JsonObject *req;
    Proc *p;

    if (!bl_e2b_take_sandbox_id (call) || !(req = bl_e2b_unary_request (call, parser)) ||
        !(p = find_proc (call, req)))
        return;
    JsonNode *node = json_object_get_member (req, "signal");
    gint sig = 0;
    if (node && JSON_NODE_HOLDS_VALUE (node)) {
        if (json_node_get_value_type (node) == G_TYPE_STRING) {
            const char *name = json_node_get_string (node);
            sig = g_str_equal (name, "SIGNAL_SIGKILL")   ? SIGKILL
                  : g_str_equal (name, "SIGNAL_SIGTERM") ? SIGTERM
                                                         : 0;
        } else if (json_node_get_value_type (node) == G_TYPE_INT64) {
            gint64 n = json_node_get_int (node);
            sig = n == SIGKILL || n == SIGTERM ? (gint) n : 0;
        }
    }
    if (!sig) {
        bl_e2b_connect_reply_error (call, "invalid_argument",
                                    "signal must be SIGNAL_SIGKILL or SIGNAL_SIGTERM");
        return;
    }
    if (!p->done && !boxlite_execution_kill (p->execution, sig, &error)) {
        bl_e2b_connect_reply_error (call, bl_e2b_connect_code (error), "%s", error->message);
        return;
    }
    reply_empty (call);
}

/* Update: a new size for the process's terminal; without a pty there is
 * nothing to change. */
static void
process_update (BlServeCall *call)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (GError) error = NULL;
    JsonObject *req;
    Proc *p;
    guint rows, cols;
    const char *why;

    if (!bl_e2b_take_sandbox_id (call) || !(req = bl_e2b_unary_request (call, parser)) ||
        !(p = find_live_proc (call, req)))
        return;
    JsonNode *pty = json_object_get_member (req, "pty");
    if (pty && !JSON_NODE_HOLDS_NULL (pty)) {
        if (!pty_size (pty, &rows, &cols, &why)) {
            bl_e2b_connect_reply_error (call, "invalid_argument", "%s", why);
            return;
        }
        if (!p->pty) {
            bl_e2b_connect_reply_error (call, "failed_precondition",
                                        "the process does not run on a terminal");
            return;
        }
        if (!boxlite_execution_resize (p->execution, rows, cols, &error)) {
            bl_e2b_connect_reply_error (call, bl_e2b_connect_code (error), "%s", error->message);
            return;
        }
    }
    reply_empty (call);
}

void
bl_e2b_processes_clear (void)
{
    if (!procs)
        return;
    GHashTableIter iter;
    gpointer value;
    g_hash_table_iter_init (&iter, procs);
    while (g_hash_table_iter_next (&iter, NULL, &value)) {
        Proc *p = value;
        /* The server's connections are gone: no stream is written again. */
        g_ptr_array_set_size (p->streams, 0);
        g_cancellable_cancel (p->cancellable);
    }
    g_clear_pointer (&procs, g_hash_table_unref);
}

const BlServeRoute bl_e2b_process_routes[] = {
    { "POST", "/process.Process/Start", process_start_main, BL_SERVE_ROUTE_MAIN },
    { "POST", "/process.Process/Connect", process_connect, BL_SERVE_ROUTE_MAIN },
    { "POST", "/process.Process/List", process_list, BL_SERVE_ROUTE_MAIN },
    { "POST", "/process.Process/SendInput", process_send_input, BL_SERVE_ROUTE_MAIN },
    { "POST", "/process.Process/SendSignal", process_send_signal, BL_SERVE_ROUTE_MAIN },
    { "POST", "/process.Process/CloseStdin", process_close_stdin, BL_SERVE_ROUTE_MAIN },
    { "POST", "/process.Process/Update", process_update, BL_SERVE_ROUTE_MAIN },
    { "POST", "/process.Process/StreamInput", bl_e2b_unimplemented, BL_SERVE_ROUTE_MAIN },
};
const guint bl_e2b_process_n_routes = G_N_ELEMENTS (bl_e2b_process_routes);

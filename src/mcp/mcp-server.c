/* mcp-server.c: `boxlite mcp`, the Model Context Protocol on stdio.
 *
 * Messages are JSON-RPC 2.0 objects, one per line, in both directions.
 * The client is an agent's host program; what it sends is read with a
 * bound on each line (BL_MCP_LINE_MAX) and checked before anything acts on
 * it: a fault in a message gets its JSON-RPC error and the next line is
 * read as if nothing happened.
 *
 * Threading: everything here runs on the caller's thread-default main
 * context, which keeps reading while tools run. A tools/call runs on a
 * GTask worker thread with the library's blocking calls and completes back
 * here, where its reply is written; at most BL_MCP_CALLS_MAX run at once,
 * and replies go out in the order calls end, not the order they came.
 * notifications/cancelled cancels a running call, which then gets no
 * reply (as MCP asks). When the input ends, the calls still running are
 * answered as they end and then we return; a signal (which MCP's clients
 * send when that takes too long) or a client that stopped reading cancels
 * them instead, and they are waited for all the same, so that commands
 * are killed and boxes made for one call are removed before we return. */
#define G_LOG_DOMAIN "boxlite-mcp"

#include <errno.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <signal.h>
#include <unistd.h>

#include "fd-io.h"
#include "mcp-lines.h"
#include "mcp-rpc.h"
#include "mcp-schema.h"
#include "mcp-server.h"
#include "mcp-tools.h"

#ifndef BOXLITE_VERSION
#define BOXLITE_VERSION "unknown"
#endif

#define READ_CHUNK (64 * 1024)
/* The revision from which invalid tool arguments are the tool's error
 * (isError), which the model sees, rather than a protocol error. */
#define TOOL_ARGS_AS_RESULT_SINCE "2025-11-25"

/* The revisions we speak, newest first. A tools-only server sends the same
 * messages in each: what changed between them (batches, structured
 * output, tasks, elicitation) are things we neither send nor ask for. */
static const char *const protocol_versions[] = {
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    "2024-11-05",
};

static const char instructions[] =
    "boxlite runs code in lightweight virtual machines (boxes). run_code runs a Python "
    "program or a shell script in a fresh box that is removed afterwards. For work over "
    "several calls, create_box makes a box, then exec, write_file, read_file and "
    "list_files use it by name, and remove_box deletes it.";

typedef struct {
    BoxliteRuntime *runtime;
    GMainContext *context;
    GInputStream *input;
    GCancellable *reading;
    gboolean read_pending;
    BlMcpLines lines;
    guint8 buf[READ_CHUNK];
    int out_fd;
    gboolean out_broken;
    GHashTable *calls; /* id key → Call, the tool calls running */
    char *version;     /* negotiated by initialize, NULL before */
    gboolean closing;
    int status;
} Server;

typedef struct {
    Server *server;
    JsonNode *id;
    char *key;
    BlMcpToolFunc func;
    JsonObject *args;
    GCancellable *cancellable;
    gboolean silent; /* cancelled by the client, or the client is gone */
    BlMcpResult result;
} Call;

static void begin_close (Server *server, gboolean cancel_calls);

static void
call_free (Call *call)
{
    json_node_unref (call->id);
    g_free (call->key);
    json_object_unref (call->args);
    g_object_unref (call->cancellable);
    bl_mcp_result_clear (&call->result);
    g_free (call);
}

/* Writes @line and frees it; a client that stopped reading ends the
 * server. */
static void
send_line (Server *server, char *line)
{
    gboolean written = server->out_broken || bl_fd_write_all (server->out_fd, line, strlen (line));

    g_free (line);
    if (written)
        return;
    g_warning ("cannot write to the client: %s", g_strerror (errno));
    server->out_broken = TRUE;
    server->status = 1;
    begin_close (server, TRUE);
}

static void
send_result (Server *server, JsonNode *id, JsonNode *result)
{
    send_line (server, bl_mcp_reply_result (id, result));
}

static void send_error (Server *server, JsonNode *id, int code, const char *format, ...)
    G_GNUC_PRINTF (4, 5);

static void
send_error (Server *server, JsonNode *id, int code, const char *format, ...)
{
    va_list ap;

    va_start (ap, format);
    g_autofree char *message = g_strdup_vprintf (format, ap);
    va_end (ap);
    send_line (server, bl_mcp_reply_error (id, code, message));
}

static JsonNode *
empty_object (void)
{
    JsonNode *node = json_node_new (JSON_NODE_OBJECT);

    json_node_take_object (node, json_object_new ());
    return node;
}

static const char *
supported_version (const char *wanted)
{
    for (guint i = 0; i < G_N_ELEMENTS (protocol_versions); i++) {
        if (g_str_equal (protocol_versions[i], wanted))
            return protocol_versions[i];
    }
    return NULL;
}

/* Answers with the revision the client asked for when we speak it, else
 * with our newest, which the client may refuse by disconnecting. */
static void
handle_initialize (Server *server, BlMcpMessage *msg)
{
    JsonNode *member = msg->params ? json_object_get_member (msg->params, "protocolVersion") : NULL;

    if (!member || !JSON_NODE_HOLDS_VALUE (member) ||
        json_node_get_value_type (member) != G_TYPE_STRING) {
        send_error (server, msg->id, BL_MCP_INVALID_PARAMS,
                    "initialize needs \"protocolVersion\", a string");
        return;
    }
    if (server->version) {
        send_error (server, msg->id, BL_MCP_INVALID_REQUEST, "already initialized");
        return;
    }
    const char *wanted = json_node_get_string (member);
    const char *version = supported_version (wanted);
    server->version = g_strdup (version ? version : protocol_versions[0]);

    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "protocolVersion");
    json_builder_add_string_value (b, server->version);
    json_builder_set_member_name (b, "capabilities");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "tools");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "listChanged");
    json_builder_add_boolean_value (b, FALSE);
    json_builder_end_object (b);
    json_builder_end_object (b);
    json_builder_set_member_name (b, "serverInfo");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, "boxlite");
    json_builder_set_member_name (b, "version");
    json_builder_add_string_value (b, BOXLITE_VERSION);
    json_builder_end_object (b);
    json_builder_set_member_name (b, "instructions");
    json_builder_add_string_value (b, instructions);
    json_builder_end_object (b);
    g_autoptr (JsonNode) result = json_builder_get_root (b);
    send_result (server, msg->id, result);
    g_debug ("initialized: protocol %s (the client asked for %.64s)", server->version, wanted);
}

static void
call_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
    Call *call = task_data;

    call->func (call->server->runtime, call->args, cancellable, &call->result);
    g_task_return_boolean (task, TRUE);
}

static void
on_call_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
    Call *call = g_task_get_task_data (G_TASK (res));
    Server *server = call->server;

    g_hash_table_remove (server->calls, call->key);
    if (call->silent) {
        g_debug ("call %s cancelled: no reply", call->key);
        return;
    }
    g_autoptr (JsonNode) result = bl_mcp_result_to_json (&call->result);
    send_result (server, call->id, result);
}

/* A tool's arguments that do not fit its schema: since 2025-11-25 the
 * tool's own error, so that the model reads why; before, a protocol error. */
static void
refuse_arguments (Server *server, JsonNode *id, const GError *error)
{
    if (g_strcmp0 (server->version, TOOL_ARGS_AS_RESULT_SINCE) >= 0) {
        g_auto (BlMcpResult) result = { NULL, FALSE };
        bl_mcp_result_init (&result);
        bl_mcp_result_fail (&result, error);
        g_autoptr (JsonNode) node = bl_mcp_result_to_json (&result);
        send_result (server, id, node);
        return;
    }
    send_error (server, id, BL_MCP_INVALID_PARAMS, "%s", error->message);
}

static void
handle_call (Server *server, BlMcpMessage *msg)
{
    JsonNode *name_node = msg->params ? json_object_get_member (msg->params, "name") : NULL;
    JsonNode *args = msg->params ? json_object_get_member (msg->params, "arguments") : NULL;
    g_autoptr (GError) error = NULL;

    if (!name_node || !JSON_NODE_HOLDS_VALUE (name_node) ||
        json_node_get_value_type (name_node) != G_TYPE_STRING) {
        send_error (server, msg->id, BL_MCP_INVALID_PARAMS, "tools/call needs \"name\", a string");
        return;
    }
    if (args && !JSON_NODE_HOLDS_OBJECT (args)) {
        send_error (server, msg->id, BL_MCP_INVALID_PARAMS, "\"arguments\" must be an object");
        return;
    }
    const char *name = json_node_get_string (name_node);
    JsonObject *schema = bl_mcp_tool_schema (name);
    if (!schema) {
        send_error (server, msg->id, BL_MCP_INVALID_PARAMS, "unknown tool '%.64s'", name);
        return;
    }
    g_autoptr (JsonNode) empty = args ? NULL : empty_object ();
    if (!bl_mcp_schema_check (schema, args ? args : empty, "arguments", &error)) {
        refuse_arguments (server, msg->id, error);
        return;
    }
    g_autofree char *key = bl_mcp_id_key (msg->id);
    if (g_hash_table_contains (server->calls, key)) {
        send_error (server, msg->id, BL_MCP_INVALID_REQUEST,
                    "id %.64s is used by a call still running", key);
        return;
    }
    if (g_hash_table_size (server->calls) >= BL_MCP_CALLS_MAX) {
        send_error (server, msg->id, BL_MCP_SERVER_BUSY,
                    "%u tool calls are running; try again when one has ended", BL_MCP_CALLS_MAX);
        return;
    }

    Call *call = g_new0 (Call, 1);
    call->server = server;
    call->id = json_node_ref (msg->id);
    call->key = g_steal_pointer (&key);
    call->func = bl_mcp_tool_func (name);
    call->args =
        json_object_ref (args ? json_node_get_object (args) : json_node_get_object (empty));
    call->cancellable = g_cancellable_new ();
    bl_mcp_result_init (&call->result);
    g_hash_table_insert (server->calls, call->key, call);
    g_debug ("call %s: %s", call->key, name);

    g_autoptr (GTask) task = g_task_new (NULL, call->cancellable, on_call_done, NULL);
    g_task_set_task_data (task, call, (GDestroyNotify) call_free);
    /* The call's own result stands: it is made only once the tool undid
     * what a cancellation left half-done. */
    g_task_set_check_cancellable (task, FALSE);
    g_task_run_in_thread (task, call_thread);
}

static void
handle_request (Server *server, BlMcpMessage *msg)
{
    if (g_str_equal (msg->method, "initialize")) {
        handle_initialize (server, msg);
    } else if (g_str_equal (msg->method, "ping")) {
        g_autoptr (JsonNode) result = empty_object ();
        send_result (server, msg->id, result);
    } else if (!server->version && (g_str_equal (msg->method, "tools/list") ||
                                    g_str_equal (msg->method, "tools/call"))) {
        send_error (server, msg->id, BL_MCP_INVALID_REQUEST, "send initialize first");
    } else if (g_str_equal (msg->method, "tools/list")) {
        send_result (server, msg->id, bl_mcp_tools_list ());
    } else if (g_str_equal (msg->method, "tools/call")) {
        handle_call (server, msg);
    } else {
        send_error (server, msg->id, BL_MCP_METHOD_NOT_FOUND, "unknown method '%.64s'",
                    msg->method);
    }
}

/* notifications/cancelled: the call it names ends without a reply. */
static void
handle_cancelled (Server *server, BlMcpMessage *msg)
{
    JsonNode *id = msg->params ? json_object_get_member (msg->params, "requestId") : NULL;

    if (!id || !JSON_NODE_HOLDS_VALUE (id))
        return;
    g_autofree char *key = bl_mcp_id_key (id);
    Call *call = g_hash_table_lookup (server->calls, key);
    if (!call)
        return; /* ended already, or never ran: nothing to do */
    g_debug ("call %s: cancelled by the client", key);
    call->silent = TRUE;
    g_cancellable_cancel (call->cancellable);
}

static void
on_line (const char *line, gsize len, gboolean overlong, gpointer user_data)
{
    Server *server = user_data;
    g_auto (BlMcpMessage) msg = { 0 };
    g_autoptr (GError) error = NULL;

    if (server->closing)
        return;
    if (overlong) {
        send_error (server, NULL, BL_MCP_INVALID_REQUEST,
                    "a message longer than %u bytes was dropped", BL_MCP_LINE_MAX);
        return;
    }
    if (len == strspn (line, " \t\r"))
        return; /* blank lines carry nothing */
    if (!bl_mcp_message_parse (line, len, &msg, &error)) {
        /* A notification gets no reply, even to say it was wrong. */
        if (error->code != BL_MCP_INVALID_PARAMS || msg.id)
            send_error (server, msg.id, error->code, "%s", error->message);
        return;
    }
    switch (msg.kind) {
    case BL_MCP_MESSAGE_REQUEST:
        handle_request (server, &msg);
        break;
    case BL_MCP_MESSAGE_NOTIFICATION:
        if (g_str_equal (msg.method, "notifications/cancelled"))
            handle_cancelled (server, &msg);
        break;
    case BL_MCP_MESSAGE_RESPONSE:
        break; /* we send no requests */
    }
}

static void read_next (Server *server);

static void
on_read (GObject *source, GAsyncResult *res, gpointer user_data)
{
    Server *server = user_data;
    g_autoptr (GError) error = NULL;
    gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), res, &error);

    server->read_pending = FALSE;
    if (n > 0) {
        bl_mcp_lines_feed (&server->lines, server->buf, (gsize) n, on_line, server);
        read_next (server);
        return;
    }
    if (n == 0) {
        bl_mcp_lines_finish (&server->lines, on_line, server);
        g_debug ("the client closed its end");
        begin_close (server, FALSE);
        return;
    }
    if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_warning ("cannot read from the client: %s", error->message);
        server->status = 1;
    }
    begin_close (server, TRUE);
}

static void
read_next (Server *server)
{
    if (server->closing)
        return;
    server->read_pending = TRUE;
    g_input_stream_read_async (server->input, server->buf, sizeof server->buf, G_PRIORITY_DEFAULT,
                               server->reading, on_read, server);
}

/* No more messages are read; with @cancel_calls, every call still running
 * is cancelled, and will not be answered. */
static void
begin_close (Server *server, gboolean cancel_calls)
{
    GHashTableIter iter;
    Call *call;

    if (!server->closing) {
        server->closing = TRUE;
        g_cancellable_cancel (server->reading);
    }
    if (!cancel_calls)
        return;
    g_hash_table_iter_init (&iter, server->calls);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &call)) {
        call->silent = TRUE;
        g_cancellable_cancel (call->cancellable);
    }
}

static gboolean
on_signal (gpointer user_data)
{
    Server *server = user_data;

    g_debug ("a signal asked us to stop");
    begin_close (server, TRUE);
    return G_SOURCE_CONTINUE;
}

int
bl_mcp_serve (BoxliteRuntime *runtime, int in_fd, int out_fd)
{
    Server server = { 0 };
    const int signals[] = { SIGINT, SIGTERM, SIGHUP };
    GSource *sources[G_N_ELEMENTS (signals)];

    server.runtime = runtime;
    server.context = g_main_context_ref_thread_default ();
    server.input = g_unix_input_stream_new (in_fd, TRUE);
    server.reading = g_cancellable_new ();
    server.out_fd = out_fd;
    server.calls = g_hash_table_new (g_str_hash, g_str_equal);
    bl_mcp_lines_init (&server.lines, BL_MCP_LINE_MAX);
    for (guint i = 0; i < G_N_ELEMENTS (signals); i++) {
        sources[i] = g_unix_signal_source_new (signals[i]);
        g_source_set_callback (sources[i], on_signal, &server, NULL);
        g_source_attach (sources[i], server.context);
    }
    (void) bl_mcp_tools_list (); /* the tool table is checked before any client sees it */

    read_next (&server);
    while (!server.closing || server.read_pending || g_hash_table_size (server.calls) > 0)
        g_main_context_iteration (server.context, TRUE);

    for (guint i = 0; i < G_N_ELEMENTS (signals); i++) {
        g_source_destroy (sources[i]);
        g_source_unref (sources[i]);
    }
    bl_mcp_lines_clear (&server.lines);
    g_hash_table_unref (server.calls);
    g_object_unref (server.reading);
    g_object_unref (server.input);
    g_free (server.version);
    close (out_fd);
    g_main_context_unref (server.context);
    return server.status;
}

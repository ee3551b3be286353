/* test-mcp-wire.c: `boxlite mcp` fed what a broken or hostile client may
 * send, through the real binary's stdin and stdout: text that is not
 * JSON, JSON that is not a message, lines longer than the bound, unknown
 * methods, members of the wrong type. Each must get the JSON-RPC error
 * that names it (or, for a notification, no reply), the server must keep
 * answering, stdout must carry nothing but protocol messages, and the
 * process must leave when its input ends or SIGTERM comes, with status 0.
 * No box is started: everything here is refused before one would be. */
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <sys/wait.h>
#include <string.h>

/* As BL_MCP_LINE_MAX in src/mcp/mcp-server.h. */
#define LINE_MAX_BYTES (8 * 1024 * 1024)

typedef struct {
    char *home;
    GSubprocess *proc;
    GOutputStream *in;
    GDataInputStream *out;
} Client;

static const char *
cli_path (void)
{
    const char *cli = g_getenv ("BOXLITE_CLI");

    g_assert_nonnull (cli);
    return cli;
}

/* Starts `boxlite mcp` on a fresh home; @extra (nullable) goes before
 * "mcp", as global options do. */
static void
client_start (Client *c, const char *extra)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) argv = g_ptr_array_new ();

    c->home = g_dir_make_tmp ("boxlite-mcp-wire-XXXXXX", &error);
    g_assert_no_error (error);
    g_ptr_array_add (argv, (gpointer) cli_path ());
    g_ptr_array_add (argv, (gpointer) "--home");
    g_ptr_array_add (argv, c->home);
    if (extra)
        g_ptr_array_add (argv, (gpointer) extra);
    g_ptr_array_add (argv, (gpointer) "mcp");
    g_ptr_array_add (argv, NULL);
    c->proc =
        g_subprocess_newv ((const char *const *) argv->pdata,
                           G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
    g_assert_no_error (error);
    c->in = g_subprocess_get_stdin_pipe (c->proc);
    c->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (c->proc));
    g_data_input_stream_set_newline_type (c->out, G_DATA_STREAM_NEWLINE_TYPE_LF);
}

static void
client_send_bytes (Client *c, const void *data, gsize len)
{
    g_autoptr (GError) error = NULL;

    g_output_stream_write_all (c->in, data, len, NULL, NULL, &error);
    g_assert_no_error (error);
}

static void
client_send (Client *c, const char *line)
{
    client_send_bytes (c, line, strlen (line));
    client_send_bytes (c, "\n", 1);
}

/* The next message on stdout, which must be one JSON-RPC 2.0 object on a
 * line of its own. */
static JsonObject *
client_read (Client *c)
{
    g_autoptr (GError) error = NULL;
    gsize len = 0;
    g_autofree char *line = g_data_input_stream_read_line (c->out, &len, NULL, &error);
    g_autoptr (JsonParser) parser = json_parser_new ();

    g_assert_no_error (error);
    g_assert_nonnull (line);
    g_assert_true (g_utf8_validate (line, (gssize) len, NULL));
    json_parser_load_from_data (parser, line, (gssize) len, &error);
    g_assert_no_error (error);
    JsonNode *root = json_parser_get_root (parser);
    g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
    JsonObject *obj = json_node_get_object (root);
    g_assert_cmpstr (json_object_get_string_member (obj, "jsonrpc"), ==, "2.0");
    g_assert_true (json_object_has_member (obj, "id"));
    return json_object_ref (obj);
}

/* Reads a reply and checks it is error @code for @id (NULL for null). */
static void
expect_error (Client *c, const char *id, int code, const char *message_part)
{
    g_autoptr (JsonObject) reply = client_read (c);
    JsonNode *id_node = json_object_get_member (reply, "id");
    g_autofree char *id_text = json_to_string (id_node, FALSE);

    g_assert_cmpstr (id_text, ==, id ? id : "null");
    g_assert_true (json_object_has_member (reply, "error"));
    g_assert_false (json_object_has_member (reply, "result"));
    JsonObject *error = json_object_get_object_member (reply, "error");
    g_assert_cmpint (json_object_get_int_member (error, "code"), ==, code);
    if (message_part)
        g_assert_nonnull (strstr (json_object_get_string_member (error, "message"), message_part));
}

/* Reads a reply and returns its result, checking it answers @id. */
static JsonObject *
expect_result (Client *c, const char *id)
{
    g_autoptr (JsonObject) reply = client_read (c);
    g_autofree char *id_text = json_to_string (json_object_get_member (reply, "id"), FALSE);

    g_assert_cmpstr (id_text, ==, id);
    g_assert_false (json_object_has_member (reply, "error"));
    return json_object_ref (json_object_get_object_member (reply, "result"));
}

/* A ping answered proves the server still reads and writes, and that
 * nothing was written for what came before it. */
static void
expect_alive (Client *c, const char *id)
{
    g_autofree char *ping =
        g_strdup_printf ("{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"ping\"}", id);
    client_send (c, ping);
    g_autoptr (JsonObject) result = expect_result (c, id);
    g_assert_cmpuint (json_object_get_size (result), ==, 0);
}

static void
initialize (Client *c, const char *version)
{
    g_autofree char *line =
        g_strdup_printf ("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
                         "\"protocolVersion\":\"%s\",\"capabilities\":{},\"clientInfo\":{"
                         "\"name\":\"test-mcp-wire\",\"version\":\"1\"}}}",
                         version);
    client_send (c, line);
    g_autoptr (JsonObject) result = expect_result (c, "0");
    g_assert_cmpstr (json_object_get_string_member (result, "protocolVersion"), ==, version);
    client_send (c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
}

/* Waits for the server to leave, which it must do with status 0 and
 * nothing more written, and removes its home. */
static void
client_end (Client *c)
{
    g_autoptr (GError) error = NULL;
    gsize len = 0;

    g_autofree char *rest = g_data_input_stream_read_line (c->out, &len, NULL, &error);
    g_assert_no_error (error);
    g_assert_null (rest);
    g_subprocess_wait (c->proc, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (g_subprocess_get_if_exited (c->proc));
    g_assert_cmpint (g_subprocess_get_exit_status (c->proc), ==, 0);
    g_clear_object (&c->out);
    g_clear_object (&c->proc);
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", c->home);
    g_assert_cmpint (system (cmd), ==, 0);
    g_free (c->home);
}

/* Closes stdin, which asks the server to leave. */
static void
client_finish (Client *c)
{
    g_autoptr (GError) error = NULL;

    g_output_stream_close (c->in, NULL, &error);
    g_assert_no_error (error);
    client_end (c);
}

static void
test_handshake (void)
{
    Client c;

    client_start (&c, NULL);
    /* Before initialize only ping is answered. */
    expect_alive (&c, "1");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    expect_error (&c, "2", -32600, "initialize");
    /* A revision we speak is answered with itself... */
    initialize (&c, "2025-06-18");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"initialize\",\"params\":{"
                     "\"protocolVersion\":\"2025-06-18\"}}");
    expect_error (&c, "3", -32600, "already");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":\"list\",\"method\":\"tools/list\"}");
    g_autoptr (JsonObject) list = expect_result (&c, "\"list\"");
    JsonArray *tools = json_object_get_array_member (list, "tools");
    g_assert_cmpuint (json_array_get_length (tools), ==, 8);
    for (guint i = 0; i < json_array_get_length (tools); i++) {
        JsonObject *tool = json_array_get_object_element (tools, i);
        JsonObject *schema = json_object_get_object_member (tool, "inputSchema");
        g_assert_cmpstr (json_object_get_string_member (schema, "type"), ==, "object");
        g_assert_true (strlen (json_object_get_string_member (tool, "description")) > 20);
    }
    client_finish (&c);

    /* ...one we do not speak with our newest. */
    client_start (&c, NULL);
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
                     "\"protocolVersion\":\"1999-01-01\",\"capabilities\":{}}}");
    g_autoptr (JsonObject) result = expect_result (&c, "1");
    g_assert_cmpstr (json_object_get_string_member (result, "protocolVersion"), ==, "2025-11-25");
    g_assert_true (
        json_object_has_member (json_object_get_object_member (result, "capabilities"), "tools"));
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{"
                     "\"protocolVersion\":7}}");
    expect_error (&c, "2", -32602, "protocolVersion");
    client_finish (&c);
}

static void
test_malformed (void)
{
    Client c;
    g_autoptr (GString) deep = g_string_new (NULL);
    const char bad_utf8[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"p\xff\xfeng\"}\n";
    const char with_nul[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\0\"}\n";

    client_start (&c, NULL);
    initialize (&c, "2025-11-25");

    client_send (&c, "this is not json");
    expect_error (&c, NULL, -32700, "parse error");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":1,");
    expect_error (&c, NULL, -32700, NULL);
    client_send_bytes (&c, bad_utf8, sizeof bad_utf8 - 1);
    expect_error (&c, NULL, -32700, "UTF-8");
    client_send_bytes (&c, with_nul, sizeof with_nul - 1);
    expect_error (&c, NULL, -32700, NULL);
    /* Far deeper than json-glib's recursion could take on our stack. */
    for (guint i = 0; i < 200000; i++)
        g_string_append_c (deep, '[');
    client_send (&c, deep->str);
    expect_error (&c, NULL, -32700, "nest");
    /* An escaped lone surrogate is no text: echoed as an id, it would make
     * our reply invalid UTF-8. */
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":\"a\\udc00b\",\"method\":\"ping\"}");
    expect_error (&c, NULL, -32700, "Unicode");
    client_send (&c,
                 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{\"\\udc00x\":1}}");
    expect_error (&c, NULL, -32700, "Unicode");
    client_send (&c, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]");
    expect_error (&c, NULL, -32600, "batch");
    client_send (&c, "\"ping\"");
    expect_error (&c, NULL, -32600, NULL);
    client_send (&c, "42");
    expect_error (&c, NULL, -32600, NULL);
    client_send (&c, "{\"id\":5,\"method\":\"ping\"}");
    expect_error (&c, "5", -32600, "2.0");
    client_send (&c, "{\"jsonrpc\":\"1.0\",\"id\":6,\"method\":\"ping\"}");
    expect_error (&c, "6", -32600, "2.0");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}");
    expect_error (&c, NULL, -32600, "id");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}");
    expect_error (&c, NULL, -32600, "id");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"ping\"}");
    expect_error (&c, NULL, -32600, "id");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}");
    expect_error (&c, NULL, -32600, "id");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":12}");
    expect_error (&c, "7", -32600, "method");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":8}");
    expect_error (&c, "8", -32600, "method");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\",\"params\":[1]}");
    expect_error (&c, "9", -32602, "params");
    /* Replies to requests we never sent, blank lines and notifications,
     * known or not, well formed or not, get no reply. */
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":{}}");
    client_send (&c, "");
    client_send (&c, "   \r");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":[]}");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                     "\"params\":{\"requestId\":999}}");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
                     "\"params\":{\"requestId\":{\"x\":[]}}}");
    expect_alive (&c, "11");
    /* CRLF line ends are taken too. */
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"ping\"}\r");
    g_autoptr (JsonObject) crlf = expect_result (&c, "12");
    g_assert_cmpuint (json_object_get_size (crlf), ==, 0);
    client_finish (&c);
}

static void
test_unknown_method (void)
{
    Client c;
    g_autoptr (GString) long_name =
        g_string_new ("{\"jsonrpc\":\"2.0\",\"id\":\"m\",\"method\":\"");

    client_start (&c, NULL);
    initialize (&c, "2025-11-25");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\"}");
    expect_error (&c, "1", -32601, "resources/list");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":\"two\",\"method\":\"\"}");
    expect_error (&c, "\"two\"", -32601, NULL);
    /* The error names the method, but not a megabyte of it. */
    for (guint i = 0; i < 1024 * 1024; i++)
        g_string_append_c (long_name, 'x');
    g_string_append (long_name, "\"}");
    client_send (&c, long_name->str);
    g_autoptr (JsonObject) reply = client_read (&c);
    JsonObject *error = json_object_get_object_member (reply, "error");
    g_assert_cmpint (json_object_get_int_member (error, "code"), ==, -32601);
    g_assert_cmpuint (strlen (json_object_get_string_member (error, "message")), <, 200);
    expect_alive (&c, "3");
    client_finish (&c);
}

/* The peak resident memory of @pid in KiB. */
static guint64
peak_rss_kib (GPid pid)
{
    g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
    g_autofree char *status = NULL;
    const char *line;

    g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
    line = strstr (status, "VmHWM:");
    g_assert_nonnull (line);
    return g_ascii_strtoull (line + strlen ("VmHWM:"), NULL, 10);
}

static void
test_huge_line (void)
{
    Client c;
    const gsize chunk = 1024 * 1024;
    g_autofree char *filler = g_malloc (chunk);

    client_start (&c, NULL);
    initialize (&c, "2025-11-25");
    GPid pid = (GPid) g_ascii_strtoll (g_subprocess_get_identifier (c.proc), NULL, 10);
    guint64 before = peak_rss_kib (pid);

    /* 200 MiB without a newline: one error, and memory stays bounded. */
    memset (filler, 'a', chunk);
    for (guint i = 0; i < 200; i++)
        client_send_bytes (&c, filler, chunk);
    client_send_bytes (&c, "\n", 1);
    expect_error (&c, NULL, -32600, "longer than");
    guint64 after = peak_rss_kib (pid);
    g_test_message ("peak RSS %" G_GUINT64_FORMAT " KiB before, %" G_GUINT64_FORMAT " KiB after",
                    before, after);
    g_assert_cmpuint (after, <, before + 3 * LINE_MAX_BYTES / 1024);
    expect_alive (&c, "1");

    /* A message just under the bound is read whole. */
    g_autoptr (GString) big = g_string_new ("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\","
                                            "\"params\":{\"_meta\":{\"pad\":\"");
    while (big->len < LINE_MAX_BYTES - 64)
        g_string_append_c (big, 'b');
    g_string_append (big, "\"}}}");
    g_assert_cmpuint (big->len, <=, LINE_MAX_BYTES);
    client_send (&c, big->str);
    g_autoptr (JsonObject) result = expect_result (&c, "2");
    g_assert_cmpuint (json_object_get_size (result), ==, 0);
    /* And one byte past it is not. */
    g_string_truncate (big, big->len - 4);
    while (big->len < LINE_MAX_BYTES - 3)
        g_string_append_c (big, 'b');
    g_string_append (big, "\"}}}");
    g_assert_cmpuint (big->len, ==, LINE_MAX_BYTES + 1);
    client_send (&c, big->str);
    expect_error (&c, NULL, -32600, "longer than");
    expect_alive (&c, "3");
    client_finish (&c);
}

/* Find the text of a tools/call result, which must have isError @is_error. */
static char *
tool_text (JsonObject *result, gboolean is_error)
{
    JsonArray *content = json_object_get_array_member (result, "content");
    GString *text = g_string_new (NULL);

    g_assert_cmpint (json_object_get_boolean_member (result, "isError"), ==, is_error);
    for (guint i = 0; i < json_array_get_length (content); i++) {
        JsonObject *block = json_array_get_object_element (content, i);
        g_assert_cmpstr (json_object_get_string_member (block, "type"), ==, "text");
        g_string_append (text, json_object_get_string_member (block, "text"));
    }
    return g_string_free (text, FALSE);
}

/* Calls tool @name with @arguments (JSON) as request @id, and returns the
 * text of its result, which must have isError @is_error. */
static char *
call_tool (Client *c, guint id, const char *name, const char *arguments, gboolean is_error)
{
    g_autofree char *line =
        g_strdup_printf ("{\"jsonrpc\":\"2.0\",\"id\":%u,\"method\":\"tools/call\","
                         "\"params\":{\"name\":\"%s\",\"arguments\":%s}}",
                         id, name, arguments);
    g_autofree char *id_text = g_strdup_printf ("%u", id);

    client_send (c, line);
    g_autoptr (JsonObject) result = expect_result (c, id_text);
    return tool_text (result, is_error);
}

static void
test_wrong_types (void)
{
    Client c;
    const struct {
        const char *arguments;
        const char *message_part;
    } bad[] = {
        { "{\"box\":5,\"command\":\"true\"}", "arguments.box: must be of type string" },
        { "{\"box\":\"b\"}", "\"command\" is required" },
        { "{\"box\":\"b\",\"command\":[]}", "arguments.command: has fewer than 1 items" },
        { "{\"box\":\"b\",\"command\":[\"ls\",3]}",
          "arguments.command[1]: must be of type string" },
        { "{\"box\":\"b\",\"command\":{\"a\":1}}", "must be of type array or string" },
        { "{\"box\":\"b\",\"command\":\"true\",\"timeout_seconds\":0}", "at least 1" },
        { "{\"box\":\"b\",\"command\":\"true\",\"timeout_seconds\":1.5}", "type integer" },
        { "{\"box\":\"b\",\"command\":\"true\",\"timeout_seconds\":\"9\"}", "type integer" },
        { "{\"box\":\"b\",\"command\":\"true\",\"env\":{\"A\":1}}", "arguments.env.A" },
        { "{\"box\":\"b\",\"command\":\"true\",\"cmd\":\"x\"}", "unknown member \"cmd\"" },
    };
    const struct {
        const char *tool;
        const char *arguments;
        const char *message_part;
    } refused[] = {
        { "exec", "{\"box\":\"nobox\",\"command\":\"true\"}", "nobox" },
        { "write_file",
          "{\"box\":\"nobox\",\"path\":\"/x\",\"content\":\"!!\",\"encoding\":\"base64\"}",
          "not base64" },
        { "write_file", "{\"box\":\"nobox\",\"path\":\"/x\",\"content\":\"\",\"mode\":\"0999\"}",
          "octal" },
        { "read_file", "{\"box\":\"nobox\",\"path\":\"etc\"}", "not absolute" },
        { "list_files", "{\"box\":\"nobox\",\"path\":\"tmp\"}", "not absolute" },
        { "create_box", "{\"network\":\"none\",\"allow_net\":[\"a.b\"]}", "network is none" },
        { "create_box", "{\"name\":\"../x\"}", "name" },
    };

    client_start (&c, "--debug");
    initialize (&c, "2025-11-25");
    client_send (
        &c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":5}}");
    expect_error (&c, "1", -32602, "name");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\"}");
    expect_error (&c, "2", -32602, "name");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\","
                     "\"params\":{\"name\":\"exec\",\"arguments\":[\"ls\"]}}");
    expect_error (&c, "3", -32602, "arguments");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\","
                     "\"params\":{\"name\":\"rm_rf\",\"arguments\":{}}}");
    expect_error (&c, "4", -32602, "unknown tool");
    /* Since 2025-11-25 arguments that do not fit are the tool's error. */
    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
        g_autofree char *text = call_tool (&c, 100 + i, "exec", bad[i].arguments, TRUE);
        g_test_message ("%s -> %s", bad[i].arguments, text);
        g_assert_nonnull (strstr (text, bad[i].message_part));
    }
    /* Arguments that fit reach the tool, which refuses what it must. */
    for (guint i = 0; i < G_N_ELEMENTS (refused); i++) {
        g_autofree char *text =
            call_tool (&c, 200 + i, refused[i].tool, refused[i].arguments, TRUE);
        g_test_message ("%s %s -> %s", refused[i].tool, refused[i].arguments, text);
        g_assert_nonnull (strstr (text, refused[i].message_part));
    }
    g_autofree char *empty = call_tool (&c, 9, "list_boxes", "{}", FALSE);
    g_assert_true (g_str_has_prefix (empty, "ID"));
    g_assert_null (strchr (strchr (empty, '\n') + 1, '\n'));
    client_finish (&c);

    /* Before 2025-11-25 they are a protocol error. */
    client_start (&c, NULL);
    initialize (&c, "2025-06-18");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{"
                     "\"name\":\"exec\",\"arguments\":{\"box\":5,\"command\":\"true\"}}}");
    expect_error (&c, "1", -32602, "arguments.box");
    client_finish (&c);
}

/* A call sent just before stdin closes is still answered. */
static void
test_eof_answers (void)
{
    Client c;

    client_start (&c, NULL);
    initialize (&c, "2025-11-25");
    client_send (&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{"
                     "\"name\":\"list_boxes\",\"arguments\":{}}}");
    g_autoptr (GError) error = NULL;
    g_output_stream_close (c.in, NULL, &error);
    g_assert_no_error (error);
    g_autoptr (JsonObject) result = expect_result (&c, "1");
    g_autofree char *text = tool_text (result, FALSE);
    g_assert_true (g_str_has_prefix (text, "ID"));
    client_end (&c);
}

static void
test_sigterm (void)
{
    Client c;

    client_start (&c, NULL);
    initialize (&c, "2025-11-25");
    g_subprocess_send_signal (c.proc, SIGTERM);
    client_end (&c);
}

/* `boxlite mcp --help` says what it is; an argument is refused. */
static void
test_command_line (void)
{
    const char *help_argv[] = { cli_path (), "mcp", "--help", NULL };
    const char *extra_argv[] = { cli_path (), "mcp", "extra", NULL };
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autoptr (GError) error = NULL;
    int status = 0;

    g_spawn_sync (NULL, (char **) help_argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status,
                  &error);
    g_assert_no_error (error);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
    g_assert_nonnull (strstr (out, "Model Context Protocol"));
    g_spawn_sync (NULL, (char **) extra_argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, &err,
                  &status, &error);
    g_assert_no_error (error);
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 125);
    g_assert_nonnull (strstr (err, "no arguments"));
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/mcp-wire/command-line", test_command_line);
    g_test_add_func ("/mcp-wire/handshake", test_handshake);
    g_test_add_func ("/mcp-wire/malformed", test_malformed);
    g_test_add_func ("/mcp-wire/unknown-method", test_unknown_method);
    g_test_add_func ("/mcp-wire/huge-line", test_huge_line);
    g_test_add_func ("/mcp-wire/wrong-types", test_wrong_types);
    g_test_add_func ("/mcp-wire/eof-answers", test_eof_answers);
    g_test_add_func ("/mcp-wire/sigterm", test_sigterm);
    return g_test_run ();
}

/* fuzz-mcp.c: what `boxlite mcp` makes of arbitrary bytes from its client:
 * the cutting of lines with their bound, the JSON-RPC message parser, a
 * tool's arguments checked against its input schema, and the reply built
 * for each, which must always be one line of valid JSON. Built as a
 * libFuzzer target with -Dfuzzing=true (clang); otherwise a driver replays
 * mutations of valid messages so every test run covers the same code. */
#include <string.h>

#include "mcp-lines.h"
#include "mcp-rpc.h"
#include "mcp-schema.h"
#include "mcp-tools.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* Small, so that inputs reach the bound. */
#define FUZZ_LINE_MAX 4096

/* A reply must be one JSON object and end in its only newline. Frees
 * @reply. */
static void
check_reply (char *reply)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    gsize len = strlen (reply);

    g_assert_cmpuint (len, >, 1);
    g_assert_true (reply[len - 1] == '\n');
    g_assert_null (memchr (reply, '\n', len - 1));
    g_assert_true (g_utf8_validate (reply, (gssize) len, NULL));
    g_assert_true (json_parser_load_from_data (parser, reply, (gssize) len - 1, NULL));
    g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
    g_free (reply);
}

/* The arguments of a tools/call, checked as the server checks them. */
static void
check_call (BlMcpMessage *msg)
{
    JsonNode *name = msg->params ? json_object_get_member (msg->params, "name") : NULL;
    JsonNode *args = msg->params ? json_object_get_member (msg->params, "arguments") : NULL;
    g_autoptr (GError) error = NULL;

    if (!name || !JSON_NODE_HOLDS_VALUE (name) || json_node_get_value_type (name) != G_TYPE_STRING)
        return;
    JsonObject *schema = bl_mcp_tool_schema (json_node_get_string (name));
    if (!schema || !args)
        return;
    if (bl_mcp_schema_check (schema, args, "arguments", &error))
        check_reply (bl_mcp_reply_result (msg->id, args));
    else
        check_reply (bl_mcp_reply_error (msg->id, error->code, error->message));
}

static void
on_line (const char *line, gsize len, gboolean overlong, gpointer user_data)
{
    g_auto (BlMcpMessage) msg = { 0 };
    g_autoptr (GError) error = NULL;

    if (overlong) {
        g_assert_null (line);
        return;
    }
    g_assert_cmpuint (len, <=, FUZZ_LINE_MAX);
    g_assert_true (line[len] == '\0');
    if (!bl_mcp_message_parse (line, len, &msg, &error)) {
        g_assert_true (error->domain == BL_MCP_RPC_ERROR);
        check_reply (bl_mcp_reply_error (msg.id, error->code, error->message));
        return;
    }
    g_assert_true (msg.kind != BL_MCP_MESSAGE_RESPONSE || msg.id);
    if (msg.kind == BL_MCP_MESSAGE_REQUEST && g_str_equal (msg.method, "tools/call"))
        check_call (&msg);
    if (msg.kind == BL_MCP_MESSAGE_REQUEST)
        check_reply (bl_mcp_reply_error (msg.id, BL_MCP_METHOD_NOT_FOUND, msg.method));
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
    BlMcpLines lines;
    /* Two reads, cut where the first byte says, as a pipe may cut them. */
    gsize cut = size ? data[0] % (size + 1) : 0;

    bl_mcp_lines_init (&lines, FUZZ_LINE_MAX);
    bl_mcp_lines_feed (&lines, data, cut, on_line, NULL);
    bl_mcp_lines_feed (&lines, data + cut, size - cut, on_line, NULL);
    bl_mcp_lines_finish (&lines, on_line, NULL);
    bl_mcp_lines_clear (&lines);
    return 0;
}

#ifndef BOXLITE_LIBFUZZER
static const char *const seeds[] = {
    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
    "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}",
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}",
    "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/list\",\"params\":{\"cursor\":\"x\"}}",
    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"exec\","
    "\"arguments\":{\"box\":\"b\",\"command\":[\"ls\",\"-l\"],\"env\":{\"A\":\"1\"},"
    "\"timeout_seconds\":5,\"working_dir\":\"/tmp\"}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"run_code\","
    "\"arguments\":{\"language\":\"python\",\"code\":\"print(1)\\n\",\"network\":false}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"create_box\","
    "\"arguments\":{\"name\":\"n\",\"cpus\":2,\"memory_mib\":512,\"allow_net\":[\"*.a.b\"],"
    "\"network\":\"default\",\"detach\":true}}}",
    "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"write_file\","
    "\"arguments\":{\"box\":\"b\",\"path\":\"/f\",\"content\":\"aGk=\",\"encoding\":\"base64\","
    "\"mode\":\"0755\"}}}",
    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":2}}",
    "{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{}}",
};

int
main (int argc, char **argv)
{
    guint runs = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 20000;
    g_autoptr (GRand) rand = g_rand_new_with_seed (argc > 2 ? (guint32) atoi (argv[2]) : 1);
    static const char tokens[] = "{}[]\":,\\\n\r 0-1.5e9truefalsenull\xff\xc3";

    for (guint i = 0; i < runs; i++) {
        g_autoptr (GByteArray) buf = g_byte_array_new ();
        guint n = g_rand_int_range (rand, 1, 4);
        for (guint j = 0; j < n; j++) {
            const char *seed = seeds[g_rand_int_range (rand, 0, G_N_ELEMENTS (seeds))];
            g_byte_array_append (buf, (const guint8 *) seed, (guint) strlen (seed));
            g_byte_array_append (buf, (const guint8 *) "\n", 1);
        }
        guint edits = g_rand_int_range (rand, 0, 10);
        for (guint e = 0; e < edits && buf->len; e++) {
            guint at = g_rand_int_range (rand, 0, (gint32) buf->len);
            if (g_rand_boolean (rand))
                buf->data[at] = (guint8) tokens[g_rand_int_range (rand, 0, sizeof tokens - 1)];
            else
                buf->data[at] = (guint8) g_rand_int (rand);
        }
        if (g_rand_int_range (rand, 0, 8) == 0) {
            /* Past the bound, with and without a newline after it. */
            guint8 filler[FUZZ_LINE_MAX + 16];
            memset (filler, 'x', sizeof filler);
            g_byte_array_append (buf, filler, g_rand_int_range (rand, 1, sizeof filler));
        }
        if (g_rand_boolean (rand))
            g_byte_array_set_size (buf, g_rand_int_range (rand, 0, (gint32) buf->len + 1));
        LLVMFuzzerTestOneInput (buf->data, buf->len);
    }
    g_print ("%u inputs replayed\n", runs);
    return 0;
}
#endif

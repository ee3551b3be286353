/* mcp-tools.c: the tool table and the results tools return.
 *
 * What each tool takes is written once, in mcp-tools.json (built into the
 * binary): tools/list serves it as it is, and every call's arguments are
 * checked against the same input schema before the tool runs. This file
 * pairs each name there with its function; a name without a function, or
 * the other way round, is a build mistake caught at the first look-up. */
#include <stdarg.h>

#include "mcp-resources.h"
#include "mcp-rpc.h"
#include "mcp-tools.h"

static const struct {
    const char *name;
    BlMcpToolFunc func;
} tool_funcs[] = {
    { "run_code", bl_mcp_tool_run_code },     { "exec", bl_mcp_tool_exec },
    { "create_box", bl_mcp_tool_create_box }, { "list_boxes", bl_mcp_tool_list_boxes },
    { "remove_box", bl_mcp_tool_remove_box }, { "read_file", bl_mcp_tool_read_file },
    { "write_file", bl_mcp_tool_write_file }, { "list_files", bl_mcp_tool_list_files },
};

static BlMcpToolFunc
func_for (const char *name)
{
    for (guint i = 0; i < G_N_ELEMENTS (tool_funcs); i++) {
        if (g_str_equal (tool_funcs[i].name, name))
            return tool_funcs[i].func;
    }
    return NULL;
}

/* The parsed mcp-tools.json, checked against the table once. */
static JsonNode *
tools_document (void)
{
    static JsonNode *document;

    if (g_once_init_enter (&document)) {
        g_autoptr (GBytes) data = g_resource_lookup_data (
            bl_mcp_get_resource (), "/org/boxlite/mcp/mcp-tools.json", 0, NULL);
        g_autoptr (JsonParser) parser = json_parser_new ();
        g_autoptr (GError) error = NULL;

        g_assert (data);
        if (!json_parser_load_from_data (parser, g_bytes_get_data (data, NULL),
                                         (gssize) g_bytes_get_size (data), &error))
            g_error ("mcp-tools.json: %s", error->message);
        JsonNode *root = json_parser_steal_root (parser);
        JsonArray *tools = json_object_get_array_member (json_node_get_object (root), "tools");
        g_assert_cmpuint (json_array_get_length (tools), ==, G_N_ELEMENTS (tool_funcs));
        for (guint i = 0; i < json_array_get_length (tools); i++) {
            JsonObject *tool = json_array_get_object_element (tools, i);
            const char *name = json_object_get_string_member (tool, "name");
            if (!func_for (name) || !json_object_get_object_member (tool, "inputSchema"))
                g_error ("mcp-tools.json: tool %s has no function or no input schema", name);
        }
        g_once_init_leave (&document, root);
    }
    return document;
}

JsonNode *
bl_mcp_tools_list (void)
{
    return tools_document ();
}

JsonObject *
bl_mcp_tool_schema (const char *name)
{
    JsonArray *tools =
        json_object_get_array_member (json_node_get_object (tools_document ()), "tools");

    for (guint i = 0; i < json_array_get_length (tools); i++) {
        JsonObject *tool = json_array_get_object_element (tools, i);
        if (g_str_equal (json_object_get_string_member (tool, "name"), name))
            return json_object_get_object_member (tool, "inputSchema");
    }
    return NULL;
}

BlMcpToolFunc
bl_mcp_tool_func (const char *name)
{
    return bl_mcp_tool_schema (name) ? func_for (name) : NULL;
}

void
bl_mcp_result_init (BlMcpResult *result)
{
    result->texts = g_ptr_array_new_with_free_func (g_free);
    result->is_error = FALSE;
}

void
bl_mcp_result_clear (BlMcpResult *result)
{
    g_clear_pointer (&result->texts, g_ptr_array_unref);
}

void
bl_mcp_result_add_text (BlMcpResult *result, const char *data, gsize len)
{
    g_ptr_array_add (result->texts, bl_mcp_text (data, len));
}

void
bl_mcp_result_add (BlMcpResult *result, const char *format, ...)
{
    va_list ap;

    va_start (ap, format);
    g_autofree char *text = g_strdup_vprintf (format, ap);
    va_end (ap);
    bl_mcp_result_add_text (result, text, strlen (text));
}

void
bl_mcp_result_fail (BlMcpResult *result, const GError *error)
{
    result->is_error = TRUE;
    bl_mcp_result_add (result, "%s", error->message);
}

JsonNode *
bl_mcp_result_to_json (BlMcpResult *result)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "content");
    json_builder_begin_array (b);
    for (guint i = 0; i < result->texts->len; i++) {
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "type");
        json_builder_add_string_value (b, "text");
        json_builder_set_member_name (b, "text");
        json_builder_add_string_value (b, g_ptr_array_index (result->texts, i));
        json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_set_member_name (b, "isError");
    json_builder_add_boolean_value (b, result->is_error);
    json_builder_end_object (b);
    return json_builder_get_root (b);
}

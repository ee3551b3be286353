/* cli-inspect.c: `boxlite inspect`: the boxes' records as a JSON array. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <json-glib/json-glib.h>
#include <stdio.h>

#include "cli.h"

static JsonNode *
inspect_one (CliContext *cli, const char *id_or_name, GError **error)
{
    g_autoptr (BoxliteBox) box = cli_find_box (cli, id_or_name, error);

    if (!box)
        return NULL;
    g_autofree char *json = boxlite_box_inspect (box, error);
    if (!json)
        return NULL;
    JsonNode *node = json_from_string (json, error);
    if (!node)
        g_prefix_error (error, "%s: ", id_or_name);
    return node;
}

int
cli_cmd_inspect (CliContext *cli, int argc, char **argv)
{
    const GOptionEntry entries[] = { { NULL } };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (JsonArray) array = json_array_new ();
    int status = 0;

    if (!cli_args_parse (&args, "inspect", "BOX…", "Print what is known of boxes, as JSON.",
                         entries, FALSE, argc, argv))
        return CLI_EXIT_FAILURE;
    if (args.command || !args.positional[0]) {
        cli_error ("inspect needs one or more boxes (see 'boxlite inspect --help')");
        return CLI_EXIT_FAILURE;
    }
    for (char **name = args.positional; *name; name++) {
        g_autoptr (GError) error = NULL;
        JsonNode *node = inspect_one (cli, *name, &error);
        if (node)
            json_array_add_element (array, node);
        else
            status = cli_fail (error);
    }

    g_autoptr (JsonNode) root = json_node_new (JSON_NODE_ARRAY);
    json_node_set_array (root, array);
    g_autofree char *text = json_to_string (root, TRUE);
    printf ("%s\n", text);
    return status;
}

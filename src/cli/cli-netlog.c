/* cli-netlog.c: `boxlite netlog`: what a box's network filter decided. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <json-glib/json-glib.h>
#include <stdio.h>

#include "cli.h"

static const char *
member (JsonObject *obj, const char *name)
{
    JsonNode *node = json_object_get_member (obj, name);

    if (!node || json_node_get_value_type (node) != G_TYPE_STRING)
        return "";
    return json_node_get_string (node);
}

/* One entry as a line: time, event, verdict, reason, what it was about. */
static void
print_entry (const char *line)
{
    g_autoptr (JsonNode) node = json_from_string (line, NULL);

    if (!node || !JSON_NODE_HOLDS_OBJECT (node))
        return;
    JsonObject *obj = json_node_get_object (node);
    g_autoptr (GString) what = g_string_new (NULL);
    const char *event = member (obj, "event");
    if (g_str_equal (event, "dns")) {
        g_string_append_printf (what, "%s %s", member (obj, "name"), member (obj, "type"));
        JsonNode *addrs = json_object_get_member (obj, "addresses");
        if (addrs && JSON_NODE_HOLDS_ARRAY (addrs)) {
            JsonArray *array = json_node_get_array (addrs);
            for (guint i = 0; i < json_array_get_length (array); i++)
                g_string_append_printf (what, "%s%s", i ? "," : " -> ",
                                        json_array_get_string_element (array, i));
        }
    } else {
        g_string_append (what, member (obj, "dest"));
        if (*member (obj, "name"))
            g_string_append_printf (what, " (%s)", member (obj, "name"));
        if (*member (obj, "sni"))
            g_string_append_printf (what, " sni=%s", member (obj, "sni"));
        if (*member (obj, "host"))
            g_string_append_printf (what, " host=%s", member (obj, "host"));
    }
    printf ("%-24s %-4s %-9s %-20s %s\n", member (obj, "time"), event, member (obj, "verdict"),
            member (obj, "reason"), what->str);
}

int
cli_cmd_netlog (CliContext *cli, int argc, char **argv)
{
    gboolean json = FALSE;
    const GOptionEntry entries[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the entries as JSON lines", NULL },
        { NULL },
    };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;

    if (!cli_args_parse (&args, "netlog", "BOX",
                         "Print the DNS answers and connection decisions of a box's network "
                         "filter, oldest first.",
                         entries, FALSE, argc, argv))
        return CLI_EXIT_FAILURE;
    if (args.command || !args.positional[0] || args.positional[1]) {
        cli_error ("netlog needs one box (see 'boxlite netlog --help')");
        return CLI_EXIT_FAILURE;
    }
    g_autoptr (BoxliteBox) box = cli_find_box (cli, args.positional[0], &error);
    if (!box)
        return cli_fail (error);
    g_auto (GStrv) lines = boxlite_box_get_net_log (box, &error);
    if (!lines)
        return cli_fail (error);
    if (!json && lines[0])
        printf ("%-24s %-4s %-9s %-20s %s\n", "TIME", "KIND", "VERDICT", "REASON", "WHAT");
    for (guint i = 0; lines[i]; i++) {
        if (json)
            printf ("%s\n", lines[i]);
        else
            print_entry (lines[i]);
    }
    return 0;
}

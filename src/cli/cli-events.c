/* cli-events.c: `boxlite events`: what happens to the boxes of the home
 * directory, whoever does it, as it happens. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <json-glib/json-glib.h>
#include <stdio.h>

#include "cli.h"

typedef struct {
    gboolean json;
} EventsView;

static void
print_attribute (JsonObject *obj, const char *name, JsonNode *node, gpointer user_data)
{
    if (!JSON_NODE_HOLDS_VALUE (node))
        return;
    g_autofree char *text = json_to_string (node, FALSE);
    const char *value =
        json_node_get_value_type (node) == G_TYPE_STRING ? json_node_get_string (node) : text;
    printf (" %s=%s", name, value);
}

static void
on_event (BoxliteRuntime *runtime, const char *box_id, const char *action, const char *event,
          gpointer user_data)
{
    EventsView *view = user_data;

    if (view->json) {
        printf ("%s\n", event);
        fflush (stdout);
        return;
    }
    g_autoptr (JsonParser) parser = json_parser_new ();
    if (!json_parser_load_from_data (parser, event, -1, NULL))
        return;
    JsonObject *obj = json_node_get_object (json_parser_get_root (parser));
    const char *time = json_object_get_string_member_with_default (obj, "time", "?");
    const char *name = json_object_get_string_member_with_default (obj, "name", NULL);
    JsonNode *attributes = json_object_get_member (obj, "attributes");

    printf ("%s %.12s %-10s", time, box_id, action);
    if (name)
        printf (" name=%s", name);
    if (attributes && JSON_NODE_HOLDS_OBJECT (attributes))
        json_object_foreach_member (json_node_get_object (attributes), print_attribute, NULL);
    printf ("\n");
    fflush (stdout);
}

int
cli_cmd_events (CliContext *cli, int argc, char **argv)
{
    EventsView view = { FALSE };
    const GOptionEntry entries[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &view.json, "Print each event as one JSON line", NULL },
        { NULL },
    };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;

    if (!cli_args_parse (&args, "events", "",
                         "Print what happens to the boxes (create, start, stop, crash, pause, "
                         "resume, remove, and each command's start and exit), as it happens, "
                         "until interrupted.",
                         entries, FALSE, argc, argv))
        return CLI_EXIT_FAILURE;
    if (args.command || args.positional[0]) {
        cli_error ("events takes no arguments (see 'boxlite events --help')");
        return CLI_EXIT_FAILURE;
    }
    BoxliteRuntime *runtime = cli_runtime (cli, &error);
    if (!runtime)
        return cli_fail (error);
    gulong handler = g_signal_connect (runtime, "box-event", G_CALLBACK (on_event), &view);
    guint watch = boxlite_runtime_watch_events (runtime);
    cli_run_until_interrupted ();
    boxlite_runtime_unwatch_events (runtime, watch);
    g_signal_handler_disconnect (runtime, handler);
    return 0;
}

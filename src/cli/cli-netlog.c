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

typedef struct {
    const char *key;
    guint64 count;
} CountRow;

static gint
compare_rows (gconstpointer a, gconstpointer b)
{
    const CountRow *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return g_strcmp0 (x->key, y->key);
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

/* The totals by event, verdict and reason, most frequent first. */
static int
print_counts (BoxliteBox *box, gboolean json)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) counts = boxlite_box_get_net_counts (box, &error);

    if (!counts)
        return cli_fail (error);
    if (json) {
        g_autofree char *text = g_variant_print (counts, FALSE);
        printf ("%s\n", text);
        return 0;
    }
    g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (CountRow));
    GVariantIter iter;
    CountRow row;
    g_variant_iter_init (&iter, counts);
    while (g_variant_iter_next (&iter, "{&st}", &row.key, &row.count))
        g_array_append_val (rows, row);
    g_array_sort (rows, compare_rows);
    printf ("%-10s %-5s %-9s %s\n", "COUNT", "KIND", "VERDICT", "REASON");
    for (guint i = 0; i < rows->len; i++) {
        CountRow *r = &g_array_index (rows, CountRow, i);
        g_auto (GStrv) parts = g_strsplit (r->key, " ", 3);
        if (g_strv_length (parts) == 3)
            printf ("%-10" G_GUINT64_FORMAT " %-5s %-9s %s\n", r->count, parts[0], parts[1],
                    parts[2]);
    }
    return 0;
}

int
cli_cmd_netlog (CliContext *cli, int argc, char **argv)
{
    gboolean json = FALSE;
    gboolean counts = FALSE;
    const GOptionEntry entries[] = {
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print the entries as JSON lines", NULL },
        { "counts", 'c', 0, G_OPTION_ARG_NONE, &counts,
          "Print how many entries of each kind the box has had, rotated ones included", NULL },
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
    if (counts)
        return print_counts (box, json);
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

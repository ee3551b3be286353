/* cli-ps.c: `boxlite ps`: a table of boxes. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <stdio.h>

#include "cli.h"

#define SHORT_ID_LEN 12

/* The word `ps` shows for @state. */
static const char *
state_name (BoxliteBoxState state)
{
    switch (state) {
    case BOXLITE_BOX_STATE_CONFIGURED:
        return "created";
    case BOXLITE_BOX_STATE_RUNNING:
        return "running";
    case BOXLITE_BOX_STATE_STOPPED:
        return "stopped";
    case BOXLITE_BOX_STATE_CRASHED:
        return "crashed";
    case BOXLITE_BOX_STATE_PAUSED:
        return "paused";
    }
    return "unknown";
}

/* "5 seconds ago", "2 minutes ago", "3 days ago". */
char *
cli_relative_time (GDateTime *when)
{
    static const struct {
        GTimeSpan unit;
        const char *one;
        const char *many;
    } units[] = {
        { G_TIME_SPAN_DAY * 7, "week", "weeks" },    { G_TIME_SPAN_DAY, "day", "days" },
        { G_TIME_SPAN_HOUR, "hour", "hours" },       { G_TIME_SPAN_MINUTE, "minute", "minutes" },
        { G_TIME_SPAN_SECOND, "second", "seconds" },
    };

    if (!when)
        return g_strdup ("-");
    g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
    GTimeSpan age = g_date_time_difference (now, when);
    if (age < G_TIME_SPAN_SECOND)
        return g_strdup ("just now");
    for (guint i = 0; i < G_N_ELEMENTS (units); i++) {
        gint64 count = age / units[i].unit;
        if (count >= 1)
            return g_strdup_printf ("%" G_GINT64_FORMAT " %s ago", count,
                                    count == 1 ? units[i].one : units[i].many);
    }
    return g_strdup ("just now");
}

static const char *
image_name (BoxliteBox *box)
{
    BoxliteBoxOptions *options = boxlite_box_get_options (box);
    const char *image = boxlite_box_options_get_image (options);
    const char *rootfs = boxlite_box_options_get_rootfs (options);

    return image ? image : rootfs ? rootfs : "(default)";
}

/* @state is read first: reading it reloads the box's record, which the
 * other getters' strings point into. */
static void
print_row (BoxliteBox *box, BoxliteBoxState state)
{
    g_autofree char *short_id = g_strndup (boxlite_box_get_id (box), SHORT_ID_LEN);
    g_autoptr (GDateTime) created_at = boxlite_box_get_created_at (box);
    g_autofree char *created = cli_relative_time (created_at);
    const char *name = boxlite_box_get_name (box);

    printf ("%-12s  %-20s  %-10s  %-16s  %s\n", short_id, name ? name : "-", state_name (state),
            created, image_name (box));
}

int
cli_cmd_ps (CliContext *cli, int argc, char **argv)
{
    gboolean all = FALSE, quiet = FALSE;
    const GOptionEntry entries[] = {
        { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "Show every box, not only running ones", NULL },
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print full box ids only", NULL },
        { NULL },
    };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;

    if (!cli_args_parse (&args, "ps", "", "List boxes.", entries, FALSE, argc, argv))
        return CLI_EXIT_FAILURE;
    if (args.positional[0] || args.command) {
        cli_error ("ps takes no arguments (see 'boxlite ps --help')");
        return CLI_EXIT_FAILURE;
    }
    BoxliteRuntime *runtime = cli_runtime (cli, &error);
    if (!runtime)
        return cli_fail (error);
    GList *boxes = boxlite_runtime_list (runtime, &error);
    if (error) {
        g_list_free_full (boxes, g_object_unref);
        return cli_fail (error);
    }
    if (!quiet)
        printf ("%-12s  %-20s  %-10s  %-16s  %s\n", "ID", "NAME", "STATE", "CREATED", "IMAGE");
    for (GList *l = boxes; l; l = l->next) {
        BoxliteBox *box = l->data;
        /* Also notices a box whose monitor died: it shows as crashed. */
        BoxliteBoxState state = boxlite_box_get_state (box);
        if (!all && state != BOXLITE_BOX_STATE_RUNNING && state != BOXLITE_BOX_STATE_PAUSED)
            continue;
        if (quiet)
            printf ("%s\n", boxlite_box_get_id (box));
        else
            print_row (box, state);
    }
    g_list_free_full (boxes, g_object_unref);
    return 0;
}

/* cli-lifecycle.c: `boxlite create`, `start`, `stop`, `pause`, `unpause` and `rm`. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <stdio.h>

#include "cli.h"

/* What each of start, stop and rm does to one box. */
typedef gboolean (*BoxAction) (CliContext *cli, const char *id_or_name, gboolean force,
                               GError **error);

int
cli_cmd_create (CliContext *cli, int argc, char **argv)
{
    g_auto (CliBoxFlags) box_flags = CLI_BOX_FLAGS_INIT;
    g_autofree GOptionEntry *entries = cli_box_flags_entries (&box_flags, NULL);
    g_auto (CliArgs) args = { NULL, NULL };
    g_auto (GStrv) command_argv = NULL;
    g_autoptr (GError) error = NULL;

    if (!cli_args_parse (&args, "create", "[IMAGE] [-- COMMAND [ARG…]]",
                         "Create a box without starting it and print its id. The command is\n"
                         "recorded as the box's own command.",
                         entries, TRUE, argc, argv))
        return CLI_EXIT_FAILURE;
    if (!cli_args_split_command (&args, 1, &command_argv))
        return CLI_EXIT_FAILURE;
    /* Created boxes are managed by later invocations, so they are detached. */
    g_autoptr (BoxliteBox) box =
        cli_create_box (cli, &box_flags, args.positional[0], command_argv, TRUE, FALSE, &error);
    if (!box)
        return cli_fail (error);
    printf ("%s\n", boxlite_box_get_id (box));
    return 0;
}

static gboolean
start_one (CliContext *cli, const char *id_or_name, G_GNUC_UNUSED gboolean force, GError **error)
{
    g_autoptr (BoxliteBox) box = cli_find_box (cli, id_or_name, error);

    if (!box)
        return FALSE;
    BoxliteBoxState state = boxlite_box_get_state (box);
    if (state == BOXLITE_BOX_STATE_RUNNING || state == BOXLITE_BOX_STATE_PAUSED)
        return TRUE;
    /* We exit right after: a box started here must not stop with us, also
     * when `run` made it as a foreground box. */
    boxlite_box_options_set_detach (boxlite_box_get_options (box), TRUE);
    return boxlite_box_start (box, NULL, error);
}

static gboolean
stop_one (CliContext *cli, const char *id_or_name, gboolean force, GError **error)
{
    g_autoptr (BoxliteBox) box = cli_find_box (cli, id_or_name, error);

    if (!box)
        return FALSE;
    return boxlite_box_stop (box, force, NULL, error);
}

static gboolean
pause_one (CliContext *cli, const char *id_or_name, G_GNUC_UNUSED gboolean force, GError **error)
{
    g_autoptr (BoxliteBox) box = cli_find_box (cli, id_or_name, error);

    return box && boxlite_box_pause (box, NULL, error);
}

static gboolean
unpause_one (CliContext *cli, const char *id_or_name, G_GNUC_UNUSED gboolean force, GError **error)
{
    g_autoptr (BoxliteBox) box = cli_find_box (cli, id_or_name, error);

    return box && boxlite_box_resume (box, NULL, error);
}

static gboolean
remove_one (CliContext *cli, const char *id_or_name, gboolean force, GError **error)
{
    BoxliteRuntime *runtime = cli_runtime (cli, error);

    if (!runtime)
        return FALSE;
    if (!boxlite_runtime_remove (runtime, id_or_name, force, error)) {
        if (g_error_matches (*error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE))
            g_prefix_error (error, "%s: ", id_or_name);
        return FALSE;
    }
    return TRUE;
}

/* Applies @action to every box named on the command line, printing each
 * name as it is done, like the container tools. A failure does not stop the
 * others; the exit status is 125 if any failed. */
static int
for_each_box (CliContext *cli, const char *command_name, const char *summary,
              const char *force_help, BoxAction action, int argc, char **argv)
{
    gboolean force = FALSE;
    const GOptionEntry entries[] = {
        { "force", 'f', 0, G_OPTION_ARG_NONE, &force, force_help, NULL },
        { NULL },
    };
    g_auto (CliArgs) args = { NULL, NULL };
    int status = 0;

    if (!cli_args_parse (&args, command_name, "BOX…", summary, force_help ? entries : entries + 1,
                         FALSE, argc, argv))
        return CLI_EXIT_FAILURE;
    if (args.command || !args.positional[0]) {
        cli_error ("%s needs one or more boxes (see 'boxlite %s --help')", command_name,
                   command_name);
        return CLI_EXIT_FAILURE;
    }
    for (char **name = args.positional; *name; name++) {
        g_autoptr (GError) error = NULL;
        if (action (cli, *name, force, &error)) {
            printf ("%s\n", *name);
            fflush (stdout);
        } else {
            status = cli_fail (error);
        }
    }
    return status;
}

int
cli_cmd_start (CliContext *cli, int argc, char **argv)
{
    return for_each_box (cli, "start",
                         "Start boxes. A started box keeps running after this "
                         "command exits.",
                         NULL, start_one, argc, argv);
}

int
cli_cmd_stop (CliContext *cli, int argc, char **argv)
{
    return for_each_box (cli, "stop", "Stop running boxes.",
                         "Stop at once instead of shutting the guest down", stop_one, argc, argv);
}

int
cli_cmd_pause (CliContext *cli, int argc, char **argv)
{
    return for_each_box (cli, "pause", "Freeze the virtual CPUs of running boxes.", NULL, pause_one,
                         argc, argv);
}

int
cli_cmd_unpause (CliContext *cli, int argc, char **argv)
{
    return for_each_box (cli, "unpause", "Let paused boxes run again.", NULL, unpause_one, argc,
                         argv);
}

int
cli_cmd_rm (CliContext *cli, int argc, char **argv)
{
    return for_each_box (cli, "rm", "Delete boxes.", "Stop a running box first", remove_one, argc,
                         argv);
}

/* cli-exec.c: `boxlite exec`, and running a command in a box for `run`. */
#define G_LOG_DOMAIN "boxlite-cli"

#include "cli.h"

/**
 * cli_exec_in_box:
 * @box: a running box
 * @command: what to run
 * @forward_stdin: whether our stdin goes to the command (-i)
 * @tty: whether the command runs on a terminal of our terminal's size (-t;
 *   our stdin must be a terminal)
 *
 * Runs @command with its output streamed to ours.
 *
 * Returns: the command's exit status, or 125/126/127 after a message
 */
int
cli_exec_in_box (BoxliteBox *box, BoxliteCommand *command, gboolean forward_stdin, gboolean tty)
{
    g_autoptr (GError) error = NULL;
    guint rows, cols;

    boxlite_command_set_stdin (command, forward_stdin);
    boxlite_command_set_tty (command, tty);
    if (tty && cli_tty_get_size (&rows, &cols))
        boxlite_command_set_tty_size (command, rows, cols);
    g_autoptr (BoxliteExecution) execution = boxlite_box_exec (box, command, NULL, &error);
    if (!execution)
        return cli_fail (error);
    return cli_stream_execution (execution, forward_stdin);
}

/**
 * cli_exec_detached:
 * @box: a running box
 * @command: what to start
 *
 * Starts @command as the box's own, with no stdin and its output kept in
 * the box's log (`boxlite logs`), and returns once it runs.
 *
 * Returns: 0, or 125/126/127 after a message
 */
int
cli_exec_detached (BoxliteBox *box, BoxliteCommand *command)
{
    g_autoptr (GError) error = NULL;

    if (boxlite_box_exec_detached (box, command, NULL, &error))
        return 0;
    return cli_fail (error);
}

int
cli_cmd_exec (CliContext *cli, int argc, char **argv)
{
    gboolean interactive = FALSE, tty = FALSE, detach = FALSE;
    g_auto (GStrv) env = NULL;
    g_autofree char *working_dir = NULL;
    g_autofree char *user = NULL;
    const GOptionEntry entries[] = {
        { "interactive", 'i', 0, G_OPTION_ARG_NONE, &interactive, "Pass stdin to the command",
          NULL },
        { "tty", 't', 0, G_OPTION_ARG_NONE, &tty,
          "Run the command on a terminal (our stdin must be one)", NULL },
        { "detach", 'd', 0, G_OPTION_ARG_NONE, &detach,
          "Start the command in the background and return", NULL },
        { "env", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &env, "Set an environment variable",
          "KEY=VALUE" },
        { "workdir", 'w', 0, G_OPTION_ARG_STRING, &working_dir, "Working directory of the command",
          "DIR" },
        { "user", 'u', 0, G_OPTION_ARG_STRING, &user, "User that runs the command", "USER" },
        { NULL },
    };
    g_auto (CliArgs) args = { NULL, NULL };
    g_auto (GStrv) command_argv = NULL;
    g_autoptr (GError) error = NULL;

    if (!cli_args_parse (&args, "exec", "BOX [--] COMMAND [ARG…]",
                         "Run a command in a running box.", entries, TRUE, argc, argv))
        return CLI_EXIT_FAILURE;
    if (!args.positional[0]) {
        cli_error ("exec needs a box and a command (see 'boxlite exec --help')");
        return CLI_EXIT_FAILURE;
    }
    if (!cli_args_split_command (&args, 1, &command_argv))
        return CLI_EXIT_FAILURE;
    if (!command_argv) {
        cli_error ("exec needs a command to run in %s", args.positional[0]);
        return CLI_EXIT_FAILURE;
    }
    if (interactive && detach) {
        cli_error ("-i and -d cannot be used together");
        return CLI_EXIT_FAILURE;
    }
    if (tty && !detach && !cli_tty_check_stdin ())
        return CLI_EXIT_FAILURE;

    g_autoptr (BoxliteBox) box = cli_find_box (cli, args.positional[0], &error);
    if (!box)
        return cli_fail (error);
    g_autoptr (BoxliteCommand) command = boxlite_command_new ((const char *const *) command_argv);
    boxlite_command_set_env (command, (const char *const *) env);
    boxlite_command_set_working_dir (command, working_dir);
    boxlite_command_set_user (command, user);
    if (detach)
        return cli_exec_detached (box, command);
    return cli_exec_in_box (box, command, interactive, tty);
}

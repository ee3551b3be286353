/* cli-run.c: `boxlite run`: create a box, start it, run a command in it.
 *
 * In the foreground the command's output is streamed, its exit status
 * becomes ours, and the box is stopped afterwards (and deleted with --rm).
 * With -d the box is detached and keeps running after we exit; a command,
 * if one was given, is started in the background inside it.
 */
#define G_LOG_DOMAIN "boxlite-cli"

#include <stdio.h>

#include "cli.h"

typedef struct {
    gboolean remove;
    gboolean detach;
    gboolean interactive;
    gboolean tty;
} RunFlags;

/* The box's entrypoint followed by its cmd, or "sh" when it has neither. */
static char **
default_argv (BoxliteBox *box)
{
    BoxliteBoxOptions *options = boxlite_box_get_options (box);
    const char *const *entrypoint = boxlite_box_options_get_entrypoint (options);
    const char *const *cmd = boxlite_box_options_get_cmd (options);
    g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

    if (entrypoint)
        g_strv_builder_addv (builder, (const char **) entrypoint);
    if (cmd)
        g_strv_builder_addv (builder, (const char **) cmd);
    char **argv = g_strv_builder_end (builder);
    if (!argv[0]) {
        g_strfreev (argv);
        argv = g_strdupv ((char *[]){ (char *) "sh", NULL });
    }
    return argv;
}

/* Stops @box after a foreground run and deletes it with --rm. Errors are
 * reported; they change the exit status only when the command succeeded. */
static int
finish_box (CliContext *cli, BoxliteBox *box, const RunFlags *flags, int status)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *id = g_strdup (boxlite_box_get_id (box));

    /* A box about to be deleted needs no clean shutdown of its disk. */
    if (boxlite_box_get_state (box) == BOXLITE_BOX_STATE_RUNNING &&
        !boxlite_box_stop (box, flags->remove, NULL, &error)) {
        cli_error ("cannot stop box %s: %s", id, error->message);
        g_clear_error (&error);
        status = status ? status : CLI_EXIT_FAILURE;
    }
    if (!flags->remove)
        return status;
    /* With auto-remove the monitor may have deleted it already. */
    if (!boxlite_runtime_remove (cli_runtime (cli, NULL), id, TRUE, &error) &&
        !g_error_matches (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND)) {
        cli_error ("cannot remove box %s: %s", id, error->message);
        status = status ? status : CLI_EXIT_FAILURE;
    }
    return status;
}

/* The box's cmd is the command given, if any, so an image's entrypoint
 * stays in front of it, as with containers. */
static int
run_foreground (BoxliteBox *box, const RunFlags *flags)
{
    g_auto (GStrv) argv = default_argv (box);
    g_autoptr (BoxliteCommand) command = boxlite_command_new ((const char *const *) argv);

    return cli_exec_in_box (box, command, flags->interactive, flags->tty);
}

/* A box whose command could not be started is stopped (and with --rm
 * deleted) rather than left running for nothing. */
static int
run_detached (CliContext *cli, BoxliteBox *box, char **command_argv, const RunFlags *flags)
{
    if (command_argv) {
        g_auto (GStrv) argv = default_argv (box);
        g_autoptr (BoxliteCommand) command = boxlite_command_new ((const char *const *) argv);
        int status = cli_exec_detached (box, command);
        if (status != 0)
            return finish_box (cli, box, flags, status);
    }
    printf ("%s\n", boxlite_box_get_id (box));
    return 0;
}

int
cli_cmd_run (CliContext *cli, int argc, char **argv)
{
    RunFlags flags = { FALSE, FALSE, FALSE, FALSE };
    g_auto (CliBoxFlags) box_flags = CLI_BOX_FLAGS_INIT;
    const GOptionEntry own[] = {
        { "rm", 0, 0, G_OPTION_ARG_NONE, &flags.remove, "Delete the box when it stops", NULL },
        { "detach", 'd', 0, G_OPTION_ARG_NONE, &flags.detach,
          "Leave the box running in the background and print its id", NULL },
        { "interactive", 'i', 0, G_OPTION_ARG_NONE, &flags.interactive, "Pass stdin to the command",
          NULL },
        { "tty", 't', 0, G_OPTION_ARG_NONE, &flags.tty,
          "Run the command on a terminal (our stdin must be one)", NULL },
        { NULL },
    };
    g_autofree GOptionEntry *entries = cli_box_flags_entries (&box_flags, own);
    g_auto (CliArgs) args = { NULL, NULL };
    g_auto (GStrv) command_argv = NULL;
    g_autoptr (GError) error = NULL;

    if (!cli_args_parse (&args, "run", "[IMAGE] [-- COMMAND [ARG…]]",
                         "Run a command in a new box. IMAGE is an image reference (pulled when "
                         "the store\nlacks it), or a root filesystem directory or tarball; "
                         "without it the default\nimage is used. Without a command the image's "
                         "entrypoint and cmd run, or sh.\nWithout IMAGE, put '--' before the "
                         "command: boxlite run -- echo hi.",
                         entries, TRUE, argc, argv))
        return CLI_EXIT_FAILURE;
    if (!cli_args_split_command (&args, 1, &command_argv))
        return CLI_EXIT_FAILURE;
    if (flags.detach && flags.interactive) {
        cli_error ("-d and -i cannot be used together");
        return CLI_EXIT_FAILURE;
    }
    if (flags.tty && !flags.detach && !cli_tty_check_stdin ())
        return CLI_EXIT_FAILURE;

    g_autoptr (BoxliteBox) box = cli_create_box (cli, &box_flags, args.positional[0], command_argv,
                                                 flags.detach, flags.remove, &error);
    if (!box)
        return cli_fail (error);
    if (!boxlite_box_start (box, NULL, &error)) {
        int status = cli_fail (error);
        if (flags.remove)
            (void) boxlite_runtime_remove (cli_runtime (cli, NULL), boxlite_box_get_id (box), TRUE,
                                           NULL);
        return status;
    }
    if (flags.detach)
        return run_detached (cli, box, command_argv, &flags);
    int status = run_foreground (box, &flags);
    return finish_box (cli, box, &flags, status);
}

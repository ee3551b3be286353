/* cli-args.c: option parsing shared by every subcommand.
 *
 * Each subcommand gets its own GOptionContext, so each has --help. The
 * command to run in a box is whatever follows the first "--"; it is cut off
 * before parsing so that its own flags are never taken for ours.
 */
#define G_LOG_DOMAIN "boxlite-cli"

#include "cli.h"

static int
find_separator (int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (g_str_equal (argv[i], "--"))
            return i;
    }
    return -1;
}

static char **
copy_args (char **argv, int from, int to)
{
    GStrvBuilder *builder = g_strv_builder_new ();

    for (int i = from; i < to; i++)
        g_strv_builder_add (builder, argv[i]);
    char **copy = g_strv_builder_end (builder);
    g_strv_builder_unref (builder);
    return copy;
}

/**
 * cli_args_parse:
 * @args: where the positional arguments and the command go; cleared first
 * @command_name: the subcommand, as typed ("run")
 * @parameters: the usage line after the subcommand ("[IMAGE] [-- COMMAND…]")
 * @summary: (nullable): a sentence shown by --help
 * @entries: the subcommand's options, terminated by an empty entry
 * @options_first: whether options end at the first non-option argument
 * @argc: number of arguments in @argv
 * @argv: the subcommand's arguments, @argv[0] being its name
 *
 * With @options_first, only the options before the first non-option
 * argument are ours, so that `boxlite exec BOX ls -l` leaves "-l" to ls, as
 * the container tools do; without it options may follow the box names
 * (`boxlite rm BOX -f`). --help prints the subcommand's help and exits with
 * status 0.
 *
 * Returns: %TRUE, or %FALSE after printing why the arguments are wrong
 */
gboolean
cli_args_parse (CliArgs *args, const char *command_name, const char *parameters,
                const char *summary, const GOptionEntry *entries, gboolean options_first, int argc,
                char **argv)
{
    g_autofree char *prgname = g_strdup_printf ("boxlite %s", command_name);
    g_autoptr (GOptionContext) context = g_option_context_new (parameters);
    g_autoptr (GError) error = NULL;
    int separator = find_separator (argc, argv);
    g_auto (GStrv) strv = copy_args (argv, 0, separator < 0 ? argc : separator);

    args->positional = NULL;
    args->command = separator < 0 ? NULL : copy_args (argv, separator + 1, argc);
    g_set_prgname (prgname);
    g_option_context_set_strict_posix (context, options_first);
    if (summary)
        g_option_context_set_summary (context, summary);
    g_option_context_add_main_entries (context, entries, NULL);
    if (!g_option_context_parse_strv (context, &strv, &error)) {
        cli_error ("%s (see 'boxlite %s --help')", error->message, command_name);
        g_clear_pointer (&args->command, g_strfreev);
        return FALSE;
    }
    args->positional = copy_args (strv, 1, (int) g_strv_length (strv));
    return TRUE;
}

void
cli_args_clear (CliArgs *args)
{
    g_clear_pointer (&args->positional, g_strfreev);
    g_clear_pointer (&args->command, g_strfreev);
}

/**
 * cli_args_split_command:
 * @args: parsed arguments
 * @leading: how many positional arguments precede the command
 * @command: (out) (transfer full) (nullable): the command, or %NULL when
 *   none was given
 *
 * The command is what follows "--" or, without "--", the positional
 * arguments after the first @leading ones.
 *
 * Returns: %FALSE, after a message, when arguments stand between the
 *   leading positionals and "--"
 */
gboolean
cli_args_split_command (CliArgs *args, guint leading, char ***command)
{
    guint n = g_strv_length (args->positional);

    *command = NULL;
    if (args->command) {
        if (n > leading) {
            cli_error ("unexpected argument '%s' before '--'", args->positional[leading]);
            return FALSE;
        }
        if (args->command[0])
            *command = g_steal_pointer (&args->command);
        return TRUE;
    }
    if (n > leading)
        *command = copy_args (args->positional, (int) leading, (int) n);
    return TRUE;
}

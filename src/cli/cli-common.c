/* cli-common.c: messages, exit statuses, the runtime and box lookup. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <glib-unix.h>
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"

/* Prints "boxlite: <message>" on stderr. */
void
cli_error (const char *format, ...)
{
    va_list ap;

    va_start (ap, format);
    g_autofree char *message = g_strdup_vprintf (format, ap);
    va_end (ap);
    cli_tty_restore (); /* a message in raw mode would be garbled */
    fflush (stdout);
    fprintf (stderr, "boxlite: %s\n", message);
}

/**
 * cli_status_for_error:
 * @error: why something failed
 *
 * Returns: 126 when a command cannot be run, 127 when it does not exist,
 *   125 for everything else (boxlite's own failure)
 */
int
cli_status_for_error (const GError *error)
{
    if (error && error->domain == BOXLITE_ERROR) {
        if (error->code == BOXLITE_ERROR_COMMAND_NOT_FOUND)
            return CLI_EXIT_NOT_FOUND;
        if (error->code == BOXLITE_ERROR_PERMISSION_DENIED)
            return CLI_EXIT_CANNOT_RUN;
    }
    return CLI_EXIT_FAILURE;
}

/* Reports @error and returns the exit status it calls for. */
int
cli_fail (const GError *error)
{
    cli_error ("%s", error ? error->message : "unknown error");
    return cli_status_for_error (error);
}

/**
 * cli_runtime:
 * @cli: the invocation
 * @error: return location for a #GError
 *
 * Opens the runtime on the home dir the first time it is needed.
 *
 * Returns: (transfer none): the runtime, or %NULL with @error set
 */
BoxliteRuntime *
cli_runtime (CliContext *cli, GError **error)
{
    if (!cli->runtime) {
        g_autoptr (BoxliteOptions) options = boxlite_options_new ();

        boxlite_options_set_home_dir (options, cli->home_dir);
        cli->runtime = boxlite_runtime_new (options, error);
        if (!cli->runtime)
            g_prefix_error (error, "cannot open %s: ", cli->home_dir);
    }
    return cli->runtime;
}

/**
 * cli_find_box:
 * @cli: the invocation
 * @id_or_name: a box id, a unique prefix of one, or a box name
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the box, or %NULL with @error set
 */
BoxliteBox *
cli_find_box (CliContext *cli, const char *id_or_name, GError **error)
{
    BoxliteRuntime *runtime = cli_runtime (cli, error);

    if (!runtime)
        return NULL;
    return boxlite_runtime_get (runtime, id_or_name, error);
}

int
cli_run_subcommand (CliContext *cli, const char *group, const char *usage,
                    const CliSubcommand *commands, guint n, int argc, char **argv)
{
    if (argc >= 2) {
        for (guint i = 0; i < n; i++) {
            if (g_str_equal (argv[1], commands[i].name))
                return commands[i].run (cli, commands[i].full_name, argc - 1, argv + 1);
        }
    }
    gboolean help = argc >= 2 && (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h"));
    FILE *out = help ? stdout : stderr;
    if (argc < 2)
        cli_error ("%s needs a command", group);
    else if (!help)
        cli_error ("unknown %s command '%s'", group, argv[1]);
    fprintf (out, "Usage: boxlite %s %s\n\nCommands:\n", group, usage);
    for (guint i = 0; i < n; i++)
        fprintf (out, "  %-10s%s\n", commands[i].name, commands[i].summary);
    return help ? 0 : CLI_EXIT_FAILURE;
}

static gboolean
quit_loop (gpointer loop)
{
    g_main_loop_quit (loop);
    return G_SOURCE_CONTINUE;
}

/* Runs the default main context until SIGINT or SIGTERM. */
void
cli_run_until_interrupted (void)
{
    g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
    guint sigint = g_unix_signal_add (SIGINT, quit_loop, loop);
    guint sigterm = g_unix_signal_add (SIGTERM, quit_loop, loop);

    g_main_loop_run (loop);
    g_source_remove (sigint);
    g_source_remove (sigterm);
}

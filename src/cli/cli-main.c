/* cli-main.c: `boxlite`: global options and the subcommand table. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <json-glib/json-glib.h>
#include <locale.h>
#include <stdio.h>

#include "cli.h"

#ifndef BOXLITE_VERSION
#define BOXLITE_VERSION "unknown"
#endif

/* Every log domain of boxlite: GLib matches G_MESSAGES_DEBUG by name, not
 * by prefix. */
#define DEBUG_DOMAINS                                                                              \
    "boxlite boxlite-cli boxlite-qmp boxlite-net boxlite-shim boxlite-agent boxlite-mcp "          \
    "boxlite-serve"

typedef struct {
    const char *name;
    CliCommandFunc run;
    const char *summary;
} CliCommand;

static const CliCommand commands[] = {
    { "run", cli_cmd_run, "Run a command in a new box" },
    { "exec", cli_cmd_exec, "Run a command in a running box" },
    { "ps", cli_cmd_ps, "List boxes" },
    { "create", cli_cmd_create, "Create a box without starting it" },
    { "start", cli_cmd_start, "Start boxes" },
    { "stop", cli_cmd_stop, "Stop boxes" },
    { "pause", cli_cmd_pause, "Freeze boxes" },
    { "unpause", cli_cmd_unpause, "Let paused boxes run again" },
    { "rm", cli_cmd_rm, "Delete boxes" },
    { "inspect", cli_cmd_inspect, "Print what is known of boxes, as JSON" },
    { "events", cli_cmd_events, "Print what happens to the boxes, as it happens" },
    { "stats", cli_cmd_stats, "Show what running boxes use" },
    { "logs", cli_cmd_logs, "Print what a box's detached commands printed" },
    { "cp", cli_cmd_cp, "Copy files into or out of a box" },
    { "snapshot", cli_cmd_snapshot, "Keep, list, restore and delete a box's disk states" },
    { "clone", cli_cmd_clone, "Create a box whose disk starts as another's" },
    { "netlog", cli_cmd_netlog, "Print a box's network decisions" },
    { "pull", cli_cmd_pull, "Fetch an image from a registry" },
    { "images", cli_cmd_images, "List images" },
    { "rmi", cli_cmd_rmi, "Remove images" },
    { "export", cli_cmd_export, "Write a stopped box to a .boxlite archive" },
    { "import", cli_cmd_import,
      "Make a box from a .boxlite archive, or add an image from an OCI layout or a "
      "docker-archive tarball" },
    { "image", cli_cmd_image, "Manage images: ls, pull, rm, inspect, prune, import" },
    { "mcp", cli_cmd_mcp, "Serve boxes as tools to an MCP client, on stdin and stdout" },
    { "template", cli_cmd_template, "Manage the VM templates boxes start from: ls, prune, warm" },
    { "serve", cli_cmd_serve, "Serve boxlite's HTTP API for the boxes of this home" },
};

static const CliCommand *
find_command (const char *name)
{
    for (guint i = 0; i < G_N_ELEMENTS (commands); i++) {
        if (g_str_equal (commands[i].name, name))
            return &commands[i];
    }
    return NULL;
}

static char *
commands_description (void)
{
    GString *text = g_string_new ("Commands:\n");

    for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
        g_string_append_printf (text, "  %-10s%s\n", commands[i].name, commands[i].summary);
    g_string_append (text, "\nRun 'boxlite COMMAND --help' for a command's options.\n"
                           "BOX is a box id, a unique prefix of one, or a box name.");
    return g_string_free (text, FALSE);
}

static void
enable_debug (void)
{
    const char *current = g_getenv ("G_MESSAGES_DEBUG");
    g_autofree char *value = current && *current ? g_strdup_printf ("%s %s", current, DEBUG_DOMAINS)
                                                 : g_strdup (DEBUG_DOMAINS);

    /* Also read by the box monitor, which inherits our environment. */
    g_setenv ("G_MESSAGES_DEBUG", value, TRUE);
}

static char *
resolve_home (const char *option)
{
    const char *home = option;

    if (!home || !*home)
        home = g_getenv ("BOXLITE_HOME");
    if (home && *home)
        return g_canonicalize_filename (home, NULL);
    return g_build_filename (g_get_home_dir (), ".boxlite", NULL);
}

/* The registry entries of --insecure-registry (plain HTTP, no certificate
 * check) then --registry (a host, or an entry as JSON), in that order: for
 * a host named twice the first entry wins. */
static char **
registry_entries (char **registries, char **insecure)
{
    g_autoptr (GStrvBuilder) entries = g_strv_builder_new ();

    for (guint i = 0; insecure && insecure[i]; i++) {
        g_autoptr (JsonBuilder) b = json_builder_new ();
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "host");
        json_builder_add_string_value (b, insecure[i]);
        json_builder_set_member_name (b, "transport");
        json_builder_add_string_value (b, "http");
        json_builder_set_member_name (b, "skip_verify");
        json_builder_add_boolean_value (b, TRUE);
        json_builder_end_object (b);
        g_autoptr (JsonNode) node = json_builder_get_root (b);
        g_autofree char *text = json_to_string (node, FALSE);
        g_strv_builder_add (entries, text);
    }
    if (registries)
        g_strv_builder_addv (entries, (const char **) registries);
    return g_strv_builder_end (entries);
}

/* With registries given the runtime is opened now, with them; otherwise
 * cli_runtime() opens it when a command needs it. */
static gboolean
open_runtime_with_registries (CliContext *cli, char **entries)
{
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (GError) error = NULL;

    if (!entries[0])
        return TRUE;
    boxlite_options_set_home_dir (options, cli->home_dir);
    boxlite_options_set_image_registries (options, (const char *const *) entries);
    cli->runtime = boxlite_runtime_new (options, &error);
    if (!cli->runtime) {
        cli_error ("%s", error->message);
        return FALSE;
    }
    return TRUE;
}

/* `boxlite help [COMMAND]`: the same as --help. */
static int
show_help (GOptionContext *context, char **args)
{
    if (args[0] && args[1]) {
        const CliCommand *command = find_command (args[1]);
        if (!command) {
            cli_error ("unknown command '%s'", args[1]);
            return CLI_EXIT_FAILURE;
        }
        char *argv[] = { args[1], (char *) "--help", NULL };
        CliContext unused = { NULL, NULL };
        /* --help prints and exits before the context is looked at. */
        return command->run (&unused, 2, argv);
    }
    g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);
    fputs (help, stdout);
    return 0;
}

int
main (G_GNUC_UNUSED int argc, char **argv)
{
    g_autofree char *home = NULL;
    gboolean debug = FALSE, version = FALSE;
    g_auto (GStrv) registries = NULL;
    g_auto (GStrv) insecure = NULL;
    g_autofree char *host = NULL, *token_file = NULL;
    const GOptionEntry entries[] = {
        { "home", 0, 0, G_OPTION_ARG_FILENAME, &home,
          "Home directory of boxlite (default $BOXLITE_HOME, else ~/.boxlite)", "DIR" },
        { "debug", 0, 0, G_OPTION_ARG_NONE, &debug, "Print debug messages of boxlite", NULL },
        { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
        { "registry", 0, 0, G_OPTION_ARG_STRING_ARRAY, &registries,
          "Use this registry: a host (searched for unqualified image names) or an entry as "
          "JSON (repeatable)",
          "ENTRY" },
        { "insecure-registry", 0, 0, G_OPTION_ARG_STRING_ARRAY, &insecure,
          "Reach this registry over plain HTTP (repeatable)", "HOST" },
        { "host", 0, 0, G_OPTION_ARG_STRING, &host,
          "Drive the boxlite serve at URL (ps, inspect, start, stop, rm, images, pull, exec, run, "
          "cp)",
          "URL" },
        { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &token_file,
          "The API token for --host (default $BOXLITE_TOKEN)", "FILE" },
        { NULL },
    };
    g_autoptr (GOptionContext) context = g_option_context_new ("COMMAND [ARG…]");
    g_autofree char *description = commands_description ();
    g_autoptr (GError) error = NULL;
    g_auto (GStrv) args = g_strdupv (argv);

    setlocale (LC_ALL, "");
    g_set_prgname ("boxlite");
    g_option_context_set_summary (context, "Run untrusted code in lightweight virtual machines.");
    g_option_context_set_description (context, description);
    g_option_context_set_strict_posix (context, TRUE);
    g_option_context_add_main_entries (context, entries, NULL);
    if (!g_option_context_parse_strv (context, &args, &error)) {
        cli_error ("%s (see 'boxlite --help')", error->message);
        return CLI_EXIT_FAILURE;
    }
    if (version) {
        printf ("boxlite %s\n", BOXLITE_VERSION);
        return 0;
    }
    if (!args[1]) {
        cli_error ("no command given (see 'boxlite --help')");
        return CLI_EXIT_FAILURE;
    }
    if (g_str_equal (args[1], "help"))
        return show_help (context, args + 1);
    if (host)
        return cli_remote_main (host, token_file, (int) g_strv_length (args) - 1, args + 1);
    const CliCommand *command = find_command (args[1]);
    if (!command) {
        cli_error ("unknown command '%s' (see 'boxlite --help')", args[1]);
        return CLI_EXIT_FAILURE;
    }
    if (debug)
        enable_debug ();

    CliContext cli = { resolve_home (home), NULL };
    g_auto (GStrv) registry_texts = registry_entries (registries, insecure);
    int status = open_runtime_with_registries (&cli, registry_texts)
                     ? command->run (&cli, (int) g_strv_length (args) - 1, args + 1)
                     : CLI_EXIT_FAILURE;
    g_clear_object (&cli.runtime);
    g_free (cli.home_dir);
    return status;
}

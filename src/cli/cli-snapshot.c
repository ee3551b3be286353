/* cli-snapshot.c: `boxlite snapshot create|ls|inspect|restore|rm` and `boxlite clone`. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <json-glib/json-glib.h>
#include <stdio.h>

#include "cli.h"

typedef gboolean (*SnapshotAction) (BoxliteBox *box, const char *name, GCancellable *cancellable,
                                    GError **error);

/* Parses `snapshot COMMAND BOX [NAME]` (@with_name: NAME required) and finds
 * the box. */
static BoxliteBox *
parse_box_with (CliContext *cli, const char *command_name, const char *summary,
                const GOptionEntry *entries, gboolean with_name, int argc, char **argv, char **name)
{
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;

    if (!cli_args_parse (&args, command_name, with_name ? "BOX NAME" : "BOX", summary, entries,
                         FALSE, argc, argv))
        return NULL;
    guint wanted = with_name ? 2 : 1;
    if (args.command || g_strv_length (args.positional) != wanted) {
        cli_error ("%s needs %s (see 'boxlite %s --help')", command_name,
                   with_name ? "a box and a snapshot name" : "a box", command_name);
        return NULL;
    }
    BoxliteBox *box = cli_find_box (cli, args.positional[0], &error);
    if (!box) {
        cli_fail (error);
        return NULL;
    }
    if (name)
        *name = g_strdup (args.positional[1]);
    return box;
}

static BoxliteBox *
parse_box (CliContext *cli, const char *command_name, const char *summary, gboolean with_name,
           int argc, char **argv, char **name)
{
    const GOptionEntry entries[] = { { NULL } };

    return parse_box_with (cli, command_name, summary, entries, with_name, argc, argv, name);
}

static int
run_action (CliContext *cli, const char *command_name, const char *summary, SnapshotAction action,
            int argc, char **argv)
{
    g_autofree char *name = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box = parse_box (cli, command_name, summary, TRUE, argc, argv, &name);

    if (!box)
        return CLI_EXIT_FAILURE;
    if (!action (box, name, NULL, &error))
        return cli_fail (error);
    printf ("%s\n", name);
    return 0;
}

static int
cmd_create (CliContext *cli, const char *command_name, int argc, char **argv)
{
    return run_action (cli, command_name,
                       "Keep a box's disk as it is now under NAME. Blocks are shared, not\n"
                       "copied. A running box keeps running: its filesystems are frozen for\n"
                       "the moment the snapshot is taken, so they are clean in it.",
                       boxlite_box_snapshot_create, argc, argv);
}

static int
cmd_restore (CliContext *cli, const char *command_name, int argc, char **argv)
{
    gboolean stop = FALSE;
    const GOptionEntry entries[] = {
        { "stop", 0, 0, G_OPTION_ARG_NONE, &stop,
          "Stop the box first if it runs (it stays stopped)", NULL },
        { NULL },
    };
    g_autofree char *name = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box =
        parse_box_with (cli, command_name,
                        "Put a stopped box's disk back as it was when snapshot NAME was taken.\n"
                        "What was written since is lost.",
                        entries, TRUE, argc, argv, &name);

    if (!box)
        return CLI_EXIT_FAILURE;
    if (!boxlite_box_snapshot_restore_full (
            box, name, stop ? BOXLITE_RESTORE_STOP : BOXLITE_RESTORE_NONE, NULL, &error))
        return cli_fail (error);
    printf ("%s\n", name);
    return 0;
}

static int
cmd_rm (CliContext *cli, const char *command_name, int argc, char **argv)
{
    return run_action (cli, command_name, "Delete a stopped box's snapshot NAME.",
                       boxlite_box_snapshot_remove, argc, argv);
}

static int
cmd_ls (CliContext *cli, const char *command_name, int argc, char **argv)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box =
        parse_box (cli, command_name, "List a box's snapshots.", FALSE, argc, argv, NULL);

    if (!box)
        return CLI_EXIT_FAILURE;
    g_auto (GStrv) names = boxlite_box_snapshot_list (box, &error);
    if (!names)
        return cli_fail (error);
    for (char **name = names; *name; name++)
        printf ("%s\n", *name);
    return 0;
}

static int
cmd_inspect (CliContext *cli, const char *command_name, int argc, char **argv)
{
    g_autofree char *name = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box =
        parse_box (cli, command_name,
                   "Print how snapshot NAME was taken, as JSON: \"taken\" is \"stopped\",\n"
                   "\"live-frozen\" (a running box, its filesystems frozen) or \"live\"\n"
                   "(the freeze did not hold to the end: as after a power cut).",
                   TRUE, argc, argv, &name);

    if (!box)
        return CLI_EXIT_FAILURE;
    g_autoptr (GVariant) info = boxlite_box_snapshot_get_info (box, name, &error);
    if (!info)
        return cli_fail (error);
    g_autofree char *text = json_gvariant_serialize_data (info, NULL);
    printf ("%s\n", text);
    return 0;
}

int
cli_cmd_snapshot (CliContext *cli, int argc, char **argv)
{
    static const CliSubcommand commands[] = {
        { "create", "snapshot create", cmd_create, "Keep a box's disk under a name" },
        { "ls", "snapshot ls", cmd_ls, "List a box's snapshots" },
        { "inspect", "snapshot inspect", cmd_inspect, "Say how a snapshot was taken" },
        { "restore", "snapshot restore", cmd_restore, "Put a stopped box's disk back" },
        { "rm", "snapshot rm", cmd_rm, "Delete a snapshot" },
    };

    return cli_run_subcommand (cli, "snapshot", "COMMAND BOX [NAME]", commands,
                               G_N_ELEMENTS (commands), argc, argv);
}

int
cli_cmd_clone (CliContext *cli, int argc, char **argv)
{
    g_autofree char *snapshot = NULL;
    const GOptionEntry entries[] = {
        { "snapshot", 's', 0, G_OPTION_ARG_STRING, &snapshot,
          "Start from this snapshot of BOX (BOX may then run)", "NAME" },
        { NULL },
    };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;

    if (!cli_args_parse (&args, "clone", "BOX NEW",
                         "Create the box NEW with BOX's options and a disk that starts as BOX's\n"
                         "(stopped) or as its snapshot; blocks are shared, not copied. Prints\n"
                         "the new box's id.",
                         entries, FALSE, argc, argv))
        return CLI_EXIT_FAILURE;
    if (args.command || g_strv_length (args.positional) != 2) {
        cli_error ("clone needs a box and a new name (see 'boxlite clone --help')");
        return CLI_EXIT_FAILURE;
    }
    BoxliteRuntime *runtime = cli_runtime (cli, &error);
    if (!runtime)
        return cli_fail (error);
    g_autoptr (BoxliteBox) box = cli_find_box (cli, args.positional[0], &error);
    if (!box)
        return cli_fail (error);
    g_autoptr (BoxliteBox) clone =
        boxlite_runtime_clone (runtime, box, snapshot, args.positional[1], NULL, &error);
    if (!clone)
        return cli_fail (error);
    printf ("%s\n", boxlite_box_get_id (clone));
    return 0;
}

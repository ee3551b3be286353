/* cli-export.c: `boxlite export` and the box half of `boxlite import`. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <stdio.h>

#include "cli.h"

int
cli_cmd_export (CliContext *cli, int argc, char **argv)
{
    g_autofree char *output = NULL;
    const GOptionEntry entries[] = {
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Write the archive to FILE", "FILE" },
        { NULL },
    };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;

    if (!cli_args_parse (&args, "export", "BOX -o FILE.boxlite",
                         "Write a stopped box (its options, image and disk) to one archive that\n"
                         "`boxlite import` makes a box from on any home directory.",
                         entries, FALSE, argc, argv))
        return CLI_EXIT_FAILURE;
    if (args.command || !args.positional[0] || args.positional[1] || !output) {
        cli_error ("export needs one box and -o FILE (see 'boxlite export --help')");
        return CLI_EXIT_FAILURE;
    }
    g_autoptr (BoxliteBox) box = cli_find_box (cli, args.positional[0], &error);
    if (!box || !boxlite_box_export (box, output, NULL, &error))
        return cli_fail (error);
    return 0;
}

int
cli_import_box (CliContext *cli, int argc, char **argv)
{
    g_autofree char *name = NULL;
    const GOptionEntry entries[] = {
        { "name", 0, 0, G_OPTION_ARG_STRING, &name, "Name the box NAME", "NAME" },
        { NULL },
    };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;

    if (!cli_args_parse (&args, "import", "FILE.boxlite [--name NAME]",
                         "Make a box from an archive `boxlite export` wrote (the box's image is\n"
                         "pulled when the store lacks it) and print its id.",
                         entries, FALSE, argc, argv))
        return CLI_EXIT_FAILURE;
    if (args.command || !args.positional[0] || args.positional[1]) {
        cli_error ("import needs one archive (see 'boxlite import --help')");
        return CLI_EXIT_FAILURE;
    }
    BoxliteRuntime *runtime = cli_runtime (cli, &error);
    g_autoptr (BoxliteBox) box =
        runtime ? boxlite_runtime_import_box (runtime, args.positional[0], name, NULL, &error)
                : NULL;
    if (!box)
        return cli_fail (error);
    printf ("%s\n", boxlite_box_get_id (box));
    return 0;
}

/* The file `boxlite import` was given: its first argument that is not an
 * option (nor --name's value). */
static const char *
import_source (int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (g_str_equal (argv[i], "--name"))
            i++;
        else if (g_str_equal (argv[i], "--"))
            return i + 1 < argc ? argv[i + 1] : NULL;
        else if (argv[i][0] != '-')
            return argv[i];
    }
    return NULL;
}

gboolean
cli_import_is_box (int argc, char **argv)
{
    const char *source = import_source (argc, argv);
    return source && boxlite_is_box_archive (source);
}

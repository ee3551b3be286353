/* cli-cp.c: `boxlite cp`: files into and out of a box, with the container
 * tools' rules for paths (see boxlite_box_copy_in()). */
#define G_LOG_DOMAIN "boxlite-cli"

#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <unistd.h>

#include "cli.h"

/* "BOX:PATH" names a path in a box; a local path with a ':' is written
 * with a '/' before it ("./a:b"), as the container tools ask. */
gboolean
cli_split_box_path (const char *arg, char **box, char **path)
{
    const char *colon = strchr (arg, ':');

    if (!colon || colon == arg || memchr (arg, '/', (gsize) (colon - arg)))
        return FALSE;
    *box = g_strndup (arg, (gsize) (colon - arg));
    *path = g_strdup (colon + 1);
    return TRUE;
}

int
cli_cmd_cp (CliContext *cli, int argc, char **argv)
{
    gboolean archive = FALSE;
    const GOptionEntry entries[] = {
        { "archive", 'a', 0, G_OPTION_ARG_NONE, &archive,
          "Keep owners (user and group ids) where the writing side is root", NULL },
        { NULL },
    };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;
    g_autofree char *src_box = NULL, *src_path = NULL, *dst_box = NULL, *dst_path = NULL;

    if (!cli_args_parse (&args, "cp", "SRC BOX:DST | BOX:SRC DST",
                         "Copy files and directories into or out of a box.\n\n"
                         "SRC/. copies a directory's contents; an existing directory DST receives "
                         "SRC inside it; otherwise SRC is created as DST. '-' as SRC reads a tar "
                         "stream from stdin into the directory DST; '-' as DST writes a tar stream "
                         "of SRC to stdout.",
                         entries, FALSE, argc, argv))
        return CLI_EXIT_FAILURE;
    if (args.command || !args.positional[0] || !args.positional[1] || args.positional[2]) {
        cli_error ("cp needs a source and a destination (see 'boxlite cp --help')");
        return CLI_EXIT_FAILURE;
    }
    gboolean from_box = cli_split_box_path (args.positional[0], &src_box, &src_path);
    gboolean to_box = cli_split_box_path (args.positional[1], &dst_box, &dst_path);
    if (from_box == to_box) {
        cli_error ("cp copies between a box and this machine: exactly one of SRC and DST must be "
                   "BOX:PATH");
        return CLI_EXIT_FAILURE;
    }
    BoxliteCopyFlags flags = archive ? BOXLITE_COPY_OWNERS : BOXLITE_COPY_NONE;
    g_autoptr (BoxliteBox) box = cli_find_box (cli, from_box ? src_box : dst_box, &error);
    if (!box)
        return cli_fail (error);

    gboolean ok;
    if (to_box && g_str_equal (args.positional[0], "-")) {
        g_autoptr (GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
        ok = boxlite_box_copy_in_tar (box, in, dst_path, flags, NULL, &error);
    } else if (to_box) {
        ok = boxlite_box_copy_in (box, args.positional[0], dst_path, flags, NULL, &error);
    } else if (g_str_equal (args.positional[1], "-")) {
        g_autoptr (GOutputStream) out = g_unix_output_stream_new (STDOUT_FILENO, FALSE);
        ok = boxlite_box_copy_out_tar (box, src_path, out, NULL, &error);
    } else {
        ok = boxlite_box_copy_out (box, src_path, args.positional[1], flags, NULL, &error);
    }
    return ok ? 0 : cli_fail (error);
}

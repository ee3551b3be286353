/* cli-mcp.c: `boxlite mcp`: boxes as tools for an MCP client, which starts
 * us and speaks to us on our stdin and stdout.
 *
 * stdout must carry protocol messages and nothing else, whoever writes:
 * the messages go to a descriptor of their own, and fd 1 becomes a copy of
 * stderr, so that a log line or a child that inherits fd 1 cannot corrupt
 * the stream. Likewise no child inherits the client's stdin. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "cli.h"
#include "mcp-server.h"

/* Moves @fd out of the way (close-on-exec), puts @replacement in its place,
 * and returns the moved copy, or -1 with errno set. */
static int
take_fd (int fd, int replacement)
{
    int moved = fcntl (fd, F_DUPFD_CLOEXEC, 3);

    if (moved < 0 || dup2 (replacement, fd) < 0)
        return -1;
    return moved;
}

int
cli_cmd_mcp (CliContext *cli, int argc, char **argv)
{
    const GOptionEntry entries[] = { { NULL } };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;

    if (!cli_args_parse (&args, "mcp", "",
                         "Serve boxes as tools to an MCP client (Model Context Protocol, stdio "
                         "transport):\nrun_code, exec, create_box, list_boxes, remove_box, "
                         "read_file, write_file,\nlist_files. The client starts this command and "
                         "speaks JSON-RPC on its stdin\nand stdout; logs go to stderr.",
                         entries, FALSE, argc, argv))
        return CLI_EXIT_FAILURE;
    if (args.positional[0] || args.command) {
        cli_error ("mcp takes no arguments (see 'boxlite mcp --help')");
        return CLI_EXIT_FAILURE;
    }
    int null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    int in_fd = null_fd < 0 ? -1 : take_fd (STDIN_FILENO, null_fd);
    int out_fd = in_fd < 0 ? -1 : take_fd (STDOUT_FILENO, STDERR_FILENO);
    if (out_fd < 0) {
        cli_error ("cannot set up stdin and stdout: %s", g_strerror (errno));
        return CLI_EXIT_FAILURE;
    }
    close (null_fd);
    /* A client gone mid-reply is a failed write, not our death. */
    signal (SIGPIPE, SIG_IGN);
    g_log_writer_default_set_use_stderr (TRUE);

    BoxliteRuntime *runtime = cli_runtime (cli, &error);
    if (!runtime) {
        close (in_fd);
        close (out_fd);
        return cli_fail (error);
    }
    return bl_mcp_serve (runtime, in_fd, out_fd) == 0 ? 0 : CLI_EXIT_FAILURE;
}

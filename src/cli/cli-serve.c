/* cli-serve.c: `boxlite serve`: boxlite's HTTP API over this home, until
 * interrupted. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <stdio.h>

#include "cli.h"
#include "serve.h"

#define DEFAULT_LISTEN "127.0.0.1:8100"

int
cli_cmd_serve (CliContext *cli, int argc, char **argv)
{
    g_autofree char *listen = NULL, *cert = NULL, *key = NULL;
    const GOptionEntry entries[] = {
        { "listen", 0, 0, G_OPTION_ARG_STRING, &listen,
          "Where to listen: ADDR:PORT or unix:PATH (default " DEFAULT_LISTEN ")", "ADDR" },
        { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &cert, "Serve https with this certificate (PEM)",
          "FILE" },
        { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &key, "The certificate's private key (PEM)",
          "FILE" },
        { NULL },
    };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;
    g_autoptr (GTlsCertificate) tls = NULL;
    gboolean created;

    if (!cli_args_parse (&args, "serve", "",
                         "Serve boxlite's HTTP API (v1) and Prometheus metrics for the boxes of "
                         "this home until interrupted. Clients send the token of HOME/api-token "
                         "(made on first start, mode 0600) as 'Authorization: Bearer TOKEN'.",
                         entries, FALSE, argc, argv))
        return CLI_EXIT_FAILURE;
    if (args.command || args.positional[0]) {
        cli_error ("serve takes no arguments (see 'boxlite serve --help')");
        return CLI_EXIT_FAILURE;
    }
    if (!cert != !key) {
        cli_error ("--tls-cert and --tls-key go together");
        return CLI_EXIT_FAILURE;
    }
    if (cert && !(tls = g_tls_certificate_new_from_files (cert, key, &error)))
        return cli_fail (error);
    BoxliteRuntime *runtime = cli_runtime (cli, &error);
    if (!runtime)
        return cli_fail (error);
    g_autofree char *token = bl_serve_token_load (cli->home_dir, &created, &error);
    if (!token)
        return cli_fail (error);
    g_autoptr (BlServe) serve = bl_serve_new (runtime, token, &error);
    if (!serve || !bl_serve_listen (serve, listen ? listen : DEFAULT_LISTEN, tls, &error))
        return cli_fail (error);
    g_autofree char *where = bl_serve_describe (serve);
    g_autofree char *token_file = g_build_filename (cli->home_dir, "api-token", NULL);
    fprintf (stderr, "boxlite serve: listening on %s; the token is in %s%s\n",
             *where ? where : listen, token_file, created ? " (new)" : "");
    cli_run_until_interrupted ();
    return 0;
}

/* test-util.h: running commands in boxes from the integration suites. */
#pragma once

#include <boxlite/boxlite.h>

G_BEGIN_DECLS

/* Runs @cmd in @box, feeding @input (nullable) to its stdin and collecting
 * both streams into *@out and *@err (new arrays). Fails the test when the
 * exec cannot start or be waited for. */
BoxliteExecution *run_full (BoxliteBox *box, BoxliteCommand *cmd, GBytes *input, GByteArray **out,
                            GByteArray **err);

/* Runs `sh -c @script` in @box; returns its stdout as a string and stores
 * its exit code in @exit_code (nullable). */
char *run_simple (BoxliteBox *box, const char *script, gint *exit_code);

#define HTTP_BODY "hello from the host loopback"

/* A one-thread HTTP server on 127.0.0.1 that answers every request with
 * HTTP_BODY and counts its connections. The library's calls block, so it
 * serves from its own thread. */
typedef struct {
    GSocket *socket;
    guint16 port;
    GCancellable *cancellable;
    GThread *thread;
    gint connections;
} HttpServer;

HttpServer *http_server_start (void);
/* Stops the server; returns how many connections it accepted. */
gint http_server_stop (HttpServer *server);

G_END_DECLS

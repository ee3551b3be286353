/* test-util.h: running commands in boxes, and what a process leaves behind. */
#pragma once

#include <boxlite/boxlite.h>

G_BEGIN_DECLS

/* Runs @cmd in @box, feeding @input (nullable) to its stdin and collecting
 * both streams into *@out and *@err (new arrays). Fails the test when the
 * exec cannot start or be waited for. */
BoxliteExecution *run_full (BoxliteBox *box, BoxliteCommand *cmd, GBytes *input, GByteArray **out,
                            GByteArray **err);

/* A stream read to its end on a thread of its own. */
typedef struct _TestReader TestReader;
TestReader *test_reader_start (GInputStream *stream);
/* Joins the reader and frees it; returns what it read (a new array). */
GByteArray *test_reader_finish (TestReader *reader);

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

/* The pids of the processes whose parent is @parent (an array of gint). */
GArray *test_child_pids (gint parent);

/* The pids of the processes other than ours whose command line or
 * environment contains @needle (an array of gint). */
GArray *test_pids_mentioning (const char *needle);

/* Counts the entries of directory @path (0 when it does not exist). */
guint test_count_entries (const char *path);

/* The number of regular files, directories and sockets under @path. */
guint test_count_tree (const char *path);

/* A new, empty home directory under the temporary folder (named from
 * @prefix, e.g. "boxlite-test") with a runtime on it in *@runtime. */
char *test_home_open (const char *prefix, BoxliteRuntime **runtime);

/* Drops *@runtime, then deletes @home and everything in it, and frees it. */
void test_home_close (BoxliteRuntime **runtime, char *home);

G_END_DECLS

/* test-util.c: running commands in boxes, and what a process leaves behind. */
#include "test-util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct _TestReader {
    GInputStream *stream;
    GByteArray *data;
    GThread *thread;
};

static gpointer
read_all_thread (gpointer user_data)
{
    TestReader *r = user_data;
    guint8 buf[65536];
    gssize n;

    while ((n = g_input_stream_read (r->stream, buf, sizeof buf, NULL, NULL)) > 0)
        g_byte_array_append (r->data, buf, (guint) n);
    return NULL;
}

TestReader *
test_reader_start (GInputStream *stream)
{
    TestReader *r = g_new0 (TestReader, 1);

    r->stream = stream;
    r->data = g_byte_array_new ();
    r->thread = g_thread_new ("reader", read_all_thread, r);
    return r;
}

GByteArray *
test_reader_finish (TestReader *r)
{
    g_thread_join (r->thread);
    GByteArray *data = r->data;
    g_free (r);
    return data;
}

/* Runs @argv in @box, feeding @input (if any) and collecting both streams. */
BoxliteExecution *
run_full (BoxliteBox *box, BoxliteCommand *cmd, GBytes *input, GByteArray **out, GByteArray **err)
{
    g_autoptr (GError) error = NULL;

    if (input)
        boxlite_command_set_stdin (cmd, TRUE);
    BoxliteExecution *exe = boxlite_box_exec (box, cmd, NULL, &error);
    g_assert_no_error (error);
    TestReader *ro = test_reader_start (boxlite_execution_get_stdout (exe));
    TestReader *re = test_reader_start (boxlite_execution_get_stderr (exe));
    if (input) {
        GOutputStream *in = boxlite_execution_get_stdin (exe);
        gsize len = 0;
        const void *data = g_bytes_get_data (input, &len);
        g_output_stream_write_all (in, data, len, NULL, NULL, &error);
        g_assert_no_error (error);
        g_output_stream_close (in, NULL, &error);
        g_assert_no_error (error);
    }
    *out = test_reader_finish (ro);
    *err = test_reader_finish (re);
    boxlite_execution_wait (exe, NULL, &error);
    g_assert_no_error (error);
    return exe;
}

char *
run_simple (BoxliteBox *box, const char *script, gint *exit_code)
{
    const char *argv[] = { "sh", "-c", script, NULL };
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);
    GByteArray *out, *err;
    g_autoptr (BoxliteExecution) exe = run_full (box, cmd, NULL, &out, &err);

    if (exit_code)
        *exit_code = boxlite_execution_get_exit_code (exe);
    g_byte_array_unref (err);
    g_byte_array_append (out, (const guint8 *) "", 1);
    return (char *) g_byte_array_free (out, FALSE);
}

static void
http_serve_one (GSocket *conn)
{
    static const char response[] = "HTTP/1.0 200 OK\r\n"
                                   "Content-Type: text/plain\r\n"
                                   "Content-Length: 28\r\n"
                                   "Connection: close\r\n"
                                   "\r\n" HTTP_BODY;
    GString *request = g_string_new (NULL);
    char buf[1024];

    G_STATIC_ASSERT (sizeof HTTP_BODY - 1 == 28);
    g_socket_set_timeout (conn, 20);
    while (!strstr (request->str, "\r\n\r\n") && request->len < 16384) {
        gssize n = g_socket_receive (conn, buf, sizeof buf, NULL, NULL);
        if (n <= 0)
            break;
        g_string_append_len (request, buf, n);
    }
    if (g_str_has_prefix (request->str, "GET / "))
        g_socket_send (conn, response, sizeof response - 1, NULL, NULL);
    g_socket_shutdown (conn, FALSE, TRUE, NULL);
    g_socket_close (conn, NULL);
    g_string_free (request, TRUE);
}

static gpointer
http_thread (gpointer user_data)
{
    HttpServer *server = user_data;

    for (;;) {
        g_autoptr (GSocket) conn = g_socket_accept (server->socket, server->cancellable, NULL);
        if (!conn)
            break; /* cancelled: the test is over */
        g_atomic_int_inc (&server->connections);
        http_serve_one (conn);
    }
    return NULL;
}

HttpServer *
http_server_start (void)
{
    HttpServer *server = g_new0 (HttpServer, 1);
    g_autoptr (GError) error = NULL;
    g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);

    server->socket =
        g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
    g_assert_no_error (error);
    g_socket_bind (server->socket, any_port, TRUE, &error);
    g_assert_no_error (error);
    g_socket_listen (server->socket, &error);
    g_assert_no_error (error);
    g_autoptr (GSocketAddress) bound = g_socket_get_local_address (server->socket, &error);
    g_assert_no_error (error);
    server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
    server->cancellable = g_cancellable_new ();
    server->thread = g_thread_new ("http", http_thread, server);
    return server;
}

/* Stops the server; returns how many connections it accepted. */
gint
http_server_stop (HttpServer *server)
{
    g_cancellable_cancel (server->cancellable);
    g_thread_join (server->thread);
    gint connections = g_atomic_int_get (&server->connections);
    g_socket_close (server->socket, NULL);
    g_object_unref (server->socket);
    g_object_unref (server->cancellable);
    g_free (server);
    return connections;
}

/* The parent pid in /proc/PID/stat: the field after the command name, which
 * is in parentheses and may itself contain spaces and parentheses. */
static gint
parent_of (const char *pid)
{
    g_autofree char *path = g_build_filename ("/proc", pid, "stat", NULL);
    g_autofree char *stat = NULL;
    gint ppid = -1;

    if (!g_file_get_contents (path, &stat, NULL, NULL))
        return -1;
    const char *end = strrchr (stat, ')');
    if (!end || sscanf (end + 1, " %*c %d", &ppid) != 1)
        return -1;
    return ppid;
}

static gboolean
file_contains (const char *pid, const char *name, const char *needle)
{
    g_autofree char *path = g_build_filename ("/proc", pid, name, NULL);
    g_autofree char *text = NULL;
    gsize len = 0;

    if (!g_file_get_contents (path, &text, &len, NULL))
        return FALSE;
    /* NUL-separated: look at each string. */
    for (gsize i = 0; i < len; i += strlen (text + i) + 1) {
        if (strstr (text + i, needle))
            return TRUE;
    }
    return FALSE;
}

static GArray *
scan_proc (gint parent, const char *needle)
{
    GArray *pids = g_array_new (FALSE, FALSE, sizeof (gint));
    g_autoptr (GDir) dir = g_dir_open ("/proc", 0, NULL);
    const char *name;

    g_assert_nonnull (dir);
    while ((name = g_dir_read_name (dir))) {
        if (!g_ascii_isdigit (name[0]))
            continue;
        gint pid = atoi (name);
        if (pid == getpid ())
            continue;
        if (needle
                ? file_contains (name, "cmdline", needle) || file_contains (name, "environ", needle)
                : parent_of (name) == parent)
            g_array_append_val (pids, pid);
    }
    return pids;
}

GArray *
test_child_pids (gint parent)
{
    return scan_proc (parent, NULL);
}

GArray *
test_pids_mentioning (const char *needle)
{
    return scan_proc (0, needle);
}

guint
test_count_entries (const char *path)
{
    g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
    guint n = 0;

    while (dir && g_dir_read_name (dir))
        n++;
    return n;
}

static guint tree_count;

static int
count_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    tree_count++;
    return 0;
}

guint
test_count_tree (const char *path)
{
    tree_count = 0;
    if (nftw (path, count_one, 16, FTW_PHYS) < 0)
        return 0;
    return tree_count;
}

char *
test_home_open (const char *prefix, BoxliteRuntime **runtime)
{
    g_autofree char *name = g_strconcat (prefix, "-XXXXXX", NULL);
    g_autofree char *tmpl = g_build_filename (g_get_tmp_dir (), name, NULL);
    char *home = g_mkdtemp (g_steal_pointer (&tmpl));
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (GError) error = NULL;

    g_assert_nonnull (home);
    boxlite_options_set_home_dir (options, home);
    *runtime = boxlite_runtime_new (options, &error);
    g_assert_no_error (error);
    return home;
}

void
test_home_close (BoxliteRuntime **runtime, char *home)
{
    const char *const rm[] = { "rm", "-rf", home, NULL };

    g_clear_object (runtime);
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
    g_free (home);
}

/* test-qmp.c: the QMP client against a real QEMU and against a fake one.
 *
 * The real QEMU is started stopped (-S) with no kernel, so QMP works but no
 * guest runs. The fake QEMU is a thread serving a unix socket with a
 * script, to feed the client what a real QEMU never sends.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

#include "bl-qmp-client.h"

#define QEMU_BINARY "qemu-system-x86_64"
#define WAIT_SECONDS 30

/* Helpers: waiting on the main context */

static gboolean
wake_up (gpointer user_data)
{
    return G_SOURCE_CONTINUE;
}

/* Iterates the default context until @cond holds; fails after WAIT_SECONDS. */
#define ITERATE_UNTIL(cond)                                                                        \
    G_STMT_START                                                                                   \
    {                                                                                              \
        gint64 deadline_ = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;                \
        guint wake_ = g_timeout_add (50, wake_up, NULL);                                           \
        while (!(cond)) {                                                                          \
            g_assert_cmpint (g_get_monotonic_time (), <, deadline_);                               \
            g_main_context_iteration (NULL, TRUE);                                                 \
        }                                                                                          \
        g_source_remove (wake_);                                                                   \
    }                                                                                              \
    G_STMT_END

static void
sleep_in_loop (guint msec)
{
    gint64 until = g_get_monotonic_time () + msec * 1000;

    ITERATE_UNTIL (g_get_monotonic_time () >= until);
}

static void
on_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
    GAsyncResult **slot = user_data;

    g_assert_null (*slot);
    *slot = g_object_ref (result);
}

static BlQmpClient *
connect_client (const char *path, GError **error)
{
    g_autoptr (GAsyncResult) result = NULL;

    bl_qmp_client_connect_async (path, NULL, on_result, &result);
    ITERATE_UNTIL (result != NULL);
    return bl_qmp_client_connect_finish (result, error);
}

static JsonNode *
run_command (BlQmpClient *client, const char *command, JsonObject *arguments, GError **error)
{
    g_autoptr (GAsyncResult) result = NULL;

    bl_qmp_client_execute_async (client, command, arguments, NULL, on_result, &result);
    ITERATE_UNTIL (result != NULL);
    return bl_qmp_client_execute_finish (client, result, error);
}

static char *
query_status (BlQmpClient *client)
{
    g_autoptr (GAsyncResult) result = NULL;
    g_autoptr (GError) error = NULL;
    char *status;

    bl_qmp_client_query_status_async (client, NULL, on_result, &result);
    ITERATE_UNTIL (result != NULL);
    status = bl_qmp_client_query_status_finish (client, result, &error);
    g_assert_no_error (error);
    return status;
}

/* Drops @client and checks that nothing else still holds it. */
static void
release_client (BlQmpClient **client)
{
    gpointer weak = *client;

    if (*client == NULL)
        return;
    g_object_add_weak_pointer (G_OBJECT (*client), &weak);
    bl_qmp_client_close (*client);
    g_clear_object (client);
    ITERATE_UNTIL (weak == NULL);
}

/* Fixture: a QEMU, a client, and what the client's signals said */

typedef struct {
    char *dir;
    char *socket_path;
    GPid qemu_pid;
    gboolean qemu_exited;
    int qemu_wait_status;
    BlQmpClient *client;
    GPtrArray *events; /* names, in order */
    guint stop_events; /* through the detailed "event::STOP" */
    guint disconnected;
    GError *disconnect_reason;
    guint open_fds; /* at setup, to find leaked sockets at teardown */
} Fixture;

/* Counts this process's open fds, and logs them for a failing test. */
static guint
count_open_fds (void)
{
    g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
    const char *name;
    guint count = 0;

    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
        g_autofree char *path = g_build_filename ("/proc/self/fd", name, NULL);
        g_autofree char *target = g_file_read_link (path, NULL);

        g_test_message ("fd %s: %s", name, target ? target : "?");
        count++;
    }
    return count;
}

static void
on_event (BlQmpClient *client, const char *name, JsonObject *data, gint64 timestamp_usec,
          gpointer user_data)
{
    Fixture *fx = user_data;

    g_assert_nonnull (name);
    g_assert_nonnull (data);
    g_ptr_array_add (fx->events, g_strdup (name));
}

static void
on_stop_event (BlQmpClient *client, const char *name, JsonObject *data, gint64 timestamp_usec,
               gpointer user_data)
{
    Fixture *fx = user_data;

    g_assert_cmpstr (name, ==, "STOP");
    g_assert_cmpint (timestamp_usec, >, 0);
    fx->stop_events++;
}

static void
on_disconnected (BlQmpClient *client, const GError *reason, gpointer user_data)
{
    Fixture *fx = user_data;

    g_assert_nonnull (reason);
    g_assert_false (bl_qmp_client_is_connected (client));
    fx->disconnected++;
    g_clear_error (&fx->disconnect_reason);
    fx->disconnect_reason = g_error_copy (reason);
}

static void
watch_client (Fixture *fx)
{
    g_signal_connect (fx->client, "event", G_CALLBACK (on_event), fx);
    g_signal_connect (fx->client, "event::STOP", G_CALLBACK (on_stop_event), fx);
    g_signal_connect (fx->client, "disconnected", G_CALLBACK (on_disconnected), fx);
}

static gboolean
events_contain (Fixture *fx, const char *name)
{
    return g_ptr_array_find_with_equal_func (fx->events, name, g_str_equal, NULL);
}

static void
on_qemu_exit (GPid pid, gint wait_status, gpointer user_data)
{
    Fixture *fx = user_data;

    fx->qemu_exited = TRUE;
    fx->qemu_wait_status = wait_status;
    g_spawn_close_pid (pid);
}

static void
die_with_parent (gpointer user_data)
{
    prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
start_qemu (Fixture *fx)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *qmp = g_strdup_printf ("unix:%s,server=on,wait=off", fx->socket_path);
    const char *argv[] = {
        QEMU_BINARY, "-M",   "microvm", "-accel", "tcg", "-nodefaults", "-no-user-config",
        "-display",  "none", "-S",      "-qmp",   qmp,   NULL,
    };

    g_spawn_async (NULL, (char **) argv, NULL,
                   G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                   die_with_parent, NULL, &fx->qemu_pid, &error);
    g_assert_no_error (error);
    g_child_watch_add (fx->qemu_pid, on_qemu_exit, fx);
}

/* QEMU creates the socket early, but not at once: retry for a while. */
static BlQmpClient *
connect_to_qemu (Fixture *fx)
{
    gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;

    for (;;) {
        g_autoptr (GError) error = NULL;
        BlQmpClient *client = connect_client (fx->socket_path, &error);

        if (client != NULL)
            return client;
        g_assert_false (fx->qemu_exited);
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        sleep_in_loop (20);
    }
}

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *qemu = g_find_program_in_path (QEMU_BINARY);

    fx->open_fds = count_open_fds ();
    fx->events = g_ptr_array_new_with_free_func (g_free);
    fx->dir = g_dir_make_tmp ("boxlite-qmp-XXXXXX", &error);
    g_assert_no_error (error);
    fx->socket_path = g_build_filename (fx->dir, "qmp.sock", NULL);
    if (data != NULL) /* a fake-QEMU test: no QEMU, no client */
        return;
    if (qemu == NULL) {
        g_test_skip (QEMU_BINARY " is not installed");
        return;
    }
    start_qemu (fx);
    fx->client = connect_to_qemu (fx);
    watch_client (fx);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
    release_client (&fx->client);
    if (fx->qemu_pid != 0 && !fx->qemu_exited) {
        kill (fx->qemu_pid, SIGKILL);
        ITERATE_UNTIL (fx->qemu_exited);
    }
    g_unlink (fx->socket_path);
    g_rmdir (fx->dir);
    g_free (fx->socket_path);
    g_free (fx->dir);
    g_ptr_array_unref (fx->events);
    g_clear_error (&fx->disconnect_reason);
    g_assert_cmpuint (count_open_fds (), ==, fx->open_fds);
}

#define SKIP_WITHOUT_QEMU(fx)                                                                      \
    G_STMT_START                                                                                   \
    {                                                                                              \
        if ((fx)->client == NULL)                                                                  \
            return;                                                                                \
    }                                                                                              \
    G_STMT_END

/* Tests against QEMU */

static void
test_connect (Fixture *fx, gconstpointer data)
{
    g_autoptr (GRegex) version = g_regex_new ("^[0-9]+\\.[0-9]+\\.[0-9]+$", 0, 0, NULL);

    SKIP_WITHOUT_QEMU (fx);
    g_assert_true (bl_qmp_client_is_connected (fx->client));
    g_assert_null (bl_qmp_client_get_disconnect_reason (fx->client));
    g_assert_true (g_regex_match (version, bl_qmp_client_get_qemu_version (fx->client), 0, NULL));
}

static void
test_query_status (Fixture *fx, gconstpointer data)
{
    g_autofree char *status = NULL;

    SKIP_WITHOUT_QEMU (fx);
    status = query_status (fx->client);
    g_assert_cmpstr (status, ==, "prelaunch");
}

static void
test_arguments (Fixture *fx, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonObject) arguments = json_object_new ();
    g_autoptr (JsonNode) version = NULL;
    g_autoptr (JsonNode) properties = NULL;
    gboolean has_type = FALSE;
    JsonArray *array;

    SKIP_WITHOUT_QEMU (fx);
    version = run_command (fx->client, "query-version", NULL, &error);
    g_assert_no_error (error);
    g_assert_true (JSON_NODE_HOLDS_OBJECT (version));
    g_assert_true (json_object_has_member (json_node_get_object (version), "qemu"));

    json_object_set_string_member (arguments, "path", "/machine");
    properties = run_command (fx->client, "qom-list", arguments, &error);
    g_assert_no_error (error);
    g_assert_true (JSON_NODE_HOLDS_ARRAY (properties));
    array = json_node_get_array (properties);
    for (guint i = 0; i < json_array_get_length (array); i++) {
        JsonObject *property = json_array_get_object_element (array, i);

        has_type |= g_strcmp0 (json_object_get_string_member (property, "name"), "type") == 0;
    }
    g_assert_true (has_type);
    /* The caller's arguments are left as they were. */
    g_assert_cmpuint (json_object_get_size (arguments), ==, 1);
}

/* A descriptor passed with "add-fd" reaches QEMU: query-fdsets lists it in
 * the set it was given, which remove-fd accepts. The caller's descriptor
 * stays the caller's. */
static void
test_pass_fd (Fixture *fx, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GAsyncResult) result = NULL;

    SKIP_WITHOUT_QEMU (fx);
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp ("qmp-fd-XXXXXX", &path, &error);
    g_assert_no_error (error);
    g_autoptr (JsonObject) opaque = json_object_new ();
    json_object_set_string_member (opaque, "opaque", "passed");
    bl_qmp_client_execute_with_fd_async (fx->client, "add-fd", opaque, fd, NULL, on_result,
                                         &result);
    ITERATE_UNTIL (result != NULL);
    g_autoptr (JsonNode) added = bl_qmp_client_execute_finish (fx->client, result, &error);
    g_assert_no_error (error);
    gint64 set = json_object_get_int_member (json_node_get_object (added), "fdset-id");
    g_assert_cmpint (fcntl (fd, F_GETFD), >=, 0);
    close (fd);
    g_unlink (path);

    g_autoptr (JsonNode) sets = run_command (fx->client, "query-fdsets", NULL, &error);
    g_assert_no_error (error);
    JsonArray *list = json_node_get_array (sets);
    g_assert_cmpuint (json_array_get_length (list), ==, 1);
    JsonObject *info = json_array_get_object_element (list, 0);
    g_assert_cmpint (json_object_get_int_member (info, "fdset-id"), ==, set);
    JsonObject *member =
        json_array_get_object_element (json_object_get_array_member (info, "fds"), 0);
    g_assert_cmpstr (json_object_get_string_member (member, "opaque"), ==, "passed");

    g_autoptr (JsonObject) remove = json_object_new ();
    json_object_set_int_member (remove, "fdset-id", set);
    g_autoptr (JsonNode) removed = run_command (fx->client, "remove-fd", remove, &error);
    g_assert_no_error (error);
}

static void
test_qmp_error (Fixture *fx, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonObject) arguments = json_object_new ();
    g_autoptr (JsonNode) reply = NULL;
    g_autofree char *status = NULL;

    SKIP_WITHOUT_QEMU (fx);
    reply = run_command (fx->client, "no-such-command", NULL, &error);
    g_assert_null (reply);
    g_assert_error (error, BL_QMP_ERROR, BL_QMP_ERROR_COMMAND_NOT_FOUND);
    g_assert_nonnull (strstr (error->message, "no-such-command"));
    g_clear_error (&error);

    json_object_set_string_member (arguments, "path", "/no/such/object");
    reply = run_command (fx->client, "qom-list", arguments, &error);
    g_assert_null (reply);
    g_assert_error (error, BL_QMP_ERROR, BL_QMP_ERROR_DEVICE_NOT_FOUND);
    g_assert_nonnull (strstr (error->message, "/no/such/object"));

    /* An error reply does not hurt the connection. */
    status = query_status (fx->client);
    g_assert_cmpstr (status, ==, "prelaunch");
    g_assert_cmpuint (fx->disconnected, ==, 0);
}

static void
test_stop_resume_events (Fixture *fx, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) cont = NULL;
    g_autoptr (JsonNode) stop = NULL;
    g_autofree char *status = NULL;

    SKIP_WITHOUT_QEMU (fx);
    cont = run_command (fx->client, "cont", NULL, &error);
    g_assert_no_error (error);
    stop = run_command (fx->client, "stop", NULL, &error);
    g_assert_no_error (error);
    ITERATE_UNTIL (events_contain (fx, "STOP"));

    g_assert_true (events_contain (fx, "RESUME"));
    g_assert_cmpuint (fx->stop_events, ==, 1);
    status = query_status (fx->client);
    g_assert_cmpstr (status, ==, "paused");
}

typedef struct {
    const char *command;
    GAsyncResult *result;
} InFlight;

/* Each kind of command has a reply of its own shape, so a reply handed to
 * the wrong command shows. */
static void
check_in_flight_reply (BlQmpClient *client, InFlight *flight)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) reply = bl_qmp_client_execute_finish (client, flight->result, &error);

    if (g_str_equal (flight->command, "no-such-command")) {
        g_assert_error (error, BL_QMP_ERROR, BL_QMP_ERROR_COMMAND_NOT_FOUND);
        return;
    }
    g_assert_no_error (error);
    if (g_str_equal (flight->command, "query-status"))
        g_assert_true (json_object_has_member (json_node_get_object (reply), "status"));
    else if (g_str_equal (flight->command, "query-version"))
        g_assert_true (json_object_has_member (json_node_get_object (reply), "qemu"));
    else if (g_str_equal (flight->command, "query-commands"))
        g_assert_true (JSON_NODE_HOLDS_ARRAY (reply));
    else
        g_assert_true (JSON_NODE_HOLDS_OBJECT (reply)); /* cont, stop: {} */
}

static void
test_many_in_flight (Fixture *fx, gconstpointer data)
{
    static const char *const commands[] = {
        "query-status", "query-version", "no-such-command", "query-commands", "cont", "stop",
    };
    enum { N_COMMANDS = 300 };
    g_autofree InFlight *flights = g_new0 (InFlight, N_COMMANDS);
    guint done = 0;

    SKIP_WITHOUT_QEMU (fx);
    for (guint i = 0; i < N_COMMANDS; i++) {
        flights[i].command = commands[i % G_N_ELEMENTS (commands)];
        bl_qmp_client_execute_async (fx->client, flights[i].command, NULL, NULL, on_result,
                                     &flights[i].result);
    }
    for (guint i = 0; i < N_COMMANDS; i++) {
        ITERATE_UNTIL (flights[i].result != NULL);
        check_in_flight_reply (fx->client, &flights[i]);
        g_clear_object (&flights[i].result);
        done++;
    }
    g_assert_cmpuint (done, ==, N_COMMANDS);
    /* cont/stop pairs made events arrive among the replies. */
    ITERATE_UNTIL (fx->stop_events == N_COMMANDS / G_N_ELEMENTS (commands));
    g_assert_true (events_contain (fx, "RESUME"));
    g_assert_cmpuint (fx->disconnected, ==, 0);
}

static void
test_cancel (Fixture *fx, gconstpointer data)
{
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();
    g_autoptr (GAsyncResult) result = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) reply = NULL;
    g_autofree char *status = NULL;

    SKIP_WITHOUT_QEMU (fx);
    /* A frozen QEMU keeps the command pending. */
    kill (fx->qemu_pid, SIGSTOP);
    bl_qmp_client_execute_async (fx->client, "query-version", NULL, cancellable, on_result,
                                 &result);
    sleep_in_loop (50);
    g_assert_null (result);
    g_cancellable_cancel (cancellable);
    ITERATE_UNTIL (result != NULL);
    reply = bl_qmp_client_execute_finish (fx->client, result, &error);
    g_assert_null (reply);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

    /* The late reply to the cancelled command is not taken for this one. */
    kill (fx->qemu_pid, SIGCONT);
    status = query_status (fx->client);
    g_assert_cmpstr (status, ==, "prelaunch");
}

static void
test_qemu_killed (Fixture *fx, gconstpointer data)
{
    g_autoptr (GAsyncResult) pending = NULL;
    g_autoptr (GAsyncResult) late = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) reply = NULL;

    SKIP_WITHOUT_QEMU (fx);
    kill (fx->qemu_pid, SIGSTOP);
    bl_qmp_client_execute_async (fx->client, "query-status", NULL, NULL, on_result, &pending);
    sleep_in_loop (50);
    g_assert_null (pending);
    kill (fx->qemu_pid, SIGKILL);
    ITERATE_UNTIL (pending != NULL);

    reply = bl_qmp_client_execute_finish (fx->client, pending, &error);
    g_assert_null (reply);
    g_assert_error (error, BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED);
    g_assert_cmpstr (error->message, ==,
                     "QEMU closed the QMP connection while 'query-status' was pending");
    g_clear_error (&error);
    g_assert_cmpuint (fx->disconnected, ==, 1);
    g_assert_error (fx->disconnect_reason, BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED);
    g_assert_false (bl_qmp_client_is_connected (fx->client));

    /* Later commands fail at once; "disconnected" does not fire again. */
    bl_qmp_client_execute_async (fx->client, "query-status", NULL, NULL, on_result, &late);
    ITERATE_UNTIL (late != NULL);
    reply = bl_qmp_client_execute_finish (fx->client, late, &error);
    g_assert_null (reply);
    g_assert_error (error, BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED);
    bl_qmp_client_close (fx->client);
    g_assert_cmpuint (fx->disconnected, ==, 1);
    ITERATE_UNTIL (fx->qemu_exited);
}

static void
test_quit (Fixture *fx, gconstpointer data)
{
    g_autoptr (GAsyncResult) result = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) reply = NULL;

    SKIP_WITHOUT_QEMU (fx);
    bl_qmp_client_execute_async (fx->client, "quit", NULL, NULL, on_result, &result);
    ITERATE_UNTIL (result != NULL && fx->disconnected > 0 && fx->qemu_exited);

    /* QEMU answers "quit" before it closes the socket, but need not. */
    reply = bl_qmp_client_execute_finish (fx->client, result, &error);
    if (reply == NULL)
        g_assert_error (error, BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED);
    g_assert_true (events_contain (fx, "SHUTDOWN"));
    g_assert_cmpuint (fx->disconnected, ==, 1);
    g_assert_error (fx->disconnect_reason, BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED);
    g_assert_true (WIFEXITED (fx->qemu_wait_status));
    g_assert_cmpint (WEXITSTATUS (fx->qemu_wait_status), ==, 0);
}

static void
test_close_with_pending (Fixture *fx, gconstpointer data)
{
    g_autoptr (GAsyncResult) result = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) reply = NULL;

    SKIP_WITHOUT_QEMU (fx);
    kill (fx->qemu_pid, SIGSTOP);
    bl_qmp_client_execute_async (fx->client, "query-status", NULL, NULL, on_result, &result);
    bl_qmp_client_close (fx->client);
    bl_qmp_client_close (fx->client);
    ITERATE_UNTIL (result != NULL);
    reply = bl_qmp_client_execute_finish (fx->client, result, &error);
    g_assert_error (error, BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED);
    g_assert_cmpstr (error->message, ==,
                     "The QMP connection was closed while 'query-status' was pending");
    g_assert_cmpuint (fx->disconnected, ==, 1);
    kill (fx->qemu_pid, SIGCONT);
}

static void
test_sync (Fixture *fx, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BlQmpClient) client = NULL;
    g_autoptr (JsonNode) reply = NULL;
    gpointer weak;

    SKIP_WITHOUT_QEMU (fx);
    /* QEMU serves one QMP client at a time. */
    release_client (&fx->client);
    client = bl_qmp_client_connect_sync (fx->socket_path, NULL, &error);
    g_assert_no_error (error);

    reply = bl_qmp_client_execute_sync (client, "query-status", NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (json_object_get_string_member (json_node_get_object (reply), "status"), ==,
                     "prelaunch");
    g_clear_pointer (&reply, json_node_unref);

    reply = bl_qmp_client_execute_sync (client, "no-such-command", NULL, NULL, &error);
    g_assert_null (reply);
    g_assert_error (error, BL_QMP_ERROR, BL_QMP_ERROR_COMMAND_NOT_FOUND);

    weak = client;
    g_object_add_weak_pointer (G_OBJECT (client), &weak);
    g_clear_object (&client);
    g_assert_null (weak);
}

static void
test_connect_refused (Fixture *fx, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BlQmpClient) client = connect_client (fx->socket_path, &error);

    g_assert_null (client);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_nonnull (strstr (error->message, fx->socket_path));
}

/* A fake QEMU: a thread serving one connection from a script */

#define GOOD_GREETING                                                                              \
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "              \
    "\"package\": \"fake\"}, \"capabilities\": []}}\r\n"

typedef struct {
    char *path;
    GSocket *listener;
    GThread *thread;
    GBytes *greeting;       /* nullable */
    gboolean negotiate;     /* answer qmp_capabilities */
    gboolean await_command; /* then read one more command */
    GBytes *script;         /* nullable; "@ID@" becomes that command's id */
    gboolean hang_up;       /* close after the script instead of waiting for EOF */
} FakeQemu;

static gint64
read_command_id (GDataInputStream *input)
{
    g_autofree char *line = g_data_input_stream_read_line (input, NULL, NULL, NULL);
    g_autoptr (JsonParser) parser = json_parser_new ();

    g_assert_nonnull (line);
    g_assert_true (json_parser_load_from_data (parser, line, -1, NULL));
    return json_object_get_int_member (json_node_get_object (json_parser_get_root (parser)), "id");
}

static void
fake_write (GOutputStream *output, const char *data, gsize len)
{
    /* The client may hang up halfway through: that is the point of some
     * scripts, so write errors are expected. */
    g_output_stream_write_all (output, data, len, NULL, NULL, NULL);
}

static void
fake_run_script (FakeQemu *fake, GOutputStream *output, gint64 id)
{
    g_autofree char *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, id);
    gsize len;
    const char *script = g_bytes_get_data (fake->script, &len);
    g_autoptr (GString) text = g_string_new_len (script, (gssize) len);

    g_string_replace (text, "@ID@", id_text, 0);
    fake_write (output, text->str, text->len);
}

static gpointer
fake_qemu_serve (gpointer user_data)
{
    FakeQemu *fake = user_data;
    g_autoptr (GSocket) socket = g_socket_accept (fake->listener, NULL, NULL);
    g_autoptr (GSocketConnection) connection = NULL;
    g_autoptr (GDataInputStream) input = NULL;
    GOutputStream *output;
    gint64 id = 0;

    g_assert_nonnull (socket);
    g_socket_set_timeout (socket, WAIT_SECONDS);
    connection = g_socket_connection_factory_create_connection (socket);
    input = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
    output = g_io_stream_get_output_stream (G_IO_STREAM (connection));

    if (fake->greeting != NULL)
        fake_write (output, g_bytes_get_data (fake->greeting, NULL),
                    g_bytes_get_size (fake->greeting));
    if (fake->negotiate) {
        g_autofree char *reply = g_strdup_printf (
            "{\"return\": {}, \"id\": %" G_GINT64_FORMAT "}\n", read_command_id (input));

        fake_write (output, reply, strlen (reply));
    }
    if (fake->await_command)
        id = read_command_id (input);
    if (fake->script != NULL)
        fake_run_script (fake, output, id);
    /* Wait for the client to hang up, unless we are to do it first. */
    while (!fake->hang_up) {
        g_autofree char *line = g_data_input_stream_read_line (input, NULL, NULL, NULL);

        if (line == NULL)
            break;
    }
    g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
    return NULL;
}

static FakeQemu *
fake_qemu_start (Fixture *fx, const char *greeting, gboolean negotiate, gboolean await_command,
                 GBytes *script, gboolean hang_up)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GSocketAddress) address = g_unix_socket_address_new (fx->socket_path);
    FakeQemu *fake = g_new0 (FakeQemu, 1);

    fake->listener = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                   G_SOCKET_PROTOCOL_DEFAULT, &error);
    g_assert_no_error (error);
    g_socket_bind (fake->listener, address, TRUE, &error);
    g_assert_no_error (error);
    g_socket_listen (fake->listener, &error);
    g_assert_no_error (error);

    fake->path = g_strdup (fx->socket_path);
    fake->greeting = greeting ? g_bytes_new (greeting, strlen (greeting)) : NULL;
    fake->negotiate = negotiate;
    fake->await_command = await_command;
    fake->script = script ? g_bytes_ref (script) : NULL;
    fake->hang_up = hang_up;
    fake->thread = g_thread_new ("fake-qemu", fake_qemu_serve, fake);
    return fake;
}

static void
fake_qemu_stop (FakeQemu *fake)
{
    g_thread_join (fake->thread);
    g_object_unref (fake->listener);
    g_unlink (fake->path);
    g_free (fake->path);
    g_clear_pointer (&fake->greeting, g_bytes_unref);
    g_clear_pointer (&fake->script, g_bytes_unref);
    g_free (fake);
}

/* Connecting to a fake QEMU that breaks the handshake fails with @code. */
static void
check_bad_handshake (Fixture *fx, const char *greeting, gboolean hang_up, GQuark domain, gint code)
{
    g_autoptr (GError) error = NULL;
    FakeQemu *fake = fake_qemu_start (fx, greeting, FALSE, FALSE, NULL, hang_up);
    g_autoptr (BlQmpClient) client = connect_client (fx->socket_path, &error);

    g_assert_null (client);
    g_assert_error (error, domain, code);
    g_test_message ("handshake error: %s", error->message);
    fake_qemu_stop (fake);
}

static void
test_fake_bad_greetings (Fixture *fx, gconstpointer data)
{
    g_autofree char *long_line = g_strnfill (2 * 1024 * 1024, 'x');
    g_autofree char *long_greeting = g_strconcat (long_line, "\n", NULL);

    check_bad_handshake (fx, "{\"hello\": \"world\"}\n", FALSE, BL_QMP_ERROR,
                         BL_QMP_ERROR_PROTOCOL);
    check_bad_handshake (fx, "this is not JSON\n", FALSE, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL);
    check_bad_handshake (fx, "[1, 2, 3]\n", FALSE, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL);
    check_bad_handshake (fx, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n", FALSE,
                         BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL);
    check_bad_handshake (fx,
                         "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, "
                         "\"major\": 7}}}}\n",
                         FALSE, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL);
    check_bad_handshake (fx, "{\"QMP\": \xff\xfe}\n", FALSE, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL);
    check_bad_handshake (fx, long_greeting, FALSE, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL);
    check_bad_handshake (fx, long_line, FALSE, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL);
    check_bad_handshake (fx, NULL, TRUE, BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED);
    check_bad_handshake (fx, "{\"QMP\": ", TRUE, BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED);
}

/* Runs one command against a fake QEMU that answers it with @script;
 * returns the client, which the caller checks and frees. */
static BlQmpClient *
run_against_script (Fixture *fx, const char *script, gsize len, JsonNode **reply, GError **error)
{
    g_autoptr (GBytes) bytes = g_bytes_new (script, len);
    g_autoptr (GError) connect_error = NULL;
    FakeQemu *fake = fake_qemu_start (fx, GOOD_GREETING, TRUE, TRUE, bytes, FALSE);

    fx->client = connect_client (fx->socket_path, &connect_error);
    g_assert_no_error (connect_error);
    g_assert_cmpstr (bl_qmp_client_get_qemu_version (fx->client), ==, "7.2.0");
    watch_client (fx);
    *reply = run_command (fx->client, "query-status", NULL, error);
    bl_qmp_client_close (fx->client);
    fake_qemu_stop (fake);
    return fx->client;
}

/* A reply QEMU botched ends the connection with a protocol error. */
static void
check_protocol_break_len (Fixture *fx, const char *script, gsize len, const char *reason_part)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) reply = NULL;

    run_against_script (fx, script, len, &reply, &error);
    g_assert_null (reply);
    g_assert_error (error, BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED);
    g_test_message ("command error: %s", error->message);
    g_assert_true (g_str_has_prefix (
        error->message, "The QMP connection was lost while 'query-status' was pending: "));
    g_assert_cmpuint (fx->disconnected, ==, 1);
    g_assert_error (fx->disconnect_reason, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL);
    g_assert_nonnull (strstr (fx->disconnect_reason->message, reason_part));

    release_client (&fx->client);
    fx->disconnected = 0;
}

static void
check_protocol_break (Fixture *fx, const char *script, const char *reason_part)
{
    check_protocol_break_len (fx, script, strlen (script), reason_part);
}

static void
test_fake_protocol_breaks (Fixture *fx, gconstpointer data)
{
    g_autofree char *long_line = g_strnfill (2 * 1024 * 1024, 'x');
    g_autofree char *deep = g_strnfill (100000, '[');
    g_autofree char *deep_line = g_strconcat (deep, "\n", NULL);
    static const char nul_line[] = "{\"return\": \"a\0b\", \"id\": @ID@}\n";

    check_protocol_break (fx, long_line, "longer than");
    check_protocol_break (fx, deep_line, "nests deeper");
    check_protocol_break (fx, "garbage\n", "not JSON");
    check_protocol_break (fx, "{\"return\": \n", "not JSON");
    check_protocol_break (fx, "\"a string\"\n", "not a JSON object");
    check_protocol_break_len (fx, nul_line, sizeof nul_line - 1, "UTF-8");
    check_protocol_break (fx, "{\"error\": \"bad\", \"id\": @ID@}\n", "error.class");
    check_protocol_break (fx, "{\"error\": {\"class\": 1, \"desc\": \"x\"}, \"id\": @ID@}\n",
                          "error.class");
    check_protocol_break (fx, "{\"event\": 42}\n", "event");
    check_protocol_break (fx, "{\"event\": \"X\", \"data\": [1]}\n", "data of event X");
}

static void
test_fake_unmatched_replies (Fixture *fx, gconstpointer data)
{
    static const char script[] =
        "{\"return\": 1, \"id\": 999}\n"
        "{\"return\": 2, \"id\": \"@ID@\"}\n"
        "{\"return\": 3, \"id\": @ID@.5}\n"
        "{\"return\": 4}\n"
        "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no id\"}}\n"
        "{\"what\": \"is this\"}\n"
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 0, \"major\": 1}}, "
        "\"capabilities\": []}}\n"
        "\n"
        "{\"event\": \"ODD\"}\n"
        "{\"return\": 42, \"id\": @ID@}\n"
        "{\"return\": 43, \"id\": @ID@}\n";
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) reply = NULL;

    run_against_script (fx, script, sizeof script - 1, &reply, &error);
    g_assert_no_error (error);
    g_assert_cmpint (json_node_get_int (reply), ==, 42);
    g_assert_true (events_contain (fx, "ODD"));
    g_assert_error (fx->disconnect_reason, BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED);
}

static void
test_fake_unknown_error_class (Fixture *fx, gconstpointer data)
{
    static const char script[] =
        "{\"id\": @ID@, \"error\": {\"class\": \"SomethingNew\", \"desc\": \"it broke\"}}\n";
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) reply = NULL;

    run_against_script (fx, script, sizeof script - 1, &reply, &error);
    g_assert_null (reply);
    g_assert_error (error, BL_QMP_ERROR, BL_QMP_ERROR_GENERIC);
    g_assert_cmpstr (error->message, ==, "it broke");
}

static void
test_fake_connect_cancelled (Fixture *fx, gconstpointer data)
{
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();
    g_autoptr (GAsyncResult) result = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (BlQmpClient) client = NULL;
    FakeQemu *fake = fake_qemu_start (fx, NULL, FALSE, FALSE, NULL, FALSE);

    /* No greeting ever comes. */
    bl_qmp_client_connect_async (fx->socket_path, cancellable, on_result, &result);
    sleep_in_loop (50);
    g_assert_null (result);
    g_cancellable_cancel (cancellable);
    ITERATE_UNTIL (result != NULL);
    client = bl_qmp_client_connect_finish (result, &error);
    g_assert_null (client);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_clear_object (&result);
    fake_qemu_stop (fake);
}

/* Dropping the last reference to a connected client hangs up. */
static void
test_fake_unref_connected (Fixture *fx, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    FakeQemu *fake = fake_qemu_start (fx, GOOD_GREETING, TRUE, FALSE, NULL, FALSE);
    BlQmpClient *client = connect_client (fx->socket_path, &error);
    gpointer weak = client;

    g_assert_no_error (error);
    g_object_add_weak_pointer (G_OBJECT (client), &weak);
    g_object_unref (client);
    g_assert_null (weak);
    fake_qemu_stop (fake); /* returns once the fake saw us hang up */
}

static void
test_error_classes (void)
{
    g_assert_cmpint (bl_qmp_error_from_class ("GenericError"), ==, BL_QMP_ERROR_GENERIC);
    g_assert_cmpint (bl_qmp_error_from_class ("CommandNotFound"), ==,
                     BL_QMP_ERROR_COMMAND_NOT_FOUND);
    g_assert_cmpint (bl_qmp_error_from_class ("DeviceNotFound"), ==, BL_QMP_ERROR_DEVICE_NOT_FOUND);
    g_assert_cmpint (bl_qmp_error_from_class ("DeviceNotActive"), ==,
                     BL_QMP_ERROR_DEVICE_NOT_ACTIVE);
    g_assert_cmpint (bl_qmp_error_from_class ("KVMMissingCap"), ==, BL_QMP_ERROR_KVM_MISSING_CAP);
    g_assert_cmpint (bl_qmp_error_from_class ("Whatever"), ==, BL_QMP_ERROR_GENERIC);
    g_assert_cmpint (bl_qmp_error_from_class (NULL), ==, BL_QMP_ERROR_GENERIC);
    g_assert_cmpstr (bl_qmp_error_to_class (BL_QMP_ERROR_DEVICE_NOT_FOUND), ==, "DeviceNotFound");
    g_assert_null (bl_qmp_error_to_class (BL_QMP_ERROR_DISCONNECTED));
}

#define ADD_QEMU_TEST(path, func)                                                                  \
    g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
#define ADD_FAKE_TEST(path, func)                                                                  \
    g_test_add (path, Fixture, "fake", fixture_setup, func, fixture_teardown)

/* GLib opens a few fds of its own on first use (main context wake-ups,
 * its worker thread); open them before the fixtures count fds. */
static void
warm_up_glib (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BlQmpClient) client = connect_client ("/nonexistent/qmp.sock", &error);

    g_assert_null (client);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    warm_up_glib ();

    g_test_add_func ("/qmp/error-classes", test_error_classes);
    ADD_QEMU_TEST ("/qmp/qemu/connect", test_connect);
    ADD_QEMU_TEST ("/qmp/qemu/query-status", test_query_status);
    ADD_QEMU_TEST ("/qmp/qemu/arguments", test_arguments);
    ADD_QEMU_TEST ("/qmp/qemu/pass-fd", test_pass_fd);
    ADD_QEMU_TEST ("/qmp/qemu/error", test_qmp_error);
    ADD_QEMU_TEST ("/qmp/qemu/stop-resume-events", test_stop_resume_events);
    ADD_QEMU_TEST ("/qmp/qemu/many-in-flight", test_many_in_flight);
    ADD_QEMU_TEST ("/qmp/qemu/cancel", test_cancel);
    ADD_QEMU_TEST ("/qmp/qemu/killed", test_qemu_killed);
    ADD_QEMU_TEST ("/qmp/qemu/quit", test_quit);
    ADD_QEMU_TEST ("/qmp/qemu/close-with-pending", test_close_with_pending);
    ADD_QEMU_TEST ("/qmp/qemu/sync", test_sync);
    ADD_FAKE_TEST ("/qmp/connect-refused", test_connect_refused);
    ADD_FAKE_TEST ("/qmp/fake/bad-greetings", test_fake_bad_greetings);
    ADD_FAKE_TEST ("/qmp/fake/protocol-breaks", test_fake_protocol_breaks);
    ADD_FAKE_TEST ("/qmp/fake/unmatched-replies", test_fake_unmatched_replies);
    ADD_FAKE_TEST ("/qmp/fake/unknown-error-class", test_fake_unknown_error_class);
    ADD_FAKE_TEST ("/qmp/fake/connect-cancelled", test_fake_connect_cancelled);
    ADD_FAKE_TEST ("/qmp/fake/unref-connected", test_fake_unref_connected);

    return g_test_run ();
}

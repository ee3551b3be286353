/* fake-qemu.c: what the box monitor's tests launch in place of QEMU
 * (BOXLITE_QEMU names it), so that the monitor runs in seconds without a VM.
 *
 * It reads the command line the monitor builds, creates the QMP socket and
 * the agent's virtio-serial socket as QEMU does (server=on,wait=off), and
 * serves both:
 *
 *   QMP    the greeting, qmp_capabilities, query-status, query-blockstats
 *          (fixed counters, some of them malformed), stop and cont (the
 *          "guest" is SIGSTOPped and SIGCONTed), system_powerdown (the guest
 *          is asked to end), quit; replies carry the command's id; STOP,
 *          RESUME, POWERDOWN and SHUTDOWN are sent as events.
 *   agent  the first connection is handed to the real guest agent in its
 *          --fd mode; the agent is the guest: when it exits (as it does
 *          after "shutdown") this process sends SHUTDOWN and exits 0, as
 *          QEMU does with -no-reboot.
 *
 * Faults the tests ask for, through FAKE_QEMU_MODE:
 *   hang   accept QMP connections but never greet, and never start the guest
 *   (unset) behave
 * and through FAKE_QEMU_AGENT_WRAPPER, a program run as `WRAPPER AGENT --fd 3`
 * in place of the agent, to stand between it and the monitor (a guest that
 * answers as the real agent would not: tests/hostile-freeze.py).
 * and through signals, at any time:
 *   SIGUSR1  the guest's agent dies and its port closes; the process stays
 *
 * The guest agent and every process it starts get FAKE_QEMU_GUEST=<box dir>
 * in their environment, so a test can find whatever outlived the box.
 */
#include <glib-unix.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

typedef struct {
    GMainLoop *loop;
    char *box_dir;
    gboolean hang;
    gboolean paused;
    GSocketListener *qmp_listener;
    GSocketListener *agent_listener;
    GPtrArray *qmp_clients; /* GOutputStream* of each QMP connection */
    GSocketConnection *agent_conn;
    GSubprocess *guest; /* the agent, once the monitor connected */
    int exit_code;
} Fake;

/* QEMU's option syntax: "a=b,c=d", with ",," for a literal comma. */
static char *
opt_value (const char *opts, const char *key)
{
    g_autofree char *prefix = g_strconcat (key, "=", NULL);
    const char *p = opts;

    while (*p) {
        const char *start = p;
        GString *item = g_string_new (NULL);
        while (*p && !(*p == ',' && p[1] != ',')) {
            if (*p == ',' && p[1] == ',')
                p++;
            g_string_append_c (item, *p++);
        }
        if (*p == ',')
            p++;
        if (g_str_has_prefix (item->str, prefix)) {
            char *value = g_strdup (item->str + strlen (prefix));
            g_string_free (item, TRUE);
            return value;
        }
        g_string_free (item, TRUE);
        if (p == start)
            break;
    }
    return NULL;
}

static void
qmp_send (Fake *fake, GOutputStream *out, JsonNode *node)
{
    g_autofree char *text = json_to_string (node, FALSE);
    g_autofree char *line = g_strconcat (text, "\r\n", NULL);

    /* Blocking writes of a few hundred bytes: the monitor always reads. */
    g_output_stream_write_all (out, line, strlen (line), NULL, NULL, NULL);
}

static void
qmp_event (Fake *fake, const char *name, const char *data_json)
{
    gint64 now = g_get_real_time ();
    g_autofree char *text = g_strdup_printf (
        "{\"event\": \"%s\", \"data\": %s, \"timestamp\": {\"seconds\": %" G_GINT64_FORMAT
        ", \"microseconds\": %" G_GINT64_FORMAT "}}",
        name, data_json, now / G_USEC_PER_SEC, now % G_USEC_PER_SEC);
    g_autoptr (JsonNode) node = json_from_string (text, NULL);

    for (guint i = 0; i < fake->qmp_clients->len; i++)
        qmp_send (fake, fake->qmp_clients->pdata[i], node);
}

/* Ends this "QEMU" as -no-reboot does: SHUTDOWN, then exit. */
static void
power_off (Fake *fake, const char *reason, gboolean guest)
{
    g_autofree char *data =
        g_strdup_printf ("{\"guest\": %s, \"reason\": \"%s\"}", guest ? "true" : "false", reason);

    qmp_event (fake, "SHUTDOWN", data);
    if (fake->guest)
        g_subprocess_force_exit (fake->guest);
    g_main_loop_quit (fake->loop);
}

static void
qmp_reply (Fake *fake, GOutputStream *out, JsonNode *id, const char *return_json)
{
    g_autoptr (JsonNode) node = json_from_string (return_json, NULL);
    g_autoptr (JsonObject) obj = json_object_new ();

    json_object_set_member (obj, "return", g_steal_pointer (&node));
    if (id)
        json_object_set_member (obj, "id", json_node_copy (id));
    g_autoptr (JsonNode) root = json_node_init_object (json_node_alloc (), obj);
    qmp_send (fake, out, root);
}

static void
qmp_error (Fake *fake, GOutputStream *out, JsonNode *id, const char *klass, const char *desc)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "error");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "class");
    json_builder_add_string_value (b, klass);
    json_builder_set_member_name (b, "desc");
    json_builder_add_string_value (b, desc);
    json_builder_end_object (b);
    if (id) {
        json_builder_set_member_name (b, "id");
        json_builder_add_value (b, json_node_copy (id));
    }
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    qmp_send (fake, out, root);
}

static void
guest_signal (Fake *fake, int sig)
{
    if (fake->guest)
        g_subprocess_send_signal (fake->guest, sig);
}

static void
qmp_command (Fake *fake, GOutputStream *out, const char *line)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonObject *msg;

    if (!json_parser_load_from_data (parser, line, -1, NULL) ||
        !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
        qmp_error (fake, out, NULL, "GenericError", "JSON parse error");
        return;
    }
    msg = json_node_get_object (json_parser_get_root (parser));
    JsonNode *id = json_object_get_member (msg, "id");
    const char *cmd = json_object_get_string_member_with_default (msg, "execute", "");

    if (g_str_equal (cmd, "qmp_capabilities")) {
        qmp_reply (fake, out, id, "{}");
    } else if (g_str_equal (cmd, "query-status")) {
        qmp_reply (fake, out, id,
                   fake->paused
                       ? "{\"status\": \"paused\", \"singlestep\": false, \"running\": false}"
                       : "{\"status\": \"running\", \"singlestep\": false, \"running\": true}");
    } else if (g_str_equal (cmd, "query-blockstats")) {
        /* One sane drive, one whose counters no honest QEMU sends, and junk. */
        qmp_reply (fake, out, id,
                   "[{\"device\": \"a\", \"stats\": {\"rd_bytes\": 1000, \"wr_bytes\": 2000,"
                   " \"rd_operations\": 3, \"wr_operations\": 4}},"
                   " {\"device\": \"b\", \"stats\": {\"rd_bytes\": -5, \"wr_bytes\": \"lots\","
                   " \"rd_operations\": 1e3, \"wr_operations\": 6}}, \"junk\"]");
    } else if (g_str_equal (cmd, "stop")) {
        guest_signal (fake, SIGSTOP);
        fake->paused = TRUE;
        qmp_reply (fake, out, id, "{}");
        qmp_event (fake, "STOP", "{}");
    } else if (g_str_equal (cmd, "cont")) {
        guest_signal (fake, SIGCONT);
        fake->paused = FALSE;
        qmp_reply (fake, out, id, "{}");
        qmp_event (fake, "RESUME", "{}");
    } else if (g_str_equal (cmd, "system_powerdown")) {
        qmp_reply (fake, out, id, "{}");
        qmp_event (fake, "POWERDOWN", "{}");
        guest_signal (fake, SIGTERM); /* the guest's reaction to the button */
    } else if (g_str_equal (cmd, "quit")) {
        qmp_reply (fake, out, id, "{}");
        fake->exit_code = 0;
        power_off (fake, "host-qmp-quit", FALSE);
    } else {
        g_autofree char *desc = g_strdup_printf ("The command %s has not been found", cmd);
        qmp_error (fake, out, id, "CommandNotFound", desc);
    }
}

typedef struct {
    Fake *fake;
    GSocketConnection *conn;
    GDataInputStream *in;
} QmpClient;

static void
on_qmp_line (GObject *source, GAsyncResult *res, gpointer user_data)
{
    QmpClient *client = user_data;
    g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (client->in, res, NULL, NULL);
    GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (client->conn));

    if (!line) {
        g_ptr_array_remove (client->fake->qmp_clients, out);
        g_object_unref (client->in);
        g_object_unref (client->conn);
        g_free (client);
        return;
    }
    if (*g_strstrip (line))
        qmp_command (client->fake, out, line);
    g_data_input_stream_read_line_async (client->in, G_PRIORITY_DEFAULT, NULL, on_qmp_line, client);
}

static void
on_qmp_accepted (GObject *source, GAsyncResult *res, gpointer user_data)
{
    Fake *fake = user_data;
    GSocketConnection *conn =
        g_socket_listener_accept_finish (G_SOCKET_LISTENER (source), res, NULL, NULL);

    if (!conn)
        return;
    g_socket_listener_accept_async (fake->qmp_listener, NULL, on_qmp_accepted, fake);
    QmpClient *client = g_new0 (QmpClient, 1);
    client->fake = fake;
    client->conn = conn;
    client->in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (conn)));
    GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
    g_ptr_array_add (fake->qmp_clients, out);
    if (!fake->hang) {
        g_autoptr (JsonNode) greeting =
            json_from_string ("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, "
                              "\"major\": 7}, \"package\": \"(fake)\"}, \"capabilities\": []}}",
                              NULL);
        qmp_send (fake, out, greeting);
    }
    g_data_input_stream_read_line_async (client->in, G_PRIORITY_DEFAULT, NULL, on_qmp_line, client);
}

static void
guest_child_setup (gpointer user_data)
{
    /* The guest dies with its machine, however the machine dies. */
    prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
on_guest_exited (GObject *source, GAsyncResult *res, gpointer user_data)
{
    Fake *fake = user_data;

    g_subprocess_wait_finish (G_SUBPROCESS (source), res, NULL);
    if (G_SUBPROCESS (source) != fake->guest)
        return;
    g_clear_object (&fake->guest);
    /* The agent reboots the guest to end it; with -no-reboot that ends QEMU. */
    fake->exit_code = 0;
    power_off (fake, "guest-reset", TRUE);
}

static void
on_agent_accepted (GObject *source, GAsyncResult *res, gpointer user_data)
{
    Fake *fake = user_data;
    g_autoptr (GError) error = NULL;
    g_autoptr (GSocketConnection) conn =
        g_socket_listener_accept_finish (G_SOCKET_LISTENER (source), res, NULL, &error);

    if (!conn)
        return;
    if (fake->agent_conn || fake->hang) {
        /* One guest port: a second connection waits forever, as with QEMU. */
        g_object_set_data_full (G_OBJECT (fake->agent_listener), "extra", g_steal_pointer (&conn),
                                g_object_unref);
        g_socket_listener_accept_async (fake->agent_listener, NULL, on_agent_accepted, fake);
        return;
    }
    const char *agent = g_getenv ("BOXLITE_AGENT");
    int fd = dup (g_socket_get_fd (g_socket_connection_get_socket (conn)));
    g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
    g_subprocess_launcher_setenv (launcher, "FAKE_QEMU_GUEST", fake->box_dir, TRUE);
    g_subprocess_launcher_set_child_setup (launcher, guest_child_setup, NULL, NULL);
    g_subprocess_launcher_take_fd (launcher, fd, 3);
    const char *wrapper = g_getenv ("FAKE_QEMU_AGENT_WRAPPER");
    const char *argv[] = { wrapper, agent ? agent : "boxlite-agent", "--fd", "3", NULL };
    fake->guest = g_subprocess_launcher_spawnv (launcher, wrapper ? argv : argv + 1, &error);
    if (!fake->guest) {
        g_printerr ("fake-qemu: cannot start the guest agent: %s\n", error->message);
        fake->exit_code = 1;
        g_main_loop_quit (fake->loop);
        return;
    }
    fake->agent_conn = g_steal_pointer (&conn);
    g_subprocess_wait_async (fake->guest, NULL, on_guest_exited, fake);
    g_socket_listener_accept_async (fake->agent_listener, NULL, on_agent_accepted, fake);
}

/* The guest's agent dies and its port closes; this "QEMU" lives on. */
static gboolean
on_sigusr1 (gpointer user_data)
{
    Fake *fake = user_data;

    g_printerr ("fake-qemu: the guest agent dies\n");
    if (fake->guest) {
        GSubprocess *guest = g_steal_pointer (&fake->guest);
        g_subprocess_force_exit (guest);
        g_object_unref (guest);
    }
    if (fake->agent_conn)
        g_io_stream_close (G_IO_STREAM (fake->agent_conn), NULL, NULL);
    return G_SOURCE_CONTINUE;
}

static GSocketListener *
listen_on (const char *path, GError **error)
{
    g_autoptr (GSocketListener) listener = g_socket_listener_new ();
    g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);

    if (!g_socket_listener_add_address (listener, address, G_SOCKET_TYPE_STREAM,
                                        G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, error))
        return NULL;
    return g_steal_pointer (&listener);
}

int
main (int argc, char **argv)
{
    g_autofree char *qmp_path = NULL, *agent_path = NULL, *console_path = NULL;
    g_autoptr (GError) error = NULL;
    Fake fake = { 0 };

    signal (SIGPIPE, SIG_IGN);
    for (int i = 1; i + 1 < argc; i++) {
        const char *value = argv[i + 1];
        if (g_str_equal (argv[i], "-qmp") && g_str_has_prefix (value, "unix:")) {
            /* "unix:PATH,server=on,…": the path is the first item, unnamed. */
            g_autofree char *opts = g_strconcat ("path=", value + 5, NULL);
            qmp_path = opt_value (opts, "path");
        } else if (g_str_equal (argv[i], "-chardev") && strstr (value, "id=agent")) {
            agent_path = opt_value (value, "path");
        } else if (g_str_equal (argv[i], "-chardev") && strstr (value, "id=con")) {
            console_path = opt_value (value, "path");
        }
    }
    if (!qmp_path || !agent_path) {
        g_printerr ("fake-qemu: no -qmp unix:… or agent -chardev on the command line\n");
        return 1;
    }
    fake.box_dir = g_path_get_dirname (qmp_path);
    fake.hang = g_strcmp0 (g_getenv ("FAKE_QEMU_MODE"), "hang") == 0;
    fake.qmp_clients = g_ptr_array_new ();
    fake.exit_code = 1;
    fake.loop = g_main_loop_new (NULL, FALSE);
    if (console_path)
        g_file_set_contents (console_path, "fake-qemu: no kernel here\n", -1, NULL);
    fake.qmp_listener = listen_on (qmp_path, &error);
    if (fake.qmp_listener)
        fake.agent_listener = listen_on (agent_path, &error);
    if (!fake.agent_listener) {
        g_printerr ("fake-qemu: %s\n", error->message);
        return 1;
    }
    g_socket_listener_accept_async (fake.qmp_listener, NULL, on_qmp_accepted, &fake);
    g_socket_listener_accept_async (fake.agent_listener, NULL, on_agent_accepted, &fake);
    g_unix_signal_add (SIGUSR1, on_sigusr1, &fake);
    g_main_loop_run (fake.loop);
    return fake.exit_code;
}

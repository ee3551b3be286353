/* test-ctr-shim.c: containerd-shim-boxlite-v2 driven as containerd drives
 * it, without containerd and without a VM: `start` leaves a daemon on a
 * 0600 socket and prints its address, the daemon answers ttrpc requests
 * (wrong task, wrong bundle, bad specs and payloads, methods it does not
 * have) with the right status codes, drops a client that breaks the
 * framing, and leaves with its socket on Shutdown; `delete` answers with a
 * DeleteResponse. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "shim.pb-c.h"
#include "ttrpc-frame.h"
#include "ttrpc.pb-c.h"

typedef struct {
    char *dir;
    char *bundle;
    char *address; /* containerd's socket: nothing listens there */
    char *socket;  /* the shim's, from start */
} Fixture;

static const char *
shim_path (void)
{
    const char *path = g_getenv ("BOXLITE_CTR_SHIM");
    g_assert_nonnull (path);
    return path;
}

/* Runs the shim with containerd's flags and @action; its stdout. */
static GBytes *
run_shim (Fixture *f, const char *id, const char *action, int *status)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
        G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
    g_subprocess_launcher_set_cwd (launcher, f->bundle);
    g_autoptr (GSubprocess) proc = g_subprocess_launcher_spawn (
        launcher, &error, shim_path (), "-namespace", "test", "-address", f->address,
        "-publish-binary", "", "-id", id, "-bundle", f->bundle, action, NULL);
    g_assert_no_error (error);
    GBytes *out = NULL;
    g_assert_true (g_subprocess_communicate (proc, NULL, NULL, &out, NULL, &error));
    g_assert_no_error (error);
    *status = g_subprocess_get_exit_status (proc);
    return out;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    int status = -1;

    f->dir = g_dir_make_tmp ("ctrshim-XXXXXX", &error);
    g_assert_no_error (error);
    f->bundle = g_build_filename (f->dir, "bundle", NULL);
    f->address = g_build_filename (f->dir, "c.sock", NULL);
    g_assert_cmpint (g_mkdir (f->bundle, 0700), ==, 0);
    g_autofree char *root = g_build_filename (f->dir, "b", NULL);
    g_setenv ("BOXLITE_CTR_ROOT", root, TRUE);

    g_autoptr (GBytes) out = run_shim (f, "t1", "start", &status);
    g_assert_cmpint (status, ==, 0);
    g_autofree char *text = g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
    g_autofree char *prefix = g_strdup_printf ("unix://%s/s/", f->dir);
    g_assert_true (g_str_has_prefix (text, prefix));
    f->socket = g_strdup (text + strlen ("unix://"));
}

static gboolean
socket_gone (const char *path)
{
    for (int i = 0; i < 100; i++) {
        if (!g_file_test (path, G_FILE_TEST_EXISTS))
            return TRUE;
        g_usleep (50000);
    }
    return FALSE;
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
    g_autofree char *address_file = g_build_filename (f->bundle, "address", NULL);
    g_autofree char *s_dir = g_path_get_dirname (f->socket);

    g_unlink (address_file);
    g_rmdir (f->bundle);
    g_rmdir (s_dir);
    g_rmdir (f->dir);
    g_free (f->dir);
    g_free (f->bundle);
    g_free (f->address);
    g_free (f->socket);
}

static GSocketConnection *
connect_shim (Fixture *f)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GSocketClient) client = g_socket_client_new ();
    g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (f->socket);
    GSocketConnection *conn =
        g_socket_client_connect (client, G_SOCKET_CONNECTABLE (addr), NULL, &error);
    g_assert_no_error (error);
    return conn;
}

typedef struct {
    int code;
    char *message;
} Reply;

/* Sends one request and reads its response; FALSE when the shim ended the
 * link instead. */
static gboolean
call (GSocketConnection *conn, guint32 stream_id, const char *service, const char *method,
      GBytes *payload, Reply *reply)
{
    GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
    GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
    g_autoptr (GBytes) msg = bl_ttrpc_request_encode (stream_id, service, method, payload);
    guint8 header[BL_TTRPC_HEADER_SIZE];
    gsize got = 0;

    g_assert_true (g_output_stream_write_all (out, g_bytes_get_data (msg, NULL),
                                              g_bytes_get_size (msg), NULL, NULL, NULL));
    if (!g_input_stream_read_all (in, header, sizeof header, &got, NULL, NULL) || got == 0)
        return FALSE;
    g_assert_cmpuint (got, ==, sizeof header);
    guint32 len = (guint32) header[0] << 24 | header[1] << 16 | header[2] << 8 | header[3];
    guint32 id = (guint32) header[4] << 24 | header[5] << 16 | header[6] << 8 | header[7];
    g_assert_cmpuint (id, ==, stream_id);
    g_assert_cmpuint (header[8], ==, BL_TTRPC_TYPE_RESPONSE);
    g_assert_cmpuint (len, <=, BL_TTRPC_MAX_MESSAGE);
    g_autofree guint8 *body = g_malloc (len + 1);
    g_assert_true (g_input_stream_read_all (in, body, len, &got, NULL, NULL));
    g_assert_cmpuint (got, ==, len);
    Boxlite__Ttrpc__Response *resp = boxlite__ttrpc__response__unpack (NULL, len, body);
    g_assert_nonnull (resp);
    reply->code = resp->status ? resp->status->code : 0;
    reply->message = g_strdup (resp->status ? resp->status->message : "");
    boxlite__ttrpc__response__free_unpacked (resp, NULL);
    return TRUE;
}

static GBytes *
pack (const ProtobufCMessage *msg)
{
    gsize size = protobuf_c_message_get_packed_size (msg);
    guint8 *buf = g_malloc (size ? size : 1);
    protobuf_c_message_pack (msg, buf);
    return g_bytes_new_take (buf, size);
}

static void
expect (GSocketConnection *conn, guint32 stream_id, const char *method, GBytes *payload, int code,
        const char *words)
{
    Reply reply = { 0 };

    g_assert_true (call (conn, stream_id, "containerd.task.v2.Task", method, payload, &reply));
    if (reply.code != code || !strstr (reply.message, words))
        g_error ("%s: got %d '%s', wanted %d '%s'", method, reply.code, reply.message, code, words);
    g_free (reply.message);
}

/* Shutdown on a new connection: the shim leaves, its socket with it. */
static void
shutdown_shim (Fixture *f)
{
    g_autoptr (GSocketConnection) conn = connect_shim (f);
    Containerd__Task__V2__ShutdownRequest shutdown = CONTAINERD__TASK__V2__SHUTDOWN_REQUEST__INIT;

    shutdown.id = "t1";
    g_autoptr (GBytes) payload = pack (&shutdown.base);
    expect (conn, 1, "Shutdown", payload, BL_TTRPC_OK, "");
    g_assert_true (socket_gone (f->socket));
}

static GBytes *
create_request (const char *id, const char *bundle)
{
    Containerd__Task__V2__CreateTaskRequest req = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
    req.id = (char *) id;
    req.bundle = (char *) bundle;
    return pack (&req.base);
}

static void
test_requests (Fixture *f, gconstpointer data)
{
    g_autoptr (GSocketConnection) conn = connect_shim (f);
    struct stat st;

    /* Only root reaches the socket. */
    g_assert_cmpint (stat (f->socket, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 0777, ==, 0600);

    Containerd__Task__V2__StateRequest state = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
    state.id = "t1";
    g_autoptr (GBytes) state_t1 = pack (&state.base);
    expect (conn, 1, "State", state_t1, BL_TTRPC_NOT_FOUND, "not found");
    state.id = "other";
    g_autoptr (GBytes) state_other = pack (&state.base);
    expect (conn, 3, "State", state_other, BL_TTRPC_NOT_FOUND, "not this shim's");
    g_autoptr (GBytes) garbage = g_bytes_new_static ("\xff\xff\xff", 3);
    expect (conn, 5, "Wait", garbage, BL_TTRPC_INVALID_ARGUMENT, "not a valid");
    expect (conn, 7, "Update", NULL, BL_TTRPC_UNIMPLEMENTED, "not implemented");
    expect (conn, 9, "Checkpoint", NULL, BL_TTRPC_UNIMPLEMENTED, "not implemented");
    Reply reply = { 0 };
    g_assert_true (call (conn, 11, "containerd.v1.Other", "State", NULL, &reply));
    g_assert_cmpint (reply.code, ==, BL_TTRPC_UNIMPLEMENTED);
    g_free (reply.message);

    /* Create: another task, another bundle, a bundle without a config. */
    g_autoptr (GBytes) other_id = create_request ("t2", f->bundle);
    expect (conn, 13, "Create", other_id, BL_TTRPC_INVALID_ARGUMENT, "this shim serves t1");
    g_autoptr (GBytes) other_bundle = create_request ("t1", "/etc");
    expect (conn, 15, "Create", other_bundle, BL_TTRPC_INVALID_ARGUMENT, "is not this task's");
    g_autoptr (GBytes) no_config = create_request ("t1", f->bundle);
    expect (conn, 17, "Create", no_config, BL_TTRPC_INVALID_ARGUMENT, "config.json");
    g_autofree char *config = g_build_filename (f->bundle, "config.json", NULL);
    g_assert_true (g_file_set_contents (config, "{\"process\":{\"args\":[]}}", -1, NULL));
    expect (conn, 19, "Create", no_config, BL_TTRPC_INVALID_ARGUMENT, "process.args is empty");
    g_unlink (config);

    /* A client that breaks the framing is dropped: an even stream id. */
    g_assert_false (call (conn, 20, "containerd.task.v2.Task", "State", state_t1, &reply));
    /* The shim still serves others, and leaves on Shutdown. */
    shutdown_shim (f);
}

static void
test_start_twice (Fixture *f, gconstpointer data)
{
    int status = -1;
    g_autoptr (GBytes) out = run_shim (f, "t1", "start", &status);

    /* containerd retrying a start finds the same shim. */
    g_assert_cmpint (status, ==, 0);
    g_autofree char *text = g_strndup (g_bytes_get_data (out, NULL), g_bytes_get_size (out));
    g_assert_cmpstr (text + strlen ("unix://"), ==, f->socket);
    shutdown_shim (f);
}

static void
test_delete (Fixture *f, gconstpointer data)
{
    int status = -1;
    shutdown_shim (f);

    /* What containerd runs after a shim died: a DeleteResponse on stdout. */
    g_autoptr (GBytes) out = run_shim (f, "t1", "delete", &status);
    g_assert_cmpint (status, ==, 0);
    Containerd__Task__V2__DeleteResponse *resp = containerd__task__v2__delete_response__unpack (
        NULL, g_bytes_get_size (out), g_bytes_get_data (out, NULL));
    g_assert_nonnull (resp);
    g_assert_cmpuint (resp->exit_status, ==, 137);
    g_assert_nonnull (resp->exited_at);
    g_assert_cmpint (resp->exited_at->seconds, >, 0);
    containerd__task__v2__delete_response__free_unpacked (resp, NULL);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add ("/ctr-shim/requests", Fixture, NULL, fixture_set_up, test_requests,
                fixture_tear_down);
    g_test_add ("/ctr-shim/start-twice", Fixture, NULL, fixture_set_up, test_start_twice,
                fixture_tear_down);
    g_test_add ("/ctr-shim/delete", Fixture, NULL, fixture_set_up, test_delete, fixture_tear_down);
    return g_test_run ();
}

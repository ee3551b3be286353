/* monitor-ctl.c: blocking requests to a box monitor's control socket, for
 * operations that are one request and one answer (stop, pause, resume). */
#define G_LOG_DOMAIN "boxlite"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <unistd.h>

#include "bl_proto.h"
#include <boxlite/boxlite-error.h>
#include "monitor-ctl.h"
#include "frame-conn.h"

static gboolean
send_request (GOutputStream *out, const char *command, JsonNode *arguments,
              GCancellable *cancellable, GError **error)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "execute");
    json_builder_add_string_value (b, command);
    if (arguments) {
        json_builder_set_member_name (b, "arguments");
        json_builder_add_value (b, json_node_copy (arguments));
    }
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    g_autofree char *text = json_to_string (root, FALSE);
    gsize len = strlen (text);
    guint8 header[BL_PROTO_HEADER_SIZE];
    struct bl_frame_header h = { .len = (uint32_t) len, .channel = 0, .type = BL_FRAME_CONTROL };

    bl_proto_encode_header (header, &h);
    return g_output_stream_write_all (out, header, sizeof header, NULL, cancellable, error) &&
           g_output_stream_write_all (out, text, len, NULL, cancellable, error);
}

/* Reads frames until a CONTROL frame on channel 0; NULL at EOF (no error). */
static JsonObject *
read_reply (GInputStream *in, GCancellable *cancellable, GError **error)
{
    for (;;) {
        guint8 header[BL_PROTO_HEADER_SIZE];
        struct bl_frame_header h;
        gsize got = 0;

        if (!g_input_stream_read_all (in, header, sizeof header, &got, cancellable, error))
            return NULL;
        if (got == 0)
            return NULL;
        if (got != sizeof header || bl_proto_decode_header (header, &h) < 0) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                         "the box monitor sent a malformed frame");
            return NULL;
        }
        g_autofree guint8 *payload = g_malloc (h.len + 1);
        if (!g_input_stream_read_all (in, payload, h.len, &got, cancellable, error))
            return NULL;
        if (got != h.len) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                         "the box monitor closed the link inside a frame");
            return NULL;
        }
        if (h.type != BL_FRAME_CONTROL || h.channel != 0)
            continue;
        g_autoptr (GBytes) bytes = g_bytes_new_take (g_steal_pointer (&payload), h.len);
        return bl_frame_parse_control (bytes, error);
    }
}

GError *
bl_monitor_error_from_reply (JsonObject *err)
{
    const char *klass = json_object_get_string_member_with_default (err, "class", "Failed");
    const char *desc = json_object_get_string_member_with_default (err, "desc", "refused");
    BoxliteError code = BOXLITE_ERROR_FAILED;

    if (g_str_equal (klass, "CommandNotFound"))
        code = BOXLITE_ERROR_COMMAND_NOT_FOUND;
    else if (g_str_equal (klass, "PermissionDenied"))
        code = BOXLITE_ERROR_PERMISSION_DENIED;
    else if (g_str_equal (klass, "InvalidArgument"))
        code = BOXLITE_ERROR_INVALID_ARGUMENT;
    else if (g_str_equal (klass, "NotFound"))
        code = BOXLITE_ERROR_NOT_FOUND;
    else if (g_str_equal (klass, "NotADirectory"))
        return g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, "%s", desc);
    else if (g_str_equal (klass, "NoSpace"))
        return g_error_new (G_IO_ERROR, G_IO_ERROR_NO_SPACE, "%s", desc);
    return g_error_new (BOXLITE_ERROR, code, "%s", desc);
}

static gboolean
check_reply (JsonObject *reply, const char *what, GError **error)
{
    JsonNode *err = json_object_get_member (reply, "error");

    if (err && JSON_NODE_HOLDS_OBJECT (err)) {
        GError *e = bl_monitor_error_from_reply (json_node_get_object (err));
        if (what)
            g_prefix_error (&e, "%s: ", what);
        g_propagate_error (error, e);
        return FALSE;
    }
    return TRUE;
}

GSocketConnection *
bl_monitor_connect (const char *box_dir, GCancellable *cancellable, GError **error)
{
    g_autofree char *path = g_build_filename (box_dir, "control.sock", NULL);
    g_autoptr (GSocketClient) client = g_socket_client_new ();
    g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
    g_autoptr (GError) local = NULL;
    GSocketConnection *conn =
        g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), cancellable, &local);

    if (conn)
        return conn;
    if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
        g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE,
                     "the box is not running (its monitor's socket %s: %s)", path, local->message);
    else
        g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                    "cannot reach the box monitor at %s: ", path);
    return NULL;
}

/* Sends @command to the box's monitor and checks its answer, whose "return"
 * object goes to @ret_out when not NULL. With @until_eof, also waits for the
 * monitor to close the link (it exits after answering a stop). */
static gboolean
monitor_request (const char *box_dir, const char *command, JsonNode *arguments, guint timeout_ms,
                 gboolean until_eof, JsonObject **ret_out, GCancellable *cancellable,
                 GError **error)
{
    g_autoptr (GSocketConnection) conn = bl_monitor_connect (box_dir, cancellable, error);

    if (!conn)
        return FALSE;
    /* A monitor that stops answering must not hang the caller forever. */
    g_socket_set_timeout (g_socket_connection_get_socket (conn), timeout_ms / 1000 + 15);

    GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
    GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "version");
    json_builder_add_int_value (b, BL_PROTO_VERSION);
    json_builder_end_object (b);
    g_autoptr (JsonNode) hello_args = json_builder_get_root (b);

    if (!send_request (out, "hello", hello_args, cancellable, error) ||
        !send_request (out, command, arguments, cancellable, error))
        return FALSE;

    for (guint i = 0; i < 2; i++) {
        g_autoptr (GError) read_error = NULL;
        g_autoptr (JsonObject) reply = read_reply (in, cancellable, &read_error);
        if (!reply) {
            if (read_error) {
                g_propagate_error (error, g_steal_pointer (&read_error));
                return FALSE;
            }
            /* EOF instead of an answer: a stopping monitor is on its way out. */
            if (until_eof)
                return TRUE;
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE,
                         "the box monitor went away before answering '%s'", command);
            return FALSE;
        }
        /* A detached command's refusal is the agent's, and says it all. */
        const char *what = i == 0                                    ? "hello"
                           : g_str_equal (command, "start_detached") ? NULL
                                                                     : command;
        if (!check_reply (reply, what, error))
            return FALSE;
        if (i == 1 && ret_out) {
            JsonNode *ret = json_object_get_member (reply, "return");
            if (!ret || !JSON_NODE_HOLDS_OBJECT (ret)) {
                g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                             "the box monitor's answer to '%s' is not an object", command);
                return FALSE;
            }
            *ret_out = json_object_ref (json_node_get_object (ret));
        }
    }
    while (until_eof) {
        g_autoptr (GError) read_error = NULL;
        g_autoptr (JsonObject) more = read_reply (in, cancellable, &read_error);
        if (g_error_matches (read_error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            g_propagate_error (error, g_steal_pointer (&read_error));
            return FALSE;
        }
        if (!more)
            break;
    }
    return TRUE;
}

gboolean
bl_monitor_stop (const char *box_dir, gboolean force, guint timeout_ms, GCancellable *cancellable,
                 GError **error)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "force");
    json_builder_add_boolean_value (b, force);
    json_builder_set_member_name (b, "timeout_ms");
    json_builder_add_int_value (b, timeout_ms);
    json_builder_end_object (b);
    g_autoptr (JsonNode) args = json_builder_get_root (b);

    return monitor_request (box_dir, "stop", args, timeout_ms, TRUE, NULL, cancellable, error);
}

gboolean
bl_monitor_start_detached (const char *box_dir, JsonNode *exec_args, GCancellable *cancellable,
                           GError **error)
{
    return monitor_request (box_dir, "start_detached", exec_args, 30000, FALSE, NULL, cancellable,
                            error);
}

gboolean
bl_monitor_pause (const char *box_dir, gboolean pause, GCancellable *cancellable, GError **error)
{
    return monitor_request (box_dir, pause ? "pause" : "resume", NULL, 10000, FALSE, NULL,
                            cancellable, error);
}

JsonObject *
bl_monitor_stats (const char *box_dir, GCancellable *cancellable, GError **error)
{
    JsonObject *ret = NULL;

    if (!monitor_request (box_dir, "stats", NULL, 10000, FALSE, &ret, cancellable, error))
        return NULL;
    return ret;
}

JsonObject *
bl_monitor_snapshot (const char *box_dir, GCancellable *cancellable, GError **error)
{
    JsonObject *ret = NULL;

    /* The monitor bounds each of the guest's answers, but QEMU's steps under
     * a loaded host get room too. */
    if (!monitor_request (box_dir, "snapshot", NULL, 45000, FALSE, &ret, cancellable, error))
        return NULL;
    return ret;
}

void
bl_monitor_remove_sockets (const char *box_dir)
{
    static const char *const names[] = { "qmp.sock", "agent.sock",   "control.sock",
                                         "net.sock", "net/dns.sock", "console.sock" };

    for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
        g_autofree char *path = g_build_filename (box_dir, names[i], NULL);
        if (unlink (path) < 0 && errno != ENOENT)
            g_warning ("cannot remove %s: %s", path, g_strerror (errno));
    }
}

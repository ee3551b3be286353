/* shim-control.c: the control socket (BOXDIR/control.sock) and its clients.
 *
 * Channel 0 of a client is the session with the monitor (hello, stop,
 * status, pause, resume, watch, stats); every other channel is an exec relayed to the agent.
 */
#define G_LOG_DOMAIN "boxlite-shim"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <sys/stat.h>

#include "bl_proto.h"
#include <boxlite/boxlite-error.h>
#include "box-record.h"
#include "shim.h"
#include "os-error.h"

/* Clients are the library on this host, but a stuck one must not pile up. */
#define MAX_CLIENTS 256

gboolean
shim_json_get_int (JsonObject *obj, const char *name, gint64 fallback, gint64 *out)
{
    JsonNode *node = json_object_get_member (obj, name);

    if (!node) {
        *out = fallback;
        return TRUE;
    }
    if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
        return FALSE;
    *out = json_node_get_int (node);
    return TRUE;
}

void
shim_control_reply (BlFrameConn *conn, guint32 channel, JsonNode *ret)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "return");
    json_builder_add_value (b, json_node_copy (ret));
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    bl_frame_conn_send_json (conn, channel, root);
}

void
shim_control_reply_error (BlFrameConn *conn, guint32 channel, const char *klass, const char *desc)
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
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    bl_frame_conn_send_json (conn, channel, root);
}

static void
reply_hello (ShimClient *client, JsonObject *args)
{
    gint64 version = 0;
    g_autoptr (JsonBuilder) b = json_builder_new ();

    if (!args || !shim_json_get_int (args, "version", -1, &version) ||
        version != BL_PROTO_VERSION) {
        shim_control_reply_error (client->conn, 0, "VersionMismatch",
                                  "this monitor speaks protocol version 1");
        return;
    }
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "version");
    json_builder_add_int_value (b, BL_PROTO_VERSION);
    json_builder_set_member_name (b, "id");
    json_builder_add_string_value (b, client->shim->launch->box_id);
    json_builder_end_object (b);
    g_autoptr (JsonNode) ret = json_builder_get_root (b);
    shim_control_reply (client->conn, 0, ret);
}

static JsonNode *
state_object (BoxliteBoxState state)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "state");
    json_builder_add_string_value (b, bl_box_state_to_string (state));
    json_builder_end_object (b);
    return json_builder_get_root (b);
}

/* From now on the client hears of every change of the box's state; the
 * reply says where it stands, so that nothing between the client's last
 * look at the record and this request goes unseen. */
static void
handle_watch (ShimClient *client)
{
    g_autoptr (JsonNode) ret = state_object (client->shim->state);

    client->watching = TRUE;
    shim_control_reply (client->conn, 0, ret);
}

void
shim_control_push_state (Shim *shim, BoxliteBoxState state)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    shim->state = state;
    shim_idle_touch (shim); /* a resume starts the count again */
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "event");
    json_builder_add_string_value (b, "state");
    json_builder_set_member_name (b, "data");
    json_builder_add_value (b, state_object (state));
    json_builder_end_object (b);
    g_autoptr (JsonNode) event = json_builder_get_root (b);
    for (guint i = 0; i < shim->clients->len; i++) {
        ShimClient *client = g_ptr_array_index (shim->clients, i);
        if (client->watching && !bl_frame_conn_is_closed (client->conn))
            bl_frame_conn_send_json (client->conn, 0, event);
    }
}

static void
handle_stop (ShimClient *client, JsonObject *args)
{
    Shim *shim = client->shim;
    gint64 timeout_ms = SHIM_STOP_TIMEOUT_MS;
    gboolean force = FALSE;

    if (args) {
        JsonNode *f = json_object_get_member (args, "force");
        if (f && (!JSON_NODE_HOLDS_VALUE (f) || json_node_get_value_type (f) != G_TYPE_BOOLEAN)) {
            shim_control_reply_error (client->conn, 0, "InvalidArgument",
                                      "'force' must be a boolean");
            return;
        }
        force = f && json_node_get_boolean (f);
        if (!shim_json_get_int (args, "timeout_ms", SHIM_STOP_TIMEOUT_MS, &timeout_ms) ||
            timeout_ms < 0 || timeout_ms > 24 * 3600 * 1000) {
            shim_control_reply_error (client->conn, 0, "InvalidArgument",
                                      "'timeout_ms' must be an integer from 0 to 86400000");
            return;
        }
    }
    if (timeout_ms == 0)
        timeout_ms = SHIM_STOP_TIMEOUT_MS;
    g_ptr_array_add (shim->stop_waiters, g_object_ref (client->conn));
    shim_stop (shim, force, (guint) timeout_ms, BL_STOP_REASON_REQUESTED);
}

static void
handle_session (ShimClient *client, GBytes *payload)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonObject) msg = bl_frame_parse_control (payload, &error);

    if (!msg) {
        g_message ("dropping a control client: %s", error->message);
        bl_frame_conn_close (client->conn, error);
        return;
    }
    const char *command = json_object_get_string_member_with_default (msg, "execute", NULL);
    JsonNode *args_node = json_object_get_member (msg, "arguments");
    JsonObject *args =
        args_node && JSON_NODE_HOLDS_OBJECT (args_node) ? json_node_get_object (args_node) : NULL;

    if (!command) {
        shim_control_reply_error (client->conn, 0, "InvalidArgument",
                                  "expected {\"execute\": NAME}");
    } else if (g_str_equal (command, "hello")) {
        reply_hello (client, args);
    } else if (g_str_equal (command, "stop")) {
        handle_stop (client, args);
    } else if (g_str_equal (command, "watch")) {
        handle_watch (client);
    } else if (g_str_equal (command, "status")) {
        shim_qmp_status (client->shim, client->conn);
    } else if (g_str_equal (command, "pause") || g_str_equal (command, "resume")) {
        shim_qmp_set_paused (client->shim, g_str_equal (command, "pause"), client->conn);
    } else if (g_str_equal (command, "stats")) {
        shim_stats_request (client);
    } else if (g_str_equal (command, "start_detached")) {
        shim_relay_start_detached (client, args);
    } else {
        g_autofree char *desc = g_strdup_printf ("unknown command '%s'", command);
        shim_control_reply_error (client->conn, 0, "CommandNotFound", desc);
    }
}

static void
on_client_frame (BlFrameConn *conn, guint channel, guint type, GBytes *payload, gpointer user_data)
{
    ShimClient *client = user_data;

    if (client->shim->finished)
        return;
    if (channel == 0)
        handle_session (client, payload);
    else
        shim_relay_from_client (client, channel, type, payload);
}

static void
client_free (ShimClient *client)
{
    g_signal_handlers_disconnect_by_data (client->conn, client);
    g_clear_object (&client->conn);
    g_clear_object (&client->stream);
    g_hash_table_unref (client->channels);
    g_free (client);
}

static void
on_client_closed (BlFrameConn *conn, const GError *reason, gpointer user_data)
{
    ShimClient *client = user_data;
    Shim *shim = client->shim;

    g_debug ("control client left%s%s", reason ? ": " : "", reason ? reason->message : "");
    shim_relay_client_gone (client);
    g_ptr_array_remove_fast (shim->clients, client);
    client_free (client);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source,
             gpointer user_data)
{
    Shim *shim = user_data;

    if (shim->finished || shim->clients->len >= MAX_CLIENTS) {
        g_warning ("refusing a control client");
        return TRUE; /* the connection is closed when unreferenced */
    }
    ShimClient *client = g_new0 (ShimClient, 1);
    client->shim = shim;
    client->stream = G_IO_STREAM (g_object_ref (connection));
    client->channels = g_hash_table_new (NULL, NULL);
    client->conn = bl_frame_conn_new (client->stream, "control client");
    g_signal_connect (client->conn, "frame", G_CALLBACK (on_client_frame), client);
    g_signal_connect (client->conn, "closed", G_CALLBACK (on_client_closed), client);
    g_ptr_array_add (shim->clients, client);
    return TRUE;
}

gboolean
shim_control_listen (Shim *shim, GError **error)
{
    g_autofree char *path = g_build_filename (shim->box_dir, "control.sock", NULL);
    g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);

    shim->control = g_socket_service_new ();
    if (!g_socket_listener_add_address (G_SOCKET_LISTENER (shim->control), address,
                                        G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL,
                                        error)) {
        g_prefix_error (error, "cannot listen on %s: ", path);
        return FALSE;
    }
    if (chmod (path, 0600) < 0) {
        bl_os_error (error, errno, "chmod", path);
        return FALSE;
    }
    g_signal_connect (shim->control, "incoming", G_CALLBACK (on_incoming), shim);
    g_socket_service_start (shim->control);
    return TRUE;
}

void
shim_control_close_all (Shim *shim)
{
    if (shim->control) {
        g_socket_service_stop (shim->control);
        g_socket_listener_close (G_SOCKET_LISTENER (shim->control));
    }
    /* Each close runs on_client_closed, which removes the client. */
    while (shim->clients->len > 0) {
        ShimClient *client = g_ptr_array_index (shim->clients, 0);
        if (bl_frame_conn_is_closed (client->conn)) {
            g_ptr_array_remove_index_fast (shim->clients, 0);
            client_free (client);
            continue;
        }
        bl_frame_conn_close (client->conn, NULL);
    }
}

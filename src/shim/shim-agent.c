/* shim-agent.c: the link to the guest agent over the virtio-serial socket.
 *
 * Channel 0 carries the session (ready, hello, identity, mount, stats, freeze,
 * thaw, shutdown); every other
 * channel belongs to a relayed exec (shim-relay.c). The agent runs the
 * untrusted guest's code paths, so anything malformed ends the link and
 * the box.
 */
#define G_LOG_DOMAIN "boxlite-shim"

#include <gio/gunixsocketaddress.h>

#include "bl_proto.h"
#include <boxlite/boxlite-error.h>
#include "shim.h"

static void agent_try_connect (Shim *shim);

gboolean
shim_agent_send_request (Shim *shim, guint32 channel, const char *command, JsonNode *arguments)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    if (!shim->agent || bl_frame_conn_is_closed (shim->agent))
        return FALSE;
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "execute");
    json_builder_add_string_value (b, command);
    json_builder_set_member_name (b, "arguments");
    if (arguments) {
        json_builder_add_value (b, json_node_copy (arguments));
    } else {
        json_builder_begin_object (b);
        json_builder_end_object (b);
    }
    json_builder_end_object (b);
    g_autoptr (JsonNode) root = json_builder_get_root (b);
    return bl_frame_conn_send_json (shim->agent, channel, root);
}

void
shim_agent_protocol_error (Shim *shim, const char *message)
{
    g_warning ("agent protocol error: %s", message);
    if (!shim->crash_reason)
        shim->crash_reason = g_strdup_printf ("agent protocol error: %s", message);
    if (!shim->booted) {
        shim_boot_failed (shim, shim->crash_reason);
        return;
    }
    shim_agent_close (shim);
    shim_qemu_quit (shim);
}

static void
send_hello (Shim *shim)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "version");
    json_builder_add_int_value (b, BL_PROTO_VERSION);
    json_builder_end_object (b);
    g_autoptr (JsonNode) args = json_builder_get_root (b);
    if (shim_agent_send_request (shim, 0, "hello", args))
        g_queue_push_tail (&shim->agent_replies, GINT_TO_POINTER (SHIM_AGENT_REPLY_HELLO));
}

static void
handle_hello_reply (Shim *shim, JsonObject *msg)
{
    JsonNode *ret = json_object_get_member (msg, "return");
    JsonNode *err = json_object_get_member (msg, "error");
    gint64 version = 0;

    if (err && JSON_NODE_HOLDS_OBJECT (err)) {
        const char *desc =
            json_object_get_string_member_with_default (json_node_get_object (err), "desc", "");
        g_autofree char *message = g_strdup_printf ("the guest agent refused hello: %s", desc);
        shim_boot_failed (shim, message);
        return;
    }
    if (!ret || !JSON_NODE_HOLDS_OBJECT (ret) ||
        !shim_json_get_int (json_node_get_object (ret), "version", -1, &version) ||
        version != BL_PROTO_VERSION) {
        g_autofree char *message =
            g_strdup_printf ("the guest agent speaks protocol version %" G_GINT64_FORMAT ", not %d",
                             version, BL_PROTO_VERSION);
        shim_boot_failed (shim, message);
        return;
    }
    g_message ("guest agent answered hello");
    shim_template_answered (shim);
    shim_identity_send (shim);
}

static void
handle_session (Shim *shim, JsonObject *msg)
{
    const char *event = NULL;
    JsonNode *event_node = json_object_get_member (msg, "event");

    if (event_node && JSON_NODE_HOLDS_VALUE (event_node) &&
        json_node_get_value_type (event_node) == G_TYPE_STRING)
        event = json_node_get_string (event_node);
    if (event) {
        if (g_str_equal (event, "ready") && !shim->booted &&
            g_queue_is_empty (&shim->agent_replies)) {
            g_message ("guest agent is ready");
            send_hello (shim);
        } else {
            g_debug ("agent event %s", event);
        }
        return;
    }
    if (!json_object_has_member (msg, "return") && !json_object_has_member (msg, "error")) {
        shim_agent_protocol_error (shim, "a session message is neither an event nor a reply");
        return;
    }
    if (g_queue_is_empty (&shim->agent_replies)) {
        shim_agent_protocol_error (shim, "a reply arrived for no request");
        return;
    }
    ShimAgentReply kind = GPOINTER_TO_INT (g_queue_pop_head (&shim->agent_replies));
    if (kind == SHIM_AGENT_REPLY_HELLO)
        handle_hello_reply (shim, msg);
    else if (kind == SHIM_AGENT_REPLY_MOUNT)
        shim_volumes_mount_reply (shim, msg);
    else if (kind == SHIM_AGENT_REPLY_STATS)
        shim_stats_guest_reply (shim, msg);
    else if (kind == SHIM_AGENT_REPLY_FREEZE)
        shim_snapshot_freeze_reply (shim, msg);
    else if (kind == SHIM_AGENT_REPLY_THAW)
        shim_snapshot_thaw_reply (shim, msg);
    else if (kind == SHIM_AGENT_REPLY_IDENTITY)
        shim_identity_reply (shim, msg);
    else
        g_message ("guest agent acknowledged shutdown");
}

static void
on_agent_frame (BlFrameConn *conn, guint channel, guint type, GBytes *payload, gpointer user_data)
{
    Shim *shim = user_data;

    if (channel != 0) {
        shim_relay_from_agent (shim, channel, type, payload);
        return;
    }
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonObject) msg = bl_frame_parse_control (payload, &error);
    if (!msg) {
        shim_agent_protocol_error (shim, error->message);
        return;
    }
    handle_session (shim, msg);
}

static gboolean
on_agent_lost_while_booting (gpointer user_data)
{
    Shim *shim = user_data;

    shim->agent_retry = 0;
    shim_boot_failed (shim, shim->crash_reason);
    return G_SOURCE_REMOVE;
}

static gboolean
on_agent_lost_after_boot (gpointer user_data)
{
    Shim *shim = user_data;

    shim->agent_retry = 0;
    shim_qemu_quit (shim);
    return G_SOURCE_REMOVE;
}

static void
on_agent_closed (BlFrameConn *conn, const GError *reason, gpointer user_data)
{
    Shim *shim = user_data;

    if (shim->finished || conn != shim->agent)
        return;
    g_message ("the agent link closed%s%s", reason ? ": " : "", reason ? reason->message : "");
    if (shim->stop_requested)
        return; /* the guest is going down as asked */
    if (reason && g_error_matches (reason, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL)) {
        /* A malformed frame is the agent's doing, not a lost link. */
        shim_agent_protocol_error (shim, reason->message);
        return;
    }
    if (!shim->crash_reason)
        shim->crash_reason = g_strdup_printf ("the agent link broke: %s",
                                              reason ? reason->message : "the guest closed it");
    if (!shim->booted) {
        /* Usually the guest went down; QEMU's exit says it better, if it comes. */
        shim->agent_retry = g_timeout_add (500, on_agent_lost_while_booting, shim);
        return;
    }
    /* A link that breaks because QEMU died is followed by QEMU's exit, whose
     * cause is the better record: give it a moment before ending QEMU. */
    shim->agent_retry = g_timeout_add (500, on_agent_lost_after_boot, shim);
}

static void
on_agent_connected (GObject *source, GAsyncResult *res, gpointer user_data)
{
    Shim *shim = user_data;
    g_autoptr (GError) error = NULL;
    g_autoptr (GSocketConnection) connection =
        g_socket_client_connect_finish (G_SOCKET_CLIENT (source), res, &error);

    if (!connection) {
        shim_connect_retry (shim, error, &shim->agent_retry, agent_try_connect);
        return;
    }
    g_message ("connected to the agent socket");
    shim->agent = bl_frame_conn_new (G_IO_STREAM (connection), "guest agent");
    g_signal_connect (shim->agent, "frame", G_CALLBACK (on_agent_frame), shim);
    g_signal_connect (shim->agent, "closed", G_CALLBACK (on_agent_closed), shim);
    /* A template's copy said "ready" to the template's host long ago: the
     * host speaks first (the guest reads it once it runs). */
    if (shim->launch->template_role == BL_TEMPLATE_ROLE_CLONE)
        send_hello (shim);
}

static void
agent_try_connect (Shim *shim)
{
    g_autofree char *path = g_build_filename (shim->box_dir, "agent.sock", NULL);
    g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
    g_autoptr (GSocketClient) client = g_socket_client_new ();

    g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), shim->cancellable,
                                   on_agent_connected, shim);
}

void
shim_agent_connect (Shim *shim)
{
    agent_try_connect (shim);
}

void
shim_agent_close (Shim *shim)
{
    if (shim->agent && !bl_frame_conn_is_closed (shim->agent))
        bl_frame_conn_close (shim->agent, NULL);
}

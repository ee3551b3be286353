/* shim-relay.c: exec channels between control clients and the agent.
 *
 * Each client numbers its own channels; the agent sees one number space, so
 * a client's channel c is mapped to a fresh agent channel a when the client
 * sends "exec" (or "copy_out", "copy_in": they run like commands) on it, and every frame is
 * renumbered on the way through. The mapping ends with the agent's "exit" event or an error reply
 * to the "exec" (both forwarded first); it is forgotten once every request sent on it has been
 * answered, so late replies are never mistaken for a hostile agent.
 *
 * Credit is accounted on both sides so that neither a chatty guest nor a
 * flooding client can make this process buffer more than a window per exec.
 */
#define G_LOG_DOMAIN "boxlite-shim"

#include "bl_proto.h"
#include <boxlite/boxlite-error.h>
#include "events.h"
#include "main-log.h"
#include "shim.h"

/* Cap for accumulated credit; a peer granting more is not believed. */
#define MAX_CREDIT ((guint64) G_MAXUINT32)

void
shim_relay_free (ShimRelay *relay)
{
    g_clear_object (&relay->starter);
    g_free (relay->program);
    g_free (relay);
}

static guint32
alloc_agent_channel (Shim *shim)
{
    while (shim->next_agent_channel == 0 ||
           g_hash_table_contains (shim->relays, GUINT_TO_POINTER (shim->next_agent_channel)))
        shim->next_agent_channel =
            shim->next_agent_channel >= BL_PROTO_MAX_CHANNEL ? 1 : shim->next_agent_channel + 1;
    return shim->next_agent_channel++;
}

static gboolean
agent_up (Shim *shim)
{
    return shim->agent && !bl_frame_conn_is_closed (shim->agent) && !shim->finished;
}

/* The mapping ends: the client's number is free again at once. */
static void
relay_end (ShimRelay *relay)
{
    relay->ended = TRUE;
    if (relay->client)
        g_hash_table_remove (relay->client->channels, GUINT_TO_POINTER (relay->client_channel));
}

/* Forgets an ended relay once nothing more is owed on it. */
static void
relay_maybe_forget (Shim *shim, ShimRelay *relay)
{
    if (relay->ended && relay->pending_replies == 0) {
        g_hash_table_remove (shim->relays, GUINT_TO_POINTER (relay->agent_channel));
        shim_idle_touch (shim); /* a command or a copy ended: idle from now on */
    }
}

static void
client_protocol_error (ShimClient *client, const char *message)
{
    g_autoptr (GError) error = g_error_new (BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL, "%s", message);

    g_message ("dropping a control client: %s", message);
    bl_frame_conn_close (client->conn, error); /* runs shim_relay_client_gone */
}

/* argv[0] of an exec request's arguments, or NULL. */
static char *
program_of (JsonObject *args)
{
    JsonNode *argv = args ? json_object_get_member (args, "argv") : NULL;

    if (!argv || !JSON_NODE_HOLDS_ARRAY (argv) ||
        json_array_get_length (json_node_get_array (argv)) == 0)
        return NULL;
    JsonNode *first = json_array_get_element (json_node_get_array (argv), 0);
    if (!JSON_NODE_HOLDS_VALUE (first) || json_node_get_value_type (first) != G_TYPE_STRING)
        return NULL;
    return g_utf8_make_valid (json_node_get_string (first), -1);
}

/* exec_start and exec_exit in the journal: the program's name and what
 * became of it, not its arguments (they may hold secrets). */
static void
journal_exec (Shim *shim, ShimRelay *relay, const char *action, JsonObject *data)
{
    g_autoptr (JsonObject) attributes = json_object_new ();
    const char *const keys[] = { "pid", "code", "signal", "oom_killed", "timed_out" };

    json_object_set_string_member (attributes, "program", relay->program ? relay->program : "?");
    json_object_set_boolean_member (attributes, "detached", relay->to_log);
    for (guint i = 0; data && i < G_N_ELEMENTS (keys); i++) {
        JsonNode *v = json_object_get_member (data, keys[i]);
        if (v && JSON_NODE_HOLDS_VALUE (v) &&
            (json_node_get_value_type (v) == G_TYPE_INT64 ||
             json_node_get_value_type (v) == G_TYPE_BOOLEAN))
            json_object_set_member (attributes, keys[i], json_node_copy (v));
    }
    bl_events_append (shim->box_dir, NULL, action, attributes);
}

static ShimRelay *
relay_open (ShimClient *client, guint32 channel)
{
    Shim *shim = client->shim;
    ShimRelay *relay = g_new0 (ShimRelay, 1);

    relay->client = client;
    relay->client_channel = channel;
    relay->agent_channel = alloc_agent_channel (shim);
    relay->output_credit = BL_PROTO_INITIAL_CREDIT;
    relay->input_credit = BL_PROTO_INITIAL_CREDIT;
    g_hash_table_insert (shim->relays, GUINT_TO_POINTER (relay->agent_channel), relay);
    g_hash_table_insert (client->channels, GUINT_TO_POINTER (channel), relay);
    g_debug ("client channel %u is agent channel %u", channel, relay->agent_channel);
    return relay;
}

static void
client_control (ShimClient *client, guint32 channel, GBytes *payload)
{
    Shim *shim = client->shim;
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonObject) msg = bl_frame_parse_control (payload, &error);

    if (!msg) {
        client_protocol_error (client, error->message);
        return;
    }
    const char *command = json_object_get_string_member_with_default (msg, "execute", NULL);
    JsonNode *arguments = json_object_get_member (msg, "arguments");
    /* The agent ends the whole link on a message it cannot read; one
     * client's mistake must not stop the box for everyone. */
    if (!command ||
        (arguments && !JSON_NODE_HOLDS_OBJECT (arguments) && !JSON_NODE_HOLDS_NULL (arguments))) {
        client_protocol_error (client, "a control message needs \"execute\" and object "
                                       "\"arguments\"");
        return;
    }
    ShimRelay *relay = g_hash_table_lookup (client->channels, GUINT_TO_POINTER (channel));
    if (!relay) {
        if (!g_str_equal (command, "exec") && !g_str_equal (command, "copy_out") &&
            !g_str_equal (command, "copy_in")) {
            /* e.g. a signal racing the command's exit: nothing to do. */
            g_debug ("ignoring '%s' on closed client channel %u", command ? command : "?", channel);
            return;
        }
        if (!agent_up (shim)) {
            shim_control_reply_error (client->conn, channel, "Failed", "the box is stopping");
            return;
        }
        relay = relay_open (client, channel);
        /* A copy is journalled as the agent's own work under its name. */
        relay->program = g_str_equal (command, "exec")
                             ? program_of (arguments && JSON_NODE_HOLDS_OBJECT (arguments)
                                               ? json_node_get_object (arguments)
                                               : NULL)
                             : g_strdup (command);
    }
    relay->pending_replies++;
    if (agent_up (shim))
        bl_frame_conn_send (shim->agent, relay->agent_channel, BL_FRAME_CONTROL,
                            g_bytes_get_data (payload, NULL), g_bytes_get_size (payload));
}

void
shim_relay_from_client (ShimClient *client, guint32 channel, guint type, GBytes *payload)
{
    Shim *shim = client->shim;
    gsize len = g_bytes_get_size (payload);
    const guint8 *data = g_bytes_get_data (payload, NULL);

    if (type == BL_FRAME_CONTROL) {
        client_control (client, channel, payload);
        return;
    }
    ShimRelay *relay = g_hash_table_lookup (client->channels, GUINT_TO_POINTER (channel));
    if (!relay || !agent_up (shim))
        return; /* input racing the command's end */
    if (type == BL_FRAME_CREDIT) {
        relay->output_credit = MIN (relay->output_credit + bl_proto_get_u32 (data), MAX_CREDIT);
    } else if (type == BL_FRAME_STDIN) {
        if (len > relay->input_credit) {
            client_protocol_error (client, "stdin beyond the granted credit");
            return;
        }
        relay->input_credit -= len;
    } else {
        client_protocol_error (client, "a client may not send output frames");
        return;
    }
    bl_frame_conn_send (shim->agent, relay->agent_channel, (guint8) type, data, len);
}

static void
agent_control (Shim *shim, ShimRelay *relay, GBytes *payload)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonObject) msg = bl_frame_parse_control (payload, &error);

    if (!msg) {
        shim_agent_protocol_error (shim, error->message);
        return;
    }
    gboolean is_reply =
        json_object_has_member (msg, "return") || json_object_has_member (msg, "error");
    const char *event = json_object_get_string_member_with_default (msg, "event", NULL);
    if (is_reply == (event != NULL)) {
        shim_agent_protocol_error (shim, "a message is neither one reply nor one event");
        return;
    }
    if (is_reply && relay->pending_replies == 0) {
        shim_agent_protocol_error (shim, "a reply arrived for no request");
        return;
    }
    if (!is_reply && relay->ended) {
        shim_agent_protocol_error (shim, "an event arrived after the command ended");
        return;
    }
    if (is_reply && !relay->answered) {
        JsonNode *ret = json_object_get_member (msg, "return");
        if (ret && JSON_NODE_HOLDS_OBJECT (ret))
            journal_exec (shim, relay, "exec_start", json_node_get_object (ret));
    } else if (!is_reply && g_str_equal (event, "exit")) {
        JsonNode *data = json_object_get_member (msg, "data");
        journal_exec (shim, relay, "exec_exit",
                      data && JSON_NODE_HOLDS_OBJECT (data) ? json_node_get_object (data) : NULL);
    }
    if (is_reply && relay->starter) {
        /* The detached command runs (or could not start): tell whoever
         * asked, on the session, and keep its output from now on. */
        g_autoptr (BlFrameConn) starter = g_steal_pointer (&relay->starter);
        bl_frame_conn_send (starter, 0, BL_FRAME_CONTROL, g_bytes_get_data (payload, NULL),
                            g_bytes_get_size (payload));
    }
    if (!is_reply && relay->to_log && g_str_equal (event, "exit")) {
        g_autofree char *data =
            g_strndup (g_bytes_get_data (payload, NULL), MIN (g_bytes_get_size (payload), 200));
        g_message ("detached command on channel %u ended: %s", relay->agent_channel, data);
    }
    gboolean forward = relay->client && !relay->ended;
    if (forward)
        bl_frame_conn_send (relay->client->conn, relay->client_channel, BL_FRAME_CONTROL,
                            g_bytes_get_data (payload, NULL), g_bytes_get_size (payload));
    if (is_reply) {
        gboolean first = !relay->answered;
        relay->pending_replies--;
        relay->answered = TRUE;
        if (first && json_object_has_member (msg, "error") && !relay->ended)
            relay_end (relay);
    } else if (g_str_equal (event, "exit")) {
        relay_end (relay);
    }
    relay_maybe_forget (shim, relay);
}

static void
agent_output (Shim *shim, ShimRelay *relay, guint type, GBytes *payload)
{
    gsize len = g_bytes_get_size (payload);

    if (relay->ended) {
        shim_agent_protocol_error (shim, "output arrived after the command ended");
        return;
    }
    if (len > relay->output_credit) {
        g_autofree char *message =
            g_strdup_printf ("the agent sent %zu bytes on channel %u with only %" G_GUINT64_FORMAT
                             " bytes of credit",
                             len, relay->agent_channel, relay->output_credit);
        shim_agent_protocol_error (shim, message);
        return;
    }
    relay->output_credit -= len;
    if (relay->to_log && len > 0) {
        guint8 head[BL_MAIN_LOG_HEADER_SIZE];
        bl_main_log_encode_header (
            head, type == BL_FRAME_STDOUT ? BL_MAIN_LOG_STDOUT : BL_MAIN_LOG_STDERR, (guint32) len,
            g_get_real_time ());
        if (shim->main_log)
            shim_log_file_append_record (shim->main_log, head, sizeof head,
                                         g_bytes_get_data (payload, NULL), len);
        relay->output_credit += len;
        bl_frame_conn_send_credit (shim->agent, relay->agent_channel, (guint32) len);
    } else if (relay->client) {
        bl_frame_conn_send (relay->client->conn, relay->client_channel, (guint8) type,
                            g_bytes_get_data (payload, NULL), len);
    } else if (len > 0) {
        /* Nobody reads it: hand the credit straight back so the guest never stalls. */
        relay->output_credit += len;
        bl_frame_conn_send_credit (shim->agent, relay->agent_channel, (guint32) len);
    }
}

void
shim_relay_from_agent (Shim *shim, guint32 channel, guint type, GBytes *payload)
{
    ShimRelay *relay = g_hash_table_lookup (shim->relays, GUINT_TO_POINTER (channel));

    if (!relay) {
        g_autofree char *message =
            g_strdup_printf ("a frame arrived for channel %u, which is not open", channel);
        shim_agent_protocol_error (shim, message);
        return;
    }
    switch (type) {
    case BL_FRAME_CONTROL:
        agent_control (shim, relay, payload);
        break;
    case BL_FRAME_STDOUT:
    case BL_FRAME_STDERR:
        agent_output (shim, relay, type, payload);
        break;
    case BL_FRAME_CREDIT:
        relay->input_credit = MIN (
            relay->input_credit + bl_proto_get_u32 (g_bytes_get_data (payload, NULL)), MAX_CREDIT);
        if (relay->client && !relay->ended)
            bl_frame_conn_send (relay->client->conn, relay->client_channel, BL_FRAME_CREDIT,
                                g_bytes_get_data (payload, NULL), g_bytes_get_size (payload));
        break;
    default:
        shim_agent_protocol_error (shim, "the agent sent a STDIN frame");
        break;
    }
}

void
shim_relay_client_gone (ShimClient *client)
{
    Shim *shim = client->shim;
    GHashTableIter iter;
    gpointer value;
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "signal");
    json_builder_add_int_value (b, 9);
    json_builder_end_object (b);
    g_autoptr (JsonNode) kill_args = json_builder_get_root (b);

    g_hash_table_iter_init (&iter, client->channels);
    while (g_hash_table_iter_next (&iter, NULL, &value)) {
        ShimRelay *relay = value;
        relay->client = NULL;
        /* Its command must not run on for nobody: kill it, drop what it says. */
        if (!relay->ended &&
            shim_agent_send_request (shim, relay->agent_channel, "signal", kill_args))
            relay->pending_replies++;
    }
    g_hash_table_remove_all (client->channels);
}

/* "start_detached" on the session: the exec @args run with no client; their
 * output goes to main.log, and the asker gets the agent's answer to the exec
 * on channel 0. Nothing is read from stdin. */
void
shim_relay_start_detached (ShimClient *client, JsonObject *args)
{
    Shim *shim = client->shim;
    g_autoptr (GError) error = NULL;

    if (!args) {
        shim_control_reply_error (client->conn, 0, "InvalidArgument",
                                  "start_detached needs the exec arguments");
        return;
    }
    if (!agent_up (shim)) {
        shim_control_reply_error (client->conn, 0, "Failed", "the box is not running");
        return;
    }
    if (!shim->main_log && !(shim->main_log = shim_log_file_open (shim->box_dir, BL_MAIN_LOG_NAME,
                                                                  BL_MAIN_LOG_MAX, &error))) {
        shim_control_reply_error (client->conn, 0, "Failed", error->message);
        return;
    }
    g_autoptr (JsonObject) exec_args = json_object_new ();
    GList *members = json_object_get_members (args);
    for (GList *m = members; m; m = m->next)
        json_object_set_member (exec_args, m->data,
                                json_node_copy (json_object_get_member (args, m->data)));
    g_list_free (members);
    json_object_set_boolean_member (exec_args, "stdin", FALSE);

    ShimRelay *relay = g_new0 (ShimRelay, 1);
    relay->agent_channel = alloc_agent_channel (shim);
    relay->output_credit = BL_PROTO_INITIAL_CREDIT;
    relay->to_log = TRUE;
    relay->starter = g_object_ref (client->conn);
    relay->program = program_of (args);
    g_hash_table_insert (shim->relays, GUINT_TO_POINTER (relay->agent_channel), relay);
    g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), exec_args);
    if (shim_agent_send_request (shim, relay->agent_channel, "exec", node))
        relay->pending_replies++;
    else
        g_hash_table_remove (shim->relays, GUINT_TO_POINTER (relay->agent_channel));
}

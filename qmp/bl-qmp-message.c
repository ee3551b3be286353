/* bl-qmp-message.c: checking and parsing QEMU's lines, building ours. */
#define G_LOG_DOMAIN "boxlite-qmp"

#include "bl-qmp-message.h"

#include "bl-qmp-error.h"

/* json-glib parses recursively, so a line of a million '[' would exhaust
 * the stack. Count the depth ourselves first, skipping string contents. */
static gboolean
nesting_within (const char *line, gsize len, guint max_depth)
{
    guint depth = 0;
    gboolean in_string = FALSE;

    for (gsize i = 0; i < len; i++) {
        char c = line[i];

        if (in_string) {
            if (c == '\\')
                i++; /* whatever follows the backslash is part of the string */
            else if (c == '"')
                in_string = FALSE;
        } else if (c == '"') {
            in_string = TRUE;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return FALSE;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return TRUE;
}

/* @name of @object if it is present and of @type, else NULL. */
static JsonNode *
member_of_type (JsonObject *object, const char *name, JsonNodeType type)
{
    JsonNode *node = json_object_get_member (object, name);

    if (node == NULL || JSON_NODE_TYPE (node) != type)
        return NULL;
    return node;
}

static gboolean
get_int_member (JsonObject *object, const char *name, gint64 *value)
{
    JsonNode *node = member_of_type (object, name, JSON_NODE_VALUE);

    if (node == NULL || json_node_get_value_type (node) != G_TYPE_INT64)
        return FALSE;
    *value = json_node_get_int (node);
    return TRUE;
}

static const char *
get_string_member (JsonObject *object, const char *name)
{
    JsonNode *node = member_of_type (object, name, JSON_NODE_VALUE);

    if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
        return NULL;
    return json_node_get_string (node);
}

static JsonObject *
get_object_member (JsonObject *object, const char *name)
{
    JsonNode *node = member_of_type (object, name, JSON_NODE_OBJECT);

    return node ? json_node_get_object (node) : NULL;
}

static gboolean
parse_greeting (BlQmpMessage *message, JsonObject *root, GError **error)
{
    JsonObject *qmp = get_object_member (root, "QMP");
    JsonObject *version = qmp ? get_object_member (qmp, "version") : NULL;
    JsonObject *qemu = version ? get_object_member (version, "qemu") : NULL;
    gint64 major, minor, micro;

    if (qmp == NULL || version == NULL ||
        member_of_type (qmp, "capabilities", JSON_NODE_ARRAY) == NULL) {
        g_set_error_literal (error, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL,
                             "the greeting lacks QMP.version or QMP.capabilities");
        return FALSE;
    }
    if (qemu == NULL || !get_int_member (qemu, "major", &major) ||
        !get_int_member (qemu, "minor", &minor) || !get_int_member (qemu, "micro", &micro)) {
        g_set_error_literal (error, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL,
                             "the greeting's QMP.version.qemu is not {major, minor, micro}");
        return FALSE;
    }
    message->kind = BL_QMP_MESSAGE_GREETING;
    message->version = g_strdup_printf (
        "%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT ".%" G_GINT64_FORMAT, major, minor, micro);
    return TRUE;
}

static gboolean
parse_error_reply (BlQmpMessage *message, JsonObject *root, GError **error)
{
    JsonObject *qmp_error = get_object_member (root, "error");

    message->error_class = qmp_error ? get_string_member (qmp_error, "class") : NULL;
    message->error_desc = qmp_error ? get_string_member (qmp_error, "desc") : NULL;
    if (message->error_class == NULL || message->error_desc == NULL) {
        g_set_error_literal (error, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL,
                             "an error reply lacks error.class or error.desc");
        return FALSE;
    }
    message->kind = BL_QMP_MESSAGE_ERROR;
    return TRUE;
}

/* QEMU stamps events with {"seconds": s, "microseconds": us}. */
static gint64
parse_timestamp (JsonObject *root)
{
    JsonObject *stamp = get_object_member (root, "timestamp");
    gint64 seconds, micro;

    if (stamp == NULL || !get_int_member (stamp, "seconds", &seconds) ||
        !get_int_member (stamp, "microseconds", &micro))
        return -1;
    if (seconds < 0 || seconds >= G_MAXINT64 / G_USEC_PER_SEC || micro < 0 ||
        micro >= G_USEC_PER_SEC)
        return -1;
    return seconds * G_USEC_PER_SEC + micro;
}

static gboolean
parse_event (BlQmpMessage *message, JsonObject *root, GError **error)
{
    JsonNode *data = json_object_get_member (root, "data");

    message->event = get_string_member (root, "event");
    if (message->event == NULL || message->event[0] == '\0') {
        g_set_error_literal (error, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL,
                             "an event's name is not a non-empty string");
        return FALSE;
    }
    if (data == NULL) {
        /* Give handlers an empty object rather than a NULL to check. */
        json_object_set_object_member (root, "data", json_object_new ());
        data = json_object_get_member (root, "data");
    } else if (JSON_NODE_TYPE (data) != JSON_NODE_OBJECT) {
        g_set_error (error, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL,
                     "the data of event %s is not an object", message->event);
        return FALSE;
    }
    message->data = json_node_get_object (data);
    message->timestamp_usec = parse_timestamp (root);
    message->kind = BL_QMP_MESSAGE_EVENT;
    return TRUE;
}

static gboolean
classify (BlQmpMessage *message, JsonObject *root, GError **error)
{
    if (json_object_has_member (root, "QMP"))
        return parse_greeting (message, root, error);

    message->has_id = get_int_member (root, "id", &message->id);
    if (json_object_has_member (root, "error"))
        return parse_error_reply (message, root, error);
    if (json_object_has_member (root, "return")) {
        message->value = json_object_get_member (root, "return");
        message->kind = BL_QMP_MESSAGE_RETURN;
        return TRUE;
    }
    if (json_object_has_member (root, "event"))
        return parse_event (message, root, error);

    message->kind = BL_QMP_MESSAGE_UNKNOWN;
    return TRUE;
}

static JsonNode *
parse_json_object (const char *line, gsize len, GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (GError) json_error = NULL;
    JsonNode *root;

    if (len > BL_QMP_MAX_LINE_LENGTH) {
        g_set_error (error, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL, "a line is longer than %d bytes",
                     BL_QMP_MAX_LINE_LENGTH);
        return NULL;
    }
    /* With an explicit length this also rejects embedded NUL bytes. */
    if (!g_utf8_validate (line, (gssize) len, NULL)) {
        g_set_error_literal (error, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL,
                             "a line is not valid UTF-8");
        return NULL;
    }
    if (!nesting_within (line, len, BL_QMP_MAX_DEPTH)) {
        g_set_error (error, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL,
                     "a line nests deeper than %d levels", BL_QMP_MAX_DEPTH);
        return NULL;
    }
    if (!json_parser_load_from_data (parser, line, (gssize) len, &json_error)) {
        g_set_error (error, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL, "a line is not JSON: %s",
                     json_error->message);
        return NULL;
    }
    root = json_parser_get_root (parser);
    if (root == NULL || JSON_NODE_TYPE (root) != JSON_NODE_OBJECT) {
        g_set_error_literal (error, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL,
                             "a line is not a JSON object");
        return NULL;
    }
    return json_node_ref (root);
}

BlQmpMessage *
bl_qmp_message_parse (const char *line, gsize len, GError **error)
{
    g_autoptr (BlQmpMessage) message = g_new0 (BlQmpMessage, 1);

    message->timestamp_usec = -1;
    message->root = parse_json_object (line, len, error);
    if (message->root == NULL)
        return NULL;
    if (!classify (message, json_node_get_object (message->root), error))
        return NULL;
    return g_steal_pointer (&message);
}

void
bl_qmp_message_free (BlQmpMessage *message)
{
    if (message == NULL)
        return;
    g_clear_pointer (&message->root, json_node_unref);
    g_free (message->version);
    g_free (message);
}

GBytes *
bl_qmp_message_build_command (const char *command, JsonObject *arguments, gint64 id)
{
    g_autoptr (JsonNode) root = json_node_new (JSON_NODE_OBJECT);
    g_autoptr (JsonObject) object = json_object_new ();
    g_autofree char *text = NULL;
    GString *line;

    json_object_set_string_member (object, "execute", command);
    if (arguments != NULL)
        json_object_set_object_member (object, "arguments", json_object_ref (arguments));
    json_object_set_int_member (object, "id", id);
    json_node_set_object (root, object);

    text = json_to_string (root, FALSE);
    line = g_string_new (text);
    g_string_append_c (line, '\n');
    return g_string_free_to_bytes (line);
}

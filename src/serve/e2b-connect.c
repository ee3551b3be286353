/* e2b-connect.c: the pieces of Connect-RPC the envd API needs: the
 * streaming envelope, error bodies and codes, and a command run to its
 * end with its output kept. */
#define G_LOG_DOMAIN "boxlite-serve"

#include <string.h>

#include "e2b.h"

const char *
bl_e2b_envelope_read (const guint8 *data, gsize len, const guint8 **message, gsize *message_len)
{
    if (len < 5)
        return "the request stream has no complete envelope";
    if (data[0] & ~BL_E2B_ENVELOPE_END_STREAM)
        return "compressed or unknown envelope flags are not supported";
    if (data[0] & BL_E2B_ENVELOPE_END_STREAM)
        return "the request stream ends before its message";
    guint32 size = ((guint32) data[1] << 24) | ((guint32) data[2] << 16) |
                   ((guint32) data[3] << 8) | (guint32) data[4];
    if (size > BL_E2B_MAX_ENVELOPE)
        return "the envelope's message is too large";
    if (size != len - 5)
        return "the envelope's length does not match the request stream";
    *message = data + 5;
    *message_len = size;
    return NULL;
}

void
bl_e2b_envelope_append (GByteArray *out, guint8 flags, const char *message, gsize len)
{
    guint8 head[5] = { flags, (guint8) (len >> 24), (guint8) (len >> 16), (guint8) (len >> 8),
                       (guint8) len };

    g_byte_array_append (out, head, sizeof head);
    g_byte_array_append (out, (const guint8 *) message, (guint) len);
}

void
bl_e2b_envelope_append_json (GByteArray *out, guint8 flags, JsonNode *node)
{
    g_autofree char *text = json_to_string (node, FALSE);

    bl_e2b_envelope_append (out, flags, text, strlen (text));
}

JsonNode *
bl_e2b_connect_error_json (const char *code, const char *message)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "code");
    json_builder_add_string_value (b, code);
    json_builder_set_member_name (b, "message");
    json_builder_add_string_value (b, message);
    json_builder_end_object (b);
    return json_builder_get_root (b);
}

guint
bl_e2b_connect_status (const char *code)
{
    static const struct {
        const char *code;
        guint status;
    } map[] = {
        { "invalid_argument", 400 },   { "unauthenticated", 401 }, { "permission_denied", 403 },
        { "not_found", 404 },          { "already_exists", 409 },  { "failed_precondition", 412 },
        { "resource_exhausted", 429 }, { "unimplemented", 501 },   { "unavailable", 503 },
        { "deadline_exceeded", 504 },
    };

    for (guint i = 0; i < G_N_ELEMENTS (map); i++)
        if (g_str_equal (map[i].code, code))
            return map[i].status;
    return 500;
}

void
bl_e2b_connect_reply_error (BlServeCall *call, const char *code, const char *format, ...)
{
    va_list args;
    g_autofree char *message = NULL;

    va_start (args, format);
    message = g_strdup_vprintf (format, args);
    va_end (args);
    bl_serve_reply_json (call, bl_e2b_connect_status (code),
                         bl_e2b_connect_error_json (code, message));
}

void
bl_e2b_unimplemented (BlServeCall *call)
{
    bl_e2b_connect_reply_error (call, "unimplemented", "not implemented by boxlite");
}

gboolean
bl_e2b_take_sandbox_id (BlServeCall *call)
{
    SoupMessageHeaders *headers = soup_server_message_get_request_headers (call->msg);
    const char *id = soup_message_headers_get_one (headers, "E2b-Sandbox-Id");

    g_free (call->args[0]);
    call->args[0] = g_strdup (id);
    /* The user a call is for, as the SDK names it (see bl_e2b_basic_user). */
    g_free (call->args[1]);
    call->args[1] = g_strdup (soup_message_headers_get_one (headers, "Authorization"));
    if (!id)
        bl_e2b_connect_reply_error (call, "invalid_argument",
                                    "the E2b-Sandbox-Id header is missing");
    return id != NULL;
}

const char *
bl_e2b_basic_user (const char *header, char **user)
{
    static const char *const bad = "the Authorization header must be Basic base64(user:)";
    gsize len, n;

    *user = NULL;
    if (!header)
        return NULL;
    /* A bearer token is a credential, not a user. */
    if (!g_ascii_strncasecmp (header, "Bearer ", 7))
        return NULL;
    if (g_ascii_strncasecmp (header, "Basic ", 6))
        return bad;
    header += 6;
    len = strlen (header);
    /* g_base64_decode() skips what is not base64: check it all first. */
    if (!len || len % 4 || len > BL_E2B_MAX_BASIC)
        return bad;
    for (gsize i = 0; i < len; i++)
        if (!g_ascii_isalnum (header[i]) && header[i] != '+' && header[i] != '/' &&
            !(header[i] == '=' && i >= len - 2 && (i == len - 1 || header[len - 1] == '=')))
            return bad;
    g_autofree char *text = (char *) g_base64_decode (header, &n);
    const char *colon = memchr (text, ':', n);
    if (!colon || colon == text || colon - text > BL_E2B_MAX_USER)
        return bad;
    for (const char *c = text; c < colon; c++)
        if (!g_ascii_isalnum (*c) && *c != '_' && *c != '.' && (*c != '-' || c == text))
            return "a user name is letters, digits, '.', '_' and '-' (not first)";
    *user = g_strndup (text, (gsize) (colon - text));
    return NULL;
}

JsonObject *
bl_e2b_unary_request (BlServeCall *call, JsonParser *parser)
{
    gsize len;
    const char *data = g_bytes_get_data (call->body, &len);
    g_autoptr (GError) error = NULL;

    if (!json_parser_load_from_data (parser, data ? data : "", (gssize) len, &error)) {
        bl_e2b_connect_reply_error (call, "invalid_argument", "malformed JSON message: %s",
                                    error->message);
        return NULL;
    }
    JsonNode *root = json_parser_get_root (parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
        bl_e2b_connect_reply_error (call, "invalid_argument", "the message must be a JSON object");
        return NULL;
    }
    return json_node_get_object (root);
}

const char *
bl_e2b_connect_code (const GError *error)
{
    if (error->domain == G_IO_ERROR) {
        switch (error->code) {
        case G_IO_ERROR_NOT_FOUND:
            return "not_found";
        case G_IO_ERROR_EXISTS:
            return "already_exists";
        case G_IO_ERROR_INVALID_ARGUMENT:
        case G_IO_ERROR_INVALID_DATA:
        case G_IO_ERROR_NOT_DIRECTORY:
        case G_IO_ERROR_IS_DIRECTORY:
            return "invalid_argument";
        case G_IO_ERROR_PERMISSION_DENIED:
            return "permission_denied";
        case G_IO_ERROR_NO_SPACE:
        case G_IO_ERROR_MESSAGE_TOO_LARGE:
            return "resource_exhausted";
        case G_IO_ERROR_NOT_SUPPORTED:
            return "unimplemented";
        case G_IO_ERROR_TIMED_OUT:
            return "deadline_exceeded";
        default:
            break;
        }
    } else if (error->domain == BOXLITE_ERROR) {
        switch (error->code) {
        case BOXLITE_ERROR_INVALID_ARGUMENT:
            return "invalid_argument";
        case BOXLITE_ERROR_NOT_FOUND:
        case BOXLITE_ERROR_COMMAND_NOT_FOUND:
            return "not_found";
        case BOXLITE_ERROR_PERMISSION_DENIED:
            return "permission_denied";
        case BOXLITE_ERROR_INVALID_STATE:
            return "failed_precondition";
        case BOXLITE_ERROR_TIMED_OUT:
            return "deadline_exceeded";
        default:
            break;
        }
    }
    return "internal";
}

GDateTime *
bl_e2b_time_from_us (gint64 us)
{
    g_autoptr (GDateTime) seconds = g_date_time_new_from_unix_utc (us / G_USEC_PER_SEC);

    return seconds ? g_date_time_add (seconds, us % G_USEC_PER_SEC) : NULL;
}

void
bl_e2b_run_free (BlE2bRun *run)
{
    if (!run)
        return;
    g_clear_pointer (&run->out, g_byte_array_unref);
    g_clear_pointer (&run->err, g_byte_array_unref);
    g_free (run);
}

typedef struct {
    GInputStream *stream;
    GByteArray *into;
    GError *error;
} Drain;

/* Reads @stream to its end, keeping up to BL_E2B_MAX_OUTPUT bytes: the
 * rest is read and dropped so that the command never blocks on a full
 * pipe. */
static gpointer
drain (gpointer data)
{
    Drain *d = data;
    guint8 buf[65536];

    for (;;) {
        gssize n = g_input_stream_read (d->stream, buf, sizeof buf, NULL, &d->error);
        if (n <= 0)
            break;
        gsize room = BL_E2B_MAX_OUTPUT - MIN (d->into->len, BL_E2B_MAX_OUTPUT);
        g_byte_array_append (d->into, buf, (guint) MIN ((gsize) n, room));
    }
    return NULL;
}

BlE2bRun *
bl_e2b_run (BoxliteBox *box, BoxliteCommand *command, GError **error)
{
    g_autoptr (BoxliteExecution) execution = boxlite_box_exec (box, command, NULL, error);
    g_autoptr (BlE2bRun) run = g_new0 (BlE2bRun, 1);

    if (!execution)
        return NULL;
    run->pid = boxlite_execution_get_pid (execution);
    run->out = g_byte_array_new ();
    run->err = g_byte_array_new ();
    GOutputStream *in = boxlite_execution_get_stdin (execution);
    if (in)
        g_output_stream_close (in, NULL, NULL);
    Drain err = { boxlite_execution_get_stderr (execution), run->err, NULL };
    Drain out = { boxlite_execution_get_stdout (execution), run->out, NULL };
    GThread *err_thread = err.stream ? g_thread_new ("e2b-stderr", drain, &err) : NULL;
    if (out.stream)
        drain (&out);
    if (err_thread)
        g_thread_join (err_thread);
    g_clear_error (&out.error);
    g_clear_error (&err.error);
    if (!boxlite_execution_wait (execution, NULL, error))
        return NULL;
    run->exited = boxlite_execution_get_term_signal (execution) == 0;
    run->exit_code = run->exited ? boxlite_execution_get_exit_code (execution)
                                 : 128 + boxlite_execution_get_term_signal (execution);
    return g_steal_pointer (&run);
}

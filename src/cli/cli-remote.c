/* cli-remote.c: `boxlite --host URL COMMAND`: the commands that drive a
 * `boxlite serve` elsewhere over its API v1: ps, rm, images, pull, exec and
 * run (a command's streams over the attach WebSocket, its exit status as
 * ours). The token comes from --token-file or $BOXLITE_TOKEN. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <gio/gunixinputstream.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

typedef struct {
    SoupSession *session;
    char *base; /* without a trailing '/' */
    char *auth;
} Remote;

/* The answer's JSON (NULL for an empty body), or NULL with @error set from
 * the error envelope for a status of 400 or more. */
static JsonNode *
remote_call (Remote *r, const char *method, const char *path, const char *json, GError **error)
{
    g_autofree char *url = g_strconcat (r->base, path, NULL);
    g_autoptr (SoupMessage) msg = soup_message_new (method, url);

    if (!msg) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad URL %s", url);
        return NULL;
    }
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", r->auth);
    if (json) {
        g_autoptr (GBytes) body = g_bytes_new (json, strlen (json));
        soup_message_set_request_body_from_bytes (msg, "application/json", body);
    }
    g_autoptr (GBytes) body = soup_session_send_and_read (r->session, msg, NULL, error);
    if (!body)
        return NULL;
    gsize len = g_bytes_get_size (body);
    g_autofree char *text = len ? g_strndup (g_bytes_get_data (body, NULL), len) : NULL;
    JsonNode *node = text ? json_from_string (text, NULL) : NULL;
    guint status = soup_message_get_status (msg);
    if (status >= 400) {
        JsonObject *err = node && JSON_NODE_HOLDS_OBJECT (node)
                              ? json_object_get_object_member (json_node_get_object (node), "error")
                              : NULL;
        g_set_error (error, BOXLITE_ERROR,
                     status == 404 ? BOXLITE_ERROR_NOT_FOUND : BOXLITE_ERROR_FAILED, "%s",
                     err ? json_object_get_string_member_with_default (err, "message", "?")
                         : soup_status_get_phrase (status));
        g_clear_pointer (&node, json_node_unref);
        return NULL;
    }
    return node ? node : json_node_new (JSON_NODE_NULL);
}

static char *
escape_path (const char *segment)
{
    return g_uri_escape_string (segment, NULL, FALSE);
}

static int
remote_ps (Remote *r, char **args)
{
    g_autoptr (GError) error = NULL;
    gboolean all = args[0] && (g_str_equal (args[0], "-a") || g_str_equal (args[0], "--all"));
    g_autoptr (JsonNode) node = remote_call (r, "GET", "/v1/boxes?pageSize=1000", NULL, &error);

    if (!node)
        return cli_fail (error);
    JsonArray *boxes = json_object_get_array_member (json_node_get_object (node), "boxes");
    printf ("%-14s %-20s %-12s %s\n", "BOX ID", "NAME", "STATUS", "IMAGE");
    for (guint i = 0; i < json_array_get_length (boxes); i++) {
        JsonObject *box = json_array_get_object_element (boxes, i);
        const char *status = json_object_get_string_member (box, "status");
        if (!all && !g_str_equal (status, "running"))
            continue;
        printf ("%-14.12s %-20s %-12s %s\n", json_object_get_string_member (box, "box_id"),
                json_object_get_string_member (box, "name"), status,
                json_object_get_string_member (box, "image"));
    }
    return 0;
}

static int
remote_rm (Remote *r, char **args)
{
    gboolean force = FALSE;
    int status = 0;

    for (guint i = 0; args[i]; i++) {
        if (g_str_equal (args[i], "-f") || g_str_equal (args[i], "--force")) {
            force = TRUE;
            continue;
        }
        g_autoptr (GError) error = NULL;
        g_autofree char *box = escape_path (args[i]);
        g_autofree char *path = g_strdup_printf ("/v1/boxes/%s%s", box, force ? "?force=true" : "");
        g_autoptr (JsonNode) node = remote_call (r, "DELETE", path, NULL, &error);
        if (!node)
            status = cli_fail (error);
        else
            printf ("%s\n", args[i]);
    }
    return status;
}

static int
remote_images (Remote *r)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) node = remote_call (r, "GET", "/v1/images?pageSize=1000", NULL, &error);

    if (!node)
        return cli_fail (error);
    JsonArray *images = json_object_get_array_member (json_node_get_object (node), "images");
    printf ("%-40s %-20s %-19s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "SIZE");
    for (guint i = 0; i < json_array_get_length (images); i++) {
        JsonObject *image = json_array_get_object_element (images, i);
        const char *id = json_object_get_string_member (image, "id");
        printf ("%-40s %-20s %-19.19s %" G_GINT64_FORMAT "\n",
                json_object_get_string_member (image, "repository"),
                json_object_get_string_member (image, "tag"),
                g_str_has_prefix (id, "sha256:") ? id + 7 : id,
                json_object_get_int_member_with_default (image, "size_bytes", 0));
    }
    return 0;
}

static int
remote_pull (Remote *r, char **args)
{
    g_autoptr (GError) error = NULL;

    if (!args[0] || args[1]) {
        cli_error ("pull takes one image reference");
        return CLI_EXIT_FAILURE;
    }
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "reference");
    json_builder_add_string_value (b, args[0]);
    json_builder_end_object (b);
    g_autoptr (JsonNode) request = json_builder_get_root (b);
    g_autofree char *json = json_to_string (request, FALSE);
    g_autoptr (JsonNode) node = remote_call (r, "POST", "/v1/images/pull", json, &error);
    if (!node)
        return cli_fail (error);
    printf ("%s\n", json_object_get_string_member (json_node_get_object (node), "id"));
    return 0;
}

/* An execution attached: its output to ours, our stdin to it. */
typedef struct {
    SoupWebsocketConnection *ws;
    GInputStream *in;
    gint exit_code;
    gboolean closed;
    char buf[16384];
} Session;

static void
on_message (SoupWebsocketConnection *ws, gint type, GBytes *message, Session *s)
{
    gsize len;
    const char *data = g_bytes_get_data (message, &len);

    if (type == SOUP_WEBSOCKET_DATA_BINARY && len >= 1) {
        FILE *out = data[0] == 2 ? stderr : stdout;
        fwrite (data + 1, 1, len - 1, out);
        fflush (out);
        return;
    }
    g_autofree char *text = g_strndup (data, len);
    g_autoptr (JsonNode) node = json_from_string (text, NULL);
    if (!node || !JSON_NODE_HOLDS_OBJECT (node))
        return;
    JsonObject *obj = json_node_get_object (node);
    const char *kind = json_object_get_string_member_with_default (obj, "type", "");
    if (g_str_equal (kind, "exit"))
        s->exit_code = (gint) json_object_get_int_member_with_default (obj, "exit_code", 1);
    else if (g_str_equal (kind, "error"))
        cli_error ("%s", json_object_get_string_member_with_default (obj, "message", "?"));
}

static void
on_closed (SoupWebsocketConnection *ws, Session *s)
{
    s->closed = TRUE;
}

static void read_stdin (Session *s);

static void
stdin_read (GObject *source, GAsyncResult *result, gpointer data)
{
    Session *s = data;
    gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

    if (s->closed)
        return;
    if (n <= 0) {
        soup_websocket_connection_send_text (s->ws, "{\"type\":\"stdin_eof\"}");
        return;
    }
    soup_websocket_connection_send_binary (s->ws, s->buf, (gsize) n);
    read_stdin (s);
}

static void
read_stdin (Session *s)
{
    g_input_stream_read_async (s->in, s->buf, sizeof s->buf, G_PRIORITY_DEFAULT, NULL, stdin_read,
                               s);
}

static void
connected (GObject *source, GAsyncResult *result, gpointer data)
{
    GError **out = data;
    SoupWebsocketConnection *ws =
        soup_session_websocket_connect_finish (SOUP_SESSION (source), result, out);
    g_object_set_data_full (source, "bl-ws", ws, ws ? g_object_unref : NULL);
    g_object_set_data (source, "bl-connected", GINT_TO_POINTER (TRUE));
}

/* Runs @command in @box and returns its exit status (or ours). */
static int
remote_exec_in (Remote *r, const char *box, char **command, gboolean forward_stdin)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "command");
    json_builder_add_string_value (b, command[0]);
    json_builder_set_member_name (b, "args");
    json_builder_begin_array (b);
    for (guint i = 1; command[i]; i++)
        json_builder_add_string_value (b, command[i]);
    json_builder_end_array (b);
    json_builder_end_object (b);
    g_autoptr (JsonNode) request = json_builder_get_root (b);
    g_autofree char *json = json_to_string (request, FALSE);
    g_autofree char *escaped = escape_path (box);
    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s/exec", escaped);
    g_autoptr (JsonNode) node = remote_call (r, "POST", path, json, &error);
    if (!node)
        return cli_fail (error);
    const char *id = json_object_get_string_member (json_node_get_object (node), "execution_id");
    g_autofree char *url =
        g_strdup_printf ("%s/v1/boxes/%s/executions/%s/attach", r->base, escaped, id);
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", r->auth);
    soup_session_websocket_connect_async (r->session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                          connected, &error);
    while (!g_object_get_data (G_OBJECT (r->session), "bl-connected"))
        g_main_context_iteration (NULL, TRUE);
    g_object_set_data (G_OBJECT (r->session), "bl-connected", NULL);
    Session s = { g_object_get_data (G_OBJECT (r->session), "bl-ws"), NULL, 1, FALSE, { 0 } };
    if (!s.ws)
        return cli_fail (error);
    g_signal_connect (s.ws, "message", G_CALLBACK (on_message), &s);
    g_signal_connect (s.ws, "closed", G_CALLBACK (on_closed), &s);
    g_autoptr (GInputStream) in = g_unix_input_stream_new (STDIN_FILENO, FALSE);
    s.in = in;
    if (forward_stdin)
        read_stdin (&s);
    else
        soup_websocket_connection_send_text (s.ws, "{\"type\":\"stdin_eof\"}");
    while (!s.closed)
        g_main_context_iteration (NULL, TRUE);
    g_signal_handlers_disconnect_by_data (s.ws, &s);
    g_object_set_data (G_OBJECT (r->session), "bl-ws", NULL);
    return s.exit_code;
}

/* Splits "OPTIONS… BOX -- COMMAND…" (or without "--"): *@box and
 * *@command point into @args. */
static gboolean
split_command (char **args, gboolean *interactive, char **box, char ***command)
{
    guint i = 0;

    *interactive = FALSE;
    for (; args[i] && args[i][0] == '-' && !g_str_equal (args[i], "--"); i++) {
        if (g_str_equal (args[i], "-i") || g_str_equal (args[i], "--interactive"))
            *interactive = TRUE;
        else
            return FALSE;
    }
    if (!args[i])
        return FALSE;
    *box = args[i++];
    if (args[i] && g_str_equal (args[i], "--"))
        i++;
    *command = args + i;
    return args[i] != NULL;
}

static int
remote_exec (Remote *r, char **args)
{
    gboolean interactive;
    char *box;
    char **command;

    if (!split_command (args, &interactive, &box, &command)) {
        cli_error ("usage: boxlite --host URL exec [-i] BOX [--] COMMAND [ARG…]");
        return CLI_EXIT_FAILURE;
    }
    return remote_exec_in (r, box, command, interactive);
}

/* `run [-i] [--rm] [--name NAME] [IMAGE] -- COMMAND…`: a detached box made
 * and started, the command run in it, the box removed with --rm. */
static int
remote_run (Remote *r, char **args)
{
    gboolean interactive = FALSE, remove = FALSE;
    const char *name = NULL, *image = NULL;
    guint i = 0;

    for (; args[i] && !g_str_equal (args[i], "--"); i++) {
        if (g_str_equal (args[i], "-i"))
            interactive = TRUE;
        else if (g_str_equal (args[i], "--rm"))
            remove = TRUE;
        else if (g_str_equal (args[i], "--name") && args[i + 1])
            name = args[++i];
        else if (args[i][0] != '-' && !image)
            image = args[i];
        else {
            cli_error ("usage: boxlite --host URL run [-i] [--rm] [--name NAME] [IMAGE] -- "
                       "COMMAND [ARG…]");
            return CLI_EXIT_FAILURE;
        }
    }
    char **command = args[i] ? args + i + 1 : NULL;
    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "detach");
    json_builder_add_boolean_value (b, TRUE);
    if (name) {
        json_builder_set_member_name (b, "name");
        json_builder_add_string_value (b, name);
    }
    if (image) {
        json_builder_set_member_name (b, "image");
        json_builder_add_string_value (b, image);
    }
    json_builder_end_object (b);
    g_autoptr (JsonNode) request = json_builder_get_root (b);
    g_autofree char *json = json_to_string (request, FALSE);
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) created = remote_call (r, "POST", "/v1/boxes", json, &error);
    if (!created)
        return cli_fail (error);
    g_autofree char *id =
        g_strdup (json_object_get_string_member (json_node_get_object (created), "box_id"));
    g_autofree char *start = g_strdup_printf ("/v1/boxes/%s/start", id);
    g_autoptr (JsonNode) started = remote_call (r, "POST", start, NULL, &error);
    int status = 0;
    if (!started)
        status = cli_fail (error);
    else if (command && command[0])
        status = remote_exec_in (r, id, command, interactive);
    else
        printf ("%s\n", id);
    if (remove) {
        g_autofree char *path = g_strdup_printf ("/v1/boxes/%s?force=true", id);
        g_autoptr (GError) rm_error = NULL;
        g_autoptr (JsonNode) removed = remote_call (r, "DELETE", path, NULL, &rm_error);
        if (!removed)
            cli_error ("%s", rm_error->message);
    }
    return status;
}

static char *
read_token (const char *token_file, GError **error)
{
    g_autofree char *text = NULL;

    if (!token_file) {
        const char *env = g_getenv ("BOXLITE_TOKEN");
        if (env && *env)
            return g_strstrip (g_strdup (env));
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "--host needs a token: --token-file FILE or $BOXLITE_TOKEN");
        return NULL;
    }
    if (!g_file_get_contents (token_file, &text, NULL, error))
        return NULL;
    return g_strdup (g_strstrip (text));
}

int
cli_remote_main (const char *host, const char *token_file, int argc, char **argv)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *token = read_token (token_file, &error);

    if (!token)
        return cli_fail (error);
    if (!g_str_has_prefix (host, "http://") && !g_str_has_prefix (host, "https://")) {
        cli_error ("--host %s: expected http://HOST:PORT or https://HOST:PORT", host);
        return CLI_EXIT_FAILURE;
    }
    Remote r = { soup_session_new (), g_strdup (host), g_strdup_printf ("Bearer %s", token) };
    gsize len = strlen (r.base);
    while (len && r.base[len - 1] == '/')
        r.base[--len] = '\0';
    const char *command = argv[0];
    int status;
    if (g_str_equal (command, "ps"))
        status = remote_ps (&r, argv + 1);
    else if (g_str_equal (command, "rm"))
        status = remote_rm (&r, argv + 1);
    else if (g_str_equal (command, "images"))
        status = remote_images (&r);
    else if (g_str_equal (command, "pull"))
        status = remote_pull (&r, argv + 1);
    else if (g_str_equal (command, "exec"))
        status = remote_exec (&r, argv + 1);
    else if (g_str_equal (command, "run"))
        status = remote_run (&r, argv + 1);
    else {
        cli_error ("with --host, the commands are ps, rm, images, pull, exec and run");
        status = CLI_EXIT_FAILURE;
    }
    g_object_unref (r.session);
    g_free (r.base);
    g_free (r.auth);
    return status;
}

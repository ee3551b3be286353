/* cli-remote.c: `boxlite --host URL COMMAND`: the commands that drive a
 * `boxlite serve` elsewhere over its API v1: ps, inspect, start, stop, rm,
 * images, pull and run here, exec (cli-remote-exec.c) and cp
 * (cli-remote-cp.c). The token comes from --token-file or $BOXLITE_TOKEN. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <stdio.h>
#include <string.h>

#include "cli-remote.h"

/**
 * cli_remote_message:
 * @r: the server
 * @method: the HTTP method
 * @path: below the server's URL, from "/v1"
 * @error: return location for a #GError
 *
 * Returns: (transfer full): a request carrying the token, or %NULL with
 *   @error set for a URL that does not parse
 */
SoupMessage *
cli_remote_message (CliRemote *r, const char *method, const char *path, GError **error)
{
    g_autofree char *url = g_strconcat (r->base, path, NULL);
    SoupMessage *msg = soup_message_new (method, url);

    if (!msg) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "bad URL %s", url);
        return NULL;
    }
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", r->auth);
    return msg;
}

/* A member of @obj holding a value of @type, or NULL: what a server sends
 * is checked before it is used. */
JsonNode *
cli_remote_member (JsonObject *obj, const char *name, GType type)
{
    JsonNode *node = json_object_get_member (obj, name);

    return node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type ? node
                                                                                           : NULL;
}

/**
 * cli_remote_check:
 * @msg: an answered request
 * @body: (nullable): its body, when it was read
 * @error: return location for a #GError
 *
 * Returns: %TRUE for a status below 400, else %FALSE with @error set from
 *   the error envelope (the server's message), or from the status
 */
gboolean
cli_remote_check (SoupMessage *msg, GBytes *body, GError **error)
{
    guint status = soup_message_get_status (msg);

    if (status < 400)
        return TRUE;
    gsize len = body ? g_bytes_get_size (body) : 0;
    g_autofree char *text = len ? g_strndup (g_bytes_get_data (body, NULL), len) : NULL;
    g_autoptr (JsonNode) node = text ? json_from_string (text, NULL) : NULL;
    /* {"error": {"message": "..."}}, checked: the server is not trusted. */
    JsonNode *err = node && JSON_NODE_HOLDS_OBJECT (node)
                        ? json_object_get_member (json_node_get_object (node), "error")
                        : NULL;
    JsonNode *message =
        err && JSON_NODE_HOLDS_OBJECT (err)
            ? cli_remote_member (json_node_get_object (err), "message", G_TYPE_STRING)
            : NULL;
    g_set_error (error, BOXLITE_ERROR,
                 status == 404 ? BOXLITE_ERROR_NOT_FOUND : BOXLITE_ERROR_FAILED, "%s",
                 message ? json_node_get_string (message) : soup_status_get_phrase (status));
    return FALSE;
}

/* The answer's JSON (NULL for an empty body), or NULL with @error set from
 * the error envelope for a status of 400 or more. */
JsonNode *
cli_remote_call (CliRemote *r, const char *method, const char *path, const char *json,
                 GError **error)
{
    g_autoptr (SoupMessage) msg = cli_remote_message (r, method, path, error);

    if (!msg)
        return NULL;
    if (json) {
        g_autoptr (GBytes) body = g_bytes_new (json, strlen (json));
        soup_message_set_request_body_from_bytes (msg, "application/json", body);
    }
    g_autoptr (GBytes) body = soup_session_send_and_read (r->session, msg, NULL, error);
    if (!body || !cli_remote_check (msg, body, error))
        return NULL;
    gsize len = g_bytes_get_size (body);
    g_autofree char *text = len ? g_strndup (g_bytes_get_data (body, NULL), len) : NULL;
    JsonNode *node = text ? json_from_string (text, NULL) : NULL;
    return node ? node : json_node_new (JSON_NODE_NULL);
}

char *
cli_remote_escape (const char *segment)
{
    return g_uri_escape_string (segment, NULL, FALSE);
}

static int
remote_ps (CliRemote *r, char **args)
{
    g_autoptr (GError) error = NULL;
    gboolean all = args[0] && (g_str_equal (args[0], "-a") || g_str_equal (args[0], "--all"));
    g_autoptr (JsonNode) node = cli_remote_call (r, "GET", "/v1/boxes?pageSize=1000", NULL, &error);

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
remote_images (CliRemote *r)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) node =
        cli_remote_call (r, "GET", "/v1/images?pageSize=1000", NULL, &error);

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
remote_pull (CliRemote *r, char **args)
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
    g_autoptr (JsonNode) node = cli_remote_call (r, "POST", "/v1/images/pull", json, &error);
    if (!node)
        return cli_fail (error);
    printf ("%s\n", json_object_get_string_member (json_node_get_object (node), "id"));
    return 0;
}

/* `run [-i] [-t] [--rm] [--name NAME] [IMAGE] -- COMMAND…`: a detached
 * box made and started, the command run in it, the box removed with --rm. */
static int
remote_run (CliRemote *r, char **args)
{
    gboolean interactive = FALSE, tty = FALSE, remove = FALSE;
    const char *name = NULL, *image = NULL;
    guint i = 0;

    for (; args[i] && !g_str_equal (args[i], "--"); i++) {
        if (cli_remote_stream_flags (args[i], &interactive, &tty))
            continue;
        if (g_str_equal (args[i], "--rm"))
            remove = TRUE;
        else if (g_str_equal (args[i], "--name") && args[i + 1])
            name = args[++i];
        else if (args[i][0] != '-' && !image)
            image = args[i];
        else {
            cli_error ("usage: boxlite --host URL run [-i] [-t] [--rm] [--name NAME] [IMAGE] -- "
                       "COMMAND [ARG…]");
            return CLI_EXIT_FAILURE;
        }
    }
    char **command = args[i] ? args + i + 1 : NULL;
    if (tty && command && command[0] && !cli_tty_check_stdin ())
        return CLI_EXIT_FAILURE;
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
    g_autoptr (JsonNode) created = cli_remote_call (r, "POST", "/v1/boxes", json, &error);
    if (!created)
        return cli_fail (error);
    JsonNode *id_node =
        JSON_NODE_HOLDS_OBJECT (created)
            ? cli_remote_member (json_node_get_object (created), "box_id", G_TYPE_STRING)
            : NULL;
    if (!id_node) {
        cli_error ("the server answered no box id");
        return CLI_EXIT_FAILURE;
    }
    const char *id = json_node_get_string (id_node);
    g_autofree char *escaped = cli_remote_escape (id);
    g_autofree char *start = g_strdup_printf ("/v1/boxes/%s/start", escaped);
    g_autoptr (JsonNode) started = cli_remote_call (r, "POST", start, NULL, &error);
    int status = 0;
    if (!started)
        status = cli_fail (error);
    else if (command && command[0])
        status = cli_remote_exec_in (r, id, command, interactive, tty);
    else
        printf ("%s\n", id);
    if (remove) {
        g_autofree char *path = g_strdup_printf ("/v1/boxes/%s?force=true", escaped);
        g_autoptr (GError) rm_error = NULL;
        g_autoptr (JsonNode) removed = cli_remote_call (r, "DELETE", path, NULL, &rm_error);
        if (!removed)
            cli_error ("%s", rm_error->message);
    }
    return status;
}

/* Applies @action to each box of @args as `boxlite inspect|start|stop|rm`
 * do: a failure does not stop the others, and makes the status 125.
 * Returns -1, after a message, for a command line that names no box or an
 * unknown option. */
typedef JsonNode *(*BoxCall) (CliRemote *r, const char *escaped, gboolean force, GError **error);

static int
for_each_box (CliRemote *r, const char *command_name, char **args, gboolean takes_force,
              BoxCall action, JsonArray *results)
{
    gboolean force = FALSE;
    int status = 0;
    guint n = 0;

    for (guint i = 0; args[i]; i++) {
        if (takes_force && (g_str_equal (args[i], "-f") || g_str_equal (args[i], "--force")))
            force = TRUE;
        else if (args[i][0] == '-') {
            cli_error ("%s: unknown option %s", command_name, args[i]);
            return -1;
        }
    }
    for (guint i = 0; args[i]; i++)
        n += args[i][0] != '-';
    if (n == 0) {
        cli_error ("%s needs one or more boxes", command_name);
        return -1;
    }
    for (guint i = 0; args[i]; i++) {
        if (args[i][0] == '-')
            continue;
        g_autoptr (GError) error = NULL;
        g_autofree char *escaped = cli_remote_escape (args[i]);
        g_autoptr (JsonNode) node = action (r, escaped, force, &error);
        if (!node)
            status = cli_fail (error);
        else if (results)
            json_array_add_element (results, g_steal_pointer (&node));
        else {
            printf ("%s\n", args[i]);
            fflush (stdout);
        }
    }
    return status;
}

static JsonNode *
get_box (CliRemote *r, const char *escaped, G_GNUC_UNUSED gboolean force, GError **error)
{
    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s", escaped);
    return cli_remote_call (r, "GET", path, NULL, error);
}

static JsonNode *
start_box (CliRemote *r, const char *escaped, G_GNUC_UNUSED gboolean force, GError **error)
{
    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s/start", escaped);
    return cli_remote_call (r, "POST", path, NULL, error);
}

static JsonNode *
stop_box (CliRemote *r, const char *escaped, gboolean force, GError **error)
{
    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s/stop", escaped);
    return cli_remote_call (r, "POST", path, force ? "{\"force\": true}" : NULL, error);
}

static JsonNode *
remove_box (CliRemote *r, const char *escaped, gboolean force, GError **error)
{
    g_autofree char *path = g_strdup_printf ("/v1/boxes/%s%s", escaped, force ? "?force=true" : "");
    return cli_remote_call (r, "DELETE", path, NULL, error);
}

/* The boxes as the server shows them (GET /v1/boxes/ID), as a JSON array. */
static int
remote_inspect (CliRemote *r, char **args)
{
    g_autoptr (JsonArray) array = json_array_new ();
    int status = for_each_box (r, "inspect", args, FALSE, get_box, array);

    if (status < 0)
        return CLI_EXIT_FAILURE;
    g_autoptr (JsonNode) root = json_node_new (JSON_NODE_ARRAY);
    json_node_set_array (root, array);
    g_autofree char *text = json_to_string (root, TRUE);
    printf ("%s\n", text);
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

/* Runs one of the box commands of for_each_box(). */
static int
each_box (CliRemote *r, const char *command_name, char **args, gboolean takes_force, BoxCall action)
{
    int status = for_each_box (r, command_name, args, takes_force, action, NULL);

    return status < 0 ? CLI_EXIT_FAILURE : status;
}

static int
run_command (CliRemote *r, const char *command, char **args)
{
    if (g_str_equal (command, "ps"))
        return remote_ps (r, args);
    if (g_str_equal (command, "inspect"))
        return remote_inspect (r, args);
    if (g_str_equal (command, "start"))
        return each_box (r, "start", args, FALSE, start_box);
    if (g_str_equal (command, "stop"))
        return each_box (r, "stop", args, TRUE, stop_box);
    if (g_str_equal (command, "rm"))
        return each_box (r, "rm", args, TRUE, remove_box);
    if (g_str_equal (command, "images"))
        return remote_images (r);
    if (g_str_equal (command, "pull"))
        return remote_pull (r, args);
    if (g_str_equal (command, "exec"))
        return cli_remote_exec (r, args);
    if (g_str_equal (command, "run"))
        return remote_run (r, args);
    if (g_str_equal (command, "cp"))
        return cli_remote_cp (r, args);
    cli_error ("with --host, the commands are ps, inspect, start, stop, rm, images, pull, exec, "
               "run and cp");
    return CLI_EXIT_FAILURE;
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
    CliRemote r = { soup_session_new (), g_strdup (host), g_strdup_printf ("Bearer %s", token) };
    gsize len = strlen (r.base);
    while (len && r.base[len - 1] == '/')
        r.base[--len] = '\0';
    int status = run_command (&r, argv[0], argv + 1);
    g_object_unref (r.session);
    g_free (r.base);
    g_free (r.auth);
    return status;
}

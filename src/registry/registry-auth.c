/* registry-auth.c: the WWW-Authenticate challenge and the token dance.
 *
 * A registry that wants a bearer token answers 401 with
 *   WWW-Authenticate: Bearer realm="https://auth.example/token",
 *                     service="registry.example",scope="repository:x:pull"
 * and the client asks the realm for a token (with basic credentials when it
 * has them). The challenge, the realm and the token all come from the
 * network, so each is bounded and checked before it is used; credentials
 * are only ever put in headers, never in a URL or a message.
 */
#define G_LOG_DOMAIN "boxlite-registry"

#include "registry-private.h"
#include "json-file.h"

#include <string.h>

#include <boxlite/boxlite-error.h>

/* Longest realm URL, service or scope, in bytes. */
#define PARAM_MAX 2048
/* Most parameters read from one challenge. */
#define PARAMS_MAX 16

void
bl_challenge_clear (BlChallenge *challenge)
{
    g_clear_pointer (&challenge->realm, g_free);
    g_clear_pointer (&challenge->service, g_free);
    g_clear_pointer (&challenge->scope, g_free);
}

static gboolean
is_tchar (char c)
{
    return g_ascii_isalnum (c) || (c != '\0' && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

static void
skip_spaces (const char *text, gsize len, gsize *pos)
{
    while (*pos < len && (text[*pos] == ' ' || text[*pos] == '\t'))
        (*pos)++;
}

/* Reads a token or a quoted string at *pos into @out (escapes undone).
 * Returns: FALSE on a control byte, a bad escape, an unterminated quote
 * or a value longer than PARAM_MAX. */
static gboolean
read_value (const char *text, gsize len, gsize *pos, GString *out)
{
    if (*pos < len && text[*pos] == '"') {
        for ((*pos)++; *pos < len; (*pos)++) {
            char c = text[*pos];

            if (c == '"') {
                (*pos)++;
                return TRUE;
            }
            if (c == '\\') {
                if (++(*pos) >= len)
                    return FALSE;
                c = text[*pos];
            }
            if ((guchar) c < 0x20 || c == 0x7f || out->len >= PARAM_MAX)
                return FALSE;
            g_string_append_c (out, c);
        }
        return FALSE;
    }
    while (*pos < len && is_tchar (text[*pos])) {
        if (out->len >= PARAM_MAX)
            return FALSE;
        g_string_append_c (out, text[(*pos)++]);
    }
    return out->len > 0;
}

static gboolean
challenge_fail (GError **error, const char *why)
{
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                 "invalid authentication challenge from the registry: %s", why);
    return FALSE;
}

static gboolean
realm_is_url (const char *realm)
{
    g_autoptr (GUri) uri = g_uri_parse (realm, G_URI_FLAGS_NONE, NULL);
    const char *scheme = uri ? g_uri_get_scheme (uri) : NULL;

    return scheme &&
           (g_ascii_strcasecmp (scheme, "https") == 0 ||
            g_ascii_strcasecmp (scheme, "http") == 0) &&
           g_uri_get_host (uri) && *g_uri_get_host (uri) && !g_uri_get_userinfo (uri);
}

/* Stores @value under @name in @out when it is one we use and not yet
 * set; the first of duplicates wins. */
static void
keep_param (BlChallenge *out, const char *name, GString *value)
{
    char **slot = NULL;

    if (g_ascii_strcasecmp (name, "realm") == 0)
        slot = &out->realm;
    else if (g_ascii_strcasecmp (name, "service") == 0)
        slot = &out->service;
    else if (g_ascii_strcasecmp (name, "scope") == 0)
        slot = &out->scope;
    if (slot && !*slot)
        *slot = g_strndup (value->str, value->len);
}

/* Reads the name=value list after the scheme, up to the end or the next
 * challenge (a token not followed by '='). */
static gboolean
read_params (const char *text, gsize len, gsize pos, BlChallenge *out, GError **error)
{
    for (guint n = 0; n < PARAMS_MAX; n++) {
        g_autoptr (GString) name = g_string_new (NULL);
        g_autoptr (GString) value = g_string_new (NULL);

        skip_spaces (text, len, &pos);
        while (pos < len && text[pos] == ',') {
            pos++;
            skip_spaces (text, len, &pos);
        }
        if (pos >= len)
            return TRUE;
        if (!read_value (text, len, &pos, name) || text[pos - 1] == '"')
            return challenge_fail (error, "a parameter has no valid name");
        skip_spaces (text, len, &pos);
        if (pos >= len || text[pos] != '=')
            return TRUE; /* the next challenge starts here */
        pos++;
        skip_spaces (text, len, &pos);
        if (!read_value (text, len, &pos, value))
            return challenge_fail (error, "a parameter value is malformed or too long");
        keep_param (out, name->str, value);
        skip_spaces (text, len, &pos);
        if (pos < len && text[pos] != ',')
            return challenge_fail (error, "parameters are not separated by commas");
    }
    return challenge_fail (error, "too many parameters");
}

gboolean
bl_challenge_parse (const char *text, gsize len, BlChallenge *out, GError **error)
{
    g_autoptr (GString) scheme = g_string_new (NULL);
    BlChallenge parsed = { 0 };
    gsize pos = 0;

    memset (out, 0, sizeof *out);
    if (len > BL_REGISTRY_CHALLENGE_MAX)
        return challenge_fail (error, "too long");
    skip_spaces (text, len, &pos);
    if (!read_value (text, len, &pos, scheme) || text[pos - 1] == '"')
        return challenge_fail (error, "no scheme");
    if (g_ascii_strcasecmp (scheme->str, "bearer") == 0)
        parsed.scheme = BL_CHALLENGE_BEARER;
    else if (g_ascii_strcasecmp (scheme->str, "basic") == 0)
        parsed.scheme = BL_CHALLENGE_BASIC;
    else
        return challenge_fail (error, "unsupported scheme (only Basic and Bearer)");
    if (pos < len && text[pos] != ' ' && text[pos] != '\t')
        return challenge_fail (error, "no space after the scheme");
    if (!read_params (text, len, pos, &parsed, error)) {
        bl_challenge_clear (&parsed);
        return FALSE;
    }
    if (parsed.scheme == BL_CHALLENGE_BEARER && (!parsed.realm || !realm_is_url (parsed.realm))) {
        bl_challenge_clear (&parsed);
        return challenge_fail (error, "the Bearer realm is not an http(s) URL");
    }
    *out = parsed;
    return TRUE;
}

static gboolean
token_is_valid (const char *token)
{
    gsize n = strlen (token);

    if (n == 0 || n > BL_REGISTRY_TOKEN_MAX)
        return FALSE;
    for (gsize i = 0; i < n; i++)
        if (token[i] <= 0x20 || token[i] >= 0x7f)
            return FALSE;
    return TRUE;
}

char *
bl_token_response_parse (const char *body, gsize len, GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonObject *object;
    const char *token = NULL;

    if (len == 0 || len > BL_REGISTRY_TOKEN_BODY_MAX || !bl_json_load (parser, body, len, NULL) ||
        !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
        g_set_error_literal (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                             "the token service answered something that is not a JSON object");
        return NULL;
    }
    object = json_node_get_object (json_parser_get_root (parser));
    for (guint i = 0; i < 2 && !token; i++) {
        JsonNode *node = json_object_get_member (object, i == 0 ? "token" : "access_token");

        if (node && JSON_NODE_HOLDS_VALUE (node) &&
            json_node_get_value_type (node) == G_TYPE_STRING)
            token = json_node_get_string (node);
    }
    if (!token || !token_is_valid (token)) {
        g_set_error_literal (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                             "the token service gave no usable token");
        return NULL;
    }
    return g_strdup (token);
}

/* registry-entry.c: registry entries as options and the config file hold
 * them, and the list a runtime uses.
 *
 * Entry texts come from users and files; messages about them name the
 * field that is wrong but never repeat a password or a token.
 */
#define G_LOG_DOMAIN "boxlite-registry"

#include "registry-private.h"
#include "json-file.h"

#include <errno.h>
#include <string.h>

#include <boxlite/boxlite-error.h>

/* Longest entry text, and config file, in bytes. */
#define ENTRY_TEXT_MAX (64 * 1024)
#define CONFIG_FILE_MAX (1024 * 1024)
/* Longest user name or secret, in bytes. */
#define SECRET_MAX 16384
/* Most token service hosts an entry may name. */
#define TOKEN_HOSTS_MAX 16u

void
bl_registry_entry_free (BlRegistryEntry *entry)
{
    if (!entry)
        return;
    g_free (entry->host);
    g_free (entry->username);
    if (entry->password)
        memset (entry->password, 0, strlen (entry->password));
    g_free (entry->password);
    if (entry->token)
        memset (entry->token, 0, strlen (entry->token));
    g_free (entry->token);
    g_strfreev (entry->token_hosts);
    g_free (entry);
}

static BlRegistryEntry *entry_fail (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static BlRegistryEntry *
entry_fail (GError **error, const char *format, ...)
{
    va_list args;
    g_autofree char *message = NULL;

    va_start (args, format);
    message = g_strdup_vprintf (format, args);
    va_end (args);
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT, "invalid registry entry: %s",
                 message);
    return NULL;
}

/* Reads the optional string member @name of @object into @out.
 * Returns: FALSE when it is there but not a string (or too long). */
static gboolean
get_string (JsonObject *object, const char *name, char **out)
{
    JsonNode *node = json_object_get_member (object, name);

    if (!node || JSON_NODE_HOLDS_NULL (node))
        return TRUE;
    if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING ||
        strlen (json_node_get_string (node)) > SECRET_MAX)
        return FALSE;
    *out = g_strdup (json_node_get_string (node));
    return TRUE;
}

static gboolean
get_bool (JsonObject *object, const char *name, gboolean *out)
{
    JsonNode *node = json_object_get_member (object, name);

    if (!node)
        return TRUE;
    if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
        return FALSE;
    *out = json_node_get_boolean (node);
    return TRUE;
}

static gboolean
secret_is_valid (const char *text)
{
    for (const char *p = text; *p; p++)
        if ((guchar) *p < 0x20 || *p == 0x7f)
            return FALSE;
    return TRUE;
}

/* "token_hosts": registry host names (with a port where needed). */
static gboolean
parse_token_hosts (BlRegistryEntry *entry, JsonObject *auth, GError **error)
{
    JsonNode *node = json_object_get_member (auth, "token_hosts");

    if (!node || JSON_NODE_HOLDS_NULL (node))
        return TRUE;
    JsonArray *array = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
    if (!array || json_array_get_length (array) > TOKEN_HOSTS_MAX) {
        entry_fail (error, "\"token_hosts\" of %s is not an array of at most %u host names",
                    entry->host, TOKEN_HOSTS_MAX);
        return FALSE;
    }
    g_autoptr (GStrvBuilder) hosts = g_strv_builder_new ();
    for (guint i = 0; i < json_array_get_length (array); i++) {
        JsonNode *item = json_array_get_element (array, i);
        g_autoptr (GError) local = NULL;
        g_autofree char *host = NULL;
        if (JSON_NODE_HOLDS_VALUE (item) && json_node_get_value_type (item) == G_TYPE_STRING)
            host = bl_image_ref_normalize_registry (json_node_get_string (item), &local);
        if (!host) {
            entry_fail (error, "\"token_hosts\" of %s holds something that is not a host name",
                        entry->host);
            return FALSE;
        }
        g_strv_builder_add (hosts, host);
    }
    entry->token_hosts = g_strv_builder_end (hosts);
    return TRUE;
}

static BlRegistryEntry *
parse_auth (BlRegistryEntry *entry, JsonNode *node, GError **error)
{
    g_autofree char *kind = NULL;
    JsonObject *auth;

    if (!node || JSON_NODE_HOLDS_NULL (node))
        return entry;
    if (!JSON_NODE_HOLDS_OBJECT (node))
        return entry_fail (error, "\"auth\" of %s is not an object", entry->host);
    auth = json_node_get_object (node);
    if (!get_string (auth, "kind", &kind) || !get_string (auth, "username", &entry->username) ||
        !get_string (auth, "password", &entry->password) ||
        !get_string (auth, "token", &entry->token))
        return entry_fail (error, "a member of \"auth\" of %s is not a string or is too long",
                           entry->host);
    if (!parse_token_hosts (entry, auth, error))
        return NULL;
    if (!kind || strcmp (kind, "anonymous") == 0)
        entry->auth = BL_REGISTRY_AUTH_ANONYMOUS;
    else if (strcmp (kind, "basic") == 0)
        entry->auth = BL_REGISTRY_AUTH_BASIC;
    else if (strcmp (kind, "bearer") == 0)
        entry->auth = BL_REGISTRY_AUTH_BEARER;
    else
        return entry_fail (error, "\"auth\" kind of %s is not anonymous, basic or bearer",
                           entry->host);
    if (entry->auth == BL_REGISTRY_AUTH_BASIC &&
        (!entry->username || !*entry->username || !entry->password ||
         strchr (entry->username, ':')))
        return entry_fail (error, "basic auth for %s needs a username (without ':') and a password",
                           entry->host);
    if (entry->auth == BL_REGISTRY_AUTH_BEARER && (!entry->token || !*entry->token))
        return entry_fail (error, "bearer auth for %s needs a token", entry->host);
    if ((entry->username && !secret_is_valid (entry->username)) ||
        (entry->password && !secret_is_valid (entry->password)) ||
        (entry->token && !secret_is_valid (entry->token)))
        return entry_fail (error, "credentials for %s hold control characters", entry->host);
    return entry;
}

static BlRegistryEntry *
parse_transport (BlRegistryEntry *entry, JsonObject *object, GError **error)
{
    g_autofree char *transport = NULL;

    if (!get_string (object, "transport", &transport))
        return entry_fail (error, "\"transport\" of %s is not a string", entry->host);
    if (!transport)
        entry->transport = BL_REGISTRY_TRANSPORT_DEFAULT;
    else if (strcmp (transport, "https") == 0)
        entry->transport = BL_REGISTRY_TRANSPORT_HTTPS;
    else if (strcmp (transport, "http") == 0)
        entry->transport = BL_REGISTRY_TRANSPORT_HTTP;
    else
        return entry_fail (error, "\"transport\" of %s is not \"https\" or \"http\"", entry->host);
    return entry;
}

static BlRegistryEntry *
parse_object (JsonObject *object, GError **error)
{
    g_autoptr (BlRegistryEntry) entry = g_new0 (BlRegistryEntry, 1);
    g_autofree char *host = NULL;
    g_autoptr (GError) local = NULL;

    if (!get_string (object, "host", &host) || !host)
        return entry_fail (error, "\"host\" is missing or not a string");
    entry->host = bl_image_ref_normalize_registry (host, &local);
    if (!entry->host)
        return entry_fail (error, "%s", local->message);
    if (!get_bool (object, "skip_verify", &entry->skip_verify) ||
        !get_bool (object, "search", &entry->search) ||
        !get_bool (object, "private_redirects", &entry->private_redirects))
        return entry_fail (error,
                           "\"skip_verify\", \"search\" and \"private_redirects\" of %s must be "
                           "booleans",
                           entry->host);
    if (!parse_transport (entry, object, error) ||
        !parse_auth (entry, json_object_get_member (object, "auth"), error))
        return NULL;
    return g_steal_pointer (&entry);
}

BlRegistryEntry *
bl_registry_entry_parse (const char *text, GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (GError) local = NULL;
    gsize len = text ? strnlen (text, ENTRY_TEXT_MAX + 1) : 0;
    const char *start = text;

    if (len == 0 || len > ENTRY_TEXT_MAX)
        return entry_fail (error, "empty or longer than %d bytes", ENTRY_TEXT_MAX);
    while (g_ascii_isspace (*start))
        start++;
    if (*start != '{') {
        BlRegistryEntry *entry;
        char *host = bl_image_ref_normalize_registry (text, &local);

        if (!host)
            return entry_fail (error, "%s", local->message);
        entry = g_new0 (BlRegistryEntry, 1);
        entry->host = host;
        entry->search = TRUE;
        return entry;
    }
    /* The parser's own message may quote the text, secrets included. */
    if (!bl_json_load (parser, text, len, NULL))
        return entry_fail (error, "not valid JSON");
    return parse_object (json_node_get_object (json_parser_get_root (parser)), error);
}

static gboolean
add_entry (GPtrArray *entries, BlRegistryEntry *entry)
{
    for (guint i = 0; i < entries->len; i++) {
        const BlRegistryEntry *other = g_ptr_array_index (entries, i);

        if (strcmp (other->host, entry->host) == 0) {
            bl_registry_entry_free (entry);
            return FALSE;
        }
    }
    g_ptr_array_add (entries, entry);
    return TRUE;
}

static gboolean
load_config (GPtrArray *entries, const char *path, GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autofree char *contents = NULL;
    g_autoptr (GError) local = NULL;
    gsize len = 0;
    JsonArray *array;

    if (!g_file_get_contents (path, &contents, &len, &local)) {
        if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return TRUE;
        g_propagate_error (error, g_steal_pointer (&local));
        return FALSE;
    }
    if (len > CONFIG_FILE_MAX || !bl_json_load (parser, contents, len, NULL) ||
        !JSON_NODE_HOLDS_ARRAY (json_parser_get_root (parser))) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "%s is not a JSON array of registry entries", path);
        return FALSE;
    }
    array = json_node_get_array (json_parser_get_root (parser));
    for (guint i = 0; i < json_array_get_length (array); i++) {
        JsonNode *node = json_array_get_element (array, i);
        BlRegistryEntry *entry = NULL;

        if (JSON_NODE_HOLDS_OBJECT (node))
            entry = parse_object (json_node_get_object (node), &local);
        else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
            entry = bl_registry_entry_parse (json_node_get_string (node), &local);
        else
            entry = entry_fail (&local, "not an object or a host name");
        if (!entry) {
            g_propagate_prefixed_error (error, g_steal_pointer (&local), "%s, entry %u: ", path,
                                        i + 1);
            return FALSE;
        }
        add_entry (entries, entry);
    }
    return TRUE;
}

GPtrArray *
bl_registry_entries_load (const char *home_dir, const char *const *texts, GError **error)
{
    g_autoptr (GPtrArray) entries =
        g_ptr_array_new_with_free_func ((GDestroyNotify) bl_registry_entry_free);
    g_autofree char *config = NULL;

    for (guint i = 0; texts && texts[i]; i++) {
        BlRegistryEntry *entry = bl_registry_entry_parse (texts[i], error);

        if (!entry)
            return NULL;
        add_entry (entries, entry);
    }
    if (home_dir) {
        config = g_build_filename (home_dir, "registries.json", NULL);
        if (!load_config (entries, config, error))
            return NULL;
    }
    return g_steal_pointer (&entries);
}

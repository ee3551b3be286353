/* registry-remote.c: HTTP with one registry, credentials included.
 *
 * Every request to the registry goes through bl_remote_get(), which adds
 * what authorises us (a bearer token, else basic credentials), and on a
 * 401 answers the WWW-Authenticate challenge once: it fetches a token from
 * the challenge's realm, with basic credentials when the entry has them,
 * and retries. Credentials travel only in headers, never in a URL, a log
 * line or an error message.
 */
#define G_LOG_DOMAIN "boxlite-registry"

#include "registry-private.h"

#include "private_addr.h"

#include <string.h>

#include <boxlite/boxlite-error.h>

#define USER_AGENT "boxlite/0.1"
/* Seconds a connection may stall before the request fails. */
#define IO_TIMEOUT_S 60

void
bl_remote_free (BlRemote *remote)
{
    g_free (remote->host);
    g_free (remote->base);
    g_free (remote->repository);
    g_mutex_clear (&remote->lock);
    g_free (remote->token);
    g_free (remote);
}

BlRemote *
bl_remote_new (const BlImageRef *ref, const BlRegistryEntry *entry, GCancellable *cancellable)
{
    BlRemote *remote = g_new0 (BlRemote, 1);
    BlRegistryTransport transport = entry ? entry->transport : BL_REGISTRY_TRANSPORT_DEFAULT;

    remote->host = g_strdup (ref->registry);
    remote->repository = g_strdup (ref->repository);
    remote->plain_http = transport == BL_REGISTRY_TRANSPORT_HTTP ||
                         (transport == BL_REGISTRY_TRANSPORT_DEFAULT &&
                          bl_image_ref_registry_is_loopback (ref->registry));
    /* Docker Hub's API lives on another name than the one images carry. */
    remote->base = g_strdup_printf ("%s://%s", remote->plain_http ? "http" : "https",
                                    strcmp (ref->registry, BL_IMAGE_REF_DEFAULT_REGISTRY) == 0
                                        ? "registry-1.docker.io"
                                        : ref->registry);
    remote->skip_verify = entry && entry->skip_verify;
    remote->private_redirects =
        (entry && entry->private_redirects) || bl_image_ref_registry_is_loopback (ref->registry);
    remote->auth = entry ? entry->auth : BL_REGISTRY_AUTH_ANONYMOUS;
    if (entry) {
        remote->username = entry->username;
        remote->password = entry->password;
        remote->token_hosts = (const char *const *) entry->token_hosts;
        if (entry->auth == BL_REGISTRY_AUTH_BEARER)
            remote->token = g_strdup (entry->token);
    }
    g_mutex_init (&remote->lock);
    remote->cancellable = cancellable;
    return remote;
}

SoupSession *
bl_remote_session_new (void)
{
    return soup_session_new_with_options ("user-agent", USER_AGENT, "timeout", IO_TIMEOUT_S, NULL);
}

static gboolean
accept_any_certificate (SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors,
                        gpointer data)
{
    return TRUE;
}

static char *
basic_header (const char *username, const char *password)
{
    g_autofree char *pair = g_strconcat (username, ":", password, NULL);
    g_autofree char *encoded = g_base64_encode ((const guchar *) pair, strlen (pair));

    memset (pair, 0, strlen (pair));
    return g_strconcat ("Basic ", encoded, NULL);
}

/* Sets the Authorization header the registry gets from us now. */
static void
authorize (BlRemote *remote, SoupMessage *msg)
{
    SoupMessageHeaders *headers = soup_message_get_request_headers (msg);
    g_autofree char *value = NULL;

    g_mutex_lock (&remote->lock);
    if (remote->token)
        value = g_strconcat ("Bearer ", remote->token, NULL);
    g_mutex_unlock (&remote->lock);
    if (!value && remote->auth == BL_REGISTRY_AUTH_BASIC)
        value = basic_header (remote->username, remote->password);
    if (value)
        soup_message_headers_replace (headers, "Authorization", value);
}

/* Where a redirect may not lead: the host's loopback, its own addresses,
 * the private networks it sits in, link-local (cloud metadata) and the
 * like. A registry is the attacker's to answer for, and its redirects
 * would otherwise make the host fetch from its own network. */
static gboolean
address_is_private (GInetAddress *address)
{
    const guint8 *bytes = g_inet_address_to_bytes (address);
    gsize len = g_inet_address_get_native_size (address);

    return bl_net_address_is_private (bytes, len) || bl_net_address_is_host_own (bytes, len);
}

/* A redirect target's connection, checked once it is made and before a
 * byte of the request goes out: the name may resolve anywhere, at any
 * time. A private peer gets the connection closed under libsoup. */
static void
on_network_event (SoupMessage *msg, GSocketClientEvent event, GIOStream *connection,
                  gpointer user_data)
{
    if (event != G_SOCKET_CLIENT_CONNECTED || !G_IS_SOCKET_CONNECTION (connection))
        return;
    g_autoptr (GSocketAddress) peer =
        g_socket_connection_get_remote_address (G_SOCKET_CONNECTION (connection), NULL);
    GInetAddress *address = G_IS_INET_SOCKET_ADDRESS (peer)
                                ? g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (peer))
                                : NULL;
    if (address && !address_is_private (address))
        return;
    g_object_set_data_full (G_OBJECT (msg), "bl-private-peer",
                            address ? g_inet_address_to_string (address) : g_strdup ("?"), g_free);
    g_io_stream_close (connection, NULL, NULL);
}

gboolean
bl_remote_redirect_allowed (BlRemote *remote, GUri *target, GError **error)
{
    const char *host = g_uri_get_host (target);
    g_autoptr (GInetAddress) address = host ? g_inet_address_new_from_string (host) : NULL;

    if (remote->private_redirects || !address || !address_is_private (address))
        return TRUE;
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                 "registry %s redirects to the private address %s; refused (an entry's "
                 "\"private_redirects\" allows it)",
                 remote->host, host);
    return FALSE;
}

static SoupMessage *
message_new (BlRemote *remote, const char *url, GError **error)
{
    SoupMessage *msg = soup_message_new ("GET", url);

    if (!msg) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "registry %s gave an invalid URL",
                     remote->host);
        return NULL;
    }
    soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
    if (remote->skip_verify)
        g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
    return msg;
}

/* Sends @msg. Returns: (transfer full): the body stream, or NULL with
 * the session's error prefixed "cannot reach registry HOST: ". */
static GInputStream *
send_message (BlRemote *remote, SoupSession *session, SoupMessage *msg, GError **error)
{
    g_autoptr (GError) local = NULL;
    GInputStream *stream = soup_session_send (session, msg, remote->cancellable, &local);

    if (stream)
        return stream;
    /* The network's own error (GIO's, or TLS's) tells what went wrong. */
    if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_propagate_error (error, g_steal_pointer (&local));
    else
        g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                    "cannot reach registry %s: ", remote->host);
    return NULL;
}

/* Reads @stream to its end, at most @max bytes.
 * Returns: (transfer full): the bytes, or NULL with @error set (@what
 * names the body in the message). */
GBytes *
bl_remote_read (BlRemote *remote, GInputStream *stream, gsize max, const char *what, GError **error)
{
    g_autoptr (GByteArray) body = g_byte_array_new ();
    guint8 buf[16384];

    for (;;) {
        gssize n = g_input_stream_read (stream, buf, sizeof buf, remote->cancellable, error);

        if (n < 0) {
            g_prefix_error (error, "reading %s from %s: ", what, remote->host);
            return NULL;
        }
        if (n == 0)
            break;
        if (body->len + (gsize) n > max) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "%s from %s is larger than %" G_GSIZE_FORMAT " bytes", what, remote->host,
                         max);
            return NULL;
        }
        g_byte_array_append (body, buf, n);
    }
    return g_byte_array_free_to_bytes (g_steal_pointer (&body));
}

static char *
token_url (const BlChallenge *challenge, const char *scope)
{
    GString *url = g_string_new (challenge->realm);
    char sep = strchr (challenge->realm, '?') ? '&' : '?';

    if (challenge->service) {
        g_string_append_printf (url, "%cservice=", sep);
        g_string_append_uri_escaped (url, challenge->service, NULL, FALSE);
        sep = '&';
    }
    g_string_append_printf (url, "%cscope=", sep);
    g_string_append_uri_escaped (url, scope, NULL, FALSE);
    return g_string_free (url, FALSE);
}

/* Whether the token service at @realm may have our credentials: it must be
 * the registry itself (the name images carry or the one its API answers
 * on), Docker Hub's own token service for Docker Hub, or a host the entry
 * names. A challenge is the registry's word, and a registry that names any
 * host there could otherwise hand our password to it. */
static gboolean
realm_may_have_credentials (BlRemote *remote, const char *realm)
{
    g_autoptr (GUri) uri = g_uri_parse (realm, G_URI_FLAGS_NONE, NULL);
    g_autoptr (GUri) base = g_uri_parse (remote->base, G_URI_FLAGS_NONE, NULL);

    if (!uri || !base || !g_uri_get_host (uri))
        return FALSE;
    g_autofree char *host =
        g_uri_get_port (uri) > 0
            ? g_strdup_printf ("%s:%d", g_uri_get_host (uri), g_uri_get_port (uri))
            : g_ascii_strdown (g_uri_get_host (uri), -1);
    g_autofree char *api_host =
        g_uri_get_port (base) > 0
            ? g_strdup_printf ("%s:%d", g_uri_get_host (base), g_uri_get_port (base))
            : g_strdup (g_uri_get_host (base));
    if (g_ascii_strcasecmp (host, remote->host) == 0 || g_ascii_strcasecmp (host, api_host) == 0)
        return TRUE;
    if (g_str_equal (remote->host, BL_IMAGE_REF_DEFAULT_REGISTRY) &&
        g_ascii_strcasecmp (host, "auth.docker.io") == 0)
        return TRUE;
    for (guint i = 0; remote->token_hosts && remote->token_hosts[i]; i++)
        if (g_ascii_strcasecmp (host, remote->token_hosts[i]) == 0)
            return TRUE;
    return FALSE;
}

/* Asks the challenge's realm for a token to pull @remote's repository and
 * keeps it for the next requests. */
static gboolean
fetch_token (BlRemote *remote, SoupSession *session, const BlChallenge *challenge, GError **error)
{
    g_autofree char *scope = g_strdup_printf ("repository:%s:pull", remote->repository);
    g_autofree char *url = token_url (challenge, scope);
    g_autoptr (SoupMessage) msg = message_new (remote, url, error);
    g_autoptr (GInputStream) stream = NULL;
    g_autoptr (GBytes) body = NULL;
    gboolean with_credentials = remote->auth == BL_REGISTRY_AUTH_BASIC;
    char *token;

    if (!msg)
        return FALSE;
    if (with_credentials) {
        g_autofree char *value = basic_header (remote->username, remote->password);

        if (!realm_may_have_credentials (remote, challenge->realm)) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "registry %s sends its credentials to a token service on another host; "
                         "refused (an entry's \"token_hosts\" names the hosts allowed)",
                         remote->host);
            return FALSE;
        }
        /* A password may travel in clear only where the registry itself does. */
        if (g_str_has_prefix (url, "http:") && !remote->plain_http) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "registry %s asks for credentials over plain http; refused", remote->host);
            return FALSE;
        }
        soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
                                      value);
    }
    stream = send_message (remote, session, msg, error);
    if (!stream)
        return FALSE;
    if (soup_message_get_status (msg) != SOUP_STATUS_OK) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "the token service of registry %s refused %s (HTTP %u)", remote->host,
                     with_credentials ? "the credentials" : "an anonymous token",
                     soup_message_get_status (msg));
        return FALSE;
    }
    body = bl_remote_read (remote, stream, BL_REGISTRY_TOKEN_BODY_MAX, "a token", error);
    if (!body)
        return FALSE;
    token = bl_token_response_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), error);
    if (!token) {
        g_prefix_error (error, "registry %s: ", remote->host);
        return FALSE;
    }
    g_mutex_lock (&remote->lock);
    g_free (remote->token);
    remote->token = token;
    g_mutex_unlock (&remote->lock);
    return TRUE;
}

/* Answers a 401 on @msg: fetches a bearer token when the challenge asks
 * for one and we have not just got one. */
static gboolean
answer_challenge (BlRemote *remote, SoupSession *session, SoupMessage *msg, GError **error)
{
    const char *header =
        soup_message_headers_get_one (soup_message_get_response_headers (msg), "WWW-Authenticate");
    g_auto (BlChallenge) challenge = { 0 };

    if (!header) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "registry %s requires authentication but sent no challenge", remote->host);
        return FALSE;
    }
    if (!bl_challenge_parse (header, strlen (header), &challenge, error)) {
        g_prefix_error (error, "registry %s: ", remote->host);
        return FALSE;
    }
    if (challenge.scheme == BL_CHALLENGE_BASIC || remote->auth == BL_REGISTRY_AUTH_BEARER) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "registry %s %s", remote->host,
                     remote->auth == BL_REGISTRY_AUTH_ANONYMOUS
                         ? "requires credentials, and none are configured for it"
                         : "refused the configured credentials");
        return FALSE;
    }
    return fetch_token (remote, session, &challenge, error);
}

GInputStream *
bl_remote_get (BlRemote *remote, SoupSession *session, const char *url, const char *accept,
               goffset range_from, gboolean with_auth, SoupMessage **out_msg, GError **error)
{
    for (guint attempt = 0;; attempt++) {
        g_autoptr (SoupMessage) msg = message_new (remote, url, error);
        g_autoptr (GInputStream) stream = NULL;
        SoupMessageHeaders *headers;

        if (!msg)
            return NULL;
        headers = soup_message_get_request_headers (msg);
        if (accept)
            soup_message_headers_replace (headers, "Accept", accept);
        if (range_from > 0)
            soup_message_headers_set_range (headers, range_from, -1);
        if (with_auth)
            authorize (remote, msg);
        else if (!remote->private_redirects)
            g_signal_connect (msg, "network-event", G_CALLBACK (on_network_event), NULL);
        stream = send_message (remote, session, msg, error);
        const char *private_peer = g_object_get_data (G_OBJECT (msg), "bl-private-peer");
        if (private_peer) {
            g_clear_error (error);
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "registry %s redirects to the private address %s; refused (an "
                         "entry's \"private_redirects\" allows it)",
                         remote->host, private_peer);
            return NULL;
        }
        if (!stream)
            return NULL;
        if (soup_message_get_status (msg) != SOUP_STATUS_UNAUTHORIZED) {
            *out_msg = g_steal_pointer (&msg);
            return g_steal_pointer (&stream);
        }
        if (!with_auth || attempt > 0) {
            /* Anonymous and refused even with a fresh token is how Docker
             * Hub says a repository does not exist (or is private). */
            gboolean anonymous = with_auth && remote->auth == BL_REGISTRY_AUTH_ANONYMOUS;

            g_set_error (error, BOXLITE_ERROR,
                         anonymous ? BOXLITE_ERROR_NOT_FOUND : BOXLITE_ERROR_IMAGE,
                         "registry %s refused access to %s%s", remote->host, remote->repository,
                         anonymous ? " (it may not exist, or need credentials)"
                                   : " with the configured credentials");
            return NULL;
        }
        if (!answer_challenge (remote, session, msg, error))
            return NULL;
    }
}

gboolean
bl_remote_probe (BlRemote *remote, SoupSession *session, GError **error)
{
    g_autofree char *url = g_strconcat (remote->base, "/v2/", NULL);
    g_autoptr (SoupMessage) msg = NULL;
    g_autoptr (GInputStream) stream =
        bl_remote_get (remote, session, url, NULL, 0, TRUE, &msg, error);
    guint status;

    if (!stream)
        return FALSE;
    status = soup_message_get_status (msg);
    /* Some registries answer 404 for /v2/ but serve images all the same. */
    if (status != SOUP_STATUS_OK && status != SOUP_STATUS_NOT_FOUND) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "registry %s does not speak the OCI distribution API (HTTP %u on /v2/)",
                     remote->host, status);
        return FALSE;
    }
    return TRUE;
}

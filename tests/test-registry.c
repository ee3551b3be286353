/* test-registry.c: the registry client against a real docker-registry on
 * loopback, filled by skopeo from layouts make-layout.py writes.
 *
 * What a real registry cannot do — serve a tampered blob, demand a token
 * or a password, cut a download short — a small proxy in this process
 * does in front of it. Also: entry parsing, the WWW-Authenticate and
 * manifest parsers, and a replay of mutated input through them.
 *
 *   test-registry --pull-helper REF BLOBS_DIR   pulls once and prints the
 *   manifest digest (the concurrent-pull test runs two of these).
 */
#include <fcntl.h>
#include <libsoup/soup.h>
#include <string.h>
#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <boxlite/boxlite.h>
#include "registry-fixture.h"
#include "registry-private.h"

#define TOKEN "tok-s3cret-4711"
#define USERNAME "tester"
#define PASSWORD "pw-s3cret-0815"
#define SERVICE "test-registry"

/* Shared by every test: one registry, images pushed once. */
static BlTestRegistry *registry;
static char *work_dir;
static char *simple_digest;
static char *simple_layout;
static char *mp_index_digest;
static char *big_digest;
static const char *self_path;

/* ── a proxy in front of the registry ─────────────────────────────────── */

typedef enum {
    PROXY_OPEN,
    PROXY_BEARER,
    PROXY_BASIC,
} ProxyAuth;

typedef struct {
    ProxyAuth auth;
    gboolean token_needs_basic;
    gboolean token_useless;     /* hand out tokens the proxy then refuses */
    char *tamper_digest;        /* serve this blob with one byte flipped... */
    gboolean tamper_grows;      /* ...or with bytes added */
    const char *huge_manifests; /* "length" or "chunked": 5 MiB manifests */
    char *truncate_digest;      /* serve the first GET of this blob cut in half */
    guint blob_delay_ms;
    guint token_delay_ms; /* hold token requests back this long */
    char *stall_digest;   /* send half of this blob, then nothing more */
    char *redirect_blobs; /* answer blob GETs with a redirect to this host */
    char *realm_host;     /* the token service's host in challenges, if not ours */

    GThread *thread;
    GMainContext *context;
    GMainLoop *loop;
    SoupSession *upstream;
    char *host;
    GMutex lock;
    GCond ready;
    GHashTable *blob_gets; /* digest -> count */
    guint token_requests;
    guint range_requests;
    guint truncated;
    guint with_authorization; /* requests that carried credentials */
    gboolean stopping;
} Proxy;

static char *
basic_value (const char *user, const char *password)
{
    g_autofree char *pair = g_strconcat (user, ":", password, NULL);
    g_autofree char *encoded = g_base64_encode ((const guchar *) pair, strlen (pair));

    return g_strconcat ("Basic ", encoded, NULL);
}

static void
reply_401 (Proxy *proxy, SoupServerMessage *msg, const char *challenge)
{
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                  "WWW-Authenticate", challenge);
    soup_server_message_set_status (msg, SOUP_STATUS_UNAUTHORIZED, NULL);
    soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC,
                                      "{\"errors\":[]}", 13);
}

/* Holds a request back for @ms, or until the proxy stops. */
static void
proxy_wait (Proxy *proxy, guint ms)
{
    gint64 end = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;

    g_mutex_lock (&proxy->lock);
    while (!proxy->stopping && g_cond_wait_until (&proxy->ready, &proxy->lock, end))
        ;
    g_mutex_unlock (&proxy->lock);
}

static void
serve_token (Proxy *proxy, SoupServerMessage *msg, const char *authz, GHashTable *query)
{
    g_autofree char *basic = basic_value (USERNAME, PASSWORD);
    const char *scope = query ? g_hash_table_lookup (query, "scope") : NULL;
    const char *service = query ? g_hash_table_lookup (query, "service") : NULL;
    g_autofree char *body = NULL;

    g_mutex_lock (&proxy->lock);
    proxy->token_requests++;
    g_mutex_unlock (&proxy->lock);
    if (proxy->token_delay_ms)
        proxy_wait (proxy, proxy->token_delay_ms);
    if ((proxy->token_needs_basic && g_strcmp0 (authz, basic) != 0) ||
        g_strcmp0 (service, SERVICE) != 0 || !scope || !g_str_has_suffix (scope, ":pull")) {
        soup_server_message_set_status (msg, SOUP_STATUS_UNAUTHORIZED, NULL);
        return;
    }
    body = g_strdup_printf ("{\"token\":\"%s\"}", proxy->token_useless ? "useless" : TOKEN);
    soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
    soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY, body,
                                      strlen (body));
}

static gboolean
authorized (Proxy *proxy, SoupServerMessage *msg, const char *path, const char *authz)
{
    g_autofree char *basic = basic_value (USERNAME, PASSWORD);
    g_autofree char *challenge = NULL;

    switch (proxy->auth) {
    case PROXY_OPEN:
        return TRUE;
    case PROXY_BEARER:
        /* Like Docker Hub: any token opens /v2/, only a good one a repository. */
        if (g_strcmp0 (authz, "Bearer " TOKEN) == 0 ||
            (strcmp (path, "/v2/") == 0 && authz && g_str_has_prefix (authz, "Bearer ")))
            return TRUE;
        challenge = g_strdup_printf ("Bearer realm=\"http://%s/token\",service=\"" SERVICE
                                     "\",scope=\"repository:any:pull\"",
                                     proxy->realm_host ? proxy->realm_host : proxy->host);
        reply_401 (proxy, msg, challenge);
        return FALSE;
    case PROXY_BASIC:
        if (g_strcmp0 (authz, basic) == 0)
            return TRUE;
        reply_401 (proxy, msg, "Basic realm=\"test\"");
        return FALSE;
    }
    return FALSE;
}

/* Counts a blob GET and says how to mangle it. */
static const char *
note_blob (Proxy *proxy, const char *path, gboolean ranged, gboolean *truncate)
{
    const char *digest = strstr (path, "/blobs/");
    guint count;

    if (!digest)
        return NULL;
    digest += strlen ("/blobs/");
    g_mutex_lock (&proxy->lock);
    count = GPOINTER_TO_UINT (g_hash_table_lookup (proxy->blob_gets, digest)) + 1;
    g_hash_table_insert (proxy->blob_gets, g_strdup (digest), GUINT_TO_POINTER (count));
    proxy->range_requests += ranged;
    *truncate = g_strcmp0 (digest, proxy->truncate_digest) == 0 && proxy->truncated++ == 0;
    g_mutex_unlock (&proxy->lock);
    if (proxy->blob_delay_ms)
        proxy_wait (proxy, proxy->blob_delay_ms);
    return digest;
}

static void
forward (Proxy *proxy, SoupServerMessage *msg, const char *path)
{
    SoupMessageHeaders *in = soup_server_message_get_request_headers (msg);
    SoupMessageHeaders *out = soup_server_message_get_response_headers (msg);
    g_autofree char *url = g_strdup_printf ("http://%s%s", registry->host, path);
    g_autoptr (SoupMessage) up = soup_message_new ("GET", url);
    g_autoptr (GBytes) body = NULL;
    const char *headers[] = { "Content-Type", "Docker-Content-Digest", "Content-Range" };
    g_autofree char *type = NULL;
    gboolean truncate = FALSE;
    const char *digest;
    gsize len = 0;
    g_autofree char *data = NULL;

    for (guint i = 0; i < 2; i++) {
        const char *name = i == 0 ? "Accept" : "Range";
        const char *value = soup_message_headers_get_one (in, name);

        if (value)
            soup_message_headers_replace (soup_message_get_request_headers (up), name, value);
    }
    digest = note_blob (proxy, path, soup_message_headers_get_one (in, "Range") != NULL, &truncate);
    body = soup_session_send_and_read (proxy->upstream, up, NULL, NULL);
    if (!body) {
        soup_server_message_set_status (msg, SOUP_STATUS_BAD_GATEWAY, NULL);
        return;
    }
    data = g_bytes_unref_to_data (g_steal_pointer (&body), &len);
    if (digest && g_strcmp0 (digest, proxy->tamper_digest) == 0 && len > 0) {
        if (proxy->tamper_grows) {
            data = g_realloc (data, len + 4096);
            memset (data + len, 'x', 4096);
            len += 4096;
        } else {
            data[len / 2] ^= 0x5a;
        }
    }
    if (truncate)
        len /= 2;
    if (digest && g_strcmp0 (digest, proxy->stall_digest) == 0 && len > 1) {
        /* The length of the whole, the first half of the bytes, and then
         * silence: a registry that stalls in the middle of a blob. */
        soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
        soup_message_headers_set_encoding (out, SOUP_ENCODING_CONTENT_LENGTH);
        soup_message_headers_set_content_length (out, len);
        soup_message_body_append (soup_server_message_get_response_body (msg), SOUP_MEMORY_COPY,
                                  data, len / 2);
        return;
    }
    for (guint i = 0; i < G_N_ELEMENTS (headers); i++) {
        const char *value =
            soup_message_headers_get_one (soup_message_get_response_headers (up), headers[i]);

        if (value)
            soup_message_headers_replace (out, headers[i], value);
    }
    soup_server_message_set_status (msg, soup_message_get_status (up), NULL);
    type = g_strdup (soup_message_headers_get_one (out, "Content-Type"));
    soup_server_message_set_response (msg, type ? type : "application/octet-stream",
                                      SOUP_MEMORY_COPY, data, len);
}

/* A manifest of 5 MiB, with its length announced or sent chunked. */
static void
serve_huge (SoupServerMessage *msg, gboolean chunked)
{
    SoupMessageHeaders *out = soup_server_message_get_response_headers (msg);
    SoupMessageBody *body = soup_server_message_get_response_body (msg);
    g_autofree char *filler = g_strnfill (1024 * 1024, ' ');

    soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
    soup_message_headers_set_content_type (out, BL_MEDIA_OCI_MANIFEST, NULL);
    soup_message_headers_set_encoding (out, chunked ? SOUP_ENCODING_CHUNKED
                                                    : SOUP_ENCODING_CONTENT_LENGTH);
    if (!chunked)
        soup_message_headers_set_content_length (out, 5 * strlen (filler) + 2);
    soup_message_body_append (body, SOUP_MEMORY_STATIC, "{", 1);
    for (guint i = 0; i < 5; i++)
        soup_message_body_append (body, SOUP_MEMORY_COPY, filler, strlen (filler));
    soup_message_body_append (body, SOUP_MEMORY_STATIC, "}", 1);
    soup_message_body_complete (body);
}

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
        gpointer data)
{
    Proxy *proxy = data;
    const char *authz = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                      "Authorization");

    if (authz) {
        g_mutex_lock (&proxy->lock);
        proxy->with_authorization++;
        g_mutex_unlock (&proxy->lock);
    }
    if (strcmp (path, "/token") == 0) {
        serve_token (proxy, msg, authz, query);
    } else if (!authorized (proxy, msg, path, authz)) {
        return;
    } else if (proxy->huge_manifests && strstr (path, "/manifests/")) {
        serve_huge (msg, strcmp (proxy->huge_manifests, "chunked") == 0);
    } else if (proxy->redirect_blobs && strstr (path, "/blobs/")) {
        g_autofree char *location = g_strdup_printf ("http://%s%s", proxy->redirect_blobs, path);

        soup_server_message_set_redirect (msg, SOUP_STATUS_TEMPORARY_REDIRECT, location);
    } else {
        forward (proxy, msg, path);
    }
}

static gpointer
proxy_main (gpointer data)
{
    Proxy *proxy = data;
    g_autoptr (SoupServer) server = NULL;
    GSList *uris;

    g_main_context_push_thread_default (proxy->context);
    server = soup_server_new ("server-header", "test-proxy", NULL);
    soup_server_add_handler (server, NULL, handle, proxy, NULL);
    g_assert_true (soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, NULL));
    uris = soup_server_get_uris (server);
    g_mutex_lock (&proxy->lock);
    proxy->host = g_strdup_printf ("127.0.0.1:%d", g_uri_get_port (uris->data));
    g_cond_signal (&proxy->ready);
    g_mutex_unlock (&proxy->lock);
    g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
    g_main_loop_run (proxy->loop);
    soup_server_disconnect (server);
    g_main_context_pop_thread_default (proxy->context);
    return NULL;
}

static Proxy *
proxy_new (ProxyAuth auth)
{
    Proxy *proxy = g_new0 (Proxy, 1);

    proxy->auth = auth;
    proxy->context = g_main_context_new ();
    proxy->loop = g_main_loop_new (proxy->context, FALSE);
    proxy->upstream = soup_session_new ();
    proxy->blob_gets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    g_mutex_init (&proxy->lock);
    g_cond_init (&proxy->ready);
    return proxy;
}

static void
proxy_start (Proxy *proxy)
{
    proxy->thread = g_thread_new ("proxy", proxy_main, proxy);
    g_mutex_lock (&proxy->lock);
    while (!proxy->host)
        g_cond_wait (&proxy->ready, &proxy->lock);
    g_mutex_unlock (&proxy->lock);
}

static gboolean
quit_loop (gpointer loop)
{
    g_main_loop_quit (loop);
    return G_SOURCE_REMOVE;
}

static void
proxy_free (Proxy *proxy)
{
    g_mutex_lock (&proxy->lock);
    proxy->stopping = TRUE;
    g_cond_broadcast (&proxy->ready);
    g_mutex_unlock (&proxy->lock);
    g_main_context_invoke (proxy->context, quit_loop, proxy->loop);
    g_thread_join (proxy->thread);
    g_main_loop_unref (proxy->loop);
    g_main_context_unref (proxy->context);
    g_object_unref (proxy->upstream);
    g_hash_table_unref (proxy->blob_gets);
    g_free (proxy->tamper_digest);
    g_free (proxy->truncate_digest);
    g_free (proxy->stall_digest);
    g_free (proxy->redirect_blobs);
    g_free (proxy->realm_host);
    g_free (proxy->host);
    g_free (proxy);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Proxy, proxy_free)

static guint
blob_gets (Proxy *proxy, const char *digest)
{
    guint n;

    g_mutex_lock (&proxy->lock);
    n = GPOINTER_TO_UINT (g_hash_table_lookup (proxy->blob_gets, digest));
    g_mutex_unlock (&proxy->lock);
    return n;
}

/* ── helpers ──────────────────────────────────────────────────────────── */

typedef struct {
    GHashTable *digests; /* blobs that made progress */
    guint64 bytes;
} Counter;

static void
count_progress (const char *digest, guint64 done, guint64 total, gpointer data)
{
    Counter *counter = data;

    g_assert_cmpuint (done, <=, total);
    g_hash_table_add (counter->digests, g_strdup (digest));
    if (done == total)
        counter->bytes += total;
}

/* Each pull test gets an empty blob directory of its own. */
typedef struct {
    char *dir;
} Blobs;

static void
blobs_setup (Blobs *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp ("bl-blobs-XXXXXX", NULL);
    g_assert_nonnull (f->dir);
}

static void
blobs_teardown (Blobs *f, gconstpointer data)
{
    bl_test_rm_rf (f->dir);
    g_free (f->dir);
}

#define add_pull_test(path, func) g_test_add (path, Blobs, NULL, blobs_setup, func, blobs_teardown)

/* Starts @proxy; returns the simple image's reference through it. */
static char *
proxy_start_simple (Proxy *proxy)
{
    proxy_start (proxy);
    return g_strdup_printf ("%s/simple:latest", proxy->host);
}

static BlRegistryPull *
pull_text (const char *text, BlRegistryEntry *const *entries, guint n, const char *blobs,
           Counter *counter, GError **error)
{
    g_autoptr (BlImageRef) ref = bl_image_ref_parse (text, NULL);

    g_assert_nonnull (ref);
    return bl_registry_pull (ref, entries, n, blobs, counter ? count_progress : NULL, counter, NULL,
                             error);
}

static char *
read_blob (const char *blobs, const char *digest)
{
    g_autofree char *path = g_build_filename (blobs, "sha256", digest + 7, NULL);
    char *contents = NULL;

    g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
    return contents;
}

/* Asserts the manifest, its config and its layers are in @blobs, each
 * file's sha256 its name; returns the layer digests. */
static GPtrArray *
assert_image_stored (const char *blobs, const char *manifest_digest)
{
    g_autofree char *text = read_blob (blobs, manifest_digest);
    g_autoptr (BlManifest) manifest = bl_manifest_parse (text, strlen (text), NULL);
    GPtrArray *layers = g_ptr_array_new_with_free_func (g_free);

    g_assert_nonnull (manifest);
    for (guint i = 0; i <= manifest->layers->len; i++) {
        const BlDescriptor *desc =
            i == 0 ? &manifest->config : &g_array_index (manifest->layers, BlDescriptor, i - 1);
        g_autofree char *path = g_build_filename (blobs, "sha256", desc->digest + 7, NULL);
        g_autoptr (GMappedFile) file = g_mapped_file_new (path, FALSE, NULL);
        g_autofree char *hex = NULL;

        g_assert_nonnull (file);
        g_assert_cmpint (g_mapped_file_get_length (file), ==, desc->size);
        hex = bl_sha256_hex (g_mapped_file_get_contents (file), g_mapped_file_get_length (file));
        g_assert_cmpstr (hex, ==, desc->digest + 7);
        if (i > 0)
            g_ptr_array_add (layers, g_strdup (desc->digest));
    }
    return layers;
}

/* The layer digests of the simple image, from its layout. */
static GPtrArray *
simple_layers (void)
{
    g_autofree char *text = read_blob (simple_layout, simple_digest);
    g_autoptr (BlManifest) manifest = bl_manifest_parse (text, strlen (text), NULL);
    GPtrArray *layers = g_ptr_array_new_with_free_func (g_free);

    for (guint i = 0; i < manifest->layers->len; i++)
        g_ptr_array_add (layers,
                         g_strdup (g_array_index (manifest->layers, BlDescriptor, i).digest));
    return layers;
}

static void
assert_no_secret (const GError *error)
{
    g_autofree char *basic = basic_value (USERNAME, PASSWORD);

    g_assert_nonnull (error);
    g_assert_null (strstr (error->message, PASSWORD));
    g_assert_null (strstr (error->message, TOKEN));
    g_assert_null (strstr (error->message, basic + 6));
}

static BlRegistryEntry *
entry (const char *json)
{
    g_autoptr (GError) error = NULL;
    BlRegistryEntry *e = bl_registry_entry_parse (json, &error);

    g_assert_no_error (error);
    return e;
}

/* ── pulls from the real registry ─────────────────────────────────────── */

static void
test_pull_by_tag (Blobs *f, gconstpointer data)
{
    const char *blobs = f->dir;
    g_autofree char *text = g_strdup_printf ("%s/simple:latest", registry->host);
    g_autoptr (GError) error = NULL;
    Counter first = { g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL), 0 };
    Counter second = { g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL), 0 };
    g_autoptr (BlRegistryPull) pull = pull_text (text, NULL, 0, blobs, &first, &error);
    g_autoptr (BlRegistryPull) again = NULL;
    g_autoptr (GPtrArray) layers = NULL;

    g_assert_no_error (error);
    g_assert_cmpstr (pull->reference, ==, text);
    g_assert_cmpstr (pull->manifest_digest, ==, simple_digest);
    g_assert_null (pull->index_digest);
    layers = assert_image_stored (blobs, pull->manifest_digest);
    g_assert_cmpuint (layers->len, ==, 1);
    /* config and layer fetched, with progress for both */
    g_assert_cmpuint (g_hash_table_size (first.digests), ==, 2);
    g_assert_true (g_hash_table_contains (first.digests, layers->pdata[0]));

    again = pull_text (text, NULL, 0, blobs, &second, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (again->manifest_digest, ==, simple_digest);
    g_assert_cmpuint (g_hash_table_size (second.digests), ==, 0);
    g_hash_table_unref (first.digests);
    g_hash_table_unref (second.digests);
}

static void
test_pull_by_digest (Blobs *f, gconstpointer data)
{
    const char *blobs = f->dir;
    g_autofree char *text = g_strdup_printf ("%s/simple@%s", registry->host, simple_digest);
    g_autoptr (GError) error = NULL;
    g_autoptr (BlRegistryPull) pull = pull_text (text, NULL, 0, blobs, NULL, &error);
    g_autoptr (GPtrArray) layers = NULL;

    g_assert_no_error (error);
    g_assert_cmpstr (pull->manifest_digest, ==, simple_digest);
    layers = assert_image_stored (blobs, pull->manifest_digest);
    g_assert_cmpuint (layers->len, ==, 1);
}

static void
test_pull_index (Blobs *f, gconstpointer data)
{
    const char *blobs = f->dir;
    g_autofree char *text = g_strdup_printf ("%s/mp:latest", registry->host);
    g_autoptr (GError) error = NULL;
    g_autoptr (BlRegistryPull) pull = pull_text (text, NULL, 0, blobs, NULL, &error);
    g_autoptr (GPtrArray) layers = NULL;
    g_autofree char *index = NULL;

    g_assert_no_error (error);
    /* the amd64 entry of the index is the simple image, byte for byte */
    g_assert_cmpstr (pull->index_digest, ==, mp_index_digest);
    g_assert_cmpstr (pull->manifest_digest, ==, simple_digest);
    index = read_blob (blobs, pull->index_digest);
    g_assert_nonnull (strstr (index, "arm64"));
    layers = assert_image_stored (blobs, pull->manifest_digest);
    g_assert_cmpuint (layers->len, ==, 1);
}

static void
test_not_found_vs_unreachable (Blobs *f, gconstpointer data)
{
    const char *blobs = f->dir;
    g_autofree char *missing = g_strdup_printf ("%s/nothing-here:latest", registry->host);
    g_autofree char *dead = g_strdup_printf ("127.0.0.1:%u/simple:latest", bl_test_free_port ());
    g_autofree char *expect = g_strdup_printf ("image %s not found in %s", missing, registry->host);
    g_autoptr (GError) error = NULL;
    g_autoptr (BlRegistryPull) pull = pull_text (missing, NULL, 0, blobs, NULL, &error);

    g_assert_null (pull);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND);
    g_assert_cmpstr (error->message, ==, expect);
    g_clear_error (&error);

    /* Unreachable is the network's word, not a verdict on the image. */
    pull = pull_text (dead, NULL, 0, blobs, NULL, &error);
    g_assert_null (pull);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
    g_assert_true (g_str_has_prefix (error->message, "cannot reach registry 127.0.0.1:"));
}

static void
test_unqualified_search (Blobs *f, gconstpointer data)
{
    const char *blobs = f->dir;
    g_autofree char *json =
        g_strdup_printf ("{\"host\": \"%s\", \"search\": true}", registry->host);
    g_autoptr (BlRegistryEntry) e = entry (json);
    BlRegistryEntry *entries[] = { e };
    g_autofree char *expect = g_strdup_printf ("%s/simple:latest", registry->host);
    g_autoptr (GError) error = NULL;
    g_autoptr (BlRegistryPull) pull = pull_text ("simple", entries, 1, blobs, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (pull->reference, ==, expect);
    g_assert_cmpstr (pull->manifest_digest, ==, simple_digest);
}

/* ── faults only the proxy can make ───────────────────────────────────── */

static void
test_tampered_blob (Blobs *f, gconstpointer data)
{
    const char *why = data;
    const char *blobs = f->dir;
    g_autoptr (Proxy) proxy = proxy_new (PROXY_OPEN);
    g_autoptr (GPtrArray) layers = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (BlRegistryPull) pull = NULL;
    g_autofree char *text = NULL;
    g_autofree char *path = NULL;
    g_autofree char *expect = NULL;
    g_autoptr (GDir) dir = NULL;
    const char *name;

    layers = simple_layers ();
    proxy->tamper_digest = g_strdup (layers->pdata[0]);
    proxy->tamper_grows = strcmp (why, "is larger than its descriptor says") == 0;
    text = proxy_start_simple (proxy);
    pull = pull_text (text, NULL, 0, blobs, NULL, &error);
    g_assert_null (pull);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    expect = g_strdup_printf ("blob %s from %s %s", (char *) layers->pdata[0], proxy->host, why);
    g_assert_cmpstr (error->message, ==, expect);
    path = g_build_filename (blobs, "sha256", (char *) layers->pdata[0] + 7, NULL);
    g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    /* the tampered bytes are not kept for a resume either */
    dir = g_dir_open (blobs, 0, NULL);
    while ((name = g_dir_read_name (dir)))
        g_assert_null (strstr (name, (char *) layers->pdata[0] + 7));
}

static void
test_resume (Blobs *f, gconstpointer data)
{
    const char *blobs = f->dir;
    g_autoptr (Proxy) proxy = proxy_new (PROXY_OPEN);
    g_autoptr (GError) error = NULL;
    g_autoptr (BlRegistryPull) pull = NULL;
    g_autoptr (GPtrArray) layers = NULL;
    g_autofree char *text = NULL;
    g_autoptr (GPtrArray) simple = simple_layers ();
    const char *layer = simple->pdata[0];

    proxy->truncate_digest = g_strdup (layer);
    text = proxy_start_simple (proxy);
    pull = pull_text (text, NULL, 0, blobs, NULL, &error);
    g_assert_null (pull);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    g_assert_nonnull (strstr (error->message, "ended after"));
    g_clear_error (&error);

    pull = pull_text (text, NULL, 0, blobs, NULL, &error);
    g_assert_no_error (error);
    layers = assert_image_stored (blobs, pull->manifest_digest);
    g_assert_cmpuint (blob_gets (proxy, layer), ==, 2);
    g_assert_cmpuint (proxy->range_requests, ==, 1);
}

#define BASIC_AUTH(password)                                                                       \
    "{\"kind\": \"basic\", \"username\": \"" USERNAME "\", \"password\": \"" password "\"}"
#define BEARER_AUTH(token) "{\"kind\": \"bearer\", \"token\": \"" token "\"}"

/* Pulls the simple image through @proxy (started) into @blobs, with an
 * entry for the proxy whose "auth" member is @auth (JSON; NULL: no entry). */
static BlRegistryPull *
pull_with_auth (Proxy *proxy, const char *blobs, const char *auth, GError **error)
{
    g_autofree char *text = g_strdup_printf ("%s/simple:latest", proxy->host);
    g_autofree char *json =
        g_strdup_printf ("{\"host\": \"%s\", \"auth\": %s}", proxy->host, auth ? auth : "null");
    g_autoptr (BlRegistryEntry) e = entry (json);

    return pull_text (text, &e, auth ? 1 : 0, blobs, NULL, error);
}

/* Asserts a pull was refused with @why in the message and no secret. */
static void
assert_refused (BlRegistryPull *pull, GError **error, const char *why)
{
    g_assert_null (pull);
    g_assert_error (*error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    if (!strstr ((*error)->message, why))
        g_error ("expected '%s' in: %s", why, (*error)->message);
    assert_no_secret (*error);
    g_clear_error (error);
}

static void
test_bearer_anonymous (Blobs *f, gconstpointer data)
{
    g_autoptr (Proxy) proxy = proxy_new (PROXY_BEARER);
    g_autoptr (GError) error = NULL;
    g_autoptr (BlRegistryPull) pull = NULL;
    g_autoptr (GPtrArray) layers = NULL;

    proxy_start (proxy);
    pull = pull_with_auth (proxy, f->dir, NULL, &error);
    g_assert_no_error (error);
    layers = assert_image_stored (f->dir, pull->manifest_digest);
    g_assert_cmpuint (proxy->token_requests, >=, 1);

    /* refused even with a token: how a registry hides a missing repository */
    proxy->token_useless = TRUE;
    g_clear_pointer (&pull, bl_registry_pull_free);
    pull = pull_with_auth (proxy, f->dir, NULL, &error);
    g_assert_null (pull);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND);
    g_assert_nonnull (strstr (error->message, "(or it needs credentials)"));
}

static void
test_bearer_with_credentials (Blobs *f, gconstpointer data)
{
    g_autoptr (Proxy) proxy = proxy_new (PROXY_BEARER);
    g_autoptr (GError) error = NULL;
    BlRegistryPull *pull;

    proxy->token_needs_basic = TRUE;
    proxy_start (proxy);
    pull = pull_with_auth (proxy, f->dir, NULL, &error);
    assert_refused (pull, &error, "refused an anonymous token");
    pull = pull_with_auth (proxy, f->dir, BASIC_AUTH ("wrong-" PASSWORD), &error);
    assert_refused (pull, &error, "refused the credentials");
    pull = pull_with_auth (proxy, f->dir, BASIC_AUTH (PASSWORD), &error);
    g_assert_no_error (error);
    bl_registry_pull_free (pull);
}

/* A challenge naming a token service on another host does not get the
 * credentials (it could name any host), unless the entry lists that host. */
static void
test_bearer_realm_elsewhere (Blobs *f, gconstpointer data)
{
    g_autoptr (Proxy) proxy = proxy_new (PROXY_BEARER);
    g_autoptr (GError) error = NULL;
    BlRegistryPull *pull;

    proxy->token_needs_basic = TRUE;
    proxy_start (proxy);
    /* The same server under another name: a host of the attacker's. */
    proxy->realm_host = g_strdup_printf ("localhost:%s", strchr (proxy->host, ':') + 1);
    pull = pull_with_auth (proxy, f->dir, BASIC_AUTH (PASSWORD), &error);
    assert_refused (pull, &error, "token service on another host");
    g_assert_cmpuint (proxy->token_requests, ==, 0);

    g_autofree char *auth =
        g_strdup_printf ("{\"kind\": \"basic\", \"username\": \"" USERNAME
                         "\", \"password\": \"" PASSWORD "\", \"token_hosts\": [\"%s\"]}",
                         proxy->realm_host);
    pull = pull_with_auth (proxy, f->dir, auth, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (proxy->token_requests, >=, 1);
    bl_registry_pull_free (pull);
}

static void
test_bearer_given (Blobs *f, gconstpointer data)
{
    g_autoptr (Proxy) proxy = proxy_new (PROXY_BEARER);
    g_autoptr (GError) error = NULL;
    BlRegistryPull *pull;

    proxy_start (proxy);
    pull = pull_with_auth (proxy, f->dir, BEARER_AUTH ("wrong-" TOKEN), &error);
    assert_refused (pull, &error, "refused the configured credentials");
    pull = pull_with_auth (proxy, f->dir, BEARER_AUTH (TOKEN), &error);
    g_assert_no_error (error);
    g_assert_cmpuint (proxy->token_requests, ==, 0);
    bl_registry_pull_free (pull);
}

static void
test_basic_auth (Blobs *f, gconstpointer data)
{
    g_autoptr (Proxy) proxy = proxy_new (PROXY_BASIC);
    g_autoptr (GError) error = NULL;
    BlRegistryPull *pull;

    proxy_start (proxy);
    pull = pull_with_auth (proxy, f->dir, NULL, &error);
    assert_refused (pull, &error, "requires credentials");
    pull = pull_with_auth (proxy, f->dir, BASIC_AUTH ("wrong-" PASSWORD), &error);
    assert_refused (pull, &error, "refused the configured credentials");
    pull = pull_with_auth (proxy, f->dir, BASIC_AUTH (PASSWORD), &error);
    g_assert_no_error (error);
    bl_registry_pull_free (pull);
}

/* A manifest over 4 MiB is refused, announced or not. */
static void
test_huge_manifest (Blobs *f, gconstpointer data)
{
    g_autoptr (Proxy) proxy = proxy_new (PROXY_OPEN);
    g_autoptr (GError) error = NULL;
    g_autoptr (BlRegistryPull) pull = NULL;
    g_autofree char *text = NULL;

    proxy->huge_manifests = data;
    text = proxy_start_simple (proxy);
    pull = pull_text (text, NULL, 0, f->dir, NULL, &error);
    g_assert_null (pull);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    /* announced: refused before a byte is read; chunked: cut at the bound */
    if (!strstr (error->message, strcmp (data, "length") == 0 ? "is too large (5242882 bytes)"
                                                              : "is larger than 4194304 bytes"))
        g_error ("unexpected: %s", error->message);
}

/* An https registry with a self-signed certificate: refused unless its
 * entry says skip_verify. */
static void
test_tls (Blobs *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BlTestRegistry) tls = bl_test_registry_start_tls (&error);
    g_autofree char *layout = g_build_filename (work_dir, "simple", NULL);
    g_autofree char *text = NULL;
    BlRegistryPull *pull;

    g_assert_no_error (error);
    bl_test_registry_push (tls, layout, "simple:latest", &error);
    g_assert_no_error (error);
    text = g_strdup_printf ("%s/simple:latest", tls->host);
    for (guint skip = 0; skip < 2; skip++) {
        g_autofree char *json =
            g_strdup_printf ("{\"host\": \"%s\", \"transport\": \"https\", \"skip_verify\": %s}",
                             tls->host, skip ? "true" : "false");
        g_autoptr (BlRegistryEntry) e = entry (json);

        pull = pull_text (text, &e, 1, f->dir, NULL, &error);
        if (!skip) {
            g_autofree char *expect = g_strdup_printf ("cannot reach registry %s: ", tls->host);

            g_assert_null (pull);
            g_assert_error (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
            g_assert_true (g_str_has_prefix (error->message, expect));
            g_assert_nonnull (strstr (error->message, "certificate"));
            g_clear_error (&error);
        } else {
            g_assert_no_error (error);
            g_assert_cmpstr (pull->manifest_digest, ==, simple_digest);
            bl_registry_pull_free (pull);
        }
    }
}

/* What an interrupted pull left is gone after the next successful one. */
static void
test_leftovers_cleaned (Blobs *f, gconstpointer data)
{
    g_autofree char *partial = g_build_filename (
        f->dir, ".partial-0000000000000000000000000000000000000000000000000000000000000000", NULL);
    g_autofree char *tmp = g_build_filename (f->dir, ".tmp-abcdef", NULL);
    g_autofree char *fresh = g_build_filename (f->dir, ".tmp-fresh1", NULL);
    g_autofree char *text = g_strdup_printf ("%s/simple:latest", registry->host);
    g_autoptr (GError) error = NULL;
    g_autoptr (BlRegistryPull) pull = NULL;
    struct utimbuf old = { 0, 0 };

    g_assert_true (g_file_set_contents (partial, "half", -1, NULL));
    g_assert_true (g_file_set_contents (tmp, "half", -1, NULL));
    g_assert_true (g_file_set_contents (fresh, "being written", -1, NULL));
    g_assert_cmpint (utime (tmp, &old), ==, 0);
    pull = pull_text (text, NULL, 0, f->dir, NULL, &error);
    g_assert_no_error (error);
    g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));
    g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
    /* a manifest another pull is writing right now stays */
    g_assert_true (g_file_test (fresh, G_FILE_TEST_EXISTS));
}

static gpointer
cancel_soon (gpointer cancellable)
{
    g_usleep (200 * 1000);
    g_cancellable_cancel (cancellable);
    return NULL;
}

/* A pull stuck on a slow registry ends promptly when cancelled. */
static void
test_cancel (Blobs *f, gconstpointer data)
{
    g_autoptr (Proxy) proxy = proxy_new (PROXY_OPEN);
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();
    g_autoptr (BlImageRef) ref = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (BlRegistryPull) pull = NULL;
    g_autofree char *text = NULL;
    GThread *canceller;
    gint64 start;

    proxy->blob_delay_ms = 3000;
    text = proxy_start_simple (proxy);
    ref = bl_image_ref_parse (text, NULL);
    canceller = g_thread_new ("cancel", cancel_soon, cancellable);
    start = g_get_monotonic_time ();
    pull = bl_registry_pull (ref, NULL, 0, f->dir, NULL, NULL, cancellable, &error);
    g_assert_null (pull);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
    g_thread_join (canceller);
}

/* A pull stuck on the token service ends promptly when cancelled. */
static void
test_cancel_token (Blobs *f, gconstpointer data)
{
    g_autoptr (Proxy) proxy = proxy_new (PROXY_BEARER);
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();
    g_autoptr (BlImageRef) ref = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (BlRegistryPull) pull = NULL;
    g_autofree char *text = NULL;
    GThread *canceller;
    gint64 start;

    proxy->token_delay_ms = 5000;
    text = proxy_start_simple (proxy);
    ref = bl_image_ref_parse (text, NULL);
    canceller = g_thread_new ("cancel", cancel_soon, cancellable);
    start = g_get_monotonic_time ();
    pull = bl_registry_pull (ref, NULL, 0, f->dir, NULL, NULL, cancellable, &error);
    g_assert_null (pull);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
    g_assert_cmpuint (proxy->token_requests, ==, 1);
    g_thread_join (canceller);
}

typedef struct {
    const char *digest;
    GCancellable *cancellable;
    guint64 seen;
} CancelMidway;

/* Cancels the pull once part of the watched blob has arrived. */
static void
cancel_midway (const char *digest, guint64 done, guint64 total, gpointer data)
{
    CancelMidway *c = data;

    if (g_strcmp0 (digest, c->digest) == 0 && done > 0 && done < total) {
        c->seen = done;
        g_cancellable_cancel (c->cancellable);
    }
}

/* Whether another puller could take @digest's lock now. */
static gboolean
blob_lock_free (const char *blobs, const char *digest)
{
    g_autofree char *path = g_build_filename (blobs, ".pull.lock", NULL);
    char head[16] = { 0 };
    struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 1 };
    int fd = open (path, O_RDWR | O_CLOEXEC);
    gboolean free_now;

    g_assert_cmpint (fd, >=, 0);
    memcpy (head, digest + 7, 15);
    lock.l_start = (off_t) g_ascii_strtoull (head, NULL, 16);
    free_now = fcntl (fd, F_OFD_SETLK, &lock) == 0;
    close (fd);
    return free_now;
}

/* Cancelled in the middle of a blob's body: CANCELLED, nothing at the
 * blob's final path, its lock released, and what arrived kept aside for
 * the next pull, which resumes it. */
static void
test_cancel_mid_blob (Blobs *f, gconstpointer data)
{
    g_autoptr (Proxy) proxy = proxy_new (PROXY_OPEN);
    g_autoptr (GPtrArray) layers = simple_layers ();
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();
    g_autoptr (BlImageRef) ref = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (BlRegistryPull) pull = NULL;
    g_autofree char *text = NULL;
    const char *digest = layers->pdata[0];
    CancelMidway midway = { digest, cancellable, 0 };

    proxy->stall_digest = g_strdup (digest);
    text = proxy_start_simple (proxy);
    ref = bl_image_ref_parse (text, NULL);
    pull = bl_registry_pull (ref, NULL, 0, f->dir, cancel_midway, &midway, cancellable, &error);
    g_assert_null (pull);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpuint (midway.seen, >, 0);

    g_autofree char *final = g_build_filename (f->dir, "sha256", digest + 7, NULL);
    g_autofree char *partial = g_strdup_printf ("%s/.partial-%s", f->dir, digest + 7);
    g_assert_false (g_file_test (final, G_FILE_TEST_EXISTS));
    g_assert_true (g_file_test (partial, G_FILE_TEST_EXISTS));
    g_assert_true (blob_lock_free (f->dir, digest));

    g_clear_pointer (&proxy->stall_digest, g_free);
    g_clear_error (&error);
    pull = bl_registry_pull (ref, NULL, 0, f->dir, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (proxy->range_requests, ==, 1);
    g_autoptr (GPtrArray) stored = assert_image_stored (f->dir, pull->manifest_digest);
    g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));
}

static gboolean
cancel_now (gpointer cancellable)
{
    g_cancellable_cancel (cancellable);
    return G_SOURCE_REMOVE;
}

static void
store_result (GObject *source, GAsyncResult *result, gpointer user_data)
{
    *(GAsyncResult **) user_data = g_object_ref (result);
}

/* The runtime's async pull, cancelled from a timeout on the main loop while
 * the registry stalls: CANCELLED, no image in the store, and nothing held
 * that stops the next pull. */
static void
test_cancel_pull_async (Blobs *f, gconstpointer data)
{
    g_autoptr (Proxy) proxy = proxy_new (PROXY_OPEN);
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (BoxliteRuntime) runtime = NULL;
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();
    g_autoptr (GAsyncResult) result = NULL;
    g_autoptr (GError) error = NULL;
    g_autofree char *text = NULL;

    proxy->blob_delay_ms = 5000;
    text = proxy_start_simple (proxy);
    boxlite_options_set_home_dir (options, f->dir);
    runtime = boxlite_runtime_new (options, &error);
    g_assert_no_error (error);

    gint64 start = g_get_monotonic_time ();
    boxlite_runtime_pull_image_async (runtime, text, cancellable, store_result, &result);
    g_timeout_add (300, cancel_now, cancellable);
    while (!result)
        g_main_context_iteration (NULL, TRUE);
    g_autoptr (BoxliteImage) none = boxlite_runtime_pull_image_finish (runtime, result, &error);
    g_assert_null (none);
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
    g_clear_error (&error);
    GList *images = boxlite_runtime_list_images (runtime, &error);
    g_assert_no_error (error);
    g_assert_null (images);

    proxy->blob_delay_ms = 0;
    g_autoptr (BoxliteImage) image = boxlite_runtime_pull_image (runtime, text, NULL, &error);
    g_assert_no_error (error);
    g_assert_nonnull (image);
}

/* Blobs redirected to another host are fetched from there without the
 * registry's credentials. */
static void
test_redirect (Blobs *f, gconstpointer data)
{
    g_autoptr (Proxy) front = proxy_new (PROXY_BASIC);
    g_autoptr (Proxy) storage = proxy_new (PROXY_OPEN);
    g_autoptr (GPtrArray) layers = simple_layers ();
    g_autoptr (GError) error = NULL;
    g_autoptr (BlRegistryPull) pull = NULL;

    proxy_start (storage);
    front->redirect_blobs = g_strdup (storage->host);
    proxy_start (front);
    pull = pull_with_auth (front, f->dir, BASIC_AUTH (PASSWORD), &error);
    g_assert_no_error (error);
    g_assert_cmpuint (blob_gets (storage, layers->pdata[0]), ==, 1);
    g_assert_cmpuint (storage->with_authorization, ==, 0);
    g_assert_cmpuint (front->with_authorization, >=, 2);
}

/* Pulls the simple image from @front under the name @name (a host name,
 * with @front's port) with the entry options @extra (JSON members). */
static BlRegistryPull *
pull_named (Proxy *front, const char *name, const char *extra, const char *blobs, GError **error)
{
    g_autofree char *host = g_strdup_printf ("%s:%s", name, strrchr (front->host, ':') + 1);
    g_autofree char *text = g_strdup_printf ("%s/simple:latest", host);
    g_autofree char *json =
        g_strdup_printf ("{\"host\": \"%s\", \"transport\": \"http\"%s}", host, extra);
    g_autoptr (BlRegistryEntry) e = entry (json);

    return pull_text (text, &e, 1, blobs, NULL, error);
}

/* A registry that is not on loopback may not send the host to fetch from
 * its own network, neither through an address in the Location nor through
 * a name that resolves there: no request reaches the target. An entry's
 * private_redirects allows it. The registry is reached under this host's
 * own name, which is not a loopback name. */
static void
test_redirect_private (Blobs *f, gconstpointer data)
{
    g_autoptr (Proxy) front = proxy_new (PROXY_OPEN);
    g_autoptr (Proxy) storage = proxy_new (PROXY_OPEN);
    g_autoptr (GPtrArray) layers = simple_layers ();
    g_autoptr (GError) error = NULL;
    const char *name = g_get_host_name ();
    BlRegistryPull *pull;

    proxy_start (storage);
    front->redirect_blobs = g_strdup (storage->host);
    proxy_start (front);

    pull = pull_named (front, name, "", f->dir, &error);
    g_assert_null (pull);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    g_assert_nonnull (strstr (error->message, "redirects to the private address 127.0.0.1"));
    g_clear_error (&error);

    g_free (front->redirect_blobs);
    front->redirect_blobs = g_strdup_printf ("localhost:%s", strrchr (storage->host, ':') + 1);
    pull = pull_named (front, name, "", f->dir, &error);
    g_assert_null (pull);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
    g_assert_nonnull (strstr (error->message, "redirects to the private address"));
    g_clear_error (&error);
    g_assert_cmpuint (blob_gets (storage, layers->pdata[0]), ==, 0);

    pull = pull_named (front, name, ", \"private_redirects\": true", f->dir, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (blob_gets (storage, layers->pdata[0]), ==, 1);
    bl_registry_pull_free (pull);
}

typedef struct {
    const char *text;
    const char *blobs;
    BlRegistryPull *pull;
    GError *error;
} PullJob;

static gpointer
pull_job (gpointer data)
{
    PullJob *job = data;

    job->pull = pull_text (job->text, NULL, 0, job->blobs, NULL, &job->error);
    return NULL;
}

/* Two threads of one process pull one image into one blob directory at
 * once: the blob locks hold between threads too. */
static void
test_concurrent_threads (Blobs *f, gconstpointer data)
{
    g_autoptr (Proxy) proxy = proxy_new (PROXY_OPEN);
    g_autoptr (GPtrArray) layers = simple_layers ();
    g_autofree char *text = NULL;
    PullJob jobs[2];
    GThread *threads[2];

    proxy->blob_delay_ms = 300;
    text = proxy_start_simple (proxy);
    for (guint i = 0; i < 2; i++) {
        jobs[i] = (PullJob){ text, f->dir, NULL, NULL };
        threads[i] = g_thread_new ("pull", pull_job, &jobs[i]);
    }
    for (guint i = 0; i < 2; i++) {
        g_thread_join (threads[i]);
        g_assert_no_error (jobs[i].error);
        g_assert_cmpstr (jobs[i].pull->manifest_digest, ==, simple_digest);
        bl_registry_pull_free (jobs[i].pull);
    }
    g_assert_cmpuint (blob_gets (proxy, layers->pdata[0]), ==, 1);
}

/* Names in @sha_dir whose content does not hash to the name. */
static guint
count_damaged_blobs (const char *sha_dir)
{
    g_autoptr (GDir) dir = g_dir_open (sha_dir, 0, NULL);
    const char *name;
    guint damaged = 0;

    while (dir && (name = g_dir_read_name (dir))) {
        g_autofree char *path = g_build_filename (sha_dir, name, NULL);
        g_autofree char *data = NULL;
        gsize len = 0;
        g_autofree char *sum =
            g_file_get_contents (path, &data, &len, NULL)
                ? g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, len)
                : NULL;
        damaged += g_strcmp0 (sum, name) != 0;
    }
    return damaged;
}

/* The big image (6 MiB) pulled into a 2 MiB tmpfs: the pull fails as a
 * full disk, naming the blob, and every blob left in sha256/ is whole. */
static void
test_full_disk (Blobs *f, gconstpointer data)
{
    g_autofree char *text = g_strdup_printf ("%s/big:latest", registry->host);
    g_autofree char *sha_dir = g_build_filename (f->dir, "sha256", NULL);
    g_autoptr (GError) error = NULL;

    if (geteuid () != 0) {
        g_test_skip ("mounting a small tmpfs needs root");
        return;
    }
    if (mount ("tmpfs", f->dir, "tmpfs", 0, "size=2m,mode=0700") < 0) {
        g_test_skip_printf ("cannot mount a tmpfs: %s", g_strerror (errno));
        return;
    }
    BlRegistryPull *pull = pull_text (text, NULL, 0, f->dir, NULL, &error);
    /* Looked at before the tmpfs (and what it holds) goes. */
    guint damaged = count_damaged_blobs (sha_dir);
    g_clear_pointer (&pull, bl_registry_pull_free);
    g_assert_cmpint (umount (f->dir), ==, 0);

    g_test_message ("full disk: %s", error ? error->message : "(no error)");
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE);
    g_assert_nonnull (strstr (error->message, "sha256:"));
    g_assert_cmpuint (damaged, ==, 0);
}

/* Two processes pull one image into one blob directory at once, through a
 * proxy that holds every blob request back: both succeed and each blob
 * crosses the wire once. */
static void
test_concurrent_processes (Blobs *f, gconstpointer data)
{
    const char *blobs = f->dir;
    g_autoptr (Proxy) proxy = proxy_new (PROXY_OPEN);
    g_autofree char *text = NULL;
    GSubprocess *procs[2];
    g_autoptr (GPtrArray) layers = NULL;

    proxy->blob_delay_ms = 300;
    proxy_start (proxy);
    text = g_strdup_printf ("%s/big:latest", proxy->host);
    for (guint i = 0; i < 2; i++) {
        g_autoptr (GError) error = NULL;

        procs[i] = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, self_path,
                                     "--pull-helper", text, blobs, NULL);
        g_assert_no_error (error);
    }
    for (guint i = 0; i < 2; i++) {
        g_autoptr (GError) error = NULL;
        g_autofree char *out = NULL;

        g_assert_true (g_subprocess_communicate_utf8 (procs[i], NULL, NULL, &out, NULL, &error));
        g_assert_no_error (error);
        g_assert_true (g_subprocess_get_successful (procs[i]));
        g_assert_cmpstr (g_strstrip (out), ==, big_digest);
        g_object_unref (procs[i]);
    }
    layers = assert_image_stored (blobs, big_digest);
    g_assert_cmpuint (layers->len, ==, 3);
    for (guint i = 0; i < layers->len; i++)
        g_assert_cmpuint (blob_gets (proxy, layers->pdata[i]), ==, 1);
}

/* ── parsers, no registry ─────────────────────────────────────────────── */

static void
test_entry_parse (void)
{
    g_autoptr (BlRegistryEntry) bare = entry ("Quay.IO");
    g_autoptr (BlRegistryEntry) full =
        entry ("{\"host\": \"localhost:05000\", \"transport\": \"http\", \"skip_verify\": true, "
               "\"search\": false, \"auth\": {\"kind\": \"basic\", \"username\": \"u\", "
               "\"password\": \"" PASSWORD "\"}}");
    g_autoptr (BlRegistryEntry) bearer = entry (
        "{\"host\": \"ghcr.io\", \"auth\": {\"kind\": \"bearer\", \"token\": \"" TOKEN "\"}}");
    const char *invalid[] = {
        "",
        "not a host!",
        "{\"host\": 5}",
        "{\"host\": \"a.io\", \"password\": \"" PASSWORD "\"",
        "{\"host\": \"a.io\", \"transport\": \"ftp\"}",
        "{\"host\": \"a.io\", \"search\": \"yes\"}",
        "{\"host\": \"a.io\", \"auth\": {\"kind\": \"basic\", \"username\": \"u\"}}",
        "{\"host\": \"a.io\", \"auth\": {\"kind\": \"magic\", \"password\": \"" PASSWORD "\"}}",
        "{\"host\": \"a.io\", \"auth\": {\"kind\": \"bearer\"}}",
        "{\"host\": \"a.io\", \"auth\": {\"kind\": \"basic\", \"username\": \"u\", "
        "\"password\": \"" PASSWORD "\\n\"}}",
        "{\"host\": \"bad host\", \"auth\": {\"kind\": \"bearer\", \"token\": \"" TOKEN "\"}}",
    };

    g_assert_cmpstr (bare->host, ==, "quay.io");
    g_assert_true (bare->search);
    g_assert_cmpint (bare->auth, ==, BL_REGISTRY_AUTH_ANONYMOUS);
    g_assert_cmpstr (full->host, ==, "localhost:5000");
    g_assert_cmpint (full->transport, ==, BL_REGISTRY_TRANSPORT_HTTP);
    g_assert_true (full->skip_verify);
    g_assert_false (full->search);
    g_assert_cmpint (full->auth, ==, BL_REGISTRY_AUTH_BASIC);
    g_assert_cmpstr (full->password, ==, PASSWORD);
    g_assert_cmpint (bearer->auth, ==, BL_REGISTRY_AUTH_BEARER);
    g_assert_cmpstr (bearer->token, ==, TOKEN);
    for (guint i = 0; i < G_N_ELEMENTS (invalid); i++) {
        g_autoptr (GError) error = NULL;
        g_autoptr (BlRegistryEntry) e = bl_registry_entry_parse (invalid[i], &error);

        g_assert_null (e);
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
        if (strstr (error->message, PASSWORD) || strstr (error->message, TOKEN))
            g_error ("entry %u: %s", i, error->message);
    }
}

static void
test_entries_load (void)
{
    g_autofree char *home = g_dir_make_tmp ("bl-home-XXXXXX", NULL);
    g_autofree char *config = g_build_filename (home, "registries.json", NULL);
    const char *texts[] = { "a.io", NULL };
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) entries = bl_registry_entries_load (home, texts, &error);
    BlRegistryEntry *b;

    g_assert_no_error (error);
    g_assert_cmpuint (entries->len, ==, 1);
    g_clear_pointer (&entries, g_ptr_array_unref);
    g_assert_true (g_file_set_contents (
        config,
        "[\"A.io\", {\"host\": \"b.io\", \"search\": false, \"auth\": {\"kind\": \"bearer\", "
        "\"token\": \"" TOKEN "\"}}]",
        -1, NULL));
    entries = bl_registry_entries_load (home, texts, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (entries->len, ==, 2);
    b = g_ptr_array_index (entries, 1);
    g_assert_cmpstr (b->host, ==, "b.io");
    g_assert_cmpstr (b->token, ==, TOKEN);
    g_clear_pointer (&entries, g_ptr_array_unref);

    g_assert_true (g_file_set_contents (
        config, "[{\"host\": \"c.io\", \"auth\": {\"kind\": \"nope\", \"token\": \"" TOKEN "\"}}]",
        -1, NULL));
    entries = bl_registry_entries_load (home, NULL, &error);
    g_assert_null (entries);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (error->message, "registries.json, entry 1"));
    g_assert_null (strstr (error->message, TOKEN));
    g_clear_error (&error);
    g_assert_true (g_file_set_contents (config, "{\"not\": \"an array\"}", -1, NULL));
    entries = bl_registry_entries_load (home, NULL, &error);
    g_assert_null (entries);
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    bl_test_rm_rf (home);
}

static void
test_options_validate (void)
{
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    const char *good[] = { "quay.io", "{\"host\": \"localhost:5000\", \"search\": true}", NULL };
    const char *bad[] = { "quay.io",
                          "{\"host\": \"x.io\", \"auth\": {\"kind\": \"basic\", "
                          "\"username\": \"u\", \"password\": \"" PASSWORD "\"",
                          NULL };
    g_autoptr (GError) error = NULL;

    g_assert_true (boxlite_options_validate (options, &error));
    boxlite_options_set_image_registries (options, good);
    g_assert_true (boxlite_options_validate (options, &error));
    g_assert_no_error (error);
    boxlite_options_set_image_registries (options, bad);
    g_assert_false (boxlite_options_validate (options, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_assert_true (g_str_has_prefix (error->message, "image registry 2: "));
    g_assert_null (strstr (error->message, PASSWORD));
}

static void
test_challenge_parse (void)
{
    const char *bad[] = {
        "",
        "Negotiate abc",
        "Bearer",
        "Bearer realm=\"ftp://x/token\"",
        "Bearer realm=\"https://user:pw@x/token\"",
        "Bearer realm=\"https://x/token",
        "Bearer realm=\"https://x/\x01token\"",
        "Bearer realm=\"https://x/token\" service=\"y\"",
        "Bearerrealm=\"https://x/token\"",
    };
    g_auto (BlChallenge) c = { 0 };
    g_autoptr (GError) error = NULL;
    const char *ok = "bearer  realm=\"https://auth.example/token?x=1\" , "
                     "service=\"reg\\\"istry\",scope=\"repository:a/b:pull,push\", extra=tok";
    g_autofree char *huge = g_strnfill (BL_REGISTRY_CHALLENGE_MAX + 1, 'a');

    g_assert_true (bl_challenge_parse (ok, strlen (ok), &c, &error));
    g_assert_no_error (error);
    g_assert_cmpint (c.scheme, ==, BL_CHALLENGE_BEARER);
    g_assert_cmpstr (c.realm, ==, "https://auth.example/token?x=1");
    g_assert_cmpstr (c.service, ==, "reg\"istry");
    g_assert_cmpstr (c.scope, ==, "repository:a/b:pull,push");
    bl_challenge_clear (&c);
    g_assert_true (bl_challenge_parse ("Basic realm=\"x y\", Bearer realm=z", 34, &c, &error));
    g_assert_cmpint (c.scheme, ==, BL_CHALLENGE_BASIC);
    g_assert_cmpstr (c.realm, ==, "x y");
    bl_challenge_clear (&c);
    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
        g_assert_false (bl_challenge_parse (bad[i], strlen (bad[i]), &c, &error));
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
        g_clear_error (&error);
    }
    memcpy (huge, "Bearer realm=", 13);
    g_assert_false (bl_challenge_parse (huge, strlen (huge), &c, &error));
    g_clear_error (&error);

    g_autofree char *token = bl_token_response_parse ("{\"access_token\": \"abc\"}", 23, &error);
    g_assert_cmpstr (token, ==, "abc");
    g_assert_null (bl_token_response_parse ("{\"token\": \"a b\"}", 16, &error));
    g_clear_error (&error);
    g_assert_null (bl_token_response_parse ("[1]", 3, &error));
    g_clear_error (&error);
}

static void
test_manifest_parse (void)
{
    g_autofree char *text = read_blob (simple_layout, simple_digest);
    g_autoptr (BlManifest) m = bl_manifest_parse (text, strlen (text), NULL);
    g_autoptr (GError) error = NULL;
    BlDescriptor pick = { 0 };
    BlManifestKind kind;
    const char *bad[] = {
        "{\"schemaVersion\": 1}",
        "{\"schemaVersion\": 2, \"config\": {\"digest\": \"sha256:ab\", \"size\": 1}, "
        "\"layers\": []}",
        "{\"schemaVersion\": 2, \"config\": {\"digest\": \"sha512:" /* wrong algorithm */
        "0000000000000000000000000000000000000000000000000000000000000000\", \"size\": 1}, "
        "\"layers\": []}",
        "{\"schemaVersion\": 2, \"config\": {\"digest\": \"sha256:"
        "0000000000000000000000000000000000000000000000000000000000000000\", \"size\": -1}, "
        "\"layers\": []}",
        "[]",
        "{",
    };
    const char *arm_only =
        "{\"schemaVersion\": 2, \"manifests\": [{\"mediaType\": \"" BL_MEDIA_OCI_MANIFEST
        "\", \"digest\": \"sha256:0000000000000000000000000000000000000000000000"
        "000000000000000000\", \"size\": 3, \"platform\": {\"os\": \"linux\", "
        "\"architecture\": \"arm64\"}}]}";

    g_assert_nonnull (m);
    g_assert_cmpuint (m->layers->len, ==, 1);
    g_assert_true (bl_manifest_kind (text, strlen (text), NULL, &kind, NULL));
    g_assert_cmpint (kind, ==, BL_MANIFEST_KIND_IMAGE);
    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
        g_assert_null (bl_manifest_parse (bad[i], strlen (bad[i]), &error));
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE);
        g_clear_error (&error);
    }
    g_assert_false (bl_index_pick (arm_only, strlen (arm_only), &pick, &error));
    g_assert_cmpstr (error->message, ==, "the image has no linux/amd64 variant");
}

/* Random single-byte edits, truncations and splices of valid inputs fed
 * to every parser here: none may crash or read out of bounds (the
 * sanitizer build checks), each either parses or says why not. */
static void
test_mutated_replay (void)
{
    g_autofree char *manifest = read_blob (simple_layout, simple_digest);
    g_autofree char *index_path = g_build_filename (work_dir, "mp", "blobs", NULL);
    g_autofree char *index = read_blob (index_path, mp_index_digest);
    const char *seeds[] = {
        manifest,
        index,
        "Bearer realm=\"https://auth.example/token\",service=\"r\",scope=\"repository:a:pull\"",
        "Basic realm=\"x\"",
        "{\"token\": \"abc\", \"access_token\": \"def\"}",
        "{\"host\": \"a.io\", \"auth\": {\"kind\": \"basic\", \"username\": \"u\", "
        "\"password\": \"p\"}}",
    };
    g_autoptr (GRand) rand = g_rand_new_with_seed (4711);
    const char specials[] = "\"\\,= {}[]:\x00\x01\xff";

    for (guint round = 0; round < 20000; round++) {
        const char *seed = seeds[round % G_N_ELEMENTS (seeds)];
        gsize len = strlen (seed);
        g_autofree char *buf = g_malloc (len + 1);
        guint edits = g_rand_int_range (rand, 1, 6);
        BlDescriptor pick = { 0 };
        BlManifestKind kind;
        g_auto (BlChallenge) c = { 0 };

        memcpy (buf, seed, len + 1);
        for (guint e = 0; e < edits && len > 0; e++) {
            gsize at = g_rand_int_range (rand, 0, len);

            if (g_rand_boolean (rand))
                buf[at] = specials[g_rand_int_range (rand, 0, sizeof specials - 1)];
            else
                buf[at] = (char) g_rand_int_range (rand, 0, 256);
        }
        if (g_rand_int_range (rand, 0, 4) == 0)
            len = g_rand_int_range (rand, 0, len + 1);
        g_autofree char *slice = g_memdup2 (buf, len);

        bl_challenge_parse (slice, len, &c, NULL);
        g_free (bl_token_response_parse (slice, len, NULL));
        bl_manifest_free (bl_manifest_parse (slice, len, NULL));
        bl_manifest_kind (slice, len, "application/json", &kind, NULL);
        if (bl_index_pick (slice, len, &pick, NULL))
            g_assert_true (bl_image_ref_is_sha256 (pick.digest));
        bl_descriptor_clear (&pick);
        buf[len] = '\0';
        bl_registry_entry_free (bl_registry_entry_parse (buf, NULL));
    }
}

/* ── set-up ───────────────────────────────────────────────────────────── */

static char *
make_and_push (const char *preset, const char *name, const char *const *args)
{
    g_autofree char *dir = g_build_filename (work_dir, name, NULL);
    g_autofree char *name_tag = g_strconcat (name, ":latest", NULL);
    g_autoptr (GError) error = NULL;
    char *digest = bl_test_make_layout (dir, preset, args, &error);

    g_assert_no_error (error);
    bl_test_registry_push (registry, dir, name_tag, &error);
    g_assert_no_error (error);
    return digest;
}

static int
pull_helper (const char *text, const char *blobs)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BlRegistryPull) pull = pull_text (text, NULL, 0, blobs, NULL, &error);

    if (!pull) {
        g_printerr ("%s\n", error->message);
        return 1;
    }
    g_print ("%s\n", pull->manifest_digest);
    return 0;
}

int
main (int argc, char **argv)
{
    const char *big_args[] = { "--size-mb", "6", "--layers", "2", NULL };
    g_autoptr (GError) error = NULL;
    int status;

    if (argc == 4 && strcmp (argv[1], "--pull-helper") == 0)
        return pull_helper (argv[2], argv[3]);
    self_path = argv[0];
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/registry/entry-parse", test_entry_parse);
    g_test_add_func ("/registry/entries-load", test_entries_load);
    g_test_add_func ("/registry/options-validate", test_options_validate);
    g_test_add_func ("/registry/challenge-parse", test_challenge_parse);
    g_test_add_func ("/registry/manifest-parse", test_manifest_parse);
    g_test_add_func ("/registry/mutated-replay", test_mutated_replay);
    add_pull_test ("/registry/pull-by-tag", test_pull_by_tag);
    add_pull_test ("/registry/pull-by-digest", test_pull_by_digest);
    add_pull_test ("/registry/pull-index", test_pull_index);
    add_pull_test ("/registry/not-found-vs-unreachable", test_not_found_vs_unreachable);
    add_pull_test ("/registry/unqualified-search", test_unqualified_search);
    g_test_add ("/registry/tampered-blob", Blobs, "does not match its digest", blobs_setup,
                test_tampered_blob, blobs_teardown);
    g_test_add ("/registry/oversized-blob", Blobs, "is larger than its descriptor says",
                blobs_setup, test_tampered_blob, blobs_teardown);
    add_pull_test ("/registry/resume", test_resume);
    add_pull_test ("/registry/bearer-anonymous", test_bearer_anonymous);
    add_pull_test ("/registry/bearer-with-credentials", test_bearer_with_credentials);
    add_pull_test ("/registry/bearer-given", test_bearer_given);
    add_pull_test ("/registry/bearer-realm-elsewhere", test_bearer_realm_elsewhere);
    add_pull_test ("/registry/basic-auth", test_basic_auth);
    g_test_add ("/registry/huge-manifest/announced", Blobs, "length", blobs_setup,
                test_huge_manifest, blobs_teardown);
    g_test_add ("/registry/huge-manifest/chunked", Blobs, "chunked", blobs_setup,
                test_huge_manifest, blobs_teardown);
    add_pull_test ("/registry/tls", test_tls);
    add_pull_test ("/registry/redirect", test_redirect);
    add_pull_test ("/registry/redirect-private", test_redirect_private);
    add_pull_test ("/registry/leftovers-cleaned", test_leftovers_cleaned);
    add_pull_test ("/registry/cancel", test_cancel);
    add_pull_test ("/registry/cancel/token", test_cancel_token);
    add_pull_test ("/registry/cancel/mid-blob", test_cancel_mid_blob);
    add_pull_test ("/registry/cancel/pull-async", test_cancel_pull_async);
    add_pull_test ("/registry/concurrent-threads", test_concurrent_threads);
    add_pull_test ("/registry/concurrent-processes", test_concurrent_processes);
    add_pull_test ("/registry/full-disk", test_full_disk);

    work_dir = g_dir_make_tmp ("bl-test-registry-XXXXXX", NULL);
    registry = bl_test_registry_start (&error);
    g_assert_no_error (error);
    simple_layout = g_build_filename (work_dir, "simple", "blobs", NULL);
    simple_digest = make_and_push ("simple", "simple", NULL);
    mp_index_digest = make_and_push ("multiplatform", "mp", NULL);
    big_digest = make_and_push ("big", "big", big_args);

    status = g_test_run ();
    bl_test_registry_stop (registry);
    bl_test_rm_rf (work_dir);
    return status;
}

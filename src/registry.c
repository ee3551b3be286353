/* registry.c: pulling an image over the OCI distribution protocol.
 *
 * One pull: probe GET /v2/ (which tells whether a token is needed), fetch
 * the manifest by tag or digest, descend from an index to its linux/amd64
 * manifest, then fetch the config and layers, BL_REGISTRY_PARALLEL at a
 * time, each on its own thread with its own SoupSession. Registries are
 * untrusted: bodies are read with bounds, every blob is checked against
 * its descriptor's size and sha256 before it gets its final name, and the
 * registry's own answers never reach a message unquoted.
 *
 * Blob directory layout (shared with the image store):
 *   sha256/<hex>       verified blobs, only ever created by rename(2)
 *   .partial-<hex>     a blob being fetched; resumed with a Range request
 *   .tmp-XXXXXX        a manifest being written
 *   .pull.lock         OFD byte-range locks, one byte per blob (by digest),
 *                      so one process or thread fetches a blob at a time
 */
#define G_LOG_DOMAIN "boxlite-registry"

#include "registry-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boxlite-error.h"

#define USER_AGENT                                                                                 \
    "boxlite/"                                                                                     \
    "0.1"
/* Seconds a connection may stall before the request fails. */
#define IO_TIMEOUT_S 60
/* Redirects followed for one blob. */
#define REDIRECTS_MAX 5
#define CHUNK (64 * 1024)
/* Microseconds between two tries at a busy blob lock. */
#define LOCK_POLL_US 20000
/* Seconds after which a leftover .tmp- file is no longer being written. */
#define TMP_STALE_S 600

static const char manifest_accept[] = BL_MEDIA_OCI_INDEX
    ", " BL_MEDIA_OCI_MANIFEST ", " BL_MEDIA_DOCKER_LIST ", " BL_MEDIA_DOCKER_MANIFEST;

/* One registry and repository being pulled from. Shared by the blob
 * threads: only @token changes, under @lock. */
typedef struct {
    char *host;
    char *base; /* "https://host" */
    char *repository;
    gboolean plain_http;
    gboolean skip_verify;
    BlRegistryAuthKind auth;
    const char *username; /* owned by the entry */
    const char *password;
    GMutex lock;
    char *token;
    GCancellable *cancellable;
} Remote;

static void
remote_free (Remote *remote)
{
    g_free (remote->host);
    g_free (remote->base);
    g_free (remote->repository);
    g_mutex_clear (&remote->lock);
    g_free (remote->token);
    g_free (remote);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Remote, remote_free)

static Remote *
remote_new (const BlImageRef *ref, const BlRegistryEntry *entry, GCancellable *cancellable)
{
    Remote *remote = g_new0 (Remote, 1);
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
    remote->auth = entry ? entry->auth : BL_REGISTRY_AUTH_ANONYMOUS;
    if (entry) {
        remote->username = entry->username;
        remote->password = entry->password;
        if (entry->auth == BL_REGISTRY_AUTH_BEARER)
            remote->token = g_strdup (entry->token);
    }
    g_mutex_init (&remote->lock);
    remote->cancellable = cancellable;
    return remote;
}

static SoupSession *
session_new (void)
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
    g_autofree char *encoded = g_base64_encode ((const guchar *)pair, strlen (pair));

    memset (pair, 0, strlen (pair));
    return g_strconcat ("Basic ", encoded, NULL);
}

/* Sets the Authorization header the registry gets from us now. */
static void
authorize (Remote *remote, SoupMessage *msg)
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

static SoupMessage *
message_new (Remote *remote, const char *url, GError **error)
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
 * "cannot reach registry HOST: why" (or G_IO_ERROR_CANCELLED). */
static GInputStream *
send_message (Remote *remote, SoupSession *session, SoupMessage *msg, GError **error)
{
    g_autoptr (GError) local = NULL;
    GInputStream *stream = soup_session_send (session, msg, remote->cancellable, &local);

    if (stream)
        return stream;
    if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_propagate_error (error, g_steal_pointer (&local));
    else
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "cannot reach registry %s: %s",
                     remote->host, local->message);
    return NULL;
}

/* Reads @stream to its end, at most @max bytes.
 * Returns: (transfer full): the bytes, or NULL with @error set (@what
 * names the body in the message). */
static GBytes *
read_bounded (Remote *remote, GInputStream *stream, gsize max, const char *what, GError **error)
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
        if (body->len + (gsize)n > max) {
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

/* Asks the challenge's realm for a token to pull @remote's repository and
 * keeps it for the next requests. */
static gboolean
fetch_token (Remote *remote, SoupSession *session, const BlChallenge *challenge, GError **error)
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
    body = read_bounded (remote, stream, BL_REGISTRY_TOKEN_BODY_MAX, "a token", error);
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
answer_challenge (Remote *remote, SoupSession *session, SoupMessage *msg, GError **error)
{
    const char *header =
        soup_message_headers_get_one (soup_message_get_response_headers (msg), "WWW-Authenticate");
    g_auto (BlChallenge) challenge = {0};

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

/* GETs @url from the registry with our credentials, answering one
 * challenge. @range_from > 0 asks for the bytes from there on.
 * Returns: (transfer full): the body stream with *@out_msg set to the
 * answered message (any status but 401), or NULL with @error set. */
static GInputStream *
get (Remote *remote, SoupSession *session, const char *url, const char *accept, goffset range_from,
     gboolean with_auth, SoupMessage **out_msg, GError **error)
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
        stream = send_message (remote, session, msg, error);
        if (!stream)
            return NULL;
        if (soup_message_get_status (msg) != SOUP_STATUS_UNAUTHORIZED) {
            *out_msg = g_steal_pointer (&msg);
            return g_steal_pointer (&stream);
        }
        if (!with_auth || attempt > 0) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "registry %s refused access to %s%s", remote->host, remote->repository,
                         remote->auth == BL_REGISTRY_AUTH_ANONYMOUS
                             ? " (it may need credentials)"
                             : " with the configured credentials");
            return NULL;
        }
        if (!answer_challenge (remote, session, msg, error))
            return NULL;
    }
}

static gboolean
probe (Remote *remote, SoupSession *session, GError **error)
{
    g_autofree char *url = g_strconcat (remote->base, "/v2/", NULL);
    g_autoptr (SoupMessage) msg = NULL;
    g_autoptr (GInputStream) stream = get (remote, session, url, NULL, 0, TRUE, &msg, error);
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

/* Fetches manifest @reference (tag or digest), checking it against
 * @expect_digest (and @expect_size >= 0) when given, and against the
 * registry's Docker-Content-Digest otherwise.
 * Returns: (transfer full): its bytes with *@digest and *@content_type set. */
static GBytes *
fetch_manifest (Remote *remote, SoupSession *session, const char *image, const char *reference,
                const char *expect_digest, gint64 expect_size, char **digest, char **content_type,
                GError **error)
{
    g_autofree char *url =
        g_strdup_printf ("%s/v2/%s/manifests/%s", remote->base, remote->repository, reference);
    g_autoptr (SoupMessage) msg = NULL;
    g_autoptr (GInputStream) stream =
        get (remote, session, url, manifest_accept, 0, TRUE, &msg, error);
    g_autoptr (GBytes) body = NULL;
    g_autofree char *hex = NULL;
    g_autofree char *actual = NULL;
    SoupMessageHeaders *headers;
    const char *header_digest;
    goffset length;

    if (!stream)
        return NULL;
    headers = soup_message_get_response_headers (msg);
    if (soup_message_get_status (msg) == SOUP_STATUS_NOT_FOUND) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND, "image %s not found in %s",
                     image, remote->host);
        return NULL;
    }
    if (soup_message_get_status (msg) != SOUP_STATUS_OK) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "registry %s answered HTTP %u for the manifest of %s", remote->host,
                     soup_message_get_status (msg), image);
        return NULL;
    }
    length = soup_message_headers_get_content_length (headers);
    if (length > BL_REGISTRY_MANIFEST_MAX || (expect_size >= 0 && length > expect_size)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "the manifest of %s from %s is too large (%" G_GOFFSET_FORMAT " bytes)", image,
                     remote->host, length);
        return NULL;
    }
    body = read_bounded (remote, stream,
                         expect_size >= 0 ? (gsize)expect_size : BL_REGISTRY_MANIFEST_MAX,
                         "the manifest", error);
    if (!body)
        return NULL;
    hex = bl_sha256_hex (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
    actual = g_strconcat ("sha256:", hex, NULL);
    header_digest = soup_message_headers_get_one (headers, "Docker-Content-Digest");
    if (!expect_digest && header_digest && bl_digest_is_valid (header_digest))
        expect_digest = header_digest;
    if ((expect_digest && strcmp (expect_digest, actual) != 0) ||
        (expect_size >= 0 && (gsize)expect_size != g_bytes_get_size (body))) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "manifest %s from %s does not match its digest",
                     expect_digest ? expect_digest : actual, remote->host);
        return NULL;
    }
    *digest = g_steal_pointer (&actual);
    *content_type = g_strdup (soup_message_headers_get_content_type (headers, NULL));
    return g_steal_pointer (&body);
}

/* ── the blob directory ──────────────────────────────────────────────── */

static char *
blob_path (const char *blobs_dir, const char *digest)
{
    return g_build_filename (blobs_dir, "sha256", digest + 7, NULL);
}

/* TRUE when the blob is in place: it got there verified. */
static gboolean
blob_present (const char *blobs_dir, const BlDescriptor *desc)
{
    g_autofree char *path = blob_path (blobs_dir, desc->digest);
    struct stat st;

    return stat (path, &st) == 0 && S_ISREG (st.st_mode) && st.st_size == desc->size;
}

static gboolean
io_fail (GError **error, const char *what, const char *path)
{
    int saved = errno;

    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot %s %s: %s", what, path,
                 g_strerror (saved));
    return FALSE;
}

static gboolean
write_all (int fd, const void *data, gsize len)
{
    const guint8 *p = data;

    while (len > 0) {
        ssize_t n = write (fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return FALSE;
        p += n;
        len -= (gsize)n;
    }
    return TRUE;
}

/* Syncs @fd, closes it and renames @tmp to the blob's final path. */
static gboolean
commit_blob (int fd, const char *tmp, const char *blobs_dir, const char *digest, GError **error)
{
    g_autofree char *final = blob_path (blobs_dir, digest);
    gboolean synced = fsync (fd) == 0;

    close (fd);
    if (!synced || rename (tmp, final) < 0) {
        io_fail (error, "store blob", final);
        unlink (tmp);
        return FALSE;
    }
    return TRUE;
}

/* Stores @body, already verified as @digest, unless it is there. */
static gboolean
store_verified (const char *blobs_dir, const char *digest, GBytes *body, GError **error)
{
    g_autofree char *tmp = g_build_filename (blobs_dir, ".tmp-XXXXXX", NULL);
    BlDescriptor desc = {NULL, (char *)digest, (gint64)g_bytes_get_size (body)};
    int fd;

    if (blob_present (blobs_dir, &desc))
        return TRUE;
    fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0)
        return io_fail (error, "create", tmp);
    if (!write_all (fd, g_bytes_get_data (body, NULL), g_bytes_get_size (body))) {
        io_fail (error, "write", tmp);
        close (fd);
        unlink (tmp);
        return FALSE;
    }
    return commit_blob (fd, tmp, blobs_dir, digest, error);
}

/* Locks one byte of BLOBS/.pull.lock chosen by @digest, waiting while
 * someone else holds it when @wait. Open file description locks: they
 * exclude other threads of this process as well as other processes.
 * Returns: the descriptor holding the lock (closing it unlocks), or -1
 * (with @error set unless the lock was busy and we were not to wait). */
static int
lock_blob (const char *blobs_dir, const char *digest, gboolean wait, GCancellable *cancellable,
           GError **error)
{
    g_autofree char *path = g_build_filename (blobs_dir, ".pull.lock", NULL);
    char head[16] = {0};
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 1};
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0) {
        io_fail (error, "open", path);
        return -1;
    }
    memcpy (head, digest + 7, 15);
    lock.l_start = (off_t)g_ascii_strtoull (head, NULL, 16);
    while (fcntl (fd, F_OFD_SETLK, &lock) < 0) {
        if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
            io_fail (error, "lock", path);
            close (fd);
            return -1;
        }
        if (!wait) {
            close (fd);
            return -1;
        }
        if (g_cancellable_set_error_if_cancelled (cancellable, error)) {
            close (fd);
            return -1;
        }
        g_usleep (LOCK_POLL_US);
    }
    return fd;
}

/* Removes .partial- files nobody is fetching and old .tmp- files: what
 * interrupted pulls left behind. */
static void
clean_leftovers (const char *blobs_dir)
{
    g_autoptr (GDir) dir = g_dir_open (blobs_dir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name (dir))) {
        g_autofree char *path = g_build_filename (blobs_dir, name, NULL);
        struct stat st;

        if (g_str_has_prefix (name, ".partial-")) {
            g_autofree char *digest = g_strconcat ("sha256:", name + 9, NULL);
            int fd;

            if (!bl_digest_is_valid (digest))
                continue;
            /* A partial someone is fetching has its lock held: leave it. */
            fd = lock_blob (blobs_dir, digest, FALSE, NULL, NULL);
            if (fd >= 0) {
                unlink (path);
                close (fd);
            }
        } else if (g_str_has_prefix (name, ".tmp-") && stat (path, &st) == 0 &&
                   st.st_mtime + TMP_STALE_S < g_get_real_time () / G_USEC_PER_SEC) {
            unlink (path);
        }
    }
}

/* ── fetching blobs ──────────────────────────────────────────────────── */

typedef struct {
    char *digest;
    guint64 done;
    guint64 total;
    gboolean finished; /* one per worker, last */
} Progress;

static void
progress_free (Progress *p)
{
    g_free (p->digest);
    g_free (p);
}

typedef struct {
    Remote *remote;
    const char *blobs_dir;
    const char *image;
    GArray *blobs; /* of BlDescriptor */
    gint next;
    GAsyncQueue *progress; /* of Progress */
    GMutex lock;
    GError *error; /* the first failure */
    GCancellable *cancellable;
} Fetch;

static void
report (Fetch *fetch, const char *digest, guint64 done, guint64 total)
{
    Progress *p = g_new0 (Progress, 1);

    p->digest = g_strdup (digest);
    p->done = done;
    p->total = total;
    g_async_queue_push (fetch->progress, p);
}

/* Hashes the first @len bytes of @fd into @sum. */
static gboolean
hash_prefix (int fd, goffset len, GChecksum *sum)
{
    g_autofree guint8 *buf = g_malloc (CHUNK);
    goffset at = 0;

    while (at < len) {
        ssize_t n = pread (fd, buf, MIN ((goffset)CHUNK, len - at), at);

        if (n <= 0)
            return FALSE;
        g_checksum_update (sum, buf, n);
        at += n;
    }
    return TRUE;
}

static gboolean
blob_fail (Fetch *fetch, const BlDescriptor *desc, GError **error, const char *why)
{
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE, "blob %s from %s %s", desc->digest,
                 fetch->remote->host, why);
    return FALSE;
}

/* GETs the blob (following redirects; credentials go only to the
 * registry itself), from byte @from on. */
static GInputStream *
get_blob (Fetch *fetch, SoupSession *session, const BlDescriptor *desc, goffset from,
          SoupMessage **msg, GError **error)
{
    Remote *remote = fetch->remote;
    g_autofree char *url =
        g_strdup_printf ("%s/v2/%s/blobs/%s", remote->base, remote->repository, desc->digest);
    g_autofree char *origin = g_strconcat (remote->base, "/", NULL);

    for (guint hops = 0; hops <= REDIRECTS_MAX; hops++) {
        gboolean own = g_str_has_prefix (url, origin);
        GInputStream *stream = get (remote, session, url, NULL, from, own, msg, error);
        const char *location;
        g_autoptr (GUri) next = NULL;

        if (!stream || !SOUP_STATUS_IS_REDIRECTION (soup_message_get_status (*msg)))
            return stream;
        g_object_unref (stream);
        location =
            soup_message_headers_get_one (soup_message_get_response_headers (*msg), "Location");
        next = location ? g_uri_parse_relative (soup_message_get_uri (*msg), location,
                                                G_URI_FLAGS_ENCODED, NULL)
                        : NULL;
        g_clear_object (msg);
        if (!next || (g_strcmp0 (g_uri_get_scheme (next), "https") != 0 &&
                      g_strcmp0 (g_uri_get_scheme (next), "http") != 0)) {
            blob_fail (fetch, desc, error, "redirects to an invalid location");
            return NULL;
        }
        g_free (url);
        url = g_uri_to_string (next);
    }
    blob_fail (fetch, desc, error, "redirects too many times");
    return NULL;
}

/* Checks the answer to a blob GET and whether it resumes at @from.
 * Returns: the offset the body starts at, or -1 with @error set. */
static goffset
body_start (Fetch *fetch, SoupMessage *msg, const BlDescriptor *desc, goffset from, GError **error)
{
    SoupMessageHeaders *headers = soup_message_get_response_headers (msg);
    guint status = soup_message_get_status (msg);
    goffset start = 0, end = 0, total = 0, length;

    if (status == SOUP_STATUS_NOT_FOUND) {
        blob_fail (fetch, desc, error, "is missing (HTTP 404)");
        return -1;
    }
    if (status == SOUP_STATUS_PARTIAL_CONTENT && from > 0 &&
        soup_message_headers_get_content_range (headers, &start, &end, &total) && start == from)
        ;
    else if (status == SOUP_STATUS_OK)
        start = 0;
    else {
        g_autofree char *why = g_strdup_printf ("could not be fetched (HTTP %u)", status);

        blob_fail (fetch, desc, error, why);
        return -1;
    }
    length = soup_message_headers_get_content_length (headers);
    if (length > 0 && start + length > desc->size) {
        blob_fail (fetch, desc, error, "is larger than its descriptor says");
        return -1;
    }
    return start;
}

/* Streams the body into @fd (positioned at @at) and @sum, refusing more
 * than the descriptor's size. Returns: bytes now in the file, or -1. */
static goffset
stream_body (Fetch *fetch, GInputStream *stream, int fd, goffset at, GChecksum *sum,
             const BlDescriptor *desc, GError **error)
{
    g_autofree guint8 *buf = g_malloc (CHUNK);

    for (;;) {
        gssize n = g_input_stream_read (stream, buf, CHUNK, fetch->cancellable, error);

        if (n < 0) {
            g_prefix_error (error, "fetching blob %s from %s: ", desc->digest, fetch->remote->host);
            return -1;
        }
        if (n == 0)
            return at;
        if (at + n > desc->size) {
            blob_fail (fetch, desc, error, "is larger than its descriptor says");
            return -1;
        }
        if (!write_all (fd, buf, n)) {
            io_fail (error, "write blob", desc->digest);
            return -1;
        }
        g_checksum_update (sum, buf, n);
        at += n;
        report (fetch, desc->digest, at, desc->size);
    }
}

/* Fetches one blob into .partial-<hex> (resuming what is there), verifies
 * it and renames it into place. Call with the blob's lock held. */
static gboolean
fetch_locked (Fetch *fetch, SoupSession *session, const BlDescriptor *desc, GError **error)
{
    g_autofree char *partial =
        g_strdup_printf ("%s/.partial-%s", fetch->blobs_dir, desc->digest + 7);
    g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
    g_autoptr (SoupMessage) msg = NULL;
    g_autoptr (GInputStream) stream = NULL;
    struct stat st;
    goffset have, start, got;
    int fd = open (partial, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0)
        return io_fail (error, "create", partial);
    /* A partial as long as the blob is one that crashed before its rename:
     * fetch it again rather than trust it. */
    have = fstat (fd, &st) == 0 && st.st_size < desc->size ? st.st_size : 0;
    if (have > 0 && !hash_prefix (fd, have, sum))
        have = 0;
    stream = get_blob (fetch, session, desc, have, &msg, error);
    start = stream ? body_start (fetch, msg, desc, have, error) : -1;
    if (start < 0 || ftruncate (fd, start) < 0 || lseek (fd, start, SEEK_SET) < 0) {
        close (fd);
        return FALSE;
    }
    if (start != have)
        g_checksum_reset (sum);
    if (start > 0)
        g_debug ("resuming blob %s at byte %" G_GOFFSET_FORMAT, desc->digest, start);
    got = stream_body (fetch, stream, fd, start, sum, desc, error);
    if (got >= 0 && got != desc->size) {
        g_autofree char *why = g_strdup_printf (
            "ended after %" G_GOFFSET_FORMAT " of %" G_GINT64_FORMAT " bytes", got, desc->size);

        blob_fail (fetch, desc, error, why);
        got = -1;
    } else if (got >= 0 && strcmp (g_checksum_get_string (sum), desc->digest + 7) != 0) {
        blob_fail (fetch, desc, error, "does not match its digest");
        unlink (partial);
        got = -1;
    }
    if (got < 0) {
        close (fd);
        return FALSE;
    }
    return commit_blob (fd, partial, fetch->blobs_dir, desc->digest, error);
}

static gboolean
fetch_blob (Fetch *fetch, SoupSession *session, const BlDescriptor *desc, GError **error)
{
    gboolean ok;
    int lock;

    if (blob_present (fetch->blobs_dir, desc))
        return TRUE;
    lock = lock_blob (fetch->blobs_dir, desc->digest, TRUE, fetch->cancellable, error);
    if (lock < 0)
        return FALSE;
    /* Someone else may have fetched it while we waited. */
    ok = blob_present (fetch->blobs_dir, desc) || fetch_locked (fetch, session, desc, error);
    close (lock);
    return ok;
}

static gpointer
fetch_worker (gpointer data)
{
    Fetch *fetch = data;
    g_autoptr (SoupSession) session = session_new ();
    Progress *last = g_new0 (Progress, 1);

    for (;;) {
        gint i = g_atomic_int_add (&fetch->next, 1);
        g_autoptr (GError) local = NULL;

        if (i >= (gint)fetch->blobs->len || g_cancellable_is_cancelled (fetch->cancellable))
            break;
        if (!fetch_blob (fetch, session, &g_array_index (fetch->blobs, BlDescriptor, i), &local)) {
            g_mutex_lock (&fetch->lock);
            /* The first failure is the story; the others were cancelled by it. */
            if (!fetch->error)
                fetch->error = g_steal_pointer (&local);
            g_mutex_unlock (&fetch->lock);
            g_cancellable_cancel (fetch->cancellable);
            break;
        }
    }
    last->finished = TRUE;
    g_async_queue_push (fetch->progress, last);
    return NULL;
}

static void
forward_cancel (GCancellable *outer, GCancellable *inner)
{
    g_cancellable_cancel (inner);
}

/* Fetches @blobs with up to BL_REGISTRY_PARALLEL threads, reporting
 * progress from this thread. */
static gboolean
fetch_blobs (Remote *remote, const char *blobs_dir, GArray *blobs, BlRegistryProgressFunc progress,
             gpointer progress_data, GError **error)
{
    Fetch fetch = {.remote = remote, .blobs_dir = blobs_dir, .blobs = blobs};
    GThread *threads[BL_REGISTRY_PARALLEL];
    guint n = MIN (BL_REGISTRY_PARALLEL, blobs->len), finished = 0;
    g_autoptr (GCancellable) inner = g_cancellable_new ();
    gulong handler = 0;

    if (remote->cancellable)
        handler = g_cancellable_connect (remote->cancellable, G_CALLBACK (forward_cancel),
                                         g_object_ref (inner), g_object_unref);
    fetch.cancellable = inner;
    fetch.progress = g_async_queue_new_full ((GDestroyNotify)progress_free);
    g_mutex_init (&fetch.lock);
    for (guint i = 0; i < n; i++)
        threads[i] = g_thread_new ("bl-blob", fetch_worker, &fetch);
    while (finished < n) {
        Progress *p = g_async_queue_pop (fetch.progress);

        if (p->finished)
            finished++;
        else if (progress)
            progress (p->digest, p->done, p->total, progress_data);
        progress_free (p);
    }
    for (guint i = 0; i < n; i++)
        g_thread_join (threads[i]);
    if (remote->cancellable)
        g_cancellable_disconnect (remote->cancellable, handler);
    g_async_queue_unref (fetch.progress);
    g_mutex_clear (&fetch.lock);
    if (fetch.error) {
        g_propagate_error (error, fetch.error);
        return FALSE;
    }
    return TRUE;
}

/* ── one pull from one registry ──────────────────────────────────────── */

static gboolean
ensure_dirs (const char *blobs_dir, GError **error)
{
    g_autofree char *sha = g_build_filename (blobs_dir, "sha256", NULL);

    if (g_mkdir_with_parents (sha, 0755) < 0)
        return io_fail (error, "create", sha);
    return TRUE;
}

/* The image behind @ref on its registry: manifest (and index) stored,
 * config and layer descriptors returned in @blobs. */
static BlRegistryPull *
pull_manifest (Remote *remote, SoupSession *session, const BlImageRef *ref, const char *blobs_dir,
               GArray *blobs, GError **error)
{
    g_autoptr (BlRegistryPull) pull = g_new0 (BlRegistryPull, 1);
    g_autofree char *content_type = NULL;
    g_autofree char *digest = NULL;
    g_autoptr (GBytes) body = NULL;
    g_autoptr (BlManifest) manifest = NULL;
    BlManifestKind kind;

    pull->reference = bl_image_ref_to_string (ref);
    if (ref->digest && !bl_digest_is_valid (ref->digest)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                     "image %s: only sha256 digests are supported", pull->reference);
        return NULL;
    }
    body = fetch_manifest (remote, session, pull->reference, ref->digest ? ref->digest : ref->tag,
                           ref->digest, -1, &digest, &content_type, error);
    if (!body || !bl_manifest_kind (g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                                    content_type, &kind, error))
        return NULL;
    if (kind == BL_MANIFEST_KIND_INDEX) {
        BlDescriptor chosen = {0};
        gboolean ok = bl_index_pick (g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                                     &chosen, error) &&
                      store_verified (blobs_dir, digest, body, error);

        pull->index_digest = g_steal_pointer (&digest);
        g_clear_pointer (&body, g_bytes_unref);
        g_clear_pointer (&content_type, g_free);
        if (ok)
            body = fetch_manifest (remote, session, pull->reference, chosen.digest, chosen.digest,
                                   chosen.size, &digest, &content_type, error);
        bl_descriptor_clear (&chosen);
        if (!body || !bl_manifest_kind (g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                                        content_type, &kind, error))
            return NULL;
        if (kind != BL_MANIFEST_KIND_IMAGE) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_IMAGE,
                         "image %s: the index names another index, not an image", pull->reference);
            return NULL;
        }
    }
    manifest = bl_manifest_parse (g_bytes_get_data (body, NULL), g_bytes_get_size (body), error);
    if (!manifest) {
        g_prefix_error (error, "image %s from %s: ", pull->reference, remote->host);
        return NULL;
    }
    if (!store_verified (blobs_dir, digest, body, error))
        return NULL;
    pull->manifest_digest = g_steal_pointer (&digest);
    g_array_append_val (blobs, manifest->config);
    memset (&manifest->config, 0, sizeof manifest->config);
    for (guint i = 0; i < manifest->layers->len; i++) {
        BlDescriptor *layer = &g_array_index (manifest->layers, BlDescriptor, i);
        BlDescriptor copy = {g_strdup (layer->media_type), g_strdup (layer->digest), layer->size};

        g_array_append_val (blobs, copy);
    }
    return g_steal_pointer (&pull);
}

static BlRegistryPull *
pull_one (const BlImageRef *ref, const BlRegistryEntry *entry, const char *blobs_dir,
          BlRegistryProgressFunc progress, gpointer progress_data, GCancellable *cancellable,
          GError **error)
{
    g_autoptr (Remote) remote = remote_new (ref, entry, cancellable);
    g_autoptr (SoupSession) session = session_new ();
    g_autoptr (GArray) blobs = g_array_new (FALSE, TRUE, sizeof (BlDescriptor));
    g_autoptr (BlRegistryPull) pull = NULL;

    g_array_set_clear_func (blobs, (GDestroyNotify)bl_descriptor_clear);
    g_debug ("pulling %s/%s from %s", ref->registry, ref->repository, remote->base);
    if (!probe (remote, session, error))
        return NULL;
    pull = pull_manifest (remote, session, ref, blobs_dir, blobs, error);
    if (!pull || !fetch_blobs (remote, blobs_dir, blobs, progress, progress_data, error))
        return NULL;
    return g_steal_pointer (&pull);
}

static const BlRegistryEntry *
entry_for (BlRegistryEntry *const *entries, guint n_entries, const char *host)
{
    for (guint i = 0; i < n_entries; i++)
        if (strcmp (entries[i]->host, host) == 0)
            return entries[i];
    return NULL;
}

void
bl_registry_pull_free (BlRegistryPull *pull)
{
    if (!pull)
        return;
    g_free (pull->reference);
    g_free (pull->manifest_digest);
    g_free (pull->index_digest);
    g_free (pull);
}

BlRegistryPull *
bl_registry_pull (const BlImageRef *ref, BlRegistryEntry *const *entries, guint n_entries,
                  const char *blobs_dir, BlRegistryProgressFunc progress, gpointer progress_data,
                  GCancellable *cancellable, GError **error)
{
    g_autoptr (GPtrArray) hosts = g_ptr_array_new_with_free_func (g_free);
    g_autofree char *image = NULL;
    g_autofree char *tried = NULL;
    BlRegistryPull *pull = NULL;

    if (!ensure_dirs (blobs_dir, error))
        return NULL;
    if (ref->qualified) {
        pull = pull_one (ref, entry_for (entries, n_entries, ref->registry), blobs_dir, progress,
                         progress_data, cancellable, error);
        if (pull)
            clean_leftovers (blobs_dir);
        return pull;
    }
    for (guint i = 0; i < n_entries; i++)
        if (entries[i]->search)
            g_ptr_array_add (hosts, g_strdup (entries[i]->host));
    g_ptr_array_add (hosts, g_strdup (BL_IMAGE_REF_DEFAULT_REGISTRY));
    for (guint i = 0; i < hosts->len; i++) {
        const char *host = g_ptr_array_index (hosts, i);
        g_autoptr (BlImageRef) candidate = bl_image_ref_with_registry (ref, host);
        g_autoptr (GError) local = NULL;

        /* NULL: the name grows too long on that registry; not there, then. */
        if (!candidate)
            continue;
        pull = pull_one (candidate, entry_for (entries, n_entries, host), blobs_dir, progress,
                         progress_data, cancellable, &local);
        if (pull) {
            clean_leftovers (blobs_dir);
            return pull;
        }
        if (!g_error_matches (local, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND)) {
            g_propagate_error (error, g_steal_pointer (&local));
            return NULL;
        }
    }
    g_ptr_array_add (hosts, NULL);
    tried = g_strjoinv (", ", (char **)hosts->pdata);
    image = bl_image_ref_to_string (ref);
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND, "image %s not found in %s", image,
                 tried);
    return NULL;
}

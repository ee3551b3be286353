/* registry-blobs.c: the blob directory a pull fills, and the threads
 * that fill it.
 *
 * Layout (an OCI layout's "blobs/", shared with the image store):
 *   sha256/<hex>       verified blobs, only ever created by rename(2)
 *   .partial-<hex>     a blob being fetched; resumed with a Range request
 *   .tmp-XXXXXX        a manifest being written
 *   .pull.lock         OFD byte-range locks, one byte per blob (by digest),
 *                      so one process or thread fetches a blob at a time
 *
 * A blob's bytes are counted and hashed as they arrive: more than its
 * descriptor's size is refused at once, and only a blob whose size and
 * sha256 match gets its final name. What an interrupted pull leaves is a
 * .partial- file, resumed by the next pull of that blob or removed by the
 * next successful pull.
 */
#define G_LOG_DOMAIN "boxlite-registry"

#include "registry-private.h"
#include "fd-io.h"
#include "os-error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boxlite/boxlite-error.h>

/* Redirects followed for one blob. */
#define REDIRECTS_MAX 5
#define CHUNK (64 * 1024)
/* Microseconds between two tries at a busy blob lock. */
#define LOCK_POLL_US 20000
/* Seconds after which a leftover .tmp- file is no longer being written. */
#define TMP_STALE_S 600

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

/* Syncs @fd, closes it and renames @tmp to the blob's final path. */
static gboolean
commit_blob (int fd, const char *tmp, const char *blobs_dir, const char *digest, GError **error)
{
    g_autofree char *final = blob_path (blobs_dir, digest);
    gboolean synced = fsync (fd) == 0;

    close (fd);
    if (!synced || rename (tmp, final) < 0) {
        bl_os_error (error, errno, "store blob", final);
        unlink (tmp);
        return FALSE;
    }
    return TRUE;
}

/* Stores @body, already verified as @digest, unless it is there. */
gboolean
bl_blobs_store (const char *blobs_dir, const char *digest, GBytes *body, GError **error)
{
    g_autofree char *tmp = g_build_filename (blobs_dir, ".tmp-XXXXXX", NULL);
    BlDescriptor desc = { NULL, (char *) digest, (gint64) g_bytes_get_size (body) };
    int fd;

    if (blob_present (blobs_dir, &desc))
        return TRUE;
    fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0)
        return bl_os_error (error, errno, "create", tmp);
    if (!bl_fd_write_all (fd, g_bytes_get_data (body, NULL), g_bytes_get_size (body))) {
        bl_os_error (error, errno, "write", tmp);
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
    char head[16] = { 0 };
    struct flock lock = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 1 };
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0) {
        bl_os_error (error, errno, "open", path);
        return -1;
    }
    memcpy (head, digest + 7, 15);
    lock.l_start = (off_t) g_ascii_strtoull (head, NULL, 16);
    while (fcntl (fd, F_OFD_SETLK, &lock) < 0) {
        if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
            bl_os_error (error, errno, "lock", path);
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
void
bl_blobs_clean (const char *blobs_dir)
{
    g_autoptr (GDir) dir = g_dir_open (blobs_dir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name (dir))) {
        g_autofree char *path = g_build_filename (blobs_dir, name, NULL);
        struct stat st;

        if (g_str_has_prefix (name, ".partial-")) {
            g_autofree char *digest = g_strconcat ("sha256:", name + 9, NULL);
            int fd;

            if (!bl_image_ref_is_sha256 (digest))
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
    BlRemote *remote;
    const char *blobs_dir;
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
        ssize_t n = pread (fd, buf, MIN ((goffset) CHUNK, len - at), at);

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
    BlRemote *remote = fetch->remote;
    g_autofree char *url =
        g_strdup_printf ("%s/v2/%s/blobs/%s", remote->base, remote->repository, desc->digest);
    g_autofree char *origin = g_strconcat (remote->base, "/", NULL);

    for (guint hops = 0; hops <= REDIRECTS_MAX; hops++) {
        gboolean own = g_str_has_prefix (url, origin);
        GInputStream *stream = bl_remote_get (remote, session, url, NULL, from, own, msg, error);
        const char *location;
        g_autoptr (GUri) next = NULL;

        /* Not found is for manifests; a blob refused is a broken image. */
        if (!stream && g_error_matches (*error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND))
            (*error)->code = BOXLITE_ERROR_IMAGE;
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
        if (!bl_remote_redirect_allowed (remote, next, error))
            return NULL;
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
    gboolean resumed;

    if (status == SOUP_STATUS_NOT_FOUND) {
        blob_fail (fetch, desc, error, "is missing (HTTP 404)");
        return -1;
    }
    resumed = status == SOUP_STATUS_PARTIAL_CONTENT && from > 0 &&
              soup_message_headers_get_content_range (headers, &start, &end, &total) &&
              start == from;
    if (!resumed && status != SOUP_STATUS_OK) {
        g_autofree char *why = g_strdup_printf ("could not be fetched (HTTP %u)", status);

        blob_fail (fetch, desc, error, why);
        return -1;
    }
    if (!resumed)
        start = 0;
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
        if (!bl_fd_write_all (fd, buf, n)) {
            bl_os_error (error, errno, "write blob", desc->digest);
            return -1;
        }
        g_checksum_update (sum, buf, n);
        at += n;
        report (fetch, desc->digest, at, desc->size);
    }
}

/* Closes @fd after a failed fetch, removing @partial when it holds
 * nothing worth resuming. Returns: FALSE. */
static gboolean
drop_partial (int fd, const char *partial)
{
    struct stat st;

    if (fstat (fd, &st) == 0 && st.st_size == 0)
        unlink (partial);
    close (fd);
    return FALSE;
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
        return bl_os_error (error, errno, "create", partial);
    /* A partial as long as the blob is one that crashed before its rename:
     * fetch it again rather than trust it. */
    have = fstat (fd, &st) == 0 && st.st_size < desc->size ? st.st_size : 0;
    if (have > 0 && !hash_prefix (fd, have, sum))
        have = 0;
    stream = get_blob (fetch, session, desc, have, &msg, error);
    start = stream ? body_start (fetch, msg, desc, have, error) : -1;
    if (start < 0 || ftruncate (fd, start) < 0 || lseek (fd, start, SEEK_SET) < 0)
        return drop_partial (fd, partial);
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
    if (got < 0)
        return drop_partial (fd, partial);
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
    g_autoptr (SoupSession) session = bl_remote_session_new ();
    Progress *last = g_new0 (Progress, 1);

    for (;;) {
        gint i = g_atomic_int_add (&fetch->next, 1);
        g_autoptr (GError) local = NULL;

        if (i >= (gint) fetch->blobs->len || g_cancellable_is_cancelled (fetch->cancellable))
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

/* Fetches @blobs with up to BL_REGISTRY_PARALLEL threads, reporting
 * progress from this thread. The first failure cancels the remote's
 * cancellable, which belongs to this pull alone, so the other threads
 * stop too. */
gboolean
bl_blobs_fetch (BlRemote *remote, const char *blobs_dir, GArray *blobs,
                BlRegistryProgressFunc progress, gpointer progress_data, GError **error)
{
    Fetch fetch = { .remote = remote, .blobs_dir = blobs_dir, .blobs = blobs };
    GThread *threads[BL_REGISTRY_PARALLEL];
    guint n = MIN (BL_REGISTRY_PARALLEL, blobs->len), finished = 0;

    fetch.cancellable = remote->cancellable;
    fetch.progress = g_async_queue_new_full ((GDestroyNotify) progress_free);
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
    g_async_queue_unref (fetch.progress);
    g_mutex_clear (&fetch.lock);
    if (fetch.error) {
        g_propagate_error (error, fetch.error);
        return FALSE;
    }
    /* A worker that finds the pull cancelled before its next blob stops
     * without an error of its own: the blobs it skipped are still missing. */
    return !g_cancellable_set_error_if_cancelled (fetch.cancellable, error);
}

gboolean
bl_blobs_prepare (const char *blobs_dir, GError **error)
{
    g_autofree char *sha = g_build_filename (blobs_dir, "sha256", NULL);

    if (g_mkdir_with_parents (sha, 0755) < 0)
        return bl_os_error (error, errno, "create", sha);
    return TRUE;
}

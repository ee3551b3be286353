/* serve-token.c: the API's bearer token, kept in $BOXLITE_HOME/api-token.
 *
 * Anyone who can read the file can drive every box, so a token file that
 * another user could have written or can read is refused rather than used:
 * it must be a regular file (not a link), owned by us, with no group or
 * other permission bits. A missing file is created with 32 random bytes,
 * hex-encoded, mode 0600, exclusively (O_EXCL), so two servers starting at
 * once do not overwrite each other's token. */
#define G_LOG_DOMAIN "boxlite-serve"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve.h"

#define TOKEN_BYTES 32
#define TOKEN_MAX_LEN 512

static char *
random_token (GError **error)
{
    guint8 raw[TOKEN_BYTES];
    int fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
    GString *hex = g_string_new (NULL);

    if (fd < 0 || read (fd, raw, sizeof raw) != (ssize_t) sizeof raw) {
        int saved = errno;
        if (fd >= 0)
            close (fd);
        g_string_free (hex, TRUE);
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                     "cannot read random bytes: %s", g_strerror (saved));
        return NULL;
    }
    close (fd);
    for (guint i = 0; i < sizeof raw; i++)
        g_string_append_printf (hex, "%02x", raw[i]);
    return g_string_free (hex, FALSE);
}

static char *
create_token (const char *path, GError **error)
{
    g_autofree char *token = random_token (error);
    g_autofree char *line = NULL;
    int fd;

    if (!token)
        return NULL;
    fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int saved = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s", path,
                     g_strerror (saved));
        return NULL;
    }
    line = g_strdup_printf ("%s\n", token);
    gsize len = strlen (line);
    gboolean ok = write (fd, line, len) == (ssize_t) len;
    int saved = errno;
    if (close (fd) != 0 && ok) {
        ok = FALSE;
        saved = errno;
    }
    if (!ok) {
        unlink (path);
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot write %s: %s", path,
                     g_strerror (saved));
        return NULL;
    }
    return g_steal_pointer (&token);
}

static char *
read_token (const char *path, int fd, GError **error)
{
    struct stat st;
    char buf[TOKEN_MAX_LEN + 1];
    ssize_t n;

    if (fstat (fd, &st) != 0) {
        int saved = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", path,
                     g_strerror (saved));
        return NULL;
    }
    if (!S_ISREG (st.st_mode) || st.st_uid != geteuid () || (st.st_mode & 0077)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PERMISSION_DENIED,
                     "%s must be a regular file of this user with mode 0600 (it has mode %04o, "
                     "owner %u); fix it with chmod 600 or remove it to have a new one made",
                     path, (guint) (st.st_mode & 07777), (guint) st.st_uid);
        return NULL;
    }
    n = read (fd, buf, TOKEN_MAX_LEN + 1);
    if (n < 0) {
        int saved = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", path,
                     g_strerror (saved));
        return NULL;
    }
    if (n > TOKEN_MAX_LEN) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "%s: longer than %d bytes", path, TOKEN_MAX_LEN);
        return NULL;
    }
    buf[n] = '\0';
    g_strstrip (buf);
    for (const char *p = buf; *p; p++) {
        if (!g_ascii_isgraph (*p)) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                         "%s: the token must be printable, without spaces", path);
            return NULL;
        }
    }
    if (strlen (buf) < 16) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "%s: a token needs at least 16 characters", path);
        return NULL;
    }
    return g_strdup (buf);
}

char *
bl_serve_token_load (const char *home_dir, gboolean *created, GError **error)
{
    g_autofree char *path = g_build_filename (home_dir, "api-token", NULL);

    *created = FALSE;
    if (g_mkdir_with_parents (home_dir, 0700) != 0) {
        int saved = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot create %s: %s",
                     home_dir, g_strerror (saved));
        return NULL;
    }
    for (guint attempt = 0; attempt < 2; attempt++) {
        int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            char *token = read_token (path, fd, error);
            close (fd);
            return token;
        }
        if (errno != ENOENT) {
            int saved = errno;
            g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot open %s: %s%s",
                         path, g_strerror (saved),
                         saved == ELOOP ? " (a symbolic link is refused)" : "");
            return NULL;
        }
        g_autoptr (GError) local = NULL;
        char *token = create_token (path, &local);
        if (token) {
            *created = TRUE;
            return token;
        }
        /* Another server made it first: read theirs. */
        if (!g_error_matches (local, G_IO_ERROR, G_IO_ERROR_EXISTS)) {
            g_propagate_error (error, g_steal_pointer (&local));
            return NULL;
        }
    }
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot settle on a token in %s", path);
    return NULL;
}

gboolean
bl_serve_token_equal (const char *token, const char *offered)
{
    gsize a = strlen (token), b = strlen (offered);
    guint8 diff = a != b;

    /* Time depends on the offered length only, never on where it differs. */
    for (gsize i = 0; i < b; i++)
        diff |= (guint8) (offered[i] ^ token[i % (a ? a : 1)]);
    return diff == 0;
}

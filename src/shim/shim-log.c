/* shim-log.c: the monitor's own log and reading the tails of the others. */
#define G_LOG_DOMAIN "boxlite-shim"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "shim.h"
#include "os-error.h"

/* Longest log tail we read; a guest can fill console.log with anything. */
#define MAX_TAIL_BYTES 4096

gboolean
shim_log_redirect (const char *box_dir, GError **error)
{
    g_autofree char *path = g_build_filename (box_dir, "monitor.log", NULL);
    int fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);

    if (fd < 0) {
        bl_os_error (error, errno, "open", path);
        return FALSE;
    }
    int devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) {
        dup2 (devnull, STDIN_FILENO);
        close (devnull);
    }
    dup2 (fd, STDOUT_FILENO);
    dup2 (fd, STDERR_FILENO);
    close (fd);
    return TRUE;
}

/* Keeps printable ASCII: the tail ends up in a one-line message and a JSON
 * record, and the guest controls console.log. */
static void
sanitize (char *text)
{
    for (char *p = text; *p; p++) {
        if (*p == '\r')
            *p = '\n';
        else if (*p != '\n' && (*p < 0x20 || *p > 0x7e))
            *p = '?';
    }
}

char *
shim_log_tail (const char *box_dir, const char *name, guint max_lines)
{
    g_autofree char *path = g_build_filename (box_dir, name, NULL);
    char buf[MAX_TAIL_BYTES + 1];
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0)
        return NULL;
    off_t size = lseek (fd, 0, SEEK_END);
    off_t start = size > MAX_TAIL_BYTES ? size - MAX_TAIL_BYTES : 0;
    ssize_t n = size > 0 ? pread (fd, buf, MAX_TAIL_BYTES, start) : 0;
    close (fd);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = '?';
    sanitize (buf);

    g_auto (GStrv) lines = g_strsplit (buf, "\n", -1);
    g_autoptr (GPtrArray) kept = g_ptr_array_new ();
    for (guint i = start > 0 ? 1 : 0; lines[i]; i++) /* the first may be cut */
        if (*g_strstrip (lines[i]))
            g_ptr_array_add (kept, lines[i]);
    if (kept->len == 0)
        return NULL;
    guint from = kept->len > max_lines ? kept->len - max_lines : 0;
    GString *s = g_string_new (NULL);
    for (guint i = from; i < kept->len; i++) {
        if (s->len)
            g_string_append (s, " | ");
        g_string_append (s, g_ptr_array_index (kept, i));
    }
    return g_string_free (s, FALSE);
}

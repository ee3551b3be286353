/* os-error.c: an operating-system failure as a GError that keeps its cause. */
#include "os-error.h"

gboolean
bl_os_error (GError **error, int saved_errno, const char *what, const char *path)
{
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno), "cannot %s %s: %s", what,
                 path, g_strerror (saved_errno));
    return FALSE;
}

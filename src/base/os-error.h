/* os-error.h: an operating-system failure as a GError that keeps its cause. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Sets @error to "cannot @what @path: reason" in G_IO_ERROR, with the code
 * g_io_error_from_errno() gives for @saved_errno (ENOSPC stays
 * G_IO_ERROR_NO_SPACE whatever was being written). Returns FALSE. */
gboolean bl_os_error (GError **error, int saved_errno, const char *what, const char *path);

G_END_DECLS

/* console-log.h: the guest's console output, kept in a file with a cap.
 *
 * The guest writes to its console as much as it likes. Appended to @path
 * until it would grow past the cap, then @path is renamed to "<path>.1"
 * (replacing the previous one) and begun afresh, so that at most twice the
 * cap is kept on disk however much the guest writes.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The cap per file, in bytes. */
#define BL_CONSOLE_LOG_MAX (1024 * 1024)

typedef struct _BlConsoleLog BlConsoleLog;

/* Opens @path for appending (created 0600; an existing file is kept and
 * counts toward the cap). @cap is in bytes (BL_CONSOLE_LOG_MAX normally).
 * NULL with @error if it cannot be opened. */
BlConsoleLog *bl_console_log_open (const char *path, gsize cap, GError **error);

/* Appends @len bytes at @data, rotating at the cap (a write larger than the
 * cap keeps only its last @cap bytes). FALSE with @error on a write error. */
gboolean bl_console_log_write (BlConsoleLog *log, const guint8 *data, gsize len, GError **error);

void bl_console_log_free (BlConsoleLog *log);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlConsoleLog, bl_console_log_free)

G_END_DECLS

/* file-identity.h: what names a file's version without reading it. */
#pragma once

#include <sys/stat.h>

#include <gio/gio.h>

G_BEGIN_DECLS

/* "dev=… ino=… size=… mtime=… ctime=…" of @st: a new build, a new package
 * or a file written in place (even with its old times put back, which
 * moves ctime) reads differently. Returns: (transfer full). */
char *bl_file_identity (const struct stat *st);

G_END_DECLS

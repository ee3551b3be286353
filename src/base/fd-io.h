/* fd-io.h: writing to file descriptors that others may share. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Writes all @len bytes of @buf to @fd, waiting (poll) when it is full,
 * also when whoever shares @fd left it non-blocking. Returns FALSE with
 * errno set on failure (EPIPE when the reader left, if SIGPIPE is blocked
 * or ignored). */
gboolean bl_fd_write_all (int fd, const void *buf, gsize len);

G_END_DECLS

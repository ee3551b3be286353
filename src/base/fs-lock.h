/* fs-lock.h: advisory locks on lock files, shared by processes on one home. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Opens (creating, mode 0600) the lock file @path and takes an flock on it,
 * exclusive or shared, waiting while another holder has it until
 * @cancellable (nullable) fires: a prune or another image's build may hold
 * a lock for a long time. Returns the descriptor holding the lock (close it
 * to release), or -1 with a G_IO_ERROR (%G_IO_ERROR_CANCELLED when
 * cancelled). */
int bl_lock_file (const char *path, gboolean exclusive, GCancellable *cancellable, GError **error);

G_END_DECLS

/* fs-lock.c: advisory locks on lock files. */
#include "fs-lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "os-error.h"

/* Microseconds between two tries at a busy lock that may be cancelled. */
#define LOCK_POLL_US 20000

int
bl_lock_file (const char *path, gboolean exclusive, GCancellable *cancellable, GError **error)
{
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int how = exclusive ? LOCK_EX : LOCK_SH;

    if (fd < 0) {
        bl_os_error (error, errno, "open", path);
        return -1;
    }
    /* Without a cancellable the kernel does the waiting; with one, the lock
     * is tried again until it is free or the wait is cancelled. */
    while (flock (fd, cancellable ? how | LOCK_NB : how) < 0) {
        int saved = errno;
        if (saved == EINTR)
            continue;
        if (saved != EWOULDBLOCK || !cancellable) {
            bl_os_error (error, saved, "lock", path);
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

/* fs-lock.c: advisory locks on lock files. */
#include "fs-lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "os-error.h"

int
bl_lock_file (const char *path, gboolean exclusive, GError **error)
{
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0) {
        bl_os_error (error, errno, "open", path);
        return -1;
    }
    while (flock (fd, exclusive ? LOCK_EX : LOCK_SH) < 0) {
        if (errno == EINTR)
            continue;
        bl_os_error (error, errno, "lock", path);
        close (fd);
        return -1;
    }
    return fd;
}

/* fd-io.c: writing to file descriptors that others may share. */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "fd-io.h"

gboolean
bl_fd_write_all (int fd, const void *buf, gsize len)
{
    const guint8 *p = buf;

    while (len > 0) {
        ssize_t n = write (fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pfd = { .fd = fd, .events = POLLOUT };
            (void) poll (&pfd, 1, -1);
            continue;
        }
        if (n < 0)
            return FALSE;
        p += n;
        len -= (gsize) n;
    }
    return TRUE;
}

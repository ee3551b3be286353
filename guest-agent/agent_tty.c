/* agent_tty.c: the pseudo-terminals of the execs that ask for one.
 *
 * The agent keeps the master side; the command gets the slave as its
 * controlling terminal and as fds 0, 1 and 2, so job control, ^C and window
 * size changes behave as on any terminal. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static bool size_member(const struct agent_json *obj, const char *key, unsigned short *out)
{
    const struct agent_json *v = agent_json_get(obj, key);
    if (!v || v->type != AGENT_JSON_INT || v->integer < BL_PROTO_TTY_MIN ||
        v->integer > BL_PROTO_TTY_MAX)
        return false;
    *out = (unsigned short)v->integer;
    return true;
}

int agent_tty_parse_size(const struct agent_json *obj, struct agent_tty_size *size, char *err,
                         size_t err_len, const char *what)
{
    if (!obj || obj->type != AGENT_JSON_OBJECT || !size_member(obj, "rows", &size->rows) ||
        !size_member(obj, "cols", &size->cols)) {
        snprintf(err, err_len, "%s: rows and cols must be integers from %d to %d", what,
                 BL_PROTO_TTY_MIN, BL_PROTO_TTY_MAX);
        return -1;
    }
    return 0;
}

int agent_tty_set_size(int master, const struct agent_tty_size *size)
{
    struct winsize ws = { .ws_row = size->rows, .ws_col = size->cols };
    return ioctl(master, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

int agent_tty_open(const struct agent_tty_size *size)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        return -errno;
    if (grantpt(master) < 0 || unlockpt(master) < 0) {
        int e = errno;
        close(master);
        return -e;
    }
    int r = agent_tty_set_size(master, size);
    if (r < 0) {
        close(master);
        return r;
    }
    return master;
}

/* The slave of @master, opened without a path when the kernel can. */
static int open_slave(int master)
{
    int fd = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (fd >= 0 || (errno != EINVAL && errno != ENOTTY))
        return fd;
    char path[64];
    if (ptsname_r(master, path, sizeof path) != 0)
        return -1;
    return open(path, O_RDWR | O_NOCTTY);
}

int agent_tty_child(int master, uid_t owner)
{
    int slave = open_slave(master);
    if (slave < 0)
        return errno;
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        return errno;
    /* Like a login: the terminal belongs to the user who runs on it. */
    if (owner != 0 && fchown(slave, owner, (gid_t)-1) < 0)
        return errno;
    for (int fd = 0; fd < 3; fd++)
        if (dup2(slave, fd) < 0)
            return errno;
    if (slave > 2)
        close(slave);
    close(master);
    return 0;
}

int agent_tty_eof_char(int master)
{
    struct termios t;
    if (tcgetattr(master, &t) < 0 || t.c_cc[VEOF] == _POSIX_VDISABLE)
        return -1;
    return t.c_cc[VEOF];
}

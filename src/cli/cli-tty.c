/* cli-tty.c: our own terminal while a command runs on a terminal in a box.
 *
 * The terminal is put in raw mode so that every key, Ctrl-C included, goes
 * to the box's terminal, whose line discipline does what a local one would.
 * What it was before is kept here, once for the process, so that every way
 * out (the command's end, an error message, a signal, exit()) can put it
 * back.
 */
#define G_LOG_DOMAIN "boxlite-cli"

#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

static struct termios saved;
static gboolean raw; /* the terminal is ours and @saved holds what it was */

/**
 * cli_tty_check_stdin:
 *
 * Returns: %TRUE when our stdin is a terminal, or %FALSE after a message
 */
gboolean
cli_tty_check_stdin (void)
{
    if (isatty (STDIN_FILENO))
        return TRUE;
    cli_error ("the input device is not a TTY");
    return FALSE;
}

/**
 * cli_tty_get_size:
 * @rows: (out): the number of rows
 * @cols: (out): the number of columns
 *
 * Reads the size of our terminal (stdin's, else stdout's).
 *
 * Returns: %FALSE when neither has a size
 */
gboolean
cli_tty_get_size (guint *rows, guint *cols)
{
    const int fds[] = { STDIN_FILENO, STDOUT_FILENO };

    for (guint i = 0; i < G_N_ELEMENTS (fds); i++) {
        struct winsize ws = { 0 };
        if (ioctl (fds[i], TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
            *rows = ws.ws_row;
            *cols = ws.ws_col;
            return TRUE;
        }
    }
    return FALSE;
}

static void
restore_at_exit (void)
{
    cli_tty_restore ();
}

/**
 * cli_tty_make_raw:
 *
 * Puts our stdin's terminal in raw mode, keeping what it was for
 * cli_tty_restore(), which also runs at exit.
 *
 * Returns: %FALSE after a message when the terminal cannot be changed
 */
gboolean
cli_tty_make_raw (void)
{
    static gboolean at_exit;
    struct termios t;

    if (raw)
        return TRUE;
    if (tcgetattr (STDIN_FILENO, &saved) < 0) {
        cli_error ("cannot read the terminal's settings: %s", g_strerror (errno));
        return FALSE;
    }
    if (!at_exit) {
        atexit (restore_at_exit);
        at_exit = TRUE;
    }
    t = saved;
    cfmakeraw (&t);
    if (tcsetattr (STDIN_FILENO, TCSADRAIN, &t) < 0) {
        cli_error ("cannot put the terminal in raw mode: %s", g_strerror (errno));
        return FALSE;
    }
    raw = TRUE;
    return TRUE;
}

/**
 * cli_tty_restore:
 *
 * Gives the terminal back the settings cli_tty_make_raw() found; nothing
 * when it did not change them.
 */
void
cli_tty_restore (void)
{
    if (!raw)
        return;
    raw = FALSE;
    /* At once, not after the output drained: a terminal that no longer
     * reads (a hung window, output stopped with ^S) must not hold us. */
    while (tcsetattr (STDIN_FILENO, TCSANOW, &saved) < 0 && errno == EINTR)
        ;
}

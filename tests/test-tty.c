/* test-tty.c: commands on a terminal in real boxes (TCG on machines without
 * a usable KVM), through the library and through `boxlite run -it` and
 * `boxlite exec -it` driven from a pseudo-terminal of our own. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <glib-unix.h>

#include <boxlite/boxlite.h>
#include "test-util.h"

/* Guards against a hang only; nothing here is a timed assertion. */
#define HANG_GUARD_S 600

static char *home;
static BoxliteRuntime *runtime;
static BoxliteBox *shared_box;

static BoxliteBox *
get_shared_box (void)
{
    g_autoptr (GError) error = NULL;

    if (!shared_box) {
        g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
        boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
        shared_box = boxlite_runtime_create (runtime, options, "tty", NULL, &error);
        g_assert_no_error (error);
        boxlite_box_start (shared_box, NULL, &error);
        g_assert_no_error (error);
    }
    g_assert_cmpint (boxlite_box_get_state (shared_box), ==, BOXLITE_BOX_STATE_RUNNING);
    return shared_box;
}

static BoxliteCommand *
tty_command (const char *const *argv, guint rows, guint cols, gboolean with_stdin)
{
    BoxliteCommand *cmd = boxlite_command_new (argv);

    boxlite_command_set_tty (cmd, TRUE);
    boxlite_command_set_tty_size (cmd, rows, cols);
    boxlite_command_set_stdin (cmd, with_stdin);
    return cmd;
}

/* Starts @argv on a 24 x 80 terminal with a stdin, and a reader of its
 * output. */
static BoxliteExecution *
tty_start (const char *const *argv, TestReader **reader)
{
    g_autoptr (BoxliteCommand) cmd = tty_command (argv, 24, 80, TRUE);
    g_autoptr (GError) error = NULL;
    BoxliteExecution *exe = boxlite_box_exec (get_shared_box (), cmd, NULL, &error);

    g_assert_no_error (error);
    *reader = test_reader_start (boxlite_execution_get_stdout (exe));
    return exe;
}

/* Joins the reader; returns what it read as a string. */
static char *
reader_finish (TestReader *reader)
{
    GByteArray *data = test_reader_finish (reader);

    g_byte_array_append (data, (const guint8 *) "", 1);
    return (char *) g_byte_array_free (data, FALSE);
}

/* Reads the command's stdout into @seen until it holds @text. */
static void
read_until (BoxliteExecution *exe, GString *seen, const char *text)
{
    char buf[4096];

    while (!strstr (seen->str, text)) {
        g_autoptr (GError) error = NULL;
        gssize n =
            g_input_stream_read (boxlite_execution_get_stdout (exe), buf, sizeof buf, NULL, &error);
        g_assert_no_error (error);
        if (n == 0)
            g_error ("the output ended before '%s'; it was: %s", text, seen->str);
        g_string_append_len (seen, buf, n);
    }
}

static void
write_input (BoxliteExecution *exe, const char *text)
{
    g_autoptr (GError) error = NULL;

    g_output_stream_write_all (boxlite_execution_get_stdin (exe), text, strlen (text), NULL, NULL,
                               &error);
    g_assert_no_error (error);
    g_output_stream_flush (boxlite_execution_get_stdin (exe), NULL, &error);
    g_assert_no_error (error);
}

static void
test_isatty_and_size (void)
{
    const char *argv[] = { "sh", "-c",
                           "test -t 0 && test -t 1 && test -t 2 && echo ISATTY; stty size; "
                           "echo TERM=$TERM; echo to-stderr >&2",
                           NULL };
    g_autoptr (BoxliteCommand) cmd = tty_command (argv, 33, 111, FALSE);
    GByteArray *out, *err;
    g_autoptr (BoxliteExecution) exe = run_full (get_shared_box (), cmd, NULL, &out, &err);

    g_assert_true (boxlite_execution_get_tty (exe));
    g_assert_cmpint (boxlite_execution_get_exit_code (exe), ==, 0);
    /* One stream, through the terminal's output processing. */
    static const char expected[] = "ISATTY\r\n33 111\r\nTERM=xterm\r\nto-stderr\r\n";
    g_assert_cmpmem (out->data, out->len, expected, sizeof expected - 1);
    g_assert_cmpuint (err->len, ==, 0);
    g_byte_array_unref (out);
    g_byte_array_unref (err);
}

/* A command run as another user owns its terminal, as after a login. */
static void
test_user_owns_terminal (void)
{
    const char *argv[] = { "sh", "-c", "id -un; test -O \"$(tty)\" && echo OWNED; stty size",
                           NULL };
    g_autoptr (BoxliteCommand) cmd = tty_command (argv, 24, 80, FALSE);
    GByteArray *out, *err;

    boxlite_command_set_user (cmd, "nobody");
    g_autoptr (BoxliteExecution) exe = run_full (get_shared_box (), cmd, NULL, &out, &err);
    g_byte_array_append (out, (const guint8 *) "", 1);
    g_assert_cmpstr ((const char *) out->data, ==, "nobody\r\nOWNED\r\n24 80\r\n");
    g_assert_cmpint (boxlite_execution_get_exit_code (exe), ==, 0);
    g_byte_array_unref (out);
    g_byte_array_unref (err);
}

static void
test_resize (void)
{
    const char *argv[] = { "sh", "-c", "stty size; read x; stty size", NULL };
    g_autoptr (BoxliteCommand) cmd = tty_command (argv, 24, 80, TRUE);
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteExecution) exe = boxlite_box_exec (get_shared_box (), cmd, NULL, &error);
    g_autoptr (GString) seen = g_string_new (NULL);

    g_assert_no_error (error);
    read_until (exe, seen, "24 80\r\n");
    TestReader *reader = test_reader_start (boxlite_execution_get_stdout (exe));
    g_assert_true (boxlite_execution_resize (exe, 50, 160, &error));
    g_assert_no_error (error);
    /* Sizes out of range are refused here, before anything is sent. */
    g_assert_false (boxlite_execution_resize (exe, 0, 80, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    g_assert_false (boxlite_execution_resize (exe, 24, 65536, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);
    write_input (exe, "go\n");
    g_autofree char *out = reader_finish (reader);
    boxlite_execution_wait (exe, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (boxlite_execution_get_exit_code (exe), ==, 0);
    /* The line is echoed by the terminal, then the new size. */
    g_assert_cmpstr (seen->str, ==, "24 80\r\n");
    g_assert_cmpstr (out, ==, "go\r\n50 160\r\n");

    /* Once the command ended there is nothing to resize. */
    g_assert_false (boxlite_execution_resize (exe, 30, 90, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE);
}

static void
test_resize_refused_without_tty (void)
{
    const char *argv[] = { "sleep", "60", NULL };
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteExecution) exe = boxlite_box_exec (get_shared_box (), cmd, NULL, &error);

    g_assert_no_error (error);
    g_assert_false (boxlite_execution_get_tty (exe));
    g_assert_false (boxlite_execution_resize (exe, 30, 90, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE);
    g_assert_nonnull (strstr (error->message, "no terminal"));
    g_clear_error (&error);
    boxlite_execution_kill (exe, SIGKILL, &error);
    g_assert_no_error (error);
    boxlite_execution_wait (exe, NULL, &error);
    g_assert_no_error (error);
}

static void
test_interrupt (void)
{
    const char *argv[] = { "sleep", "100", NULL };
    g_autoptr (GError) error = NULL;
    TestReader *reader;
    g_autoptr (BoxliteExecution) exe = tty_start (argv, &reader);

    write_input (exe, "\x03");
    g_autofree char *out = reader_finish (reader);
    boxlite_execution_wait (exe, NULL, &error);
    g_assert_no_error (error);
    /* The terminal's line discipline turned ^C into SIGINT for sleep, the
     * terminal's foreground process (and echoed it). */
    g_assert_false (boxlite_execution_get_exited (exe));
    g_assert_cmpint (boxlite_execution_get_term_signal (exe), ==, SIGINT);
    g_assert_cmpstr (out, ==, "^C");
}

static void
test_eof (void)
{
    const char *argv[] = { "cat", NULL };
    g_autoptr (GError) error = NULL;
    TestReader *reader;
    g_autoptr (BoxliteExecution) exe = tty_start (argv, &reader);

    write_input (exe, "hello\n");
    /* Closing stdin is Ctrl-D on the terminal: cat sees its end. */
    g_output_stream_close (boxlite_execution_get_stdin (exe), NULL, &error);
    g_assert_no_error (error);
    g_autofree char *out = reader_finish (reader);
    boxlite_execution_wait (exe, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (boxlite_execution_get_exit_code (exe), ==, 0);
    g_assert_cmpstr (out, ==, "hello\r\nhello\r\n");
}

/* ---- the command line under a pseudo-terminal of ours ------------------- */

typedef struct {
    int master;
    int slave; /* kept open: its settings are what we compare */
    GPid pid;
    GString *output;
    struct termios before;
} Session;

/* Starts `boxlite --home HOME @args…` as the session leader of a new
 * pseudo-terminal of 30 rows and 90 columns. */
static void
session_start (Session *s, const char *const *args)
{
    const char *cli = g_getenv ("BOXLITE_CLI");
    struct winsize ws = { .ws_row = 30, .ws_col = 90 };
    g_autoptr (GPtrArray) argv = g_ptr_array_new ();

    g_assert_nonnull (cli);
    g_ptr_array_add (argv, (gpointer) cli);
    g_ptr_array_add (argv, (gpointer) "--home");
    g_ptr_array_add (argv, home);
    for (; *args; args++)
        g_ptr_array_add (argv, (gpointer) *args);
    g_ptr_array_add (argv, NULL);

    g_assert_cmpint (openpty (&s->master, &s->slave, NULL, NULL, &ws), ==, 0);
    g_assert_cmpint (tcgetattr (s->slave, &s->before), ==, 0);
    s->output = g_string_new (NULL);
    s->pid = fork ();
    g_assert_cmpint (s->pid, >=, 0);
    if (s->pid == 0) {
        setsid ();
        if (ioctl (s->slave, TIOCSCTTY, 0) < 0 || dup2 (s->slave, 0) < 0 ||
            dup2 (s->slave, 1) < 0 || dup2 (s->slave, 2) < 0)
            _exit (99);
        close (s->master);
        close (s->slave);
        execv (cli, (char **) argv->pdata);
        _exit (98);
    }
    g_unix_set_fd_nonblocking (s->master, TRUE, NULL);
}

/* Reads what the terminal shows for up to @timeout_ms. */
static void
session_read (Session *s, int timeout_ms)
{
    struct pollfd p = { .fd = s->master, .events = POLLIN };
    char buf[4096];
    ssize_t n;

    if (poll (&p, 1, timeout_ms) <= 0)
        return;
    while ((n = read (s->master, buf, sizeof buf)) > 0)
        g_string_append_len (s->output, buf, n);
}

/* Waits until the terminal has shown @text. */
static void
session_expect (Session *s, const char *text)
{
    gint64 end = g_get_monotonic_time () + HANG_GUARD_S * G_USEC_PER_SEC;

    while (!strstr (s->output->str, text)) {
        if (g_get_monotonic_time () > end)
            g_error ("the terminal never showed '%s'; it showed: %s", text, s->output->str);
        session_read (s, 200);
    }
}

static void
session_write (Session *s, const char *text)
{
    g_assert_cmpint (write (s->master, text, strlen (text)), ==, (gssize) strlen (text));
}

/* Waits for the command line to exit (reading what it shows meanwhile). */
static int
session_wait (Session *s)
{
    gint64 end = g_get_monotonic_time () + HANG_GUARD_S * G_USEC_PER_SEC;
    int status;
    pid_t r;

    while ((r = waitpid (s->pid, &status, WNOHANG)) == 0) {
        g_assert_cmpint (g_get_monotonic_time (), <, end);
        session_read (s, 200);
    }
    g_assert_cmpint (r, ==, s->pid);
    session_read (s, 0);
    return status;
}

static gboolean
termios_equal (const struct termios *a, const struct termios *b)
{
    return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag && a->c_cflag == b->c_cflag &&
           a->c_lflag == b->c_lflag && memcmp (a->c_cc, b->c_cc, sizeof a->c_cc) == 0 &&
           cfgetispeed (a) == cfgetispeed (b) && cfgetospeed (a) == cfgetospeed (b);
}

/* While the command runs, the terminal is raw (no line editing, no echo,
 * no signals from keys): the comparisons afterwards can fail. */
static void
session_assert_raw (Session *s)
{
    struct termios now;

    g_assert_cmpint (tcgetattr (s->slave, &now), ==, 0);
    g_assert_false (now.c_lflag & (ICANON | ECHO | ISIG));
    g_assert_false (termios_equal (&now, &s->before));
}

static void
session_assert_restored (Session *s)
{
    struct termios after;

    g_assert_cmpint (tcgetattr (s->slave, &after), ==, 0);
    g_assert_true (termios_equal (&after, &s->before));
}

static void
session_free (Session *s)
{
    close (s->master);
    close (s->slave);
    g_string_free (s->output, TRUE);
}

static void
test_cli_run_it (void)
{
    const char *args[] = {
        "run",       "--rm", "-it",
        "--network", "none", "--",
        "sh",        "-c",   "stty size; echo READY; read x; echo got-$x; exit 3",
        NULL
    };
    Session s;

    session_start (&s, args);
    session_expect (&s, "READY");
    /* Our terminal's size became the command's. */
    g_assert_nonnull (strstr (s.output->str, "30 90\r\n"));
    session_assert_raw (&s);
    /* Enter on a raw terminal is a carriage return; the box's terminal
     * makes it the end of the line. */
    session_write (&s, "hello\r");
    int status = session_wait (&s);
    g_assert_nonnull (strstr (s.output->str, "got-hello"));
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 3);
    session_assert_restored (&s);
    session_free (&s);
}

/* A signal to the command line ends the session (the terminal is ours
 * again) however the command takes it. */
static void
test_cli_exec_it_signalled (void)
{
    const int signals[] = { SIGTERM, SIGHUP, SIGINT };

    get_shared_box ();
    for (guint i = 0; i < G_N_ELEMENTS (signals); i++) {
        const char *args[] = {
            "exec", "-it", "tty",
            "sh",   "-c",  "trap '' TERM HUP INT; echo READY; while :; do sleep 1; done",
            NULL
        };
        Session s;

        g_test_message ("signal %d", signals[i]);
        session_start (&s, args);
        session_expect (&s, "READY");
        session_assert_raw (&s);
        kill (s.pid, signals[i]);
        int status = session_wait (&s);
        /* The command ignores the signal, as a shell on a terminal ignores
         * SIGTERM: it is killed after its grace. */
        g_assert_true (WIFEXITED (status));
        g_assert_cmpint (WEXITSTATUS (status), ==, 128 + SIGKILL);
        session_assert_restored (&s);
        session_free (&s);
    }
}

static void
test_cli_exec_it_window_change (void)
{
    const char *args[] = {
        "exec", "-it", "tty",
        "sh",   "-c",  "trap 'stty size; exit 0' WINCH; echo READY; while :; do sleep 1; done",
        NULL
    };
    struct winsize ws = { .ws_row = 42, .ws_col = 120 };
    Session s;

    get_shared_box ();
    session_start (&s, args);
    session_expect (&s, "READY");
    g_assert_cmpint (ioctl (s.master, TIOCSWINSZ, &ws), ==, 0);
    /* The kernel signals the command line's process group. */
    session_expect (&s, "42 120");
    int status = session_wait (&s);
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 0);
    session_assert_restored (&s);
    session_free (&s);
}

/* The QEMU process of @box (QEMU's command line names the box's files). */
static GPid
find_qemu (BoxliteBox *box)
{
    g_autofree char *dir = g_build_filename (home, "boxes", boxlite_box_get_id (box), NULL);
    g_autoptr (GArray) pids = test_pids_mentioning (dir);

    for (guint i = 0; i < pids->len; i++) {
        gint pid = g_array_index (pids, gint, i);
        g_autofree char *path = g_strdup_printf ("/proc/%d/comm", pid);
        g_autofree char *comm = NULL;
        if (g_file_get_contents (path, &comm, NULL, NULL) && g_str_has_prefix (comm, "qemu"))
            return pid;
    }
    return 0;
}

static void
test_cli_exec_it_box_dies (void)
{
    const char *args[] = { "exec", "-it", "dying", "sh", "-c", "echo READY; sleep 100", NULL };
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    g_autoptr (GError) error = NULL;
    Session s;

    boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
    g_autoptr (BoxliteBox) box = boxlite_runtime_create (runtime, options, "dying", NULL, &error);
    g_assert_no_error (error);
    boxlite_box_start (box, NULL, &error);
    g_assert_no_error (error);
    GPid qemu = find_qemu (box);
    g_assert_cmpint (qemu, >, 0);

    session_start (&s, args);
    session_expect (&s, "READY");
    session_assert_raw (&s);
    kill (qemu, SIGKILL);
    int status = session_wait (&s);
    /* boxlite's own failure, said on a terminal in its normal mode. */
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 125);
    const char *message = strstr (s.output->str, "boxlite: the box stopped");
    g_assert_nonnull (message);
    const char *eol = strchr (message, '\n');
    g_assert_nonnull (eol);
    g_assert_cmpint (eol[-1], ==, '\r'); /* the terminal's output processing is back */
    session_assert_restored (&s);
    session_free (&s);
    boxlite_runtime_remove (runtime, "dying", TRUE, &error);
    g_assert_no_error (error);
}

/* -t needs a terminal on stdin, as with the container tools. */
static void
test_cli_tty_needs_terminal (void)
{
    const char *cli = g_getenv ("BOXLITE_CLI");
    const char *const cases[][8] = {
        { cli, "--home", home, "run", "--rm", "-it", "--", "true" },
        { cli, "--home", home, "exec", "-t", "tty", "true", NULL },
    };

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
        const char *argv[9] = { NULL };
        g_autofree char *err = NULL;
        g_autoptr (GError) error = NULL;
        int status;

        memcpy (argv, cases[i], sizeof cases[i]);
        /* No G_SPAWN_CHILD_INHERITS_STDIN: stdin is /dev/null. */
        g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                      &err, &status, &error);
        g_assert_no_error (error);
        g_assert_true (WIFEXITED (status));
        g_assert_cmpint (WEXITSTATUS (status), ==, 125);
        g_assert_nonnull (strstr (err, "the input device is not a TTY"));
    }
    /* And no box was made for the refused run. */
    g_autoptr (GError) error = NULL;
    GList *boxes = boxlite_runtime_list (runtime, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_list_length (boxes), <=, 1);
    g_list_free_full (boxes, g_object_unref);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    home = test_home_open ("boxlite-tty", &runtime);

    g_test_add_func ("/tty/isatty-and-size", test_isatty_and_size);
    g_test_add_func ("/tty/user-owns-terminal", test_user_owns_terminal);
    g_test_add_func ("/tty/resize", test_resize);
    g_test_add_func ("/tty/resize-refused-without-tty", test_resize_refused_without_tty);
    g_test_add_func ("/tty/interrupt", test_interrupt);
    g_test_add_func ("/tty/eof", test_eof);
    g_test_add_func ("/tty/cli/run-it", test_cli_run_it);
    g_test_add_func ("/tty/cli/exec-it-signalled", test_cli_exec_it_signalled);
    g_test_add_func ("/tty/cli/exec-it-window-change", test_cli_exec_it_window_change);
    g_test_add_func ("/tty/cli/exec-it-box-dies", test_cli_exec_it_box_dies);
    g_test_add_func ("/tty/cli/needs-terminal", test_cli_tty_needs_terminal);

    int ret = g_test_run ();
    if (shared_box)
        boxlite_box_stop (shared_box, FALSE, NULL, NULL);
    g_clear_object (&shared_box);
    test_home_close (&runtime, home);
    return ret;
}

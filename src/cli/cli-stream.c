/* cli-stream.c: a running command wired to our stdin, stdout and stderr.
 *
 * One thread per stream copies bytes as they arrive, so a command that fills
 * stderr while nobody reads stdout never stalls. The main thread runs a main
 * loop that waits for the command's exit and forwards the signals a user
 * sends us (Ctrl-C) to it.
 *
 * A command on a terminal in the box gets our terminal in raw mode (with
 * -i) and its size changes. A signal to us ends such a session: our terminal
 * is restored at once, and the command gets the signal and a moment to
 * end before it is killed, since a shell on a terminal ignores SIGTERM.
 */
#define G_LOG_DOMAIN "boxlite-cli"

#include <errno.h>
#include <glib-unix.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "cli.h"
#include "fd-io.h"

#define CHUNK (64 * 1024)
/* Seconds a command on a terminal has to end after we passed it a signal. */
#define TTY_GRACE_S 2

typedef struct {
    BoxliteExecution *execution;
    GInputStream *stream;
    int fd;
} OutputPump;

typedef struct {
    BoxliteExecution *execution;
    GMainLoop *loop;
    gboolean done;
    GError *error;
    guint grace_timer; /* terminal: the command is killed when it fires */
    gboolean ending;   /* terminal: a signal ended the session */
} Waiter;

typedef struct {
    Waiter *waiter;
    int signal_number;
    guint source_id;
} SignalForward;

/* A write to a pipe whose reader left must fail with EPIPE in this thread,
 * not end the process. */
static void
block_sigpipe (void)
{
    sigset_t set;

    sigemptyset (&set);
    sigaddset (&set, SIGPIPE);
    pthread_sigmask (SIG_BLOCK, &set, NULL);
}

static gpointer
pump_output (gpointer data)
{
    OutputPump *pump = data;
    g_autofree guint8 *buf = g_malloc (CHUNK);
    g_autoptr (GError) error = NULL;
    gssize n;

    block_sigpipe ();
    while ((n = g_input_stream_read (pump->stream, buf, CHUNK, NULL, &error)) > 0) {
        if (bl_fd_write_all (pump->fd, buf, (gsize) n))
            continue;
        /* Our reader left (`boxlite run ... | head`): as with a local pipe,
         * the command gets SIGPIPE; the rest of its output is dropped. */
        g_debug ("fd %d: %s", pump->fd, g_strerror (errno));
        if (pump->fd == STDOUT_FILENO)
            (void) boxlite_execution_kill (pump->execution, SIGPIPE, NULL);
        break;
    }
    if (n < 0)
        g_debug ("reading the command's output: %s", error->message);
    g_input_stream_close (pump->stream, NULL, NULL);
    return NULL;
}

/* Copies our stdin to the command until our stdin ends, then closes the
 * command's stdin. Owns a reference on @data, the command's stdin. */
static gpointer
pump_stdin (gpointer data)
{
    g_autoptr (GOutputStream) stream = data;
    g_autofree guint8 *buf = g_malloc (CHUNK);
    g_autoptr (GError) error = NULL;

    block_sigpipe ();
    for (;;) {
        ssize_t n = read (STDIN_FILENO, buf, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
            (void) poll (&pfd, 1, -1);
            continue;
        }
        if (n <= 0)
            break;
        if (!g_output_stream_write_all (stream, buf, (gsize) n, NULL, NULL, &error)) {
            g_debug ("writing the command's stdin: %s", error->message);
            break;
        }
    }
    g_output_stream_close (stream, NULL, NULL);
    return NULL;
}

static GThread *
start_output_pump (OutputPump *pump, BoxliteExecution *execution, GInputStream *stream, int fd)
{
    pump->execution = execution;
    pump->stream = stream;
    pump->fd = fd;
    return g_thread_new (fd == STDOUT_FILENO ? "stdout" : "stderr", pump_output, pump);
}

static void
on_waited (GObject *source, GAsyncResult *result, gpointer user_data)
{
    Waiter *waiter = user_data;

    boxlite_execution_wait_finish (BOXLITE_EXECUTION (source), result, &waiter->error);
    waiter->done = TRUE;
    g_main_loop_quit (waiter->loop);
}

static gboolean
on_grace_over (gpointer user_data)
{
    Waiter *waiter = user_data;

    waiter->grace_timer = 0;
    (void) boxlite_execution_kill (waiter->execution, SIGKILL, NULL);
    return G_SOURCE_REMOVE;
}

static gboolean
on_signal (gpointer user_data)
{
    SignalForward *forward = user_data;
    Waiter *waiter = forward->waiter;
    g_autoptr (GError) error = NULL;

    g_debug ("forwarding signal %d to the command", forward->signal_number);
    if (!boxlite_execution_kill (waiter->execution, forward->signal_number, &error))
        g_debug ("cannot forward signal %d: %s", forward->signal_number, error->message);
    if (boxlite_execution_get_tty (waiter->execution) && !waiter->ending) {
        waiter->ending = TRUE;
        cli_tty_restore ();
        waiter->grace_timer = g_timeout_add_seconds (TTY_GRACE_S, on_grace_over, waiter);
    }
    return G_SOURCE_CONTINUE;
}

/* Our terminal changed size: so does the command's. */
static gboolean
on_window_changed (gpointer user_data)
{
    Waiter *waiter = user_data;
    g_autoptr (GError) error = NULL;
    guint rows, cols;

    if (cli_tty_get_size (&rows, &cols) &&
        !boxlite_execution_resize (waiter->execution, rows, cols, &error))
        g_debug ("cannot resize the command's terminal: %s", error->message);
    return G_SOURCE_CONTINUE;
}

/* The exit status a shell would report for the command. */
static int
exit_status (BoxliteExecution *execution)
{
    if (boxlite_execution_get_exited (execution))
        return boxlite_execution_get_exit_code (execution) & 0xff;
    int signal_number = boxlite_execution_get_term_signal (execution);
    if (signal_number > 0)
        return 128 + signal_number;
    return CLI_EXIT_FAILURE;
}

/**
 * cli_stream_execution:
 * @execution: a command that just started
 * @forward_stdin: whether to feed our stdin to it (it must have been
 *   started with a stdin)
 *
 * Copies the command's stdout and stderr to ours as bytes arrive, feeds it
 * our stdin, and forwards SIGINT, SIGTERM and SIGHUP to it until it exits.
 * For a command on a terminal, our terminal is in raw mode meanwhile (when
 * our stdin is forwarded) and its size follows ours; it is restored on
 * every way out.
 *
 * Returns: the command's exit status, 128+N when signal N killed it, or 125
 *   after a message when the box went away first
 */
int
cli_stream_execution (BoxliteExecution *execution, gboolean forward_stdin)
{
    g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
    Waiter waiter = { execution, loop, FALSE, NULL, 0, FALSE };
    gboolean tty = boxlite_execution_get_tty (execution);
    guint winch_id = 0;
    SignalForward forwards[] = { { &waiter, SIGINT, 0 },
                                 { &waiter, SIGTERM, 0 },
                                 { &waiter, SIGHUP, 0 } };
    OutputPump out_pump, err_pump;
    GOutputStream *input = boxlite_execution_get_stdin (execution);

    GThread *out_thread = start_output_pump (
        &out_pump, execution, boxlite_execution_get_stdout (execution), STDOUT_FILENO);
    GThread *err_thread = start_output_pump (
        &err_pump, execution, boxlite_execution_get_stderr (execution), STDERR_FILENO);
    if (input && forward_stdin)
        g_thread_unref (g_thread_new ("stdin", pump_stdin, g_object_ref (input)));
    else if (input)
        g_output_stream_close (input, NULL, NULL);

    /* The handlers go in before the terminal changes, so that no signal
     * can end us with the terminal left raw. */
    for (guint i = 0; i < G_N_ELEMENTS (forwards); i++)
        forwards[i].source_id =
            g_unix_signal_add (forwards[i].signal_number, on_signal, &forwards[i]);
    if (tty) {
        winch_id = g_unix_signal_add (SIGWINCH, on_window_changed, &waiter);
        if (forward_stdin)
            (void) cli_tty_make_raw ();
        /* The size may have changed since the command was made. */
        on_window_changed (&waiter);
    }
    boxlite_execution_wait_async (execution, NULL, on_waited, &waiter);
    while (!waiter.done)
        g_main_loop_run (loop);
    cli_tty_restore ();
    for (guint i = 0; i < G_N_ELEMENTS (forwards); i++)
        g_source_remove (forwards[i].source_id);
    if (winch_id)
        g_source_remove (winch_id);
    if (waiter.grace_timer)
        g_source_remove (waiter.grace_timer);

    /* The library ends both streams once the command exited (or failed);
     * what is still queued is copied before we go on. */
    g_thread_join (out_thread);
    g_thread_join (err_thread);
    if (waiter.error) {
        int status = cli_fail (waiter.error);
        g_error_free (waiter.error);
        return status;
    }
    if (boxlite_execution_get_oom_killed (execution))
        g_printerr ("boxlite: the box ran out of memory and its OOM killer ended %s\n",
                    boxlite_execution_get_term_signal (execution) == SIGKILL
                        ? "the command"
                        : "a process of the command");
    return exit_status (execution);
}

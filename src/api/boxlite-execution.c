/* boxlite-execution.c: one command running in a box.
 *
 * The command's stdout and stderr reach the caller through pipes, and stdin
 * leaves through one: the caller gets ordinary blocking-or-async GIO streams
 * that work from any thread, and a full pipe is the back-pressure. Credit
 * goes back to the agent only for bytes that went into a pipe, so at most one
 * credit window per execution waits in this process.
 *
 * Fields marked "I/O thread" are touched only there; the outcome fields are
 * guarded by @lock because callers read them from their own threads.
 */
#define G_LOG_DOMAIN "boxlite"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib-unix.h>
#include <unistd.h>

#include "bl_proto.h"
#include <boxlite/boxlite-error.h>
#include "boxlite-private.h"

/* Enough for a fast producer to keep the agent busy between reads. */
#define PIPE_SIZE (256 * 1024)

typedef struct {
    BoxliteExecution *owner;
    int fd;         /* our write end, -1 once closed */
    GQueue pending; /* GBytes not yet in the pipe */
    GSource *watch; /* waits for room in the pipe */
    gboolean eof;   /* the agent ended this stream */
} OutPipe;

/**
 * BoxliteExecution:
 *
 * A command running in a box, from boxlite_box_exec(): its stdin, stdout
 * and stderr as GIO streams, and its outcome once it ended. It may be used
 * from any thread.
 *
 * Since: 0.1
 */
struct _BoxliteExecution {
    GObject parent_instance;

    GInputStream *stdout_stream;
    GInputStream *stderr_stream;
    GOutputStream *stdin_stream;

    GMutex lock;
    GCond cond;
    gint pid;
    gboolean done;
    gboolean exited;
    gint exit_code;
    gint term_signal;
    gboolean timed_out;
    gboolean oom_killed;
    GError *error;
    GSList *wait_tasks;
    BlLink *link; /* set on the I/O thread; read by kill() under @lock */

    /* I/O thread */
    guint32 channel;
    GMainContext *io_context;
    OutPipe out[2];       /* stdout, stderr */
    guint32 agent_credit; /* bytes the agent may still send */
    int stdin_fd;         /* our read end, -1 once closed */
    GSource *stdin_watch;
    guint32 stdin_credit; /* bytes we may still send */
    gboolean tty;         /* one output stream, and resizable */
};

G_DEFINE_FINAL_TYPE (BoxliteExecution, boxlite_execution, G_TYPE_OBJECT)

enum {
    PROP_0,
    PROP_OOM_KILLED,
    N_PROPS,
};

static GParamSpec *properties[N_PROPS];

static void stdin_watch_update (BoxliteExecution *self);

static void
out_pipe_close (OutPipe *pipe)
{
    if (pipe->watch) {
        g_source_destroy (pipe->watch);
        g_clear_pointer (&pipe->watch, g_source_unref);
    }
    g_queue_clear_full (&pipe->pending, (GDestroyNotify) g_bytes_unref);
    if (pipe->fd >= 0) {
        close (pipe->fd);
        pipe->fd = -1;
    }
}

static void
stdin_close (BoxliteExecution *self)
{
    if (self->stdin_watch) {
        g_source_destroy (self->stdin_watch);
        g_clear_pointer (&self->stdin_watch, g_source_unref);
    }
    if (self->stdin_fd >= 0) {
        close (self->stdin_fd);
        self->stdin_fd = -1;
    }
}

static void
grant_credit (BoxliteExecution *self, gsize bytes)
{
    guint8 buf[4];

    if (bytes == 0 || !self->link)
        return;
    self->agent_credit += (guint32) bytes;
    bl_proto_put_u32 (buf, (guint32) bytes);
    bl_link_send (self->link, self->channel, BL_FRAME_CREDIT, buf, sizeof buf);
}

static gboolean on_pipe_writable (gint fd, GIOCondition condition, gpointer user_data);

/* Moves queued output into the pipe as far as it takes it. */
static void
out_pipe_flush (OutPipe *pipe)
{
    BoxliteExecution *self = pipe->owner;
    gsize moved = 0;

    while (pipe->fd >= 0 && !g_queue_is_empty (&pipe->pending)) {
        GBytes *head = g_queue_peek_head (&pipe->pending);
        gsize len = 0;
        const guint8 *data = g_bytes_get_data (head, &len);
        ssize_t n = write (pipe->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            /* The caller closed its end: the rest is dropped, and still
             * credited, so the command is not stalled by a reader that left. */
            GList *l;
            for (l = pipe->pending.head; l; l = l->next)
                moved += g_bytes_get_size (l->data);
            g_queue_clear_full (&pipe->pending, (GDestroyNotify) g_bytes_unref);
            close (pipe->fd);
            pipe->fd = -1;
            break;
        }
        moved += (gsize) n;
        /* The rest of a partial write is cut from head before head goes. */
        GBytes *rest =
            (gsize) n < len ? g_bytes_new_from_bytes (head, (gsize) n, len - (gsize) n) : NULL;
        g_bytes_unref (g_queue_pop_head (&pipe->pending));
        if (rest)
            g_queue_push_head (&pipe->pending, rest);
    }
    grant_credit (self, moved);

    gboolean want_watch = pipe->fd >= 0 && !g_queue_is_empty (&pipe->pending);
    if (want_watch && !pipe->watch) {
        pipe->watch = g_unix_fd_source_new (pipe->fd, G_IO_OUT | G_IO_ERR | G_IO_HUP);
        g_source_set_callback (pipe->watch, G_SOURCE_FUNC (on_pipe_writable), pipe, NULL);
        g_source_attach (pipe->watch, self->io_context);
    } else if (!want_watch && pipe->watch) {
        g_source_destroy (pipe->watch);
        g_clear_pointer (&pipe->watch, g_source_unref);
    }
    if (pipe->eof && g_queue_is_empty (&pipe->pending))
        out_pipe_close (pipe);
}

static gboolean
on_pipe_writable (gint fd, GIOCondition condition, gpointer user_data)
{
    OutPipe *pipe = user_data;
    GSource *watch = g_source_ref (pipe->watch);

    out_pipe_flush (pipe);
    /* out_pipe_flush() removes the watch when the queue is drained. */
    gboolean keep = pipe->watch == watch;
    g_source_unref (watch);
    return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

gboolean
bl_execution_handle_data (BoxliteExecution *self, guint type, GBytes *payload, GError **error)
{
    gsize len = g_bytes_get_size (payload);

    if (type != BL_FRAME_STDOUT && type != BL_FRAME_STDERR) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                     "the agent sent a frame of type %u for an execution", type);
        return FALSE;
    }
    if (self->tty && type == BL_FRAME_STDERR && len > 0) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                     "the agent sent stderr for a command on a terminal");
        return FALSE;
    }
    OutPipe *pipe = &self->out[type == BL_FRAME_STDOUT ? 0 : 1];
    if (pipe->eof) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                     "the agent sent output after the end of the stream");
        return FALSE;
    }
    if (len == 0) {
        pipe->eof = TRUE;
        out_pipe_flush (pipe);
        return TRUE;
    }
    if (len > self->agent_credit) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                     "the agent sent %zu bytes with only %u bytes of credit", len,
                     self->agent_credit);
        return FALSE;
    }
    self->agent_credit -= (guint32) len;
    g_queue_push_tail (&pipe->pending, g_bytes_ref (payload));
    out_pipe_flush (pipe);
    return TRUE;
}

static gboolean
on_stdin_readable (gint fd, GIOCondition condition, gpointer user_data)
{
    BoxliteExecution *self = user_data;
    guint8 buf[BL_PROTO_MAX_PAYLOAD];
    gsize want = MIN (sizeof buf, self->stdin_credit);
    ssize_t n = read (fd, buf, want);

    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        /* End of the caller's stdin (or a broken pipe): tell the command. */
        bl_link_send (self->link, self->channel, BL_FRAME_STDIN, NULL, 0);
        g_clear_pointer (&self->stdin_watch, g_source_unref);
        if (self->stdin_fd >= 0) {
            close (self->stdin_fd);
            self->stdin_fd = -1;
        }
        return G_SOURCE_REMOVE;
    }
    self->stdin_credit -= (guint32) n;
    bl_link_send (self->link, self->channel, BL_FRAME_STDIN, buf, (gsize) n);
    if (self->stdin_credit == 0) {
        g_clear_pointer (&self->stdin_watch, g_source_unref);
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void
stdin_watch_update (BoxliteExecution *self)
{
    if (self->stdin_fd < 0 || self->stdin_watch || self->stdin_credit == 0 || !self->link)
        return;
    self->stdin_watch = g_unix_fd_source_new (self->stdin_fd, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback (self->stdin_watch, G_SOURCE_FUNC (on_stdin_readable), self, NULL);
    g_source_attach (self->stdin_watch, self->io_context);
}

void
bl_execution_handle_credit (BoxliteExecution *self, guint32 bytes)
{
    /* Saturate: a hostile agent must not wrap the counter into a huge window
     * for us; all it could gain is our own stdin bytes. */
    self->stdin_credit =
        bytes > G_MAXUINT32 - self->stdin_credit ? G_MAXUINT32 : self->stdin_credit + bytes;
    stdin_watch_update (self);
}

static gboolean
make_pipe (int fds[2], GError **error)
{
    if (!g_unix_open_pipe (fds, FD_CLOEXEC, error))
        return FALSE;
    /* Best effort: a bigger pipe means fewer wake-ups for a chatty command. */
    (void) fcntl (fds[1], F_SETPIPE_SZ, PIPE_SIZE);
    return TRUE;
}

BoxliteExecution *
bl_execution_new (BlLink *link, guint32 channel, gboolean pipe_stdin, gboolean tty,
                  GMainContext *io_context, GError **error)
{
    g_autoptr (BoxliteExecution) self = g_object_new (BOXLITE_TYPE_EXECUTION, NULL);
    int fds[2];

    self->channel = channel;
    self->tty = tty;
    self->io_context = g_main_context_ref (io_context);
    self->agent_credit = BL_PROTO_INITIAL_CREDIT;
    self->stdin_credit = BL_PROTO_INITIAL_CREDIT;
    for (guint i = 0; i < 2; i++) {
        if (!make_pipe (fds, error))
            return NULL;
        self->out[i].fd = fds[1];
        if (!g_unix_set_fd_nonblocking (fds[1], TRUE, error)) {
            close (fds[0]);
            return NULL;
        }
        GInputStream *stream = g_unix_input_stream_new (fds[0], TRUE);
        if (i == 0)
            self->stdout_stream = stream;
        else
            self->stderr_stream = stream;
    }
    if (pipe_stdin) {
        if (!make_pipe (fds, error))
            return NULL;
        self->stdin_fd = fds[0];
        self->stdin_stream = g_unix_output_stream_new (fds[1], TRUE);
        if (!g_unix_set_fd_nonblocking (fds[0], TRUE, error))
            return NULL;
    }
    bl_link_ref (link);
    self->link = link;
    return g_steal_pointer (&self);
}

void
bl_execution_started (BoxliteExecution *self, gint pid)
{
    g_mutex_lock (&self->lock);
    self->pid = pid;
    g_mutex_unlock (&self->lock);
    stdin_watch_update (self);
}

/* A waiting task's cancellation watch (its task data) goes once the task
 * is answered: the watch holds a reference on the task. */
static void
wait_task_forget_cancel (GTask *task)
{
    GSource *source = g_task_get_task_data (task);

    if (source)
        g_source_destroy (source);
}

/* Records the outcome, wakes every waiter and lets go of the link. */
static void
finish (BoxliteExecution *self, GError *error)
{
    GSList *tasks;

    stdin_close (self);
    g_mutex_lock (&self->lock);
    if (self->done) {
        g_mutex_unlock (&self->lock);
        g_clear_error (&error);
        return;
    }
    self->done = TRUE;
    self->error = error;
    tasks = g_steal_pointer (&self->wait_tasks);
    BlLink *link = g_steal_pointer (&self->link);
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);

    for (GSList *l = tasks; l; l = l->next) {
        GTask *task = l->data;
        wait_task_forget_cancel (task);
        if (error)
            g_task_return_error (task, g_error_copy (error));
        else
            g_task_return_boolean (task, TRUE);
        g_object_unref (task);
    }
    g_slist_free (tasks);
    if (link)
        bl_link_unref (link);
}

void
bl_execution_exited (BoxliteExecution *self, gint code, gint signal_number, gboolean timed_out,
                     gboolean oom_killed, GError *failure)
{
    g_mutex_lock (&self->lock);
    self->oom_killed = oom_killed;
    self->exited = signal_number == 0;
    self->exit_code = code;
    self->term_signal = signal_number;
    self->timed_out = timed_out;
    g_mutex_unlock (&self->lock);
    /* Output still queued stays readable; the agent ended both streams. */
    for (guint i = 0; i < 2; i++) {
        self->out[i].eof = TRUE;
        out_pipe_flush (&self->out[i]);
    }
    finish (self, failure);
}

void
bl_execution_fail (BoxliteExecution *self, const GError *error)
{
    for (guint i = 0; i < 2; i++)
        out_pipe_close (&self->out[i]);
    finish (self, error ? g_error_copy (error)
                        : g_error_new_literal (BOXLITE_ERROR, BOXLITE_ERROR_FAILED,
                                               "the command did not start"));
}

static void
boxlite_execution_finalize (GObject *object)
{
    BoxliteExecution *self = BOXLITE_EXECUTION (object);

    for (guint i = 0; i < 2; i++)
        out_pipe_close (&self->out[i]);
    stdin_close (self);
    g_clear_object (&self->stdout_stream);
    g_clear_object (&self->stderr_stream);
    g_clear_object (&self->stdin_stream);
    g_clear_pointer (&self->io_context, g_main_context_unref);
    g_clear_error (&self->error);
    g_slist_free_full (self->wait_tasks, g_object_unref);
    if (self->link)
        bl_link_unref (self->link);
    g_mutex_clear (&self->lock);
    g_cond_clear (&self->cond);
    G_OBJECT_CLASS (boxlite_execution_parent_class)->finalize (object);
}

static void
boxlite_execution_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
    BoxliteExecution *self = BOXLITE_EXECUTION (object);

    switch (prop_id) {
    case PROP_OOM_KILLED:
        g_value_set_boolean (value, boxlite_execution_get_oom_killed (self));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
boxlite_execution_class_init (BoxliteExecutionClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS (klass);

    object_class->finalize = boxlite_execution_finalize;
    object_class->get_property = boxlite_execution_get_property;

    /**
     * BoxliteExecution:oom-killed:
     *
     * Whether the guest's OOM killer killed a process of the command (the
     * command itself, which then ends with `SIGKILL`, or one it started)
     * because the box ran out of memory. The box goes on running. Read it
     * once the command has ended; it is not notified.
     *
     * Since: 0.1
     */
    properties[PROP_OOM_KILLED] = g_param_spec_boolean ("oom-killed", NULL, NULL, FALSE,
                                                        G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
boxlite_execution_init (BoxliteExecution *self)
{
    g_mutex_init (&self->lock);
    g_cond_init (&self->cond);
    for (guint i = 0; i < 2; i++) {
        self->out[i].owner = self;
        self->out[i].fd = -1;
        g_queue_init (&self->out[i].pending);
    }
    self->stdin_fd = -1;
    self->exit_code = -1;
}

/**
 * boxlite_execution_get_stdin:
 * @self: the execution
 *
 * Gives the command's input. Closing the stream ends the command's input.
 * Writing after the command exited raises SIGPIPE, as with any pipe.
 *
 * Returns: (nullable) (transfer none): the command's stdin, or %NULL when the
 *   command was not given one (see boxlite_command_set_stdin())
 *
 * Since: 0.1
 */
GOutputStream *
boxlite_execution_get_stdin (BoxliteExecution *self)
{
    g_return_val_if_fail (BOXLITE_IS_EXECUTION (self), NULL);
    return self->stdin_stream;
}

/**
 * boxlite_execution_get_stdout:
 * @self: the execution
 *
 * Gives the command's standard output. The command makes progress only
 * while its output is read: read stdout and stderr (or close them) before
 * or while waiting.
 *
 * Returns: (transfer none): the command's stdout
 *
 * Since: 0.1
 */
GInputStream *
boxlite_execution_get_stdout (BoxliteExecution *self)
{
    g_return_val_if_fail (BOXLITE_IS_EXECUTION (self), NULL);
    return self->stdout_stream;
}

/**
 * boxlite_execution_get_stderr:
 * @self: the execution
 *
 * Gives the command's standard error; see boxlite_execution_get_stdout().
 *
 * Returns: (transfer none): the command's stderr
 *
 * Since: 0.1
 */
GInputStream *
boxlite_execution_get_stderr (BoxliteExecution *self)
{
    g_return_val_if_fail (BOXLITE_IS_EXECUTION (self), NULL);
    return self->stderr_stream;
}

/**
 * boxlite_execution_get_pid:
 * @self: the execution
 *
 * Gives the command's process id in the box's pid namespace.
 *
 * Returns: the command's process id inside the box
 *
 * Since: 0.1
 */
gint
boxlite_execution_get_pid (BoxliteExecution *self)
{
    g_return_val_if_fail (BOXLITE_IS_EXECUTION (self), 0);
    g_mutex_lock (&self->lock);
    gint pid = self->pid;
    g_mutex_unlock (&self->lock);
    return pid;
}

static gboolean
outcome (BoxliteExecution *self, GError **error)
{
    if (self->error) {
        g_propagate_error (error, g_error_copy (self->error));
        return FALSE;
    }
    return TRUE;
}

static void
wake_waiters (GCancellable *cancellable, BoxliteExecution *self)
{
    g_mutex_lock (&self->lock);
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
}

/**
 * boxlite_execution_wait:
 * @self: the execution
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @error: return location for a #GError, or %NULL
 *
 * Blocks until the command ended. Safe from any thread. Cancelling
 * @cancellable ends the wait with %G_IO_ERROR_CANCELLED and nothing else:
 * the command runs on, and a later wait gets its outcome.
 *
 * Returns: %TRUE when the command ended (see
 *   boxlite_execution_get_exit_code()), or %FALSE with @error set when the
 *   box went away first (BOXLITE_ERROR: %BOXLITE_ERROR_CRASHED,
 *   %BOXLITE_ERROR_PROTOCOL) or the wait was cancelled
 *   (%G_IO_ERROR_CANCELLED)
 *
 * Since: 0.1
 */
gboolean
boxlite_execution_wait (BoxliteExecution *self, GCancellable *cancellable, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_EXECUTION (self), FALSE);

    /* Connected outside the lock: on a cancellable cancelled already the
     * handler runs at once, and it takes the lock. */
    gulong handler =
        cancellable ? g_cancellable_connect (cancellable, G_CALLBACK (wake_waiters), self, NULL)
                    : 0;
    gboolean ok;

    g_mutex_lock (&self->lock);
    while (!self->done && !g_cancellable_is_cancelled (cancellable))
        g_cond_wait (&self->cond, &self->lock);
    if (self->done)
        ok = outcome (self, error);
    else
        ok = !g_cancellable_set_error_if_cancelled (cancellable, error);
    g_mutex_unlock (&self->lock);
    if (cancellable)
        g_cancellable_disconnect (cancellable, handler);
    return ok;
}

/* On the waiter's context: the wait was cancelled before the command ended. */
static gboolean
on_wait_cancelled (GCancellable *cancellable, gpointer user_data)
{
    GTask *task = user_data;
    BoxliteExecution *self = g_task_get_source_object (task);
    gboolean waiting;

    g_mutex_lock (&self->lock);
    waiting = g_slist_find (self->wait_tasks, task) != NULL;
    self->wait_tasks = g_slist_remove (self->wait_tasks, task);
    g_mutex_unlock (&self->lock);
    if (waiting) {
        /* The list's reference goes once the task is answered. */
        g_task_return_error_if_cancelled (task);
        g_object_unref (task);
    }
    return G_SOURCE_REMOVE;
}

/**
 * boxlite_execution_wait_async:
 * @self: the execution
 * @cancellable: (nullable): a #GCancellable, or %NULL
 * @callback: (scope async): called on the thread-default main context when
 *   the command ended
 * @user_data: (closure): data for @callback
 *
 * Waits for the command without blocking; see boxlite_execution_wait().
 * Call boxlite_execution_wait_finish() from @callback. Cancelling
 * @cancellable answers with %G_IO_ERROR_CANCELLED at once and leaves the
 * command running; a later wait gets its outcome.
 *
 * Since: 0.1
 */
void
boxlite_execution_wait_async (BoxliteExecution *self, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail (BOXLITE_IS_EXECUTION (self));
    GTask *task = g_task_new (self, cancellable, callback, user_data);
    g_task_set_source_tag (task, boxlite_execution_wait_async);

    g_mutex_lock (&self->lock);
    if (!self->done) {
        if (cancellable) {
            g_autoptr (GSource) source = g_cancellable_source_new (cancellable);
            g_task_attach_source (task, source, G_SOURCE_FUNC (on_wait_cancelled));
            g_task_set_task_data (task, g_source_ref (source), (GDestroyNotify) g_source_unref);
        }
        self->wait_tasks = g_slist_prepend (self->wait_tasks, task);
        g_mutex_unlock (&self->lock);
        return;
    }
    GError *error = self->error ? g_error_copy (self->error) : NULL;
    g_mutex_unlock (&self->lock);
    if (error)
        g_task_return_error (task, error);
    else
        g_task_return_boolean (task, TRUE);
    g_object_unref (task);
}

/**
 * boxlite_execution_wait_finish:
 * @self: the execution
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError, or %NULL
 *
 * Finishes boxlite_execution_wait_async().
 *
 * Returns: %TRUE when the command ended, or %FALSE with @error set, as
 *   boxlite_execution_wait() (BOXLITE_ERROR or G_IO_ERROR)
 *
 * Since: 0.1
 */
gboolean
boxlite_execution_wait_finish (BoxliteExecution *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
    return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * boxlite_execution_get_exited:
 * @self: the execution
 *
 * Tells whether the command ended by exiting.
 *
 * Returns: %TRUE when the command ended by exiting (not by a signal)
 *
 * Since: 0.1
 */
gboolean
boxlite_execution_get_exited (BoxliteExecution *self)
{
    g_return_val_if_fail (BOXLITE_IS_EXECUTION (self), FALSE);
    g_mutex_lock (&self->lock);
    gboolean exited = self->done && self->exited;
    g_mutex_unlock (&self->lock);
    return exited;
}

/**
 * boxlite_execution_get_exit_code:
 * @self: the execution
 *
 * Gives the command's exit status.
 *
 * Returns: the exit status, or -1 when the command has not exited or was
 *   killed by a signal
 *
 * Since: 0.1
 */
gint
boxlite_execution_get_exit_code (BoxliteExecution *self)
{
    g_return_val_if_fail (BOXLITE_IS_EXECUTION (self), -1);
    g_mutex_lock (&self->lock);
    gint code = self->done && self->exited ? self->exit_code : -1;
    g_mutex_unlock (&self->lock);
    return code;
}

/**
 * boxlite_execution_get_term_signal:
 * @self: the execution
 *
 * Gives the signal that ended the command.
 *
 * Returns: the signal that killed the command, or 0
 *
 * Since: 0.1
 */
gint
boxlite_execution_get_term_signal (BoxliteExecution *self)
{
    g_return_val_if_fail (BOXLITE_IS_EXECUTION (self), 0);
    g_mutex_lock (&self->lock);
    gint sig = self->done ? self->term_signal : 0;
    g_mutex_unlock (&self->lock);
    return sig;
}

/**
 * boxlite_execution_get_timed_out:
 * @self: the execution
 *
 * Tells whether the command's timeout (see boxlite_command_set_timeout_ms())
 * ended it.
 *
 * Returns: %TRUE when the command was killed because its timeout expired
 *
 * Since: 0.1
 */
gboolean
boxlite_execution_get_timed_out (BoxliteExecution *self)
{
    g_return_val_if_fail (BOXLITE_IS_EXECUTION (self), FALSE);
    g_mutex_lock (&self->lock);
    gboolean timed_out = self->timed_out;
    g_mutex_unlock (&self->lock);
    return timed_out;
}

/**
 * boxlite_execution_get_oom_killed:
 * @self: the execution
 *
 * Tells whether the guest's OOM killer killed the command or a process it
 * started (see [property@Boxlite.Execution:oom-killed]).
 *
 * Returns: %TRUE when a process of the command was killed because the box
 *   ran out of memory
 *
 * Since: 0.1
 */
gboolean
boxlite_execution_get_oom_killed (BoxliteExecution *self)
{
    g_return_val_if_fail (BOXLITE_IS_EXECUTION (self), FALSE);
    g_mutex_lock (&self->lock);
    gboolean oom_killed = self->done && self->oom_killed;
    g_mutex_unlock (&self->lock);
    return oom_killed;
}

typedef struct {
    BoxliteExecution *self;
    JsonNode *request;
} ChannelRequest;

static gboolean
request_on_io_thread (gpointer data)
{
    ChannelRequest *req = data;
    BoxliteExecution *self = req->self;

    /* Nothing waits for the answer: the monitor forwards it and the link
     * drops it. A command that ended meanwhile has no link any more. */
    if (self->link)
        bl_link_send_json (self->link, self->channel, req->request);
    json_node_unref (req->request);
    g_object_unref (self);
    g_free (req);
    return G_SOURCE_REMOVE;
}

/* Sends @command with the integer @names / @values as its arguments on the
 * command's channel, unless the command has ended. */
static gboolean
send_request (BoxliteExecution *self, const char *command, const char *const *names,
              const gint *values, guint n, GError **error)
{
    g_mutex_lock (&self->lock);
    gboolean done = self->done;
    g_mutex_unlock (&self->lock);
    if (done) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE, "the command has ended");
        return FALSE;
    }

    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "execute");
    json_builder_add_string_value (b, command);
    json_builder_set_member_name (b, "arguments");
    json_builder_begin_object (b);
    for (guint i = 0; i < n; i++) {
        json_builder_set_member_name (b, names[i]);
        json_builder_add_int_value (b, values[i]);
    }
    json_builder_end_object (b);
    json_builder_end_object (b);

    ChannelRequest *req = g_new0 (ChannelRequest, 1);
    req->self = g_object_ref (self);
    req->request = json_builder_get_root (b);
    /* Ahead of the stdin watch (default priority), so that input written
     * after this call does not overtake the request. */
    g_main_context_invoke_full (self->io_context, G_PRIORITY_HIGH, request_on_io_thread, req, NULL);
    return TRUE;
}

/**
 * boxlite_execution_kill:
 * @self: the execution
 * @signal_number: a signal number, as in kill(2)
 * @error: return location for a #GError, or %NULL
 *
 * Sends @signal_number to the command inside the box.
 *
 * Returns: %TRUE when the signal was sent, or %FALSE with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_INVALID_ARGUMENT for a number that is
 *   not a signal, %BOXLITE_ERROR_INVALID_STATE when the command has ended)
 *
 * Since: 0.1
 */
gboolean
boxlite_execution_kill (BoxliteExecution *self, gint signal_number, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_EXECUTION (self), FALSE);

    if (signal_number < 1 || signal_number > 64) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "%d is not a signal number", signal_number);
        return FALSE;
    }
    const char *const names[] = { "signal" };
    return send_request (self, "signal", names, &signal_number, 1, error);
}

/**
 * boxlite_execution_get_tty:
 * @self: the execution
 *
 * Tells whether the command runs on a terminal (see
 * [property@Boxlite.Command:tty]).
 *
 * Returns: %TRUE when the command runs on a terminal
 *
 * Since: 0.1
 */
gboolean
boxlite_execution_get_tty (BoxliteExecution *self)
{
    g_return_val_if_fail (BOXLITE_IS_EXECUTION (self), FALSE);
    return self->tty;
}

/**
 * boxlite_execution_resize:
 * @self: the execution
 * @rows: the terminal's new number of rows, 1 to 65535
 * @cols: the terminal's new number of columns, 1 to 65535
 * @error: return location for a #GError, or %NULL
 *
 * Changes the size of the command's terminal; the programs on it get
 * `SIGWINCH`, as when a terminal window is resized. The request is sent
 * without waiting for it to be applied; input written to the command's
 * stdin after this call returns reaches the terminal after it.
 *
 * Returns: %TRUE when the request was sent, or %FALSE with @error set
 *   (BOXLITE_ERROR: %BOXLITE_ERROR_INVALID_ARGUMENT for a size out of range,
 *   %BOXLITE_ERROR_INVALID_STATE when the command has no terminal or has
 *   ended)
 *
 * Since: 0.1
 */
gboolean
boxlite_execution_resize (BoxliteExecution *self, guint rows, guint cols, GError **error)
{
    g_return_val_if_fail (BOXLITE_IS_EXECUTION (self), FALSE);

    if (!self->tty) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE,
                     "the command has no terminal to resize (see BoxliteCommand:tty)");
        return FALSE;
    }
    if (rows < BL_PROTO_TTY_MIN || rows > BL_PROTO_TTY_MAX || cols < BL_PROTO_TTY_MIN ||
        cols > BL_PROTO_TTY_MAX) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "%u x %u is not a terminal size (rows and columns go from %d to %d)", rows,
                     cols, BL_PROTO_TTY_MIN, BL_PROTO_TTY_MAX);
        return FALSE;
    }
    const char *const names[] = { "rows", "cols" };
    const gint values[] = { (gint) rows, (gint) cols };
    return send_request (self, "resize", names, values, 2, error);
}

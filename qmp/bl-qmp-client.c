/* bl-qmp-client.c: QMP over a unix socket, replies matched by id.
 *
 * Life of a client: CONNECTING (socket connect) → GREETING (waiting for
 * {"QMP": ...}) → NEGOTIATING (qmp_capabilities sent) → READY → CLOSED.
 * end_connection() is the one way into CLOSED, whatever the cause: it fails
 * every pending command and emits "disconnected".
 *
 * The read and write operations in flight hold only a weak reference to
 * the client, so dropping the last reference to a connected client
 * finalizes it; commands in flight hold a strong one through their GTask.
 */
#define G_LOG_DOMAIN "boxlite-qmp"

#include "bl-qmp-client.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixfdmessage.h>
#include <gio/gunixsocketaddress.h>

#include "bl-qmp-message.h"

#define READ_CHUNK_SIZE (64 * 1024)

typedef enum {
    STATE_CONNECTING,
    STATE_GREETING,
    STATE_NEGOTIATING,
    STATE_READY,
    STATE_CLOSED,
} ClientState;

typedef enum {
    END_PEER_CLOSED,   /* QEMU closed the socket */
    END_CLIENT_CLOSED, /* bl_qmp_client_close() */
    END_FAILED,        /* socket error, protocol violation or cancelled handshake */
} EndCause;

typedef struct {
    gint64 id; /* key in BlQmpClient.pending */
    char *command;
    GTask *task;
    GSource *cancel_source; /* nullable */
} PendingCommand;

typedef struct {
    GWeakRef client;
    GBytes *line;
} WriteOp;

/* A line waiting in the outbox, with the descriptor to pass along with its
 * first byte (SCM_RIGHTS), or -1. */
typedef struct {
    GBytes *line;
    int fd;
} OutLine;

static void
out_line_free (OutLine *out)
{
    g_bytes_unref (out->line);
    if (out->fd >= 0)
        close (out->fd);
    g_free (out);
}

struct _BlQmpClient {
    GObject parent_instance;

    GMainContext *context;
    gboolean owns_context; /* a private context made by bl_qmp_client_connect_sync() */
    ClientState state;
    char *socket_path;
    GSocketConnection *connection;
    GCancellable *io_cancellable; /* cancels our reads and writes once CLOSED */
    gboolean reading;
    gboolean writing;

    GByteArray *input; /* bytes read that do not yet make a whole line */
    GQueue outbox;     /* OutLine: lines not yet handed to the socket */

    gint64 last_id;
    GHashTable *pending; /* gint64 id → PendingCommand */

    GTask *connect_task; /* set until the handshake completes */
    GSource *connect_cancel_source;

    char *qemu_version;
    EndCause end_cause;
    GError *disconnect_reason; /* set once CLOSED */
};

enum {
    SIGNAL_EVENT,
    SIGNAL_DISCONNECTED,
    N_SIGNALS,
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (BlQmpClient, bl_qmp_client, G_TYPE_OBJECT)

static void start_read (BlQmpClient *self);

/* Pending commands */

static void
pending_free (PendingCommand *pending)
{
    if (pending->cancel_source != NULL) {
        g_source_destroy (pending->cancel_source);
        g_source_unref (pending->cancel_source);
    }
    g_clear_object (&pending->task);
    g_free (pending->command);
    g_free (pending);
}

/* Removes the command with @id from the table; NULL if there is none. */
static PendingCommand *
steal_pending (BlQmpClient *self, gint64 id)
{
    gpointer pending = NULL;

    if (!g_hash_table_steal_extended (self->pending, &id, NULL, &pending))
        return NULL;
    return pending;
}

static gint
compare_pending_id (gconstpointer a, gconstpointer b)
{
    const PendingCommand *pa = *(PendingCommand *const *) a;
    const PendingCommand *pb = *(PendingCommand *const *) b;

    return (pa->id > pb->id) - (pa->id < pb->id);
}

static char *
pending_failure_message (BlQmpClient *self, const char *command)
{
    switch (self->end_cause) {
    case END_PEER_CLOSED:
        return g_strdup_printf ("QEMU closed the QMP connection while '%s' was pending", command);
    case END_CLIENT_CLOSED:
        return g_strdup_printf ("The QMP connection was closed while '%s' was pending", command);
    case END_FAILED:
    default:
        return g_strdup_printf ("The QMP connection was lost while '%s' was pending: %s", command,
                                self->disconnect_reason->message);
    }
}

/* Fails every pending command, oldest first. The table is emptied before
 * any callback runs, since a callback may send new commands. */
static void
fail_all_pending (BlQmpClient *self)
{
    g_autoptr (GPtrArray) failed = g_ptr_array_new ();
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, self->pending);
    while (g_hash_table_iter_next (&iter, NULL, &value)) {
        g_ptr_array_add (failed, value);
        g_hash_table_iter_steal (&iter);
    }
    g_ptr_array_sort (failed, compare_pending_id);

    for (guint i = 0; i < failed->len; i++) {
        PendingCommand *pending = failed->pdata[i];
        g_autofree char *message = pending_failure_message (self, pending->command);

        g_task_return_new_error (pending->task, BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED, "%s",
                                 message);
        pending_free (pending);
    }
}

/* Ending the connection */

static void
destroy_connect_cancel_source (BlQmpClient *self)
{
    if (self->connect_cancel_source == NULL)
        return;
    g_source_destroy (self->connect_cancel_source);
    g_clear_pointer (&self->connect_cancel_source, g_source_unref);
}

/* Closes the socket once no read or write is in flight on it. */
static void
release_connection_when_idle (BlQmpClient *self)
{
    if (self->connection == NULL || self->reading || self->writing)
        return;
    g_io_stream_close (G_IO_STREAM (self->connection), NULL, NULL);
    g_clear_object (&self->connection);
}

/* Stops all I/O: queued lines are dropped, operations in flight are
 * cancelled, and the socket is shut down so QEMU sees us go at once. */
static void
stop_io (BlQmpClient *self)
{
    g_cancellable_cancel (self->io_cancellable);
    g_queue_clear_full (&self->outbox, (GDestroyNotify) out_line_free);
    if (self->connection != NULL) {
        GSocket *socket = g_socket_connection_get_socket (self->connection);

        g_socket_shutdown (socket, TRUE, TRUE, NULL);
    }
    release_connection_when_idle (self);
}

static void
fail_connect (BlQmpClient *self)
{
    g_autoptr (GTask) task = g_steal_pointer (&self->connect_task);

    destroy_connect_cancel_source (self);
    if (self->end_cause == END_PEER_CLOSED)
        g_task_return_new_error (task, BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED,
                                 "QEMU closed the QMP connection %s before its greeting",
                                 self->socket_path);
    else
        g_task_return_error (task, g_error_copy (self->disconnect_reason));
}

/* The one way into CLOSED. Takes @reason. */
static void
end_connection (BlQmpClient *self, EndCause cause, GError *reason)
{
    ClientState previous = self->state;

    if (previous == STATE_CLOSED) {
        g_error_free (reason);
        return;
    }
    g_object_ref (self); /* the callbacks run below may drop the last reference */
    self->state = STATE_CLOSED;
    self->end_cause = cause;
    self->disconnect_reason = reason;
    g_debug ("QMP connection %s ended: %s", self->socket_path, reason->message);

    stop_io (self);
    if (previous == STATE_GREETING && self->connect_task != NULL)
        fail_connect (self);
    fail_all_pending (self);
    g_signal_emit (self, signals[SIGNAL_DISCONNECTED], 0, self->disconnect_reason);
    g_object_unref (self);
}

static void
end_with_protocol_error (BlQmpClient *self, const GError *error)
{
    end_connection (self, END_FAILED,
                    g_error_new (BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL, "QEMU sent malformed QMP: %s",
                                 error->message));
}

/* A peer that dies with our command unread makes the kernel reset the
 * connection (ECONNRESET) rather than end it (EOF); writing to it fails
 * with EPIPE. Both mean QEMU went away. */
static gboolean
peer_hung_up (const GError *error)
{
    return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
}

static void
end_with_peer_closed (BlQmpClient *self)
{
    end_connection (self, END_PEER_CLOSED,
                    g_error_new_literal (BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED,
                                         "QEMU closed the QMP connection"));
}

/* Writing */

static void flush_outbox (BlQmpClient *self);

static void
on_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
    WriteOp *op = user_data;
    g_autoptr (BlQmpClient) self = g_weak_ref_get (&op->client);
    g_autoptr (GError) error = NULL;
    gboolean written;

    written = g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
    g_weak_ref_clear (&op->client);
    g_bytes_unref (op->line);
    g_free (op);
    if (self == NULL)
        return;

    self->writing = FALSE;
    if (self->state == STATE_CLOSED) {
        release_connection_when_idle (self);
        return;
    }
    if (!written && peer_hung_up (error)) {
        end_with_peer_closed (self);
        return;
    }
    if (!written) {
        end_connection (self, END_FAILED,
                        g_error_new (BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED,
                                     "Writing to the QMP socket failed: %s", error->message));
        return;
    }
    flush_outbox (self);
}

/* Starts writing the next queued line unless a write is in flight: a
 * GOutputStream takes one operation at a time. */
/* Sends the first byte of @out with its descriptor, nothing being in
 * flight; returns the rest of the line, or NULL when the connection ended. */
static GBytes *
send_with_fd (BlQmpClient *self, OutLine *out)
{
    GSocket *socket = g_socket_connection_get_socket (self->connection);
    g_autoptr (GSocketControlMessage) message = g_unix_fd_message_new ();
    g_autoptr (GError) error = NULL;
    gsize size = g_bytes_get_size (out->line);
    GOutputVector first = { g_bytes_get_data (out->line, NULL), 1 };

    if (!g_unix_fd_message_append_fd (G_UNIX_FD_MESSAGE (message), out->fd, &error) ||
        g_socket_send_message (socket, NULL, &first, 1, &message, 1, 0, self->io_cancellable,
                               &error) != 1) {
        end_connection (self, END_FAILED,
                        g_error_new (BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED,
                                     "Passing a file to QEMU failed: %s",
                                     error ? error->message : "short write"));
        return NULL;
    }
    return g_bytes_new_from_bytes (out->line, 1, size - 1);
}

static void
flush_outbox (BlQmpClient *self)
{
    GOutputStream *output;
    WriteOp *op;
    OutLine *out;
    GBytes *line;

    if (self->writing || self->state == STATE_CLOSED || g_queue_is_empty (&self->outbox))
        return;

    out = g_queue_pop_head (&self->outbox);
    line = out->fd >= 0 ? send_with_fd (self, out) : g_bytes_ref (out->line);
    out_line_free (out);
    if (!line)
        return;
    op = g_new0 (WriteOp, 1);
    g_weak_ref_init (&op->client, self);
    op->line = line;
    output = g_io_stream_get_output_stream (G_IO_STREAM (self->connection));
    self->writing = TRUE;
    g_output_stream_write_all_async (output, g_bytes_get_data (op->line, NULL),
                                     g_bytes_get_size (op->line), G_PRIORITY_DEFAULT,
                                     self->io_cancellable, on_written, op);
}

/* Commands */

static gboolean
on_command_cancelled (GCancellable *cancellable, gpointer user_data)
{
    PendingCommand *pending = user_data;
    BlQmpClient *self = g_task_get_source_object (pending->task);

    steal_pending (self, pending->id);
    g_debug ("'%s' (id %" G_GINT64_FORMAT ") cancelled; its reply will be ignored",
             pending->command, pending->id);
    /* This source is being dispatched: returning REMOVE destroys it. */
    g_clear_pointer (&pending->cancel_source, g_source_unref);
    g_task_return_error_if_cancelled (pending->task);
    pending_free (pending);
    return G_SOURCE_REMOVE;
}

/* Takes @fd (-1 for none). */
static void
send_command (BlQmpClient *self, const char *command, JsonObject *arguments, int fd,
              GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
    PendingCommand *pending;
    OutLine *out;

    g_task_set_source_tag (task, bl_qmp_client_execute_async);
    if (self->state == STATE_CLOSED) {
        g_task_return_new_error (task, BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED,
                                 "Cannot run '%s': the QMP connection is closed (%s)", command,
                                 self->disconnect_reason->message);
        if (fd >= 0)
            close (fd);
        return;
    }
    if (g_task_return_error_if_cancelled (task)) {
        if (fd >= 0)
            close (fd);
        return;
    }

    pending = g_new0 (PendingCommand, 1);
    pending->id = ++self->last_id;
    pending->command = g_strdup (command);
    pending->task = g_steal_pointer (&task);
    if (cancellable != NULL) {
        pending->cancel_source = g_cancellable_source_new (cancellable);
        g_source_set_callback (pending->cancel_source, G_SOURCE_FUNC (on_command_cancelled),
                               pending, NULL);
        g_source_attach (pending->cancel_source, g_task_get_context (pending->task));
    }
    g_hash_table_insert (self->pending, &pending->id, pending);

    g_debug ("-> %s (id %" G_GINT64_FORMAT ")", command, pending->id);
    out = g_new0 (OutLine, 1);
    out->line = bl_qmp_message_build_command (command, arguments, pending->id);
    out->fd = fd;
    g_queue_push_tail (&self->outbox, out);
    flush_outbox (self);
}

void
bl_qmp_client_execute_async (BlQmpClient *self, const char *command, JsonObject *arguments,
                             GCancellable *cancellable, GAsyncReadyCallback callback,
                             gpointer user_data)
{
    g_return_if_fail (BL_IS_QMP_CLIENT (self));
    g_return_if_fail (command != NULL && command[0] != '\0');
    g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

    send_command (self, command, arguments, -1, cancellable, callback, user_data);
}

void
bl_qmp_client_execute_with_fd_async (BlQmpClient *self, const char *command, JsonObject *arguments,
                                     int fd, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail (BL_IS_QMP_CLIENT (self));
    g_return_if_fail (command != NULL && command[0] != '\0');
    g_return_if_fail (fd >= 0);

    int copy = fcntl (fd, F_DUPFD_CLOEXEC, 3);
    if (copy < 0) {
        g_task_report_new_error (self, callback, user_data, bl_qmp_client_execute_async, G_IO_ERROR,
                                 g_io_error_from_errno (errno), "Cannot pass a file to QEMU: %s",
                                 g_strerror (errno));
        return;
    }
    send_command (self, command, arguments, copy, cancellable, callback, user_data);
}

JsonNode *
bl_qmp_client_execute_finish (BlQmpClient *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail (g_task_is_valid (result, self), NULL);
    g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == bl_qmp_client_execute_async,
                          NULL);

    return g_task_propagate_pointer (G_TASK (result), error);
}

/* Reading */

static void
handle_reply (BlQmpClient *self, BlQmpMessage *message)
{
    PendingCommand *pending;

    if (!message->has_id) {
        g_debug ("Ignoring a reply without an id of ours");
        return;
    }
    pending = steal_pending (self, message->id);
    if (pending == NULL) {
        g_debug ("Ignoring a reply to id %" G_GINT64_FORMAT ", which nothing waits for",
                 message->id);
        return;
    }
    if (pending->cancel_source != NULL) {
        g_source_destroy (pending->cancel_source);
        g_clear_pointer (&pending->cancel_source, g_source_unref);
    }
    if (message->kind == BL_QMP_MESSAGE_ERROR) {
        g_debug ("<- %s failed: %s: %s", pending->command, message->error_class,
                 message->error_desc);
        g_task_return_new_error (pending->task, BL_QMP_ERROR,
                                 bl_qmp_error_from_class (message->error_class), "%s",
                                 message->error_desc);
    } else {
        g_debug ("<- %s (id %" G_GINT64_FORMAT ") returned", pending->command, pending->id);
        g_task_return_pointer (pending->task, json_node_copy (message->value),
                               (GDestroyNotify) json_node_unref);
    }
    pending_free (pending);
}

static void
emit_event (BlQmpClient *self, BlQmpMessage *message)
{
    /* Only look the quark up: interning names QEMU sends would let it grow
     * the quark table without bound, and a name no one has interned has no
     * handler connected to it anyway. */
    GQuark detail = g_quark_try_string (message->event);

    g_debug ("<- event %s", message->event);
    g_signal_emit (self, signals[SIGNAL_EVENT], detail, message->event, message->data,
                   message->timestamp_usec);
}

static void on_capabilities_negotiated (GObject *source, GAsyncResult *result, gpointer user_data);

static void
handle_greeting (BlQmpClient *self, BlQmpMessage *message)
{
    if (message->kind != BL_QMP_MESSAGE_GREETING) {
        end_connection (self, END_FAILED,
                        g_error_new (BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL,
                                     "QEMU did not start %s with a QMP greeting",
                                     self->socket_path));
        return;
    }
    g_debug ("QMP greeting from QEMU %s", message->version);
    self->qemu_version = g_strdup (message->version);
    self->state = STATE_NEGOTIATING;
    destroy_connect_cancel_source (self);
    send_command (self, "qmp_capabilities", NULL, -1, g_task_get_cancellable (self->connect_task),
                  on_capabilities_negotiated, g_object_ref (self->connect_task));
}

static void
handle_line (BlQmpClient *self, const char *line, gsize len)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BlQmpMessage) message = NULL;

    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return;

    message = bl_qmp_message_parse (line, len, &error);
    if (message == NULL) {
        end_with_protocol_error (self, error);
        return;
    }
    if (self->state == STATE_GREETING) {
        handle_greeting (self, message);
        return;
    }
    switch (message->kind) {
    case BL_QMP_MESSAGE_RETURN:
    case BL_QMP_MESSAGE_ERROR:
        handle_reply (self, message);
        break;
    case BL_QMP_MESSAGE_EVENT:
        emit_event (self, message);
        break;
    case BL_QMP_MESSAGE_GREETING:
        g_debug ("Ignoring a second QMP greeting");
        break;
    case BL_QMP_MESSAGE_UNKNOWN:
    default:
        g_debug ("Ignoring a QMP message that is no reply, event or greeting");
        break;
    }
}

/* Handles every whole line in the input buffer and keeps the rest. A
 * handler may end the connection, so the state is checked after each. */
static void
consume_lines (BlQmpClient *self)
{
    gsize start = 0;

    while (self->state != STATE_CLOSED) {
        const char *begin = (const char *) self->input->data + start;
        const char *newline = memchr (begin, '\n', self->input->len - start);
        gsize len;

        if (newline == NULL)
            break;
        len = (gsize) (newline - begin);
        if (len > BL_QMP_MAX_LINE_LENGTH)
            break; /* reported below */
        handle_line (self, begin, len);
        start += len + 1;
    }
    if (self->state == STATE_CLOSED)
        return;

    g_byte_array_remove_range (self->input, 0, (guint) start);
    if (self->input->len > BL_QMP_MAX_LINE_LENGTH) {
        g_autoptr (GError) error =
            g_error_new (BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL, "a line is longer than %d bytes",
                         BL_QMP_MAX_LINE_LENGTH);

        end_with_protocol_error (self, error);
    }
}

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
    GWeakRef *weak = user_data;
    g_autoptr (BlQmpClient) self = g_weak_ref_get (weak);
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) bytes = NULL;

    g_weak_ref_clear (weak);
    g_free (weak);
    bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, &error);
    if (self == NULL)
        return;

    self->reading = FALSE;
    if (self->state == STATE_CLOSED) {
        release_connection_when_idle (self);
        return;
    }
    if (bytes == NULL && !peer_hung_up (error)) {
        end_connection (self, END_FAILED,
                        g_error_new (BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED,
                                     "Reading from the QMP socket failed: %s", error->message));
        return;
    }
    if (bytes == NULL || g_bytes_get_size (bytes) == 0) {
        end_with_peer_closed (self);
        return;
    }

    g_byte_array_append (self->input, g_bytes_get_data (bytes, NULL),
                         (guint) g_bytes_get_size (bytes));
    consume_lines (self);
    if (self->state != STATE_CLOSED)
        start_read (self);
}

static void
start_read (BlQmpClient *self)
{
    GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (self->connection));
    GWeakRef *weak = g_new0 (GWeakRef, 1);

    g_weak_ref_init (weak, self);
    self->reading = TRUE;
    g_input_stream_read_bytes_async (input, READ_CHUNK_SIZE, G_PRIORITY_DEFAULT,
                                     self->io_cancellable, on_read, weak);
}

/* Connecting */

static void
on_capabilities_negotiated (GObject *source, GAsyncResult *result, gpointer user_data)
{
    BlQmpClient *self = BL_QMP_CLIENT (source);
    g_autoptr (GTask) task = user_data;
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) reply = bl_qmp_client_execute_finish (self, result, &error);

    g_clear_object (&self->connect_task);
    if (reply == NULL) {
        g_prefix_error (&error, "QMP capabilities negotiation on %s failed: ", self->socket_path);
        bl_qmp_client_close (self);
        g_task_return_error (task, g_steal_pointer (&error));
        return;
    }
    self->state = STATE_READY;
    g_task_return_pointer (task, g_object_ref (self), g_object_unref);
}

static gboolean
on_connect_cancelled (GCancellable *cancellable, gpointer user_data)
{
    BlQmpClient *self = user_data;

    g_clear_pointer (&self->connect_cancel_source, g_source_unref);
    end_connection (
        self, END_FAILED,
        g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "Operation was cancelled"));
    return G_SOURCE_REMOVE;
}

static void
on_socket_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr (GTask) task = user_data;
    BlQmpClient *self = g_task_get_task_data (task);
    GCancellable *cancellable = g_task_get_cancellable (task);
    g_autoptr (GError) error = NULL;

    self->connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
    if (self->connection == NULL) {
        g_prefix_error (&error, "Cannot connect to the QMP socket %s: ", self->socket_path);
        self->state = STATE_CLOSED;
        self->end_cause = END_FAILED;
        self->disconnect_reason = g_error_copy (error);
        g_clear_object (&self->connect_task);
        g_task_return_error (task, g_steal_pointer (&error));
        return;
    }

    self->state = STATE_GREETING;
    if (cancellable != NULL) {
        self->connect_cancel_source = g_cancellable_source_new (cancellable);
        g_source_set_callback (self->connect_cancel_source, G_SOURCE_FUNC (on_connect_cancelled),
                               self, NULL);
        g_source_attach (self->connect_cancel_source, self->context);
    }
    start_read (self);
}

void
bl_qmp_client_connect_async (const char *socket_path, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data)
{
    g_autoptr (GTask) task = NULL;
    g_autoptr (GSocketClient) socket_client = NULL;
    g_autoptr (GSocketAddress) address = NULL;
    BlQmpClient *self;

    g_return_if_fail (socket_path != NULL);
    g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

    task = g_task_new (NULL, cancellable, callback, user_data);
    g_task_set_source_tag (task, bl_qmp_client_connect_async);

    self = g_object_new (BL_TYPE_QMP_CLIENT, NULL);
    self->context = g_main_context_ref_thread_default ();
    self->socket_path = g_strdup (socket_path);
    /* Until the handshake ends, the client and the task keep each other. */
    self->connect_task = g_object_ref (task);
    g_task_set_task_data (task, self, g_object_unref);

    socket_client = g_socket_client_new ();
    address = g_unix_socket_address_new (socket_path);
    g_socket_client_connect_async (socket_client, G_SOCKET_CONNECTABLE (address), cancellable,
                                   on_socket_connected, g_steal_pointer (&task));
}

BlQmpClient *
bl_qmp_client_connect_finish (GAsyncResult *result, GError **error)
{
    g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
    g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == bl_qmp_client_connect_async,
                          NULL);

    return g_task_propagate_pointer (G_TASK (result), error);
}

/* Blocking wrappers */

static void
on_sync_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
    GAsyncResult **out = user_data;

    *out = g_object_ref (result);
}

BlQmpClient *
bl_qmp_client_connect_sync (const char *socket_path, GCancellable *cancellable, GError **error)
{
    g_autoptr (GMainContext) context = g_main_context_new ();
    g_autoptr (GAsyncResult) result = NULL;
    BlQmpClient *self;

    g_return_val_if_fail (socket_path != NULL, NULL);

    g_main_context_push_thread_default (context);
    bl_qmp_client_connect_async (socket_path, cancellable, on_sync_done, &result);
    while (result == NULL)
        g_main_context_iteration (context, TRUE);
    self = bl_qmp_client_connect_finish (result, error);
    g_main_context_pop_thread_default (context);
    if (self != NULL)
        self->owns_context = TRUE;
    return self;
}

JsonNode *
bl_qmp_client_execute_sync (BlQmpClient *self, const char *command, JsonObject *arguments,
                            GCancellable *cancellable, GError **error)
{
    g_autoptr (GAsyncResult) result = NULL;
    JsonNode *reply;

    g_return_val_if_fail (BL_IS_QMP_CLIENT (self), NULL);
    g_return_val_if_fail (command != NULL && command[0] != '\0', NULL);

    if (!g_main_context_acquire (self->context)) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                     "Cannot run '%s' here: another thread owns the QMP client's main context",
                     command);
        return NULL;
    }
    g_main_context_push_thread_default (self->context);
    bl_qmp_client_execute_async (self, command, arguments, cancellable, on_sync_done, &result);
    while (result == NULL)
        g_main_context_iteration (self->context, TRUE);
    reply = bl_qmp_client_execute_finish (self, result, error);
    g_main_context_pop_thread_default (self->context);
    g_main_context_release (self->context);
    return reply;
}

/* Conveniences */

static void
on_status_reply (GObject *source, GAsyncResult *result, gpointer user_data)
{
    g_autoptr (GTask) task = user_data;
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) reply = NULL;
    JsonObject *object;
    const char *status = NULL;

    reply = bl_qmp_client_execute_finish (BL_QMP_CLIENT (source), result, &error);
    if (reply == NULL) {
        g_task_return_error (task, g_steal_pointer (&error));
        return;
    }
    object = JSON_NODE_HOLDS_OBJECT (reply) ? json_node_get_object (reply) : NULL;
    if (object != NULL && json_object_has_member (object, "status")) {
        JsonNode *member = json_object_get_member (object, "status");

        if (json_node_get_value_type (member) == G_TYPE_STRING)
            status = json_node_get_string (member);
    }
    if (status == NULL) {
        g_task_return_new_error (task, BL_QMP_ERROR, BL_QMP_ERROR_PROTOCOL,
                                 "query-status returned no status string");
        return;
    }
    g_task_return_pointer (task, g_strdup (status), g_free);
}

void
bl_qmp_client_query_status_async (BlQmpClient *self, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
    GTask *task;

    g_return_if_fail (BL_IS_QMP_CLIENT (self));

    task = g_task_new (self, cancellable, callback, user_data);
    g_task_set_source_tag (task, bl_qmp_client_query_status_async);
    bl_qmp_client_execute_async (self, "query-status", NULL, cancellable, on_status_reply, task);
}

char *
bl_qmp_client_query_status_finish (BlQmpClient *self, GAsyncResult *result, GError **error)
{
    g_return_val_if_fail (g_task_is_valid (result, self), NULL);
    g_return_val_if_fail (
        g_task_get_source_tag (G_TASK (result)) == bl_qmp_client_query_status_async, NULL);

    return g_task_propagate_pointer (G_TASK (result), error);
}

void
bl_qmp_client_close (BlQmpClient *self)
{
    g_return_if_fail (BL_IS_QMP_CLIENT (self));

    end_connection (self, END_CLIENT_CLOSED,
                    g_error_new_literal (BL_QMP_ERROR, BL_QMP_ERROR_DISCONNECTED,
                                         "The QMP connection was closed by the client"));
}

gboolean
bl_qmp_client_is_connected (BlQmpClient *self)
{
    g_return_val_if_fail (BL_IS_QMP_CLIENT (self), FALSE);

    return self->state == STATE_READY;
}

const char *
bl_qmp_client_get_qemu_version (BlQmpClient *self)
{
    g_return_val_if_fail (BL_IS_QMP_CLIENT (self), NULL);

    return self->qemu_version;
}

const GError *
bl_qmp_client_get_disconnect_reason (BlQmpClient *self)
{
    g_return_val_if_fail (BL_IS_QMP_CLIENT (self), NULL);

    return self->disconnect_reason;
}

/* GObject */

/* The cancelled reads and writes of a client from connect_sync() complete
 * only when its private context runs, and nobody will run it after this:
 * run it now, so they free their buffers and the socket. */
static void
drain_private_context (BlQmpClient *self)
{
    if (!self->owns_context || !g_main_context_acquire (self->context))
        return;
    while (g_main_context_iteration (self->context, FALSE))
        ;
    g_main_context_release (self->context);
}

static void
bl_qmp_client_dispose (GObject *object)
{
    BlQmpClient *self = BL_QMP_CLIENT (object);

    /* Commands in flight hold a reference, so none is pending here, and
     * nobody is left to tell: close quietly. */
    if (self->state != STATE_CLOSED) {
        self->state = STATE_CLOSED;
        stop_io (self);
    }
    destroy_connect_cancel_source (self);
    if (self->connection != NULL) {
        /* A cancelled read may still hold the socket until its callback
         * runs; a client that is going away gives up its fd now. */
        g_socket_close (g_socket_connection_get_socket (self->connection), NULL);
        g_clear_object (&self->connection);
    }
    drain_private_context (self);

    G_OBJECT_CLASS (bl_qmp_client_parent_class)->dispose (object);
}

static void
bl_qmp_client_finalize (GObject *object)
{
    BlQmpClient *self = BL_QMP_CLIENT (object);

    g_warn_if_fail (g_hash_table_size (self->pending) == 0);
    g_hash_table_unref (self->pending);
    g_byte_array_unref (self->input);
    g_queue_clear_full (&self->outbox, (GDestroyNotify) out_line_free);
    g_object_unref (self->io_cancellable);
    g_clear_pointer (&self->context, g_main_context_unref);
    g_clear_error (&self->disconnect_reason);
    g_free (self->qemu_version);
    g_free (self->socket_path);

    G_OBJECT_CLASS (bl_qmp_client_parent_class)->finalize (object);
}

static void
bl_qmp_client_class_init (BlQmpClientClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS (klass);

    object_class->dispose = bl_qmp_client_dispose;
    object_class->finalize = bl_qmp_client_finalize;

    signals[SIGNAL_EVENT] =
        g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED, 0,
                      NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
                      JSON_TYPE_OBJECT | G_SIGNAL_TYPE_STATIC_SCOPE, G_TYPE_INT64);

    signals[SIGNAL_DISCONNECTED] =
        g_signal_new ("disconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                      NULL, G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
bl_qmp_client_init (BlQmpClient *self)
{
    self->state = STATE_CONNECTING;
    self->io_cancellable = g_cancellable_new ();
    self->input = g_byte_array_new ();
    g_queue_init (&self->outbox);
    self->pending = g_hash_table_new (g_int64_hash, g_int64_equal);
}

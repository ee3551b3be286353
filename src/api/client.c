/* client.c: the runtime's I/O thread and its links to box monitors.
 *
 * Every byte of every execution moves on one thread with its own
 * GMainContext, as GDBus does: callers may block on an execution (or read its
 * streams) from any thread, including the one that runs their main loop,
 * without starving the link. Results reach callers through GTask, on the
 * context each call was made from.
 */
#define G_LOG_DOMAIN "boxlite"

#include <errno.h>
#include <gio/gunixsocketaddress.h>
#include <signal.h>

#include <boxlite/boxlite-error.h>
#include "boxlite-private.h"
#include "frame-conn.h"
#include "monitor-ctl.h"

struct _BlClient {
    GThread *thread;
    GMainContext *context;
    GMainLoop *loop;
    GHashTable *links;   /* box_dir -> BlLink*, I/O thread only */
    GHashTable *watches; /* id -> Watch*, I/O thread only */
    guint next_watch;    /* atomic */
};

/* Someone to tell when a box's monitor reports a change of state, or the
 * link to it drops (the monitor is gone: its record has the last word). */
typedef struct {
    char *box_dir;
    BlClientNewsFunc func;
    gpointer data;
    GDestroyNotify destroy;
} Watch;

typedef struct {
    BoxliteExecution *execution;
    GTask *start_task;       /* until the agent answers the exec request, or
                              * the caller cancelled it */
    gboolean awaiting_reply; /* the exec request is not answered yet */
    GSource *cancel_watch;   /* on the start task's cancellable, until freed */
} Channel;

struct _BlLink {
    gint ref_count;
    BlClient *client;
    char *box_dir;
    BlFrameConn *conn;
    GHashTable *channels; /* channel -> Channel* */
    guint32 next_channel;
    gboolean closed;
    gboolean watching; /* "watch" sent: the monitor pushes state events */
};

static void
watch_free (Watch *watch)
{
    if (watch->destroy)
        watch->destroy (watch->data);
    g_free (watch->box_dir);
    g_free (watch);
}

static gboolean
has_watch (BlClient *client, const char *box_dir)
{
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, client->watches);
    while (g_hash_table_iter_next (&iter, NULL, &value))
        if (g_str_equal (((Watch *) value)->box_dir, box_dir))
            return TRUE;
    return FALSE;
}

/* Tells everyone watching @box_dir that its state may have changed. */
static void
tell_watches (BlClient *client, const char *box_dir)
{
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, client->watches);
    while (g_hash_table_iter_next (&iter, NULL, &value)) {
        Watch *watch = value;
        if (g_str_equal (watch->box_dir, box_dir))
            watch->func (watch->data);
    }
}

/* Answers the caller waiting for the command to start (with @execution,
 * or else @error, taken) and lets go of its task. */
static void
channel_answer (Channel *channel, BoxliteExecution *execution, GError *error)
{
    g_autoptr (GTask) task = g_steal_pointer (&channel->start_task);

    if (execution)
        g_task_return_pointer (task, g_object_ref (execution), g_object_unref);
    else
        g_task_return_error (task, error);
}

static void
channel_free (Channel *channel)
{
    if (channel->cancel_watch) {
        g_source_destroy (channel->cancel_watch);
        g_clear_pointer (&channel->cancel_watch, g_source_unref);
    }
    g_clear_object (&channel->execution);
    g_clear_object (&channel->start_task);
    g_free (channel);
}

void
bl_link_ref (BlLink *link)
{
    g_atomic_int_inc (&link->ref_count);
}

void
bl_link_unref (BlLink *link)
{
    if (!g_atomic_int_dec_and_test (&link->ref_count))
        return;
    if (link->conn)
        g_signal_handlers_disconnect_by_data (link->conn, link);
    g_clear_object (&link->conn);
    g_clear_pointer (&link->channels, g_hash_table_unref);
    g_free (link->box_dir);
    g_free (link);
}

GMainContext *
bl_link_get_context (BlLink *link)
{
    return link->client->context;
}

gboolean
bl_link_send (BlLink *link, guint32 channel, guint8 type, const void *data, gsize len)
{
    return !link->closed && bl_frame_conn_send (link->conn, channel, type, data, len);
}

gboolean
bl_link_send_json (BlLink *link, guint32 channel, JsonNode *node)
{
    return !link->closed && bl_frame_conn_send_json (link->conn, channel, node);
}

/* Ends every execution on the link with @reason and closes it. */
static void
link_fail_channels (BlLink *link, const GError *reason)
{
    g_autoptr (GError) error = NULL;

    if (link->closed)
        return;
    link->closed = TRUE;
    if (reason && reason->domain == BOXLITE_ERROR && reason->code == BOXLITE_ERROR_PROTOCOL)
        error = g_error_new (BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL, "box %s: %s", link->box_dir,
                             reason->message);
    else
        error = g_error_new (BOXLITE_ERROR, BOXLITE_ERROR_CRASHED,
                             "the box stopped while the command was running%s%s",
                             reason ? ": " : "", reason ? reason->message : "");

    GHashTableIter iter;
    gpointer value;
    g_hash_table_iter_init (&iter, link->channels);
    while (g_hash_table_iter_next (&iter, NULL, &value)) {
        Channel *channel = value;
        if (channel->start_task)
            channel_answer (channel, NULL, g_error_copy (error));
        bl_execution_fail (channel->execution, error);
    }
    g_hash_table_remove_all (link->channels);
    if (!bl_frame_conn_is_closed (link->conn))
        bl_frame_conn_close (link->conn, NULL);
}

/* Ends the link and forgets it, so the next exec connects afresh. */
static void
link_lost (BlLink *link, const GError *reason)
{
    BlClient *client = link->client;
    g_autofree char *box_dir = g_strdup (link->box_dir);

    if (link->closed)
        return;
    link_fail_channels (link, reason);
    g_hash_table_remove (client->links, box_dir);
    tell_watches (client, box_dir);
}

static void
protocol_error (BlLink *link, const char *message)
{
    g_autoptr (GError) error = g_error_new (BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL, "%s", message);

    g_warning ("box %s: %s", link->box_dir, message);
    link_lost (link, error);
}

static gboolean
get_int (JsonObject *obj, const char *name, gint64 min, gint64 max, gint64 *out)
{
    JsonNode *node = json_object_get_member (obj, name);

    if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
        return FALSE;
    *out = json_node_get_int (node);
    return *out >= min && *out <= max;
}

/* An optional boolean member: absent is FALSE, anything but a boolean is
 * refused. */
static gboolean
get_flag (JsonObject *obj, const char *name, gboolean *out)
{
    JsonNode *node = json_object_get_member (obj, name);

    *out = FALSE;
    if (!node)
        return TRUE;
    if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
        return FALSE;
    *out = json_node_get_boolean (node);
    return TRUE;
}

static void
handle_control (BlLink *link, guint32 number, GBytes *payload)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonObject) msg = bl_frame_parse_control (payload, &error);

    if (!msg) {
        protocol_error (link, error->message);
        return;
    }
    if (number == 0) {
        /* We send hello and watch; an error means the monitor refused to
         * speak with us. A state event, or the answer to watch, is news. */
        JsonNode *ret = json_object_get_member (msg, "return");
        const char *event = json_object_get_string_member_with_default (msg, "event", NULL);
        if (json_object_has_member (msg, "error"))
            protocol_error (link, "the box monitor refused the session");
        else if (g_strcmp0 (event, "state") == 0 ||
                 (ret && JSON_NODE_HOLDS_OBJECT (ret) &&
                  json_object_has_member (json_node_get_object (ret), "state")))
            tell_watches (link->client, link->box_dir);
        return;
    }

    Channel *channel = g_hash_table_lookup (link->channels, GUINT_TO_POINTER (number));
    if (!channel) {
        protocol_error (link, "a control message arrived for a channel that is not open");
        return;
    }
    JsonNode *ret = json_object_get_member (msg, "return");
    JsonNode *err = json_object_get_member (msg, "error");
    const char *event = json_object_get_string_member_with_default (msg, "event", NULL);

    if (channel->awaiting_reply) {
        channel->awaiting_reply = FALSE;
        if (err && JSON_NODE_HOLDS_OBJECT (err)) {
            if (channel->start_task)
                channel_answer (channel, NULL,
                                bl_monitor_error_from_reply (json_node_get_object (err)));
            bl_execution_fail (channel->execution, NULL);
            g_hash_table_remove (link->channels, GUINT_TO_POINTER (number));
            return;
        }
        gint64 pid = 0;
        if (!ret || !JSON_NODE_HOLDS_OBJECT (ret) ||
            !get_int (json_node_get_object (ret), "pid", 1, G_MAXINT32, &pid)) {
            protocol_error (link, "the exec reply has no valid pid");
            return;
        }
        bl_execution_started (channel->execution, (gint) pid);
        if (channel->start_task && !g_task_return_error_if_cancelled (channel->start_task)) {
            channel_answer (channel, channel->execution, NULL);
            return;
        }
        /* The caller gave up on the command before it started: end it. The
         * channel stays open until its exit event, like any other. */
        g_clear_object (&channel->start_task);
        boxlite_execution_kill (channel->execution, SIGKILL, NULL);
        return;
    }
    if (g_strcmp0 (event, "exit") == 0) {
        JsonNode *data = json_object_get_member (msg, "data");
        gint64 code = -1, sig = 0;
        if (!data || !JSON_NODE_HOLDS_OBJECT (data)) {
            protocol_error (link, "the exit event has no data");
            return;
        }
        JsonObject *d = json_node_get_object (data);
        gboolean has_code = get_int (d, "code", 0, 255, &code);
        gboolean has_signal = get_int (d, "signal", 1, 64, &sig);
        if (has_code == has_signal) {
            protocol_error (link, "the exit event needs exactly one of code and signal");
            return;
        }
        gboolean timed_out = FALSE, oom_killed = FALSE;
        if (!get_flag (d, "timed_out", &timed_out) || !get_flag (d, "oom_killed", &oom_killed)) {
            protocol_error (link, "the exit event's timed_out or oom_killed is not a boolean");
            return;
        }
        /* A file copy says why it failed. */
        JsonNode *failure = json_object_get_member (d, "error");
        if (failure && !JSON_NODE_HOLDS_OBJECT (failure)) {
            protocol_error (link, "the exit event's error is not an object");
            return;
        }
        bl_execution_exited (channel->execution, has_code ? (gint) code : -1,
                             has_signal ? (gint) sig : 0, timed_out, oom_killed,
                             failure ? bl_monitor_error_from_reply (json_node_get_object (failure))
                                     : NULL);
        g_hash_table_remove (link->channels, GUINT_TO_POINTER (number));
        return;
    }
    /* Replies to signal requests: nothing waits on them. */
    if (err)
        g_debug ("box %s: a request on channel %u failed", link->box_dir, number);
}

static void
on_frame (BlFrameConn *conn, guint number, guint type, GBytes *payload, gpointer user_data)
{
    BlLink *link = user_data;
    g_autoptr (GError) error = NULL;

    if (link->closed)
        return;
    if (type == BL_FRAME_CONTROL) {
        handle_control (link, number, payload);
        return;
    }
    Channel *channel = g_hash_table_lookup (link->channels, GUINT_TO_POINTER (number));
    if (!channel) {
        protocol_error (link, "data arrived for a channel that is not open");
        return;
    }
    if (type == BL_FRAME_CREDIT) {
        bl_execution_handle_credit (channel->execution,
                                    bl_proto_get_u32 (g_bytes_get_data (payload, NULL)));
        return;
    }
    if (!bl_execution_handle_data (channel->execution, type, payload, &error))
        protocol_error (link, error->message);
}

static void
on_closed (BlFrameConn *conn, const GError *reason, gpointer user_data)
{
    BlLink *link = user_data;

    bl_link_ref (link);
    link_lost (link, reason);
    bl_link_unref (link);
}

/* Asks the monitor for state events on this link. */
static void
link_watch (BlLink *link)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    if (link->watching)
        return;
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "execute");
    json_builder_add_string_value (b, "watch");
    json_builder_end_object (b);
    g_autoptr (JsonNode) request = json_builder_get_root (b);
    link->watching = bl_link_send_json (link, 0, request);
}

static BlLink *
link_open (BlClient *client, const char *box_dir, GError **error)
{
    g_autoptr (GSocketConnection) connection = bl_monitor_connect (box_dir, NULL, error);

    if (!connection)
        return NULL;
    BlLink *link = g_new0 (BlLink, 1);
    link->ref_count = 1;
    link->client = client;
    link->box_dir = g_strdup (box_dir);
    link->next_channel = 1;
    link->channels = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) channel_free);
    link->conn = bl_frame_conn_new (G_IO_STREAM (connection), "box monitor");
    g_signal_connect (link->conn, "frame", G_CALLBACK (on_frame), link);
    g_signal_connect (link->conn, "closed", G_CALLBACK (on_closed), link);

    g_autoptr (JsonBuilder) b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "execute");
    json_builder_add_string_value (b, "hello");
    json_builder_set_member_name (b, "arguments");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "version");
    json_builder_add_int_value (b, BL_PROTO_VERSION);
    json_builder_end_object (b);
    json_builder_end_object (b);
    g_autoptr (JsonNode) hello = json_builder_get_root (b);
    bl_frame_conn_send_json (link->conn, 0, hello);
    g_hash_table_insert (client->links, link->box_dir, link);
    if (has_watch (client, box_dir))
        link_watch (link);
    return link;
}

static guint32
link_alloc_channel (BlLink *link)
{
    while (g_hash_table_contains (link->channels, GUINT_TO_POINTER (link->next_channel)) ||
           link->next_channel == 0)
        link->next_channel =
            link->next_channel >= BL_PROTO_MAX_CHANNEL ? 1 : link->next_channel + 1;
    return link->next_channel++;
}

typedef struct {
    BlClient *client;
    char *box_dir;
    JsonNode *request;
    gboolean pipe_stdin;
    gboolean tty;
    GTask *task;
} ExecRequest;

/* On the I/O thread: the caller no longer waits for the command to start.
 * It is answered now; the command, if the agent starts it, is killed. */
static gboolean
on_start_cancelled (GCancellable *cancellable, gpointer data)
{
    Channel *channel = data;

    /* The watch itself goes with the channel (channel_free). */
    if (channel->start_task && g_task_return_error_if_cancelled (channel->start_task))
        g_clear_object (&channel->start_task);
    return G_SOURCE_REMOVE;
}

static void
watch_start_cancel (Channel *channel)
{
    GCancellable *cancellable = g_task_get_cancellable (channel->start_task);

    if (!cancellable)
        return;
    channel->cancel_watch = g_cancellable_source_new (cancellable);
    g_source_set_callback (channel->cancel_watch, G_SOURCE_FUNC (on_start_cancelled), channel,
                           NULL);
    g_source_attach (channel->cancel_watch, g_main_context_get_thread_default ());
}

static gboolean
exec_on_io_thread (gpointer data)
{
    ExecRequest *req = data;
    g_autoptr (GError) error = NULL;
    BlLink *link = g_hash_table_lookup (req->client->links, req->box_dir);

    if (g_task_return_error_if_cancelled (req->task))
        g_clear_object (&req->task);
    else if (!link)
        link = link_open (req->client, req->box_dir, &error);
    if (link && req->task) {
        guint32 number = link_alloc_channel (link);
        BoxliteExecution *execution = bl_execution_new (link, number, req->pipe_stdin, req->tty,
                                                        req->client->context, &error);
        if (execution) {
            Channel *channel = g_new0 (Channel, 1);
            channel->execution = execution;
            channel->start_task = g_steal_pointer (&req->task);
            channel->awaiting_reply = TRUE;
            watch_start_cancel (channel);
            g_hash_table_insert (link->channels, GUINT_TO_POINTER (number), channel);
            bl_link_send_json (link, number, req->request);
        }
    }
    if (req->task) {
        g_autoptr (GTask) task = g_steal_pointer (&req->task);
        g_task_return_error (task, g_steal_pointer (&error));
    }
    json_node_unref (req->request);
    g_free (req->box_dir);
    g_free (req);
    return G_SOURCE_REMOVE;
}

void
bl_client_exec_async (BlClient *client, const char *box_dir, JsonNode *request, gboolean pipe_stdin,
                      gboolean tty, GTask *task)
{
    ExecRequest *req = g_new0 (ExecRequest, 1);

    req->client = client;
    req->box_dir = g_strdup (box_dir);
    req->request = json_node_ref (request);
    req->pipe_stdin = pipe_stdin;
    req->tty = tty;
    req->task = task;
    g_main_context_invoke (client->context, exec_on_io_thread, req);
}

static gpointer
io_thread (gpointer data)
{
    BlClient *client = data;
    sigset_t set;

    /* Writing into a pipe whose reader went away must fail with EPIPE here,
     * not kill the application: SIGPIPE from a write is sent to the thread
     * that wrote, so blocking it on this thread is enough. */
    sigemptyset (&set);
    sigaddset (&set, SIGPIPE);
    pthread_sigmask (SIG_BLOCK, &set, NULL);

    g_main_context_push_thread_default (client->context);
    g_main_loop_run (client->loop);
    g_hash_table_remove_all (client->links);
    g_hash_table_remove_all (client->watches);
    g_main_context_pop_thread_default (client->context);
    return NULL;
}

static void
link_destroy (gpointer data)
{
    BlLink *link = data;

    link_fail_channels (link, NULL);
    bl_link_unref (link);
}

BlClient *
bl_client_new (void)
{
    BlClient *client = g_new0 (BlClient, 1);

    client->context = g_main_context_new ();
    client->loop = g_main_loop_new (client->context, FALSE);
    client->links = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, link_destroy);
    client->watches = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) watch_free);
    client->thread = g_thread_new ("boxlite-io", io_thread, client);
    return client;
}

static gboolean
quit_on_io_thread (gpointer data)
{
    BlClient *client = data;

    g_main_loop_quit (client->loop);
    return G_SOURCE_REMOVE;
}

void
bl_client_free (BlClient *client)
{
    if (!client)
        return;
    g_main_context_invoke (client->context, quit_on_io_thread, client);
    g_thread_join (client->thread);
    g_hash_table_unref (client->links);
    g_hash_table_unref (client->watches);
    g_main_loop_unref (client->loop);
    g_main_context_unref (client->context);
    g_free (client);
}

typedef struct {
    BlClient *client;
    char *box_dir;
} ForgetRequest;

static gboolean
forget_on_io_thread (gpointer data)
{
    ForgetRequest *req = data;

    g_hash_table_remove (req->client->links, req->box_dir);
    g_free (req->box_dir);
    g_free (req);
    return G_SOURCE_REMOVE;
}

void
bl_client_forget (BlClient *client, const char *box_dir)
{
    ForgetRequest *req = g_new0 (ForgetRequest, 1);

    req->client = client;
    req->box_dir = g_strdup (box_dir);
    g_main_context_invoke (client->context, forget_on_io_thread, req);
}

typedef struct {
    BlClient *client;
    guint id;
    Watch *watch;  /* NULL to remove @id */
    char *box_dir; /* to subscribe, with no watch to add */
} WatchRequest;

/* Subscribes to @box_dir's state events when its monitor runs; a box that
 * does not run has nothing to report until it is started again. */
static void
subscribe (BlClient *client, const char *box_dir)
{
    BlLink *link = g_hash_table_lookup (client->links, box_dir);

    if (!has_watch (client, box_dir))
        return;
    if (link)
        link_watch (link);
    else if (!link_open (client, box_dir, NULL))
        /* The monitor is gone already (a crash right after the start, say):
         * its record says how it ended. */
        tell_watches (client, box_dir);
}

static gboolean
watch_on_io_thread (gpointer data)
{
    WatchRequest *req = data;

    if (req->watch) {
        g_hash_table_insert (req->client->watches, GUINT_TO_POINTER (req->id), req->watch);
        subscribe (req->client, req->watch->box_dir);
    } else if (req->box_dir) {
        subscribe (req->client, req->box_dir);
    } else {
        g_hash_table_remove (req->client->watches, GUINT_TO_POINTER (req->id));
    }
    g_free (req->box_dir);
    g_free (req);
    return G_SOURCE_REMOVE;
}

static void
watch_request (BlClient *client, guint id, Watch *watch, const char *box_dir)
{
    WatchRequest *req = g_new0 (WatchRequest, 1);

    req->client = client;
    req->id = id;
    req->watch = watch;
    req->box_dir = g_strdup (box_dir);
    g_main_context_invoke (client->context, watch_on_io_thread, req);
}

guint
bl_client_add_watch (BlClient *client, const char *box_dir, BlClientNewsFunc func, gpointer data,
                     GDestroyNotify destroy)
{
    Watch *watch = g_new0 (Watch, 1);
    guint id = (guint) g_atomic_int_add (&client->next_watch, 1) + 1;

    watch->box_dir = g_strdup (box_dir);
    watch->func = func;
    watch->data = data;
    watch->destroy = destroy;
    watch_request (client, id, watch, NULL);
    return id;
}

void
bl_client_remove_watch (BlClient *client, guint id)
{
    watch_request (client, id, NULL, NULL);
}

void
bl_client_resubscribe (BlClient *client, const char *box_dir)
{
    watch_request (client, 0, NULL, box_dir);
}

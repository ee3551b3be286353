/* ctr-events.c: task events (TaskCreate, TaskStart, TaskExit, ...) sent to
 * containerd through the publish binary it names (`containerd publish`,
 * the event as a protobuf Any on stdin), one at a time so that they arrive
 * in the order they happened. */
#define G_LOG_DOMAIN "boxlite-ctr"

#include "any.pb-c.h"
#include "ctr.h"

typedef struct {
    char *topic;
    GBytes *any;
} BlCtrEvent;

static void
event_free (BlCtrEvent *event)
{
    g_free (event->topic);
    g_bytes_unref (event->any);
    g_free (event);
}

static void publish_next (BlCtrShim *shim);

static void
on_published (GObject *source, GAsyncResult *res, gpointer user_data)
{
    BlCtrShim *shim = user_data;
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) err_bytes = NULL;
    BlCtrEvent *event = g_queue_pop_head (&shim->events);

    if (!g_subprocess_communicate_finish (G_SUBPROCESS (source), res, NULL, &err_bytes, &error)) {
        g_warning ("cannot publish %s: %s", event->topic, error->message);
    } else if (!g_subprocess_get_successful (G_SUBPROCESS (source))) {
        gsize len = 0;
        const char *text = err_bytes ? g_bytes_get_data (err_bytes, &len) : "";
        g_warning ("publishing %s failed: %.*s", event->topic, (int) MIN (len, 1024), text);
    }
    event_free (event);
    shim->publishing = FALSE;
    publish_next (shim);
}

static void
publish_next (BlCtrShim *shim)
{
    g_autoptr (GError) error = NULL;
    BlCtrEvent *event = g_queue_peek_head (&shim->events);

    if (shim->publishing || !event)
        return;
    const char *argv[] = { shim->flags.publish_binary,
                           "--address",
                           shim->flags.address,
                           "publish",
                           "--topic",
                           event->topic,
                           "--namespace",
                           shim->flags.namespace,
                           NULL };
    g_autoptr (GSubprocess) proc =
        g_subprocess_newv (argv,
                           G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                               G_SUBPROCESS_FLAGS_STDERR_PIPE,
                           &error);
    if (!proc) {
        g_warning ("cannot publish %s: %s", event->topic, error->message);
        event_free (g_queue_pop_head (&shim->events));
        publish_next (shim);
        return;
    }
    shim->publishing = TRUE;
    g_subprocess_communicate_async (proc, event->any, NULL, on_published, shim);
}

void
bl_ctr_publish (BlCtrShim *shim, const char *topic, const char *type_name,
                const ProtobufCMessage *event)
{
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT;
    gsize size = protobuf_c_message_get_packed_size (event);
    g_autofree guint8 *value = g_malloc (size ? size : 1);

    if (!shim->flags.publish_binary || !*shim->flags.publish_binary) {
        g_debug ("no publish binary; %s not sent", topic);
        return;
    }
    protobuf_c_message_pack (event, value);
    any.type_url = (char *) type_name;
    any.value.data = value;
    any.value.len = size;
    gsize any_size = google__protobuf__any__get_packed_size (&any);
    guint8 *buf = g_malloc (any_size ? any_size : 1);
    google__protobuf__any__pack (&any, buf);

    BlCtrEvent *queued = g_new0 (BlCtrEvent, 1);
    queued->topic = g_strdup (topic);
    queued->any = g_bytes_new_take (buf, any_size);
    g_queue_push_tail (&shim->events, queued);
    publish_next (shim);
}

void
bl_ctr_events_clear (BlCtrShim *shim)
{
    g_queue_clear_full (&shim->events, (GDestroyNotify) event_free);
}

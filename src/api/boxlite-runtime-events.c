/* boxlite-runtime-events.c: what happens to a home directory's boxes, as
 * signals: the journal (events.h) followed on the caller's main context. */
#define G_LOG_DOMAIN "boxlite"

#include <boxlite/boxlite-runtime.h>
#include "boxlite-private.h"
#include "events.h"

/* The journal is a file many processes append to; a short poll follows it
 * across their rotations without holding anything open on them. */
#define POLL_MS 100

typedef struct {
    BoxliteRuntime *runtime; /* not owned: the source goes before it */
    BlEventsReader *reader;
} Watch;

static void
watch_free (gpointer data)
{
    Watch *w = data;

    bl_events_reader_free (w->reader);
    g_free (w);
}

static void
destroy_source (gpointer source, GObject *gone)
{
    g_source_destroy (source);
}

static gboolean
on_poll (gpointer data)
{
    Watch *w = data;
    g_autoptr (GPtrArray) lines = bl_events_reader_read (w->reader);

    for (guint i = 0; i < lines->len; i++) {
        const char *line = lines->pdata[i];
        g_autoptr (JsonParser) parser = json_parser_new ();
        if (!json_parser_load_from_data (parser, line, -1, NULL))
            continue;
        JsonObject *obj = json_node_get_object (json_parser_get_root (parser));
        const char *box = json_object_get_string_member_with_default (obj, "box", NULL);
        const char *action = json_object_get_string_member_with_default (obj, "action", NULL);
        if (box && action)
            bl_runtime_emit_box_event (w->runtime, box, action, line);
    }
    return G_SOURCE_CONTINUE;
}

/**
 * boxlite_runtime_watch_events:
 * @self: a runtime
 *
 * Starts emitting #BoxliteRuntime::box-event for what happens from now on
 * to the boxes of @self's home directory, done by this process or any
 * other, on the thread-default main context of this call.
 *
 * Returns: an id for boxlite_runtime_unwatch_events()
 *
 * Since: 0.1
 */
guint
boxlite_runtime_watch_events (BoxliteRuntime *self)
{
    g_return_val_if_fail (BOXLITE_IS_RUNTIME (self), 0);

    Watch *w = g_new0 (Watch, 1);
    w->runtime = self;
    w->reader = bl_events_reader_new (boxlite_runtime_get_home_dir (self), FALSE);
    GSource *source = g_timeout_source_new (POLL_MS);
    g_source_set_callback (source, on_poll, w, watch_free);
    g_source_set_static_name (source, "boxlite events");
    guint id = g_source_attach (source, g_main_context_get_thread_default ());
    g_source_unref (source);
    /* Until then the source points at the runtime: it must not outlive it. */
    g_object_weak_ref (G_OBJECT (self), destroy_source, source);
    return id;
}

/**
 * boxlite_runtime_unwatch_events:
 * @self: a runtime
 * @id: what boxlite_runtime_watch_events() returned
 *
 * Stops the events started by boxlite_runtime_watch_events(), from the
 * thread-default main context it was called on.
 *
 * Since: 0.1
 */
void
boxlite_runtime_unwatch_events (BoxliteRuntime *self, guint id)
{
    g_return_if_fail (BOXLITE_IS_RUNTIME (self));

    GSource *source = g_main_context_find_source_by_id (g_main_context_get_thread_default (), id);
    if (!source)
        return;
    g_object_weak_unref (G_OBJECT (self), destroy_source, source);
    g_source_destroy (source);
}

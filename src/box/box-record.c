/* box-record.c: load, save and update BOXDIR/box.json. */
#define G_LOG_DOMAIN "boxlite"

#include "box-record.h"
#include "events.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include <boxlite/boxlite-error.h>
#include "json-file.h"
#include "fs-lock.h"

/* A record is small; anything bigger was not written by us. */
#define MAX_RECORD_SIZE (1024 * 1024)

static const char *const state_names[] = {
    [BOXLITE_BOX_STATE_CONFIGURED] = "configured", [BOXLITE_BOX_STATE_RUNNING] = "running",
    [BOXLITE_BOX_STATE_STOPPED] = "stopped",       [BOXLITE_BOX_STATE_CRASHED] = "crashed",
    [BOXLITE_BOX_STATE_PAUSED] = "paused",
};

gboolean
bl_box_state_is_live (BoxliteBoxState state)
{
    return state == BOXLITE_BOX_STATE_RUNNING || state == BOXLITE_BOX_STATE_PAUSED;
}

const char *
bl_box_state_to_string (BoxliteBoxState state)
{
    if ((guint) state < G_N_ELEMENTS (state_names))
        return state_names[state];
    return "unknown";
}

gboolean
bl_box_state_from_string (const char *text, BoxliteBoxState *state)
{
    for (guint i = 0; i < G_N_ELEMENTS (state_names); i++) {
        if (g_strcmp0 (text, state_names[i]) == 0) {
            *state = (BoxliteBoxState) i;
            return TRUE;
        }
    }
    return FALSE;
}

char *
bl_now_iso8601 (void)
{
    g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
    return g_date_time_format_iso8601 (now);
}

BlRecord *
bl_record_new (const char *id, const char *name, JsonNode *options)
{
    BlRecord *record = g_new0 (BlRecord, 1);

    record->id = g_strdup (id);
    record->name = g_strdup (name);
    record->created_at = bl_now_iso8601 ();
    record->options = options ? json_node_copy (options) : json_node_new (JSON_NODE_NULL);
    record->state = BOXLITE_BOX_STATE_CONFIGURED;
    return record;
}

void
bl_record_free (BlRecord *record)
{
    if (!record)
        return;
    g_free (record->id);
    g_free (record->name);
    g_free (record->created_at);
    g_clear_pointer (&record->options, json_node_unref);
    g_free (record->started_at);
    g_free (record->finished_at);
    g_free (record->error);
    g_free (record->stop_reason);
    g_free (record->image);
    g_free (record->image_id);
    g_free (record->image_digest);
    g_free (record->start);
    g_free (record->start_reason);
    g_free (record);
}

static const char *
member_string (JsonObject *obj, const char *name)
{
    JsonNode *node = json_object_get_member (obj, name);

    if (!node || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        return NULL;
    return json_node_get_string (node);
}

BlRecord *
bl_record_load (const char *box_dir, GError **error)
{
    g_autofree char *path = g_build_filename (box_dir, "box.json", NULL);
    g_autofree char *text = NULL;
    gsize len = 0;
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();
    g_autoptr (BlRecord) record = g_new0 (BlRecord, 1);

    if (!g_file_get_contents (path, &text, &len, error))
        return NULL;
    if (len > MAX_RECORD_SIZE || !bl_json_load (parser, text, len, NULL) ||
        !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED, "%s is not a box record", path);
        return NULL;
    }
    JsonObject *obj = json_node_get_object (json_parser_get_root (parser));
    const char *id = member_string (obj, "id");
    const char *state = member_string (obj, "state");
    if (!id || !state || !bl_box_state_from_string (state, &record->state)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED, "%s lacks an id or a valid state",
                     path);
        return NULL;
    }
    record->id = g_strdup (id);
    record->name = g_strdup (member_string (obj, "name"));
    record->created_at = g_strdup (member_string (obj, "created_at"));
    record->started_at = g_strdup (member_string (obj, "started_at"));
    record->finished_at = g_strdup (member_string (obj, "finished_at"));
    record->error = g_strdup (member_string (obj, "error"));
    record->stop_reason = g_strdup (member_string (obj, "stop_reason"));
    record->image = g_strdup (member_string (obj, "image"));
    record->image_id = g_strdup (member_string (obj, "image_id"));
    record->image_digest = g_strdup (member_string (obj, "image_digest"));
    record->start = g_strdup (member_string (obj, "start"));
    record->start_reason = g_strdup (member_string (obj, "start_reason"));
    if (json_object_has_member (obj, "monitor_pid"))
        record->monitor_pid = (gint) json_object_get_int_member (obj, "monitor_pid");
    JsonNode *options = json_object_get_member (obj, "options");
    record->options = options ? json_node_copy (options) : json_node_new (JSON_NODE_NULL);
    return g_steal_pointer (&record);
}

static void
add_nullable_string (JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name (b, name);
    if (value)
        json_builder_add_string_value (b, value);
    else
        json_builder_add_null_value (b);
}

gboolean
bl_record_save (const char *box_dir, const BlRecord *record, GError **error)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();
    g_autofree char *path = g_build_filename (box_dir, "box.json", NULL);

    json_builder_begin_object (b);
    add_nullable_string (b, "id", record->id);
    add_nullable_string (b, "name", record->name);
    add_nullable_string (b, "created_at", record->created_at);
    add_nullable_string (b, "state", bl_box_state_to_string (record->state));
    json_builder_set_member_name (b, "monitor_pid");
    json_builder_add_int_value (b, record->monitor_pid);
    add_nullable_string (b, "started_at", record->started_at);
    add_nullable_string (b, "finished_at", record->finished_at);
    add_nullable_string (b, "error", record->error);
    add_nullable_string (b, "stop_reason", record->stop_reason);
    add_nullable_string (b, "image", record->image);
    add_nullable_string (b, "image_id", record->image_id);
    add_nullable_string (b, "image_digest", record->image_digest);
    add_nullable_string (b, "start", record->start);
    add_nullable_string (b, "start_reason", record->start_reason);
    json_builder_set_member_name (b, "options");
    json_builder_add_value (b, json_node_copy (record->options));
    json_builder_end_object (b);

    return bl_json_write_file (path, b, error);
}

int
bl_record_lock (const char *box_dir, GError **error)
{
    g_autofree char *path = g_build_filename (box_dir, "lock", NULL);
    return bl_lock_file (path, TRUE, NULL, error);
}

void
bl_record_unlock (int fd)
{
    if (fd >= 0)
        close (fd);
}

/* Under the lock: the record's state and what goes with it, and the event
 * that tells of the change. @reason is the crash's (@error_message) or the
 * stop's (@stop_reason), whichever applies. */
static gboolean
update_state (const char *box_dir, BoxliteBoxState state, gint monitor_pid,
              const char *error_message, const char *stop_reason, GError **error)
{
    int fd = bl_record_lock (box_dir, error);
    if (fd < 0)
        return FALSE;

    g_autoptr (BlRecord) record = bl_record_load (box_dir, error);
    gboolean ok = FALSE;
    if (record) {
        BoxliteBoxState previous = record->state;
        record->state = state;
        record->monitor_pid = monitor_pid;
        g_free (record->error);
        record->error = g_strdup (error_message);
        /* Only a stopped box has a stop reason; resuming keeps none either. */
        g_free (record->stop_reason);
        record->stop_reason = state == BOXLITE_BOX_STATE_STOPPED ? g_strdup (stop_reason) : NULL;
        /* Resuming a paused box is not a new start. */
        if (state == BOXLITE_BOX_STATE_RUNNING && previous != BOXLITE_BOX_STATE_PAUSED) {
            g_free (record->started_at);
            record->started_at = bl_now_iso8601 ();
            g_clear_pointer (&record->finished_at, g_free);
        } else if (state == BOXLITE_BOX_STATE_STOPPED || state == BOXLITE_BOX_STATE_CRASHED) {
            g_free (record->finished_at);
            record->finished_at = bl_now_iso8601 ();
        }
        ok = bl_record_save (box_dir, record, error);
        if (ok && state != previous) {
            const char *action = state == BOXLITE_BOX_STATE_RUNNING
                                     ? (previous == BOXLITE_BOX_STATE_PAUSED ? "resume" : "start")
                                 : state == BOXLITE_BOX_STATE_PAUSED  ? "pause"
                                 : state == BOXLITE_BOX_STATE_STOPPED ? "stop"
                                 : state == BOXLITE_BOX_STATE_CRASHED ? "crash"
                                                                      : NULL;
            const char *reason = error_message ? error_message : record->stop_reason;
            g_autoptr (JsonObject) attributes = json_object_new ();
            if (reason)
                json_object_set_string_member (attributes, "reason", reason);
            /* Under the record's lock, so that the journal has a box's
             * changes in the order the record had them. */
            if (action)
                bl_events_append (box_dir, record->name, action, reason ? attributes : NULL);
        }
    }
    bl_record_unlock (fd);
    return ok;
}

gboolean
bl_record_set_start (const char *box_dir, const char *start, const char *reason, GError **error)
{
    g_autoptr (BlRecord) record = NULL;
    int fd = bl_record_lock (box_dir, error);

    if (fd < 0)
        return FALSE;
    if ((record = bl_record_load (box_dir, error))) {
        g_free (record->start);
        record->start = g_strdup (start);
        g_free (record->start_reason);
        record->start_reason = g_strdup (reason);
    }
    gboolean ok = record && bl_record_save (box_dir, record, error);
    bl_record_unlock (fd);
    return ok;
}

gboolean
bl_record_set_state (const char *box_dir, BoxliteBoxState state, gint monitor_pid,
                     const char *error_message, GError **error)
{
    return update_state (box_dir, state, monitor_pid, error_message, NULL, error);
}

gboolean
bl_record_set_stopped (const char *box_dir, const char *stop_reason, GError **error)
{
    return update_state (box_dir, BOXLITE_BOX_STATE_STOPPED, 0, NULL, stop_reason, error);
}

gboolean
bl_record_name_valid (const char *name)
{
    if (!name || !g_ascii_isalnum (name[0]) || strlen (name) > 64)
        return FALSE;
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isalnum (*p) && *p != '_' && *p != '.' && *p != '-')
            return FALSE;
    }
    return TRUE;
}

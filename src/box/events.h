/* events.h: the journal of what happens to the boxes of a home directory.
 *
 * HOME/events.jsonl holds one JSON object per line, appended by every
 * process that changes a box (the library on create and remove, the box
 * monitors on start, stop, crash, pause and each command):
 *
 *   {"time": "2026-…Z", "time_us": N, "box": ID, "name": NAME,
 *    "action": "create" | "start" | "stop" | "crash" | "pause" | "resume" |
 *              "remove" | "import" | "exec_start" | "exec_exit",
 *    "attributes": {…}}                      (attributes are optional)
 *
 * Writers take an exclusive lock on the file for each line; the one that
 * finds it past BL_EVENTS_MAX moves it to events.jsonl.1 first. Readers
 * follow the file across that move. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define BL_EVENTS_NAME "events.jsonl"
#define BL_EVENTS_OLD_NAME "events.jsonl.1"
#define BL_EVENTS_MAX (G_GUINT64_CONSTANT (1) << 20)
/* A line longer than this is not an event (and not read). */
#define BL_EVENTS_LINE_MAX 4096

/* Appends one event for the box in @box_dir (HOME/boxes/ID). @attributes
 * (nullable) is copied. Failing to write is only a warning: an event is
 * never a reason for an operation to fail. */
void bl_events_append (const char *box_dir, const char *name, const char *action,
                       JsonObject *attributes);

typedef struct _BlEventsReader BlEventsReader;

/* A reader of @home_dir's journal from its current end, or, with
 * @from_start, from the oldest event kept. */
BlEventsReader *bl_events_reader_new (const char *home_dir, gboolean from_start);
/* The events written since the last call, oldest first, each a JSON line
 * that parsed as an object (others are skipped). */
GPtrArray *bl_events_reader_read (BlEventsReader *reader);
void bl_events_reader_free (BlEventsReader *reader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlEventsReader, bl_events_reader_free)

G_END_DECLS

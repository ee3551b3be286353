/* box-record.h: the on-disk record of one box (BOXDIR/box.json).
 *
 * Both the library and the box's monitor update it, possibly from different
 * processes at once, so every change is a read-modify-write under an
 * exclusive flock on BOXDIR/lock, and every write is a write + rename.
 */
#pragma once

#include <json-glib/json-glib.h>

#include <boxlite/boxlite-enums.h>

G_BEGIN_DECLS

typedef struct {
    char *id;
    char *name;
    char *created_at;  /* ISO 8601, UTC */
    JsonNode *options; /* the box options, as bl_box_options_to_json() writes them */
    BoxliteBoxState state;
    gint monitor_pid;   /* 0 when no monitor runs */
    char *started_at;   /* nullable */
    char *finished_at;  /* nullable */
    char *error;        /* why it crashed or failed to boot; nullable */
    char *stop_reason;  /* why it stopped (BL_STOP_REASON_*) while stopped; nullable */
    char *image;        /* canonical reference of its image; nullable */
    char *image_id;     /* that image's id (config digest); nullable */
    char *image_digest; /* that image's manifest digest; nullable */
    char *start;        /* how it last started: "template" or "cold"; nullable */
    char *start_reason; /* why it started cold; nullable */
} BlRecord;

/* Why a box stopped, as its record and the "stop" event say. */
#define BL_STOP_REASON_REQUESTED "requested" /* a stop asked through the library or the CLI */
#define BL_STOP_REASON_IDLE "idle"           /* auto_stop: nothing happened in it for that long */
#define BL_STOP_REASON_CREATOR "creator-exited" /* a box not detached outlived its creator */
#define BL_STOP_REASON_POWEROFF "poweroff"      /* the guest shut itself down */

BlRecord *bl_record_new (const char *id, const char *name, JsonNode *options);
void bl_record_free (BlRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BlRecord, bl_record_free)

BlRecord *bl_record_load (const char *box_dir, GError **error);
gboolean bl_record_save (const char *box_dir, const BlRecord *record, GError **error);

/* Takes the exclusive lock on @box_dir; returns the fd to pass to
 * bl_record_unlock(), or -1 with @error set. */
int bl_record_lock (const char *box_dir, GError **error);
void bl_record_unlock (int fd);

/* Under the lock: sets state, monitor pid, error (NULL clears it) and the
 * started/finished stamps that go with the state. */
gboolean bl_record_set_state (const char *box_dir, BoxliteBoxState state, gint monitor_pid,
                              const char *error_message, GError **error);

/* Under the lock: how the box's guest started (@start: "template" or
 * "cold") and, when cold, why (nullable). */
gboolean bl_record_set_start (const char *box_dir, const char *start, const char *reason,
                              GError **error);
/* Under the lock: the box is stopped (no monitor) because of @stop_reason
 * (a BL_STOP_REASON_*, or NULL when not known), which the record keeps
 * until the next start and the "stop" event carries. */
gboolean bl_record_set_stopped (const char *box_dir, const char *stop_reason, GError **error);

/* The current time, ISO 8601 in UTC. Returns: (transfer full). */
char *bl_now_iso8601 (void);

/* A box's or a snapshot's name: letters, digits, '_', '.' and '-', starting
 * with a letter or a digit, at most 64 characters; never a path. */
gboolean bl_record_name_valid (const char *name);

/* Running or paused: a monitor owns the box. */
gboolean bl_box_state_is_live (BoxliteBoxState state);
const char *bl_box_state_to_string (BoxliteBoxState state);
gboolean bl_box_state_from_string (const char *text, BoxliteBoxState *state);

G_END_DECLS

/* snapshot.h: a box's disk snapshots and the disks of its clones. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Letters, digits, '_', '.' and '-', starting with a letter or a digit, at
 * most 64 characters: the rule of box names, so no name is a path. */
gboolean bl_snapshot_name_valid (const char *name);

/* How a snapshot was taken, kept in snapshots/NAME.json. */
typedef enum {
    BL_SNAPSHOT_TAKEN_STOPPED,     /* of a stopped box */
    BL_SNAPSHOT_TAKEN_LIVE_FROZEN, /* of a running box, its filesystems frozen */
    BL_SNAPSHOT_TAKEN_LIVE,        /* of a running box whose freeze did not hold to
                                    * the end: as after a power cut */
} BlSnapshotTaken;

typedef struct {
    BlSnapshotTaken taken;
    gint64 frozen_ms;   /* how long the guest was frozen */
    gint64 filesystems; /* how many it froze, by its own word */
} BlSnapshotInfo;

const char *bl_snapshot_taken_to_string (BlSnapshotTaken taken);

/* Keeps the disk of the box in @box_dir (HOME/boxes/ID) as @name: of a
 * stopped box under its lock, of a running or paused one through its
 * monitor with the guest's filesystems frozen (refused when they cannot
 * be). @info: (out) (optional): how it was taken. */
gboolean bl_snapshot_create (const char *box_dir, const char *name, BlSnapshotInfo *info,
                             GCancellable *cancellable, GError **error);
/* What NAME.json says: "taken", "created_at", "frozen_ms", "filesystems".
 * Returns: (transfer full): the object, or NULL with @error set. */
JsonObject *bl_snapshot_read_info (const char *box_dir, const char *name, GError **error);

/* Each of these runs on a stopped box (BOXLITE_ERROR_INVALID_STATE
 * otherwise), under the lock of the box in @box_dir (HOME/boxes/ID). */
gboolean bl_snapshot_restore (const char *box_dir, const char *name, GCancellable *cancellable,
                              GError **error);
/* Refused while a box other than @box_dir's, under @boxes_dir, reads it. */
gboolean bl_snapshot_remove (const char *boxes_dir, const char *box_dir, const char *name,
                             GCancellable *cancellable, GError **error);

/* The names of the box's snapshots, sorted. Returns: (transfer full). */
GStrv bl_snapshot_list (const char *box_dir, GError **error);

/* Makes @dest_dir's disk an overlay on @src_dir's snapshot @name, or, with
 * @name %NULL, on the current disk of the stopped @src_dir, frozen for it. */
gboolean bl_snapshot_clone_disk (const char *src_dir, const char *name, const char *dest_dir,
                                 GCancellable *cancellable, GError **error);

/* A box, other than @box_dir's, whose disk reads @file of @box_dir's
 * (%NULL: any file), as "NAME (ID)", or %NULL when none does.
 * Returns: (transfer full). */
char *bl_snapshot_find_clone (const char *boxes_dir, const char *box_dir, const char *file);

/* The layer frozen in its source's directory for the box in @box_dir, a
 * clone of a stopped box, or %NULL. Returns: (transfer full). */
char *bl_snapshot_frozen_for (const char *box_dir);
/* Once the clone is removed: merges @layer into the files of its source
 * that sit on it and deletes it, when nothing else reads it and the source
 * is stopped (else it stays, and goes with the source). Failing is only a
 * warning. */
void bl_snapshot_drop_frozen (const char *boxes_dir, const char *layer);

G_END_DECLS

/* monitor-ctl.h: the box monitor's control socket, used synchronously by start, stop,
 * pause, resume and stats. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Connects to the control socket of the monitor of the box in @box_dir. A
 * socket that is missing or refuses is a box that is not running
 * (BOXLITE_ERROR_INVALID_STATE); any other failure is the system's, kept.
 * Returns: (transfer full): the connection, or NULL with @error set. */
GSocketConnection *bl_monitor_connect (const char *box_dir, GCancellable *cancellable,
                                       GError **error);

gboolean bl_monitor_stop (const char *box_dir, gboolean force, guint timeout_ms,
                          GCancellable *cancellable, GError **error);
/* Starts a command that belongs to the box rather than to the caller: the
 * monitor runs it with @exec_args (an "exec" request's arguments, stdin
 * closed) and keeps its output in main.log (main-log.h). */
gboolean bl_monitor_start_detached (const char *box_dir, JsonNode *exec_args,
                                    GCancellable *cancellable, GError **error);
/* The GError for an {"error": {"class", "desc"}} answer. */
GError *bl_monitor_error_from_reply (JsonObject *err);
gboolean bl_monitor_pause (const char *box_dir, gboolean pause, GCancellable *cancellable,
                           GError **error);
/* The monitor's answer to "stats" (bl_proto.h), unchecked beyond being an
 * object: its "guest" member is the guest's word.
 * Returns: (transfer full): the "return" object, or NULL with @error set. */
JsonObject *bl_monitor_stats (const char *box_dir, GCancellable *cancellable, GError **error);

/* The monitor's answer to "snapshot" (bl_proto.h): QEMU moved onto the
 * overlay BOXDIR/disk.qcow2.new with the guest's filesystems frozen.
 * Returns: (transfer full): the "return" object, or NULL with @error set. */
JsonObject *bl_monitor_snapshot (const char *box_dir, GCancellable *cancellable, GError **error);

/* Removes the sockets a box monitor makes in @box_dir: the monitor does it
 * on its way out, the library after a monitor it had to kill. */
void bl_monitor_remove_sockets (const char *box_dir);

G_END_DECLS

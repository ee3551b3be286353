/* boxlite-private.h: what the library's files share and do not export. */
#pragma once

#include <json-glib/json-glib.h>

#include "box-record.h"
#include <boxlite/boxlite-box-options.h>
#include <boxlite/boxlite-box.h>
#include <boxlite/boxlite-command.h>
#include <boxlite/boxlite-execution.h>
#include <boxlite/boxlite-runtime.h>

G_BEGIN_DECLS

/* boxlite-box-options.c */
JsonNode *bl_box_options_to_json (BoxliteBoxOptions *self);
BoxliteBoxOptions *bl_box_options_from_json (JsonNode *node, GError **error);
const char *bl_accel_to_string (BoxliteAccel accel);
gboolean bl_accel_from_string (const char *text, BoxliteAccel *accel);
gboolean bl_env_validate (const char *const *env, GError **error);

/* boxlite-runtime.c */
typedef struct _BlClient BlClient;
BlClient *bl_runtime_get_client (BoxliteRuntime *self);
const char *bl_runtime_get_boxes_dir (BoxliteRuntime *self);
const char *bl_runtime_get_cache_dir (BoxliteRuntime *self);
const char *bl_runtime_get_hosts_file (BoxliteRuntime *self);
/* Keeps @fd (the write end of a non-detached box's lifeline) open for as long
 * as the runtime lives; takes ownership. */
void bl_runtime_hold_lifeline (BoxliteRuntime *self, const char *box_id, int fd);
void bl_runtime_drop_lifeline (BoxliteRuntime *self, const char *box_id);
/* Makes the directory and record of a new box named @name (%NULL: one made
 * from its id), with the image fields of @image (nullable). Returns: (transfer
 * full): its id, or %NULL with @error set. */
char *bl_runtime_register_box (BoxliteRuntime *self, BoxliteBoxOptions *options,
                               const BlRecord *image, const char *name, GError **error);
/* Makes the directory @staging_dir (on the home's file system, holding the
 * box's disk) a box: gives @record a new id (and a name made from it when it
 * has none), writes it there, and moves the directory into the boxes
 * directory under the lock that keeps names unique, journalling @action.
 * The caller removes @staging_dir on failure.
 * Returns: (transfer full): the new box's directory, or NULL with @error set. */
char *bl_runtime_adopt_box (BoxliteRuntime *self, const char *staging_dir, BlRecord *record,
                            const char *action, GError **error);

/* boxlite-box.c */
BoxliteBox *bl_box_new (BoxliteRuntime *runtime, const char *box_dir, BlRecord *record,
                        BoxliteBoxOptions *options);
const char *bl_box_get_dir (BoxliteBox *self);
void bl_runtime_emit_box_event (BoxliteRuntime *self, const char *box_id, const char *action,
                                const char *event);
JsonNode *bl_box_exec_request (BoxliteBox *self, BoxliteCommand *command, GError **error);
/* Where notify::state goes, for a box made on another thread than the
 * caller's (boxlite_runtime_create_async()). */
void bl_box_set_context (BoxliteBox *self, GMainContext *context);
/* Opens a channel with @request ("copy_out", "copy_in") and blocks until
 * the agent answered it; the channel runs as an execution. */
BoxliteExecution *bl_box_open_channel (BoxliteBox *self, JsonNode *request, gboolean pipe_stdin,
                                       GCancellable *cancellable, GError **error);
/* Emits BoxliteBox::copy-progress on the calling thread. */
void bl_box_emit_copy_progress (BoxliteBox *self, guint64 done, guint64 total);

/* client.c: the runtime's I/O thread and its links to box monitors. */
BlClient *bl_client_new (void);
void bl_client_free (BlClient *client);
void bl_client_exec_async (BlClient *client, const char *box_dir, JsonNode *request,
                           gboolean pipe_stdin, gboolean tty, GTask *task);
void bl_client_forget (BlClient *client, const char *box_dir);
/* Calls @func (@data) on the I/O thread whenever the monitor of @box_dir
 * reports a change of the box's state or the link to it drops, from now
 * while the monitor runs (and again after bl_client_resubscribe() once it
 * was started anew). @destroy frees @data on the I/O thread after
 * bl_client_remove_watch(). Returns the watch's id, never 0. */
typedef void (*BlClientNewsFunc) (gpointer data);
guint bl_client_add_watch (BlClient *client, const char *box_dir, BlClientNewsFunc func,
                           gpointer data, GDestroyNotify destroy);
void bl_client_remove_watch (BlClient *client, guint id);
void bl_client_resubscribe (BlClient *client, const char *box_dir);

/* boxlite-execution.c, called on the I/O thread by client.c */
typedef struct _BlLink BlLink;
BoxliteExecution *bl_execution_new (BlLink *link, guint32 channel, gboolean pipe_stdin,
                                    gboolean tty, GMainContext *io_context, GError **error);
void bl_execution_started (BoxliteExecution *self, gint pid);
gboolean bl_execution_handle_data (BoxliteExecution *self, guint type, GBytes *payload,
                                   GError **error);
void bl_execution_handle_credit (BoxliteExecution *self, guint32 bytes);
/* @failure (taken, nullable): why a file copy failed; boxlite_execution_wait() returns it. */
void bl_execution_exited (BoxliteExecution *self, gint code, gint signal_number, gboolean timed_out,
                          gboolean oom_killed, GError *failure);
void bl_execution_fail (BoxliteExecution *self, const GError *error);

/* client.c, for boxlite-execution.c on the I/O thread */
gboolean bl_link_send (BlLink *link, guint32 channel, guint8 type, const void *data, gsize len);
gboolean bl_link_send_json (BlLink *link, guint32 channel, JsonNode *node);
void bl_link_ref (BlLink *link);
void bl_link_unref (BlLink *link);
GMainContext *bl_link_get_context (BlLink *link);

G_END_DECLS

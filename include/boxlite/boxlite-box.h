/* boxlite-box.h: one box. */
#pragma once

#include <gio/gio.h>

#include "boxlite-box-options.h"
#include "boxlite-command.h"
#include "boxlite-enums.h"
#include "boxlite-execution.h"

G_BEGIN_DECLS

#define BOXLITE_TYPE_BOX (boxlite_box_get_type ())
G_DECLARE_FINAL_TYPE (BoxliteBox, boxlite_box, BOXLITE, BOX, GObject)

const char *boxlite_box_get_id (BoxliteBox *self);
const char *boxlite_box_get_name (BoxliteBox *self);
BoxliteBoxState boxlite_box_get_state (BoxliteBox *self);
BoxliteBoxOptions *boxlite_box_get_options (BoxliteBox *self);
GDateTime *boxlite_box_get_created_at (BoxliteBox *self);
char *boxlite_box_dup_error (BoxliteBox *self);
char *boxlite_box_dup_stop_reason (BoxliteBox *self);

char **boxlite_box_get_net_log (BoxliteBox *self, GError **error);
GVariant *boxlite_box_get_net_counts (BoxliteBox *self, GError **error);
gint boxlite_box_get_monitor_pid (BoxliteBox *self);

gboolean boxlite_box_refresh (BoxliteBox *self, GError **error);
char *boxlite_box_inspect (BoxliteBox *self, GError **error);

gboolean boxlite_box_start (BoxliteBox *self, GCancellable *cancellable, GError **error);
void boxlite_box_start_async (BoxliteBox *self, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data);
gboolean boxlite_box_start_finish (BoxliteBox *self, GAsyncResult *result, GError **error);

gboolean boxlite_box_stop (BoxliteBox *self, gboolean force, GCancellable *cancellable,
                           GError **error);
void boxlite_box_stop_async (BoxliteBox *self, gboolean force, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
gboolean boxlite_box_stop_finish (BoxliteBox *self, GAsyncResult *result, GError **error);

gboolean boxlite_box_pause (BoxliteBox *self, GCancellable *cancellable, GError **error);
gboolean boxlite_box_resume (BoxliteBox *self, GCancellable *cancellable, GError **error);

BoxliteExecution *boxlite_box_exec (BoxliteBox *self, BoxliteCommand *command,
                                    GCancellable *cancellable, GError **error);
void boxlite_box_exec_async (BoxliteBox *self, BoxliteCommand *command, GCancellable *cancellable,
                             GAsyncReadyCallback callback, gpointer user_data);
BoxliteExecution *boxlite_box_exec_finish (BoxliteBox *self, GAsyncResult *result, GError **error);

gboolean boxlite_box_copy_in (BoxliteBox *self, const char *host_path, const char *guest_path,
                              BoxliteCopyFlags flags, GCancellable *cancellable, GError **error);
void boxlite_box_copy_in_async (BoxliteBox *self, const char *host_path, const char *guest_path,
                                BoxliteCopyFlags flags, GCancellable *cancellable,
                                GAsyncReadyCallback callback, gpointer user_data);
gboolean boxlite_box_copy_in_finish (BoxliteBox *self, GAsyncResult *result, GError **error);

gboolean boxlite_box_copy_out (BoxliteBox *self, const char *guest_path, const char *host_path,
                               BoxliteCopyFlags flags, GCancellable *cancellable, GError **error);
void boxlite_box_copy_out_async (BoxliteBox *self, const char *guest_path, const char *host_path,
                                 BoxliteCopyFlags flags, GCancellable *cancellable,
                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean boxlite_box_copy_out_finish (BoxliteBox *self, GAsyncResult *result, GError **error);

gboolean boxlite_box_copy_in_tar (BoxliteBox *self, GInputStream *tar, const char *guest_dir,
                                  BoxliteCopyFlags flags, GCancellable *cancellable,
                                  GError **error);
gboolean boxlite_box_copy_out_tar (BoxliteBox *self, const char *guest_path, GOutputStream *tar,
                                   GCancellable *cancellable, GError **error);

GBytes *boxlite_box_read_file (BoxliteBox *self, const char *guest_path, gsize max_size,
                               GCancellable *cancellable, GError **error);
void boxlite_box_read_file_async (BoxliteBox *self, const char *guest_path, gsize max_size,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data);
GBytes *boxlite_box_read_file_finish (BoxliteBox *self, GAsyncResult *result, GError **error);

gboolean boxlite_box_write_file (BoxliteBox *self, const char *guest_path, GBytes *contents,
                                 guint mode, GCancellable *cancellable, GError **error);
void boxlite_box_write_file_async (BoxliteBox *self, const char *guest_path, GBytes *contents,
                                   guint mode, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
gboolean boxlite_box_write_file_finish (BoxliteBox *self, GAsyncResult *result, GError **error);

G_END_DECLS

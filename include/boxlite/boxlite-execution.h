/* boxlite-execution.h: one command running in a box. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define BOXLITE_TYPE_EXECUTION (boxlite_execution_get_type ())
G_DECLARE_FINAL_TYPE (BoxliteExecution, boxlite_execution, BOXLITE, EXECUTION, GObject)

GOutputStream *boxlite_execution_get_stdin (BoxliteExecution *self);
GInputStream *boxlite_execution_get_stdout (BoxliteExecution *self);
GInputStream *boxlite_execution_get_stderr (BoxliteExecution *self);
gint boxlite_execution_get_pid (BoxliteExecution *self);

gboolean boxlite_execution_wait (BoxliteExecution *self, GCancellable *cancellable, GError **error);
void boxlite_execution_wait_async (BoxliteExecution *self, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
gboolean boxlite_execution_wait_finish (BoxliteExecution *self, GAsyncResult *result,
                                        GError **error);

gboolean boxlite_execution_get_exited (BoxliteExecution *self);
gint boxlite_execution_get_exit_code (BoxliteExecution *self);
gint boxlite_execution_get_term_signal (BoxliteExecution *self);
gboolean boxlite_execution_get_timed_out (BoxliteExecution *self);
gboolean boxlite_execution_get_oom_killed (BoxliteExecution *self);

gboolean boxlite_execution_kill (BoxliteExecution *self, gint signal_number, GError **error);
gboolean boxlite_execution_get_tty (BoxliteExecution *self);
gboolean boxlite_execution_resize (BoxliteExecution *self, guint rows, guint cols, GError **error);

G_END_DECLS

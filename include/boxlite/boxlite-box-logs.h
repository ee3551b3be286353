/* boxlite-box-logs.h: commands that belong to a box, and what they print. */
#pragma once

#include <gio/gio.h>

#include "boxlite-box.h"
#include "boxlite-command.h"

G_BEGIN_DECLS

gboolean boxlite_box_exec_detached (BoxliteBox *self, BoxliteCommand *command,
                                    GCancellable *cancellable, GError **error);
void boxlite_box_exec_detached_async (BoxliteBox *self, BoxliteCommand *command,
                                      GCancellable *cancellable, GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean boxlite_box_exec_detached_finish (BoxliteBox *self, GAsyncResult *result, GError **error);

GVariant *boxlite_box_read_logs (BoxliteBox *self, guint tail, GError **error);

G_END_DECLS

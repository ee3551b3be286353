/* boxlite-box-metrics.h: what a running box uses and what its guest does. */
#pragma once

#include <gio/gio.h>

#include "boxlite-box.h"

G_BEGIN_DECLS

GVariant *boxlite_box_get_metrics (BoxliteBox *self, GCancellable *cancellable, GError **error);
void boxlite_box_get_metrics_async (BoxliteBox *self, GCancellable *cancellable,
                                    GAsyncReadyCallback callback, gpointer user_data);
GVariant *boxlite_box_get_metrics_finish (BoxliteBox *self, GAsyncResult *result, GError **error);

G_END_DECLS

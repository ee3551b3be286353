/* boxlite-box-export.h: a box written to one file, and made again from it. */
#pragma once

#include <gio/gio.h>

#include "boxlite-box.h"
#include "boxlite-runtime.h"

G_BEGIN_DECLS

gboolean boxlite_box_export (BoxliteBox *self, const char *path, GCancellable *cancellable,
                             GError **error);
void boxlite_box_export_async (BoxliteBox *self, const char *path, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
gboolean boxlite_box_export_finish (BoxliteBox *self, GAsyncResult *result, GError **error);

gboolean boxlite_is_box_archive (const char *path);

BoxliteBox *boxlite_runtime_import_box (BoxliteRuntime *self, const char *path, const char *name,
                                        GCancellable *cancellable, GError **error);
void boxlite_runtime_import_box_async (BoxliteRuntime *self, const char *path, const char *name,
                                       GCancellable *cancellable, GAsyncReadyCallback callback,
                                       gpointer user_data);
BoxliteBox *boxlite_runtime_import_box_finish (BoxliteRuntime *self, GAsyncResult *result,
                                               GError **error);

G_END_DECLS

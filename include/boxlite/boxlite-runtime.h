/* boxlite-runtime.h: the entry point: boxes on one home directory. */
#pragma once

#include <gio/gio.h>

#include "boxlite-box-options.h"
#include "boxlite-box.h"
#include "boxlite-options.h"

G_BEGIN_DECLS

#define BOXLITE_TYPE_RUNTIME (boxlite_runtime_get_type ())
G_DECLARE_FINAL_TYPE (BoxliteRuntime, boxlite_runtime, BOXLITE, RUNTIME, GObject)

BoxliteRuntime *boxlite_runtime_new (BoxliteOptions *options, GError **error);
const char *boxlite_runtime_get_home_dir (BoxliteRuntime *self);

BoxliteBox *boxlite_runtime_create (BoxliteRuntime *self, BoxliteBoxOptions *options,
                                    const char *name, GCancellable *cancellable, GError **error);
void boxlite_runtime_create_async (BoxliteRuntime *self, BoxliteBoxOptions *options,
                                   const char *name, GCancellable *cancellable,
                                   GAsyncReadyCallback callback, gpointer user_data);
BoxliteBox *boxlite_runtime_create_finish (BoxliteRuntime *self, GAsyncResult *result,
                                           GError **error);

BoxliteBox *boxlite_runtime_get (BoxliteRuntime *self, const char *id_or_name, GError **error);
GList *boxlite_runtime_list (BoxliteRuntime *self, GError **error);
gboolean boxlite_runtime_remove (BoxliteRuntime *self, const char *id_or_name, gboolean force,
                                 GError **error);

guint boxlite_runtime_watch_events (BoxliteRuntime *self);
void boxlite_runtime_unwatch_events (BoxliteRuntime *self, guint id);

G_END_DECLS

/* boxlite-box-snapshot.h: a box's disk kept, restored and copied. */
#pragma once

#include <gio/gio.h>

#include "boxlite-box.h"
#include "boxlite-runtime.h"

G_BEGIN_DECLS

gboolean boxlite_box_snapshot_create (BoxliteBox *self, const char *name, GCancellable *cancellable,
                                      GError **error);
void boxlite_box_snapshot_create_async (BoxliteBox *self, const char *name,
                                        GCancellable *cancellable, GAsyncReadyCallback callback,
                                        gpointer user_data);
gboolean boxlite_box_snapshot_create_finish (BoxliteBox *self, GAsyncResult *result,
                                             GError **error);

GVariant *boxlite_box_snapshot_get_info (BoxliteBox *self, const char *name, GError **error);

char **boxlite_box_snapshot_list (BoxliteBox *self, GError **error);
void boxlite_box_snapshot_list_async (BoxliteBox *self, GCancellable *cancellable,
                                      GAsyncReadyCallback callback, gpointer user_data);
char **boxlite_box_snapshot_list_finish (BoxliteBox *self, GAsyncResult *result, GError **error);

gboolean boxlite_box_snapshot_restore (BoxliteBox *self, const char *name,
                                       GCancellable *cancellable, GError **error);
void boxlite_box_snapshot_restore_async (BoxliteBox *self, const char *name,
                                         GCancellable *cancellable, GAsyncReadyCallback callback,
                                         gpointer user_data);
gboolean boxlite_box_snapshot_restore_finish (BoxliteBox *self, GAsyncResult *result,
                                              GError **error);

gboolean boxlite_box_snapshot_restore_full (BoxliteBox *self, const char *name,
                                            BoxliteRestoreFlags flags, GCancellable *cancellable,
                                            GError **error);
void boxlite_box_snapshot_restore_full_async (BoxliteBox *self, const char *name,
                                              BoxliteRestoreFlags flags, GCancellable *cancellable,
                                              GAsyncReadyCallback callback, gpointer user_data);
gboolean boxlite_box_snapshot_restore_full_finish (BoxliteBox *self, GAsyncResult *result,
                                                   GError **error);

gboolean boxlite_box_snapshot_remove (BoxliteBox *self, const char *name, GCancellable *cancellable,
                                      GError **error);
void boxlite_box_snapshot_remove_async (BoxliteBox *self, const char *name,
                                        GCancellable *cancellable, GAsyncReadyCallback callback,
                                        gpointer user_data);
gboolean boxlite_box_snapshot_remove_finish (BoxliteBox *self, GAsyncResult *result,
                                             GError **error);

BoxliteBox *boxlite_runtime_clone (BoxliteRuntime *self, BoxliteBox *box, const char *snapshot,
                                   const char *new_name, GCancellable *cancellable, GError **error);
void boxlite_runtime_clone_async (BoxliteRuntime *self, BoxliteBox *box, const char *snapshot,
                                  const char *new_name, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);
BoxliteBox *boxlite_runtime_clone_finish (BoxliteRuntime *self, GAsyncResult *result,
                                          GError **error);

G_END_DECLS

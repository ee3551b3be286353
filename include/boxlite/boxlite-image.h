/* boxlite-image.h: OCI images in a runtime's store. */
#pragma once

#include <gio/gio.h>

#include "boxlite-runtime.h"

G_BEGIN_DECLS

#define BOXLITE_TYPE_IMAGE (boxlite_image_get_type ())
G_DECLARE_FINAL_TYPE (BoxliteImage, boxlite_image, BOXLITE, IMAGE, GObject)

const char *boxlite_image_get_reference (BoxliteImage *self);
const char *boxlite_image_get_digest (BoxliteImage *self);
const char *boxlite_image_get_id (BoxliteImage *self);
guint64 boxlite_image_get_size (BoxliteImage *self);
GDateTime *boxlite_image_get_created_at (BoxliteImage *self);
const char *const *boxlite_image_get_layers (BoxliteImage *self);
const char *const *boxlite_image_get_env (BoxliteImage *self);
const char *const *boxlite_image_get_entrypoint (BoxliteImage *self);
const char *const *boxlite_image_get_cmd (BoxliteImage *self);
const char *boxlite_image_get_working_dir (BoxliteImage *self);
const char *boxlite_image_get_user (BoxliteImage *self);
char *boxlite_image_to_json (BoxliteImage *self);

BoxliteImage *boxlite_runtime_pull_image (BoxliteRuntime *self, const char *reference,
                                          GCancellable *cancellable, GError **error);
void boxlite_runtime_pull_image_async (BoxliteRuntime *self, const char *reference,
                                       GCancellable *cancellable, GAsyncReadyCallback callback,
                                       gpointer user_data);
BoxliteImage *boxlite_runtime_pull_image_finish (BoxliteRuntime *self, GAsyncResult *result,
                                                 GError **error);

BoxliteImage *boxlite_runtime_import_image (BoxliteRuntime *self, const char *path,
                                            const char *reference, GCancellable *cancellable,
                                            GError **error);
void boxlite_runtime_import_image_async (BoxliteRuntime *self, const char *path,
                                         const char *reference, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data);
BoxliteImage *boxlite_runtime_import_image_finish (BoxliteRuntime *self, GAsyncResult *result,
                                                   GError **error);

GList *boxlite_runtime_list_images (BoxliteRuntime *self, GError **error);
BoxliteImage *boxlite_runtime_inspect_image (BoxliteRuntime *self, const char *reference,
                                             GError **error);
gboolean boxlite_runtime_remove_image (BoxliteRuntime *self, const char *reference, gboolean force,
                                       GError **error);
gint boxlite_runtime_prune_images (BoxliteRuntime *self, guint64 *reclaimed, GError **error);
void boxlite_runtime_remove_image_async (BoxliteRuntime *self, const char *reference,
                                         gboolean force, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data);
gboolean boxlite_runtime_remove_image_finish (BoxliteRuntime *self, GAsyncResult *result,
                                              GError **error);
void boxlite_runtime_prune_images_async (BoxliteRuntime *self, GCancellable *cancellable,
                                         GAsyncReadyCallback callback, gpointer user_data);
gint boxlite_runtime_prune_images_finish (BoxliteRuntime *self, GAsyncResult *result,
                                          guint64 *reclaimed, GError **error);

G_END_DECLS

/* boxlite-image-private.h: what the runtime and the image files share. */
#pragma once

#include <boxlite/boxlite-box-options.h>
#include <boxlite/boxlite-image.h>
#include "image-store.h"

G_BEGIN_DECLS

/* boxlite-runtime.c */
BlImageStore *bl_runtime_get_image_store (BoxliteRuntime *self);
/* (element-type BlRegistryEntry) (transfer none) */
GPtrArray *bl_runtime_get_registries (BoxliteRuntime *self);
/* Hosts of the search registries, in order. (transfer none) */
const char *const *bl_runtime_get_search_registries (BoxliteRuntime *self);
/* Emits BoxliteRuntime::pull-progress on the calling thread. */
void bl_runtime_emit_pull_progress (BoxliteRuntime *self, const char *digest, guint64 done,
                                    guint64 total);
/* The image ids and manifest digests the boxes' records name. */
gboolean bl_runtime_image_users (BoxliteRuntime *self, BlImageUsers *users, GError **error);
void bl_image_users_clear (BlImageUsers *users);

/* boxlite-image.c */
BoxliteImage *bl_image_new (BlImageStore *store, const BlImageEntry *entry, GError **error);
/* The image @reference names in the store, pulled first when it is not
 * there; progress is emitted on @progress_context (NULL: this thread). */
BoxliteImage *bl_runtime_resolve_image (BoxliteRuntime *self, const char *reference,
                                        GMainContext *progress_context, GCancellable *cancellable,
                                        GError **error);
/* A copy of @options with the image's Env (the options' entries win),
 * WorkingDir, User, Entrypoint and Cmd filled in where @options has none. */
BoxliteBoxOptions *bl_image_apply_defaults (BoxliteImage *image, BoxliteBoxOptions *options);

G_END_DECLS

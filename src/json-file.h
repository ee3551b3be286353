/* json-file.h: small JSON documents on disk, written atomically. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Writes the finished object in @builder to @path (mode 0600): a temporary
 * file, synced, then renamed over @path. */
gboolean bl_json_write_file (const char *path, JsonBuilder *builder, GError **error);

G_END_DECLS

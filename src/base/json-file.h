/* json-file.h: small JSON documents on disk, written atomically, and
 * members of JSON read from outside, taken only with the expected type. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Writes the finished object in @builder to @path (mode 0600): a temporary
 * file, synced, then renamed over @path. */
gboolean bl_json_write_file (const char *path, JsonBuilder *builder, GError **error);

/* The finished value in @builder as indented JSON text. */
GBytes *bl_json_builder_to_bytes (JsonBuilder *builder);

/* Member @name of @obj (nullable) when it has the wanted type, else NULL:
 * how documents from outside are read without trusting their shape. */
const char *bl_json_member_string (JsonObject *obj, const char *name);
JsonObject *bl_json_member_object (JsonObject *obj, const char *name);
JsonArray *bl_json_member_array (JsonObject *obj, const char *name);

/* Deepest nesting of arrays and objects accepted in JSON from outside: far
 * above what any of our documents needs, far below what exhausts the stack
 * of json-glib's recursive parser. */
#define BL_JSON_DEPTH_MAX 64u

/* json_parser_load_from_data() for JSON from outside (the guest, a registry,
 * an image): refused without parsing when arrays and objects nest deeper
 * than BL_JSON_DEPTH_MAX (JSON_PARSER_ERROR_PARSE). */
gboolean bl_json_load (JsonParser *parser, const char *data, gsize len, GError **error);
/* bl_json_load() of a document that must be an object: its root object,
 * owned by @parser, or NULL when @data is not one (empty data included). */
JsonObject *bl_json_load_object (JsonParser *parser, const char *data, gsize len);

G_END_DECLS

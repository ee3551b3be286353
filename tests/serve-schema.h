/* serve-schema.h: answers of `boxlite serve` checked against
 * docs/openapi.json: the status must be one the file lists for the
 * operation, and a JSON body must validate against its schema (the subset
 * of JSON Schema the file uses: type, nullable, enum, required, properties,
 * additionalProperties, items, minimum, maximum, minLength, maxLength,
 * format date-time, $ref). */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _ServeSchema ServeSchema;

ServeSchema *serve_schema_load (const char *path, GError **error);
void serve_schema_free (ServeSchema *schema);

/* Checks one answer to @method @path (no query). Returns FALSE with @error
 * saying what is wrong. Remembers the operation as answered when @status is
 * 1xx or 2xx. */
gboolean serve_schema_check (ServeSchema *schema, const char *method, const char *path,
                             guint status, const char *content_type, GBytes *body, GError **error);

/* Validates @node against the schema named @name in components. */
gboolean serve_schema_validate (ServeSchema *schema, const char *name, JsonNode *node,
                                GError **error);

/* Every operation of the file as "METHOD /path/{param}" (a new vector). */
char **serve_schema_operations (ServeSchema *schema);
/* The operations never answered with 1xx or 2xx (a new vector). */
char **serve_schema_unanswered (ServeSchema *schema);

G_END_DECLS

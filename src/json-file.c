/* json-file.c: small JSON documents on disk, written atomically. */
#include "json-file.h"

gboolean
bl_json_write_file (const char *path, JsonBuilder *builder, GError **error)
{
    g_autoptr (JsonNode) root = json_builder_get_root (builder);
    g_autoptr (JsonGenerator) gen = json_generator_new ();
    gsize len = 0;

    json_generator_set_root (gen, root);
    json_generator_set_pretty (gen, TRUE);
    g_autofree char *text = json_generator_to_data (gen, &len);
    return g_file_set_contents_full (path, text, (gssize) len, G_FILE_SET_CONTENTS_CONSISTENT,
                                     0600, error);
}

/* serve-images.c: /v1/images: pull, list, get, head, remove. An image is
 * named in a path by its id ("sha256:…" of its config, or a prefix of at
 * least 12 hex digits) or by a reference without "/". */
#define G_LOG_DOMAIN "boxlite-serve"

#include <string.h>

#include "serve.h"

static JsonNode *
image_json (BoxliteImage *image)
{
    const char *reference = boxlite_image_get_reference (image);
    g_autoptr (JsonBuilder) b = json_builder_new ();
    g_autofree char *cached = bl_serve_time (boxlite_image_get_created_at (image));
    /* "repo:tag" or "repo@sha256:…": the tag is what follows the last ':'
     * after the last '/', unless the reference is by digest. */
    const char *at = strchr (reference, '@');
    const char *slash = strrchr (reference, '/');
    const char *colon = strrchr (reference, ':');
    g_autofree char *repository = NULL;
    const char *tag = "";

    if (at) {
        repository = g_strndup (reference, (gsize) (at - reference));
    } else if (colon && (!slash || colon > slash)) {
        repository = g_strndup (reference, (gsize) (colon - reference));
        tag = colon + 1;
    } else {
        repository = g_strdup (reference);
    }
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "reference");
    json_builder_add_string_value (b, reference);
    json_builder_set_member_name (b, "repository");
    json_builder_add_string_value (b, repository);
    json_builder_set_member_name (b, "tag");
    json_builder_add_string_value (b, tag);
    json_builder_set_member_name (b, "id");
    json_builder_add_string_value (b, boxlite_image_get_id (image));
    json_builder_set_member_name (b, "digest");
    json_builder_add_string_value (b, boxlite_image_get_digest (image));
    json_builder_set_member_name (b, "cached_at");
    json_builder_add_string_value (b, cached);
    json_builder_set_member_name (b, "size_bytes");
    json_builder_add_int_value (b, (gint64) boxlite_image_get_size (image));
    json_builder_end_object (b);
    return json_builder_get_root (b);
}

static void
pull_image (BlServeCall *call)
{
    static const char *const known[] = { "reference", NULL };
    const char *reference = NULL;
    g_autoptr (GError) error = NULL;

    if (!bl_serve_json_only (call, call->json, known) ||
        !bl_serve_json_string (call, call->json, "reference", &reference))
        return;
    if (!reference || !*reference) {
        bl_serve_reply_error (call, 400, "InvalidArgumentError", "invalid_argument",
                              "reference is required");
        return;
    }
    g_autoptr (BoxliteImage) image =
        boxlite_runtime_pull_image (bl_serve_get_runtime (call->serve), reference, NULL, &error);
    bl_serve_stats_pull (bl_serve_get_stats (call->serve), image != NULL,
                         image ? boxlite_image_get_size (image) : 0);
    /* As upstream: a reference that cannot be had is 422, not 404. */
    if (!image && !g_error_matches (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT))
        bl_serve_reply_error (call, 422, "ImageError", "image_pull_failed", "%s", error->message);
    else if (!image)
        bl_serve_reply_gerror (call, error);
    else
        bl_serve_reply_json (call, SOUP_STATUS_OK, image_json (image));
}

static gint
compare_images (gconstpointer a, gconstpointer b)
{
    BoxliteImage *x = (BoxliteImage *) a, *y = (BoxliteImage *) b;
    gint by_id = strcmp (boxlite_image_get_id (x), boxlite_image_get_id (y));
    return by_id ? by_id
                 : strcmp (boxlite_image_get_reference (x), boxlite_image_get_reference (y));
}

/* Pages in the order of (id, reference); the token's key is the last
 * image's "ID REFERENCE" (its time is unused). */
static void
list_images (BlServeCall *call)
{
    const char *token = bl_serve_query (call, "pageToken");
    guint page_size = 100;
    g_autoptr (GError) error = NULL;
    g_autofree char *after = NULL;
    gint64 unused;

    if (!bl_serve_query_uint (call, "pageSize", 1, 1000, &page_size))
        return;
    if (token && !bl_serve_page_token_parse (token, &unused, &after)) {
        bl_serve_reply_error (call, 400, "InvalidArgumentError", "invalid_argument",
                              "pageToken is not one this server gave");
        return;
    }
    GList *images = boxlite_runtime_list_images (bl_serve_get_runtime (call->serve), &error);
    if (error) {
        bl_serve_reply_gerror (call, error);
        return;
    }
    images = g_list_sort (images, compare_images);
    g_autoptr (JsonBuilder) b = json_builder_new ();
    g_autofree char *last = NULL;
    guint n = 0;
    gboolean more = FALSE;
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "images");
    json_builder_begin_array (b);
    for (GList *l = images; l; l = l->next) {
        g_autofree char *key = g_strdup_printf ("%s %s", boxlite_image_get_id (l->data),
                                                boxlite_image_get_reference (l->data));
        if (after && strcmp (key, after) <= 0)
            continue;
        if (n == page_size) {
            more = TRUE;
            break;
        }
        json_builder_add_value (b, image_json (l->data));
        g_free (last);
        last = g_steal_pointer (&key);
        n++;
    }
    json_builder_end_array (b);
    json_builder_set_member_name (b, "next_page_token");
    if (more) {
        g_autofree char *encoded = bl_serve_page_token_new (0, last);
        json_builder_add_string_value (b, encoded);
    } else {
        json_builder_add_null_value (b);
    }
    json_builder_end_object (b);
    g_list_free_full (images, g_object_unref);
    bl_serve_reply_builder (call, SOUP_STATUS_OK, b);
}

static BoxliteImage *
find_image (BlServeCall *call)
{
    g_autoptr (GError) error = NULL;
    BoxliteImage *image =
        boxlite_runtime_inspect_image (bl_serve_get_runtime (call->serve), call->args[0], &error);

    if (!image)
        bl_serve_reply_gerror (call, error);
    return image;
}

static void
get_image (BlServeCall *call)
{
    g_autoptr (BoxliteImage) image = find_image (call);

    if (image)
        bl_serve_reply_json (call, SOUP_STATUS_OK, image_json (image));
}

static void
head_image (BlServeCall *call)
{
    g_autoptr (BoxliteImage) image = find_image (call);

    bl_serve_reply_status (call, image ? SOUP_STATUS_NO_CONTENT : call->status);
}

static void
remove_image (BlServeCall *call)
{
    gboolean force = FALSE;
    g_autoptr (GError) error = NULL;

    if (!bl_serve_query_bool (call, "force", &force))
        return;
    if (!boxlite_runtime_remove_image (bl_serve_get_runtime (call->serve), call->args[0], force,
                                       &error))
        bl_serve_reply_gerror (call, error);
    else
        bl_serve_reply_status (call, SOUP_STATUS_NO_CONTENT);
}

const BlServeRoute bl_serve_images_routes[] = {
    { "POST", "/images/pull", pull_image, BL_SERVE_ROUTE_JSON },
    { "GET", "/images", list_images, 0 },
    { "GET", "/images/*", get_image, 0 },
    { "HEAD", "/images/*", head_image, 0 },
    { "DELETE", "/images/*", remove_image, 0 },
};
const guint bl_serve_images_n_routes = G_N_ELEMENTS (bl_serve_images_routes);

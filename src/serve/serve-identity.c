/* serve-identity.c: GET /v1/config (what this server offers, no token
 * needed) and GET /v1/me (who the token is). */
#define G_LOG_DOMAIN "boxlite-serve"

#include "serve.h"

static void
add_int (JsonBuilder *b, const char *name, gint64 value)
{
    json_builder_set_member_name (b, name);
    json_builder_add_int_value (b, value);
}

static void
add_bool (JsonBuilder *b, const char *name, gboolean value)
{
    json_builder_set_member_name (b, name);
    json_builder_add_boolean_value (b, value);
}

static void
get_config (BlServeCall *call)
{
    g_autoptr (BoxliteBoxOptions) defaults = boxlite_box_options_new ();
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "defaults");
    json_builder_begin_object (b);
    add_int (b, "cpus", boxlite_box_options_get_cpus (defaults));
    add_int (b, "memory_mib", boxlite_box_options_get_memory_mib (defaults));
    add_int (b, "auto_delete", 0);
    json_builder_end_object (b);
    json_builder_set_member_name (b, "overrides");
    json_builder_begin_object (b);
    json_builder_end_object (b);
    json_builder_set_member_name (b, "capabilities");
    json_builder_begin_object (b);
    add_bool (b, "linux_capabilities_enabled", FALSE);
    add_int (b, "max_cpus", MIN (64, g_get_num_processors ()));
    add_int (b, "file_transfer_max_bytes", BL_SERVE_MAX_FILE_BYTES);
    add_bool (b, "tty_enabled", TRUE);
    add_bool (b, "streaming_enabled", TRUE);
    add_bool (b, "snapshots_enabled", FALSE);
    add_bool (b, "clone_enabled", FALSE);
    add_bool (b, "export_enabled", FALSE);
    json_builder_end_object (b);
    json_builder_end_object (b);
    bl_serve_reply_builder (call, SOUP_STATUS_OK, b);
}

static void
get_me (BlServeCall *call)
{
    static const char *const scopes[] = { "box:read", "box:write", "box:exec", "box:delete",
                                          "me:read" };
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "sub");
    json_builder_add_string_value (b, "local");
    json_builder_set_member_name (b, "principal_type");
    json_builder_add_string_value (b, "service_account");
    json_builder_set_member_name (b, "display_name");
    json_builder_add_string_value (b, g_get_user_name ());
    json_builder_set_member_name (b, "path_prefix");
    json_builder_add_null_value (b);
    json_builder_set_member_name (b, "scopes");
    json_builder_begin_array (b);
    for (guint i = 0; i < G_N_ELEMENTS (scopes); i++)
        json_builder_add_string_value (b, scopes[i]);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "expires_at");
    json_builder_add_null_value (b);
    json_builder_end_object (b);
    bl_serve_reply_builder (call, SOUP_STATUS_OK, b);
}

const BlServeRoute bl_serve_v1_routes[] = {
    { "GET", "/config", get_config, BL_SERVE_ROUTE_MAIN | BL_SERVE_ROUTE_PUBLIC },
    { "GET", "/me", get_me, BL_SERVE_ROUTE_MAIN },
};
const guint bl_serve_v1_n_routes = G_N_ELEMENTS (bl_serve_v1_routes);

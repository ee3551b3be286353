/* mcp-tool-boxes.c: the tools that make, list and delete boxes.
 *
 * A box made by create_box belongs to this server unless it is detached:
 * like any box that is not detached it stops when the server exits, and
 * stays, stopped, for the next call that names it. Nothing of the host is
 * offered: no host folders, no root filesystem from a host path, no
 * published ports; images come by reference only. */
#define G_LOG_DOMAIN "boxlite-mcp"

#include "json-file.h"
#include "mcp-tools.h"

char **
bl_mcp_env_strv (JsonObject *args)
{
    JsonObject *env = bl_json_member_object (args, "env");
    g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
    JsonObjectIter iter;
    const char *name;
    JsonNode *value;

    if (!env)
        return NULL;
    json_object_iter_init (&iter, env);
    while (json_object_iter_next (&iter, &name, &value)) {
        g_autofree char *entry = g_strdup_printf ("%s=%s", name, json_node_get_string (value));
        g_strv_builder_add (builder, entry);
    }
    return g_strv_builder_end (builder);
}

/* A box another call started meanwhile is as good as one we started. */
static gboolean
start_box (BoxliteBox *box, GCancellable *cancellable, GError **error)
{
    g_autoptr (GError) local = NULL;

    if (boxlite_box_start (box, cancellable, &local))
        return TRUE;
    if (g_error_matches (local, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE) &&
        boxlite_box_get_state (box) == BOXLITE_BOX_STATE_RUNNING)
        return TRUE;
    g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                "cannot start box %s: ", boxlite_box_get_name (box));
    return FALSE;
}

BoxliteBox *
bl_mcp_running_box (BoxliteRuntime *runtime, const char *ref, GCancellable *cancellable,
                    GError **error)
{
    g_autoptr (BoxliteBox) box = boxlite_runtime_get (runtime, ref, error);

    if (!box)
        return NULL;
    switch (boxlite_box_get_state (box)) {
    case BOXLITE_BOX_STATE_RUNNING:
        break;
    case BOXLITE_BOX_STATE_PAUSED:
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE,
                     "box %s is paused (boxlite unpause %s lets it run)",
                     boxlite_box_get_name (box), boxlite_box_get_name (box));
        return NULL;
    default:
        if (!start_box (box, cancellable, error))
            return NULL;
    }
    return g_steal_pointer (&box);
}

/* The options create_box's arguments describe. */
static BoxliteBoxOptions *
options_from_args (JsonObject *args, GError **error)
{
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    const char *image = json_object_get_string_member_with_default (args, "image", NULL);
    const char *network = json_object_get_string_member_with_default (args, "network", "default");
    const char *working_dir =
        json_object_get_string_member_with_default (args, "working_dir", NULL);
    JsonArray *allow = bl_json_member_array (args, "allow_net");
    g_auto (GStrv) env = bl_mcp_env_strv (args);

    if (image)
        boxlite_box_options_set_image (options, image);
    if (json_object_has_member (args, "cpus"))
        boxlite_box_options_set_cpus (options, (guint) json_object_get_int_member (args, "cpus"));
    if (json_object_has_member (args, "memory_mib"))
        boxlite_box_options_set_memory_mib (
            options, (guint) json_object_get_int_member (args, "memory_mib"));
    if (g_str_equal (network, "none") && allow && json_array_get_length (allow) > 0) {
        g_set_error_literal (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                             "allow_net needs the network, but network is none");
        return NULL;
    }
    boxlite_box_options_set_network (options, g_str_equal (network, "none")
                                                  ? BOXLITE_NETWORK_DISABLED
                                                  : BOXLITE_NETWORK_ENABLED);
    if (allow) {
        g_autoptr (GStrvBuilder) rules = g_strv_builder_new ();
        for (guint i = 0; i < json_array_get_length (allow); i++)
            g_strv_builder_add (rules, json_array_get_string_element (allow, i));
        g_auto (GStrv) list = g_strv_builder_end (rules);
        boxlite_box_options_set_allow_net (options, (const char *const *) list);
    }
    if (env)
        boxlite_box_options_set_env (options, (const char *const *) env);
    if (working_dir)
        boxlite_box_options_set_working_dir (options, working_dir);
    boxlite_box_options_set_detach (
        options, json_object_get_boolean_member_with_default (args, "detach", FALSE));
    if (!boxlite_box_options_validate (options, error))
        return NULL;
    return g_steal_pointer (&options);
}

void
bl_mcp_tool_create_box (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                        BlMcpResult *result)
{
    const char *name = json_object_get_string_member_with_default (args, "name", NULL);
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBoxOptions) options = options_from_args (args, &error);
    g_autoptr (BoxliteBox) box =
        options ? boxlite_runtime_create (runtime, options, name, cancellable, &error) : NULL;

    if (!box) {
        bl_mcp_result_fail (result, error);
        return;
    }
    /* A box that cannot start is of no use to the caller, who would have
     * to find and remove it. */
    if (!start_box (box, cancellable, &error)) {
        (void) boxlite_runtime_remove (runtime, boxlite_box_get_id (box), TRUE, NULL);
        bl_mcp_result_fail (result, error);
        return;
    }
    bl_mcp_result_add (result, "created and started box %s (id %s)", boxlite_box_get_name (box),
                       boxlite_box_get_id (box));
}

static const char *
state_name (BoxliteBoxState state)
{
    GEnumClass *states = g_type_class_ref (BOXLITE_TYPE_BOX_STATE);
    GEnumValue *value = g_enum_get_value (states, (gint) state);

    g_type_class_unref (states); /* the class stays: the type is static */
    return value ? value->value_nick : "unknown";
}

void
bl_mcp_tool_list_boxes (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                        BlMcpResult *result)
{
    g_autoptr (GError) error = NULL;
    GList *boxes = boxlite_runtime_list (runtime, &error);
    g_autoptr (GString) table = g_string_new (NULL);

    if (error) {
        g_list_free_full (boxes, g_object_unref);
        bl_mcp_result_fail (result, error);
        return;
    }
    g_string_append_printf (table, "%-32s  %-20s  %-10s  %-20s  %s\n", "ID", "NAME", "STATE",
                            "CREATED (UTC)", "IMAGE");
    for (GList *l = boxes; l; l = l->next) {
        BoxliteBox *box = l->data;
        BoxliteBoxOptions *options = boxlite_box_get_options (box);
        const char *image = boxlite_box_options_get_image (options);
        g_autoptr (GDateTime) created = boxlite_box_get_created_at (box);
        g_autofree char *when = created ? g_date_time_format (created, "%F %T") : g_strdup ("-");
        /* Read first: reading the state reloads the record. */
        BoxliteBoxState state = boxlite_box_get_state (box);
        g_string_append_printf (table, "%-32s  %-20s  %-10s  %-20s  %s\n", boxlite_box_get_id (box),
                                boxlite_box_get_name (box), state_name (state), when,
                                image ? image
                                : boxlite_box_options_get_rootfs (options)
                                    ? boxlite_box_options_get_rootfs (options)
                                    : "(default)");
    }
    g_list_free_full (boxes, g_object_unref);
    bl_mcp_result_add_text (result, table->str, table->len);
}

void
bl_mcp_tool_remove_box (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                        BlMcpResult *result)
{
    const char *ref = json_object_get_string_member (args, "box");
    gboolean force = json_object_get_boolean_member_with_default (args, "force", FALSE);
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box = boxlite_runtime_get (runtime, ref, &error);

    if (!box) {
        bl_mcp_result_fail (result, error);
        return;
    }
    g_autofree char *id = g_strdup (boxlite_box_get_id (box));
    g_autofree char *name = g_strdup (boxlite_box_get_name (box));
    BoxliteBoxState state = boxlite_box_get_state (box);
    gboolean live = state == BOXLITE_BOX_STATE_RUNNING || state == BOXLITE_BOX_STATE_PAUSED;
    if (live && !boxlite_box_stop (box, force, cancellable, &error) &&
        !g_error_matches (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE)) {
        g_prefix_error (&error, "cannot stop box %s: ", name);
        bl_mcp_result_fail (result, error);
        return;
    }
    g_clear_error (&error);
    /* An auto-removed box may be gone with its monitor already. */
    if (!boxlite_runtime_remove (runtime, id, TRUE, &error) &&
        !g_error_matches (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND)) {
        bl_mcp_result_fail (result, error);
        return;
    }
    bl_mcp_result_add (result, "removed box %s (id %s)", name, id);
}

/* launch.c: BOXDIR/launch.json to and from BlLaunch. */
#define G_LOG_DOMAIN "boxlite"

#include "launch.h"

#include <json-glib/json-glib.h>

#include <boxlite/boxlite-error.h>
#include "json-file.h"
#include "netspec.h"
#include "volume.h"

#define MAX_LAUNCH_SIZE (64 * 1024)

static const char *const accel_names[] = { "auto", "kvm", "tcg" };
static const char *const network_names[] = { "disabled", "enabled" };

void
bl_launch_free (BlLaunch *launch)
{
    if (!launch)
        return;
    g_free (launch->box_id);
    g_free (launch->box_dir);
    g_free (launch->qemu);
    g_free (launch->kernel);
    g_free (launch->initrd);
    g_free (launch->disk);
    g_free (launch->hostname);
    g_free (launch->hosts_file);
    g_free (launch->qemu_user);
    g_free (launch->templates_dir);
    g_free (launch->template_ram);
    g_strfreev (launch->allow_net);
    g_strfreev (launch->ports);
    g_strfreev (launch->volumes);
    g_free (launch);
}

static gboolean
get_path (JsonObject *obj, const char *name, char **out, GError **error)
{
    const char *value = json_object_get_string_member_with_default (obj, name, NULL);

    if (!value || !g_path_is_absolute (value)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "launch: '%s' must be an absolute path", name);
        return FALSE;
    }
    *out = g_strdup (value);
    return TRUE;
}

/* A missing or null member is NULL; anything but an array of strings fails. */
static gboolean
get_strv (JsonObject *obj, const char *name, GStrv *out, GError **error)
{
    JsonNode *node = json_object_get_member (obj, name);

    *out = NULL;
    if (!node || JSON_NODE_HOLDS_NULL (node))
        return TRUE;
    JsonArray *array = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
    guint n = array ? json_array_get_length (array) : 0;
    GStrv strv = g_new0 (char *, n + 1);
    for (guint i = 0; array && i < n; i++) {
        JsonNode *elem = json_array_get_element (array, i);
        if (!JSON_NODE_HOLDS_VALUE (elem) || json_node_get_value_type (elem) != G_TYPE_STRING) {
            array = NULL;
            break;
        }
        strv[i] = g_strdup (json_node_get_string (elem));
    }
    if (!array) {
        g_strfreev (strv);
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "launch: '%s' must be a list of strings", name);
        return FALSE;
    }
    *out = strv;
    return TRUE;
}

static gboolean
get_enum (JsonObject *obj, const char *name, const char *const *names, guint n, guint *out,
          GError **error)
{
    const char *value = json_object_get_string_member_with_default (obj, name, names[0]);

    for (guint i = 0; i < n; i++) {
        if (g_strcmp0 (value, names[i]) == 0) {
            *out = i;
            return TRUE;
        }
    }
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT, "launch: bad '%s': %s", name,
                 value ? value : "(not a string)");
    return FALSE;
}

BlLaunch *
bl_launch_load (const char *path, GError **error)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();
    g_autoptr (BlLaunch) launch = g_new0 (BlLaunch, 1);
    guint accel = 0, network = 0;

    if (!g_file_get_contents (path, &text, &len, error))
        return NULL;
    if (len > MAX_LAUNCH_SIZE || !bl_json_load (parser, text, len, NULL) ||
        !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "%s is not a launch description", path);
        return NULL;
    }
    JsonObject *obj = json_node_get_object (json_parser_get_root (parser));

    if (!get_path (obj, "box_dir", &launch->box_dir, error) ||
        !get_path (obj, "qemu", &launch->qemu, error) ||
        !get_path (obj, "kernel", &launch->kernel, error) ||
        !get_path (obj, "initrd", &launch->initrd, error) ||
        !get_path (obj, "disk", &launch->disk, error) ||
        !get_enum (obj, "accel", accel_names, G_N_ELEMENTS (accel_names), &accel, error) ||
        !get_enum (obj, "network", network_names, G_N_ELEMENTS (network_names), &network, error) ||
        !get_strv (obj, "allow_net", &launch->allow_net, error) ||
        !get_strv (obj, "ports", &launch->ports, error) ||
        !get_strv (obj, "volumes", &launch->volumes, error))
        return NULL;
    launch->box_id = g_strdup (json_object_get_string_member_with_default (obj, "box_id", NULL));
    if (json_object_has_member (obj, "hosts_file") &&
        !get_path (obj, "hosts_file", &launch->hosts_file, error))
        return NULL;
    if (json_object_has_member (obj, "templates_dir") &&
        !get_path (obj, "templates_dir", &launch->templates_dir, error))
        return NULL;
    launch->fast_start = json_object_get_boolean_member_with_default (obj, "fast_start", FALSE);
    launch->hostname =
        g_strdup (json_object_get_string_member_with_default (obj, "hostname", "box"));
    launch->cpus = (guint) json_object_get_int_member_with_default (obj, "cpus", 1);
    launch->memory_mib = (guint) json_object_get_int_member_with_default (obj, "memory_mib", 512);
    launch->max_processes =
        (guint) json_object_get_int_member_with_default (obj, "max_processes", 4096);
    launch->detach = json_object_get_boolean_member_with_default (obj, "detach", FALSE);
    launch->auto_remove = json_object_get_boolean_member_with_default (obj, "auto_remove", FALSE);
    launch->boot_timeout_ms =
        (guint) json_object_get_int_member_with_default (obj, "boot_timeout_ms", 120000);
    gint64 auto_stop = json_object_get_int_member_with_default (obj, "auto_stop", 0);
    launch->accel = (BoxliteAccel) accel;
    launch->network = (BoxliteNetworkMode) network;

    if (!launch->box_id || launch->cpus < 1 || launch->cpus > 64 || launch->memory_mib < 64 ||
        launch->memory_mib > 1024 * 1024 || launch->max_processes < 1 ||
        launch->max_processes > 4 * 1024 * 1024 || auto_stop < 0 || auto_stop > G_MAXUINT) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "%s: box_id, cpus (1-64), memory_mib (64-1048576), max_processes "
                     "(1-4194304) or auto_stop invalid",
                     path);
        return NULL;
    }
    launch->auto_stop = (guint) auto_stop;
    if ((launch->allow_net && launch->allow_net[0]) || (launch->ports && launch->ports[0])) {
        if (launch->network != BOXLITE_NETWORK_ENABLED) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                         "%s: allow_net and ports need the network enabled", path);
            return NULL;
        }
        if (!bl_allow_net_validate ((const char *const *) launch->allow_net, error) ||
            !bl_port_forwards_validate ((const char *const *) launch->ports, error))
            return NULL;
    }
    /* The host folders are checked by the monitor, as the user QEMU runs as. */
    g_autoptr (GPtrArray) volumes =
        bl_volumes_parse ((const char *const *) launch->volumes, FALSE, error);
    if (!volumes) {
        g_prefix_error (error, "%s: ", path);
        return NULL;
    }
    return g_steal_pointer (&launch);
}

static void
add_strv (JsonBuilder *b, const char *name, char **strv)
{
    json_builder_set_member_name (b, name);
    json_builder_begin_array (b);
    for (guint i = 0; strv && strv[i]; i++)
        json_builder_add_string_value (b, strv[i]);
    json_builder_end_array (b);
}

gboolean
bl_launch_save (const char *path, const BlLaunch *launch, GError **error)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
#define STR(name)                                                                                  \
    json_builder_set_member_name (b, #name), json_builder_add_string_value (b, launch->name)
#define INT(name)                                                                                  \
    json_builder_set_member_name (b, #name), json_builder_add_int_value (b, launch->name)
#define BOOL(name)                                                                                 \
    json_builder_set_member_name (b, #name), json_builder_add_boolean_value (b, launch->name)
    STR (box_id);
    STR (box_dir);
    STR (qemu);
    STR (kernel);
    STR (initrd);
    STR (disk);
    STR (hostname);
    INT (cpus);
    INT (memory_mib);
    INT (max_processes);
    INT (boot_timeout_ms);
    BOOL (detach);
    BOOL (auto_remove);
    BOOL (fast_start);
    INT (auto_stop);
#undef STR
#undef INT
#undef BOOL
    json_builder_set_member_name (b, "accel");
    json_builder_add_string_value (b, accel_names[launch->accel]);
    json_builder_set_member_name (b, "network");
    json_builder_add_string_value (b, network_names[launch->network]);
    add_strv (b, "allow_net", launch->allow_net);
    add_strv (b, "ports", launch->ports);
    add_strv (b, "volumes", launch->volumes);
    if (launch->hosts_file) {
        json_builder_set_member_name (b, "hosts_file");
        json_builder_add_string_value (b, launch->hosts_file);
    }
    if (launch->templates_dir) {
        json_builder_set_member_name (b, "templates_dir");
        json_builder_add_string_value (b, launch->templates_dir);
    }
    json_builder_end_object (b);

    return bl_json_write_file (path, b, error);
}

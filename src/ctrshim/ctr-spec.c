/* ctr-spec.c: what a process runs, from the bundle's config.json (the OCI
 * runtime spec containerd wrote) or from an Exec's process spec.
 *
 * Only the fields a box can honour are read: process args, env, cwd, user,
 * terminal; linux.resources cpu and memory size the VM; the annotation
 * boxlite.io/allow-net picks the network ("none" for none, else a comma
 * list of allowlist rules). Every field is taken with its expected type
 * and bounded; a missing or empty args list is refused.
 */
#define G_LOG_DOMAIN "boxlite-ctr"

#include <string.h>

#include "ctr.h"
#include "json-file.h"
#include <boxlite/boxlite-error.h>

#define MAX_ARGS 4096
#define MAX_STRING 65536
#define ALLOW_NET_ANNOTATION "boxlite.io/allow-net"
#define CONTAINER_TYPE_ANNOTATION "io.kubernetes.cri.container-type"
#define SANDBOX_ID_ANNOTATION "io.kubernetes.cri.sandbox-id"

/* @array's strings, or NULL with @error set when it holds anything else. */
static char **
string_list (JsonArray *array, const char *what, GError **error)
{
    guint n = array ? json_array_get_length (array) : 0;
    g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

    if (n > MAX_ARGS) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT, "%s has %u entries",
                     what, n);
        return NULL;
    }
    for (guint i = 0; i < n; i++) {
        JsonNode *node = json_array_get_element (array, i);
        const char *s =
            JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING
                ? json_node_get_string (node)
                : NULL;
        if (!s || strlen (s) > MAX_STRING) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                         "%s[%u] is not a string of at most %d bytes", what, i, MAX_STRING);
            return NULL;
        }
        g_strv_builder_add (builder, s);
    }
    return g_strv_builder_end (builder);
}

/* A member that must be a non-negative integer below 2^32, or absent. */
static gboolean
member_u32 (JsonObject *obj, const char *name, guint32 *out, GError **error)
{
    JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

    if (!node || JSON_NODE_HOLDS_NULL (node))
        return TRUE;
    if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64 ||
        json_node_get_int (node) < 0 || json_node_get_int (node) > G_MAXUINT32) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "%s is not an unsigned 32-bit integer", name);
        return FALSE;
    }
    *out = (guint32) json_node_get_int (node);
    return TRUE;
}

static gint64
member_int (JsonObject *obj, const char *name)
{
    JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

    if (node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
        return json_node_get_int (node);
    return 0;
}

static BlCtrSpec *
spec_from_process (JsonObject *process, GError **error)
{
    g_autoptr (BlCtrSpec) spec = g_new0 (BlCtrSpec, 1);
    guint32 uid = 0, gid = 0;

    if (!process) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "the spec has no process");
        return NULL;
    }
    spec->argv = string_list (bl_json_member_array (process, "args"), "process.args", error);
    if (!spec->argv)
        return NULL;
    if (!spec->argv[0]) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT, "process.args is empty");
        return NULL;
    }
    spec->env = string_list (bl_json_member_array (process, "env"), "process.env", error);
    if (!spec->env)
        return NULL;
    const char *cwd = bl_json_member_string (process, "cwd");
    if (cwd && (cwd[0] != '/' || strlen (cwd) > 4096)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "process.cwd is not an absolute path");
        return NULL;
    }
    spec->cwd = g_strdup (cwd);
    JsonObject *user = bl_json_member_object (process, "user");
    if (!member_u32 (user, "uid", &uid, error) || !member_u32 (user, "gid", &gid, error))
        return NULL;
    spec->user = g_strdup_printf ("%u:%u", uid, gid);
    JsonNode *terminal = json_object_get_member (process, "terminal");
    spec->terminal = terminal && JSON_NODE_HOLDS_VALUE (terminal) &&
                     json_node_get_value_type (terminal) == G_TYPE_BOOLEAN &&
                     json_node_get_boolean (terminal);
    return g_steal_pointer (&spec);
}

/* linux.resources: cpu quota/period rounded up to whole CPUs, the memory
 * limit rounded up to MiB; absent or unlimited leave the box's defaults. */
static void
read_resources (BlCtrSpec *spec, JsonObject *resources)
{
    JsonObject *cpu = bl_json_member_object (resources, "cpu");
    JsonObject *memory = bl_json_member_object (resources, "memory");
    gint64 quota = member_int (cpu, "quota"), period = member_int (cpu, "period");
    gint64 limit = member_int (memory, "limit");

    if (quota > 0 && period > 0)
        spec->cpus = (guint) MIN ((quota + period - 1) / period, 1024);
    if (limit > 0)
        spec->memory_mib = (guint) MIN ((limit + (1 << 20) - 1) >> 20, G_MAXUINT32);
}

static void
read_network (BlCtrSpec *spec, JsonObject *annotations)
{
    const char *allow = bl_json_member_string (annotations, ALLOW_NET_ANNOTATION);

    if (!allow || !*allow)
        return;
    if (g_str_equal (allow, "none")) {
        spec->network_off = TRUE;
        return;
    }
    g_auto (GStrv) parts = g_strsplit (allow, ",", MAX_ARGS);
    g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
    for (char **p = parts; *p; p++) {
        g_strstrip (*p);
        if (**p)
            g_strv_builder_add (builder, *p);
    }
    spec->allow_net = g_strv_builder_end (builder);
}

gboolean
bl_ctr_id_valid (const char *id)
{
    gsize len = strlen (id);

    return len && len <= BL_CTR_MAX_ID && id[0] != '.' &&
           strspn (id, "abcdefghijklmnopqrstuvwxyz"
                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == len;
}

/* The CRI's word on the container's place in a pod. The sandbox id names
 * folders and sockets: it must look like the ids the CRI makes. */
static gboolean
read_pod (BlCtrSpec *spec, JsonObject *annotations, GError **error)
{
    const char *type = bl_json_member_string (annotations, CONTAINER_TYPE_ANNOTATION);
    const char *sandbox = bl_json_member_string (annotations, SANDBOX_ID_ANNOTATION);

    if (!type)
        return TRUE;
    if (g_str_equal (type, "sandbox"))
        spec->pod_role = BL_CTR_POD_SANDBOX;
    else if (g_str_equal (type, "container"))
        spec->pod_role = BL_CTR_POD_CONTAINER;
    else {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT, "unknown %s '%.64s'",
                     CONTAINER_TYPE_ANNOTATION, type);
        return FALSE;
    }
    gsize len = sandbox ? strlen (sandbox) : 0;
    if (!len) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "a pod's container without %s", SANDBOX_ID_ANNOTATION);
        return FALSE;
    }
    if (!bl_ctr_id_valid (sandbox)) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "%s is not an id of at most %d letters, digits, '_', '.' or '-'",
                     SANDBOX_ID_ANNOTATION, BL_CTR_MAX_ID);
        return FALSE;
    }
    spec->sandbox_id = g_strdup (sandbox);
    return TRUE;
}

static JsonObject *
load_object (JsonParser *parser, const char *data, gsize len, const char *what, GError **error)
{
    JsonObject *obj = NULL;

    if (len > BL_CTR_MAX_SPEC)
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "%s is larger than %u bytes", what, BL_CTR_MAX_SPEC);
    else if (!(obj = bl_json_load_object (parser, data, len)))
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "%s is not a JSON object", what);
    return obj;
}

BlCtrSpec *
bl_ctr_spec_from_config (const char *bundle, GError **error)
{
    g_autofree char *path = g_build_filename (bundle, "config.json", NULL);
    g_autoptr (GMappedFile) map = g_mapped_file_new (path, FALSE, error);
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();

    if (!map)
        return NULL;
    JsonObject *root = load_object (parser, g_mapped_file_get_contents (map),
                                    g_mapped_file_get_length (map), path, error);
    if (!root)
        return NULL;
    BlCtrSpec *spec = spec_from_process (bl_json_member_object (root, "process"), error);
    if (!spec) {
        g_prefix_error (error, "%s: ", path);
        return NULL;
    }
    read_resources (spec,
                    bl_json_member_object (bl_json_member_object (root, "linux"), "resources"));
    read_network (spec, bl_json_member_object (root, "annotations"));
    if (!read_pod (spec, bl_json_member_object (root, "annotations"), error)) {
        g_prefix_error (error, "%s: ", path);
        bl_ctr_spec_free (spec);
        return NULL;
    }
    return spec;
}

char *
bl_ctr_group_of (const char *id, const char *bundle)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BlCtrSpec) spec = bundle ? bl_ctr_spec_from_config (bundle, &error) : NULL;

    /* A config that does not read is refused by Create, in the task's own
     * shim. */
    if (spec && spec->pod_role == BL_CTR_POD_CONTAINER)
        return g_strdup (spec->sandbox_id);
    return g_strdup (id);
}

BlCtrSpec *
bl_ctr_spec_from_process_json (const guint8 *data, gsize len, GError **error)
{
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();
    JsonObject *root = load_object (parser, (const char *) data, len, "the process spec", error);

    return root ? spec_from_process (root, error) : NULL;
}

void
bl_ctr_spec_free (BlCtrSpec *spec)
{
    if (!spec)
        return;
    g_strfreev (spec->argv);
    g_strfreev (spec->env);
    g_free (spec->cwd);
    g_free (spec->user);
    g_strfreev (spec->allow_net);
    g_free (spec->sandbox_id);
    g_free (spec);
}

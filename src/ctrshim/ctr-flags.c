/* ctr-flags.c: containerd's command line for shims, and the paths a task's
 * shim derives from it. */
#define G_LOG_DOMAIN "boxlite-ctr"

#include <string.h>

#include "ctr.h"

#define DEFAULT_ROOT "/var/lib/boxlite/containerd"

typedef struct {
    const char *name;
    gsize offset; /* of a char * in BlCtrFlags; 0 for -debug */
} FlagDef;

static const FlagDef flag_defs[] = {
    { "namespace", G_STRUCT_OFFSET (BlCtrFlags, namespace) },
    { "address", G_STRUCT_OFFSET (BlCtrFlags, address) },
    { "publish-binary", G_STRUCT_OFFSET (BlCtrFlags, publish_binary) },
    { "id", G_STRUCT_OFFSET (BlCtrFlags, id) },
    { "bundle", G_STRUCT_OFFSET (BlCtrFlags, bundle) },
    { "socket", G_STRUCT_OFFSET (BlCtrFlags, socket) },
    { "group", G_STRUCT_OFFSET (BlCtrFlags, group) },
};

static gboolean
flag_error (GError **error, const char *problem, const char *arg)
{
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s: %s", problem, arg);
    return FALSE;
}

/* Takes flags the way Go's flag package does (containerd's shims are
 * written with it): -name value, -name=value, or with two dashes, up to the
 * first argument that is not a flag, which is the action. */
gboolean
bl_ctr_flags_parse (BlCtrFlags *flags, int argc, char **argv, char **action, GError **error)
{
    int i = 1;

    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *name = argv[i] + (argv[i][1] == '-' ? 2 : 1);
        const char *eq = strchr (name, '=');
        g_autofree char *key = eq ? g_strndup (name, (gsize) (eq - name)) : g_strdup (name);

        if (g_str_equal (key, "debug") || g_str_equal (key, "v")) {
            flags->debug = flags->debug || g_str_equal (key, "debug");
            continue;
        }
        const FlagDef *def = NULL;
        for (gsize d = 0; d < G_N_ELEMENTS (flag_defs); d++)
            if (g_str_equal (key, flag_defs[d].name))
                def = &flag_defs[d];
        if (!def)
            return flag_error (error, "unknown flag", argv[i]);
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!value)
            return flag_error (error, "flag needs a value", argv[i]);
        char **field = G_STRUCT_MEMBER_P (flags, def->offset);
        g_free (*field);
        *field = g_strdup (value);
    }
    *action = g_strdup (i < argc ? argv[i] : "");
    return TRUE;
}

void
bl_ctr_flags_clear (BlCtrFlags *flags)
{
    for (gsize d = 0; d < G_N_ELEMENTS (flag_defs); d++)
        g_clear_pointer ((char **) G_STRUCT_MEMBER_P (flags, flag_defs[d].offset), g_free);
}

/* First 16 hex digits of the SHA-256 of @parts joined by '/'. */
static char *
short_hash (const char *a, const char *b, const char *c)
{
    g_autofree char *joined = g_strjoin ("/", a, b, c, NULL);
    g_autofree char *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, joined, -1);

    return g_strndup (sum, 16);
}

/* containerd keeps its shims' sockets in "s" beside its own socket; ours go
 * there too, named by a hash of the socket, namespace and id (the pod's, for
 * its containers: they share one shim). */
char *
bl_ctr_socket_path (const BlCtrFlags *flags)
{
    g_autofree char *dir = g_path_get_dirname (flags->address);
    g_autofree char *hash =
        short_hash (flags->address, flags->namespace, flags->group ? flags->group : flags->id);

    return g_build_filename (dir, "s", hash, NULL);
}

char *
bl_ctr_home_path (const BlCtrFlags *flags)
{
    const char *root = g_getenv ("BOXLITE_CTR_ROOT");
    g_autofree char *hash =
        short_hash ("", flags->namespace, flags->group ? flags->group : flags->id);

    return g_build_filename (root && *root ? root : DEFAULT_ROOT, hash, NULL);
}

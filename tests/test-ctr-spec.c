/* test-ctr-spec.c: what containerd-shim-boxlite-v2 takes from containerd's
 * flags, a bundle's config.json and an Exec's process spec: the fields a box
 * honours, and a clear refusal of anything malformed, oversized or of the
 * wrong type. */
#include <glib/gstdio.h>

#include "ctr.h"
#include <boxlite/boxlite-error.h>

static char *
bundle_with (const char *config)
{
    g_autoptr (GError) error = NULL;
    char *dir = g_dir_make_tmp ("ctr-spec-XXXXXX", &error);
    g_assert_no_error (error);
    if (config) {
        g_autofree char *path = g_build_filename (dir, "config.json", NULL);
        g_assert_true (g_file_set_contents (path, config, -1, NULL));
    }
    return dir;
}

static void
remove_bundle (char *dir)
{
    g_autofree char *path = g_build_filename (dir, "config.json", NULL);
    g_unlink (path);
    g_rmdir (dir);
    g_free (dir);
}

static BlCtrSpec *
spec_of (const char *config, GError **error)
{
    char *dir = bundle_with (config);
    BlCtrSpec *spec = bl_ctr_spec_from_config (dir, error);
    remove_bundle (dir);
    return spec;
}

static void
test_config_fields (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BlCtrSpec) spec =
        spec_of ("{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":true,"
                 "\"user\":{\"uid\":1000,\"gid\":100},\"args\":[\"sh\",\"-c\",\"echo hi\"],"
                 "\"env\":[\"PATH=/bin\",\"A=b\"],\"cwd\":\"/work\"},"
                 "\"linux\":{\"resources\":{\"cpu\":{\"quota\":150000,\"period\":100000},"
                 "\"memory\":{\"limit\":314572801}}},"
                 "\"annotations\":{\"boxlite.io/allow-net\":\"example.com, *.debian.org,\"}}",
                 &error);

    g_assert_no_error (error);
    g_assert_cmpstrv (spec->argv, ((const char *const[]){ "sh", "-c", "echo hi", NULL }));
    g_assert_cmpstrv (spec->env, ((const char *const[]){ "PATH=/bin", "A=b", NULL }));
    g_assert_cmpstr (spec->cwd, ==, "/work");
    g_assert_cmpstr (spec->user, ==, "1000:100");
    g_assert_true (spec->terminal);
    /* 1.5 CPUs round up to 2; a byte over 300 MiB to 301 MiB. */
    g_assert_cmpuint (spec->cpus, ==, 2);
    g_assert_cmpuint (spec->memory_mib, ==, 301);
    g_assert_cmpstrv (spec->allow_net,
                      ((const char *const[]){ "example.com", "*.debian.org", NULL }));
    g_assert_false (spec->network_off);
}

static void
test_config_defaults (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BlCtrSpec) spec = spec_of ("{\"process\":{\"args\":[\"true\"]},"
                                          "\"annotations\":{\"boxlite.io/allow-net\":\"none\"}}",
                                          &error);

    g_assert_no_error (error);
    g_assert_cmpstr (spec->user, ==, "0:0");
    g_assert_null (spec->cwd);
    g_assert_cmpuint (spec->cpus, ==, 0);
    g_assert_cmpuint (spec->memory_mib, ==, 0);
    g_assert_true (spec->network_off);
    g_assert_null (spec->allow_net);
}

#define POD(type, sandbox)                                                                         \
    "{\"process\":{\"args\":[\"sh\"]},\"annotations\":{"                                           \
    "\"io.kubernetes.cri.container-type\":\"" type "\","                                           \
    "\"io.kubernetes.cri.sandbox-id\":\"" sandbox "\"}}"

/* What the CRI's annotations say of a container's pod. */
static void
test_config_pod (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BlCtrSpec) plain = spec_of ("{\"process\":{\"args\":[\"true\"]}}", &error);
    g_autoptr (BlCtrSpec) sandbox = spec_of (POD ("sandbox", "p-1_x.y"), &error);
    g_autoptr (BlCtrSpec) member = spec_of (POD ("container", "p-1_x.y"), &error);

    g_assert_no_error (error);
    g_assert_cmpint (plain->pod_role, ==, BL_CTR_POD_NONE);
    g_assert_null (plain->sandbox_id);
    g_assert_cmpint (sandbox->pod_role, ==, BL_CTR_POD_SANDBOX);
    g_assert_cmpstr (sandbox->sandbox_id, ==, "p-1_x.y");
    g_assert_cmpint (member->pod_role, ==, BL_CTR_POD_CONTAINER);
    g_assert_cmpstr (member->sandbox_id, ==, "p-1_x.y");

    /* Ids that name folders. */
    g_autofree char *longest = g_strnfill (BL_CTR_MAX_ID, 'a');
    g_autofree char *too_long = g_strnfill (BL_CTR_MAX_ID + 1, 'a');
    g_assert_true (bl_ctr_id_valid ("abc-1.2_3"));
    g_assert_true (bl_ctr_id_valid (longest));
    g_assert_false (bl_ctr_id_valid (too_long));
    g_assert_false (bl_ctr_id_valid (".."));
    g_assert_false (bl_ctr_id_valid ("."));
    g_assert_false (bl_ctr_id_valid (""));
    g_assert_false (bl_ctr_id_valid ("a/b"));
    g_assert_false (bl_ctr_id_valid ("a b"));

    /* Which shim serves a container: the pod's for a member only. */
    const struct {
        const char *config, *group;
    } groups[] = {
        { POD ("container", "pod9"), "pod9" },
        { POD ("sandbox", "pod9"), "c1" },
        { "{\"process\":{\"args\":[\"true\"]}}", "c1" },
        { POD ("container", "../x"), "c1" },
        { "not json", "c1" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS (groups); i++) {
        char *dir = bundle_with (groups[i].config);
        g_autofree char *group = bl_ctr_group_of ("c1", dir);
        remove_bundle (dir);
        g_assert_cmpstr (group, ==, groups[i].group);
    }
}

static void
test_config_refused (void)
{
    const struct {
        const char *config;
        const char *words;
    } cases[] = {
        { "", "not a JSON object" },
        { "[1,2]", "not a JSON object" },
        { "{\"process\":", "not a JSON object" },
        { "{}", "has no process" },
        { "{\"process\":{\"args\":[]}}", "process.args is empty" },
        { "{\"process\":{}}", "process.args is empty" },
        { "{\"process\":{\"args\":[\"sh\",1]}}", "process.args[1] is not a string" },
        { "{\"process\":{\"args\":[\"sh\"],\"env\":[null]}}", "process.env[0]" },
        { "{\"process\":{\"args\":[\"sh\"],\"cwd\":\"relative\"}}", "not an absolute path" },
        { "{\"process\":{\"args\":[\"sh\"],\"user\":{\"uid\":-1}}}", "uid is not" },
        { "{\"process\":{\"args\":[\"sh\"],\"user\":{\"uid\":4294967296}}}", "uid is not" },
        { "{\"process\":{\"args\":[\"sh\"],\"user\":{\"gid\":\"0\"}}}", "gid is not" },
        /* The sandbox id names the pod's socket and home folder. */
        { POD ("container", "../../etc"), "sandbox-id is not an id" },
        { POD ("container", ".hidden"), "sandbox-id is not an id" },
        { POD ("container", "a/b"), "sandbox-id is not an id" },
        { POD ("container", ""), "without io.kubernetes.cri.sandbox-id" },
        { POD ("podsandbox", "p1"), "unknown io.kubernetes.cri.container-type" },
        { POD ("container", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                            "aaaaaaaaaaaaaaaaaaaaa"
                            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
          "sandbox-id is not an id" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_autoptr (GError) error = NULL;
        g_autoptr (BlCtrSpec) spec = spec_of (cases[i].config, &error);
        g_assert_null (spec);
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
        if (!strstr (error->message, cases[i].words))
            g_error ("case %zu: '%s' lacks '%s'", i, error->message, cases[i].words);
    }
}

static void
test_config_bounds (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GString) many = g_string_new ("{\"process\":{\"args\":[");
    for (guint i = 0; i <= 4096; i++)
        g_string_append (many, i ? ",\"a\"" : "\"a\"");
    g_string_append (many, "]}}");
    g_autoptr (BlCtrSpec) spec = spec_of (many->str, &error);
    g_assert_null (spec);
    g_assert_nonnull (strstr (error->message, "4097 entries"));
    g_clear_error (&error);

    /* Larger than the limit: refused before it is parsed. */
    g_autofree char *pad = g_strnfill (BL_CTR_MAX_SPEC, ' ');
    g_autofree char *big = g_strconcat ("{\"process\":{\"args\":[\"sh\"]}}", pad, NULL);
    g_assert_null (spec_of (big, &error));
    g_assert_nonnull (strstr (error->message, "larger than"));
    g_clear_error (&error);

    /* Nesting that would exhaust a recursive parser's stack. */
    g_autofree char *open = g_strnfill (100000, '[');
    g_autofree char *deep = g_strconcat ("{\"process\":{\"args\":", open, NULL);
    g_assert_null (spec_of (deep, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
    g_clear_error (&error);

    /* No config.json at all. */
    g_assert_null (spec_of (NULL, &error));
    g_assert_nonnull (error);
}

static void
test_exec_spec (void)
{
    g_autoptr (GError) error = NULL;
    const char *json = "{\"args\":[\"cat\",\"/etc/hostname\"],\"env\":[\"X=1\"],\"cwd\":\"/\","
                       "\"user\":{\"uid\":5}}";
    g_autoptr (BlCtrSpec) spec =
        bl_ctr_spec_from_process_json ((const guint8 *) json, strlen (json), &error);

    g_assert_no_error (error);
    g_assert_cmpstr (spec->argv[1], ==, "/etc/hostname");
    g_assert_cmpstr (spec->user, ==, "5:0");

    const char *garbage = "\xff\x00{";
    g_assert_null (bl_ctr_spec_from_process_json ((const guint8 *) garbage, 3, &error));
    g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
}

static void
test_flags (void)
{
    g_auto (BlCtrFlags) flags = { 0 };
    g_autofree char *action = NULL;
    g_autoptr (GError) error = NULL;
    char *argv[] = { "shim",
                     "-namespace",
                     "k8s.io",
                     "-address",
                     "/run/containerd/containerd.sock",
                     "--publish-binary=/usr/bin/containerd",
                     "-id",
                     "abc",
                     "-debug",
                     "start",
                     "ignored",
                     NULL };

    g_assert_true (bl_ctr_flags_parse (&flags, G_N_ELEMENTS (argv) - 1, argv, &action, &error));
    g_assert_cmpstr (action, ==, "start");
    g_assert_cmpstr (flags.namespace, ==, "k8s.io");
    g_assert_cmpstr (flags.publish_binary, ==, "/usr/bin/containerd");
    g_assert_cmpstr (flags.id, ==, "abc");
    g_assert_true (flags.debug);

    /* containerd's socket folder, a fixed-length name, the same each time. */
    g_autofree char *socket = bl_ctr_socket_path (&flags);
    g_autofree char *again = bl_ctr_socket_path (&flags);
    g_assert_true (g_str_has_prefix (socket, "/run/containerd/s/"));
    g_assert_cmpuint (strlen (socket), ==, strlen ("/run/containerd/s/") + 16);
    g_assert_cmpstr (socket, ==, again);
    g_setenv ("BOXLITE_CTR_ROOT", "/tmp/r", TRUE);
    g_autofree char *home = bl_ctr_home_path (&flags);
    g_assert_true (g_str_has_prefix (home, "/tmp/r/"));
    g_free (flags.id);
    flags.id = g_strdup ("abd");
    g_autofree char *other = bl_ctr_home_path (&flags);
    g_assert_cmpstr (home, !=, other);
}

static void
test_flags_refused (void)
{
    char *unknown[] = { "shim", "-nope", "x", "start", NULL };
    char *no_value[] = { "shim", "-id", NULL };

    g_auto (BlCtrFlags) a = { 0 };
    g_autofree char *action_a = NULL;
    g_autoptr (GError) error = NULL;
    g_assert_false (bl_ctr_flags_parse (&a, 4, unknown, &action_a, &error));
    g_assert_nonnull (strstr (error->message, "-nope"));
    g_clear_error (&error);

    g_auto (BlCtrFlags) b = { 0 };
    g_autofree char *action_b = NULL;
    g_assert_false (bl_ctr_flags_parse (&b, 2, no_value, &action_b, &error));
    g_assert_nonnull (strstr (error->message, "needs a value"));
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/ctr-spec/config-fields", test_config_fields);
    g_test_add_func ("/ctr-spec/config-defaults", test_config_defaults);
    g_test_add_func ("/ctr-spec/config-pod", test_config_pod);
    g_test_add_func ("/ctr-spec/config-refused", test_config_refused);
    g_test_add_func ("/ctr-spec/config-bounds", test_config_bounds);
    g_test_add_func ("/ctr-spec/exec-spec", test_exec_spec);
    g_test_add_func ("/ctr-spec/flags", test_flags);
    g_test_add_func ("/ctr-spec/flags-refused", test_flags_refused);
    return g_test_run ();
}

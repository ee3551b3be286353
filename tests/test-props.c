/* test-props.c: the public objects' GObject properties, as a binding or a
 * GtkBuilder-style caller uses them: every property round-trips through
 * g_object_set/get, ::notify fires once per real change and never for an
 * identical value, construction with properties works, and values the
 * setters refuse are refused through the properties too. */
#include <glib/gstdio.h>

#include "box-record.h"
#include "boxlite-private.h"
#include <boxlite/boxlite.h>

/* One property and a value for it that differs from the default. */
typedef struct {
    const char *name;
    GType type;
    const char *string;      /* G_TYPE_STRING */
    const char *const *strv; /* G_TYPE_STRV */
    guint uint;              /* G_TYPE_UINT */
    guint64 uint64;          /* G_TYPE_UINT64 */
    gboolean boolean;        /* G_TYPE_BOOLEAN */
    gint enum_value;         /* enums: @type is the enum's GType */
} PropCase;

static const char *const env_value[] = { "A=1", "B=two words", NULL };
static const char *const list_value[] = { "one", "two", NULL };

static void
prop_case_value (const PropCase *c, GValue *value)
{
    g_value_init (value, c->type);
    if (c->type == G_TYPE_STRING)
        g_value_set_string (value, c->string);
    else if (c->type == G_TYPE_STRV)
        g_value_set_boxed (value, c->strv);
    else if (c->type == G_TYPE_UINT)
        g_value_set_uint (value, c->uint);
    else if (c->type == G_TYPE_UINT64)
        g_value_set_uint64 (value, c->uint64);
    else if (c->type == G_TYPE_BOOLEAN)
        g_value_set_boolean (value, c->boolean);
    else if (G_TYPE_IS_ENUM (c->type))
        g_value_set_enum (value, c->enum_value);
    else
        g_assert_not_reached ();
}

static void
assert_values_equal (const GValue *a, const GValue *b)
{
    g_assert_true (G_VALUE_TYPE (a) == G_VALUE_TYPE (b));
    if (G_VALUE_HOLDS (a, G_TYPE_STRING))
        g_assert_cmpstr (g_value_get_string (a), ==, g_value_get_string (b));
    else if (G_VALUE_HOLDS (a, G_TYPE_STRV))
        g_assert_cmpstrv (g_value_get_boxed (a), g_value_get_boxed (b));
    else if (G_VALUE_HOLDS (a, G_TYPE_UINT))
        g_assert_cmpuint (g_value_get_uint (a), ==, g_value_get_uint (b));
    else if (G_VALUE_HOLDS (a, G_TYPE_UINT64))
        g_assert_cmpuint (g_value_get_uint64 (a), ==, g_value_get_uint64 (b));
    else if (G_VALUE_HOLDS (a, G_TYPE_BOOLEAN))
        g_assert_cmpint (g_value_get_boolean (a), ==, g_value_get_boolean (b));
    else if (G_VALUE_HOLDS_ENUM (a))
        g_assert_cmpint (g_value_get_enum (a), ==, g_value_get_enum (b));
    else
        g_assert_not_reached ();
}

static gboolean
values_equal (GParamSpec *pspec, const GValue *a, const GValue *b)
{
    if (G_VALUE_HOLDS (a, G_TYPE_STRV)) {
        const char *const *x = g_value_get_boxed (a), *const *y = g_value_get_boxed (b);
        return x == y || (x && y && g_strv_equal (x, y));
    }
    return g_param_values_cmp (pspec, a, b) == 0;
}

static void
count_notify (GObject *object, GParamSpec *pspec, gpointer user_data)
{
    (*(guint *) user_data)++;
}

/* Sets each case's value on @object and reads it back, counting ::notify;
 * then checks that the table covers every property of the class, so that a
 * new property without a case fails here. */
static void
check_cases (GObject *object, const PropCase *cases, guint n_cases)
{
    for (guint i = 0; i < n_cases; i++) {
        const PropCase *c = &cases[i];
        g_auto (GValue) value = G_VALUE_INIT;
        g_auto (GValue) back = G_VALUE_INIT;
        g_auto (GValue) before = G_VALUE_INIT;
        g_autofree char *signal = g_strconcat ("notify::", c->name, NULL);
        guint notified = 0;

        g_test_message ("property %s", c->name);
        GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (object), c->name);
        g_assert_nonnull (pspec);
        g_assert_true (pspec->value_type == c->type);

        prop_case_value (c, &value);
        g_value_init (&before, c->type);
        g_object_get_property (object, c->name, &before);
        /* The case's value must be a change, or the counts below mean nothing. */
        g_assert_false (values_equal (pspec, &before, &value));

        gulong id = g_signal_connect (object, signal, G_CALLBACK (count_notify), &notified);
        g_object_set_property (object, c->name, &value);
        g_assert_cmpuint (notified, ==, 1);

        g_value_init (&back, c->type);
        g_object_get_property (object, c->name, &back);
        assert_values_equal (&value, &back);

        /* The same value again is no change. */
        g_object_set_property (object, c->name, &value);
        g_assert_cmpuint (notified, ==, 1);

        /* Back to the default: a change again. */
        g_object_set_property (object, c->name, &before);
        g_assert_cmpuint (notified, ==, 2);
        g_signal_handler_disconnect (object, id);
    }

    guint n_props = 0;
    g_autofree GParamSpec **pspecs =
        g_object_class_list_properties (G_OBJECT_GET_CLASS (object), &n_props);
    for (guint i = 0; i < n_props; i++) {
        gboolean covered = FALSE;
        if (!(pspecs[i]->flags & G_PARAM_WRITABLE) || (pspecs[i]->flags & G_PARAM_CONSTRUCT_ONLY))
            continue;
        for (guint j = 0; j < n_cases && !covered; j++)
            covered = g_str_equal (cases[j].name, pspecs[i]->name);
        if (!covered)
            g_error ("property %s has no test case", pspecs[i]->name);
        g_assert_true (pspecs[i]->flags & G_PARAM_EXPLICIT_NOTIFY);
    }
}

static void
test_options_properties (void)
{
    const PropCase cases[] = {
        { .name = "home-dir", .type = G_TYPE_STRING, .string = "/srv/boxes" },
        { .name = "image-registries", .type = G_TYPE_STRV, .strv = list_value },
        { .name = "hosts-file", .type = G_TYPE_STRING, .string = "/etc/hosts" },
        { .name = "image-max-bytes",
          .type = G_TYPE_UINT64,
          .uint64 = G_GUINT64_CONSTANT (1) << 40 },
        { .name = "image-max-entries", .type = G_TYPE_UINT64, .uint64 = 5000 },
    };
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();

    check_cases (G_OBJECT (options), cases, G_N_ELEMENTS (cases));
}

static void
test_box_options_properties (void)
{
    const PropCase cases[] = {
        { .name = "rootfs", .type = G_TYPE_STRING, .string = "/srv/rootfs.tar" },
        { .name = "image", .type = G_TYPE_STRING, .string = "alpine:3" },
        { .name = "cpus", .type = G_TYPE_UINT, .uint = 4 },
        { .name = "memory-mib", .type = G_TYPE_UINT, .uint = 2048 },
        { .name = "disk-size-gb", .type = G_TYPE_UINT, .uint = 20 },
        { .name = "max-processes", .type = G_TYPE_UINT, .uint = 256 },
        { .name = "env", .type = G_TYPE_STRV, .strv = env_value },
        { .name = "working-dir", .type = G_TYPE_STRING, .string = "/work" },
        { .name = "user", .type = G_TYPE_STRING, .string = "1000:1000" },
        { .name = "entrypoint", .type = G_TYPE_STRV, .strv = list_value },
        { .name = "cmd", .type = G_TYPE_STRV, .strv = list_value },
        { .name = "detach", .type = G_TYPE_BOOLEAN, .boolean = TRUE },
        { .name = "auto-remove", .type = G_TYPE_BOOLEAN, .boolean = TRUE },
        { .name = "fast-start", .type = G_TYPE_BOOLEAN, .boolean = FALSE },
        { .name = "auto-stop", .type = G_TYPE_UINT, .uint = 600 },
        { .name = "allow-net", .type = G_TYPE_STRV, .strv = list_value },
        { .name = "ports", .type = G_TYPE_STRV, .strv = list_value },
        { .name = "volumes", .type = G_TYPE_STRV, .strv = list_value },
        { .name = "network",
          .type = BOXLITE_TYPE_NETWORK_MODE,
          .enum_value = BOXLITE_NETWORK_DISABLED },
        { .name = "accel", .type = BOXLITE_TYPE_ACCEL, .enum_value = BOXLITE_ACCEL_TCG },
    };
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();

    check_cases (G_OBJECT (options), cases, G_N_ELEMENTS (cases));
}

static void
test_command_properties (void)
{
    const PropCase cases[] = {
        { .name = "env", .type = G_TYPE_STRV, .strv = env_value },
        { .name = "working-dir", .type = G_TYPE_STRING, .string = "/tmp" },
        { .name = "root-dir", .type = G_TYPE_STRING, .string = "/var/lib/c1" },
        { .name = "root-base-dir", .type = G_TYPE_STRING, .string = "/run/share/c1" },
        { .name = "user", .type = G_TYPE_STRING, .string = "nobody" },
        { .name = "timeout-ms", .type = G_TYPE_UINT, .uint = 1500 },
        { .name = "stdin", .type = G_TYPE_BOOLEAN, .boolean = TRUE },
        { .name = "tty", .type = G_TYPE_BOOLEAN, .boolean = TRUE },
        { .name = "tty-rows", .type = G_TYPE_UINT, .uint = 50 },
        { .name = "tty-cols", .type = G_TYPE_UINT, .uint = 200 },
    };
    const char *argv[] = { "echo", "hi", NULL };
    g_autoptr (BoxliteCommand) command = boxlite_command_new (argv);

    check_cases (G_OBJECT (command), cases, G_N_ELEMENTS (cases));
}

/* The C setters notify too (they are the one path), and only on change. */
static void
test_setters_notify (void)
{
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    const char *rules[] = { "example.com", NULL };
    const char *same[] = { "example.com", NULL };
    const char *empty[] = { NULL };
    guint cpus = 0, allow = 0, image = 0;

    g_signal_connect (options, "notify::cpus", G_CALLBACK (count_notify), &cpus);
    g_signal_connect (options, "notify::allow-net", G_CALLBACK (count_notify), &allow);
    g_signal_connect (options, "notify::image", G_CALLBACK (count_notify), &image);

    boxlite_box_options_set_cpus (options, 1); /* the default */
    g_assert_cmpuint (cpus, ==, 0);
    boxlite_box_options_set_cpus (options, 3);
    boxlite_box_options_set_cpus (options, 3);
    g_assert_cmpuint (cpus, ==, 1);

    boxlite_box_options_set_allow_net (options, rules);
    boxlite_box_options_set_allow_net (options, same); /* equal, another array */
    g_assert_cmpuint (allow, ==, 1);
    /* Empty is not NULL: the getter tells them apart, so it is a change. */
    boxlite_box_options_set_allow_net (options, empty);
    g_assert_cmpuint (allow, ==, 2);
    g_assert_nonnull (boxlite_box_options_get_allow_net (options));
    boxlite_box_options_set_allow_net (options, NULL);
    g_assert_cmpuint (allow, ==, 3);
    g_assert_null (boxlite_box_options_get_allow_net (options));

    boxlite_box_options_set_image (options, NULL); /* already NULL */
    g_assert_cmpuint (image, ==, 0);
    boxlite_box_options_set_image (options, "alpine");
    boxlite_box_options_set_image (options, "alpine");
    g_assert_cmpuint (image, ==, 1);

    /* One notification per property changed by a multi-property set. */
    cpus = image = 0;
    g_object_set (options, "cpus", 2, "image", "debian", "memory-mib", 512, NULL);
    g_assert_cmpuint (cpus, ==, 1);
    g_assert_cmpuint (image, ==, 1);
}

static void
test_construct_properties (void)
{
    const char *argv[] = { "ls", "-l", NULL };
    const char *env[] = { "X=1", NULL };
    g_autoptr (BoxliteBoxOptions) options =
        g_object_new (BOXLITE_TYPE_BOX_OPTIONS, "cpus", 2, "memory-mib", 1024, "network",
                      BOXLITE_NETWORK_DISABLED, "accel", BOXLITE_ACCEL_TCG, "env", env, NULL);
    g_autoptr (GError) error = NULL;

    g_assert_cmpuint (boxlite_box_options_get_cpus (options), ==, 2);
    g_assert_cmpuint (boxlite_box_options_get_memory_mib (options), ==, 1024);
    g_assert_cmpint (boxlite_box_options_get_network (options), ==, BOXLITE_NETWORK_DISABLED);
    g_assert_cmpint (boxlite_box_options_get_accel (options), ==, BOXLITE_ACCEL_TCG);
    g_assert_cmpstrv (boxlite_box_options_get_env (options), env);
    g_assert_true (boxlite_box_options_validate (options, &error));
    g_assert_no_error (error);

    /* Properties left out keep their defaults. */
    g_autoptr (BoxliteBoxOptions) defaults = g_object_new (BOXLITE_TYPE_BOX_OPTIONS, NULL);
    g_assert_cmpuint (boxlite_box_options_get_cpus (defaults), ==, 1);
    g_assert_cmpuint (boxlite_box_options_get_memory_mib (defaults), ==, 512);
    g_assert_cmpint (boxlite_box_options_get_network (defaults), ==, BOXLITE_NETWORK_ENABLED);

    g_autoptr (BoxliteOptions) runtime_options =
        g_object_new (BOXLITE_TYPE_OPTIONS, "home-dir", "/srv/boxlite", NULL);
    g_assert_cmpstr (boxlite_options_get_home_dir (runtime_options), ==, "/srv/boxlite");

    /* argv is construct-only: it is given here or through _new(). */
    g_autoptr (BoxliteCommand) command =
        g_object_new (BOXLITE_TYPE_COMMAND, "argv", argv, "timeout-ms", 250, "stdin", TRUE, NULL);
    g_assert_cmpstrv (boxlite_command_get_argv (command), argv);
    g_assert_cmpuint (boxlite_command_get_timeout_ms (command), ==, 250);
    g_assert_true (boxlite_command_get_stdin (command));
    g_auto (GStrv) got = NULL;
    g_object_get (command, "argv", &got, NULL);
    g_assert_cmpstrv (got, argv);

    GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (command), "argv");
    g_assert_true (pspec->flags & G_PARAM_CONSTRUCT_ONLY);
}

/* Values the setters refuse are refused through the properties as well.
 * Both ways are programmer errors that GLib reports as a critical or a
 * warning, so each case runs in a subprocess that must abort with it. */
typedef struct {
    const char *which;
    const char *stderr_pattern;
} InvalidCase;

static const InvalidCase invalid_cases[] = {
    { "setter-network", "*CRITICAL*boxlite_box_options_set_network*" },
    { "setter-accel", "*CRITICAL*boxlite_box_options_set_accel*" },
    { "property-network", "*WARNING*out of range for property 'network'*" },
    { "property-accel", "*WARNING*out of range for property 'accel'*" },
    { "command-no-argv", "*CRITICAL*argv must name a program*" },
    { "command-argv-later", "*WARNING*construct*argv*" },
};

static void
run_invalid_case (const char *which)
{
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    const char *argv[] = { "true", NULL };

    if (g_str_equal (which, "setter-network"))
        boxlite_box_options_set_network (options, (BoxliteNetworkMode) 7);
    else if (g_str_equal (which, "setter-accel"))
        boxlite_box_options_set_accel (options, (BoxliteAccel) 9);
    else if (g_str_equal (which, "property-network"))
        g_object_set (options, "network", 7, NULL);
    else if (g_str_equal (which, "property-accel"))
        g_object_set (options, "accel", 9, NULL);
    else if (g_str_equal (which, "command-no-argv"))
        g_object_unref (g_object_new (BOXLITE_TYPE_COMMAND, NULL));
    else if (g_str_equal (which, "command-argv-later")) {
        g_autoptr (BoxliteCommand) command = boxlite_command_new (argv);
        g_object_set (command, "argv", argv, NULL);
    }
}

static void
test_invalid_value (gconstpointer data)
{
    const InvalidCase *c = data;

    if (g_test_subprocess ()) {
        run_invalid_case (c->which);
        return;
    }
    g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed ();
    g_test_trap_assert_stderr (c->stderr_pattern);
}

/* Without the fatal log levels of a test, a refused value is reported and
 * the stored value stays what it was. */
static void
test_invalid_value_kept (void)
{
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();

    g_test_expect_message ("GLib-GObject", G_LOG_LEVEL_WARNING,
                           "*out of range for property 'network'*");
    g_object_set (options, "network", 7, NULL);
    g_test_assert_expected_messages ();
    g_assert_cmpint (boxlite_box_options_get_network (options), ==, BOXLITE_NETWORK_ENABLED);

    g_test_expect_message ("boxlite", G_LOG_LEVEL_CRITICAL, "*set_accel*");
    boxlite_box_options_set_accel (options, (BoxliteAccel) 9);
    g_test_assert_expected_messages ();
    g_assert_cmpint (boxlite_box_options_get_accel (options), ==, BOXLITE_ACCEL_AUTO);
}

/* A box's identity as read-only properties, next to its getters. */
static void
test_box_properties (void)
{
    g_autofree char *tmpl = g_build_filename (g_get_tmp_dir (), "boxlite-props-XXXXXX", NULL);
    g_autofree char *home = g_mkdtemp (g_steal_pointer (&tmpl));
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteOptions) options =
        g_object_new (BOXLITE_TYPE_OPTIONS, "home-dir", home, NULL);
    g_autoptr (BoxliteRuntime) runtime = boxlite_runtime_new (options, &error);
    g_assert_no_error (error);
    g_autoptr (BoxliteBoxOptions) box_options = boxlite_box_options_new ();
    g_autoptr (JsonNode) json = bl_box_options_to_json (box_options);
    BlRecord *record = bl_record_new ("0123456789abcdef0123456789abcdef", "web", json);
    g_autoptr (BoxliteBox) box = bl_box_new (runtime, home, record, box_options);

    g_autofree char *id = NULL, *name = NULL;
    g_autoptr (BoxliteBoxOptions) got_options = NULL;
    g_autoptr (BoxliteRuntime) got_runtime = NULL;
    g_object_get (box, "id", &id, "name", &name, "options", &got_options, "runtime", &got_runtime,
                  NULL);
    g_assert_cmpstr (id, ==, "0123456789abcdef0123456789abcdef");
    g_assert_cmpstr (id, ==, boxlite_box_get_id (box));
    g_assert_cmpstr (name, ==, "web");
    g_assert_true (got_options == box_options);
    g_assert_true (got_runtime == runtime);

    for (const char *const *p = (const char *const[]){ "id", "name", "options", "runtime", NULL };
         *p; p++) {
        GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (box), *p);
        g_assert_nonnull (pspec);
        g_assert_false (pspec->flags & G_PARAM_WRITABLE);
    }
    g_clear_object (&box);
    g_clear_object (&runtime);
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", home);
    g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL));
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/props/options", test_options_properties);
    g_test_add_func ("/props/box-options", test_box_options_properties);
    g_test_add_func ("/props/command", test_command_properties);
    g_test_add_func ("/props/setters-notify", test_setters_notify);
    g_test_add_func ("/props/construct", test_construct_properties);
    for (guint i = 0; i < G_N_ELEMENTS (invalid_cases); i++) {
        g_autofree char *path = g_strdup_printf ("/props/invalid/%s", invalid_cases[i].which);
        g_test_add_data_func (path, &invalid_cases[i], test_invalid_value);
    }
    g_test_add_func ("/props/invalid-kept", test_invalid_value_kept);
    g_test_add_func ("/props/box", test_box_properties);
    return g_test_run ();
}

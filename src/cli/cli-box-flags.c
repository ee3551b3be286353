/* cli-box-flags.c: the flags `run` and `create` share, and making a box
 * from them. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <errno.h>

#include "cli.h"

/**
 * cli_box_flags_entries:
 * @flags: where parsed values go
 * @extra: (nullable): the subcommand's own entries, terminated by an empty one
 *
 * Returns: (transfer full): @extra followed by the shared entries; free
 *   with g_free()
 */
GOptionEntry *
cli_box_flags_entries (CliBoxFlags *flags, const GOptionEntry *extra)
{
    const GOptionEntry shared[] = {
        { "env", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &flags->env,
          "Set an environment variable in the box", "KEY=VALUE" },
        { "workdir", 'w', 0, G_OPTION_ARG_STRING, &flags->working_dir,
          "Working directory of commands in the box", "DIR" },
        { "user", 'u', 0, G_OPTION_ARG_STRING, &flags->user, "User that runs commands in the box",
          "USER" },
        { "cpus", 0, 0, G_OPTION_ARG_STRING, &flags->cpus,
          "Number of virtual CPUs (default 1, at most the host's)", "N" },
        { "memory", 'm', 0, G_OPTION_ARG_STRING, &flags->memory,
          "Guest memory in MiB (suffixes m and g allowed; default 512)", "SIZE" },
        { "disk-size", 0, 0, G_OPTION_ARG_STRING, &flags->disk_size,
          "Size of the box's disk in GiB (default: the image's plus 2 GiB free)", "GIB" },
        { "pids-limit", 0, 0, G_OPTION_ARG_STRING, &flags->pids_limit,
          "Most processes the box's commands may have at once (default 4096)", "N" },
        { "name", 0, 0, G_OPTION_ARG_STRING, &flags->name, "Name of the box", "NAME" },
        { "accel", 0, 0, G_OPTION_ARG_STRING, &flags->accel,
          "QEMU accelerator: auto, kvm or tcg (default auto)", "ACCEL" },
        { "network", 0, 0, G_OPTION_ARG_STRING, &flags->network,
          "Network: default (on, filtered by any --allow-net) or none (no NIC at all)", "MODE" },
        { "allow-net", 0, 0, G_OPTION_ARG_STRING_ARRAY, &flags->allow_net,
          "Let the box reach this name, *.suffix, address or CIDR range (repeatable)", "RULE" },
        { "publish", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &flags->publish,
          "Forward a host port to the box (repeatable)", "[ADDR:]HOST:GUEST[/tcp|/udp]" },
        { "volume", 'v', 0, G_OPTION_ARG_STRING_ARRAY, &flags->volumes,
          "Share a host folder at a guest path, read-only with :ro (repeatable)",
          "HOST:GUEST[:ro]" },
        { "cold", 0, 0, G_OPTION_ARG_NONE, &flags->cold,
          "Boot the guest's kernel instead of starting from a VM template", NULL },
        { "auto-stop", 0, 0, G_OPTION_ARG_STRING, &flags->auto_stop,
          "Stop the box after this many seconds without a command, a copy or network traffic "
          "(default 0: never)",
          "SECONDS" },
        { NULL },
    };
    guint n_extra = 0;

    while (extra && extra[n_extra].long_name)
        n_extra++;
    GOptionEntry *all = g_new0 (GOptionEntry, n_extra + G_N_ELEMENTS (shared));
    for (guint i = 0; i < n_extra; i++)
        all[i] = extra[i];
    for (guint i = 0; i < G_N_ELEMENTS (shared); i++)
        all[n_extra + i] = shared[i];
    return all;
}

void
cli_box_flags_clear (CliBoxFlags *flags)
{
    g_clear_pointer (&flags->env, g_strfreev);
    g_clear_pointer (&flags->working_dir, g_free);
    g_clear_pointer (&flags->user, g_free);
    g_clear_pointer (&flags->cpus, g_free);
    g_clear_pointer (&flags->memory, g_free);
    g_clear_pointer (&flags->disk_size, g_free);
    g_clear_pointer (&flags->pids_limit, g_free);
    g_clear_pointer (&flags->name, g_free);
    g_clear_pointer (&flags->accel, g_free);
    g_clear_pointer (&flags->network, g_free);
    g_clear_pointer (&flags->allow_net, g_strfreev);
    g_clear_pointer (&flags->publish, g_strfreev);
    g_clear_pointer (&flags->volumes, g_strfreev);
    g_clear_pointer (&flags->auto_stop, g_free);
}

/* -v takes HOST relative to the current directory, as a shell user expects;
 * the box's monitor runs elsewhere, so it is made absolute here. */
static void
apply_volumes (CliBoxFlags *flags, BoxliteBoxOptions *options)
{
    g_autoptr (GPtrArray) specs = g_ptr_array_new_with_free_func (g_free);

    for (guint i = 0; flags->volumes && flags->volumes[i]; i++) {
        const char *spec = flags->volumes[i];
        const char *colon = strchr (spec, ':');
        if (colon && colon != spec && spec[0] != '/') {
            g_autofree char *host = g_strndup (spec, (gsize) (colon - spec));
            g_autofree char *absolute = g_canonicalize_filename (host, NULL);
            g_ptr_array_add (specs, g_strconcat (absolute, colon, NULL));
        } else {
            g_ptr_array_add (specs, g_strdup (spec));
        }
    }
    g_ptr_array_add (specs, NULL);
    if (flags->volumes)
        boxlite_box_options_set_volumes (options, (const char *const *) specs->pdata);
}

/* A count of at least @min in decimal digits only: no sign, so "-1" is not
 * read as a huge unsigned value, and nothing after it. */
static gboolean
parse_count (const char *flag, const char *text, guint min, guint *out, GError **error)
{
    guint64 value = 0;

    if (!g_ascii_string_to_unsigned (text, 10, min, G_MAXUINT, &value, NULL) ||
        !g_ascii_isdigit (text[0])) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "invalid %s '%s': give a whole number of at least %u", flag, text, min);
        return FALSE;
    }
    *out = (guint) value;
    return TRUE;
}

/* "512", "512m", "512MiB", "2g", "2G" → MiB. */
static gboolean
parse_memory (const char *text, guint *mib, GError **error)
{
    char *end = NULL;
    guint64 factor = 1;

    errno = 0;
    guint64 value = g_ascii_isdigit (text[0]) ? g_ascii_strtoull (text, &end, 10) : 0;
    gboolean ok = value > 0 && errno == 0;

    if (ok && *end) {
        if (g_ascii_strcasecmp (end, "g") == 0 || g_ascii_strcasecmp (end, "gib") == 0)
            factor = 1024;
        else if (g_ascii_strcasecmp (end, "m") != 0 && g_ascii_strcasecmp (end, "mib") != 0)
            ok = FALSE;
    }
    if (!ok || value > G_MAXUINT / factor) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "invalid --memory '%s': give MiB, as in 512 or 2g", text);
        return FALSE;
    }
    *mib = (guint) (value * factor);
    return TRUE;
}

static gboolean
parse_accel (const char *text, BoxliteAccel *accel, GError **error)
{
    static const struct {
        const char *name;
        BoxliteAccel accel;
    } names[] = {
        { "auto", BOXLITE_ACCEL_AUTO },
        { "kvm", BOXLITE_ACCEL_KVM },
        { "tcg", BOXLITE_ACCEL_TCG },
    };

    for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
        if (g_ascii_strcasecmp (text, names[i].name) == 0) {
            *accel = names[i].accel;
            return TRUE;
        }
    }
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                 "invalid --accel '%s': use auto, kvm or tcg", text);
    return FALSE;
}

/* --network, --allow-net and -p: the network is on (filtered by the
 * allowlist, if any) unless --network none turns it off. */
static gboolean
apply_network (CliBoxFlags *flags, BoxliteBoxOptions *options, GError **error)
{
    gboolean wants =
        (flags->allow_net && flags->allow_net[0]) || (flags->publish && flags->publish[0]);
    BoxliteNetworkMode mode = BOXLITE_NETWORK_ENABLED;

    if (flags->network && g_ascii_strcasecmp (flags->network, "default") == 0) {
        mode = BOXLITE_NETWORK_ENABLED;
    } else if (flags->network && g_ascii_strcasecmp (flags->network, "none") == 0) {
        if (wants) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                         "%s needs the network, but --network is none",
                         flags->publish && flags->publish[0] ? "-p/--publish" : "--allow-net");
            return FALSE;
        }
        mode = BOXLITE_NETWORK_DISABLED;
    } else if (flags->network) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "invalid --network '%s': use none or default", flags->network);
        return FALSE;
    }
    boxlite_box_options_set_network (options, mode);
    boxlite_box_options_set_allow_net (options, (const char *const *) flags->allow_net);
    boxlite_box_options_set_ports (options, (const char *const *) flags->publish);
    return TRUE;
}

/**
 * cli_box_flags_to_options:
 * @flags: parsed flags
 * @image: (nullable): a local rootfs directory or tarball (when that path
 *   exists) or an image reference; %NULL for the built-in default image
 * @command: (nullable): the box's command
 * @error: return location for a #GError
 *
 * Returns: (transfer full): options for a new box, or %NULL with @error set
 */
BoxliteBoxOptions *
cli_box_flags_to_options (CliBoxFlags *flags, const char *image, char **command, GError **error)
{
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();

    if (image && g_file_test (image, G_FILE_TEST_EXISTS)) {
        /* A local path: the box monitor does not run in our directory. */
        g_autofree char *path = g_canonicalize_filename (image, NULL);
        boxlite_box_options_set_rootfs (options, path);
    } else if (image) {
        /* An image reference, pulled if the store lacks it. */
        boxlite_box_options_set_image (options, image);
    }
    guint count = 0;
    if (flags->cpus) {
        if (!parse_count ("--cpus", flags->cpus, 1, &count, error))
            return NULL;
        boxlite_box_options_set_cpus (options, count);
    }
    if (flags->disk_size) {
        if (!parse_count ("--disk-size", flags->disk_size, 1, &count, error))
            return NULL;
        boxlite_box_options_set_disk_size_gb (options, count);
    }
    if (flags->pids_limit) {
        if (!parse_count ("--pids-limit", flags->pids_limit, 1, &count, error))
            return NULL;
        boxlite_box_options_set_max_processes (options, count);
    }
    if (flags->auto_stop) {
        if (!parse_count ("--auto-stop", flags->auto_stop, 0, &count, error))
            return NULL;
        boxlite_box_options_set_auto_stop (options, count);
    }
    if (flags->memory) {
        guint mib = 0;
        if (!parse_memory (flags->memory, &mib, error))
            return NULL;
        boxlite_box_options_set_memory_mib (options, mib);
    }
    if (flags->accel) {
        BoxliteAccel accel = BOXLITE_ACCEL_AUTO;
        if (!parse_accel (flags->accel, &accel, error))
            return NULL;
        boxlite_box_options_set_accel (options, accel);
    }
    if (!apply_network (flags, options, error))
        return NULL;
    if (flags->env)
        boxlite_box_options_set_env (options, (const char *const *) flags->env);
    if (flags->working_dir)
        boxlite_box_options_set_working_dir (options, flags->working_dir);
    if (flags->user)
        boxlite_box_options_set_user (options, flags->user);
    if (command)
        boxlite_box_options_set_cmd (options, (const char *const *) command);
    apply_volumes (flags, options);
    boxlite_box_options_set_fast_start (options, !flags->cold);
    if (!boxlite_box_options_validate (options, error))
        return NULL;
    return g_steal_pointer (&options);
}

/**
 * cli_create_box:
 * @cli: the invocation
 * @flags: parsed flags
 * @image: (nullable): the image argument, %NULL for the default image
 * @command: (nullable): the box's command
 * @detach: whether the box outlives this process
 * @auto_remove: whether the box is deleted once it stops
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the new box, not started, or %NULL with @error set
 */
BoxliteBox *
cli_create_box (CliContext *cli, CliBoxFlags *flags, const char *image, char **command,
                gboolean detach, gboolean auto_remove, GError **error)
{
    g_autoptr (BoxliteBoxOptions) options = cli_box_flags_to_options (flags, image, command, error);

    if (!options)
        return NULL;
    boxlite_box_options_set_detach (options, detach);
    boxlite_box_options_set_auto_remove (options, auto_remove);
    BoxliteRuntime *runtime = cli_runtime (cli, error);
    if (!runtime)
        return NULL;
    return boxlite_runtime_create (runtime, options, flags->name, NULL, error);
}

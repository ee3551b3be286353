/* cli-template.c: `boxlite template ls|prune|warm`: the VM templates boxes
 * start from (src/box/template.h). */
#define G_LOG_DOMAIN "boxlite-cli"

#include <json-glib/json-glib.h>
#include <stdio.h>

#include "cli.h"
#include "template.h"

static char *
templates_dir (CliContext *cli, GError **error)
{
    BoxliteRuntime *runtime = cli_runtime (cli, error);

    if (!runtime)
        return NULL;
    return g_build_filename (boxlite_runtime_get_home_dir (runtime), "templates", NULL);
}

/* The value of KEY= among the template's inputs, or "-". */
static const char *
input_value (GStrv lines, const char *key, char **slot)
{
    gsize key_len = strlen (key);

    for (guint i = 0; lines && lines[i]; i++) {
        if (g_str_has_prefix (lines[i], key) && lines[i][key_len] == '=') {
            g_free (*slot);
            *slot = g_strdup (lines[i] + key_len + 1);
            return *slot;
        }
    }
    return "-";
}

static gboolean
parse_none (const char *command_name, const char *summary, int argc, char **argv)
{
    const GOptionEntry entries[] = { { NULL } };
    g_auto (CliArgs) args = { NULL, NULL };

    if (!cli_args_parse (&args, command_name, "", summary, entries, FALSE, argc, argv))
        return FALSE;
    if (args.command || args.positional[0]) {
        cli_error ("%s takes no arguments", command_name);
        return FALSE;
    }
    return TRUE;
}

static int
cmd_ls (CliContext *cli, const char *command_name, int argc, char **argv)
{
    g_autoptr (GError) error = NULL;

    if (!parse_none (command_name,
                     "List the VM templates of this home: the guest each serves (CPUs, memory,\n"
                     "network device, volumes) and the memory its RAM file holds.",
                     argc, argv))
        return CLI_EXIT_FAILURE;
    g_autofree char *dir = templates_dir (cli, &error);
    g_autoptr (GPtrArray) list = dir ? bl_template_list (dir, &error) : NULL;
    if (!list)
        return cli_fail (error);
    printf ("%-14s %-5s %-8s %-4s %-8s %-10s %s\n", "TEMPLATE", "CPUS", "MEMORY", "NIC", "VOLUMES",
            "RAM USED", "STATE");
    for (guint i = 0; i < list->len; i++) {
        BlTemplateInfo *info = g_ptr_array_index (list, i);
        g_auto (GStrv) lines = info->inputs ? g_strsplit (info->inputs, "\n", -1) : NULL;
        g_autofree char *cpus = NULL, *memory = NULL, *nic = NULL, *volumes = NULL;
        g_autofree char *used = g_format_size_full (info->ram_disk_bytes, G_FORMAT_SIZE_IEC_UNITS);
        g_autofree char *mem = g_strdup_printf ("%sM", input_value (lines, "memory_mib", &memory));
        printf ("%-14.12s %-5s %-8s %-4s %-8s %-10s %s\n", info->key,
                input_value (lines, "cpus", &cpus), mem,
                g_strcmp0 (input_value (lines, "nic", &nic), "1") == 0 ? "yes" : "no",
                input_value (lines, "volumes", &volumes), used, info->valid ? "ready" : "broken");
    }
    return 0;
}

static int
cmd_prune (CliContext *cli, const char *command_name, int argc, char **argv)
{
    g_autoptr (GError) error = NULL;
    guint removed = 0;

    if (!parse_none (command_name,
                     "Remove every VM template of this home with its RAM file (boxes running\n"
                     "from one keep their copy; the next start makes it again), and the RAM\n"
                     "files of homes that are gone.",
                     argc, argv))
        return CLI_EXIT_FAILURE;
    g_autofree char *dir = templates_dir (cli, &error);
    if (!dir || !bl_template_prune (dir, &removed, &error))
        return cli_fail (error);
    printf ("removed %u template%s\n", removed, removed == 1 ? "" : "s");
    return 0;
}

/* A throw-away box with the given flags: its monitor makes the template
 * that fits it, if there is none, before it starts from it. */
static int
cmd_warm (CliContext *cli, const char *command_name, int argc, char **argv)
{
    g_auto (CliBoxFlags) flags = CLI_BOX_FLAGS_INIT;
    g_autofree GOptionEntry *entries = cli_box_flags_entries (&flags, NULL);
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;

    if (!cli_args_parse (&args, command_name, "[IMAGE]",
                         "Make the VM template that boxes created with these flags start from,\n"
                         "by starting and removing one such box.",
                         entries, FALSE, argc, argv))
        return CLI_EXIT_FAILURE;
    if (flags.cold) {
        cli_error ("%s makes a template; --cold makes none", command_name);
        return CLI_EXIT_FAILURE;
    }
    g_autoptr (BoxliteBox) box =
        cli_create_box (cli, &flags, args.positional[0], NULL, FALSE, TRUE, &error);
    if (!box)
        return cli_fail (error);
    gboolean ok = boxlite_box_start (box, NULL, &error);
    g_autofree char *record = ok ? boxlite_box_inspect (box, &error) : NULL;
    g_autoptr (GError) stop_error = NULL;
    if (ok && !boxlite_box_stop (box, TRUE, NULL, &stop_error))
        g_warning ("%s", stop_error->message);
    BoxliteRuntime *runtime = cli_runtime (cli, NULL);
    (void) boxlite_runtime_remove (runtime, boxlite_box_get_id (box), TRUE, NULL);
    if (!ok || !record)
        return cli_fail (error);
    g_autoptr (JsonNode) node = json_from_string (record, NULL);
    JsonObject *obj = node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
    const char *reason =
        obj ? json_object_get_string_member_with_default (obj, "start_reason", NULL) : NULL;
    if (reason) {
        cli_error ("no template could be made: %s", reason);
        return CLI_EXIT_FAILURE;
    }
    printf ("ready\n");
    return 0;
}

int
cli_cmd_template (CliContext *cli, int argc, char **argv)
{
    static const CliSubcommand commands[] = {
        { "ls", "template ls", cmd_ls, "List the VM templates boxes start from" },
        { "prune", "template prune", cmd_prune, "Remove every VM template and its RAM file" },
        { "warm", "template warm", cmd_warm, "Make the template boxes with these flags use" },
    };

    return cli_run_subcommand (cli, "template", "COMMAND", commands, G_N_ELEMENTS (commands), argc,
                               argv);
}

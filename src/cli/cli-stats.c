/* cli-stats.c: `boxlite stats`: what running boxes use, sampled every
 * second like the container tools' stats (or once with --no-stream). */
#define G_LOG_DOMAIN "boxlite-cli"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

#define SAMPLE_INTERVAL_US G_USEC_PER_SEC
#define SHORT_ID_LEN 12

/* One box followed, with its previous sample for the CPU rate. */
typedef struct {
    BoxliteBox *box;
    GVariant *last; /* a{sv}, or NULL before the first sample */
    gint64 last_us;
    gboolean gone; /* stopped or failed: no more samples */
} Followed;

static void
followed_free (gpointer p)
{
    Followed *f = p;

    g_clear_object (&f->box);
    g_clear_pointer (&f->last, g_variant_unref);
    g_free (f);
}

static guint64
get_t (GVariant *m, const char *key)
{
    guint64 v = 0;

    if (!m || !g_variant_lookup (m, key, "t", &v))
        return 0;
    return v;
}

/* CPU time of the box's host processes (VM, monitor, network). */
static guint64
cpu_ns (GVariant *m)
{
    return get_t (m, "qemu-cpu-ns") + get_t (m, "monitor-cpu-ns") + get_t (m, "net-cpu-ns");
}

/* The share of one host CPU the box used between two samples, in percent;
 * -1 without an earlier sample. */
static double
cpu_percent (Followed *f, GVariant *now, gint64 now_us)
{
    if (!f->last || now_us <= f->last_us)
        return -1;
    guint64 before = cpu_ns (f->last), after = cpu_ns (now);
    if (after < before)
        return 0;
    return (double) (after - before) * 100.0 / ((double) (now_us - f->last_us) * 1000.0);
}

/* "1.5 GiB", "300.0 MiB", "512 B": plain spaces, so that columns line up
 * and scripts can read them. */
static char *
size_text (guint64 bytes)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
    double value = (double) bytes;
    guint unit = 0;

    if (bytes < 1024)
        return g_strdup_printf ("%" G_GUINT64_FORMAT " B", bytes);
    value /= 1024;
    while (value >= 1024 && unit + 1 < G_N_ELEMENTS (units)) {
        value /= 1024;
        unit++;
    }
    return g_strdup_printf ("%.1f %s", value, units[unit]);
}

static void
print_header (void)
{
    printf ("%-12s  %-20s  %7s  %-23s  %-10s  %-21s  %-21s  %5s  %5s\n", "ID", "NAME", "CPU %",
            "MEM USAGE / LIMIT", "HOST MEM", "BLOCK I/O", "NET I/O", "PIDS", "LOAD");
}

static void
print_row (Followed *f, GVariant *m, double cpu)
{
    g_autofree char *short_id = g_strndup (boxlite_box_get_id (f->box), SHORT_ID_LEN);
    const char *name = boxlite_box_get_name (f->box);
    g_autofree char *cpu_text = cpu < 0 ? g_strdup ("-") : g_strdup_printf ("%.2f%%", cpu);
    g_autofree char *mem_used = size_text (get_t (m, "mem-used"));
    g_autofree char *mem_total = size_text (get_t (m, "mem-total"));
    g_autofree char *mem = g_variant_lookup_value (m, "mem-total", G_VARIANT_TYPE_UINT64)
                               ? g_strdup_printf ("%s / %s", mem_used, mem_total)
                               : g_strdup ("-");
    g_autofree char *host =
        size_text (get_t (m, "qemu-rss") + get_t (m, "monitor-rss") + get_t (m, "net-rss"));
    g_autofree char *rd = size_text (get_t (m, "disk-read-bytes"));
    g_autofree char *wr = size_text (get_t (m, "disk-write-bytes"));
    g_autofree char *block = g_strdup_printf ("%s / %s", rd, wr);
    g_autofree char *in = size_text (get_t (m, "net-bytes-in"));
    g_autofree char *out = size_text (get_t (m, "net-bytes-out"));
    g_autofree char *net = g_strdup_printf ("%s / %s", in, out);
    g_autofree char *pids = g_variant_lookup_value (m, "processes", G_VARIANT_TYPE_UINT64)
                                ? g_strdup_printf ("%" G_GUINT64_FORMAT, get_t (m, "processes"))
                                : g_strdup ("-");
    double load = 0;
    g_autofree char *load_text = g_variant_lookup (m, "load-1", "d", &load)
                                     ? g_strdup_printf ("%.2f", load)
                                     : g_strdup ("-");

    printf ("%-12s  %-20s  %7s  %-23s  %-10s  %-21s  %-21s  %5s  %5s\n", short_id,
            name ? name : "-", cpu_text, mem, host, block, net, pids, load_text);
}

/* One JSON object per box and sample: the library's figures, plus the box
 * and the CPU share (null before a second sample). */
static void
print_json (Followed *f, GVariant *m, double cpu)
{
    g_autoptr (JsonNode) node = json_gvariant_serialize (m);
    JsonObject *obj = json_node_get_object (node);
    const char *name = boxlite_box_get_name (f->box);

    json_object_set_string_member (obj, "id", boxlite_box_get_id (f->box));
    if (name)
        json_object_set_string_member (obj, "name", name);
    if (cpu < 0)
        json_object_set_null_member (obj, "cpu-percent");
    else
        json_object_set_double_member (obj, "cpu-percent", cpu);
    g_autofree char *text = json_to_string (node, FALSE);
    printf ("%s\n", text);
}

/* Takes a sample of every box still followed; FALSE when none is left. A
 * box that stopped is dropped; one whose figures were refused is reported
 * and dropped too (*@failed set). */
static gboolean
sample_all (GPtrArray *followed, gboolean print, gboolean json, gboolean *failed)
{
    gboolean any = FALSE;

    for (guint i = 0; i < followed->len; i++) {
        Followed *f = followed->pdata[i];
        g_autoptr (GError) error = NULL;

        if (f->gone)
            continue;
        g_autoptr (GVariant) m = boxlite_box_get_metrics (f->box, NULL, &error);
        gint64 now_us = g_get_monotonic_time ();
        if (!m) {
            f->gone = TRUE;
            if (!g_error_matches (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_STATE)) {
                cli_error ("%s", error->message);
                *failed = TRUE;
            }
            continue;
        }
        any = TRUE;
        if (print) {
            double cpu = cpu_percent (f, m, now_us);
            if (json)
                print_json (f, m, cpu);
            else
                print_row (f, m, cpu);
        }
        g_clear_pointer (&f->last, g_variant_unref);
        f->last = g_steal_pointer (&m);
        f->last_us = now_us;
    }
    return any;
}

static void
follow (GPtrArray *followed, BoxliteBox *box)
{
    Followed *f = g_new0 (Followed, 1);

    f->box = box;
    g_ptr_array_add (followed, f);
}

int
cli_cmd_stats (CliContext *cli, int argc, char **argv)
{
    gboolean no_stream = FALSE, json = FALSE, failed = FALSE;
    const GOptionEntry entries[] = {
        { "no-stream", 0, 0, G_OPTION_ARG_NONE, &no_stream,
          "Print one sample and exit instead of refreshing", NULL },
        { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object per box and sample",
          NULL },
        { NULL },
    };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) followed = g_ptr_array_new_with_free_func (followed_free);

    if (!cli_args_parse (&args, "stats", "[BOX...]",
                         "Show what running boxes use (all of them when none is named).", entries,
                         FALSE, argc, argv))
        return CLI_EXIT_FAILURE;
    BoxliteRuntime *runtime = cli_runtime (cli, &error);
    if (!runtime)
        return cli_fail (error);
    if (args.positional[0]) {
        for (char **p = args.positional; *p; p++) {
            BoxliteBox *box = cli_find_box (cli, *p, &error);
            if (!box)
                return cli_fail (error);
            follow (followed, box);
        }
    } else {
        GList *boxes = boxlite_runtime_list (runtime, &error);
        if (error) {
            g_list_free_full (boxes, g_object_unref);
            return cli_fail (error);
        }
        for (GList *l = boxes; l; l = l->next) {
            BoxliteBoxState state = boxlite_box_get_state (l->data);
            if (state == BOXLITE_BOX_STATE_RUNNING || state == BOXLITE_BOX_STATE_PAUSED)
                follow (followed, g_object_ref (l->data));
        }
        g_list_free_full (boxes, g_object_unref);
    }

    /* The first sample only starts the CPU clock: what is printed is the
     * rate over the interval after it. */
    gboolean any = sample_all (followed, FALSE, json, &failed);
    if (args.positional[0] && !any && !failed) {
        cli_error ("no box named is running");
        return CLI_EXIT_FAILURE;
    }
    gboolean tty = isatty (STDOUT_FILENO) && !json;
    while (any) {
        g_usleep (SAMPLE_INTERVAL_US);
        if (tty && !no_stream)
            fputs ("\033[H\033[2J", stdout); /* the table replaces the last one */
        if (!json)
            print_header ();
        any = sample_all (followed, TRUE, json, &failed);
        fflush (stdout);
        if (no_stream)
            break;
    }
    if (!args.positional[0] && followed->len == 0 && !json)
        print_header (); /* nothing runs: an empty table */
    return failed ? CLI_EXIT_FAILURE : 0;
}

/* cli-logs.c: `boxlite logs`: what a box's detached commands printed, or its
 * console; with -f, what they go on printing while the box runs. */
#define G_LOG_DOMAIN "boxlite-cli"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "main-log.h"

#define FOLLOW_INTERVAL_US (200 * 1000)

typedef struct {
    gboolean timestamps;
    gboolean at_line_start[3]; /* per stream */
} Printer;

static void
print_record (Printer *p, gint64 time_us, guint8 stream, const guint8 *data, gsize len)
{
    FILE *out = stream == BL_MAIN_LOG_STDERR ? stderr : stdout;

    if (!p->timestamps) {
        fwrite (data, 1, len, out);
        return;
    }
    g_autoptr (GDateTime) seconds = g_date_time_new_from_unix_utc (time_us / G_USEC_PER_SEC);
    g_autoptr (GDateTime) t = seconds ? g_date_time_add (seconds, time_us % G_USEC_PER_SEC) : NULL;
    g_autofree char *stamp = t ? g_date_time_format (t, "%Y-%m-%dT%H:%M:%S.%fZ ") : g_strdup ("? ");
    while (len > 0) {
        if (p->at_line_start[stream])
            fputs (stamp, out);
        const guint8 *nl = memchr (data, '\n', len);
        gsize n = nl ? (gsize) (nl - data) + 1 : len;
        fwrite (data, 1, n, out);
        p->at_line_start[stream] = nl != NULL;
        data += n;
        len -= n;
    }
}

static void
print_records (Printer *p, GVariant *records)
{
    GVariantIter iter;
    gint64 time_us;
    guint8 stream;
    GVariant *bytes;

    g_variant_iter_init (&iter, records);
    while (g_variant_iter_next (&iter, "(xy@ay)", &time_us, &stream, &bytes)) {
        gsize len;
        const guint8 *data = g_variant_get_fixed_array (bytes, &len, 1);
        print_record (p, time_us, stream <= 2 ? stream : 1, data, len);
        g_variant_unref (bytes);
    }
    fflush (stdout);
    fflush (stderr);
}

static gboolean
box_runs (BoxliteBox *box)
{
    if (!boxlite_box_refresh (box, NULL))
        return FALSE;
    BoxliteBoxState state = boxlite_box_get_state (box);
    return state == BOXLITE_BOX_STATE_RUNNING || state == BOXLITE_BOX_STATE_PAUSED;
}

/* TRUE when @path is no longer the file @fd reads (the monitor rotated it,
 * or made it since). */
static gboolean
moved_on (int fd, const char *path)
{
    struct stat a, b;

    if (stat (path, &b) < 0)
        return FALSE;
    return fd < 0 || fstat (fd, &a) < 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev;
}

static int
follow (BoxliteBox *box, const char *box_dir, Printer *p, int fd, guint64 offset)
{
    g_autofree char *path = g_build_filename (box_dir, BL_MAIN_LOG_NAME, NULL);

    for (;;) {
        gboolean running = box_runs (box);
        /* Read to the end of the file this descriptor holds, then, if the
         * monitor moved on to a new one, all of that. */
        for (;;) {
            g_autoptr (GError) error = NULL;
            gboolean moved = moved_on (fd, path);
            if (fd >= 0) {
                g_autoptr (GVariant) more = bl_main_log_read_more (fd, &offset, &error);
                if (!more) {
                    close (fd);
                    return cli_fail (error);
                }
                print_records (p, more);
            }
            if (!moved)
                break;
            if (fd >= 0)
                close (fd);
            fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
            offset = 0;
            if (fd < 0 && errno != ENOENT) {
                cli_error ("cannot open %s: %s", path, g_strerror (errno));
                return CLI_EXIT_FAILURE;
            }
        }
        if (!running)
            break;
        g_usleep (FOLLOW_INTERVAL_US);
    }
    if (fd >= 0)
        close (fd);
    return 0;
}

static int
print_console (const char *box_dir)
{
    const char *const names[] = { "console.log.1", "console.log" };

    for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
        g_autofree char *path = g_build_filename (box_dir, names[i], NULL);
        g_autofree char *text = NULL;
        gsize len = 0;
        g_autoptr (GError) error = NULL;
        if (!g_file_get_contents (path, &text, &len, &error)) {
            if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
                continue;
            return cli_fail (error);
        }
        fwrite (text, 1, len, stdout);
    }
    return 0;
}

/* Where the box keeps its files: the logs are read from there directly, so
 * that -f can follow one file across the monitor's rotations. */
static char *
box_dir_of (CliContext *cli, BoxliteBox *box)
{
    BoxliteRuntime *runtime = cli_runtime (cli, NULL);

    return g_build_filename (boxlite_runtime_get_home_dir (runtime), "boxes",
                             boxlite_box_get_id (box), NULL);
}

int
cli_cmd_logs (CliContext *cli, int argc, char **argv)
{
    gboolean follow_flag = FALSE, console = FALSE;
    Printer printer = { FALSE, { TRUE, TRUE, TRUE } };
    gint tail = -1;
    const GOptionEntry entries[] = {
        { "follow", 'f', 0, G_OPTION_ARG_NONE, &follow_flag,
          "Keep printing what is written while the box runs", NULL },
        { "tail", 'n', 0, G_OPTION_ARG_INT, &tail, "Print only the last N lines", "N" },
        { "timestamps", 't', 0, G_OPTION_ARG_NONE, &printer.timestamps,
          "Put the time it was written before each line", NULL },
        { "console", 0, 0, G_OPTION_ARG_NONE, &console,
          "Print the guest's console (kernel and agent messages) instead", NULL },
        { NULL },
    };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;

    if (!cli_args_parse (&args, "logs", "BOX",
                         "Print what the box's detached commands (run -d, exec -d) printed, "
                         "stdout to stdout and stderr to stderr, oldest first.",
                         entries, FALSE, argc, argv))
        return CLI_EXIT_FAILURE;
    if (args.command || !args.positional[0] || args.positional[1]) {
        cli_error ("logs needs one box (see 'boxlite logs --help')");
        return CLI_EXIT_FAILURE;
    }
    if (tail < -1) {
        cli_error ("--tail must be a number of lines, 0 or more");
        return CLI_EXIT_FAILURE;
    }
    g_autoptr (BoxliteBox) box = cli_find_box (cli, args.positional[0], &error);
    if (!box)
        return cli_fail (error);
    g_autofree char *box_dir = box_dir_of (cli, box);
    if (console) {
        if (follow_flag || tail >= 0 || printer.timestamps) {
            cli_error ("--console takes no other option");
            return CLI_EXIT_FAILURE;
        }
        return print_console (box_dir);
    }
    if (tail == 0 && !follow_flag)
        return 0;
    int fd = -1;
    guint64 offset = 0;
    /* --tail 0 with -f: only what comes next. */
    g_autoptr (GVariant) records = bl_main_log_read_follow (
        box_dir, tail > 0 ? (guint) tail : 0, follow_flag ? &fd : NULL, &offset, &error);
    if (!records)
        return cli_fail (error);
    if (tail != 0)
        print_records (&printer, records);
    if (!follow_flag)
        return 0;
    return follow (box, box_dir, &printer, fd, offset);
}

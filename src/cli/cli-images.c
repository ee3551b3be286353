/* cli-images.c: `boxlite pull`, `images`, `rmi`, `import` and the
 * `boxlite image` group (ls, pull, rm, inspect, prune, import). */
#define G_LOG_DOMAIN "boxlite-cli"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "image-ref.h"

#define SHORT_ID_LEN 12
#define BAR_WIDTH 30

/* "1.2MB", as the container tools print sizes (powers of 1000). */
static char *
human_size (guint64 bytes)
{
    static const char *const units[] = { "B", "kB", "MB", "GB", "TB" };
    double value = (double) bytes;
    guint unit = 0;

    while (value >= 1000 && unit + 1 < G_N_ELEMENTS (units)) {
        value /= 1000;
        unit++;
    }
    return unit == 0 ? g_strdup_printf ("%" G_GUINT64_FORMAT "B", bytes)
                     : g_strdup_printf ("%.3g%s", value, units[unit]);
}

/* Parses an image command's arguments, which must be @min to @max
 * positionals and no "--", and opens the runtime.
 * Returns: (transfer none): the runtime, or NULL with *@status set after
 * saying why (*@status is left alone on success). */
static BoxliteRuntime *
parse_image_command (CliContext *cli, CliArgs *args, const char *name, const char *parameters,
                     const char *summary, const GOptionEntry *entries, guint min, guint max,
                     int argc, char **argv, int *status)
{
    g_autoptr (GError) error = NULL;

    if (!cli_args_parse (args, name, parameters, summary, entries, FALSE, argc, argv)) {
        *status = CLI_EXIT_FAILURE;
        return NULL;
    }
    guint n = g_strv_length (args->positional);
    if (args->command || n < min || n > max) {
        cli_error ("wrong arguments; usage: boxlite %s %s (see 'boxlite %s --help')", name,
                   parameters, name);
        *status = CLI_EXIT_FAILURE;
        return NULL;
    }
    BoxliteRuntime *runtime = cli_runtime (cli, &error);
    if (!runtime)
        *status = cli_fail (error);
    return runtime;
}

/* ---- pull ---- */

typedef struct {
    gboolean tty;
    GPtrArray *digests; /* in the order they first reported */
    GHashTable *done;   /* digest -> guint64[2] {done, total} */
    guint drawn;        /* lines drawn last time (tty) */
    GMainLoop *loop;
    GAsyncResult *result;
} PullView;

static void
draw_bars (PullView *view)
{
    /* Back to the first line of the previous drawing, then redraw all. */
    if (view->drawn)
        fprintf (stderr, "\033[%uA", view->drawn);
    for (guint i = 0; i < view->digests->len; i++) {
        const char *digest = view->digests->pdata[i];
        guint64 *p = g_hash_table_lookup (view->done, digest);
        guint filled = p[1] ? (guint) (p[0] * BAR_WIDTH / p[1]) : BAR_WIDTH;
        g_autofree char *done = human_size (p[0]);
        g_autofree char *total = human_size (p[1]);
        char bar[BAR_WIDTH + 1];
        for (guint j = 0; j < BAR_WIDTH; j++)
            bar[j] = j < filled ? '=' : (j == filled ? '>' : ' ');
        bar[BAR_WIDTH] = '\0';
        fprintf (stderr, "\r%.19s  [%s]  %s / %s\033[K\n", digest + strlen ("sha256:"), bar, done,
                 total);
    }
    view->drawn = view->digests->len;
    fflush (stderr);
}

static void
on_pull_progress (G_GNUC_UNUSED BoxliteRuntime *runtime, const char *digest, guint64 done,
                  guint64 total, gpointer user_data)
{
    PullView *view = user_data;
    guint64 *p = g_hash_table_lookup (view->done, digest);
    gboolean was_done = p && p[0] >= p[1];

    if (!p) {
        p = g_new0 (guint64, 2);
        g_hash_table_insert (view->done, g_strdup (digest), p);
        g_ptr_array_add (view->digests, g_strdup (digest));
    }
    p[0] = done;
    p[1] = total;
    if (view->tty) {
        draw_bars (view);
    } else if (done >= total && !was_done) {
        g_autofree char *size = human_size (total);
        printf ("%s: fetched %s\n", digest, size);
        fflush (stdout);
    }
}

static void
on_pulled (G_GNUC_UNUSED GObject *source, GAsyncResult *result, gpointer user_data)
{
    PullView *view = user_data;

    view->result = g_object_ref (result);
    g_main_loop_quit (view->loop);
}

static int
pull_one (BoxliteRuntime *runtime, const char *reference, gboolean quiet)
{
    PullView view = { isatty (STDERR_FILENO) && !quiet,
                      g_ptr_array_new_with_free_func (g_free),
                      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free),
                      0,
                      g_main_loop_new (NULL, FALSE),
                      NULL };
    g_autoptr (GError) error = NULL;
    gulong handler = 0;

    if (!quiet)
        handler = g_signal_connect (runtime, "pull-progress", G_CALLBACK (on_pull_progress), &view);
    boxlite_runtime_pull_image_async (runtime, reference, NULL, on_pulled, &view);
    g_main_loop_run (view.loop);
    g_autoptr (BoxliteImage) image =
        boxlite_runtime_pull_image_finish (runtime, view.result, &error);
    if (handler)
        g_signal_handler_disconnect (runtime, handler);
    g_object_unref (view.result);
    g_main_loop_unref (view.loop);
    g_ptr_array_unref (view.digests);
    g_hash_table_unref (view.done);
    if (!image)
        return cli_fail (error);
    if (quiet) {
        printf ("%s\n", boxlite_image_get_reference (image));
    } else {
        printf ("Digest: %s\n", boxlite_image_get_digest (image));
        printf ("Pulled %s (image id %.12s)\n", boxlite_image_get_reference (image),
                boxlite_image_get_id (image) + strlen ("sha256:"));
    }
    return 0;
}

static int
cmd_pull (CliContext *cli, const char *name, int argc, char **argv)
{
    gboolean quiet = FALSE;
    const GOptionEntry entries[] = {
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print only the image's reference", NULL },
        { NULL },
    };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;
    int status = 0;
    BoxliteRuntime *runtime =
        parse_image_command (cli, &args, name, "IMAGE",
                             "Fetch an image from a registry into the store and unpack it.\n"
                             "Unqualified names are looked up on the --registry search entries, "
                             "then docker.io.",
                             entries, 1, 1, argc, argv, &status);
    if (!runtime)
        return status;
    return pull_one (runtime, args.positional[0], quiet);
}

/* ---- images ---- */

/* "alpine" and "latest" for docker.io/library/alpine:latest; the tag is
 * "<none>" for a reference by digest only. */
static void
split_reference (const char *reference, char **repository, char **tag)
{
    g_autoptr (BlImageRef) ref = bl_image_ref_parse (reference, NULL);

    if (!ref) {
        *repository = g_strdup (reference);
        *tag = g_strdup ("<none>");
        return;
    }
    const char *repo = ref->repository;
    if (g_str_equal (ref->registry, BL_IMAGE_REF_DEFAULT_REGISTRY)) {
        if (g_str_has_prefix (repo, "library/"))
            repo += strlen ("library/");
        *repository = g_strdup (repo);
    } else {
        *repository = g_strdup_printf ("%s/%s", ref->registry, repo);
    }
    *tag = g_strdup (ref->tag ? ref->tag : "<none>");
}

static void
print_image_row (BoxliteImage *image)
{
    g_autofree char *repository = NULL;
    g_autofree char *tag = NULL;
    g_autoptr (GDateTime) created_at = boxlite_image_get_created_at (image);
    g_autofree char *created = cli_relative_time (created_at);
    g_autofree char *size = human_size (boxlite_image_get_size (image));

    split_reference (boxlite_image_get_reference (image), &repository, &tag);
    printf ("%-40s  %-16s  %-12.12s  %-10s  %s\n", repository, tag,
            boxlite_image_get_id (image) + strlen ("sha256:"), size, created);
}

static int
cmd_images (CliContext *cli, const char *name, int argc, char **argv)
{
    gboolean quiet = FALSE;
    const GOptionEntry entries[] = {
        { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print full image ids only", NULL },
        { NULL },
    };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;
    int status = 0;
    BoxliteRuntime *runtime = parse_image_command (
        cli, &args, name, "", "List the images in the store.", entries, 0, 0, argc, argv, &status);
    if (!runtime)
        return status;
    GList *images = boxlite_runtime_list_images (runtime, &error);
    if (error) {
        g_list_free_full (images, g_object_unref);
        return cli_fail (error);
    }
    if (!quiet)
        printf ("%-40s  %-16s  %-12s  %-10s  %s\n", "REPOSITORY", "TAG", "IMAGE ID", "SIZE",
                "CREATED");
    for (GList *l = images; l; l = l->next) {
        if (quiet)
            printf ("%s\n", boxlite_image_get_id (l->data));
        else
            print_image_row (l->data);
    }
    g_list_free_full (images, g_object_unref);
    return 0;
}

/* ---- rmi, inspect, prune, import ---- */

static int
cmd_rmi (CliContext *cli, const char *name, int argc, char **argv)
{
    gboolean force = FALSE;
    const GOptionEntry entries[] = {
        { "force", 'f', 0, G_OPTION_ARG_NONE, &force,
          "Remove the image even while boxes use it (their disks stay until they are deleted)",
          NULL },
        { NULL },
    };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;
    int status = 0;
    BoxliteRuntime *runtime =
        parse_image_command (cli, &args, name, "IMAGE…",
                             "Remove images from the store. IMAGE is a reference, an image id or a "
                             "prefix of one.",
                             entries, 1, G_MAXUINT, argc, argv, &status);
    if (!runtime)
        return status;
    for (char **image = args.positional; *image; image++) {
        if (boxlite_runtime_remove_image (runtime, *image, force, &error)) {
            printf ("Untagged: %s\n", *image);
        } else {
            status = cli_fail (error);
            g_clear_error (&error);
        }
    }
    return status;
}

static int
cmd_inspect (CliContext *cli, const char *name, int argc, char **argv)
{
    const GOptionEntry entries[] = { { NULL } };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonArray) array = json_array_new ();
    int status = 0;

    BoxliteRuntime *runtime =
        parse_image_command (cli, &args, name, "IMAGE…", "Print what is known of images, as JSON.",
                             entries, 1, G_MAXUINT, argc, argv, &status);
    if (!runtime)
        return status;
    for (char **reference = args.positional; *reference; reference++) {
        g_autoptr (BoxliteImage) image =
            boxlite_runtime_inspect_image (runtime, *reference, &error);
        g_autofree char *json = image ? boxlite_image_to_json (image) : NULL;
        JsonNode *node = json ? json_from_string (json, &error) : NULL;
        if (node) {
            json_array_add_element (array, node);
        } else {
            status = cli_fail (error);
            g_clear_error (&error);
        }
    }
    g_autoptr (JsonNode) root = json_node_new (JSON_NODE_ARRAY);
    json_node_set_array (root, array);
    g_autofree char *text = json_to_string (root, TRUE);
    printf ("%s\n", text);
    return status;
}

static int
cmd_prune (CliContext *cli, const char *name, int argc, char **argv)
{
    const GOptionEntry entries[] = { { NULL } };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;
    guint64 reclaimed = 0;
    int status = 0;
    BoxliteRuntime *runtime =
        parse_image_command (cli, &args, name, "",
                             "Delete what no image in the store and no box uses: blobs, unpacked "
                             "root filesystems and disks.",
                             entries, 0, 0, argc, argv, &status);
    if (!runtime)
        return status;
    gint count = boxlite_runtime_prune_images (runtime, &reclaimed, &error);
    if (count < 0)
        return cli_fail (error);
    g_autofree char *size = human_size (reclaimed);
    printf ("Deleted %d items, reclaimed %s\n", count, size);
    return 0;
}

static int
cmd_import (CliContext *cli, const char *name, int argc, char **argv)
{
    const GOptionEntry entries[] = { { NULL } };
    g_auto (CliArgs) args = { NULL, NULL };
    g_autoptr (GError) error = NULL;
    int status = 0;
    BoxliteRuntime *runtime =
        parse_image_command (cli, &args, name, "DIR|TARBALL [REFERENCE]",
                             "Add an image from an OCI image layout directory, a `docker save` "
                             "tarball or an\noci-archive tarball. Without REFERENCE the name the "
                             "archive gives is used.",
                             entries, 1, 2, argc, argv, &status);
    if (!runtime)
        return status;
    g_autoptr (BoxliteImage) image = boxlite_runtime_import_image (
        runtime, args.positional[0], args.positional[1], NULL, &error);
    if (!image)
        return cli_fail (error);
    printf ("Imported %s (image id %.12s)\n", boxlite_image_get_reference (image),
            boxlite_image_get_id (image) + strlen ("sha256:"));
    return 0;
}

/* ---- entry points ---- */

int
cli_cmd_pull (CliContext *cli, int argc, char **argv)
{
    return cmd_pull (cli, "pull", argc, argv);
}

int
cli_cmd_images (CliContext *cli, int argc, char **argv)
{
    return cmd_images (cli, "images", argc, argv);
}

int
cli_cmd_rmi (CliContext *cli, int argc, char **argv)
{
    return cmd_rmi (cli, "rmi", argc, argv);
}

/* `boxlite import` takes box archives too; `boxlite image import` only images. */
int
cli_cmd_import (CliContext *cli, int argc, char **argv)
{
    if (cli_import_is_box (argc, argv))
        return cli_import_box (cli, argc, argv);
    return cmd_import (cli, "import", argc, argv);
}

/* `boxlite image COMMAND`: the same commands under the names podman uses. */
int
cli_cmd_image (CliContext *cli, int argc, char **argv)
{
    static const CliSubcommand commands[] = {
        { "ls", "image ls", cmd_images, "List images" },
        { "pull", "image pull", cmd_pull, "Fetch an image from a registry" },
        { "rm", "image rm", cmd_rmi, "Remove images" },
        { "inspect", "image inspect", cmd_inspect, "Print what is known of images, as JSON" },
        { "prune", "image prune", cmd_prune, "Delete blobs and disks nothing uses" },
        { "import", "image import", cmd_import, "Add an image from an OCI layout or a tarball" },
    };

    return cli_run_subcommand (cli, "image", "COMMAND [ARG…]", commands, G_N_ELEMENTS (commands),
                               argc, argv);
}

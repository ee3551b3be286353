/* bench-image.c: what images cost.
 *
 *  1. Creating a box from a cached image must not grow with the image: box
 *     create time for the "simple" image (~2 MB) against a big one.
 *  2. Pulling a ~100 MB multi-layer image from a registry on loopback
 *     against `skopeo copy docker://… dir:…` from the same registry: the
 *     registry client alone (fetch and verify), and a whole pull (fetch,
 *     verify, unpack, build the disk), each as a ratio to skopeo.
 *
 * Usage: bench-image [BIG_MB] [LAYERS]   (default 100 MB in 4 layers)
 */
#include <glib/gstdio.h>

#include "bench-util.h"
#include <boxlite/boxlite.h>
#include "registry-fixture.h"
#include "registry.h"

#define CREATE_RUNS 5
#define PULL_RUNS 3

static char *scratch;

static BoxliteRuntime *
open_runtime (const char *home)
{
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    GError *error = NULL;

    boxlite_options_set_home_dir (options, home);
    BoxliteRuntime *runtime = boxlite_runtime_new (options, &error);
    bench_check (error);
    return runtime;
}

static char *
make_layout (const char *name, const char *preset, const char *const *extra)
{
    g_autofree char *dir = g_build_filename (scratch, name, NULL);
    GError *error = NULL;
    g_autofree char *digest = bl_test_make_layout (dir, preset, extra, &error);

    bench_check (error);
    return g_steal_pointer (&dir);
}

/* Median seconds of boxlite_runtime_create() from the cached @reference. */
static double
create_time (BoxliteRuntime *runtime, const char *reference)
{
    g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (double));
    GError *error = NULL;

    for (guint i = 0; i < CREATE_RUNS; i++) {
        g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
        boxlite_box_options_set_image (options, reference);
        double start = bench_now ();
        g_autoptr (BoxliteBox) box = boxlite_runtime_create (runtime, options, NULL, NULL, &error);
        double elapsed = bench_now () - start;
        bench_check (error);
        g_array_append_val (times, elapsed);
        boxlite_runtime_remove (runtime, boxlite_box_get_id (box), TRUE, &error);
        bench_check (error);
    }
    return bench_median (times);
}

static void
bench_create (const char *big_mb, const char *layers)
{
    g_autofree char *home = g_build_filename (scratch, "create-home", NULL);
    g_autoptr (BoxliteRuntime) runtime = open_runtime (home);
    g_autofree char *simple = make_layout ("simple", "simple", NULL);
    const char *extra[] = { "--size-mb", big_mb, "--layers", layers, NULL };
    g_autofree char *big = make_layout ("big", "big", extra);
    GError *error = NULL;

    double start = bench_now ();
    g_autoptr (BoxliteImage) a =
        boxlite_runtime_import_image (runtime, simple, "simple:1", NULL, &error);
    bench_check (error);
    double import_simple = bench_now () - start;
    start = bench_now ();
    g_autoptr (BoxliteImage) b = boxlite_runtime_import_image (runtime, big, "big:1", NULL, &error);
    bench_check (error);
    double import_big = bench_now () - start;

    double t_simple = create_time (runtime, "simple:1");
    double t_big = create_time (runtime, "big:1");
    g_print ("import (verify, unpack, build disk): simple %.3f s, big (%s MB) %.3f s\n",
             import_simple, big_mb, import_big);
    g_print ("box create from a cached image (median of %d): simple %.1f ms, big %.1f ms, "
             "ratio big/simple %.2f\n",
             CREATE_RUNS, t_simple * 1000, t_big * 1000, t_big / t_simple);
}

static double
run_skopeo (BlTestRegistry *registry, const char *name_tag)
{
    g_autofree char *dest = g_build_filename (scratch, "skopeo-dir", NULL);
    g_autofree char *src = g_strdup_printf ("docker://%s/%s", registry->host, name_tag);
    g_autofree char *dest_arg = g_strdup_printf ("dir:%s", dest);
    const char *argv[] = { "skopeo", "copy", "-q", "--src-tls-verify=false", src, dest_arg, NULL };
    GError *error = NULL;

    bl_test_rm_rf (dest);
    double start = bench_now ();
    g_autoptr (GSubprocess) proc = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_NONE, &error);
    bench_check (error);
    g_subprocess_wait_check (proc, NULL, &error);
    bench_check (error);
    double elapsed = bench_now () - start;
    bl_test_rm_rf (dest);
    return elapsed;
}

/* The registry client alone, into an empty blob directory. */
static double
run_fetch (BlTestRegistry *registry, const char *name_tag)
{
    g_autofree char *blobs = g_build_filename (scratch, "fetch-blobs", NULL);
    g_autofree char *text = g_strdup_printf ("%s/%s", registry->host, name_tag);
    GError *error = NULL;
    g_autoptr (BlImageRef) ref = bl_image_ref_parse (text, &error);

    bench_check (error);
    bl_test_rm_rf (blobs);
    g_mkdir_with_parents (blobs, 0700);
    double start = bench_now ();
    g_autoptr (BlRegistryPull) pull =
        bl_registry_pull (ref, NULL, 0, blobs, NULL, NULL, NULL, &error);
    bench_check (error);
    double elapsed = bench_now () - start;
    bl_test_rm_rf (blobs);
    return elapsed;
}

/* A whole pull into a new home: fetch, verify, unpack, build the disk. */
static double
run_pull (BlTestRegistry *registry, const char *name_tag)
{
    g_autofree char *home = g_build_filename (scratch, "pull-home", NULL);
    g_autofree char *text = g_strdup_printf ("%s/%s", registry->host, name_tag);
    GError *error = NULL;

    bl_test_rm_rf (home);
    g_autoptr (BoxliteRuntime) runtime = open_runtime (home);
    double start = bench_now ();
    g_autoptr (BoxliteImage) image = boxlite_runtime_pull_image (runtime, text, NULL, &error);
    bench_check (error);
    double elapsed = bench_now () - start;
    g_clear_object (&runtime);
    bl_test_rm_rf (home);
    return elapsed;
}

static void
bench_pull (const char *big_mb, const char *layers)
{
    GError *error = NULL;
    g_autoptr (BlTestRegistry) registry = bl_test_registry_start (&error);
    bench_check (error);
    g_autofree char *big = g_build_filename (scratch, "big", NULL);
    bl_test_registry_push (registry, big, "bench/big:latest", &error);
    bench_check (error);
    g_autoptr (GArray) skopeo = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr (GArray) fetch = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr (GArray) pull = g_array_new (FALSE, FALSE, sizeof (double));

    /* Alternated, so that a slow moment of the machine hits all three. */
    for (guint i = 0; i < PULL_RUNS; i++) {
        double t = run_skopeo (registry, "bench/big:latest");
        g_array_append_val (skopeo, t);
        t = run_fetch (registry, "bench/big:latest");
        g_array_append_val (fetch, t);
        t = run_pull (registry, "bench/big:latest");
        g_array_append_val (pull, t);
    }
    double s = bench_median (skopeo), f = bench_median (fetch), p = bench_median (pull);
    g_print ("pull of %s MB in %s layers from a loopback registry (median of %d):\n", big_mb,
             layers, PULL_RUNS);
    g_print ("  skopeo copy docker:// dir:        %.3f s\n", s);
    g_print ("  registry client (fetch + verify): %.3f s  ratio %.2f\n", f, f / s);
    g_print ("  boxlite pull (+ unpack + disk):   %.3f s  ratio %.2f\n", p, p / s);
}

int
main (int argc, char **argv)
{
    const char *big_mb = argc > 1 ? argv[1] : "100";
    const char *layers = argc > 2 ? argv[2] : "4";
    GError *error = NULL;

    scratch = g_dir_make_tmp ("bench-image-XXXXXX", &error);
    bench_check (error);
    bench_create (big_mb, layers);
    bench_pull (big_mb, layers);
    bl_test_rm_rf (scratch);
    g_free (scratch);
    return 0;
}

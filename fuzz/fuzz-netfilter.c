/* fuzz-netfilter.c: the box network filter on arbitrary guest traffic.
 *
 * The input is a sequence of frames, each preceded by its length in two
 * big-endian bytes (the top bit set: a frame libslirp sends the guest, shown
 * to bl_net_filter_observe()), all fed to one filter (allowlist: allowed.test, which a
 * hosts override resolves, so no lookup leaves the process), so that state
 * carried between frames (connections held for inspection, remembered
 * answers) is exercised too. Built as a libFuzzer target with
 * -Dfuzzing=true (clang); test-netfilter replays mutated frames in every
 * test run. */
#include <glib/gstdio.h>
#include <stdlib.h>

#include "filter.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static guint64 emitted;

static void
count (const uint8_t *frame, size_t len, gpointer user_data)
{
    emitted += len;
}

static const char *
hosts_file (void)
{
    static char *path;

    if (!path) {
        g_autofree char *dir = g_dir_make_tmp ("boxlite-fuzz-XXXXXX", NULL);
        path = g_build_filename (dir, "hosts", NULL);
        if (!g_file_set_contents (path, "198.18.0.2 allowed.test\n", -1, NULL))
            abort ();
    }
    return path;
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
    const char *const rules[] = { "allowed.test", "198.18.0.0/15", NULL };
    g_autoptr (BlAllowlist) allowlist = bl_net_allowlist_new (rules, NULL);
    BlNetFilterConfig config = {
        .allowlist = allowlist,
        .hosts_path = hosts_file (),
        .to_guest = count,
        .to_slirp = count,
    };
    g_autoptr (BlNetFilter) filter = bl_net_filter_new (&config, NULL);

    if (!filter)
        abort ();
    while (size >= 2) {
        gboolean from_slirp = (data[0] & 0x80) != 0;
        size_t len = MIN ((size_t) ((data[0] & 0x7f) << 8 | data[1]), size - 2);
        if (from_slirp)
            bl_net_filter_observe (filter, data + 2, len);
        else
            bl_net_filter_frame (filter, data + 2, len);
        data += 2 + len;
        size -= 2 + len;
    }
    return 0;
}

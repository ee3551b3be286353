/* metrics.c: checking the monitor's answer to "stats".
 *
 * The host's figures are counts the monitor read from /proc and QEMU; they
 * are taken when they are unsigned integers and left out otherwise. The
 * guest's figures are the guest's word: root in the guest may say anything,
 * so one figure out of bounds or at odds with another refuses them all. */
#define G_LOG_DOMAIN "boxlite"

#include "metrics.h"

#include <boxlite/boxlite-error.h>

/* An unsigned integer member: TRUE with *@out set, FALSE when absent; -1
 * through @bad when present but not one. */
static gboolean
get_count (JsonObject *obj, const char *name, guint64 *out, gboolean *bad)
{
    JsonNode *node = json_object_get_member (obj, name);

    if (!node)
        return FALSE;
    if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64 ||
        json_node_get_int (node) < 0) {
        *bad = TRUE;
        return FALSE;
    }
    *out = (guint64) json_node_get_int (node);
    return TRUE;
}

static JsonObject *
get_object (JsonObject *obj, const char *name)
{
    JsonNode *node = obj ? json_object_get_member (obj, name) : NULL;

    return node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static void
add_host_count (GVariantDict *out, JsonObject *obj, const char *member, const char *key)
{
    guint64 v = 0;
    gboolean bad = FALSE;

    if (obj && get_count (obj, member, &v, &bad))
        g_variant_dict_insert (out, key, "t", v);
}

static void
add_host (JsonObject *reply, GVariantDict *out)
{
    static const char *const processes[] = { "qemu", "monitor", "net" };
    JsonObject *procs = get_object (reply, "processes");
    JsonObject *disk = get_object (reply, "disk");

    for (guint i = 0; i < G_N_ELEMENTS (processes); i++) {
        JsonObject *p = get_object (procs, processes[i]);
        g_autofree char *rss = g_strdup_printf ("%s-rss", processes[i]);
        g_autofree char *cpu = g_strdup_printf ("%s-cpu-ns", processes[i]);
        add_host_count (out, p, "rss", rss);
        add_host_count (out, p, "cpu_ns", cpu);
    }
    add_host_count (out, disk, "read_bytes", "disk-read-bytes");
    add_host_count (out, disk, "write_bytes", "disk-write-bytes");
    add_host_count (out, disk, "read_ops", "disk-read-ops");
    add_host_count (out, disk, "write_ops", "disk-write-ops");
}

static gboolean
refuse (GError **error, const char *what)
{
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                 "the guest's figures are refused: %s", what);
    return FALSE;
}

typedef struct {
    const char *member;
    guint64 value;
    gboolean present;
} GuestCount;

enum {
    MEM_TOTAL,
    MEM_AVAILABLE,
    LOAD1,
    LOAD5,
    LOAD15,
    PROCESSES,
    FS_TOTAL,
    FS_USED,
    FS_AVAILABLE,
    N_COUNTS
};

static gboolean
add_guest (JsonObject *guest, guint64 memory_max, GVariantDict *out, GError **error)
{
    GuestCount c[N_COUNTS] = {
        [MEM_TOTAL] = { "mem_total" },
        [MEM_AVAILABLE] = { "mem_available" },
        [LOAD1] = { "load1" },
        [LOAD5] = { "load5" },
        [LOAD15] = { "load15" },
        [PROCESSES] = { "processes" },
        [FS_TOTAL] = { "disk_total" },
        [FS_USED] = { "disk_used" },
        [FS_AVAILABLE] = { "disk_available" },
    };

    if (json_object_get_size (guest) > BL_METRICS_GUEST_MAX_MEMBERS)
        return refuse (error, "too many members");
    for (guint i = 0; i < N_COUNTS; i++) {
        gboolean bad = FALSE;
        c[i].present = get_count (guest, c[i].member, &c[i].value, &bad);
        if (bad) {
            g_autofree char *what =
                g_strdup_printf ("'%s' is not an unsigned integer", c[i].member);
            return refuse (error, what);
        }
    }
    /* Pairs stand or fall together: a total without its part says nothing. */
    if (c[MEM_TOTAL].present != c[MEM_AVAILABLE].present)
        return refuse (error, "memory total and available come together");
    if (c[MEM_TOTAL].present &&
        (c[MEM_TOTAL].value > memory_max || c[MEM_AVAILABLE].value > c[MEM_TOTAL].value))
        return refuse (error, "memory figures beyond the box's memory");
    if (c[FS_TOTAL].present != c[FS_USED].present || c[FS_TOTAL].present != c[FS_AVAILABLE].present)
        return refuse (error, "root filesystem figures come together");
    if (c[FS_TOTAL].present &&
        (c[FS_TOTAL].value > BL_METRICS_MAX_FS_BYTES || c[FS_USED].value > c[FS_TOTAL].value ||
         c[FS_AVAILABLE].value > c[FS_TOTAL].value))
        return refuse (error, "root filesystem figures out of bounds");
    for (guint i = LOAD1; i <= LOAD15; i++)
        if (c[i].present && c[i].value > BL_METRICS_MAX_LOAD_MILLI)
            return refuse (error, "load out of bounds");
    if (c[PROCESSES].present && c[PROCESSES].value > BL_METRICS_MAX_PROCESSES)
        return refuse (error, "process count out of bounds");

    if (c[MEM_TOTAL].present) {
        g_variant_dict_insert (out, "mem-total", "t", c[MEM_TOTAL].value);
        g_variant_dict_insert (out, "mem-available", "t", c[MEM_AVAILABLE].value);
        g_variant_dict_insert (out, "mem-used", "t", c[MEM_TOTAL].value - c[MEM_AVAILABLE].value);
    }
    static const char *const load_keys[] = { "load-1", "load-5", "load-15" };
    for (guint i = LOAD1; i <= LOAD15; i++)
        if (c[i].present)
            g_variant_dict_insert (out, load_keys[i - LOAD1], "d", (double) c[i].value / 1000.0);
    if (c[PROCESSES].present)
        g_variant_dict_insert (out, "processes", "t", c[PROCESSES].value);
    if (c[FS_TOTAL].present) {
        g_variant_dict_insert (out, "fs-total", "t", c[FS_TOTAL].value);
        g_variant_dict_insert (out, "fs-used", "t", c[FS_USED].value);
        g_variant_dict_insert (out, "fs-available", "t", c[FS_AVAILABLE].value);
    }
    return TRUE;
}

gboolean
bl_metrics_parse (JsonObject *reply, guint64 guest_memory_max, GVariantDict *out, GError **error)
{
    JsonNode *guest = json_object_get_member (reply, "guest");

    add_host (reply, out);
    if (!guest)
        return TRUE; /* the guest did not answer in time */
    if (!JSON_NODE_HOLDS_OBJECT (guest))
        return refuse (error, "not an object");
    return add_guest (json_node_get_object (guest), guest_memory_max, out, error);
}

/* metrics.h: a running box's figures, from the monitor's answer to "stats"
 * (bl_proto.h) into the values boxlite_box_get_metrics() gives. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The most members the guest's part may have: the agent sends ten. */
#define BL_METRICS_GUEST_MAX_MEMBERS 32
/* Bounds no honest guest reaches: a Linux pid space, a petabyte root
 * filesystem, a load of a million. */
#define BL_METRICS_MAX_PROCESSES 4194304
#define BL_METRICS_MAX_FS_BYTES (G_GUINT64_CONSTANT (1) << 50)
#define BL_METRICS_MAX_LOAD_MILLI G_GUINT64_CONSTANT (1000000000)

/* Adds the figures of @reply to @out (keys as documented at
 * boxlite_box_get_metrics()). The host's part comes from the monitor and
 * QEMU; the guest's ("guest") is hostile and must be wholly consistent:
 * every member it names an unsigned integer, memory available within the
 * total and the total within @guest_memory_max bytes (the box's memory), the
 * root filesystem's used and available bytes within its total, the load and
 * process count within the bounds above. Anything else refuses the whole
 * answer (BOXLITE_ERROR_PROTOCOL) rather than show a part of it.
 * Returns: FALSE with @error set when refused; @out may have some keys then. */
gboolean bl_metrics_parse (JsonObject *reply, guint64 guest_memory_max, GVariantDict *out,
                           GError **error);

G_END_DECLS

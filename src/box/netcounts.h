/* netcounts.h: the totals the box's network process keeps in
 * BOXDIR/net/netcounts.json (netfilter/audit.h), read by the library
 * (boxlite_box_get_net_counts(), the metrics) and by the monitor (whether
 * the network is busy, for auto_stop).
 *
 * The file is written by a process that parses what the guest sends and
 * runs under another user in a directory it owns: whatever is there is read
 * as hostile. A symlink, a FIFO or anything but a regular file of at most
 * BL_NET_COUNTS_MAX bytes is refused without waiting on it. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define BL_NET_COUNTS_NAME "netcounts.json"
/* Largest counts file read: one entry per event, verdict and reason. */
#define BL_NET_COUNTS_MAX (64u * 1024)

/* The counts of the box in @box_dir: an a{st} (floating reference sunk,
 * transfer full), empty when the network has not counted anything yet
 * (or the box has none). Entries that are not non-negative integers are
 * left out. NULL with @error set when the file is there but is not what
 * the network writes (BOXLITE_ERROR_PROTOCOL) or cannot be read
 * (G_IO_ERROR). */
GVariant *bl_net_counts_load (const char *box_dir, GError **error);

typedef struct {
    guint64 bytes_in;    /* bytes of frames delivered to the guest */
    guint64 bytes_out;   /* bytes of frames let out of the guest */
    guint64 connections; /* TCP and UDP flows let through */
    guint64 denied;      /* decisions that refused something */
} BlNetTotals;

/* Sums the a{st} @counts into @totals (each sum saturates at G_MAXUINT64). */
void bl_net_counts_total (GVariant *counts, BlNetTotals *totals);

G_END_DECLS

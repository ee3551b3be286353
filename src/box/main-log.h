/* main-log.h: the output of a box's detached commands, kept by its monitor.
 *
 * BOXDIR/main.log is a sequence of records, each a 16-byte header and the
 * bytes one output frame carried:
 *
 *   offset 0   "BLG"    magic
 *   offset 3   u8       stream: 1 stdout, 2 stderr
 *   offset 4   u32 BE   length of the data, <= BL_MAIN_LOG_RECORD_MAX
 *   offset 8   u64 BE   wall-clock time it arrived, microseconds since 1970
 *
 * The monitor moves main.log to main.log.1 (replacing the one before)
 * before a record would take it past BL_MAIN_LOG_MAX, so a record never
 * spans two files and the two files together hold the newest output. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define BL_MAIN_LOG_NAME "main.log"
#define BL_MAIN_LOG_OLD_NAME "main.log.1"
#define BL_MAIN_LOG_MAX (G_GUINT64_CONSTANT (1) << 20)
#define BL_MAIN_LOG_HEADER_SIZE 16
#define BL_MAIN_LOG_RECORD_MAX (64 * 1024)

typedef enum {
    BL_MAIN_LOG_STDOUT = 1,
    BL_MAIN_LOG_STDERR = 2,
} BlMainLogStream;

void bl_main_log_encode_header (guint8 out[BL_MAIN_LOG_HEADER_SIZE], BlMainLogStream stream,
                                guint32 len, gint64 time_us);

/* Called for each record, in order; return FALSE to stop. */
typedef gboolean (*BlMainLogFunc) (BlMainLogStream stream, gint64 time_us, const guint8 *data,
                                   gsize len, gpointer user_data);

/* Walks the whole records in @data. Returns how many bytes they took: a
 * record cut short at the end (the file is being written) is left for
 * later. A malformed header ends the walk with @error set. */
gsize bl_main_log_parse (const guint8 *data, gsize len, BlMainLogFunc func, gpointer user_data,
                         GError **error);

/* The records of main.log.1 then main.log in @box_dir, as a GVariant of type
 * a(xyay) (time, stream, data), keeping only the last @tail lines when
 * @tail is not 0. Missing files are no output. */
GVariant *bl_main_log_read (const char *box_dir, guint tail, GError **error);

/* As bl_main_log_read(), and also hands back the descriptor of main.log
 * (-1 when there is none yet) and how far its whole records went, for
 * bl_main_log_read_more(). */
GVariant *bl_main_log_read_follow (const char *box_dir, guint tail, int *fd, guint64 *offset,
                                   GError **error);
/* The whole records @fd holds past *@offset, moving *@offset past them. */
GVariant *bl_main_log_read_more (int fd, guint64 *offset, GError **error);

G_END_DECLS

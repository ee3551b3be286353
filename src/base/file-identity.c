/* file-identity.c: what names a file's version without reading it. */
#include "file-identity.h"

#include <stdint.h>

char *
bl_file_identity (const struct stat *st)
{
    return g_strdup_printf ("dev=%ju ino=%ju size=%jd mtime=%jd.%09ld ctime=%jd.%09ld",
                            (uintmax_t) st->st_dev, (uintmax_t) st->st_ino, (intmax_t) st->st_size,
                            (intmax_t) st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
                            (intmax_t) st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

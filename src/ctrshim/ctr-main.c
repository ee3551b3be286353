/* ctr-main.c: containerd-shim-boxlite-v2's entry: the flags, then `start`,
 * `delete` or the daemon `start` leaves behind. */
#define G_LOG_DOMAIN "boxlite-ctr"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctr.h"

static gboolean
check_required (const BlCtrFlags *flags, GError **error)
{
    const char *missing = !flags->namespace ? "-namespace"
                          : !flags->address ? "-address"
                          : !flags->id      ? "-id"
                                            : NULL;
    if (missing) {
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "%s is required", missing);
        return FALSE;
    }
    return TRUE;
}

int
main (int argc, char **argv)
{
    g_auto (BlCtrFlags) flags = { 0 };
    g_autofree char *action = NULL;
    g_autoptr (GError) error = NULL;

    setlocale (LC_ALL, "");
    if (!bl_ctr_flags_parse (&flags, argc, argv, &action, &error) ||
        !check_required (&flags, &error)) {
        fprintf (stderr, "containerd-shim-boxlite-v2: %s\n", error->message);
        return 2;
    }
    if (flags.debug)
        g_setenv ("G_MESSAGES_DEBUG", "boxlite-ctr", FALSE);
    if (g_str_equal (action, "start"))
        return bl_ctr_cmd_start (&flags);
    if (g_str_equal (action, "delete"))
        return bl_ctr_cmd_delete (&flags);
    if (g_str_equal (action, "serve") && flags.socket) {
        const char *fd_text = g_getenv ("BOXLITE_CTR_LISTEN_FD");
        int fd = fd_text ? atoi (fd_text) : -1;
        if (fd < 3) {
            fprintf (stderr, "containerd-shim-boxlite-v2: serve needs the socket `start` bound\n");
            return 2;
        }
        return bl_ctr_serve (&flags, fd);
    }
    fprintf (stderr, "containerd-shim-boxlite-v2: unknown action '%s' (start or delete)\n", action);
    return 2;
}

/* volume.c: parsing and checking `HOST:GUEST[:OPTIONS]` volume specs. */
#define G_LOG_DOMAIN "boxlite"

#include "volume.h"

#include <errno.h>
#include <sys/stat.h>

#include <boxlite/boxlite-error.h>

void
bl_volume_free (BlVolume *volume)
{
    if (!volume)
        return;
    g_free (volume->host);
    g_free (volume->guest);
    g_free (volume);
}

char *
bl_volume_format (const char *host, const char *guest, gboolean read_only)
{
    return g_strdup_printf ("%s:%s%s", host, guest, read_only ? ":ro" : "");
}

char *
bl_volume_tag (guint index)
{
    return g_strdup_printf ("boxlite%u", index);
}

static gboolean G_GNUC_PRINTF (3, 4)
    refuse (GError **error, const char *spec, const char *format, ...)
{
    va_list args;

    va_start (args, format);
    g_autofree char *why = g_strdup_vprintf (format, args);
    va_end (args);
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT, "volume '%s': %s", spec,
                 why);
    return FALSE;
}

/* A guest path the agent can make and mount on: absolute, not the root,
 * no '..' (which would make the mount point differ from what the caller
 * read), bounded, and no bytes that are not text. */
static gboolean
guest_path_valid (const char *spec, const char *path, GError **error)
{
    if (!g_path_is_absolute (path))
        return refuse (error, spec, "the guest path '%s' is not absolute", path);
    if (strlen (path) > BL_VOLUME_MAX_GUEST_PATH)
        return refuse (error, spec, "the guest path is longer than %d bytes",
                       BL_VOLUME_MAX_GUEST_PATH);
    g_auto (GStrv) parts = g_strsplit (path, "/", -1);
    gboolean has_name = FALSE;
    for (guint i = 0; parts[i]; i++) {
        if (g_str_equal (parts[i], ".."))
            return refuse (error, spec, "the guest path '%s' contains '..'", path);
        if (*parts[i] && !g_str_equal (parts[i], "."))
            has_name = TRUE;
    }
    if (!has_name)
        return refuse (error, spec, "the guest path cannot be '/'");
    for (const char *p = path; *p; p++) {
        if ((guchar) *p < 0x20 || *p == 0x7f)
            return refuse (error, spec, "the guest path holds a control character");
    }
    return TRUE;
}

BlVolume *
bl_volume_parse (const char *spec, GError **error)
{
    g_return_val_if_fail (spec != NULL, NULL);

    g_auto (GStrv) fields = g_strsplit (spec, ":", -1);
    guint n = g_strv_length (fields);
    g_autoptr (BlVolume) volume = g_new0 (BlVolume, 1);

    if (n < 2 || n > 3) {
        refuse (error, spec, "use HOST:GUEST or HOST:GUEST:ro (paths cannot contain ':')");
        return NULL;
    }
    /* An empty field is one empty option, refused as such. */
    g_auto (GStrv) options = n == 3 ? g_strsplit (fields[2], ",", -1) : g_new0 (char *, 1);
    if (n == 3 && !*fields[2]) {
        refuse (error, spec, "unknown option '': use ro, rw or owners");
        return NULL;
    }
    for (guint i = 0; options[i]; i++) {
        if (g_str_equal (options[i], "ro"))
            volume->read_only = TRUE;
        else if (g_str_equal (options[i], "owners"))
            volume->owners = TRUE;
        else if (!g_str_equal (options[i], "rw")) {
            refuse (error, spec, "unknown option '%s': use ro, rw or owners", options[i]);
            return NULL;
        }
    }
    /* What the guest would make with the host's owners and modes kept
     * (set-uid files, say) would be QEMU's user's on the host. */
    if (volume->owners && !volume->read_only) {
        refuse (error, spec, "owners is only for read-only volumes (ro,owners)");
        return NULL;
    }
    if (!g_path_is_absolute (fields[0])) {
        refuse (error, spec, "the host folder '%s' is not an absolute path", fields[0]);
        return NULL;
    }
    if (!guest_path_valid (spec, fields[1], error))
        return NULL;
    volume->host = g_strdup (fields[0]);
    volume->guest = g_canonicalize_filename (fields[1], "/");
    return g_steal_pointer (&volume);
}

static gboolean
host_folder_valid (const char *spec, const char *host, GError **error)
{
    struct stat st;

    if (stat (host, &st) < 0) {
        int saved = errno;
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "volume '%s': the host folder %s: %s", spec, host, g_strerror (saved));
        return FALSE;
    }
    if (!S_ISDIR (st.st_mode))
        return refuse (error, spec, "the host path %s is not a directory", host);
    return TRUE;
}

GPtrArray *
bl_volumes_parse (const char *const *specs, gboolean check_host, GError **error)
{
    g_autoptr (GPtrArray) volumes =
        g_ptr_array_new_with_free_func ((GDestroyNotify) bl_volume_free);

    if (specs && g_strv_length ((char **) specs) > BL_VOLUME_MAX) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                     "a box takes at most %d volumes", BL_VOLUME_MAX);
        return NULL;
    }
    for (guint i = 0; specs && specs[i]; i++) {
        g_autoptr (BlVolume) volume = bl_volume_parse (specs[i], error);
        if (!volume)
            return NULL;
        for (guint j = 0; j < volumes->len; j++) {
            BlVolume *other = g_ptr_array_index (volumes, j);
            if (g_str_equal (other->guest, volume->guest)) {
                refuse (error, specs[i], "the guest path %s is already a volume", volume->guest);
                return NULL;
            }
        }
        if (check_host && !host_folder_valid (specs[i], volume->host, error))
            return NULL;
        g_ptr_array_add (volumes, g_steal_pointer (&volume));
    }
    return g_steal_pointer (&volumes);
}

/* paths.c: where the parts a box is made of are found.
 *
 * Each part can be pointed at with an environment variable (for tests and
 * packagers); otherwise the build tree's copy is used when the library runs
 * from it, then the installed one.
 */
#define G_LOG_DOMAIN "boxlite"

#include <boxlite/boxlite-error.h>
#include "paths.h"
#include "config.h"

static char *
find_part (const char *what, const char *env, const char *const *candidates, GError **error)
{
    const char *value = g_getenv (env);

    if (value && *value) {
        if (!g_file_test (value, G_FILE_TEST_EXISTS)) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED, "%s: %s=%s does not exist",
                         what, env, value);
            return NULL;
        }
        return g_strdup (value);
    }
    for (guint i = 0; candidates[i]; i++) {
        if (g_file_test (candidates[i], G_FILE_TEST_EXISTS))
            return g_strdup (candidates[i]);
    }
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED,
                 "%s not found (looked at %s; set %s, or run scripts/setup.sh)", what,
                 candidates[0], env);
    return NULL;
}

static char *
find_program (const char *what, const char *env, const char *name, GError **error)
{
    const char *value = g_getenv (env);

    if (value && *value)
        return g_strdup (value);
    char *path = g_find_program_in_path (name);
    if (!path)
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED,
                     "%s (%s) is not installed; run scripts/setup.sh", what, name);
    return path;
}

char *
bl_path_qemu (GError **error)
{
    return find_program ("QEMU", "BOXLITE_QEMU", "qemu-system-x86_64", error);
}

char *
bl_path_qemu_img (GError **error)
{
    return find_program ("qemu-img", "BOXLITE_QEMU_IMG", "qemu-img", error);
}

char *
bl_path_kernel (GError **error)
{
    const char *const candidates[] = { BOXLITE_KERNEL_PATH, NULL };
    return find_part ("guest kernel", "BOXLITE_KERNEL", candidates, error);
}

char *
bl_path_agent (GError **error)
{
    const char *const candidates[] = { BOXLITE_BUILD_AGENT, BOXLITE_LIBEXECDIR "/boxlite-agent",
                                       NULL };
    return find_part ("guest agent", "BOXLITE_AGENT", candidates, error);
}

char *
bl_path_shim (GError **error)
{
    const char *const candidates[] = { BOXLITE_BUILD_SHIM, BOXLITE_LIBEXECDIR "/boxlite-shim",
                                       NULL };
    return find_part ("box monitor", "BOXLITE_SHIM", candidates, error);
}

char *
bl_path_net (GError **error)
{
    const char *const candidates[] = { BOXLITE_BUILD_NET, BOXLITE_LIBEXECDIR "/boxlite-net", NULL };
    return find_part ("box network process", "BOXLITE_NET", candidates, error);
}

char *
bl_path_default_image (GError **error)
{
    const char *const candidates[] = { BOXLITE_DEFAULT_IMAGE_PATH, BOXLITE_DEFAULT_IMAGE_OLD_PATH,
                                       NULL };
    return find_part ("default image", "BOXLITE_DEFAULT_IMAGE", candidates, error);
}

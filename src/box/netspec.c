/* netspec.c: port forward specs and allowlist rules, checked as text. */
#include "netspec.h"

#include <arpa/inet.h>
#include <string.h>

#include "allowlist.h"
#include <boxlite/boxlite-error.h>

static gboolean
parse_port (const char *text, guint16 *out)
{
    guint64 value = 0;

    if (!text || !*text || !g_ascii_isdigit (*text) ||
        !g_ascii_string_to_unsigned (text, 10, 1, 65535, &value, NULL))
        return FALSE;
    *out = (guint16) value;
    return TRUE;
}

static gboolean
parse_forward (const char *spec, BlPortForward *out)
{
    if (!spec || !*spec || strlen (spec) > 64)
        return FALSE;
    g_autofree char *copy = g_strdup (spec);
    char *slash = strchr (copy, '/');
    if (slash) {
        *slash = '\0';
        if (g_str_equal (slash + 1, "udp"))
            out->udp = TRUE;
        else if (!g_str_equal (slash + 1, "tcp"))
            return FALSE;
    }
    g_auto (GStrv) parts = g_strsplit (copy, ":", -1);
    guint n = g_strv_length (parts);
    const char *addr = BL_PORT_DEFAULT_HOST_ADDR;
    if (n == 3)
        addr = parts[0];
    else if (n != 2)
        return FALSE;
    struct in_addr in;
    if (strlen (addr) >= sizeof out->host_addr || inet_pton (AF_INET, addr, &in) != 1)
        return FALSE;
    if (!parse_port (parts[n - 2], &out->host_port) || !parse_port (parts[n - 1], &out->guest_port))
        return FALSE;
    g_strlcpy (out->host_addr, addr, sizeof out->host_addr);
    return TRUE;
}

gboolean
bl_port_forward_parse (const char *spec, BlPortForward *out, GError **error)
{
    g_return_val_if_fail (out != NULL, FALSE);
    memset (out, 0, sizeof *out);
    if (parse_forward (spec, out))
        return TRUE;
    memset (out, 0, sizeof *out);
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT,
                 "port forward '%s' is not [HOST_ADDR:]HOST_PORT:GUEST_PORT[/tcp|/udp] "
                 "with ports 1-65535",
                 spec ? spec : "(null)");
    return FALSE;
}

gboolean
bl_port_forwards_validate (const char *const *specs, GError **error)
{
    for (guint i = 0; specs && specs[i]; i++) {
        BlPortForward fwd;
        if (!bl_port_forward_parse (specs[i], &fwd, error))
            return FALSE;
    }
    return TRUE;
}

gboolean
bl_allow_net_validate (const char *const *rules, GError **error)
{
    g_autoptr (GError) local = NULL;
    g_autoptr (BlAllowlist) list = bl_net_allowlist_new (rules, &local);

    /* The filter's parser speaks GIO; to the caller a bad rule is a bad
     * argument of the box options, in the library's own domain. */
    if (!list) {
        g_set_error_literal (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT, local->message);
        return FALSE;
    }
    return TRUE;
}

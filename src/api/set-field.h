/* set-field.h: assignments that tell whether the value changed, so that a
 * setter emits ::notify only for a real change. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Replaces *@field by a copy of @value; FALSE (and nothing done) when they
 * are equal already. */
static inline gboolean
bl_set_str (char **field, const char *value)
{
    if (g_strcmp0 (*field, value) == 0)
        return FALSE;
    g_free (*field);
    *field = g_strdup (value);
    return TRUE;
}

/* The same for string vectors. NULL and an empty vector differ: getters
 * return what was set. */
static inline gboolean
bl_set_strv (GStrv *field, const char *const *value)
{
    if (*field == NULL && value == NULL)
        return FALSE;
    if (*field != NULL && value != NULL && g_strv_equal ((const char *const *) *field, value))
        return FALSE;
    g_strfreev (*field);
    *field = g_strdupv ((char **) value);
    return TRUE;
}

G_END_DECLS

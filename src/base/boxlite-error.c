#include <boxlite/boxlite-error.h>

/* Written out rather than G_DEFINE_QUARK: a formatter reads that macro's
 * first argument as a subtraction and spaces the quark's name apart. */
/**
 * boxlite_error_quark:
 *
 * Gives the quark of the #BOXLITE_ERROR domain; use the macro instead.
 *
 * Returns: the error domain's quark
 *
 * Since: 0.1
 */
GQuark
boxlite_error_quark (void)
{
    return g_quark_from_static_string ("boxlite-error-quark");
}

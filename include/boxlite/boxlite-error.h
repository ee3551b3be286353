/* boxlite-error.h: the library's error domain. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * BOXLITE_ERROR:
 *
 * Error domain of boxlite's own conditions. Errors in it have a
 * #BoxliteError code.
 *
 * The library reports in this domain what it finds itself: something not
 * found, an invalid argument or state, image content that fails its
 * checks, a box that crashed. Failures of the operating system are in
 * %G_IO_ERROR (with the errno's code), a cancelled operation is
 * %G_IO_ERROR_CANCELLED, and a failure of another library keeps that
 * library's domain. Each function's documentation names the domains it
 * can return.
 *
 * Since: 0.1
 */
#define BOXLITE_ERROR (boxlite_error_quark ())

/**
 * BoxliteError:
 * @BOXLITE_ERROR_FAILED: anything not listed below
 * @BOXLITE_ERROR_INVALID_ARGUMENT: an option or argument is invalid
 * @BOXLITE_ERROR_NOT_FOUND: no box has that id, id prefix or name
 * @BOXLITE_ERROR_AMBIGUOUS: an id prefix names more than one box
 * @BOXLITE_ERROR_EXISTS: a box with that name exists already
 * @BOXLITE_ERROR_INVALID_STATE: the box is not in a state that allows it
 * @BOXLITE_ERROR_COMMAND_NOT_FOUND: the command does not exist in the box
 * @BOXLITE_ERROR_PERMISSION_DENIED: the command exists but cannot be run
 * @BOXLITE_ERROR_PROTOCOL: the guest or the monitor sent something invalid
 * @BOXLITE_ERROR_BOOT_FAILED: the box did not come up
 * @BOXLITE_ERROR_CRASHED: the box died while it was being used
 * @BOXLITE_ERROR_TIMED_OUT: an operation did not finish in time
 * @BOXLITE_ERROR_IMAGE: the image or root filesystem itself is at fault
 *   (a blob that does not match its digest, an entry that would land
 *   outside the root, a document that is not what it claims)
 *
 * Error codes in the #BOXLITE_ERROR domain, for the library's own
 * conditions. Functions of the library also return errors of other
 * domains, unchanged but for context prefixed to the message:
 * %G_IO_ERROR for operating-system failures (a full disk is
 * %G_IO_ERROR_NO_SPACE) and for cancellation, and the domain of the
 * failing library otherwise (%G_TLS_ERROR from a registry connection,
 * %G_SPAWN_ERROR when a helper program cannot be started).
 *
 * Since: 0.1
 */
typedef enum {
    BOXLITE_ERROR_FAILED,
    BOXLITE_ERROR_INVALID_ARGUMENT,
    BOXLITE_ERROR_NOT_FOUND,
    BOXLITE_ERROR_AMBIGUOUS,
    BOXLITE_ERROR_EXISTS,
    BOXLITE_ERROR_INVALID_STATE,
    BOXLITE_ERROR_COMMAND_NOT_FOUND,
    BOXLITE_ERROR_PERMISSION_DENIED,
    BOXLITE_ERROR_PROTOCOL,
    BOXLITE_ERROR_BOOT_FAILED,
    BOXLITE_ERROR_CRASHED,
    BOXLITE_ERROR_TIMED_OUT,
    BOXLITE_ERROR_IMAGE,
} BoxliteError;

GQuark boxlite_error_quark (void);

G_END_DECLS

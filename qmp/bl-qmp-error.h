/* bl-qmp-error.h: the error domain of the QMP client.
 *
 * Errors QEMU reports for a command carry the code of their QMP error class
 * and QEMU's "desc" text as the message. The client adds two codes of its
 * own: the connection went away, or QEMU broke the protocol.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define BL_QMP_ERROR (bl_qmp_error_quark ())

/**
 * BlQmpError:
 * @BL_QMP_ERROR_GENERIC: QEMU's "GenericError", and any class this client
 *   does not know
 * @BL_QMP_ERROR_COMMAND_NOT_FOUND: "CommandNotFound"
 * @BL_QMP_ERROR_DEVICE_NOT_ACTIVE: "DeviceNotActive"
 * @BL_QMP_ERROR_DEVICE_NOT_FOUND: "DeviceNotFound"
 * @BL_QMP_ERROR_KVM_MISSING_CAP: "KVMMissingCap"
 * @BL_QMP_ERROR_DISCONNECTED: the connection is closed, or closed while the
 *   command was pending
 * @BL_QMP_ERROR_PROTOCOL: QEMU sent something that is not QMP (bad greeting,
 *   malformed JSON, a line over the size limit)
 */
typedef enum {
    BL_QMP_ERROR_GENERIC,
    BL_QMP_ERROR_COMMAND_NOT_FOUND,
    BL_QMP_ERROR_DEVICE_NOT_ACTIVE,
    BL_QMP_ERROR_DEVICE_NOT_FOUND,
    BL_QMP_ERROR_KVM_MISSING_CAP,
    BL_QMP_ERROR_DISCONNECTED,
    BL_QMP_ERROR_PROTOCOL,
} BlQmpError;

GQuark bl_qmp_error_quark (void);

/* Maps a QMP error class name to its code; unknown or NULL names give
 * BL_QMP_ERROR_GENERIC. */
BlQmpError bl_qmp_error_from_class (const char *error_class);

/* The QMP class name of @code, or NULL for the client's own codes
 * (DISCONNECTED, PROTOCOL). */
const char *bl_qmp_error_to_class (BlQmpError code);

G_END_DECLS

/* bl-qmp-error.c: QMP error classes to codes and back. */
#define G_LOG_DOMAIN "boxlite-qmp"

#include "bl-qmp-error.h"

/* Written out rather than G_DEFINE_QUARK: a formatter reads that macro's
 * first argument as a subtraction and spaces the quark's name apart. */
GQuark
bl_qmp_error_quark (void)
{
    return g_quark_from_static_string ("boxlite-qmp-error-quark");
}

static const struct {
    BlQmpError code;
    const char *name;
} error_classes[] = {
    { BL_QMP_ERROR_GENERIC, "GenericError" },
    { BL_QMP_ERROR_COMMAND_NOT_FOUND, "CommandNotFound" },
    { BL_QMP_ERROR_DEVICE_NOT_ACTIVE, "DeviceNotActive" },
    { BL_QMP_ERROR_DEVICE_NOT_FOUND, "DeviceNotFound" },
    { BL_QMP_ERROR_KVM_MISSING_CAP, "KVMMissingCap" },
};

BlQmpError
bl_qmp_error_from_class (const char *error_class)
{
    if (error_class == NULL)
        return BL_QMP_ERROR_GENERIC;
    for (gsize i = 0; i < G_N_ELEMENTS (error_classes); i++) {
        if (g_str_equal (error_classes[i].name, error_class))
            return error_classes[i].code;
    }
    return BL_QMP_ERROR_GENERIC;
}

const char *
bl_qmp_error_to_class (BlQmpError code)
{
    for (gsize i = 0; i < G_N_ELEMENTS (error_classes); i++) {
        if (error_classes[i].code == code)
            return error_classes[i].name;
    }
    return NULL;
}

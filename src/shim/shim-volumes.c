/* shim-volumes.c: a box's host folders, from the monitor's side.
 *
 * Before QEMU starts, the user QEMU will run as must be able to use each
 * folder (volume-access.c). Once the agent has answered "hello", the
 * monitor asks it to "mount" every volume at its guest path; only when it
 * has does the box count as started, so a mount that fails is a failed
 * start with the agent's reason, never a box with an empty folder.
 */
#define G_LOG_DOMAIN "boxlite-shim"

#include "shim.h"
#include "volume-access.h"
#include "volume.h"

/* The agent's reason is the guest's text: it is shown, but bounded. */
#define MAX_REASON 512

gboolean
shim_volumes_check (Shim *shim, GError **error)
{
    g_autoptr (GPtrArray) volumes =
        bl_volumes_parse ((const char *const *) shim->launch->volumes, FALSE, error);

    if (!volumes)
        return FALSE;
    for (guint i = 0; i < volumes->len; i++) {
        BlVolume *volume = g_ptr_array_index (volumes, i);
        if (!bl_volume_access_check (volume->host, volume->read_only, shim->launch->qemu_user,
                                     error))
            return FALSE;
    }
    return TRUE;
}

static JsonNode *
mount_arguments (GPtrArray *volumes)
{
    g_autoptr (JsonBuilder) b = json_builder_new ();

    json_builder_begin_object (b);
    json_builder_set_member_name (b, "volumes");
    json_builder_begin_array (b);
    for (guint i = 0; i < volumes->len; i++) {
        BlVolume *volume = g_ptr_array_index (volumes, i);
        g_autofree char *tag = bl_volume_tag (i);
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "tag");
        json_builder_add_string_value (b, tag);
        json_builder_set_member_name (b, "path");
        json_builder_add_string_value (b, volume->guest);
        json_builder_set_member_name (b, "read_only");
        json_builder_add_boolean_value (b, volume->read_only);
        json_builder_end_object (b);
    }
    json_builder_end_array (b);
    json_builder_end_object (b);
    return json_builder_get_root (b);
}

void
shim_volumes_mount (Shim *shim)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) volumes =
        bl_volumes_parse ((const char *const *) shim->launch->volumes, FALSE, &error);

    if (!volumes) {
        shim_boot_failed (shim, error->message);
        return;
    }
    if (volumes->len == 0) {
        shim_booted (shim);
        return;
    }
    g_autoptr (JsonNode) args = mount_arguments (volumes);
    if (shim_agent_send_request (shim, 0, "mount", args))
        g_queue_push_tail (&shim->agent_replies, GINT_TO_POINTER (SHIM_AGENT_REPLY_MOUNT));
}

void
shim_volumes_mount_reply (Shim *shim, JsonObject *msg)
{
    JsonNode *err = json_object_get_member (msg, "error");

    if (err) {
        const char *desc = NULL;
        if (JSON_NODE_HOLDS_OBJECT (err))
            desc = json_object_get_string_member_with_default (json_node_get_object (err), "desc",
                                                               NULL);
        g_autofree char *reason = g_utf8_make_valid (desc ? desc : "no reason given", -1);
        if (g_utf8_strlen (reason, -1) > MAX_REASON)
            *g_utf8_offset_to_pointer (reason, MAX_REASON) = '\0';
        g_autofree char *message =
            g_strdup_printf ("the guest could not mount a volume: %s", reason);
        shim_boot_failed (shim, message);
        return;
    }
    JsonNode *ret = json_object_get_member (msg, "return");
    if (!ret || !JSON_NODE_HOLDS_OBJECT (ret)) {
        shim_agent_protocol_error (shim, "the reply to mount is not an object");
        return;
    }
    g_message ("guest agent mounted the volumes");
    shim_booted (shim);
}

/* shim-identity.c: the session request "identity" (bl_proto.h): what the
 * guest learns about its box before anything of the box runs. The same for
 * a cold boot and for a copy of a template, whose clock and random state
 * are the template's until this arrives. */
#define G_LOG_DOMAIN "boxlite-shim"

#include <sys/random.h>
#include <time.h>

#include "shim.h"

/* Bytes of the host's randomness the guest reseeds its generator with. */
#define IDENTITY_ENTROPY 64

static char *
entropy_hex (void)
{
    guint8 bytes[IDENTITY_ENTROPY];
    gsize got = 0;

    while (got < sizeof bytes) {
        ssize_t n = getrandom (bytes + got, sizeof bytes - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        got += (gsize) n;
    }
    GString *hex = g_string_sized_new (2 * sizeof bytes);
    for (gsize i = 0; i < sizeof bytes; i++)
        g_string_append_printf (hex, "%02x", bytes[i]);
    memset (bytes, 0, sizeof bytes);
    return g_string_free (hex, FALSE);
}

void
shim_identity_send (Shim *shim)
{
    BlLaunch *launch = shim->launch;
    g_autofree char *entropy = entropy_hex ();
    g_autoptr (JsonObject) args = json_object_new ();
    struct timespec now;

    if (!entropy) {
        shim_boot_failed (shim, "the host has no randomness to give the guest");
        return;
    }
    json_object_set_string_member (args, "hostname", launch->hostname);
    json_object_set_string_member (args, "box_id", launch->box_id);
    json_object_set_string_member (args, "entropy", entropy);
    json_object_set_boolean_member (args, "network", launch->network == BOXLITE_NETWORK_ENABLED);
    json_object_set_int_member (args, "pids_max", launch->max_processes);
    if (launch->template_role == BL_TEMPLATE_ROLE_CLONE)
        json_object_set_int_member (args, "disk_bytes", (gint64) shim->disk_bytes);
    /* Last, so that the guest's clock is set to a time as fresh as can be. */
    clock_gettime (CLOCK_REALTIME, &now);
    json_object_set_int_member (args, "time_ns",
                                (gint64) now.tv_sec * G_GINT64_CONSTANT (1000000000) + now.tv_nsec);
    g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), args);
    if (shim_agent_send_request (shim, 0, "identity", node))
        g_queue_push_tail (&shim->agent_replies, GINT_TO_POINTER (SHIM_AGENT_REPLY_IDENTITY));
    memset (entropy, 0, strlen (entropy));
}

void
shim_identity_reply (Shim *shim, JsonObject *msg)
{
    JsonNode *err = json_object_get_member (msg, "error");

    if (err || !json_object_has_member (msg, "return")) {
        const char *desc = err && JSON_NODE_HOLDS_OBJECT (err)
                               ? json_object_get_string_member_with_default (
                                     json_node_get_object (err), "desc", "")
                               : "no answer";
        g_autofree char *message =
            g_strdup_printf ("the guest agent refused its identity: %.200s", desc);
        shim_boot_failed (shim, message);
        return;
    }
    shim_volumes_mount (shim);
}

/* net-sandbox.h: what the network process gives up before it serves the
 * guest: its user (when root), every way to gain privileges back, and
 * every system call the network code does not need. */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* The user the network process runs as when started as root: boxlite-net
 * (scripts/setup.sh makes it), else nobody. FALSE with @error when the
 * system has neither. */
gboolean bl_net_sandbox_user (uid_t *uid, gid_t *gid, char **name, GError **error);

/* Drops to @uid/@gid with no supplementary groups and checks that root
 * cannot be had back. Only when the process runs as root. */
gboolean bl_net_sandbox_drop_user (uid_t uid, gid_t gid, GError **error);

/* Sets no_new_privs, makes the process undumpable and installs the system
 * call allowlist (anything else kills the process). Irreversible. */
gboolean bl_net_sandbox_seal (GError **error);

G_END_DECLS

/* boxlite-options.h: settings of a runtime.
 *
 * Image registries: each element of image-registries is one registry
 * entry, either a bare host ("quay.io", searched for unqualified image
 * names) or a JSON object:
 *   {"host": "registry.example:5000",
 *    "transport": "https" | "http",   (default: https, http on loopback)
 *    "skip_verify": false,            (accept any TLS certificate)
 *    "search": false,                 (try it for unqualified names)
 *    "auth": {"kind": "anonymous"} |
 *            {"kind": "basic", "username": "...", "password": "..."} |
 *            {"kind": "bearer", "token": "..."}}
 * The runtime also reads $BOXLITE_HOME/registries.json, a JSON array of
 * such entries (objects or host strings); for a host named in both, the
 * option wins. Unqualified names are tried on the search registries in
 * order, then on docker.io. Passwords and tokens never appear in logs or
 * error messages.
 *
 * Hosts file: a hosts(5)-style file ("ADDRESS NAME…" lines) whose names the
 * boxes' DNS answers from the file instead of the host's resolver, still
 * subject to each box's allowlist: a private name map, or a stand-in
 * internet for tests.
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define BOXLITE_TYPE_OPTIONS (boxlite_options_get_type ())
G_DECLARE_FINAL_TYPE (BoxliteOptions, boxlite_options, BOXLITE, OPTIONS, GObject)

BoxliteOptions *boxlite_options_new (void);

const char *boxlite_options_get_home_dir (BoxliteOptions *self);
void boxlite_options_set_home_dir (BoxliteOptions *self, const char *home_dir);

const char *const *boxlite_options_get_image_registries (BoxliteOptions *self);
void boxlite_options_set_image_registries (BoxliteOptions *self, const char *const *registries);

const char *boxlite_options_get_hosts_file (BoxliteOptions *self);
void boxlite_options_set_hosts_file (BoxliteOptions *self, const char *hosts_file);

gboolean boxlite_options_validate (BoxliteOptions *self, GError **error);

G_END_DECLS

/* cli-remote.h: what the files of `boxlite --host URL` share: one server,
 * its token, and calls of its API v1. */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "cli.h"

G_BEGIN_DECLS

/* The most a server takes as an upload, or sends as a download. */
#define CLI_REMOTE_MAX_FILE_BYTES (256u * 1024 * 1024)

typedef struct {
    SoupSession *session;
    char *base; /* without a trailing '/' */
    char *auth; /* "Bearer TOKEN" */
} CliRemote;

/* cli-remote.c */
SoupMessage *cli_remote_message (CliRemote *r, const char *method, const char *path,
                                 GError **error);
gboolean cli_remote_check (SoupMessage *msg, GBytes *body, GError **error);
JsonNode *cli_remote_call (CliRemote *r, const char *method, const char *path, const char *json,
                           GError **error);
char *cli_remote_escape (const char *segment);
JsonNode *cli_remote_member (JsonObject *obj, const char *name, GType type);

/* cli-remote-exec.c */
int cli_remote_exec_in (CliRemote *r, const char *box, char **command, gboolean forward_stdin,
                        gboolean tty);
int cli_remote_exec (CliRemote *r, char **args);
gboolean cli_remote_stream_flags (const char *arg, gboolean *interactive, gboolean *tty);

/* cli-remote-cp.c */
int cli_remote_cp (CliRemote *r, char **args);

G_END_DECLS

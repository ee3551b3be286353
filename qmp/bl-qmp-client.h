/* bl-qmp-client.h: an asynchronous client for QEMU's QMP monitor.
 *
 * One client speaks to one QEMU over a unix socket: it checks the greeting,
 * negotiates capabilities, sends each command with its own "id" and matches
 * replies by that id, so events may arrive in between. Events are emitted
 * as the "event" signal; the end of the connection, whoever caused it, as
 * "disconnected" (once).
 *
 * Threading: a client belongs to the GMainContext that was thread-default
 * when it was connected. Its I/O and signals run there, and it must be used
 * from the thread that owns that context. Callbacks of the _async calls run
 * on the thread-default context of the call, which should be the same one.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "bl-qmp-error.h"

G_BEGIN_DECLS

#define BL_TYPE_QMP_CLIENT (bl_qmp_client_get_type ())
G_DECLARE_FINAL_TYPE (BlQmpClient, bl_qmp_client, BL, QMP_CLIENT, GObject)

/**
 * bl_qmp_client_connect_async:
 * @socket_path: the path of QEMU's QMP unix socket
 * @cancellable: (nullable): cancels the whole handshake
 * @callback: called when the client is ready or has failed
 * @user_data: passed to @callback
 *
 * Connects, reads and checks the greeting, and sends "qmp_capabilities".
 */
void bl_qmp_client_connect_async (const char *socket_path, GCancellable *cancellable,
                                  GAsyncReadyCallback callback, gpointer user_data);

/**
 * bl_qmp_client_connect_finish:
 * Returns: (transfer full) (nullable): a ready client, or NULL with @error set
 */
BlQmpClient *bl_qmp_client_connect_finish (GAsyncResult *result, GError **error);

/**
 * bl_qmp_client_connect_sync:
 *
 * Like bl_qmp_client_connect_async(), blocking. The client then belongs to
 * a private GMainContext that only the _sync calls iterate: use such a
 * client with the _sync calls, and expect its signals during those calls.
 *
 * Returns: (transfer full) (nullable): a ready client, or NULL with @error set
 */
BlQmpClient *bl_qmp_client_connect_sync (const char *socket_path, GCancellable *cancellable,
                                         GError **error);

/**
 * bl_qmp_client_execute_async:
 * @self: a connected client
 * @command: the QMP command, such as "query-status"
 * @arguments: (nullable): its "arguments" object; not modified
 * @cancellable: (nullable): stops waiting for the reply (QEMU may still run
 *   the command)
 * @callback: called with the reply
 * @user_data: passed to @callback
 *
 * Sends @command. A QMP error reply completes it with an error in
 * BL_QMP_ERROR whose code is the error class and whose message is QEMU's
 * description. If the connection ends first, or has already ended, it
 * completes with BL_QMP_ERROR_DISCONNECTED.
 */
void bl_qmp_client_execute_async (BlQmpClient *self, const char *command, JsonObject *arguments,
                                  GCancellable *cancellable, GAsyncReadyCallback callback,
                                  gpointer user_data);

/**
 * bl_qmp_client_execute_with_fd_async:
 * @fd: a descriptor for QEMU (a copy is passed: the caller keeps @fd)
 *
 * Like bl_qmp_client_execute_async(), passing @fd (SCM_RIGHTS) with the
 * command, for "add-fd" and "getfd". Finish with
 * bl_qmp_client_execute_finish().
 */
void bl_qmp_client_execute_with_fd_async (BlQmpClient *self, const char *command,
                                          JsonObject *arguments, int fd, GCancellable *cancellable,
                                          GAsyncReadyCallback callback, gpointer user_data);

/**
 * bl_qmp_client_execute_finish:
 * Returns: (transfer full) (nullable): the "return" member of the reply, or
 *   NULL with @error set
 */
JsonNode *bl_qmp_client_execute_finish (BlQmpClient *self, GAsyncResult *result, GError **error);

/**
 * bl_qmp_client_execute_sync:
 *
 * Like bl_qmp_client_execute_async(), blocking: it iterates the client's
 * context until the reply comes, so other sources on that context may run.
 * Do not call it from the client's own signal handlers or callbacks.
 *
 * Returns: (transfer full) (nullable): the "return" member of the reply
 */
JsonNode *bl_qmp_client_execute_sync (BlQmpClient *self, const char *command, JsonObject *arguments,
                                      GCancellable *cancellable, GError **error);

/* "query-status", reduced to its status string ("prelaunch", "running",
 * "paused", "shutdown", ...). */
void bl_qmp_client_query_status_async (BlQmpClient *self, GCancellable *cancellable,
                                       GAsyncReadyCallback callback, gpointer user_data);

/**
 * bl_qmp_client_query_status_finish:
 * Returns: (transfer full) (nullable): the status, or NULL with @error set
 */
char *bl_qmp_client_query_status_finish (BlQmpClient *self, GAsyncResult *result, GError **error);

/**
 * bl_qmp_client_close:
 *
 * Drops the connection now: pending commands fail with
 * BL_QMP_ERROR_DISCONNECTED and "disconnected" is emitted, unless the
 * connection had already ended. Safe to call more than once.
 */
void bl_qmp_client_close (BlQmpClient *self);

gboolean bl_qmp_client_is_connected (BlQmpClient *self);

/* QEMU's version from the greeting, "major.minor.micro". */
const char *bl_qmp_client_get_qemu_version (BlQmpClient *self);

/**
 * bl_qmp_client_get_disconnect_reason:
 * Returns: (transfer none) (nullable): why the connection ended, or NULL
 *   while connected
 */
const GError *bl_qmp_client_get_disconnect_reason (BlQmpClient *self);

/*
 * Signals
 *
 * "event" (detailed by the event name, e.g. "event::SHUTDOWN"):
 *     void handler (BlQmpClient *client, const char *name, JsonObject *data,
 *                   gint64 timestamp_usec, gpointer user_data)
 *   @data is never NULL (empty when QEMU sent none) and lives only during
 *   the emission: take a reference to keep it. @timestamp_usec is QEMU's
 *   stamp in microseconds since the epoch, or -1 if it sent none.
 *
 * "disconnected":
 *     void handler (BlQmpClient *client, const GError *reason, gpointer user_data)
 *   emitted once when the connection ends: QEMU closed it
 *   (BL_QMP_ERROR_DISCONNECTED), broke the protocol (BL_QMP_ERROR_PROTOCOL),
 *   the socket failed, or bl_qmp_client_close() was called. Pending
 *   commands have failed by the time it runs. Not emitted when the last
 *   reference to a connected client is dropped.
 */

G_END_DECLS

/* template-make.c: boots a template VM and saves it (template-make.h).
 *
 * The template's guest is our kernel and our agent, nothing of a user's:
 * it runs up to the agent's "ready" (no disk mounted, no network set up),
 * is stopped and saved, and QEMU quits. Its QEMU has the device set of the
 * boxes it serves, against stand-ins: an empty scratch disk, empty folders
 * for the volumes, listening sockets nobody reads for the console and the
 * network (QEMU connects to them once at start). It keeps the monitor's
 * user instead of dropping to QEMU's: it must connect to the monitor's
 * socket to hand over its state, and no code of a box runs in it.
 *
 * Everything here is synchronous with a deadline: the monitor makes a
 * template before it starts the box's own QEMU, while nothing else runs.
 */
#define G_LOG_DOMAIN "boxlite-shim"

#include "template-make.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "bl-qmp-client.h"
#include "bl_proto.h"
#include "frame-conn.h"
#include "fs-tree.h"
#include "os-error.h"
#include "paths.h"
#include "qemu-argv.h"
#include <boxlite/boxlite-error.h>

#define STEP_US (10 * 1000)
#define SCRATCH_DISK_SIZE "1M"

typedef struct {
    char *work; /* TEMPLATES/mk-XXXXXX: sockets, scratch disk, log, state */
    char *ram_part;
    GSubprocess *qemu;
    GPtrArray *listeners; /* GSocket* */
    GSocket *migrate;
    BlQmpClient *qmp;
    gint64 deadline; /* monotonic, µs */
} Maker;

static void
maker_clear (Maker *m)
{
    if (m->qmp)
        bl_qmp_client_close (m->qmp);
    g_clear_object (&m->qmp);
    if (m->qemu && g_subprocess_get_identifier (m->qemu)) {
        g_subprocess_force_exit (m->qemu);
        g_subprocess_wait (m->qemu, NULL, NULL);
    }
    g_clear_object (&m->qemu);
    g_clear_pointer (&m->listeners, g_ptr_array_unref);
    if (m->ram_part)
        g_unlink (m->ram_part);
    g_free (m->ram_part);
    if (m->work) {
        g_autoptr (GError) error = NULL;
        if (!bl_tree_remove (m->work, &error))
            g_warning ("%s", error->message);
    }
    g_free (m->work);
}

static gboolean
timed_out (Maker *m, const char *waiting_for, GError **error)
{
    if (g_get_monotonic_time () < m->deadline)
        return FALSE;
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "the template VM timed out waiting %s",
                 waiting_for);
    return TRUE;
}

static gboolean
qemu_gone (Maker *m, GError **error)
{
    if (g_subprocess_get_identifier (m->qemu))
        return FALSE;
    g_autofree char *log = g_build_filename (m->work, "qemu.log", NULL);
    g_autofree char *text = NULL;
    g_file_get_contents (log, &text, NULL, NULL);
    g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED,
                 "the template VM's QEMU exited: %.500s", text ? g_strstrip (text) : "");
    return TRUE;
}

static GSocket *
listen_at (Maker *m, const char *name, GError **error)
{
    g_autofree char *path = g_build_filename (m->work, name, NULL);
    g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
    g_autoptr (GSocket) socket =
        g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, error);

    if (!socket || !g_socket_bind (socket, address, FALSE, error) ||
        !g_socket_listen (socket, error))
        return NULL;
    g_ptr_array_add (m->listeners, g_object_ref (socket));
    return socket;
}

/* The work directory with its scratch disk, volume folders and sockets. */
static gboolean
prepare_work (Maker *m, const BlLaunch *box, GStrv *volumes, GError **error)
{
    g_autoptr (GStrvBuilder) specs = g_strv_builder_new ();
    g_autofree char *qemu_img = bl_path_qemu_img (error);
    g_autofree char *disk = g_build_filename (m->work, "disk.qcow2", NULL);
    g_autofree char *err_text = NULL;
    gint status = 0;

    if (!qemu_img)
        return FALSE;
    const char *const img_argv[] = { qemu_img, "create",          "-q", "-f", "qcow2",
                                     disk,     SCRATCH_DISK_SIZE, NULL };
    if (!g_spawn_sync (NULL, (char **) img_argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                       &err_text, &status, error))
        return FALSE;
    if (!g_spawn_check_wait_status (status, error)) {
        g_prefix_error (error, "qemu-img: %s: ", err_text ? g_strstrip (err_text) : "");
        return FALSE;
    }
    for (guint i = 0; box->volumes && box->volumes[i]; i++) {
        g_autofree char *name = g_strdup_printf ("v%u", i);
        g_autofree char *dir = g_build_filename (m->work, name, NULL);
        if (g_mkdir (dir, 0700) < 0)
            return bl_os_error (error, errno, "create", dir);
        g_autofree char *spec = g_strdup_printf ("%s:/mnt/%s", dir, name);
        g_strv_builder_add (specs, spec);
    }
    *volumes = g_strv_builder_end (specs);
    if (!listen_at (m, "console.sock", error))
        return FALSE;
    if (box->network == BOXLITE_NETWORK_ENABLED && !listen_at (m, "net.sock", error))
        return FALSE;
    m->migrate = listen_at (m, "migrate.sock", error);
    return m->migrate != NULL;
}

static void
child_setup (gpointer user_data)
{
    pid_t parent = GPOINTER_TO_INT (user_data);

    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != parent)
        raise (SIGKILL);
}

static gboolean
spawn_qemu (Maker *m, const BlLaunch *box, BoxliteAccel resolved, guint tsc_khz, GStrv volumes,
            GError **error)
{
    BlLaunch copy = *box;
    g_autofree char *disk = g_build_filename (m->work, "disk.qcow2", NULL);
    g_autofree char *log = g_build_filename (m->work, "qemu.log", NULL);

    copy.box_id = (char *) "template";
    copy.box_dir = m->work;
    copy.disk = disk;
    copy.hostname = (char *) "template";
    copy.volumes = volumes;
    copy.qemu_user = NULL;
    copy.template_role = BL_TEMPLATE_ROLE_MAKE;
    copy.template_ram = m->ram_part;
    g_auto (GStrv) argv = bl_qemu_argv_build (&copy, resolved, tsc_khz, error);
    if (!argv)
        return FALSE;
    g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
    g_subprocess_launcher_set_stdout_file_path (launcher, log);
    g_subprocess_launcher_set_stderr_file_path (launcher, log);
    g_subprocess_launcher_set_child_setup (launcher, child_setup, GINT_TO_POINTER (getpid ()),
                                           NULL);
    g_autofree char *command = g_strjoinv (" ", argv);
    g_message ("making a template: %s", command);
    m->qemu = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv, error);
    return m->qemu != NULL;
}

static gboolean
connect_qmp (Maker *m, GError **error)
{
    g_autofree char *path = g_build_filename (m->work, "qmp.sock", NULL);

    for (;;) {
        g_autoptr (GError) local = NULL;
        m->qmp = bl_qmp_client_connect_sync (path, NULL, &local);
        if (m->qmp)
            return TRUE;
        if (qemu_gone (m, error) || timed_out (m, "for QMP", error))
            return FALSE;
        g_usleep (STEP_US);
    }
}

/* Reads exactly @len bytes before the deadline. */
static gboolean
read_full (Maker *m, GSocket *socket, guint8 *buf, gsize len, GError **error)
{
    gsize got = 0;

    while (got < len) {
        gint64 left = m->deadline - g_get_monotonic_time ();
        if (left <= 0 || !g_socket_condition_timed_wait (socket, G_IO_IN, left, NULL, NULL)) {
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                         "the template VM timed out waiting for its agent");
            return FALSE;
        }
        gssize n = g_socket_receive (socket, (char *) buf + got, len - got, NULL, error);
        if (n < 0)
            return FALSE;
        if (n == 0) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                         "the template's agent closed its port");
            return FALSE;
        }
        got += (gsize) n;
    }
    return TRUE;
}

/* Waits for the agent's first frame, which must be the "ready" event. */
static gboolean
wait_ready (Maker *m, GError **error)
{
    g_autofree char *path = g_build_filename (m->work, "agent.sock", NULL);
    g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
    g_autoptr (GSocket) socket = NULL;
    guint8 head[BL_PROTO_HEADER_SIZE];
    struct bl_frame_header h;

    for (;;) {
        socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                               G_SOCKET_PROTOCOL_DEFAULT, error);
        if (!socket)
            return FALSE;
        if (g_socket_connect (socket, address, NULL, NULL))
            break;
        g_clear_object (&socket);
        if (qemu_gone (m, error) || timed_out (m, "for the agent's socket", error))
            return FALSE;
        g_usleep (STEP_US);
    }
    if (!read_full (m, socket, head, sizeof head, error))
        return FALSE;
    if (bl_proto_decode_header (head, &h) < 0 || h.type != BL_FRAME_CONTROL || h.channel != 0) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                     "the template's agent sent a malformed first frame");
        return FALSE;
    }
    g_autofree guint8 *payload = g_malloc (h.len);
    if (!read_full (m, socket, payload, h.len, error))
        return FALSE;
    g_autoptr (GBytes) bytes = g_bytes_new_take (g_steal_pointer (&payload), h.len);
    g_autoptr (JsonObject) msg = bl_frame_parse_control (bytes, error);
    if (!msg)
        return FALSE;
    if (g_strcmp0 (json_object_get_string_member_with_default (msg, "event", NULL), "ready") != 0) {
        g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_PROTOCOL,
                     "the template's agent did not start with \"ready\"");
        return FALSE;
    }
    return TRUE;
}

static gboolean
qmp_run (Maker *m, const char *command, JsonObject *args, GError **error)
{
    g_autoptr (JsonNode) ret = bl_qmp_client_execute_sync (m->qmp, command, args, NULL, error);

    if (!ret)
        g_prefix_error (error, "template VM: %s: ", command);
    return ret != NULL;
}

static gboolean
receive_state (Maker *m, GError **error)
{
    g_autofree char *path = g_build_filename (m->work, "vmstate", NULL);
    gint64 left = m->deadline - g_get_monotonic_time ();

    if (left <= 0 || !g_socket_condition_timed_wait (m->migrate, G_IO_IN, left, NULL, NULL)) {
        timed_out (m, "for QEMU's state", error);
        return FALSE;
    }
    g_autoptr (GSocket) conn = g_socket_accept (m->migrate, NULL, error);
    if (!conn)
        return FALSE;
    g_autoptr (GByteArray) data = g_byte_array_new ();
    guint8 buf[65536];
    for (;;) {
        left = m->deadline - g_get_monotonic_time ();
        if (left <= 0 || !g_socket_condition_timed_wait (conn, G_IO_IN, left, NULL, NULL)) {
            timed_out (m, "for QEMU's state", error);
            return FALSE;
        }
        gssize n = g_socket_receive (conn, (char *) buf, sizeof buf, NULL, error);
        if (n < 0)
            return FALSE;
        if (n == 0)
            break;
        if (data->len + (gsize) n > BL_TEMPLATE_MAX_STATE) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED,
                         "the template's state is over %u bytes", BL_TEMPLATE_MAX_STATE);
            return FALSE;
        }
        g_byte_array_append (data, buf, (guint) n);
    }
    return g_file_set_contents_full (path, (const char *) data->data, data->len,
                                     G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
}

static gboolean
migration_completed (Maker *m, GError **error)
{
    for (;;) {
        g_autoptr (JsonNode) ret =
            bl_qmp_client_execute_sync (m->qmp, "query-migrate", NULL, NULL, error);
        if (!ret)
            return FALSE;
        const char *status = JSON_NODE_HOLDS_OBJECT (ret)
                                 ? json_object_get_string_member_with_default (
                                       json_node_get_object (ret), "status", "")
                                 : "";
        if (g_str_equal (status, "completed"))
            return TRUE;
        if (g_str_equal (status, "failed") || g_str_equal (status, "cancelled")) {
            g_set_error (error, BOXLITE_ERROR, BOXLITE_ERROR_FAILED,
                         "the template VM's migration %s", status);
            return FALSE;
        }
        if (timed_out (m, "for the migration to end", error))
            return FALSE;
        g_usleep (STEP_US / 10);
    }
}

/* Stops the guest and sends its device state, not its RAM (it stays in the
 * shared file), to our socket. */
static gboolean
save_state (Maker *m, GError **error)
{
    g_autoptr (JsonObject) caps = json_object_new ();
    g_autoptr (JsonObject) uri = json_object_new ();
    g_autofree char *sock = g_build_filename (m->work, "migrate.sock", NULL);
    JsonArray *list = json_array_new ();
    JsonObject *cap = json_object_new ();
    g_autofree char *target = g_strconcat ("unix:", sock, NULL);

    json_object_set_string_member (cap, "capability", "x-ignore-shared");
    json_object_set_boolean_member (cap, "state", TRUE);
    json_array_add_object_element (list, cap);
    json_object_set_array_member (caps, "capabilities", list);
    json_object_set_string_member (uri, "uri", target);
    return qmp_run (m, "stop", NULL, error) &&
           qmp_run (m, "migrate-set-capabilities", caps, error) &&
           qmp_run (m, "migrate", uri, error) && receive_state (m, error) &&
           migration_completed (m, error);
}

/* Takes QEMU's migration stream (device state only) into work/vmstate. */
static gboolean
quit_qemu (Maker *m, GError **error)
{
    g_autoptr (GError) ignored = NULL;

    /* QEMU may close the socket before it answers: its exit is what counts. */
    g_autoptr (JsonNode) ret = bl_qmp_client_execute_sync (m->qmp, "quit", NULL, NULL, &ignored);
    while (g_subprocess_get_identifier (m->qemu)) {
        if (timed_out (m, "for QEMU to quit", error))
            return FALSE;
        g_usleep (STEP_US);
    }
    return TRUE;
}

/* Moves the state and the RAM file into place and writes the record last. */
static gboolean
install (Maker *m, const BlTemplate *tpl, GError **error)
{
    g_autofree char *state = g_build_filename (m->work, "vmstate", NULL);

    if (!bl_template_remove (tpl, error))
        return FALSE;
    if (g_mkdir (tpl->dir, 0700) < 0)
        return bl_os_error (error, errno, "create", tpl->dir);
    if (g_rename (state, tpl->state_path) < 0)
        return bl_os_error (error, errno, "rename", state);
    if (g_rename (m->ram_part, tpl->ram_path) < 0)
        return bl_os_error (error, errno, "rename", m->ram_part);
    g_clear_pointer (&m->ram_part, g_free);
    return bl_template_record (tpl, error);
}

static gboolean
make (Maker *m, const BlLaunch *box, BoxliteAccel resolved, guint tsc_khz, const BlTemplate *tpl,
      GError **error)
{
    g_autofree char *pattern = g_build_filename (box->templates_dir, "mk-XXXXXX", NULL);
    g_auto (GStrv) volumes = NULL;

    m->work = g_mkdtemp_full (g_steal_pointer (&pattern), 0700);
    if (!m->work)
        return bl_os_error (error, errno, "create a directory in", box->templates_dir);
    m->ram_part = g_strconcat (tpl->ram_path, ".part", NULL);
    g_unlink (m->ram_part);
    int fd = open (m->ram_part, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return bl_os_error (error, errno, "create", m->ram_part);
    close (fd);
    return prepare_work (m, box, &volumes, error) &&
           spawn_qemu (m, box, resolved, tsc_khz, volumes, error) && connect_qmp (m, error) &&
           wait_ready (m, error) && save_state (m, error) && quit_qemu (m, error) &&
           install (m, tpl, error);
}

gboolean
bl_template_make (const BlLaunch *box, BoxliteAccel resolved, guint tsc_khz, const BlTemplate *tpl,
                  guint timeout_ms, GError **error)
{
    Maker m = { 0 };
    gint64 start = g_get_monotonic_time ();

    bl_template_sweep_orphans ();
    m.listeners = g_ptr_array_new_with_free_func (g_object_unref);
    m.deadline = start + (gint64) timeout_ms * 1000;
    gboolean ok = make (&m, box, resolved, tsc_khz, tpl, error);
    maker_clear (&m);
    if (!ok) {
        g_prefix_error (error, "cannot make a template: ");
        bl_template_remove (tpl, NULL);
        return FALSE;
    }
    g_message ("made template %.12s in %" G_GINT64_FORMAT " ms", tpl->key,
               (g_get_monotonic_time () - start) / 1000);
    return TRUE;
}

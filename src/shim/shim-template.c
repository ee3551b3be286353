/* shim-template.c: starting a box from a VM template (template.h).
 *
 * Before QEMU starts, the monitor looks for the template that fits the box
 * under the template's lock, checks it, and makes it when it is missing or
 * fails a check; two monitors wanting the same one make it once. Then the
 * box's QEMU maps the template's RAM copy-on-write and waits (-incoming
 * defer, -S); once QMP is up the monitor sets x-ignore-shared, loads the
 * state from fd 3, waits for "paused", resizes the disk to the box's own
 * (the guest saw the template's scratch disk), and continues the guest.
 * The agent then gets the box's identity (shim-identity.c) before anything
 * of the box runs.
 */
#define G_LOG_DOMAIN "boxlite-shim"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <glib/gstdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs-lock.h"
#include "fs-tree.h"
#include "monitor-ctl.h"
#include "qemu-argv.h"
#include "shim.h"
#include "template-make.h"
#include "template-ram.h"
#include "template.h"

/* How often the monitor asks QEMU whether the state is loaded. */
#define RESUME_POLL_MS 2
/* Seconds before a template that could not be made is tried again. */
#define TEMPLATE_RETRY_S 600
/* How long a copy may take from QEMU's start to the agent's "hello"
 * before the box boots cold instead (a copy answers in well under 1 s). */
#define COPY_DEADLINE_MS 20000

static void
go_cold (Shim *shim, const char *why)
{
    g_message ("starting cold: %s", why);
    g_free (shim->start_reason);
    shim->start_reason = g_strdup (why);
    shim->launch->template_role = BL_TEMPLATE_ROLE_NONE;
    g_clear_pointer (&shim->launch->template_ram, g_free);
    shim_template_close_fds (shim);
    shim_template_release (shim);
    shim_template_drop_ram (shim);
}

void
shim_template_fill_ram (Shim *shim)
{
    g_autoptr (GError) error = NULL;

    /* Nothing of the guest runs before QMP is up: the copy is given up
     * then if this failed (shim_template_resume). */
    if (shim->ram_fill && !bl_template_ram_fill (g_steal_pointer (&shim->ram_fill), &error))
        shim->ram_fill_error = g_strdup (error->message);
}

void
shim_template_drop_ram (Shim *shim)
{
    g_clear_pointer (&shim->ram_fill, bl_template_ram_fill_free);
    g_clear_pointer (&shim->ram_fill_error, g_free);
    bl_template_ram_release (shim->ram_fd, shim->ram_record);
    shim->ram_fd = -1;
    g_clear_pointer (&shim->ram_record, g_free);
}

void
shim_template_close_fds (Shim *shim)
{
    for (guint i = 0; i < SHIM_N_PASS_FDS; i++) {
        if (shim->pass_fds[i] >= 0)
            close (shim->pass_fds[i]);
        shim->pass_fds[i] = -1;
    }
}

gboolean
shim_template_open_disk (Shim *shim, GError **error)
{
    const char *path = shim->launch->disk;

    if (shim->pass_fds[SHIM_FD_DISK_RW] >= 0 && shim->pass_fds[SHIM_FD_DISK_RO] >= 0)
        return TRUE;
    shim->pass_fds[SHIM_FD_DISK_RW] = open (path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    shim->pass_fds[SHIM_FD_DISK_RO] = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (shim->pass_fds[SHIM_FD_DISK_RW] < 0 || shim->pass_fds[SHIM_FD_DISK_RO] < 0) {
        int saved = errno;
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot open %s: %s", path,
                     g_strerror (saved));
        return FALSE;
    }
    return TRUE;
}

/* The virtual size in the box's qcow2 header: what the guest must see. */
static gboolean
disk_size (const char *path, guint64 *size, GError **error)
{
    guint8 head[32];
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : pread (fd, head, sizeof head, 0);

    if (fd >= 0)
        close (fd);
    if (n != (ssize_t) sizeof head || memcmp (head, "QFI\xfb", 4) != 0) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is not a qcow2 disk", path);
        return FALSE;
    }
    *size = 0;
    for (int i = 24; i < 32; i++)
        *size = *size << 8 | head[i];
    return TRUE;
}

/* A template that could not be made is not tried again for a while: every
 * start would otherwise pay for a failing boot before its cold one. */
static char *
failed_path (const BlTemplate *tpl)
{
    return g_strconcat (tpl->dir, ".failed", NULL);
}

static gboolean
recently_failed (const BlTemplate *tpl, GError **error)
{
    g_autofree char *path = failed_path (tpl);
    g_autofree char *why = NULL;
    struct stat st;

    if (lstat (path, &st) < 0 || !S_ISREG (st.st_mode) || st.st_size > 4096 ||
        time (NULL) - st.st_mtime >= TEMPLATE_RETRY_S || time (NULL) < st.st_mtime ||
        !g_file_get_contents (path, &why, NULL, NULL))
        return FALSE;
    g_autofree char *text = g_utf8_make_valid (why, -1);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "making the template failed %lld s ago (tried again after %d s): %s",
                 (long long) (time (NULL) - st.st_mtime), TEMPLATE_RETRY_S, text);
    return TRUE;
}

static void
forget_failure (const BlTemplate *tpl)
{
    g_autofree char *path = failed_path (tpl);
    g_unlink (path);
}

static void
remember_failure (const BlTemplate *tpl, const GError *error)
{
    g_autofree char *path = failed_path (tpl);
    g_autofree char *text = g_strndup (error->message, 1024);

    if (!g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, NULL))
        g_warning ("cannot keep %s", path);
}

/* Makes @tpl (unless that failed lately) and opens its state. */
static int
make_template (const BlLaunch *launch, BoxliteAccel resolved, guint tsc_khz, const BlTemplate *tpl,
               GError **error)
{
    if (recently_failed (tpl, error))
        return -1;
    if (!bl_template_make (launch, resolved, tsc_khz, tpl, launch->boot_timeout_ms, error)) {
        remember_failure (tpl, *error);
        return -1;
    }
    forget_failure (tpl);
    return bl_template_open_state (tpl, error);
}

void
shim_template_choose (Shim *shim, BoxliteAccel resolved, guint tsc_khz)
{
    BlLaunch *launch = shim->launch;
    g_autoptr (GError) error = NULL;

    shim->template_lock_fd = -1;
    shim->accel = resolved;
    shim->tsc_khz = tsc_khz;
    if (!launch->fast_start) {
        go_cold (shim, "fast_start is off");
        return;
    }
    if (!launch->templates_dir) {
        go_cold (shim, "the box has no templates directory");
        return;
    }
    g_autoptr (BlTemplate) tpl = bl_template_for (launch, resolved, tsc_khz, &error);
    if (!tpl || !disk_size (launch->disk, &shim->disk_bytes, &error)) {
        go_cold (shim, error->message);
        return;
    }
    shim->template_lock_fd = bl_lock_file (tpl->lock_path, TRUE, NULL, &error);
    if (shim->template_lock_fd < 0) {
        go_cold (shim, error->message);
        return;
    }
    int fd = bl_template_open_state (tpl, &error);
    if (fd < 0) {
        if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
            g_message ("the template is not usable, making it again: %s", error->message);
        g_clear_error (&error);
        fd = make_template (launch, resolved, tsc_khz, tpl, &error);
    }
    shim->pass_fds[SHIM_FD_STATE] = fd;
    if (fd < 0 || !shim_template_open_disk (shim, &error)) {
        go_cold (shim, error->message);
        return;
    }
    /* Never the RAM file itself: QEMU would hold it open for writing. */
    g_autofree char *holders = g_build_filename (tpl->dir, "holders", NULL);
    shim->ram_fd =
        bl_template_ram_share (tpl->ram_path, holders, &shim->ram_record, &shim->ram_fill, &error);
    if (shim->ram_fd >= 0)
        shim->pass_fds[SHIM_FD_RAM] = fcntl (shim->ram_fd, F_DUPFD_CLOEXEC, 0);
    if (shim->pass_fds[SHIM_FD_RAM] < 0) {
        go_cold (shim, error ? error->message : g_strerror (errno));
        return;
    }
    /* Others may start from it at once; a prune waits until QEMU mapped it. */
    if (flock (shim->template_lock_fd, LOCK_SH) < 0)
        g_warning ("cannot share the template's lock: %s", g_strerror (errno));
    launch->template_role = BL_TEMPLATE_ROLE_CLONE;
    launch->template_ram = g_strdup_printf ("/proc/self/fd/%d", BL_QEMU_RAM_FD);
    shim->template_dir = g_strdup (tpl->dir);
    g_message ("starting from template %.12s", tpl->key);
}

void
shim_template_release (Shim *shim)
{
    if (shim->template_lock_fd >= 0)
        close (shim->template_lock_fd);
    shim->template_lock_fd = -1;
}

static void query_status (Shim *shim);

/* A reply or timer of a copy that was given up for a cold boot. */
static gboolean
stale (Shim *shim, GObject *source)
{
    return shim->finished || shim->launch->template_role != BL_TEMPLATE_ROLE_CLONE ||
           (source && source != (GObject *) shim->qmp);
}

static void
resume_failed (Shim *shim, const char *step, const GError *error)
{
    g_autofree char *message = g_strdup_printf ("%s: %s", step, error->message);

    if (!shim_template_fall_back (shim, message))
        shim_boot_failed (shim, message);
}

/* The reply to one QMP step of the sequence: TRUE to go on, FALSE when the
 * copy was given up meanwhile or the step failed (and the box falls back). */
static gboolean
step_done (Shim *shim, GObject *source, GAsyncResult *res, const char *step)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (JsonNode) ret = bl_qmp_client_execute_finish (BL_QMP_CLIENT (source), res, &error);

    if (stale (shim, source))
        return FALSE;
    if (!ret)
        resume_failed (shim, step, error);
    return ret != NULL;
}

static gboolean
on_copy_deadline (gpointer user_data)
{
    Shim *shim = user_data;

    shim->template_deadline = 0;
    shim_template_fall_back (shim, "its agent did not answer within 20 s");
    return G_SOURCE_REMOVE;
}

void
shim_template_answered (Shim *shim)
{
    g_clear_handle_id (&shim->template_deadline, g_source_remove);
    g_clear_pointer (&shim->template_dir, g_free);
}

/* Everything of the failed copy goes: QEMU (waited for), its QMP and agent
 * links, and the console's and network's ends, which take one QEMU each. */
static void
drop_copy (Shim *shim)
{
    if (shim->qemu_running) {
        g_clear_handle_id (&shim->qemu_watch, g_source_remove);
        kill (shim->qemu_pid, SIGKILL);
        while (waitpid (shim->qemu_pid, NULL, 0) < 0 && errno == EINTR)
            ;
        g_spawn_close_pid (shim->qemu_pid);
        shim->qemu_running = FALSE;
    }
    g_clear_handle_id (&shim->qmp_retry, g_source_remove);
    g_clear_handle_id (&shim->agent_retry, g_source_remove);
    /* Cleared first: its pending replies are then seen as stale. */
    BlQmpClient *qmp = g_steal_pointer (&shim->qmp);
    if (qmp)
        bl_qmp_client_close (qmp);
    g_clear_object (&qmp);
    BlFrameConn *agent = g_steal_pointer (&shim->agent);
    if (agent && !bl_frame_conn_is_closed (agent))
        bl_frame_conn_close (agent, NULL);
    g_clear_object (&agent);
    g_queue_clear (&shim->agent_replies);
    g_clear_pointer (&shim->crash_reason, g_free);
    g_clear_pointer (&shim->console, shim_console_free);
    shim_net_stop (shim);
    bl_monitor_remove_sockets (shim->box_dir);
}

gboolean
shim_template_fall_back (Shim *shim, const char *why)
{
    g_autoptr (GError) error = NULL;

    if (shim->launch->template_role != BL_TEMPLATE_ROLE_CLONE || shim->booted || shim->finished ||
        shim->stop_requested)
        return FALSE;
    g_clear_handle_id (&shim->template_deadline, g_source_remove);
    g_autofree char *reason = g_strdup_printf ("the start from a template failed: %s", why);
    g_warning ("%s; booting cold", reason);
    drop_copy (shim);
    /* A template its copies cannot start from is made again next time. */
    if (shim->template_dir && !bl_tree_remove (shim->template_dir, &error)) {
        g_warning ("%s", error->message);
        g_clear_error (&error);
    }
    go_cold (shim, reason);
    g_auto (GStrv) argv = bl_qemu_argv_build (shim->launch, shim->accel, shim->tsc_khz, &error);
    if (!argv || !(shim->console = shim_console_listen (shim->box_dir, &error)) ||
        !shim_net_start (shim, &error) ||
        !shim_qemu_start (shim, (const char *const *) argv, &error))
        shim_boot_failed (shim, error->message);
    return TRUE;
}

static void
on_cont (GObject *source, GAsyncResult *res, gpointer user_data)
{
    Shim *shim = user_data;

    if (step_done (shim, source, res, "cont"))
        g_message ("the copy of the template runs");
}

static void
on_resized (GObject *source, GAsyncResult *res, gpointer user_data)
{
    Shim *shim = user_data;

    if (step_done (shim, source, res, "block_resize"))
        bl_qmp_client_execute_async (shim->qmp, "cont", NULL, shim->cancellable, on_cont, shim);
}

/* The guest probed the template's scratch disk: the resize (to the size
 * the box's disk already has) tells it the real one. */
static void
resize_disk (Shim *shim)
{
    g_autoptr (JsonObject) args = json_object_new ();

    json_object_set_string_member (args, "device", "root");
    json_object_set_int_member (args, "size", (gint64) shim->disk_bytes);
    bl_qmp_client_execute_async (shim->qmp, "block_resize", args, shim->cancellable, on_resized,
                                 shim);
}

static gboolean
on_poll_again (gpointer user_data)
{
    query_status (user_data);
    return G_SOURCE_REMOVE;
}

static void
on_status (GObject *source, GAsyncResult *res, gpointer user_data)
{
    Shim *shim = user_data;
    g_autoptr (GError) error = NULL;
    g_autofree char *status =
        bl_qmp_client_query_status_finish (BL_QMP_CLIENT (source), res, &error);

    if (stale (shim, source))
        return;
    if (!status) {
        resume_failed (shim, "query-status", error);
        return;
    }
    if (g_str_equal (status, "inmigrate")) {
        g_timeout_add (RESUME_POLL_MS, on_poll_again, shim);
        return;
    }
    if (!g_str_equal (status, "paused")) {
        g_autoptr (GError) odd = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                                              "QEMU is %s after loading the state", status);
        resume_failed (shim, "load", odd);
        return;
    }
    resize_disk (shim);
}

static void
query_status (Shim *shim)
{
    if (stale (shim, NULL) || !shim->qmp)
        return;
    bl_qmp_client_query_status_async (shim->qmp, shim->cancellable, on_status, shim);
}

static void
on_incoming (GObject *source, GAsyncResult *res, gpointer user_data)
{
    Shim *shim = user_data;

    if (step_done (shim, source, res, "migrate-incoming"))
        query_status (shim);
}

static void
on_capability (GObject *source, GAsyncResult *res, gpointer user_data)
{
    Shim *shim = user_data;
    g_autoptr (JsonObject) args = json_object_new ();

    if (!step_done (shim, source, res, "migrate-set-capabilities"))
        return;
    /* QEMU inherited the state file as fd 3 (shim_qemu_start). */
    json_object_set_string_member (args, "uri", "fd:" G_STRINGIFY (BL_QEMU_STATE_FD));
    bl_qmp_client_execute_async (shim->qmp, "migrate-incoming", args, shim->cancellable,
                                 on_incoming, shim);
}

void
shim_template_resume (Shim *shim)
{
    /* QEMU has mapped the RAM file: a prune may go ahead. */
    shim_template_release (shim);
    if (shim->launch->template_role != BL_TEMPLATE_ROLE_CLONE)
        return;
    if (shim->ram_fill_error) {
        g_autofree char *why = g_steal_pointer (&shim->ram_fill_error);
        if (!shim_template_fall_back (shim, why))
            shim_boot_failed (shim, why);
        return;
    }
    if (!shim->template_deadline)
        shim->template_deadline = g_timeout_add (COPY_DEADLINE_MS, on_copy_deadline, shim);

    g_autoptr (JsonObject) args = json_object_new ();
    JsonArray *list = json_array_new ();
    JsonObject *cap = json_object_new ();

    json_object_set_string_member (cap, "capability", "x-ignore-shared");
    json_object_set_boolean_member (cap, "state", TRUE);
    json_array_add_object_element (list, cap);
    json_object_set_array_member (args, "capabilities", list);
    bl_qmp_client_execute_async (shim->qmp, "migrate-set-capabilities", args, shim->cancellable,
                                 on_capability, shim);
}

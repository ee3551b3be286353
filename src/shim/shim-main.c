/* shim-main.c: arguments, start-up, the boot verdict and the one exit path. */
#define G_LOG_DOMAIN "boxlite-shim"

#include <errno.h>
#include <pwd.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accel.h"
#include "box-record.h"
#include "events.h"
#include "fs-tree.h"
#include "monitor-ctl.h"
#include "qemu-argv.h"
#include "shim.h"
#include "template.h"

/* Writes @line to the ready fd and closes it; the library waits on it. */
static void
ready_write (Shim *shim, const char *line)
{
    if (shim->ready_fd < 0)
        return;
    gsize len = strlen (line);
    const char *p = line;
    while (len > 0) {
        ssize_t n = write (shim->ready_fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        p += n;
        len -= (gsize) n;
    }
    close (shim->ready_fd);
    shim->ready_fd = -1;
}

/* Deletes the box directory: that tree only, without following symlinks or
 * crossing into other file systems mounted below it. */
static void
remove_box_dir (const char *box_dir)
{
    g_autofree char *record = g_build_filename (box_dir, "box.json", NULL);
    g_autoptr (GError) error = NULL;

    if (!g_file_test (record, G_FILE_TEST_EXISTS)) {
        g_warning ("%s has no box.json; not removing it", box_dir);
        return;
    }
    if (!bl_tree_remove (box_dir, &error))
        g_warning ("%s", error->message);
    else
        bl_events_append (box_dir, NULL, "remove", NULL);
}

/* One line, for the ready fd and the record: newlines become " | ". */
static char *
one_line (const char *text)
{
    g_auto (GStrv) parts = g_strsplit_set (text, "\r\n", -1);
    g_autoptr (GPtrArray) kept = g_ptr_array_new ();

    for (guint i = 0; parts[i]; i++)
        if (*g_strstrip (parts[i]))
            g_ptr_array_add (kept, parts[i]);
    g_ptr_array_add (kept, NULL);
    return g_strjoinv (" | ", (char **) kept->pdata);
}

/* Answers every "stop" with {} and waits (briefly) until the answers left. */
static void
answer_stoppers (Shim *shim)
{
    g_autoptr (JsonNode) empty = json_node_new (JSON_NODE_OBJECT);

    json_node_take_object (empty, json_object_new ());

    for (guint i = 0; i < shim->stop_waiters->len; i++)
        shim_control_reply (g_ptr_array_index (shim->stop_waiters, i), 0, empty);
    g_ptr_array_set_size (shim->stop_waiters, 0);
}

/* Lets queued replies reach the clients before their links close. */
static void
drain_clients (Shim *shim)
{
    gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC;

    while (g_get_monotonic_time () < deadline) {
        gboolean busy = FALSE;
        for (guint i = 0; i < shim->clients->len; i++) {
            ShimClient *client = g_ptr_array_index (shim->clients, i);
            if (!bl_frame_conn_is_closed (client->conn) &&
                g_output_stream_has_pending (g_io_stream_get_output_stream (client->stream)))
                busy = TRUE;
        }
        if (!busy)
            break;
        g_main_context_iteration (NULL, FALSE);
        g_usleep (1000);
    }
}

/* The verdict on a box whose QEMU is gone: its state and why it crashed
 * (*@why) or stopped (*@stop_reason, a BL_STOP_REASON_*). */
static BoxliteBoxState
final_state (Shim *shim, char **why, const char **stop_reason)
{
    g_autofree char *death = shim_qemu_describe_exit (shim, TRUE);

    if (!shim->booted && !shim->stop_requested) {
        *why = g_strdup (shim->boot_error ? shim->boot_error : "the box did not boot");
        return BOXLITE_BOX_STATE_CRASHED;
    }
    if (shim->stop_requested) {
        *stop_reason = shim->stop_reason;
        return BOXLITE_BOX_STATE_STOPPED;
    }
    if (!death && !shim->qemu_killed_by_us) {
        /* With panic=-1 and -no-reboot a panicking kernel ends QEMU as
         * cleanly as a poweroff does; only the console tells them apart. */
        shim_console_drain (shim->console);
        g_autofree char *console = shim_log_tail (shim->box_dir, "console.log", 20);
        const char *panic = console ? strstr (console, "Kernel panic") : NULL;
        if (panic) {
            *why = g_strdup_printf ("the guest kernel panicked: %.200s", panic);
            return BOXLITE_BOX_STATE_CRASHED;
        }
        *stop_reason = BL_STOP_REASON_POWEROFF;
        return BOXLITE_BOX_STATE_STOPPED;
    }
    if (death && !shim->qemu_killed_by_us) {
        *why = g_steal_pointer (&death); /* QEMU died on its own: that is the cause */
        return BOXLITE_BOX_STATE_CRASHED;
    }
    if (shim->crash_reason) {
        *why = g_strdup (shim->crash_reason);
        return BOXLITE_BOX_STATE_CRASHED;
    }
    *why = death ? g_steal_pointer (&death) : g_strdup ("QEMU exited");
    return BOXLITE_BOX_STATE_CRASHED;
}

void
shim_finish (Shim *shim)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *why = NULL;
    const char *stop_reason = NULL;

    if (shim->finished)
        return;
    shim->finished = TRUE;
    shim_idle_free (shim);
    if (shim->qemu_running) {
        /* Nothing outlives the monitor: take QEMU down and wait for it. */
        g_clear_handle_id (&shim->qemu_watch, g_source_remove);
        shim_qemu_kill (shim);
        int status = 0;
        while (waitpid (shim->qemu_pid, &status, 0) < 0 && errno == EINTR)
            ;
        shim->qemu_running = FALSE;
        shim->qemu_wait_status = status;
    }
    /* Once QEMU is gone, so that its network never goes first. */
    shim_net_stop (shim);
    g_cancellable_cancel (shim->cancellable);
    g_clear_handle_id (&shim->boot_timeout, g_source_remove);
    g_clear_handle_id (&shim->stop_timer, g_source_remove);
    g_clear_handle_id (&shim->qmp_retry, g_source_remove);
    g_clear_handle_id (&shim->kill_timer, g_source_remove);
    g_clear_handle_id (&shim->agent_retry, g_source_remove);
    shim_lifeline_unwatch (shim);
    shim_template_release (shim);
    shim_template_drop_ram (shim);
    g_clear_handle_id (&shim->template_deadline, g_source_remove);
    /* Before the record says the box is down: a start that follows at once
     * must not have its new sockets removed by this monitor. Connections
     * already made (the stop waiters') stay up. */
    bl_monitor_remove_sockets (shim->box_dir);

    BoxliteBoxState state = final_state (shim, &why, &stop_reason);
    g_autofree char *line = why ? one_line (why) : NULL;
    gboolean recorded;
    if (state == BOXLITE_BOX_STATE_CRASHED) {
        g_message ("box crashed: %s", line);
        recorded = bl_record_set_state (shim->box_dir, state, 0, line, &error);
    } else {
        g_message ("box stopped (%s)", stop_reason ? stop_reason : "no reason given");
        recorded = bl_record_set_stopped (shim->box_dir, stop_reason, &error);
    }
    if (!recorded)
        g_warning ("cannot record the box's end: %s", error->message);
    shim_control_push_state (shim, state);
    if (!shim->booted) {
        g_autofree char *verdict =
            g_strdup_printf ("error: %s\n", line ? line : "the box was stopped while it booted");
        ready_write (shim, verdict);
    }
    answer_stoppers (shim);
    drain_clients (shim);
    shim_control_close_all (shim);
    shim_agent_close (shim);
    if (shim->qmp)
        bl_qmp_client_close (shim->qmp);
    if (shim->launch && shim->launch->auto_remove)
        remove_box_dir (shim->box_dir);
    shim->exit_code = state == BOXLITE_BOX_STATE_STOPPED && shim->booted ? 0 : 1;
    g_main_loop_quit (shim->loop);
}

void
shim_boot_failed (Shim *shim, const char *message)
{
    if (shim->booted || shim->boot_error || shim->finished)
        return;
    shim_console_drain (shim->console);
    g_autofree char *console = shim_log_tail (shim->box_dir, "console.log", 8);
    g_autofree char *qemu = shim_log_tail (shim->box_dir, "qemu.log", 8);
    GString *s = g_string_new (message);
    if (qemu)
        g_string_append_printf (s, "; qemu.log ends with: %s", qemu);
    if (console)
        g_string_append_printf (s, "; console.log ends with: %s", console);
    shim->boot_error = g_string_free (s, FALSE);
    g_warning ("boot failed: %s", shim->boot_error);
    if (shim->qemu_running)
        shim_qemu_kill (shim); /* the child watch finishes */
    else
        shim_finish (shim);
}

void
shim_booted (Shim *shim)
{
    g_autoptr (GError) error = NULL;

    if (shim->booted || shim->finished)
        return;
    g_clear_handle_id (&shim->boot_timeout, g_source_remove);
    if (!shim_control_listen (shim, &error) ||
        !bl_record_set_state (shim->box_dir, BOXLITE_BOX_STATE_RUNNING, getpid (), NULL, &error)) {
        shim_boot_failed (shim, error->message);
        return;
    }
    if (!bl_record_set_start (shim->box_dir, shim->start_reason ? "cold" : "template",
                              shim->start_reason, &error))
        g_warning ("cannot record how the box started: %s", error->message);
    shim->booted = TRUE;
    shim->state = BOXLITE_BOX_STATE_RUNNING;
    g_message ("box %s is running", shim->launch->box_id);
    shim_idle_start (shim);
    ready_write (shim, "ok\n");
    /* Template RAM on /dev/shm is host memory until reboot: a home removed
     * without `template prune` leaves its RAM behind, which goes here once
     * the box runs, off its start. */
    bl_template_sweep_orphans ();
}

static gboolean
on_boot_timeout (gpointer user_data)
{
    Shim *shim = user_data;
    /* A QEMU that never greeted on QMP is wedged, not slow: say so. */
    g_autofree char *message = g_strdup_printf (
        "the guest agent did not answer within %u s%s", shim->launch->boot_timeout_ms / 1000,
        shim->qmp ? "" : ", and QEMU never answered on its QMP socket");

    shim->boot_timeout = 0;
    shim_boot_failed (shim, message);
    return G_SOURCE_REMOVE;
}

/* Everything up to spawning QEMU; FALSE with @error when the box cannot start. */
/* The user QEMU runs as when the monitor is root: the guest's first step
 * out of the VM lands in a process that owns nothing and can gain nothing.
 * boxlite-qemu when the system has it (scripts/setup.sh makes it), else
 * nobody; with neither, no box starts as root. */
static char *
qemu_user (GError **error)
{
    static const char *const candidates[] = { "boxlite-qemu", "nobody" };

    for (guint i = 0; i < G_N_ELEMENTS (candidates); i++) {
        struct passwd *pw = getpwnam (candidates[i]);
        if (pw && pw->pw_uid != 0)
            return g_strdup (candidates[i]);
    }
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                 "no unprivileged user (boxlite-qemu or nobody) for QEMU to run as");
    return NULL;
}

/* Set by bench/bench-exec.c in the environment of the monitors it starts;
 * nothing else sets them. A size out of bounds is ignored. */
static void
measurement_knobs (BlLaunch *launch)
{
    const char *tb = g_getenv ("BOXLITE_TCG_TB_SIZE_MIB");
    guint64 mib = 0;

    if (tb && g_ascii_string_to_unsigned (tb, 10, 1, 1024, &mib, NULL))
        launch->tb_size_mib = (guint) mib;
    launch->qga_port = g_strcmp0 (g_getenv ("BOXLITE_QGA_PORT"), "1") == 0;
}

static gboolean
prepare (Shim *shim, GStrv *argv, GError **error)
{
    g_autofree char *launch_path = g_build_filename (shim->box_dir, "launch.json", NULL);
    BoxliteAccel accel = BOXLITE_ACCEL_TCG;

    shim->launch = bl_launch_load (launch_path, error);
    if (!shim->launch)
        return FALSE;
    g_autofree char *want = g_canonicalize_filename (shim->launch->box_dir, NULL);
    if (!g_str_equal (want, shim->box_dir)) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "launch.json is for %s, not %s", shim->launch->box_dir, shim->box_dir);
        return FALSE;
    }
    if (!bl_accel_resolve (&bl_accel_real_host, shim->launch->accel, &accel, error))
        return FALSE;
    guint tsc_khz = 0;
    if (accel == BOXLITE_ACCEL_TCG) {
        tsc_khz = bl_accel_cpuid_tsc_khz ();
        if (!tsc_khz)
            tsc_khz = bl_accel_host_tsc_khz ("/proc/cpuinfo");
    }
    if (geteuid () == 0 && !(shim->launch->qemu_user = qemu_user (error)))
        return FALSE;
    if (!shim_volumes_check (shim, error))
        return FALSE;
    measurement_knobs (shim->launch);
    shim_template_choose (shim, accel, tsc_khz);
    *argv = bl_qemu_argv_build (shim->launch, accel, tsc_khz, error);
    return *argv != NULL;
}

static gboolean
parse_args (int argc, char **argv, char **box_dir, int *ready_fd, int *lifeline_fd, GError **error)
{
    g_autofree char *dir = NULL;
    gint ready = -1, lifeline = -1;
    GOptionEntry entries[] = {
        { "box-dir", 0, 0, G_OPTION_ARG_FILENAME, &dir, "The box directory", "DIR" },
        { "ready-fd", 0, 0, G_OPTION_ARG_INT, &ready, "Where to write the boot verdict", "FD" },
        { "lifeline-fd", 0, 0, G_OPTION_ARG_INT, &lifeline, "Stop the box when this fd reports EOF",
          "FD" },
        { NULL },
    };
    g_autoptr (GOptionContext) context = g_option_context_new ("- run one boxlite box");

    g_option_context_add_main_entries (context, entries, NULL);
    if (!g_option_context_parse (context, &argc, &argv, error))
        return FALSE;
    if (!dir || !g_path_is_absolute (dir)) {
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                     "--box-dir must be an absolute path");
        return FALSE;
    }
    for (int i = 0; i < 2; i++) {
        int fd = i == 0 ? ready : lifeline;
        if (fd >= 0 && fd <= 2) {
            g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                         "fd %d is stdin, stdout or stderr", fd);
            return FALSE;
        }
        /* QEMU must not inherit the library's pipes. */
        if (fd >= 0 && fcntl (fd, F_SETFD, FD_CLOEXEC) < 0) {
            g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "fd %d is not open", fd);
            return FALSE;
        }
    }
    *box_dir = g_canonicalize_filename (dir, NULL);
    *ready_fd = ready;
    *lifeline_fd = lifeline;
    return TRUE;
}

static Shim *
shim_new (char *box_dir, int ready_fd, int lifeline_fd)
{
    Shim *shim = g_new0 (Shim, 1);

    shim->box_dir = box_dir;
    shim->ready_fd = ready_fd;
    shim->lifeline_fd = lifeline_fd;
    shim->loop = g_main_loop_new (NULL, FALSE);
    shim->cancellable = g_cancellable_new ();
    shim->relays = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) shim_relay_free);
    shim->next_agent_channel = 1;
    shim->disk_fdset = BL_QEMU_DISK_FDSET;
    shim->state = BOXLITE_BOX_STATE_CONFIGURED;
    for (guint i = 0; i < SHIM_N_PASS_FDS; i++)
        shim->pass_fds[i] = -1;
    shim->template_lock_fd = -1;
    shim->ram_fd = -1;
    shim->clients = g_ptr_array_new ();
    shim->stop_waiters = g_ptr_array_new_with_free_func (g_object_unref);
    g_queue_init (&shim->agent_replies);
    g_queue_init (&shim->stats_waiting);
    return shim;
}

static void
shim_free (Shim *shim)
{
    g_clear_object (&shim->qmp);
    g_clear_object (&shim->agent);
    g_clear_object (&shim->control);
    g_clear_pointer (&shim->console, shim_console_free);
    g_hash_table_unref (shim->relays);
    g_clear_pointer (&shim->main_log, shim_log_file_free);
    g_ptr_array_unref (shim->clients);
    g_ptr_array_unref (shim->stop_waiters);
    g_queue_clear (&shim->agent_replies);
    shim_stats_clear (shim);
    shim_idle_free (shim);
    g_clear_pointer (&shim->launch, bl_launch_free);
    g_clear_object (&shim->cancellable);
    g_main_loop_unref (shim->loop);
    g_free (shim->boot_error);
    g_free (shim->crash_reason);
    g_free (shim->start_reason);
    g_free (shim->template_dir);
    shim_template_close_fds (shim);
    g_free (shim->box_dir);
    g_free (shim);
}

int
main (int argc, char **argv)
{
    g_autoptr (GError) error = NULL;
    g_auto (GStrv) qemu_argv = NULL;
    char *box_dir = NULL;
    int ready_fd = -1, lifeline_fd = -1;

    umask (077);
    /* A client or reader that went away must be an EPIPE, not our death. */
    signal (SIGPIPE, SIG_IGN);
    if (!parse_args (argc, argv, &box_dir, &ready_fd, &lifeline_fd, &error)) {
        g_printerr ("boxlite-shim: %s\n", error->message);
        if (ready_fd > 2) {
            g_autofree char *line = g_strdup_printf ("error: %s\n", error->message);
            if (write (ready_fd, line, strlen (line)) < 0)
                g_printerr ("boxlite-shim: cannot report to the ready fd\n");
        }
        return 2;
    }
    if (!shim_log_redirect (box_dir, &error))
        g_printerr ("boxlite-shim: %s\n", error->message);
    g_clear_error (&error);

    Shim *shim = shim_new (box_dir, ready_fd, lifeline_fd);
    g_message ("monitor %d for %s", (int) getpid (), box_dir);
    shim_signals_watch (shim);
    shim_lifeline_watch (shim);
    if (!prepare (shim, &qemu_argv, &error)) {
        shim_boot_failed (shim, error->message);
    } else {
        bl_monitor_remove_sockets (shim->box_dir);
        shim->boot_timeout = g_timeout_add (shim->launch->boot_timeout_ms, on_boot_timeout, shim);
        if (!(shim->console = shim_console_listen (shim->box_dir, &error)) ||
            !shim_net_start (shim, &error) ||
            !shim_qemu_start (shim, (const char *const *) qemu_argv, &error))
            shim_boot_failed (shim, error->message);
    }
    if (!shim->finished)
        g_main_loop_run (shim->loop);
    int code = shim->exit_code;
    shim_free (shim);
    return code;
}

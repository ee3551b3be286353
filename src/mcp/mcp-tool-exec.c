/* mcp-tool-exec.c: tools that run a command in a box and report what it
 * printed and how it ended.
 *
 * A command may print without end; the client gets the first
 * BL_MCP_OUTPUT_MAX bytes of each stream and a note of how many there were,
 * and the rest is read and dropped so that the command never blocks on a
 * full pipe. Both streams are read at once, on a main context of the
 * calling (worker) thread. Cancelling the call kills the command; the call
 * returns once it is gone. */
#define G_LOG_DOMAIN "boxlite-mcp"

#include <signal.h>

#include "mcp-tools.h"

#define READ_CHUNK (16 * 1024)
#define DEFAULT_TIMEOUT_S 120

/* sh reads the script from a pipe on fd 3 while the script's commands get
 * an empty stdin, so that none of them can read the rest of the script; a
 * script is read as it runs, never held whole in a variable or an argv
 * (which the kernel bounds). */
static const char shell_runner[] = "exec 3<&0 </dev/null; . /proc/self/fd/3";

typedef struct {
    GInputStream *stream;
    GByteArray *kept; /* the first BL_MCP_OUTPUT_MAX bytes */
    guint64 total;
    gboolean done;
    GError *error;
    guint8 buf[READ_CHUNK];
} Capture;

typedef struct {
    Capture out, err;
    gboolean waited;
    GError *wait_error;
    gboolean input_done; /* written, or refused by a command that ended */
} Run;

static void read_more (Capture *capture);

static void
on_read (GObject *source, GAsyncResult *res, gpointer user_data)
{
    Capture *capture = user_data;
    gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), res, &capture->error);

    if (n <= 0) {
        capture->done = TRUE;
        return;
    }
    capture->total += (guint64) n;
    if (capture->kept->len < BL_MCP_OUTPUT_MAX)
        g_byte_array_append (capture->kept, capture->buf,
                             MIN ((guint) n, BL_MCP_OUTPUT_MAX - capture->kept->len));
    read_more (capture);
}

static void
read_more (Capture *capture)
{
    g_input_stream_read_async (capture->stream, capture->buf, sizeof capture->buf,
                               G_PRIORITY_DEFAULT, NULL, on_read, capture);
}

static void
capture_start (Capture *capture, GInputStream *stream)
{
    capture->stream = stream;
    capture->kept = g_byte_array_new ();
    read_more (capture);
}

static void
capture_clear (Capture *capture)
{
    g_clear_pointer (&capture->kept, g_byte_array_unref);
    g_clear_error (&capture->error);
}

static void
on_waited (GObject *source, GAsyncResult *res, gpointer user_data)
{
    Run *run = user_data;

    boxlite_execution_wait_finish (BOXLITE_EXECUTION (source), res, &run->wait_error);
    run->waited = TRUE;
}

static void
on_input_written (GObject *source, GAsyncResult *res, gpointer user_data)
{
    Run *run = user_data;
    g_autoptr (GError) error = NULL;

    if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), res, NULL, &error))
        g_debug ("the command took only part of its input: %s", error->message);
    (void) g_output_stream_close (G_OUTPUT_STREAM (source), NULL, NULL);
    run->input_done = TRUE;
}

static void
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
    (void) boxlite_execution_kill (user_data, SIGKILL, NULL);
}

/* A block for what @capture kept, with a note when it dropped some. */
static void
add_output (BlMcpResult *result, Capture *capture, const char *label)
{
    if (capture->total == 0)
        return;
    g_autoptr (GString) block = g_string_new (NULL);
    if (label)
        g_string_append_printf (block, "%s:\n", label);
    g_string_append_len (block, (const char *) capture->kept->data, capture->kept->len);
    if (capture->total > capture->kept->len)
        g_string_append_printf (
            block, "\n[output truncated: %" G_GUINT64_FORMAT " bytes in all, the first %u shown]",
            capture->total, capture->kept->len);
    bl_mcp_result_add_text (result, block->str, block->len);
}

/* How the command ended, as the last block; anything but exit status 0 is
 * an error. */
static void
add_outcome (BlMcpResult *result, BoxliteExecution *exe, guint timeout_s)
{
    if (boxlite_execution_get_exited (exe)) {
        int code = boxlite_execution_get_exit_code (exe);
        result->is_error = code != 0;
        bl_mcp_result_add (result, "exit status %d", code);
        return;
    }
    int signal_number = boxlite_execution_get_term_signal (exe);
    result->is_error = TRUE;
    if (boxlite_execution_get_timed_out (exe))
        bl_mcp_result_add (result, "timed out after %u s (killed by signal %d)", timeout_s,
                           signal_number);
    else if (boxlite_execution_get_oom_killed (exe))
        bl_mcp_result_add (result, "killed by signal %d: the box ran out of memory", signal_number);
    else
        bl_mcp_result_add (result, "killed by signal %d (%s)", signal_number,
                           g_strsignal (signal_number));
}

/* Runs @command in @box with @input (nullable) on its stdin, and adds its
 * output and outcome to @result. */
static void
run_command (BoxliteBox *box, BoxliteCommand *command, GBytes *input, GCancellable *cancellable,
             BlMcpResult *result)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GMainContext) context = g_main_context_new ();
    Run run = { 0 };

    boxlite_command_set_stdin (command, input != NULL);
    g_autoptr (BoxliteExecution) exe = boxlite_box_exec (box, command, cancellable, &error);
    if (!exe) {
        bl_mcp_result_fail (result, error);
        return;
    }
    g_main_context_push_thread_default (context);
    capture_start (&run.out, boxlite_execution_get_stdout (exe));
    capture_start (&run.err, boxlite_execution_get_stderr (exe));
    boxlite_execution_wait_async (exe, NULL, on_waited, &run);
    gulong handler =
        cancellable ? g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), exe, NULL) : 0;
    /* Written while the output is read: a script prints as it is read. */
    run.input_done = input == NULL;
    if (input)
        g_output_stream_write_all_async (boxlite_execution_get_stdin (exe),
                                         g_bytes_get_data (input, NULL), g_bytes_get_size (input),
                                         G_PRIORITY_DEFAULT, NULL, on_input_written, &run);
    while (!run.out.done || !run.err.done || !run.waited || !run.input_done)
        g_main_context_iteration (context, TRUE);
    if (handler)
        g_cancellable_disconnect (cancellable, handler);
    g_main_context_pop_thread_default (context);

    add_output (result, &run.out, NULL);
    add_output (result, &run.err, "stderr");
    if (run.wait_error)
        bl_mcp_result_fail (result, run.wait_error);
    else
        add_outcome (result, exe, boxlite_command_get_timeout_ms (command) / 1000);
    capture_clear (&run.out);
    capture_clear (&run.err);
    g_clear_error (&run.wait_error);
}

/* run_command() in the box the "box" argument names. */
static void
run_in_named_box (BoxliteRuntime *runtime, JsonObject *args, BoxliteCommand *command, GBytes *input,
                  GCancellable *cancellable, BlMcpResult *result)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBox) box = bl_mcp_running_box (
        runtime, json_object_get_string_member (args, "box"), cancellable, &error);

    if (!box) {
        bl_mcp_result_fail (result, error);
        return;
    }
    run_command (box, command, input, cancellable, result);
}

static guint
timeout_s (JsonObject *args)
{
    return (guint) json_object_get_int_member_with_default (args, "timeout_seconds",
                                                            DEFAULT_TIMEOUT_S);
}

void
bl_mcp_tool_exec (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                  BlMcpResult *result)
{
    JsonNode *given = json_object_get_member (args, "command");
    const char *working_dir =
        json_object_get_string_member_with_default (args, "working_dir", NULL);
    g_auto (GStrv) env = bl_mcp_env_strv (args);
    g_autoptr (GStrvBuilder) argv = g_strv_builder_new ();

    if (JSON_NODE_HOLDS_ARRAY (given)) {
        JsonArray *items = json_node_get_array (given);
        for (guint i = 0; i < json_array_get_length (items); i++)
            g_strv_builder_add (argv, json_array_get_string_element (items, i));
    } else {
        g_strv_builder_addv (argv,
                             (const char *[]){ "sh", "-c", json_node_get_string (given), NULL });
    }
    g_auto (GStrv) command_argv = g_strv_builder_end (argv);
    g_autoptr (BoxliteCommand) command = boxlite_command_new ((const char *const *) command_argv);
    if (env)
        boxlite_command_set_env (command, (const char *const *) env);
    if (working_dir)
        boxlite_command_set_working_dir (command, working_dir);
    boxlite_command_set_timeout_ms (command, timeout_s (args) * 1000);
    run_in_named_box (runtime, args, command, NULL, cancellable, result);
}

/* A box of the default image for one run_code call, removed by its monitor
 * when it stops, even if this process is killed meanwhile. */
static BoxliteBox *
fresh_box (BoxliteRuntime *runtime, gboolean network, GCancellable *cancellable, GError **error)
{
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();

    boxlite_box_options_set_auto_remove (options, TRUE);
    boxlite_box_options_set_network (options,
                                     network ? BOXLITE_NETWORK_ENABLED : BOXLITE_NETWORK_DISABLED);
    g_autoptr (BoxliteBox) box =
        boxlite_runtime_create (runtime, options, NULL, cancellable, error);
    if (!box)
        return NULL;
    if (!boxlite_box_start (box, cancellable, error)) {
        (void) boxlite_runtime_remove (runtime, boxlite_box_get_id (box), TRUE, NULL);
        return NULL;
    }
    return g_steal_pointer (&box);
}

static void
remove_fresh_box (BoxliteRuntime *runtime, BoxliteBox *box)
{
    g_autoptr (GError) error = NULL;

    /* Its disk is thrown away: no need for a clean shutdown. */
    if (boxlite_box_get_state (box) == BOXLITE_BOX_STATE_RUNNING &&
        !boxlite_box_stop (box, TRUE, NULL, &error))
        g_warning ("cannot stop box %s: %s", boxlite_box_get_id (box), error->message);
    g_clear_error (&error);
    if (!boxlite_runtime_remove (runtime, boxlite_box_get_id (box), TRUE, &error) &&
        !g_error_matches (error, BOXLITE_ERROR, BOXLITE_ERROR_NOT_FOUND))
        g_warning ("cannot remove box %s: %s", boxlite_box_get_id (box), error->message);
}

void
bl_mcp_tool_run_code (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                      BlMcpResult *result)
{
    const char *language = json_object_get_string_member (args, "language");
    const char *code = json_object_get_string_member (args, "code");
    const char *ref = json_object_get_string_member_with_default (args, "box", NULL);
    gboolean python = g_str_equal (language, "python");
    const char *python_argv[] = { "python3", "-", NULL };
    const char *shell_argv[] = { "sh", "-c", shell_runner, NULL };
    g_autoptr (BoxliteCommand) command = boxlite_command_new (python ? python_argv : shell_argv);
    g_autoptr (GBytes) input = g_bytes_new (code, strlen (code));
    g_autoptr (GError) error = NULL;

    boxlite_command_set_timeout_ms (command, timeout_s (args) * 1000);
    g_autoptr (BoxliteBox) box =
        ref ? bl_mcp_running_box (runtime, ref, cancellable, &error)
            : fresh_box (runtime,
                         json_object_get_boolean_member_with_default (args, "network", TRUE),
                         cancellable, &error);
    if (!box) {
        bl_mcp_result_fail (result, error);
        return;
    }
    run_command (box, command, input, cancellable, result);
    if (!ref)
        remove_fresh_box (runtime, box);
}

void
bl_mcp_tool_list_files (BoxliteRuntime *runtime, JsonObject *args, GCancellable *cancellable,
                        BlMcpResult *result)
{
    const char *path = json_object_get_string_member_with_default (args, "path", "/");
    gboolean recursive = json_object_get_boolean_member_with_default (args, "recursive", FALSE);
    const char *argv[] = { "ls", recursive ? "-lAR" : "-lA", "--", path, NULL };
    g_autoptr (BoxliteCommand) command = boxlite_command_new (argv);

    if (!g_path_is_absolute (path)) {
        bl_mcp_result_add (result, "path '%s' is not absolute", path);
        result->is_error = TRUE;
        return;
    }
    boxlite_command_set_timeout_ms (command, DEFAULT_TIMEOUT_S * 1000);
    run_in_named_box (runtime, args, command, NULL, cancellable, result);
}

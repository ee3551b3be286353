/* test-agent.c: the guest agent in --fd mode over a socketpair, speaking
 * bl_proto.h exactly as the host does, plus the initramfs writer. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <glib-unix.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bl_proto.h"
#include <boxlite/boxlite-error.h>
#include "initramfs.h"

#define TIMEOUT_MS 60000

typedef struct {
    guint32 channel;
    gboolean replied;
    guint extra_returns; /* replies to later requests ("signal") */
    guint extra_errors;  /* and errors from them */
    char *extra_class;   /* the class of the last of those errors */
    gboolean failed;
    char *err_class;
    char *err_desc;
    gint64 pid;
    GByteArray *out;
    GByteArray *err;
    gboolean out_eof;
    gboolean err_eof;
    gboolean exited;
    int code;   /* -1 when killed by a signal */
    int signal; /* 0 when it exited */
    gboolean timed_out;
    char *exit_class; /* a copy's "error" in its exit event */
    guint64 granted;  /* output credit given to the agent */
    guint64 received; /* output bytes received */
    gboolean manual_credit;
    /* stdin */
    const guint8 *in_data;
    gsize in_len;
    gsize in_sent;
    guint64 in_credit;
    gboolean in_close;
    gboolean in_close_sent;
} Run;

typedef struct {
    GSubprocess *proc;
    int fd;
    GByteArray *inbuf;
    GByteArray *outbuf;
    GHashTable *runs; /* channel -> Run* (not owned) */
    GQueue session;   /* JsonNode* from channel 0 */
    gboolean eof;
    char *log_path; /* the agent's stderr, or NULL when inherited */
} Agent;

static const char *
agent_path (void)
{
    const char *p = g_getenv ("BOXLITE_AGENT");
    g_assert_nonnull (p);
    return p;
}

/* With @log_path, the agent's stderr goes there; with @sndbuf, its end of
 * the socket has that small a send buffer, so its writes come out short;
 * with @append, that end is O_APPEND, which splice(2) refuses (EINVAL). */
static Agent *
agent_start_with (const char *log_path, int sndbuf, gboolean append)
{
    int sv[2];
    g_autoptr (GError) error = NULL;
    g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
    Agent *ag = g_new0 (Agent, 1);

    g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
    if (sndbuf)
        g_assert_cmpint (setsockopt (sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), ==, 0);
    if (append)
        g_assert_cmpint (fcntl (sv[1], F_SETFL, fcntl (sv[1], F_GETFL) | O_APPEND), ==, 0);
    if (log_path) {
        ag->log_path = g_strdup (log_path);
        g_subprocess_launcher_set_stderr_file_path (l, log_path);
    }
    g_subprocess_launcher_take_fd (l, sv[1], 3);
    ag->proc = g_subprocess_launcher_spawn (l, &error, agent_path (), "--fd", "3", NULL);
    g_assert_no_error (error);
    ag->fd = sv[0];
    g_unix_set_fd_nonblocking (ag->fd, TRUE, NULL);
    ag->inbuf = g_byte_array_new ();
    ag->outbuf = g_byte_array_new ();
    ag->runs = g_hash_table_new (NULL, NULL);
    g_queue_init (&ag->session);
    return ag;
}

static Agent *
agent_start (void)
{
    return agent_start_with (NULL, 0, FALSE);
}

static void
agent_free (Agent *ag)
{
    g_autoptr (GError) error = NULL;

    close (ag->fd);
    g_subprocess_wait (ag->proc, NULL, &error);
    g_assert_no_error (error);
    g_object_unref (ag->proc);
    g_byte_array_unref (ag->inbuf);
    g_byte_array_unref (ag->outbuf);
    g_hash_table_unref (ag->runs);
    g_queue_clear_full (&ag->session, (GDestroyNotify) json_node_unref);
    g_free (ag->log_path);
    g_free (ag);
}

static void
queue_frame (Agent *ag, guint32 channel, guint8 type, const void *data, gsize len)
{
    struct bl_frame_header h = { .len = (guint32) len, .channel = channel, .type = type };
    guint8 hdr[BL_PROTO_HEADER_SIZE];

    bl_proto_encode_header (hdr, &h);
    g_byte_array_append (ag->outbuf, hdr, sizeof hdr);
    if (len)
        g_byte_array_append (ag->outbuf, data, (guint) len);
}

static void
queue_json (Agent *ag, guint32 channel, const char *json)
{
    queue_frame (ag, channel, BL_FRAME_CONTROL, json, strlen (json));
}

static void
queue_credit (Agent *ag, guint32 channel, guint32 n)
{
    guint8 p[4];
    bl_proto_put_u32 (p, n);
    queue_frame (ag, channel, BL_FRAME_CREDIT, p, 4);
}

static JsonNode *
parse_json (const guint8 *data, gsize len)
{
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (GError) error = NULL;

    json_parser_load_from_data (parser, (const char *) data, (gssize) len, &error);
    g_assert_no_error (error);
    JsonNode *root = json_parser_steal_root (parser);
    g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
    return root;
}

static void
run_control (Agent *ag, Run *r, JsonObject *o)
{
    if (json_object_has_member (o, "return") && r->replied) {
        r->extra_returns++;
    } else if (json_object_has_member (o, "return")) {
        g_assert_false (r->failed);
        r->replied = TRUE;
        r->pid = json_object_get_int_member (json_object_get_object_member (o, "return"), "pid");
        g_assert_cmpint (r->pid, >, 0);
    } else if (json_object_has_member (o, "error") && r->replied) {
        JsonObject *e = json_object_get_object_member (o, "error");
        r->extra_errors++;
        g_free (r->extra_class);
        r->extra_class = g_strdup (json_object_get_string_member (e, "class"));
    } else if (json_object_has_member (o, "error")) {
        JsonObject *e = json_object_get_object_member (o, "error");
        r->failed = TRUE;
        r->err_class = g_strdup (json_object_get_string_member (e, "class"));
        r->err_desc = g_strdup (json_object_get_string_member (e, "desc"));
        g_hash_table_remove (ag->runs, GUINT_TO_POINTER (r->channel));
    } else {
        JsonObject *data = json_object_get_object_member (o, "data");
        g_assert_cmpstr (json_object_get_string_member (o, "event"), ==, "exit");
        g_assert_true (r->replied);
        /* Both streams end before the exit event. */
        g_assert_true (r->out_eof);
        g_assert_true (r->err_eof);
        r->exited = TRUE;
        if (json_object_has_member (data, "signal")) {
            r->signal = (int) json_object_get_int_member (data, "signal");
            r->code = -1;
        } else {
            r->code = (int) json_object_get_int_member (data, "code");
        }
        r->timed_out = json_object_get_boolean_member_with_default (data, "timed_out", FALSE);
        if (json_object_has_member (data, "error"))
            r->exit_class = g_strdup (json_object_get_string_member (
                json_object_get_object_member (data, "error"), "class"));
        g_hash_table_remove (ag->runs, GUINT_TO_POINTER (r->channel));
    }
}

static void
dispatch_frame (Agent *ag, const struct bl_frame_header *h, const guint8 *payload)
{
    if (h->channel == 0) {
        g_assert_cmpint (h->type, ==, BL_FRAME_CONTROL);
        g_queue_push_tail (&ag->session, parse_json (payload, h->len));
        return;
    }
    Run *r = g_hash_table_lookup (ag->runs, GUINT_TO_POINTER (h->channel));
    g_assert_nonnull (r);
    switch (h->type) {
    case BL_FRAME_CONTROL: {
        g_autoptr (JsonNode) node = parse_json (payload, h->len);
        run_control (ag, r, json_node_get_object (node));
        break;
    }
    case BL_FRAME_STDOUT:
    case BL_FRAME_STDERR: {
        gboolean is_out = h->type == BL_FRAME_STDOUT;
        /* The reply comes before any output. */
        g_assert_true (r->replied);
        g_assert_cmpuint (h->len, <=, BL_PROTO_MAX_PAYLOAD);
        if (h->len == 0) {
            g_assert_false (is_out ? r->out_eof : r->err_eof);
            if (is_out)
                r->out_eof = TRUE;
            else
                r->err_eof = TRUE;
            break;
        }
        g_assert_false (is_out ? r->out_eof : r->err_eof);
        g_byte_array_append (is_out ? r->out : r->err, payload, h->len);
        r->received += h->len;
        /* The agent never sends beyond the credit it was given. */
        g_assert_cmpuint (r->received, <=, r->granted);
        if (!r->manual_credit) {
            queue_credit (ag, r->channel, h->len);
            r->granted += h->len;
        }
        break;
    }
    case BL_FRAME_CREDIT:
        r->in_credit += bl_proto_get_u32 (payload);
        break;
    default:
        g_assert_not_reached ();
    }
}

static void
feed_stdin (Agent *ag)
{
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init (&it, ag->runs);
    while (g_hash_table_iter_next (&it, NULL, &value)) {
        Run *r = value;
        if (!r->replied)
            continue;
        while (r->in_sent < r->in_len && r->in_credit > 0) {
            gsize n = MIN (r->in_len - r->in_sent, MIN (r->in_credit, BL_PROTO_MAX_PAYLOAD));
            queue_frame (ag, r->channel, BL_FRAME_STDIN, r->in_data + r->in_sent, n);
            r->in_sent += n;
            r->in_credit -= n;
        }
        if (r->in_close && r->in_sent == r->in_len && !r->in_close_sent) {
            queue_frame (ag, r->channel, BL_FRAME_STDIN, NULL, 0);
            r->in_close_sent = TRUE;
        }
    }
}

/* One poll round: writes what is queued, reads and dispatches what came.
 * Returns FALSE when nothing happened within @timeout_ms. */
static gboolean
agent_pump (Agent *ag, int timeout_ms)
{
    struct pollfd p = { .fd = ag->fd, .events = POLLIN | (ag->outbuf->len ? POLLOUT : 0) };
    guint8 buf[256 * 1024];
    int rc;

    feed_stdin (ag);
    p.events = POLLIN | (ag->outbuf->len ? POLLOUT : 0);
    do
        rc = poll (&p, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    g_assert_cmpint (rc, >=, 0);
    if (rc == 0)
        return FALSE;
    if (p.revents & POLLOUT) {
        ssize_t n = write (ag->fd, ag->outbuf->data, ag->outbuf->len);
        if (n > 0)
            g_byte_array_remove_range (ag->outbuf, 0, (guint) n);
    }
    if (p.revents & (POLLIN | POLLHUP)) {
        ssize_t n = read (ag->fd, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            ag->eof = TRUE;
            return TRUE;
        }
        if (n > 0)
            g_byte_array_append (ag->inbuf, buf, (guint) n);
    }
    while (ag->inbuf->len >= BL_PROTO_HEADER_SIZE) {
        struct bl_frame_header h;
        g_assert_cmpint (bl_proto_decode_header (ag->inbuf->data, &h), ==, 0);
        if (ag->inbuf->len < BL_PROTO_HEADER_SIZE + h.len)
            break;
        dispatch_frame (ag, &h, ag->inbuf->data + BL_PROTO_HEADER_SIZE);
        g_byte_array_remove_range (ag->inbuf, 0, BL_PROTO_HEADER_SIZE + h.len);
    }
    return TRUE;
}

static JsonObject *
session_next (Agent *ag)
{
    gint64 end = g_get_monotonic_time () + TIMEOUT_MS * 1000;
    while (g_queue_is_empty (&ag->session)) {
        g_assert_false (ag->eof);
        g_assert_cmpint (g_get_monotonic_time (), <, end);
        agent_pump (ag, 100);
    }
    JsonNode *node = g_queue_pop_head (&ag->session);
    JsonObject *o = json_object_ref (json_node_get_object (node));
    json_node_unref (node);
    return o;
}

static void
agent_hello (Agent *ag)
{
    JsonObject *o = session_next (ag);

    g_assert_cmpstr (json_object_get_string_member (o, "event"), ==, "ready");
    g_assert_cmpint (
        json_object_get_int_member (json_object_get_object_member (o, "data"), "version"), ==,
        BL_PROTO_VERSION);
    json_object_unref (o);
    queue_json (ag, 0, "{\"execute\":\"hello\",\"arguments\":{\"version\":1}}");
    o = session_next (ag);
    g_assert_cmpint (
        json_object_get_int_member (json_object_get_object_member (o, "return"), "version"), ==,
        BL_PROTO_VERSION);
    json_object_unref (o);
}

static Agent *
agent_start_hello (void)
{
    Agent *ag = agent_start ();
    agent_hello (ag);
    return ag;
}

static void
agent_stop (Agent *ag)
{
    queue_json (ag, 0, "{\"execute\":\"shutdown\",\"arguments\":{}}");
    JsonObject *o = session_next (ag);
    g_assert_true (json_object_has_member (o, "return"));
    json_object_unref (o);
    while (!ag->eof)
        agent_pump (ag, 1000);
}

static void
agent_shutdown (Agent *ag)
{
    agent_stop (ag);
    agent_free (ag);
}

static Run *
run_new (guint32 channel)
{
    Run *r = g_new0 (Run, 1);
    r->channel = channel;
    r->out = g_byte_array_new ();
    r->err = g_byte_array_new ();
    r->granted = BL_PROTO_INITIAL_CREDIT;
    r->in_credit = BL_PROTO_INITIAL_CREDIT;
    return r;
}

static void
run_free (Run *r)
{
    g_byte_array_unref (r->out);
    g_byte_array_unref (r->err);
    g_free (r->err_class);
    g_free (r->err_desc);
    g_free (r->extra_class);
    g_free (r->exit_class);
    g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Run, run_free)

/* Sends @command with @args_json (the arguments object) on @channel. */
static Run *
run_start_command (Agent *ag, guint32 channel, const char *command, const char *args_json)
{
    Run *r = run_new (channel);
    g_autofree char *msg =
        g_strdup_printf ("{\"execute\":\"%s\",\"arguments\":%s}", command, args_json);

    g_hash_table_insert (ag->runs, GUINT_TO_POINTER (channel), r);
    queue_json (ag, channel, msg);
    return r;
}

/* Sends "exec" with @args_json (the arguments object) on @channel. */
static Run *
run_start (Agent *ag, guint32 channel, const char *args_json)
{
    return run_start_command (ag, channel, "exec", args_json);
}

static gboolean
run_done (Run *r)
{
    return r->failed || r->exited;
}

static void
run_wait (Agent *ag, Run *r)
{
    gint64 end = g_get_monotonic_time () + TIMEOUT_MS * 1000;
    while (!run_done (r)) {
        g_assert_false (ag->eof);
        g_assert_cmpint (g_get_monotonic_time (), <, end);
        agent_pump (ag, 100);
    }
}

static Run *
run_sync (Agent *ag, guint32 channel, const char *args_json)
{
    Run *r = run_start (ag, channel, args_json);
    run_wait (ag, r);
    return r;
}

static char *
run_stdout (Run *r)
{
    return g_strndup ((const char *) r->out->data, r->out->len);
}

static char *
run_stderr (Run *r)
{
    return g_strndup ((const char *) r->err->data, r->err->len);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_hello (void)
{
    Agent *ag = agent_start_hello ();

    queue_json (ag, 0, "{\"execute\":\"hello\",\"arguments\":{\"version\":2}}");
    JsonObject *o = session_next (ag);
    g_assert_cmpstr (
        json_object_get_string_member (json_object_get_object_member (o, "error"), "class"), ==,
        "VersionMismatch");
    json_object_unref (o);
    agent_shutdown (ag);
}

/* "identity" is checked whole before anything is applied: a wrong one is
 * refused and the link stays up; a good one is answered (in --fd mode the
 * agent changes nothing of the system it runs on). */
static void
test_identity (void)
{
    static const char *const refused[] = {
        "{}",
        "{\"hostname\":\"a b\",\"box_id\":\"x\",\"time_ns\":1,\"entropy\":\"@\"}",
        "{\"hostname\":\"a\",\"box_id\":\"x\",\"entropy\":\"@\"}",
        "{\"hostname\":\"a\",\"box_id\":\"x\",\"time_ns\":1,\"entropy\":\"@0\"}",
        "{\"hostname\":\"a\",\"box_id\":\"x\",\"time_ns\":1,\"entropy\":\"@\","
        "\"pids_max\":0}",
    };
    g_autofree char *hex = g_strnfill (128, 'a');
    Agent *ag = agent_start_hello ();

    for (guint i = 0; i < G_N_ELEMENTS (refused); i++) {
        GString *text = g_string_new (refused[i]);
        g_string_replace (text, "@", hex, 0);
        g_autofree char *args = g_string_free (text, FALSE);
        g_autofree char *req =
            g_strdup_printf ("{\"execute\":\"identity\",\"arguments\":%s}", args);
        queue_json (ag, 0, req);
        JsonObject *o = session_next (ag);
        JsonObject *err = json_object_get_object_member (o, "error");
        g_assert_nonnull (err);
        g_assert_cmpstr (json_object_get_string_member (err, "class"), ==, "InvalidArgument");
        json_object_unref (o);
    }
    g_autofree char *good = g_strdup_printf (
        "{\"execute\":\"identity\",\"arguments\":{\"hostname\":\"box-1\",\"box_id\":\"id\","
        "\"time_ns\":1700000000000000000,\"entropy\":\"%s\",\"network\":false}}",
        hex);
    queue_json (ag, 0, good);
    JsonObject *o = session_next (ag);
    g_assert_true (json_object_has_member (o, "return"));
    json_object_unref (o);
    agent_shutdown (ag);
}

/* "mount" checks every volume before it touches anything, and only PID 1
 * of a box mounts: here it refuses, and the link stays up. */
/* Sends the session request @command with @args and checks that the answer
 * is an error of class @klass whose text has @says (nullable) in it. */
static void
assert_session_error (Agent *ag, const char *command, const char *args, const char *klass,
                      const char *says)
{
    g_autofree char *req = g_strdup_printf ("{\"execute\":\"%s\",\"arguments\":%s}", command, args);
    queue_json (ag, 0, req);
    JsonObject *o = session_next (ag);
    JsonObject *err = json_object_get_object_member (o, "error");
    g_assert_nonnull (err);
    g_assert_cmpstr (json_object_get_string_member (err, "class"), ==, klass);
    if (says)
        g_assert_nonnull (strstr (json_object_get_string_member (err, "desc"), says));
    json_object_unref (o);
}

static void
test_mount_refused (void)
{
    static const struct {
        const char *args, *klass;
    } cases[] = {
        { "{}", "InvalidArgument" },
        { "{\"volumes\":{}}", "InvalidArgument" },
        { "{\"volumes\":[{\"tag\":\"boxlite0\",\"path\":\"rel\"}]}", "InvalidArgument" },
        { "{\"volumes\":[{\"tag\":\"boxlite0\",\"path\":\"/\"}]}", "InvalidArgument" },
        { "{\"volumes\":[{\"tag\":\"boxlite0\",\"path\":\"/a/../etc\"}]}", "InvalidArgument" },
        { "{\"volumes\":[{\"tag\":\"/dev/vda\",\"path\":\"/x\"}]}", "InvalidArgument" },
        { "{\"volumes\":[{\"tag\":\"boxlite123\",\"path\":\"/x\"}]}", "InvalidArgument" },
        { "{\"volumes\":[{\"tag\":\"boxlite0\",\"path\":\"/x\",\"read_only\":1}]}",
          "InvalidArgument" },
        { "{\"volumes\":[\"boxlite0\"]}", "InvalidArgument" },
        { "{\"volumes\":[{\"tag\":\"boxlite0\",\"path\":\"/x..y/..z\",\"read_only\":true}]}",
          "Failed" },
    };
    Agent *ag = agent_start_hello ();

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
        assert_session_error (ag, "mount", cases[i].args, cases[i].klass, NULL);
    agent_shutdown (ag);
}

/* Run on the host (--fd mode), the agent must never freeze: these would be
 * the host's filesystems. Bad timeouts are refused first; a thaw with
 * nothing frozen thaws nothing. */
static void
test_freeze_refused (void)
{
    static const struct {
        const char *args, *klass, *says;
    } cases[] = {
        { "{\"timeout_ms\":0}", "InvalidArgument", "timeout_ms" },
        { "{\"timeout_ms\":10001}", "InvalidArgument", "timeout_ms" },
        { "{\"timeout_ms\":\"5\"}", "InvalidArgument", "timeout_ms" },
        { "{\"timeout_ms\":1000}", "Failed", "not PID 1" },
        { "{}", "Failed", "not PID 1" },
    };
    Agent *ag = agent_start_hello ();

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
        assert_session_error (ag, "freeze", cases[i].args, cases[i].klass, cases[i].says);
    queue_json (ag, 0, "{\"execute\":\"thaw\",\"arguments\":{}}");
    JsonObject *o = session_next (ag);
    JsonObject *ret = json_object_get_object_member (o, "return");
    g_assert_nonnull (ret);
    g_assert_cmpint (json_object_get_int_member (ret, "thawed"), ==, 0);
    g_assert_false (json_object_get_boolean_member (ret, "expired"));
    json_object_unref (o);
    agent_shutdown (ag);
}

/* The agent reads its own system's figures: run on the host here, they must
 * be the host's. */
static void
test_stats (void)
{
    Agent *ag = agent_start_hello ();
    g_autofree char *meminfo = NULL;

    queue_json (ag, 0, "{\"execute\":\"stats\",\"arguments\":{}}");
    JsonObject *o = session_next (ag);
    JsonObject *ret = json_object_get_object_member (o, "return");
    g_assert_nonnull (ret);

    g_assert_true (g_file_get_contents ("/proc/meminfo", &meminfo, NULL, NULL));
    const char *line = strstr (meminfo, "MemTotal:");
    g_assert_nonnull (line);
    guint64 kib = g_ascii_strtoull (line + strlen ("MemTotal:"), NULL, 10);
    g_assert_cmpint (json_object_get_int_member (ret, "mem_total"), ==, (gint64) kib * 1024);
    g_assert_cmpint (json_object_get_int_member (ret, "mem_available"), <=,
                     json_object_get_int_member (ret, "mem_total"));
    g_assert_cmpint (json_object_get_int_member (ret, "processes"), >=, 2);
    g_assert_true (json_object_has_member (ret, "load1"));
    g_assert_true (json_object_has_member (ret, "load15"));
    g_assert_cmpint (json_object_get_int_member (ret, "disk_total"), >, 0);
    g_assert_cmpint (json_object_get_int_member (ret, "disk_used"), <=,
                     json_object_get_int_member (ret, "disk_total"));
    g_assert_cmpint (json_object_get_int_member (ret, "disk_available"), <=,
                     json_object_get_int_member (ret, "disk_total"));
    json_object_unref (o);
    agent_shutdown (ag);
}

static void
test_version (void)
{
    g_autofree char *out = NULL;
    g_autoptr (GError) error = NULL;
    int status;
    const char *argv[] = { agent_path (), "--version", NULL };

    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status,
                  &error);
    g_assert_no_error (error);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
    g_assert_true (g_str_has_prefix (out, "boxlite-agent "));
}

static void
test_echo (void)
{
    Agent *ag = agent_start_hello ();
    g_autoptr (Run) r = run_sync (ag, 1, "{\"argv\":[\"echo\",\"hello\",\"world\"]}");
    g_autofree char *out = run_stdout (r);

    g_assert_true (r->exited);
    g_assert_cmpint (r->code, ==, 0);
    g_assert_cmpstr (out, ==, "hello world\n");
    g_assert_cmpuint (r->err->len, ==, 0);
    agent_shutdown (ag);
}

static void
test_exit_codes (void)
{
    Agent *ag = agent_start_hello ();
    const int codes[] = { 0, 1, 7 };

    for (guint i = 0; i < G_N_ELEMENTS (codes); i++) {
        g_autofree char *args =
            g_strdup_printf ("{\"argv\":[\"sh\",\"-c\",\"exit %d\"]}", codes[i]);
        /* The same channel is reused once the exit came. */
        g_autoptr (Run) r = run_sync (ag, 5, args);
        g_assert_true (r->exited);
        g_assert_cmpint (r->code, ==, codes[i]);
        g_assert_cmpint (r->signal, ==, 0);
        g_assert_false (r->timed_out);
    }
    agent_shutdown (ag);
}

static void
test_signal (void)
{
    Agent *ag = agent_start_hello ();
    g_autoptr (Run) r1 = run_sync (ag, 1, "{\"argv\":[\"sh\",\"-c\",\"kill -TERM $$\"]}");

    g_assert_true (r1->exited);
    g_assert_cmpint (r1->signal, ==, SIGTERM);
    g_assert_cmpint (r1->code, ==, -1);

    /* The "signal" request. */
    g_autoptr (Run) r2 = run_start (ag, 2, "{\"argv\":[\"sleep\",\"30\"]}");
    while (!r2->replied)
        agent_pump (ag, 100);
    queue_json (ag, 2, "{\"execute\":\"signal\",\"arguments\":{\"signal\":9}}");
    gint64 end = g_get_monotonic_time () + TIMEOUT_MS * 1000;
    while (!r2->extra_returns && !run_done (r2)) {
        g_assert_cmpint (g_get_monotonic_time (), <, end);
        agent_pump (ag, 100);
    }
    run_wait (ag, r2);
    g_assert_cmpuint (r2->extra_returns, ==, 1);
    g_assert_cmpint (r2->signal, ==, 9);
    g_assert_false (r2->timed_out);
    agent_shutdown (ag);
}

static void
test_stdout_stderr (void)
{
    Agent *ag = agent_start_hello ();
    g_autoptr (Run) r = run_sync (ag, 3,
                                  "{\"argv\":[\"sh\",\"-c\",\"printf out1; printf err1 >&2; printf "
                                  "out2; printf err2 >&2\"]}");
    g_autofree char *out = run_stdout (r);
    g_autofree char *err = run_stderr (r);

    g_assert_cmpstr (out, ==, "out1out2");
    g_assert_cmpstr (err, ==, "err1err2");
    agent_shutdown (ag);
}

static void
test_binary_cat (void)
{
    Agent *ag = agent_start_hello ();
    gsize len = 1024 * 1024;
    g_autofree guint8 *data = g_malloc (len);

    for (gsize i = 0; i < len; i++)
        data[i] = (guint8) g_random_int ();
    Run *r = run_start (ag, 9, "{\"argv\":[\"cat\"],\"stdin\":true}");
    r->in_data = data;
    r->in_len = len;
    r->in_close = TRUE;
    run_wait (ag, r);
    g_assert_true (r->exited);
    g_assert_cmpint (r->code, ==, 0);
    g_assert_cmpuint (r->out->len, ==, len);
    g_assert_true (memcmp (r->out->data, data, len) == 0);
    g_assert_cmpuint (r->in_sent, ==, len);
    run_free (r);
    agent_shutdown (ag);
}

/* Waits for @r, granting output credit only once it is used up, the sizes
 * of @grants in turn; checks that nothing arrives while none is left.
 * Returns how many times it ran out. */
static guint
run_wait_granting (Agent *ag, Run *r, const guint32 *grants, gsize n_grants)
{
    gint64 end = g_get_monotonic_time () + 240 * G_USEC_PER_SEC;
    guint stalls = 0;

    r->manual_credit = TRUE;
    while (!run_done (r)) {
        g_assert_cmpint (g_get_monotonic_time (), <, end);
        agent_pump (ag, 20);
        if (r->received == r->granted && !run_done (r)) {
            /* Credit used up: nothing more may arrive until we grant. */
            while (agent_pump (ag, 30))
                ;
            g_assert_cmpuint (r->received, ==, r->granted);
            guint32 n = grants[stalls++ % n_grants];
            queue_credit (ag, r->channel, n);
            r->granted += n;
        }
    }
    return stalls;
}

static void
test_slow_credit (void)
{
    Agent *ag = agent_start_hello ();
    const guint64 total = 20 * 1024 * 1024;
    Run *r = run_start (ag, 4, "{\"argv\":[\"head\",\"-c\",\"20971520\",\"/dev/zero\"]}");
    const guint32 grants[] = { 512 * 1024 };
    guint rounds;

    rounds = run_wait_granting (ag, r, grants, G_N_ELEMENTS (grants));
    g_assert_true (r->exited);
    g_assert_cmpint (r->code, ==, 0);
    g_assert_cmpuint (r->received, ==, total);
    g_assert_cmpuint (rounds, >=, 30);
    for (guint i = 0; i < r->out->len; i++)
        if (r->out->data[i] != 0)
            g_assert_not_reached ();
    run_free (r);
    agent_shutdown (ag);
}

static void
test_parallel (void)
{
    Agent *ag = agent_start_hello ();
    Run *runs[4];

    for (guint i = 0; i < 4; i++) {
        g_autofree char *args = g_strdup_printf ("{\"argv\":[\"sh\",\"-c\",\"for i in 1 2 3; do "
                                                 "echo %u-$i; sleep 0.1; done; exit %u\"]}",
                                                 i + 1, i + 1);
        runs[i] = run_start (ag, 100 + i, args);
    }
    gint64 end = g_get_monotonic_time () + TIMEOUT_MS * 1000;
    while (g_hash_table_size (ag->runs)) {
        g_assert_cmpint (g_get_monotonic_time (), <, end);
        agent_pump (ag, 100);
    }
    for (guint i = 0; i < 4; i++) {
        g_autofree char *out = run_stdout (runs[i]);
        g_autofree char *want = g_strdup_printf ("%u-1\n%u-2\n%u-3\n", i + 1, i + 1, i + 1);
        g_assert_true (runs[i]->exited);
        g_assert_cmpint (runs[i]->code, ==, (int) i + 1);
        g_assert_cmpstr (out, ==, want);
        run_free (runs[i]);
    }
    agent_shutdown (ag);
}

static void
test_env_cwd (void)
{
    Agent *ag = agent_start_hello ();
    g_autofree char *dir = g_dir_make_tmp ("agent-cwd-XXXXXX", NULL);
    g_autofree char *args =
        g_strdup_printf ("{\"argv\":[\"sh\",\"-c\",\"echo \\\"$FOO|$BAR|$PATH\\\"; pwd\"],"
                         "\"env\":[\"FOO=one\",\"BAR=a=b\",\"FOO=two\"],\"cwd\":\"%s\"}",
                         dir);
    g_autoptr (Run) r = run_sync (ag, 1, args);
    g_autofree char *out = run_stdout (r);
    g_autofree char *want = g_strdup_printf (
        "two|a=b|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n%s\n", dir);

    g_assert_cmpint (r->code, ==, 0);
    g_assert_cmpstr (out, ==, want);

    /* HOME is always set. */
    g_autoptr (Run) r2 = run_sync (ag, 1, "{\"argv\":[\"sh\",\"-c\",\"test -n \\\"$HOME\\\"\"]}");
    g_assert_cmpint (r2->code, ==, 0);

    /* The lookup uses the child's PATH. */
    g_autoptr (Run) r3 =
        run_sync (ag, 2, "{\"argv\":[\"sh\",\"-c\",\"true\"],\"env\":[\"PATH=/nonexistent\"]}");
    g_assert_true (r3->failed);
    g_assert_cmpstr (r3->err_class, ==, "CommandNotFound");

    /* A missing directory is the caller's mistake. */
    g_autoptr (Run) r4 = run_sync (ag, 3, "{\"argv\":[\"true\"],\"cwd\":\"/nonexistent/dir\"}");
    g_assert_true (r4->failed);
    g_assert_cmpstr (r4->err_class, ==, "InvalidArgument");
    g_assert_nonnull (strstr (r4->err_desc, "/nonexistent/dir"));

    /* So is an unknown user. */
    g_autoptr (Run) r5 = run_sync (ag, 4, "{\"argv\":[\"true\"],\"user\":\"no-such-user-here\"}");
    g_assert_true (r5->failed);
    g_assert_cmpstr (r5->err_class, ==, "InvalidArgument");

    if (geteuid () == 0) {
        g_autoptr (Run) r6 =
            run_sync (ag, 5, "{\"argv\":[\"sh\",\"-c\",\"id -u; id -g\"],\"user\":\"1234:4321\"}");
        g_autofree char *ids = run_stdout (r6);
        g_assert_cmpstr (ids, ==, "1234\n4321\n");
    }
    g_rmdir (dir);
    agent_shutdown (ag);
}

static void
test_timeout (void)
{
    Agent *ag = agent_start_hello ();
    gint64 start = g_get_monotonic_time ();
    g_autoptr (Run) r =
        run_sync (ag, 1, "{\"argv\":[\"sh\",\"-c\",\"sleep 30; echo late\"],\"timeout_ms\":500}");

    g_assert_true (r->exited);
    g_assert_true (r->timed_out);
    g_assert_cmpint (r->signal, ==, SIGKILL);
    g_assert_cmpuint (r->out->len, ==, 0);
    g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
    agent_shutdown (ag);
}

static void
test_not_found (void)
{
    Agent *ag = agent_start_hello ();
    g_autoptr (Run) r = run_sync (ag, 1, "{\"argv\":[\"no-such-command-xyz\",\"arg\"]}");

    g_assert_true (r->failed);
    g_assert_cmpstr (r->err_class, ==, "CommandNotFound");
    g_assert_cmpstr (r->err_desc, ==, "no-such-command-xyz: command not found");

    g_autoptr (Run) r2 = run_sync (ag, 1, "{\"argv\":[\"/etc/passwd\"]}");
    g_assert_true (r2->failed);
    g_assert_cmpstr (r2->err_class, ==, "PermissionDenied");
    agent_shutdown (ag);
}

/* A root the agent cannot take is refused before anything runs: paths
 * that are not plain absolute ones, a base without a root, a base that is
 * not there, a root the command cannot enter. */
static void
test_root_refused (void)
{
    static const struct {
        const char *args, *class, *desc;
    } cases[] = {
        { "\"root\":\"rel\"", "InvalidArgument", "root must be an absolute path" },
        { "\"root\":\"/\"", "InvalidArgument", "root must be an absolute path" },
        { "\"root\":\"/a/../b\"", "InvalidArgument", "root must be" },
        { "\"root\":\"/a:b\"", "InvalidArgument", "root must be" },
        { "\"root\":\"/a,b\"", "InvalidArgument", "root must be" },
        { "\"root\":7", "InvalidArgument", "root must be" },
        { "\"root_lower\":\"/tmp\"", "InvalidArgument", "root_lower needs root" },
        { "\"root\":\"/nonexistent-root-xyz\",\"root_lower\":\"/nonexistent-lower-xyz\"",
          "InvalidArgument", "lower tree /nonexistent-lower-xyz" },
        { "\"root\":\"/nonexistent-root-xyz\"", "InvalidArgument",
          "cannot run in the root /nonexistent-root-xyz" },
    };
    Agent *ag = agent_start_hello ();

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_autofree char *args = g_strdup_printf ("{\"argv\":[\"true\"],%s}", cases[i].args);
        g_autoptr (Run) r = run_sync (ag, 1, args);
        g_assert_true (r->failed);
        g_assert_cmpstr (r->err_class, ==, cases[i].class);
        g_assert_nonnull (strstr (r->err_desc, cases[i].desc));
    }
    g_assert_false (g_file_test ("/nonexistent-root-xyz", G_FILE_TEST_EXISTS));
    agent_shutdown (ag);
}

/* Pumps until @r got @n answers to requests made after the exec. */
static void
run_wait_answers (Agent *ag, Run *r, guint n)
{
    gint64 end = g_get_monotonic_time () + TIMEOUT_MS * 1000;

    while (r->extra_returns + r->extra_errors < n) {
        g_assert_false (run_done (r));
        g_assert_cmpint (g_get_monotonic_time (), <, end);
        agent_pump (ag, 100);
    }
}

static void
run_wait_replied (Agent *ag, Run *r)
{
    gint64 end = g_get_monotonic_time () + TIMEOUT_MS * 1000;

    while (!r->replied) {
        g_assert_false (run_done (r));
        g_assert_cmpint (g_get_monotonic_time (), <, end);
        agent_pump (ag, 100);
    }
}

static void
test_tty_sizes_refused (void)
{
    Agent *ag = agent_start_hello ();
    const char *const bad[] = {
        "{\"rows\":0,\"cols\":80}",
        "{\"rows\":24,\"cols\":65536}",
        "{\"rows\":-1,\"cols\":80}",
        "{\"rows\":\"24\",\"cols\":80}",
        "{\"rows\":24}",
        "5",
        "[24,80]",
        "{\"rows\":9223372036854775807,\"cols\":1}",
    };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
        g_autofree char *args = g_strdup_printf ("{\"argv\":[\"true\"],\"tty\":%s}", bad[i]);
        g_autoptr (Run) r = run_sync (ag, 1, args);
        g_assert_true (r->failed);
        g_assert_cmpstr (r->err_class, ==, "InvalidArgument");
    }

    /* resize: refused without a terminal and with sizes out of range. */
    g_autoptr (Run) r = run_start (ag, 2, "{\"argv\":[\"sleep\",\"30\"]}");
    run_wait_replied (ag, r);
    queue_json (ag, 2, "{\"execute\":\"resize\",\"arguments\":{\"rows\":10,\"cols\":10}}");
    run_wait_answers (ag, r, 1);
    g_assert_cmpstr (r->extra_class, ==, "InvalidArgument");
    g_autoptr (Run) t =
        run_start (ag, 3, "{\"argv\":[\"sleep\",\"30\"],\"tty\":{\"rows\":24,\"cols\":80}}");
    run_wait_replied (ag, t);
    queue_json (ag, 3, "{\"execute\":\"resize\",\"arguments\":{\"rows\":0,\"cols\":10}}");
    queue_json (ag, 3, "{\"execute\":\"resize\",\"arguments\":{\"rows\":10}}");
    run_wait_answers (ag, t, 2);
    g_assert_cmpuint (t->extra_errors, ==, 2);
    g_assert_cmpstr (t->extra_class, ==, "InvalidArgument");
    queue_json (ag, 2, "{\"execute\":\"signal\",\"arguments\":{\"signal\":9}}");
    queue_json (ag, 3, "{\"execute\":\"signal\",\"arguments\":{\"signal\":9}}");
    run_wait (ag, r);
    run_wait (ag, t);
    agent_shutdown (ag);
}

static void
test_tty_exec (void)
{
    Agent *ag = agent_start_hello ();
    g_autoptr (Run) r = run_sync (
        ag, 1,
        "{\"argv\":[\"sh\",\"-c\",\"test -t 0 && test -t 1 && test -t 2 && echo ISATTY; "
        "stty size; echo TERM=$TERM; echo toerr >&2\"],\"tty\":{\"rows\":30,\"cols\":100}}");
    g_autofree char *out = run_stdout (r);

    g_assert_true (r->exited);
    g_assert_cmpint (r->code, ==, 0);
    /* One stream, through the terminal's output processing (\n -> \r\n). */
    g_assert_cmpstr (out, ==, "ISATTY\r\n30 100\r\nTERM=xterm\r\ntoerr\r\n");
    g_assert_cmpuint (r->err->len, ==, 0);
    agent_shutdown (ag);
}

static void
test_tty_resize (void)
{
    Agent *ag = agent_start_hello ();
    g_autoptr (Run) r = run_start (ag, 1,
                                   "{\"argv\":[\"sh\",\"-c\",\"read x; stty size\"],\"stdin\":true,"
                                   "\"tty\":{\"rows\":24,\"cols\":80}}");

    run_wait_replied (ag, r);
    queue_json (ag, 1, "{\"execute\":\"resize\",\"arguments\":{\"rows\":40,\"cols\":132}}");
    run_wait_answers (ag, r, 1);
    g_assert_cmpuint (r->extra_returns, ==, 1);
    r->in_data = (const guint8 *) "go\n";
    r->in_len = 3;
    run_wait (ag, r);
    g_autofree char *out = run_stdout (r);
    /* The line is echoed by the terminal, then the new size. */
    g_assert_cmpstr (out, ==, "go\r\n40 132\r\n");
    agent_shutdown (ag);
}

static void
test_tty_interrupt_and_eof (void)
{
    Agent *ag = agent_start_hello ();
    g_autoptr (Run) r = run_start (
        ag, 1, "{\"argv\":[\"sleep\",\"100\"],\"stdin\":true,\"tty\":{\"rows\":24,\"cols\":80}}");

    run_wait_replied (ag, r);
    r->in_data = (const guint8 *) "\x03";
    r->in_len = 1;
    run_wait (ag, r);
    g_assert_cmpint (r->signal, ==, SIGINT);

    /* An empty STDIN frame is the terminal's end of file: cat ends. */
    g_autoptr (Run) c =
        run_start (ag, 2, "{\"argv\":[\"cat\"],\"stdin\":true,\"tty\":{\"rows\":24,\"cols\":80}}");
    run_wait_replied (ag, c);
    c->in_data = (const guint8 *) "abc\n";
    c->in_len = 4;
    c->in_close = TRUE;
    run_wait (ag, c);
    g_assert_true (c->exited);
    g_assert_cmpint (c->code, ==, 0);
    g_autofree char *out = run_stdout (c);
    g_assert_true (g_str_has_prefix (out, "abc\r\nabc\r\n"));
    agent_shutdown (ag);
}

/* A process left behind with the terminal open does not hold back the exit. */
static void
test_tty_left_open (void)
{
    Agent *ag = agent_start_hello ();
    g_autoptr (Run) r = run_sync (
        ag, 1,
        "{\"argv\":[\"sh\",\"-c\",\"trap '' HUP; (trap '' HUP; sleep 5) & echo started\"],"
        "\"tty\":{\"rows\":24,\"cols\":80}}");
    g_autofree char *out = run_stdout (r);

    g_assert_true (r->exited);
    g_assert_cmpint (r->code, ==, 0);
    g_assert_cmpstr (out, ==, "started\r\n");
    agent_shutdown (ag);
}

static void
expect_link_closed (Agent *ag)
{
    g_autoptr (GError) error = NULL;
    gint64 end = g_get_monotonic_time () + TIMEOUT_MS * 1000;

    while (!ag->eof) {
        g_assert_cmpint (g_get_monotonic_time (), <, end);
        agent_pump (ag, 100);
    }
    g_subprocess_wait (ag->proc, NULL, &error);
    g_assert_no_error (error);
    /* Closed the link on purpose: no crash. */
    g_assert_true (g_subprocess_get_if_exited (ag->proc));
    g_assert_cmpint (g_subprocess_get_exit_status (ag->proc), ==, 1);
    agent_free (ag);
}

static void
test_malformed (void)
{
    /* Nonzero padding in the header. */
    Agent *ag = agent_start_hello ();
    guint8 bad[BL_PROTO_HEADER_SIZE] = { 0, 0, 0, 2, 0, 0, 0, 0, BL_FRAME_CONTROL, 0, 1, 0 };
    g_byte_array_append (ag->outbuf, bad, sizeof bad);
    g_byte_array_append (ag->outbuf, (const guint8 *) "{}", 2);
    expect_link_closed (ag);

    /* Not JSON. */
    ag = agent_start_hello ();
    queue_json (ag, 0, "{\"execute\":\"hello\",");
    expect_link_closed (ag);

    /* Too deep. */
    ag = agent_start_hello ();
    GString *deep = g_string_new ("{\"execute\":\"hello\",\"arguments\":{\"x\":");
    for (int i = 0; i < 100; i++)
        g_string_append_c (deep, '[');
    for (int i = 0; i < 100; i++)
        g_string_append_c (deep, ']');
    g_string_append (deep, "}}");
    queue_json (ag, 0, deep->str);
    g_string_free (deep, TRUE);
    expect_link_closed (ag);

    /* Data for a channel that was never opened. */
    ag = agent_start_hello ();
    queue_frame (ag, 42, BL_FRAME_STDIN, "x", 1);
    expect_link_closed (ag);

    /* Oversized length. */
    ag = agent_start_hello ();
    guint8 big[BL_PROTO_HEADER_SIZE];
    struct bl_frame_header h = { .len = BL_PROTO_MAX_PAYLOAD + 1,
                                 .channel = 0,
                                 .type = BL_FRAME_CONTROL };
    bl_proto_encode_header (big, &h);
    g_byte_array_append (ag->outbuf, big, sizeof big);
    expect_link_closed (ag);
}

static void
test_initramfs (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp ("initramfs-XXXXXX", &error);
    g_autofree char *dest = g_build_filename (dir, "test.cpio", NULL);
    struct stat st;
    gboolean seen_init = FALSE, seen_console = FALSE, seen_newroot = FALSE;

    g_assert_no_error (error);
    g_assert_true (bl_initramfs_write (agent_path (), dest, &error));
    g_assert_no_error (error);
    g_assert_cmpint (g_stat (agent_path (), &st), ==, 0);

    struct archive *a = archive_read_new ();
    struct archive_entry *e;
    archive_read_support_format_cpio (a);
    archive_read_support_filter_none (a);
    g_assert_cmpint (archive_read_open_filename (a, dest, 16384), ==, ARCHIVE_OK);
    while (archive_read_next_header (a, &e) == ARCHIVE_OK) {
        const char *path = archive_entry_pathname (e);
        if (g_strcmp0 (path, "init") == 0) {
            seen_init = TRUE;
            g_assert_cmpuint (archive_entry_filetype (e), ==, AE_IFREG);
            g_assert_cmpuint (archive_entry_perm (e), ==, 0755);
            g_assert_cmpint (archive_entry_size (e), ==, st.st_size);
        } else if (g_strcmp0 (path, "dev/console") == 0) {
            seen_console = TRUE;
            g_assert_cmpuint (archive_entry_filetype (e), ==, AE_IFCHR);
            g_assert_cmpuint (archive_entry_rdevmajor (e), ==, 5);
            g_assert_cmpuint (archive_entry_rdevminor (e), ==, 1);
            g_assert_cmpuint (archive_entry_perm (e), ==, 0600);
        } else if (g_strcmp0 (path, "newroot") == 0) {
            seen_newroot = TRUE;
            g_assert_cmpuint (archive_entry_filetype (e), ==, AE_IFDIR);
        }
        archive_read_data_skip (a);
    }
    g_assert_cmpint (archive_format (a) & ARCHIVE_FORMAT_BASE_MASK, ==, ARCHIVE_FORMAT_CPIO);
    g_assert_cmpint (archive_format (a), ==, ARCHIVE_FORMAT_CPIO_SVR4_NOCRC);
    archive_read_free (a);
    g_assert_true (seen_init);
    g_assert_true (seen_console);
    g_assert_true (seen_newroot);

    /* The cache: named after the agent's hash, built once. */
    g_autofree char *p1 = bl_initramfs_ensure (agent_path (), dir, &error);
    g_assert_no_error (error);
    g_autofree char *base = g_path_get_basename (p1);
    g_assert_true (g_str_has_prefix (base, "initramfs-"));
    g_assert_true (g_str_has_suffix (base, ".cpio"));
    g_assert_cmpuint (strlen (base), ==, strlen ("initramfs-") + 16 + strlen (".cpio"));
    g_assert_cmpint (g_stat (p1, &st), ==, 0);
    gint64 ino = (gint64) st.st_ino;
    g_autofree char *p2 = bl_initramfs_ensure (agent_path (), dir, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (p1, ==, p2);
    g_assert_cmpint (g_stat (p2, &st), ==, 0);
    g_assert_cmpint ((gint64) st.st_ino, ==, ino);

    /* An agent replaced in place, its modification time put back, is a new
     * archive with the new agent in it. */
    g_autofree char *copy = g_build_filename (dir, "agent", NULL);
    g_autofree char *bytes = NULL;
    gsize len = 0;
    g_assert_true (g_file_get_contents (agent_path (), &bytes, &len, NULL));
    g_assert_true (g_file_set_contents (copy, bytes, (gssize) len, NULL));
    g_autofree char *p3 = bl_initramfs_ensure (copy, dir, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_stat (copy, &st), ==, 0);
    struct timespec times[2] = { st.st_atim, st.st_mtim };
    g_usleep (20000);
    int fd = open (copy, O_WRONLY | O_APPEND);
    g_assert_cmpint (fd, >=, 0);
    g_assert_cmpint (write (fd, "x", 1), ==, 1);
    g_assert_cmpint (futimens (fd, times), ==, 0);
    close (fd);
    g_autofree char *p4 = bl_initramfs_ensure (copy, dir, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (p3, !=, p4);
    GStatBuf s3, s4;
    g_assert_cmpint (g_stat (p3, &s3), ==, 0);
    g_assert_cmpint (g_stat (p4, &s4), ==, 0);
    g_assert_cmpint (s4.st_size, >, s3.st_size);

    g_unlink (p4);
    g_unlink (p3);
    g_unlink (copy);
    g_unlink (p1);
    g_unlink (dest);
    g_rmdir (dir);
}

static la_ssize_t
append_bytes (struct archive *a, void *data, const void *buf, size_t len)
{
    g_byte_array_append (data, buf, (guint) len);
    return (la_ssize_t) len;
}

/* Copies in and out through the agent, and a copy in that a link already
 * at the destination must not redirect. */
static void
test_copy_channels (void)
{
    Agent *ag = agent_start_hello ();
    g_autofree char *tmp = g_dir_make_tmp ("boxlite-agent-copy-XXXXXX", NULL);
    g_autofree char *src = g_build_filename (tmp, "src", NULL);
    g_autofree char *file = g_build_filename (src, "a", NULL);
    g_autofree char *link = g_build_filename (src, "l", NULL);
    g_autofree char *dst = g_build_filename (tmp, "dst", NULL);
    g_autofree char *outside = g_build_filename (tmp, "outside", NULL);
    g_autofree char *dst_link = g_build_filename (dst, "link", NULL);

    g_assert_cmpint (g_mkdir (src, 0755), ==, 0);
    g_assert_cmpint (g_mkdir (dst, 0755), ==, 0);
    g_assert_cmpint (g_mkdir (outside, 0755), ==, 0);
    g_assert_true (g_file_set_contents (file, "hello", -1, NULL));
    g_assert_cmpint (symlink ("../x", link), ==, 0);
    g_assert_cmpint (symlink (outside, dst_link), ==, 0);

    g_autofree char *out_args = g_strdup_printf ("{\"path\":\"%s\"}", src);
    Run *out = run_start_command (ag, 3, "copy_out", out_args);
    run_wait (ag, out);
    g_assert_true (out->exited);
    g_assert_cmpint (out->code, ==, 0);
    g_assert_cmpuint (out->out->len % 512, ==, 0);

    g_autofree char *in_args = g_strdup_printf ("{\"path\":\"%s\"}", dst);
    Run *in = run_start_command (ag, 4, "copy_in", in_args);
    in->in_data = out->out->data;
    in->in_len = out->out->len;
    in->in_close = TRUE;
    run_wait (ag, in);
    g_assert_cmpint (in->code, ==, 0);
    g_autofree char *copied = g_build_filename (dst, "src", "a", NULL);
    g_autofree char *text = NULL;
    g_assert_true (g_file_get_contents (copied, &text, NULL, NULL));
    g_assert_cmpstr (text, ==, "hello");
    g_autofree char *copied_link = g_build_filename (dst, "src", "l", NULL);
    g_autofree char *target = g_file_read_link (copied_link, NULL);
    g_assert_cmpstr (target, ==, "../x");

    /* "link/x" under the destination's own link is refused. */
    GByteArray *tar = g_byte_array_new ();
    struct archive *a = archive_write_new ();
    struct archive_entry *e = archive_entry_new ();
    archive_write_set_format_pax_restricted (a);
    archive_write_open (a, tar, NULL, append_bytes, NULL);
    archive_entry_set_pathname (e, "link/x");
    archive_entry_set_filetype (e, AE_IFREG);
    archive_entry_set_perm (e, 0644);
    archive_entry_set_size (e, 0);
    archive_write_header (a, e);
    archive_entry_free (e);
    archive_write_close (a);
    archive_write_free (a);
    g_autofree char *raw_args = g_strdup_printf ("{\"path\":\"%s\",\"raw\":true}", dst);
    Run *bad = run_start_command (ag, 5, "copy_in", raw_args);
    bad->in_data = tar->data;
    bad->in_len = tar->len;
    bad->in_close = TRUE;
    run_wait (ag, bad);
    g_assert_cmpint (bad->code, !=, 0);
    g_assert_cmpstr (bad->exit_class, ==, "InvalidArgument");
    g_autofree char *planted = g_build_filename (outside, "x", NULL);
    g_assert_false (g_file_test (planted, G_FILE_TEST_EXISTS));

    /* A missing source. */
    Run *missing = run_start_command (ag, 6, "copy_out", "{\"path\":\"/no/such/path\"}");
    run_wait (ag, missing);
    g_assert_cmpstr (missing->exit_class, ==, "NotFound");

    run_free (out);
    run_free (in);
    run_free (bad);
    run_free (missing);
    g_byte_array_unref (tar);
    g_autofree char *cmd = g_strdup_printf ("rm -rf %s", tmp);
    g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL);
    agent_shutdown (ag);
}

/* ---- output moved by splice --------------------------------------------- */

/* A log file in @dir for agent_start_with(). */
static char *
splice_log_path (const char *dir)
{
    return g_build_filename (dir, "agent.log", NULL);
}

/* What the agent's log says it wrote to the host by splice, once it ended. */
static guint64
spliced_bytes (const char *log_path)
{
    g_autofree char *text = NULL;
    const char *key = "link ended: ";

    g_assert_true (g_file_get_contents (log_path, &text, NULL, NULL));
    const char *at = strstr (text, key);
    g_assert_nonnull (at);
    guint64 n = g_ascii_strtoull (at + strlen (key), NULL, 10);
    g_test_message ("%" G_GUINT64_FORMAT " bytes to the host by splice", n);
    return n;
}

static GBytes *
random_file (const char *path, gsize len)
{
    guint8 *data = g_malloc (len);

    for (gsize i = 0; i < len; i++)
        data[i] = (guint8) g_random_int ();
    g_assert_true (g_file_set_contents (path, (const char *) data, (gssize) len, NULL));
    return g_bytes_new_take (data, len);
}

static void
assert_bytes (GByteArray *got, GBytes *want, guint times)
{
    gsize len;
    const guint8 *data = g_bytes_get_data (want, &len);

    g_assert_cmpuint (got->len, ==, len * times);
    for (guint i = 0; i < times; i++)
        g_assert_true (memcmp (got->data + i * len, data, len) == 0);
}

static void
remove_tree (const char *dir)
{
    const char *argv[] = { "rm", "-rf", dir, NULL };
    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
}

/* Large output arrives byte for byte; returns how much of it the agent
 * moved without a copy. @sndbuf and @append as for agent_start_with(). */
static guint64
splice_large (int sndbuf, gboolean append)
{
    g_autofree char *dir = g_dir_make_tmp ("boxlite-agent-splice-XXXXXX", NULL);
    g_autofree char *log = splice_log_path (dir);
    g_autofree char *file = g_build_filename (dir, "data", NULL);
    gsize len = 8 * 1024 * 1024;
    g_autoptr (GBytes) data = random_file (file, len);
    Agent *ag = agent_start_with (log, sndbuf, append);

    agent_hello (ag);
    g_autofree char *args = g_strdup_printf ("{\"argv\":[\"cat\",\"%s\"]}", file);
    g_autoptr (Run) r = run_sync (ag, 7, args);
    g_assert_true (r->exited);
    g_assert_cmpint (r->code, ==, 0);
    assert_bytes (r->out, data, 1);
    g_assert_cmpuint (r->err->len, ==, 0);
    agent_stop (ag);
    agent_free (ag);
    guint64 spliced = spliced_bytes (log);
    remove_tree (dir);
    return spliced;
}

static void
test_splice_large (void)
{
    g_assert_cmpuint (splice_large (0, FALSE), >=, 2 * 1024 * 1024);
}

/* The socket takes a frame in several short writes, and the queue behind a
 * staged frame fills meanwhile. */
static void
test_splice_short_writes (void)
{
    g_assert_cmpuint (splice_large (4096, FALSE), >, 0);
}

/* A fd that refuses splice: the frame staged first goes back through the
 * queue whole, and the rest of the stream takes the read path. */
static void
test_splice_refused (void)
{
    g_assert_cmpuint (splice_large (0, TRUE), ==, 0);
}

/* Several channels at once, each writing large blocks to stdout and stderr
 * in turn: every stream arrives whole and in order. */
static void
test_splice_interleaved (void)
{
    g_autofree char *dir = g_dir_make_tmp ("boxlite-agent-splice-XXXXXX", NULL);
    g_autofree char *log = splice_log_path (dir);
    enum { N = 3, TIMES = 3 };
    GBytes *outs[N], *errs[N];
    Run *runs[N];
    Agent *ag = agent_start_with (log, 0, FALSE);

    agent_hello (ag);
    for (guint i = 0; i < N; i++) {
        g_autofree char *a = g_strdup_printf ("%s/out%u", dir, i);
        g_autofree char *b = g_strdup_printf ("%s/err%u", dir, i);
        outs[i] = random_file (a, 200 * 1024 + i * 4099);
        errs[i] = random_file (b, 150 * 1024 + i * 77);
        g_autofree char *args = g_strdup_printf (
            "{\"argv\":[\"sh\",\"-c\",\"for k in 1 2 3; do cat %s; cat %s >&2; done\"]}", a, b);
        runs[i] = run_start (ag, 20 + i, args);
    }
    gint64 end = g_get_monotonic_time () + TIMEOUT_MS * 1000;
    while (g_hash_table_size (ag->runs)) {
        g_assert_cmpint (g_get_monotonic_time (), <, end);
        agent_pump (ag, 100);
    }
    for (guint i = 0; i < N; i++) {
        g_assert_true (runs[i]->exited);
        g_assert_cmpint (runs[i]->code, ==, 0);
        assert_bytes (runs[i]->out, outs[i], TIMES);
        assert_bytes (runs[i]->err, errs[i], TIMES);
        run_free (runs[i]);
        g_bytes_unref (outs[i]);
        g_bytes_unref (errs[i]);
    }
    agent_stop (ag);
    agent_free (ag);
    g_assert_cmpuint (spliced_bytes (log), >, 0);
    remove_tree (dir);
}

/* Grants of every size, some below what is worth a splice and some beyond
 * one frame: nothing arrives past the credit, and the stream is exact. */
static void
test_splice_credit_stalls (void)
{
    g_autofree char *dir = g_dir_make_tmp ("boxlite-agent-splice-XXXXXX", NULL);
    g_autofree char *log = splice_log_path (dir);
    g_autofree char *file = g_build_filename (dir, "data", NULL);
    gsize len = 3 * 1024 * 1024;
    g_autoptr (GBytes) data = random_file (file, len);
    const guint32 grants[] = { 5000, 70000, 4096, 131072, 1, 65536, 200000 };
    guint stalls;
    Agent *ag = agent_start_with (log, 0, FALSE);

    agent_hello (ag);
    g_autofree char *args = g_strdup_printf ("{\"argv\":[\"cat\",\"%s\"]}", file);
    Run *r = run_start (ag, 8, args);
    stalls = run_wait_granting (ag, r, grants, G_N_ELEMENTS (grants));
    g_assert_true (r->exited);
    g_assert_cmpint (r->code, ==, 0);
    assert_bytes (r->out, data, 1);
    g_assert_cmpuint (stalls, >=, 20);
    run_free (r);
    agent_stop (ag);
    agent_free (ag);
    g_assert_cmpuint (spliced_bytes (log), >, 0);
    remove_tree (dir);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    signal (SIGPIPE, SIG_IGN);

    g_test_add_func ("/agent/version", test_version);
    g_test_add_func ("/agent/hello", test_hello);
    g_test_add_func ("/agent/mount-refused", test_mount_refused);
    g_test_add_func ("/agent/identity", test_identity);
    g_test_add_func ("/agent/stats", test_stats);
    g_test_add_func ("/agent/freeze-refused", test_freeze_refused);
    g_test_add_func ("/agent/echo", test_echo);
    g_test_add_func ("/agent/exit-codes", test_exit_codes);
    g_test_add_func ("/agent/signal", test_signal);
    g_test_add_func ("/agent/stdout-stderr", test_stdout_stderr);
    g_test_add_func ("/agent/binary-cat", test_binary_cat);
    g_test_add_func ("/agent/slow-credit", test_slow_credit);
    g_test_add_func ("/agent/parallel", test_parallel);
    g_test_add_func ("/agent/env-cwd", test_env_cwd);
    g_test_add_func ("/agent/timeout", test_timeout);
    g_test_add_func ("/agent/not-found", test_not_found);
    g_test_add_func ("/agent/root-refused", test_root_refused);
    g_test_add_func ("/agent/malformed", test_malformed);
    g_test_add_func ("/agent/tty/sizes-refused", test_tty_sizes_refused);
    g_test_add_func ("/agent/tty/exec", test_tty_exec);
    g_test_add_func ("/agent/tty/resize", test_tty_resize);
    g_test_add_func ("/agent/tty/interrupt-and-eof", test_tty_interrupt_and_eof);
    g_test_add_func ("/agent/tty/left-open", test_tty_left_open);
    g_test_add_func ("/agent/copy-channels", test_copy_channels);
    g_test_add_func ("/agent/splice/large", test_splice_large);
    g_test_add_func ("/agent/splice/short-writes", test_splice_short_writes);
    g_test_add_func ("/agent/splice/refused", test_splice_refused);
    g_test_add_func ("/agent/splice/interleaved", test_splice_interleaved);
    g_test_add_func ("/agent/splice/credit-stalls", test_splice_credit_stalls);
    g_test_add_func ("/initramfs/write", test_initramfs);
    return g_test_run ();
}

/* test-net.c: the box network's filter, with real boxes and a stand-in
 * internet: test servers in a network namespace (tests/net/testnet.sh) and a
 * hosts override that the filter resolves allowed.test, other.test and the
 * wildcard names from. Inside the boxes, tests/net/probe.py makes real DNS
 * queries, HTTP requests and TLS handshakes. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#include <boxlite/boxlite.h>
#include "test-util.h"

#define ALLOWED_ADDR "198.18.0.2"
#define OTHER_ADDR "198.18.0.3"
/* The host's own end of the test network's veth: private.test. */
#define PRIVATE_ADDR "10.203.0.1"

static char *home;
static char *netdir;
static char *netns;
static BoxliteRuntime *runtime;
static GBytes *probe_script;
static BoxliteBox *restricted_box;

static void
testnet (const char *verb)
{
    g_autofree char *script = g_test_build_filename (G_TEST_DIST, "net", "testnet.sh", NULL);
    const char *argv[] = { "bash", script, verb, netns, netdir, NULL };
    g_autoptr (GError) error = NULL;
    g_autofree char *err = NULL;
    gint status = 0;

    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, &err, &status,
                  &error);
    g_assert_no_error (error);
    if (!g_spawn_check_wait_status (status, NULL))
        g_error ("testnet.sh %s failed: %s", verb, err);
}

static BoxliteBox *
boot (const char *name, const char *const *allow_net)
{
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    g_autoptr (GError) error = NULL;

    boxlite_box_options_set_network (options, BOXLITE_NETWORK_ENABLED);
    boxlite_box_options_set_allow_net (options, allow_net);
    BoxliteBox *box = boxlite_runtime_create (runtime, options, name, NULL, &error);
    g_assert_no_error (error);
    boxlite_box_start (box, NULL, &error);
    g_assert_no_error (error);
    return box;
}

static void
finish (BoxliteBox *box)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *id = g_strdup (boxlite_box_get_id (box));

    boxlite_box_stop (box, FALSE, NULL, &error);
    g_assert_no_error (error);
    boxlite_runtime_remove (runtime, id, FALSE, &error);
    g_assert_no_error (error);
}

/* Runs probe.py with @steps in @box; returns step -> result. */
static GHashTable *
probe (BoxliteBox *box, const char *const *steps)
{
    g_autoptr (GPtrArray) argv = g_ptr_array_new ();
    g_ptr_array_add (argv, "python3");
    g_ptr_array_add (argv, "-");
    for (guint i = 0; steps[i]; i++)
        g_ptr_array_add (argv, (gpointer) steps[i]);
    g_ptr_array_add (argv, NULL);
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new ((const char *const *) argv->pdata);
    GByteArray *out, *err;
    g_autoptr (BoxliteExecution) exe = run_full (box, cmd, probe_script, &out, &err);

    g_byte_array_append (out, (const guint8 *) "", 1);
    g_byte_array_append (err, (const guint8 *) "", 1);
    if (boxlite_execution_get_exit_code (exe) != 0)
        g_error ("probe failed: %s", (char *) err->data);
    GHashTable *results = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    g_auto (GStrv) lines = g_strsplit ((char *) out->data, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        char *space = strchr (lines[i], ' ');
        if (space)
            g_hash_table_insert (results, g_strndup (lines[i], (gsize) (space - lines[i])),
                                 g_strdup (space + 1));
    }
    g_test_message ("probe output:\n%s", (char *) out->data);
    g_byte_array_unref (out);
    g_byte_array_unref (err);
    for (guint i = 0; steps[i]; i++)
        g_assert_true (g_hash_table_contains (results, steps[i]));
    return results;
}

#define RESULT(r, step) ((const char *) g_hash_table_lookup ((r), (step)))

static void
assert_refused (const char *result)
{
    g_assert_true (g_str_has_prefix (result, "ERR "));
}

/* The test servers' log: "ADDR PORT BYTES" per finished connection. */
static void
servers_log_clear (void)
{
    g_autofree char *path = g_build_filename (netdir, "servers.log", NULL);
    g_assert_true (g_file_set_contents (path, "", 0, NULL));
}

static char *
servers_log (void)
{
    g_autofree char *path = g_build_filename (netdir, "servers.log", NULL);
    char *text = NULL;

    /* The servers write a line when a connection ends: give the last one
     * a moment. */
    g_usleep (300 * 1000);
    g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
    return text;
}

/* Every connection the servers logged since the last clear is @line: the
 * handshake happened (libslirp connects on the SYN), but no byte came. */
static void
assert_nothing_reached (const char *line)
{
    g_autofree char *log = servers_log ();

    /* libslirp connected on the SYN, so the server logs the connection once
     * the reset closes it; give that a moment on a busy machine. */
    for (guint i = 0; i < 50 && !*log; i++) {
        g_free (log);
        log = servers_log ();
    }
    g_assert_cmpstr (log, !=, "");
    g_auto (GStrv) lines = g_strsplit (log, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        if (*lines[i])
            g_assert_cmpstr (lines[i], ==, line);
    }
}

/* TRUE when the net log has an entry with these members (NULL: any). */
static gboolean
net_log_has (BoxliteBox *box, const char *event, const char *verdict, const char *reason,
             const char *key, const char *value)
{
    g_autoptr (GError) error = NULL;
    g_auto (GStrv) lines = boxlite_box_get_net_log (box, &error);

    g_assert_no_error (error);
    for (guint i = 0; lines[i]; i++) {
        g_autoptr (JsonNode) node = json_from_string (lines[i], &error);
        g_assert_no_error (error);
        JsonObject *o = json_node_get_object (node);
        if (g_strcmp0 (json_object_get_string_member (o, "event"), event) == 0 &&
            g_strcmp0 (json_object_get_string_member (o, "verdict"), verdict) == 0 &&
            (!reason || g_strcmp0 (json_object_get_string_member (o, "reason"), reason) == 0) &&
            (!key ||
             g_strcmp0 (json_object_get_string_member_with_default (o, key, ""), value) == 0))
            return TRUE;
    }
    return FALSE;
}

/* allow_net: allowed.test, *.wild.test and private.test. */
static BoxliteBox *
get_restricted_box (void)
{
    const char *const rules[] = { "allowed.test", "*.wild.test", "private.test", NULL };

    if (!restricted_box)
        restricted_box = boot ("restricted", rules);
    return restricted_box;
}

static void
test_dns_allowlist (void)
{
    const char *const steps[] = {
        "resolve:allowed.test",      "resolve:other.test",
        "resolve:a.wild.test",       "resolve:wild.test",
        "resolve:allowed.test.evil", "resolve:host.boxlite.internal",
        "resolve:Allowed.Test.",     "tcpdns:allowed.test",
        "tcpdns:other.test",         NULL,
    };
    g_autoptr (GHashTable) r = probe (get_restricted_box (), steps);

    /* Allowed names get their real address, the rest the sinkhole. */
    g_assert_cmpstr (RESULT (r, "resolve:allowed.test"), ==, ALLOWED_ADDR);
    g_assert_cmpstr (RESULT (r, "resolve:Allowed.Test."), ==, ALLOWED_ADDR);
    g_assert_cmpstr (RESULT (r, "resolve:other.test"), ==, "0.0.0.0");
    /* *.wild.test: names below it, not the name itself nor look-alikes. */
    g_assert_cmpstr (RESULT (r, "resolve:a.wild.test"), ==, ALLOWED_ADDR);
    g_assert_cmpstr (RESULT (r, "resolve:wild.test"), ==, "0.0.0.0");
    g_assert_cmpstr (RESULT (r, "resolve:allowed.test.evil"), ==, "0.0.0.0");
    /* The same answers over TCP. */
    g_assert_cmpstr (RESULT (r, "tcpdns:allowed.test"), ==, ALLOWED_ADDR);
    g_assert_cmpstr (RESULT (r, "tcpdns:other.test"), ==, "0.0.0.0");
    /* The host alias resolves under a restrictive list too. */
    g_assert_cmpstr (RESULT (r, "resolve:host.boxlite.internal"), ==, "192.168.127.254");
}

static void
test_http_host_checked (void)
{
    const char *const steps[] = {
        "http:allowed.test:allowed.test",
        NULL,
    };
    const char *const mismatch[] = { "http:other.test:" ALLOWED_ADDR, NULL };

    g_autoptr (GHashTable) r = probe (get_restricted_box (), steps);
    g_assert_cmpstr (RESULT (r, steps[0]), ==, "OK hello from " ALLOWED_ADDR " over http");

    /* An allowed address, but a Host that is not listed: cut before the
     * request reaches the server (it sees a connection with no bytes). */
    servers_log_clear ();
    g_autoptr (GHashTable) r2 = probe (get_restricted_box (), mismatch);
    assert_refused (RESULT (r2, mismatch[0]));
    assert_nothing_reached (ALLOWED_ADDR " 80 0");
    g_assert_true (net_log_has (get_restricted_box (), "tcp", "denied", "host-not-listed", "host",
                                "other.test"));
}

static void
test_https_sni_checked (void)
{
    const char *const ok[] = { "https:allowed.test:allowed.test", NULL };
    const char *const mismatch[] = { "https:other.test:" ALLOWED_ADDR, NULL };

    g_autoptr (GHashTable) r = probe (get_restricted_box (), ok);
    g_assert_cmpstr (RESULT (r, ok[0]), ==, "OK hello from " ALLOWED_ADDR " over https");

    /* The address is allowed.test's, the SNI is not listed: the
     * ClientHello never reaches the server. */
    servers_log_clear ();
    g_autoptr (GHashTable) r2 = probe (get_restricted_box (), mismatch);
    assert_refused (RESULT (r2, mismatch[0]));
    assert_nothing_reached (ALLOWED_ADDR " 443 0");
    g_assert_true (net_log_has (get_restricted_box (), "tcp", "denied", "sni-not-listed", "sni",
                                "other.test"));
}

static void
test_direct_ip_blocked (void)
{
    const char *const steps[] = { "http:" OTHER_ADDR ":" OTHER_ADDR, NULL };

    servers_log_clear ();
    g_autoptr (GHashTable) r = probe (get_restricted_box (), steps);
    assert_refused (RESULT (r, steps[0]));
    g_autofree char *log = servers_log ();
    /* Refused at the SYN: the server never saw a connection. */
    g_assert_null (strstr (log, OTHER_ADDR));
    g_assert_true (net_log_has (get_restricted_box (), "tcp", "denied", "direct-ip", "dest",
                                OTHER_ADDR ":80"));
}

static void
test_host_alias_restricted (void)
{
    HttpServer *server = http_server_start ();
    g_autofree char *step =
        g_strdup_printf ("http:host.boxlite.internal:host.boxlite.internal:%u", server->port);
    const char *const steps[] = { step, NULL };
    g_autoptr (GHashTable) r = probe (get_restricted_box (), steps);

    g_assert_cmpstr (RESULT (r, step), ==, "OK " HTTP_BODY);
    g_assert_cmpint (http_server_stop (server), ==, 1);
}

static void
test_malformed_input (void)
{
    const char *const junk[] = { "junkdns:1000", "junktls:1000:" ALLOWED_ADDR, NULL };
    const char *const after[] = { "resolve:allowed.test", "https:allowed.test:allowed.test", NULL };

    g_autoptr (GHashTable) r = probe (get_restricted_box (), junk);
    g_assert_true (g_str_has_prefix (RESULT (r, junk[0]), "replies="));
    g_assert_cmpstr (RESULT (r, junk[1]), ==, "done");
    /* Answered with FORMERR, not crashed: the box's network still works. */
    g_assert_true (
        net_log_has (get_restricted_box (), "dns", "error", "malformed-query", NULL, NULL));
    g_assert_true (
        net_log_has (get_restricted_box (), "tcp", "denied", "malformed-tls", NULL, NULL));
    g_autoptr (GHashTable) r2 = probe (get_restricted_box (), after);
    g_assert_cmpstr (RESULT (r2, after[0]), ==, ALLOWED_ADDR);
    g_assert_cmpstr (RESULT (r2, after[1]), ==, "OK hello from " ALLOWED_ADDR " over https");
}

/* An allowed name that resolves to a private address of the host: the
 * answer is given, the connection refused before the host's server sees
 * it. */
static void
test_private_address_refused (void)
{
    const char *const steps[] = { "resolve:private.test", "http:private.test:private.test", NULL };

    servers_log_clear ();
    g_autoptr (GHashTable) r = probe (get_restricted_box (), steps);
    g_assert_cmpstr (RESULT (r, steps[0]), ==, PRIVATE_ADDR);
    assert_refused (RESULT (r, steps[1]));
    g_autofree char *log = servers_log ();
    g_assert_null (strstr (log, PRIVATE_ADDR));
    g_assert_true (net_log_has (get_restricted_box (), "tcp", "denied", "private-address", "dest",
                                PRIVATE_ADDR ":80"));
    g_assert_true (net_log_has (get_restricted_box (), "dns", "allowed", "private-address", "name",
                                "private.test"));
}

/* Hand-made segments on a connection whose first bytes are still being
 * inspected: a reset with a wrong checksum or far out of the window, a
 * second SYN, a request without ACK, and a long pause. None of them makes
 * the filter let the request that follows through uninspected. */
static void
test_forged_segments (void)
{
    const char *const controls[] = {
        "resolve:allowed.test",
        "forge:rst-badsum:allowed.test:" ALLOWED_ADDR,
        "forge:noack:allowed.test:" ALLOWED_ADDR,
        NULL,
    };
    const char *const steps[] = {
        "resolve:allowed.test",
        "forge:rst-badsum:other.test:" ALLOWED_ADDR,
        "forge:rst-outwin:other.test:" ALLOWED_ADDR,
        "forge:syn:other.test:" ALLOWED_ADDR,
        "forge:noack:other.test:" ALLOWED_ADDR,
        "forge:pause:other.test:" ALLOWED_ADDR,
        NULL,
    };

    /* The forged segments break nothing: an allowed request still goes. */
    g_autoptr (GHashTable) r = probe (get_restricted_box (), controls);
    for (guint i = 1; controls[i]; i++)
        g_assert_cmpstr (RESULT (r, controls[i]), ==, "OK hello from " ALLOWED_ADDR " over http");

    servers_log_clear ();
    g_autoptr (GHashTable) r2 = probe (get_restricted_box (), steps);
    for (guint i = 1; steps[i]; i++)
        assert_refused (RESULT (r2, steps[i]));
    assert_nothing_reached (ALLOWED_ADDR " 80 0");
    g_assert_true (net_log_has (get_restricted_box (), "tcp", "denied", "host-not-listed", "host",
                                "other.test"));
    g_assert_true (
        net_log_has (get_restricted_box (), "tcp", "denied", "inspection-timeout", NULL, NULL));
}

/* Requests that name an unlisted host other than in Host, or that the
 * filter cannot read, are cut before the server sees a byte. */
static void
test_requests_checked (void)
{
    const char *const steps[] = {
        "resolve:allowed.test",   "send:absolute:" ALLOWED_ADDR,  "send:connect:" ALLOWED_ADDR,
        "send:h2c:" ALLOWED_ADDR, "send:pipelined:" ALLOWED_ADDR, NULL,
    };

    servers_log_clear ();
    g_autoptr (GHashTable) r = probe (get_restricted_box (), steps);
    for (guint i = 1; steps[i]; i++)
        assert_refused (RESULT (r, steps[i]));
    assert_nothing_reached (ALLOWED_ADDR " 80 0");
    BoxliteBox *box = get_restricted_box ();
    g_assert_true (net_log_has (box, "tcp", "denied", "target-not-listed", NULL, NULL));
    g_assert_true (net_log_has (box, "tcp", "denied", "http2-prior-knowledge", NULL, NULL));
    g_assert_true (net_log_has (box, "tcp", "denied", "host-not-listed", "host", "other.test"));
}

/* Datagrams to an allowed name's address are dropped: nothing in them can
 * be checked against the name (QUIC falls back to TCP). */
static void
test_udp_to_name_dropped (void)
{
    const char *const steps[] = { "resolve:allowed.test", "udp:" ALLOWED_ADDR ":7", NULL };
    g_autoptr (GHashTable) r = probe (get_restricted_box (), steps);

    g_assert_cmpstr (RESULT (r, steps[0]), ==, ALLOWED_ADDR);
    assert_refused (RESULT (r, steps[1]));
    g_assert_true (
        net_log_has (get_restricted_box (), "udp", "denied", "datagram-to-name", NULL, NULL));
}

static void
test_net_log (void)
{
    BoxliteBox *box = get_restricted_box ();

    /* The cases above left their answers and decisions behind. */
    g_assert_true (net_log_has (box, "dns", "sinkholed", "not-listed", "name", "other.test"));
    g_assert_true (net_log_has (box, "dns", "allowed", NULL, "name", "allowed.test"));
    g_assert_true (net_log_has (box, "tcp", "allowed", "host-allowed", "host", "allowed.test"));
    g_assert_true (net_log_has (box, "tcp", "allowed", "sni-allowed", "sni", "allowed.test"));
    g_assert_true (net_log_has (box, "tcp", "denied", "direct-ip", NULL, NULL));
    g_assert_true (net_log_has (box, "tcp", "denied", "sni-not-listed", NULL, NULL));
    g_assert_true (net_log_has (box, "tcp", "allowed", "host-alias", NULL, NULL));
}

static void
test_address_rules (void)
{
    const char *const rules[] = { ALLOWED_ADDR "/32", OTHER_ADDR, "private.test", "10.203.0.0/16",
                                  NULL };
    const char *const steps[] = {
        "http:" ALLOWED_ADDR ":" ALLOWED_ADDR,
        "http:" OTHER_ADDR ":" OTHER_ADDR,
        "resolve:other.test",
        "http:198.18.0.4:198.18.0.4",
        "http:private.test:private.test",
        "udp:" ALLOWED_ADDR ":7",
        NULL,
    };
    g_autoptr (BoxliteBox) box = boot ("addresses", rules);
    g_autoptr (GHashTable) r = probe (box, steps);

    /* A range and an address rule each let direct connections through. */
    g_assert_cmpstr (RESULT (r, steps[0]), ==, "OK hello from " ALLOWED_ADDR " over http");
    g_assert_cmpstr (RESULT (r, steps[1]), ==, "OK hello from " OTHER_ADDR " over http");
    /* Address rules allow no names. */
    g_assert_cmpstr (RESULT (r, steps[2]), ==, "0.0.0.0");
    assert_refused (RESULT (r, steps[3]));
    g_assert_true (net_log_has (box, "tcp", "denied", "direct-ip", "dest", "198.18.0.4:80"));
    /* A private address an allowed name leads to, once a range rule lists it. */
    g_assert_cmpstr (RESULT (r, steps[4]), ==, "OK hello from " PRIVATE_ADDR " over http");
    /* Datagrams go to addresses a rule lists. */
    g_assert_cmpstr (RESULT (r, steps[5]), ==, "ping");
    finish (box);
}

static void
test_empty_allows_all (void)
{
    const char *const steps[] = {
        "resolve:other.test",
        "http:other.test:other.test",
        "http:" ALLOWED_ADDR ":" ALLOWED_ADDR,
        "https:other.test:other.test",
        NULL,
    };
    g_autoptr (BoxliteBox) box = boot ("open", NULL);
    g_autoptr (GHashTable) r = probe (box, steps);

    g_assert_cmpstr (RESULT (r, steps[0]), ==, OTHER_ADDR);
    g_assert_cmpstr (RESULT (r, steps[1]), ==, "OK hello from " OTHER_ADDR " over http");
    g_assert_cmpstr (RESULT (r, steps[2]), ==, "OK hello from " ALLOWED_ADDR " over http");
    g_assert_cmpstr (RESULT (r, steps[3]), ==, "OK hello from " OTHER_ADDR " over https");
    g_assert_true (net_log_has (box, "tcp", "allowed", "allowlist-empty", NULL, NULL));
    finish (box);
}

/* The network process's resident memory, in KiB, for the box's monitor
 * @monitor (0 when it is not found). */
static guint64
net_process_rss_kib (GPid monitor)
{
    g_autoptr (GDir) proc = g_dir_open ("/proc", 0, NULL);
    const char *entry;

    while ((entry = g_dir_read_name (proc))) {
        g_autofree char *path = g_strdup_printf ("/proc/%s/status", entry);
        g_autofree char *text = NULL;
        if (!g_ascii_isdigit (entry[0]) || !g_file_get_contents (path, &text, NULL, NULL))
            continue;
        g_autofree char *ppid_line = g_strdup_printf ("\nPPid:\t%d\n", (int) monitor);
        const char *rss = strstr (text, "\nVmRSS:");
        if (g_str_has_prefix (text, "Name:\tboxlite-net\n") && strstr (text, ppid_line) && rss)
            return g_ascii_strtoull (rss + 8, NULL, 10);
    }
    return 0;
}

/* A flood of half-open connections (5 000 SYNs to an address a rule
 * admits but that never answers) fills the box's connection budget and no
 * more: the network process stays small, the excess is recorded, and the
 * box's DNS still answers. */
static void
test_syn_flood_bounded (void)
{
    const char *const rules[] = { "allowed.test", "198.18.0.99/32", NULL };
    /* glibc then fills every allocation, so each buffer libslirp reserves
     * for a socket is resident: the figure is the worst case, whatever the
     * allocator would have done under this run's timing. */
    g_setenv ("MALLOC_PERTURB_", "165", TRUE);
    g_autoptr (BoxliteBox) box = boot ("flood", rules);
    g_unsetenv ("MALLOC_PERTURB_");
    GPid monitor = boxlite_box_get_monitor_pid (box);
    guint64 before = net_process_rss_kib (monitor);
    g_assert_cmpuint (before, >, 0);

    const char *const flood[] = { "synflood:198.18.0.99:80:5000", NULL };
    g_autoptr (GHashTable) r = probe (box, flood);
    g_assert_cmpstr (RESULT (r, flood[0]), ==, "sent=5000");
    guint64 after = net_process_rss_kib (monitor);
    g_test_message ("network process RSS: %" G_GUINT64_FORMAT " KiB before, %" G_GUINT64_FORMAT
                    " KiB after 5000 half-open connections",
                    before, after);
    g_assert_cmpuint (after, <, 48 * 1024);

    /* The totals are written within a second of the decisions. */
    g_usleep (1500 * 1000);
    g_autoptr (GError) error = NULL;
    g_autoptr (GVariant) counts = boxlite_box_get_net_counts (box, &error);
    g_assert_no_error (error);
    guint64 over = 0;
    g_variant_lookup (counts, "tcp denied budget-exceeded", "t", &over);
    g_test_message ("over-budget records (rate-limited): %" G_GUINT64_FORMAT, over);
    g_assert_cmpuint (over, >, 0);

    const char *const after_steps[] = { "resolve:allowed.test", NULL };
    g_autoptr (GHashTable) r2 = probe (box, after_steps);
    g_assert_cmpstr (RESULT (r2, after_steps[0]), ==, ALLOWED_ADDR);
    finish (box);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    if (getuid () != 0) {
        g_printerr ("test-net needs root: it makes a network namespace\n");
        return 1;
    }
    g_autofree char *tmpl = g_build_filename (g_get_tmp_dir (), "boxlite-net-XXXXXX", NULL);
    home = g_mkdtemp (g_steal_pointer (&tmpl));
    netdir = g_build_filename (home, "internet", NULL);
    g_assert_cmpint (g_mkdir (netdir, 0700), ==, 0);
    netns = g_strdup_printf ("blnet%u", (guint) getpid () % 100000);
    testnet ("up");
    g_autofree char *hosts = g_build_filename (netdir, "hosts", NULL);

    g_autofree char *probe_path = g_test_build_filename (G_TEST_DIST, "net", "probe.py", NULL);
    g_autofree char *probe_text = NULL;
    gsize probe_len = 0;
    g_assert_true (g_file_get_contents (probe_path, &probe_text, &probe_len, NULL));
    probe_script = g_bytes_new_take (g_steal_pointer (&probe_text), probe_len);

    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (GError) error = NULL;
    boxlite_options_set_home_dir (options, home);
    boxlite_options_set_hosts_file (options, hosts);
    runtime = boxlite_runtime_new (options, &error);
    g_assert_no_error (error);

    g_test_add_func ("/net/allowlist/dns", test_dns_allowlist);
    g_test_add_func ("/net/allowlist/http-host", test_http_host_checked);
    g_test_add_func ("/net/allowlist/https-sni", test_https_sni_checked);
    g_test_add_func ("/net/allowlist/direct-ip-blocked", test_direct_ip_blocked);
    g_test_add_func ("/net/allowlist/host-alias", test_host_alias_restricted);
    g_test_add_func ("/net/allowlist/malformed-input", test_malformed_input);
    g_test_add_func ("/net/allowlist/private-address", test_private_address_refused);
    g_test_add_func ("/net/allowlist/forged-segments", test_forged_segments);
    g_test_add_func ("/net/allowlist/requests-checked", test_requests_checked);
    g_test_add_func ("/net/allowlist/udp-to-name", test_udp_to_name_dropped);
    g_test_add_func ("/net/allowlist/syn-flood-bounded", test_syn_flood_bounded);
    g_test_add_func ("/net/allowlist/net-log", test_net_log);
    g_test_add_func ("/net/address-rules", test_address_rules);
    g_test_add_func ("/net/empty-allows-all", test_empty_allows_all);

    int ret = g_test_run ();
    if (restricted_box)
        finish (restricted_box);
    g_clear_object (&restricted_box);
    g_clear_object (&runtime);
    testnet ("down");
    g_bytes_unref (probe_script);
    const char *const rm[] = { "rm", "-rf", home, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
    return ret;
}

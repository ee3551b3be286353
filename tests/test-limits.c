/* test-limits.c: what a box may use, seen from inside a real box (TCG on
 * machines without a usable KVM): CPUs, memory, disk size, the process cap
 * against a fork bomb, the OOM killer reported on the execution, values
 * refused before anything starts, and a Python program on the default image. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boxlite/boxlite.h>
#include "test-util.h"

#define BOX_CPUS 2
#define BOX_MEMORY_MIB 256
#define BOX_DISK_GIB 4
#define BOX_MAX_PROCESSES 64

static char *home;
static BoxliteRuntime *runtime;
static BoxliteBox *limited_box;

static BoxliteBox *
get_limited_box (void)
{
    g_autoptr (GError) error = NULL;

    if (!limited_box) {
        g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
        boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
        boxlite_box_options_set_cpus (options, MIN (BOX_CPUS, g_get_num_processors ()));
        boxlite_box_options_set_memory_mib (options, BOX_MEMORY_MIB);
        boxlite_box_options_set_disk_size_gb (options, BOX_DISK_GIB);
        boxlite_box_options_set_max_processes (options, BOX_MAX_PROCESSES);
        limited_box = boxlite_runtime_create (runtime, options, "limited", NULL, &error);
        g_assert_no_error (error);
        boxlite_box_start (limited_box, NULL, &error);
        g_assert_no_error (error);
    }
    g_assert_cmpint (boxlite_box_get_state (limited_box), ==, BOXLITE_BOX_STATE_RUNNING);
    return limited_box;
}

static guint64
parse_u64 (const char *text)
{
    guint64 value = 0;
    g_autofree char *copy = g_strstrip (g_strdup (text));
    g_autoptr (GError) error = NULL;

    g_ascii_string_to_unsigned (copy, 10, 0, G_MAXUINT64, &value, &error);
    g_assert_no_error (error);
    return value;
}

/* Runs @argv (a python3 program and the like) and returns the execution,
 * its stdout as a string in *@out. */
static BoxliteExecution *
run_argv (const char *const *argv, guint timeout_ms, char **out)
{
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);
    GByteArray *o, *e;

    if (timeout_ms)
        boxlite_command_set_timeout_ms (cmd, timeout_ms);
    BoxliteExecution *exe = run_full (get_limited_box (), cmd, NULL, &o, &e);
    if (e->len)
        g_test_message ("stderr: %.*s", (int) e->len, (const char *) e->data);
    g_byte_array_unref (e);
    g_byte_array_append (o, (const guint8 *) "", 1);
    *out = (char *) g_byte_array_free (o, FALSE);
    return exe;
}

static void
assert_box_answers (void)
{
    g_autofree char *out = run_simple (get_limited_box (), "echo still here", NULL);
    g_assert_cmpstr (out, ==, "still here\n");
}

static void
test_cpus_seen (void)
{
    g_autofree char *out = run_simple (get_limited_box (), "nproc", NULL);
    g_assert_cmpuint (parse_u64 (out), ==, MIN (BOX_CPUS, g_get_num_processors ()));
}

static void
test_memory_seen (void)
{
    g_autofree char *out =
        run_simple (get_limited_box (), "awk '/^MemTotal:/ { print $2 }' /proc/meminfo", NULL);
    guint64 kib = parse_u64 (out);

    /* The kernel keeps some for itself, not a tenth. */
    g_assert_cmpuint (kib, <=, BOX_MEMORY_MIB * 1024);
    g_assert_cmpuint (kib, >=, BOX_MEMORY_MIB * 1024 * 9 / 10);
}

static void
test_disk_seen (void)
{
    g_autofree char *out =
        run_simple (get_limited_box (), "df -P -k / | awk 'NR == 2 { print $2 }'", NULL);
    guint64 kib = parse_u64 (out);

    /* The file system spans the disk, less ext4's own metadata. */
    g_assert_cmpuint (kib, <=, (guint64) BOX_DISK_GIB << 20);
    g_assert_cmpuint (kib, >=, ((guint64) BOX_DISK_GIB << 20) * 9 / 10);

    /* And the space is there to be written. */
    gint code = -1;
    g_autofree char *big =
        run_simple (get_limited_box (), "fallocate -l 3G /var/tmp/big && rm /var/tmp/big", &code);
    g_assert_cmpint (code, ==, 0);
}

/* A file of the cgroup the box's commands run under, read from inside. */
static guint64
box_cgroup_value (const char *file)
{
    g_autofree char *script =
        g_strdup_printf ("cat /sys/fs/cgroup/$(cut -d: -f3 /proc/self/cgroup)/../%s", file);
    g_autofree char *out = run_simple (get_limited_box (), script, NULL);
    return parse_u64 (out);
}

static void
test_process_cap_seen (void)
{
    g_assert_cmpuint (box_cgroup_value ("pids.max"), ==, BOX_MAX_PROCESSES);
}

/* Each exec's child moves into a cgroup of its own; without favordynmods
 * the move waits for an RCU grace period, a quarter of an exec's round trip
 * under TCG (bench-exec). Falling back to the plain mount must not go
 * unnoticed. */
static void
test_cgroup_favors_moves (void)
{
    g_autofree char *out =
        run_simple (get_limited_box (), "awk '$3 == \"cgroup2\" { print $4 }' /proc/mounts", NULL);
    g_auto (GStrv) options = g_strsplit (g_strstrip (out), ",", -1);

    g_assert_true (g_strv_contains ((const char *const *) options, "favordynmods"));
}

/* Forks children that sleep until one fork fails, then reports how many
 * it made and why the next failed. */
static const char counted_forks[] = "import errno, os, signal, time\n"
                                    "kids = []\n"
                                    "try:\n"
                                    "    while len(kids) < 100000:\n"
                                    "        pid = os.fork()\n"
                                    "        if pid == 0:\n"
                                    "            time.sleep(600)\n"
                                    "            os._exit(0)\n"
                                    "        kids.append(pid)\n"
                                    "    print('no failure')\n"
                                    "except OSError as e:\n"
                                    "    print(len(kids), errno.errorcode[e.errno])\n"
                                    "for k in kids:\n"
                                    "    os.kill(k, signal.SIGKILL)\n"
                                    "    os.waitpid(k, 0)\n";

/* Every process forks for ever and ignores failures. */
static const char fork_bomb[] = "import os\n"
                                "while True:\n"
                                "    try:\n"
                                "        os.fork()\n"
                                "    except OSError:\n"
                                "        pass\n";

static void
test_fork_bomb_capped (void)
{
    const char *counted[] = { "python3", "-c", counted_forks, NULL };
    g_autofree char *out = NULL;
    g_autoptr (BoxliteExecution) exe = run_argv (counted, 0, &out);
    g_auto (GStrv) words = g_strsplit (g_strstrip (out), " ", -1);

    g_assert_cmpint (boxlite_execution_get_exit_code (exe), ==, 0);
    g_assert_cmpuint (g_strv_length (words), ==, 2);
    /* The cap counts the python process and its children, not the agent. */
    g_assert_cmpuint (parse_u64 (words[0]), <, BOX_MAX_PROCESSES);
    g_assert_cmpuint (parse_u64 (words[0]), >=, BOX_MAX_PROCESSES / 2);
    g_assert_cmpstr (words[1], ==, "EAGAIN");
    assert_box_answers ();
}

static void
test_fork_bomb_agent_answers (void)
{
    const char *bomb[] = { "python3", "-c", fork_bomb, NULL };
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (bomb);
    g_autoptr (GError) error = NULL;

    /* Its timeout ends every process it made, wherever they went. */
    boxlite_command_set_timeout_ms (cmd, 20000);
    g_autoptr (BoxliteExecution) running = boxlite_box_exec (get_limited_box (), cmd, NULL, &error);
    g_assert_no_error (error);

    /* While the bomb holds every slot under the cap, a new command still
     * starts (moving a process into a full cgroup is allowed; forking in it
     * is not) and runs to its end. */
    const char *echo[] = { "echo", "answered", NULL };
    g_autofree char *out = NULL;
    g_autoptr (BoxliteExecution) exe = run_argv (echo, 0, &out);
    g_assert_cmpstr (out, ==, "answered\n");

    boxlite_execution_wait (running, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (boxlite_execution_get_timed_out (running));
    g_assert_cmpint (boxlite_execution_get_term_signal (running), ==, SIGKILL);
    /* This sh and its cat are all that run under the cap now. */
    g_assert_cmpuint (box_cgroup_value ("pids.current"), <=, 3);
    assert_box_answers ();
}

static void
test_oom_reported (void)
{
    /* 16 MiB at a time, touched, until the guest runs out. */
    const char *hog[] = { "python3", "-c",
                          "chunks = []\n"
                          "while True:\n"
                          "    chunks.append(bytearray(16 << 20))\n",
                          NULL };
    g_autofree char *out = NULL;
    g_autoptr (BoxliteExecution) exe = run_argv (hog, 0, &out);

    g_assert_false (boxlite_execution_get_exited (exe));
    g_assert_cmpint (boxlite_execution_get_term_signal (exe), ==, SIGKILL);
    g_assert_true (boxlite_execution_get_oom_killed (exe));
    gboolean prop = FALSE;
    g_object_get (exe, "oom-killed", &prop, NULL);
    g_assert_true (prop);
    g_assert_false (boxlite_execution_get_timed_out (exe));

    /* The box goes on, and a command that is not killed is not flagged. */
    const char *ok[] = { "python3", "-c", "print(len(bytearray(32 << 20)))", NULL };
    g_autofree char *ok_out = NULL;
    g_autoptr (BoxliteExecution) fine = run_argv (ok, 0, &ok_out);
    g_assert_cmpstr (ok_out, ==, "33554432\n");
    g_assert_false (boxlite_execution_get_oom_killed (fine));

    /* A SIGKILL that is not the OOM killer's is not flagged either. */
    const char *killed[] = { "sh", "-c", "kill -KILL $$", NULL };
    g_autofree char *k_out = NULL;
    g_autoptr (BoxliteExecution) k = run_argv (killed, 0, &k_out);
    g_assert_cmpint (boxlite_execution_get_term_signal (k), ==, SIGKILL);
    g_assert_false (boxlite_execution_get_oom_killed (k));
}

/* What people paste into a sandbox: the standard library's usual parts, a
 * subprocess, TLS with the CA certificates, and the procps tools. */
static const char python_program[] =
    "import json, sqlite3, ssl, subprocess, sys, urllib.parse, venv, ensurepip\n"
    "db = sqlite3.connect('/tmp/t.db')\n"
    "db.execute('create table t (k text, v integer)')\n"
    "db.executemany('insert into t values (?, ?)', [('a', 1), ('b', 2)])\n"
    "db.commit()\n"
    "total = db.execute('select sum(v) from t').fetchone()[0]\n"
    "child = subprocess.run(['echo', 'from a child'], capture_output=True, text=True, "
    "check=True)\n"
    "ctx = ssl.create_default_context()\n"
    "url = urllib.parse.urlsplit('https://example.org/a?b=c')\n"
    "print(json.dumps({'sum': total, 'child': child.stdout.strip(),\n"
    "                  'cas': ctx.cert_store_stats()['x509_ca'] > 0,\n"
    "                  'verify': ctx.verify_mode == ssl.CERT_REQUIRED,\n"
    "                  'query': urllib.parse.parse_qs(url.query)}, sort_keys=True))\n";

static void
test_default_image_python (void)
{
    const char *argv[] = { "python3", "-c", python_program, NULL };
    g_autofree char *out = NULL;
    g_autoptr (BoxliteExecution) exe = run_argv (argv, 0, &out);

    g_assert_cmpint (boxlite_execution_get_exit_code (exe), ==, 0);
    g_assert_cmpstr (out, ==,
                     "{\"cas\": true, \"child\": \"from a child\", \"query\": {\"b\": [\"c\"]}, "
                     "\"sum\": 3, \"verify\": true}\n");

    gint code = -1;
    g_autofree char *tools = run_simple (get_limited_box (),
                                         "free -m | awk '/^Mem:/ { print \"free\", ($2 > 0) }'; "
                                         "ps -e -o comm= | grep -qx ps && echo ps 1; "
                                         "pip3 --version >/dev/null && echo pip 1; "
                                         "curl --version >/dev/null && echo curl 1",
                                         &code);
    g_assert_cmpint (code, ==, 0);
    g_assert_cmpstr (tools, ==, "free 1\nps 1\npip 1\ncurl 1\n");
}

static guint64
host_memory_mib (void)
{
    return (guint64) sysconf (_SC_PHYS_PAGES) * (guint64) sysconf (_SC_PAGESIZE) / (1024 * 1024);
}

/* No box may be made from options the host cannot honour: the error names
 * the option, and nothing is left in the home directory. */
static void
test_hostile_values_refused (void)
{
    guint host_cpus = g_get_num_processors ();
    guint64 host_mib = host_memory_mib ();
    const struct {
        const char *what;
        guint cpus, memory_mib, disk_size_gb, max_processes;
    } cases[] = {
        { "cpus", 0, 512, 0, 4096 },
        { "cpus", host_cpus + 1, 512, 0, 4096 },
        { "memory", 1, 1024 * 1024, 0, 4096 }, /* 1 TiB */
        { "memory", 1, (guint) MIN (host_mib + 1, G_MAXUINT), 0, 4096 },
        { "memory", 1, 32, 0, 4096 },
        { "memory", 1, G_MAXUINT, 0, 4096 },
        { "disk size", 1, 512, 1000000, 4096 },
        { "disk size", 1, 512, G_MAXUINT, 4096 },
        { "smaller than the image", 1, 512, 1, 4096 },
        { "max-processes", 1, 512, 0, 0 },
        { "max-processes", 1, 512, 0, G_MAXUINT },
    };

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
        g_autoptr (GError) error = NULL;
        boxlite_box_options_set_network (options, BOXLITE_NETWORK_DISABLED);
        boxlite_box_options_set_cpus (options, cases[i].cpus);
        boxlite_box_options_set_memory_mib (options, cases[i].memory_mib);
        boxlite_box_options_set_disk_size_gb (options, cases[i].disk_size_gb);
        boxlite_box_options_set_max_processes (options, cases[i].max_processes);
        g_autoptr (BoxliteBox) box = boxlite_runtime_create (runtime, options, NULL, NULL, &error);
        g_test_message ("%s: %s", cases[i].what, error ? error->message : "accepted");
        g_assert_null (box);
        g_assert_error (error, BOXLITE_ERROR, BOXLITE_ERROR_INVALID_ARGUMENT);
        g_assert_nonnull (strstr (error->message, cases[i].what));
    }
    g_autoptr (GError) error = NULL;
    GList *boxes = boxlite_runtime_list (runtime, &error);
    g_assert_no_error (error);
    /* Only the box the other cases made, if they ran first. */
    for (GList *l = boxes; l; l = l->next)
        g_assert_cmpstr (boxlite_box_get_name (l->data), ==, "limited");
    g_list_free_full (boxes, g_object_unref);
}

/* The command line refuses what is not a positive whole number, with a
 * message, rather than wrapping a negative value around. */
static void
test_cli_refuses_bad_numbers (void)
{
    const char *cli = g_getenv ("BOXLITE_CLI");
    const char *bad[][2] = {
        { "--cpus", "-1" },
        { "--cpus", "two" },
        { "--cpus", "0" },
        { "--cpus", "1.5" },
        { "--memory", "-512" },
        { "--memory", "lots" },
        { "--disk-size", "-4" },
        { "--disk-size", "4x" },
        { "--pids-limit", "-1" },
        { "--pids-limit", "many" },
        { "--cpus", "99999999999999999999" },
    };

    g_assert_nonnull (cli);
    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
        g_autofree char *flag = g_strdup_printf ("%s=%s", bad[i][0], bad[i][1]);
        const char *argv[] = { cli, "create", "--network", "none", flag, "--", "true", NULL };
        g_autofree char *out = NULL, *err = NULL;
        gint status = 0;
        g_autoptr (GError) error = NULL;
        g_auto (GStrv) envp = g_environ_setenv (g_get_environ (), "BOXLITE_HOME", home, TRUE);

        g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status,
                      &error);
        g_assert_no_error (error);
        g_test_message ("%s: %s", flag, err);
        g_assert_true (WIFEXITED (status));
        g_assert_cmpint (WEXITSTATUS (status), ==, 125);
        g_assert_nonnull (strstr (err, bad[i][0]));
        g_assert_cmpstr (out, ==, "");
    }
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_autofree char *tmpl = g_build_filename (g_get_tmp_dir (), "boxlite-limits-XXXXXX", NULL);
    home = g_mkdtemp (g_steal_pointer (&tmpl));
    g_assert_nonnull (home);
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (GError) error = NULL;
    boxlite_options_set_home_dir (options, home);
    runtime = boxlite_runtime_new (options, &error);
    g_assert_no_error (error);

    g_test_add_func ("/limits/refused/hostile-values", test_hostile_values_refused);
    g_test_add_func ("/limits/refused/cli-numbers", test_cli_refuses_bad_numbers);
    g_test_add_func ("/limits/seen/cpus", test_cpus_seen);
    g_test_add_func ("/limits/seen/memory", test_memory_seen);
    g_test_add_func ("/limits/seen/disk", test_disk_seen);
    g_test_add_func ("/limits/seen/process-cap", test_process_cap_seen);
    g_test_add_func ("/limits/seen/cgroup-favors-moves", test_cgroup_favors_moves);
    g_test_add_func ("/limits/fork-bomb-capped", test_fork_bomb_capped);
    g_test_add_func ("/limits/fork-bomb-agent-answers", test_fork_bomb_agent_answers);
    g_test_add_func ("/limits/oom-reported", test_oom_reported);
    g_test_add_func ("/limits/default-image-python", test_default_image_python);

    int ret = g_test_run ();
    if (limited_box)
        boxlite_box_stop (limited_box, FALSE, NULL, NULL);
    g_clear_object (&limited_box);
    g_clear_object (&runtime);
    const char *const rm[] = { "rm", "-rf", home, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
    g_free (home);
    return ret;
}

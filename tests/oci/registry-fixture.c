/* registry-fixture.c: a real registry on loopback for tests. */
#include "registry-fixture.h"

#include <libsoup/soup.h>
#include <signal.h>
#include <sys/prctl.h>

#ifndef BL_TEST_MAKE_LAYOUT
#error "BL_TEST_MAKE_LAYOUT must name tests/oci/make-layout.py"
#endif

/* How long the registry may take to answer its first /v2/, in ms. */
#define START_TIMEOUT_MS 20000

guint16
bl_test_free_port (void)
{
    g_autoptr (GSocket) socket =
        g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
    g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
    g_autoptr (GSocketAddress) bound = NULL;

    if (!socket || !g_socket_bind (socket, any, FALSE, NULL))
        return 0;
    bound = g_socket_get_local_address (socket, NULL);
    return bound ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)) : 0;
}

/* Runs @argv and returns what it printed on stdout, or NULL with an error
 * quoting its output. */
static char *
run (const char *const *argv, GError **error)
{
    g_autoptr (GSubprocess) proc = g_subprocess_newv (
        argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, error);
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    if (!proc || !g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, &err, error))
        return NULL;
    if (!g_subprocess_get_if_exited (proc) || g_subprocess_get_exit_status (proc) != 0) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s failed: %s%s", argv[0], out, err);
        return NULL;
    }
    return g_steal_pointer (&out);
}

void
bl_test_rm_rf (const char *path)
{
    const char *argv[] = { "rm", "-rf", "--", path, NULL };
    g_autofree char *out = run (argv, NULL);
}

static void
die_with_parent (gpointer data)
{
    prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static gboolean
accept_any (SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors, gpointer data)
{
    return TRUE;
}

static gboolean
answers (BlTestRegistry *registry)
{
    g_autoptr (SoupSession) session = soup_session_new_with_options ("timeout", 2, NULL);
    g_autofree char *url =
        g_strdup_printf ("%s://%s/v2/", registry->tls ? "https" : "http", registry->host);
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
    g_autoptr (GBytes) body = NULL;

    g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_any), NULL);
    body = soup_session_send_and_read (session, msg, NULL, NULL);
    return body && soup_message_get_status (msg) == SOUP_STATUS_OK;
}

/* A key and a self-signed certificate for 127.0.0.1 in the registry's dir. */
static gboolean
make_certificate (BlTestRegistry *registry, GError **error)
{
    g_autofree char *key = g_build_filename (registry->dir, "key.pem", NULL);
    g_autofree char *cert = g_build_filename (registry->dir, "cert.pem", NULL);
    const char *argv[] = { "openssl",  "req",
                           "-x509",    "-newkey",
                           "rsa:2048", "-nodes",
                           "-days",    "1",
                           "-subj",    "/CN=127.0.0.1",
                           "-addext",  "subjectAltName=IP:127.0.0.1",
                           "-keyout",  key,
                           "-out",     cert,
                           NULL };
    g_autofree char *out = run (argv, error);

    return out != NULL;
}

static gboolean
write_config (BlTestRegistry *registry, GError **error)
{
    g_autofree char *path = g_build_filename (registry->dir, "config.yml", NULL);
    g_autofree char *tls = registry->tls ? g_strdup_printf ("  tls:\n"
                                                            "    certificate: %s/cert.pem\n"
                                                            "    key: %s/key.pem\n",
                                                            registry->dir, registry->dir)
                                         : g_strdup ("");
    g_autofree char *config = g_strdup_printf ("version: 0.1\n"
                                               "log:\n"
                                               "  level: warn\n"
                                               "storage:\n"
                                               "  filesystem:\n"
                                               "    rootdirectory: %s/data\n"
                                               "  delete:\n"
                                               "    enabled: true\n"
                                               "http:\n"
                                               "  addr: %s\n"
                                               "%s",
                                               registry->dir, registry->host, tls);

    return g_file_set_contents (path, config, -1, error);
}

static BlTestRegistry *
start (gboolean tls, GError **error)
{
    g_autoptr (BlTestRegistry) registry = g_new0 (BlTestRegistry, 1);
    g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
    g_autofree char *config = NULL;
    g_autofree char *log = NULL;
    gint64 deadline;

    registry->dir = g_dir_make_tmp ("bl-registry-XXXXXX", error);
    if (!registry->dir)
        return NULL;
    registry->port = bl_test_free_port ();
    registry->host = g_strdup_printf ("127.0.0.1:%u", registry->port);
    registry->tls = tls;
    if (registry->port == 0 || (tls && !make_certificate (registry, error)) ||
        !write_config (registry, error))
        return NULL;
    config = g_build_filename (registry->dir, "config.yml", NULL);
    log = g_build_filename (registry->dir, "registry.log", NULL);
    g_subprocess_launcher_set_stdout_file_path (launcher, log);
    g_subprocess_launcher_set_flags (launcher, G_SUBPROCESS_FLAGS_STDERR_MERGE);
    g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
    registry->process =
        g_subprocess_launcher_spawn (launcher, error, "docker-registry", "serve", config, NULL);
    if (!registry->process)
        return NULL;
    deadline = g_get_monotonic_time () + START_TIMEOUT_MS * 1000;
    while (!answers (registry)) {
        if (g_get_monotonic_time () > deadline ||
            !g_subprocess_get_identifier (registry->process)) {
            g_autofree char *said = NULL;

            g_file_get_contents (log, &said, NULL, NULL);
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                         "docker-registry on %s did not come up: %s", registry->host,
                         said ? said : "");
            return NULL;
        }
        g_usleep (50000);
    }
    return g_steal_pointer (&registry);
}

BlTestRegistry *
bl_test_registry_start (GError **error)
{
    return start (FALSE, error);
}

BlTestRegistry *
bl_test_registry_start_tls (GError **error)
{
    return start (TRUE, error);
}

void
bl_test_registry_stop (BlTestRegistry *registry)
{
    if (!registry)
        return;
    if (registry->process) {
        g_subprocess_send_signal (registry->process, SIGTERM);
        g_subprocess_wait (registry->process, NULL, NULL);
        g_object_unref (registry->process);
    }
    if (registry->dir)
        bl_test_rm_rf (registry->dir);
    g_free (registry->dir);
    g_free (registry->host);
    g_free (registry);
}

char *
bl_test_make_layout (const char *out, const char *preset, const char *const *extra_args,
                     GError **error)
{
    g_autoptr (GPtrArray) argv = g_ptr_array_new ();
    g_autofree char *printed = NULL;

    g_ptr_array_add (argv, (char *) "python3");
    g_ptr_array_add (argv, (char *) BL_TEST_MAKE_LAYOUT);
    g_ptr_array_add (argv, (char *) out);
    g_ptr_array_add (argv, (char *) "--preset");
    g_ptr_array_add (argv, (char *) preset);
    for (guint i = 0; extra_args && extra_args[i]; i++)
        g_ptr_array_add (argv, (char *) extra_args[i]);
    g_ptr_array_add (argv, NULL);
    printed = run ((const char *const *) argv->pdata, error);
    return printed ? g_strdup (g_strstrip (printed)) : NULL;
}

gboolean
bl_test_registry_push (BlTestRegistry *registry, const char *layout, const char *name_tag,
                       GError **error)
{
    g_autofree char *src = g_strdup_printf ("oci:%s:latest", layout);
    g_autofree char *dest = g_strdup_printf ("docker://%s/%s", registry->host, name_tag);
    const char *argv[] = { "skopeo",
                           "--insecure-policy",
                           "copy",
                           "--quiet",
                           "--all",
                           "--preserve-digests",
                           "--dest-tls-verify=false",
                           src,
                           dest,
                           NULL };
    g_autofree char *out = run (argv, error);

    return out != NULL;
}

/* bench-net.c: the box network's throughput and connection rate, boxlite's
 * filtered backend against QEMU's own user networking (`-netdev user`, the
 * same libslirp without the stream hop and the filter) on the same kernel,
 * image and topology, in the same run.
 *
 *   download of SIZE_MB (default 200) MiB from a host loopback server to
 *   the guest, timed inside the guest; median of RUNS (default 3)
 *   connection set-up rate: 200 sequential connect+close, per second
 *
 * The guest reaches the host server through the host alias address. The
 * boxlite boxes have an allowlist naming only the host alias, so each
 * connection goes through the filter's decision path (the peer, which has
 * no filter, refuses an allowlist).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-util.h"
#include "bl_net_topology.h"
#include <boxlite/boxlite.h>

#define CHUNK (1024 * 1024)
#define CONNECTIONS 200

typedef struct {
    GSocket *socket;
    guint16 port;
    guint64 size;
} Server;

static gpointer
serve (gpointer user_data)
{
    Server *server = user_data;
    g_autofree char *chunk = g_malloc0 (CHUNK);

    for (;;) {
        g_autoptr (GSocket) conn = g_socket_accept (server->socket, NULL, NULL);
        char request[1024];
        if (!conn)
            return NULL;
        gssize n = g_socket_receive (conn, request, sizeof request - 1, NULL, NULL);
        if (n <= 0)
            continue;
        request[n] = '\0';
        if (!g_str_has_prefix (request, "GET /data"))
            continue; /* a connection-rate probe: closed at once */
        g_autofree char *head = g_strdup_printf (
            "HTTP/1.0 200 OK\r\nContent-Length: %" G_GUINT64_FORMAT "\r\n\r\n", server->size);
        g_socket_send (conn, head, strlen (head), NULL, NULL);
        for (guint64 sent = 0; sent < server->size;) {
            gsize len = (gsize) MIN ((guint64) CHUNK, server->size - sent);
            gssize w = g_socket_send (conn, chunk, len, NULL, NULL);
            if (w <= 0)
                break;
            sent += (guint64) w;
        }
    }
}

static Server *
server_start (guint64 size)
{
    g_autoptr (GError) error = NULL;
    Server *server = g_new0 (Server, 1);
    g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (lo, 0);

    server->size = size;
    server->socket =
        g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
    bench_check (error);
    g_socket_bind (server->socket, addr, TRUE, &error);
    bench_check (error);
    g_socket_listen (server->socket, &error);
    bench_check (error);
    g_autoptr (GSocketAddress) bound = g_socket_get_local_address (server->socket, &error);
    bench_check (error);
    server->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
    g_thread_unref (g_thread_new ("server", serve, server));
    return server;
}

/* Prints "<seconds> <bytes>" for the download, then "<seconds>" for the
 * connections, both timed in the guest. */
static const char guest_script[] =
    "import socket, sys, time\n"
    "host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])\n"
    "buf = bytearray(1 << 20)\n"
    "t = time.monotonic()\n"
    "s = socket.create_connection((host, port))\n"
    "s.sendall(b'GET /data HTTP/1.0\\r\\n\\r\\n')\n"
    "total = 0\n"
    "while True:\n"
    "    n = s.recv_into(buf)\n"
    "    if not n: break\n"
    "    total += n\n"
    "print(time.monotonic() - t, total)\n"
    "t = time.monotonic()\n"
    "for _ in range(count):\n"
    "    c = socket.create_connection((host, port))\n"
    "    c.sendall(b'X')\n"
    "    c.recv(1)\n"
    "    c.close()\n"
    "print(time.monotonic() - t)\n";

static void
measure (BoxliteRuntime *rt, Server *server, gboolean qemu_user, GArray *rates, GArray *conns)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (BoxliteBoxOptions) options = boxlite_box_options_new ();
    const char *const rules[] = { "host.boxlite.internal", NULL };

    /* The peer runs QEMU through a wrapper that swaps the box's stream
     * netdev for QEMU's own user networking; it has no filter to hold a list
     * to. The QEMU path is resolved when a box starts. */
    /* The same addresses as the monitor's backend: the gateway (QEMU's DNS
     * address here, so that QEMU answers ARP for it) and the host alias
     * (QEMU's host address, which reaches the host's loopback). */
    g_setenv ("BENCH_USER_NETDEV",
              "user,id=net0,net=" BL_NET_SUBNET_CIDR_TEXT ",host=" BL_NET_HOST_ALIAS_TEXT
              ",dns=" BL_NET_GATEWAY_TEXT ",ipv6=off",
              TRUE);
    if (qemu_user)
        g_setenv ("BOXLITE_QEMU", BENCH_QEMU_USER_NET, TRUE);
    else
        g_unsetenv ("BOXLITE_QEMU");
    if (!qemu_user)
        boxlite_box_options_set_allow_net (options, rules);
    g_autoptr (BoxliteBox) box = boxlite_runtime_create (rt, options, NULL, NULL, &error);
    bench_check (error);
    boxlite_box_start (box, NULL, &error);
    bench_check (error);

    g_autofree char *port = g_strdup_printf ("%u", server->port);
    g_autofree char *count = g_strdup_printf ("%u", CONNECTIONS);
    const char *argv[] = { "python3", "-c", guest_script, "192.168.127.254", port, count, NULL };
    g_autoptr (BoxliteCommand) cmd = boxlite_command_new (argv);
    g_autoptr (BoxliteExecution) exe = boxlite_box_exec (box, cmd, NULL, &error);
    bench_check (error);
    g_autoptr (GDataInputStream) out = g_data_input_stream_new (boxlite_execution_get_stdout (exe));
    g_autofree char *line1 = g_data_input_stream_read_line (out, NULL, NULL, &error);
    bench_check (error);
    g_autofree char *line2 = g_data_input_stream_read_line (out, NULL, NULL, &error);
    bench_check (error);
    boxlite_execution_wait (exe, NULL, &error);
    bench_check (error);
    double seconds = 0, conn_seconds = 0;
    guint64 bytes = 0;
    if (!line1 || !line2 || sscanf (line1, "%lf %" G_GUINT64_FORMAT, &seconds, &bytes) != 2 ||
        sscanf (line2, "%lf", &conn_seconds) != 1 || bytes < server->size) {
        g_printerr ("bench: the guest's download failed (exit %d): %s\n",
                    boxlite_execution_get_exit_code (exe), line1 ? line1 : "(no output)");
        exit (1);
    }
    double rate = bytes / seconds / (1024.0 * 1024.0);
    double per_s = CONNECTIONS / conn_seconds;
    g_print ("  %-10s %7.1f MiB/s  %6.0f connections/s\n", qemu_user ? "qemu-user" : "boxlite",
             rate, per_s);
    g_array_append_val (rates, rate);
    g_array_append_val (conns, per_s);
    g_autofree char *id = g_strdup (boxlite_box_get_id (box));
    boxlite_box_stop (box, FALSE, NULL, NULL);
    boxlite_runtime_remove (rt, id, TRUE, NULL);
}

int
main (int argc, char **argv)
{
    guint runs = g_getenv ("RUNS") ? (guint) atoi (g_getenv ("RUNS")) : 3;
    guint64 size_mb = g_getenv ("SIZE_MB") ? (guint64) atoi (g_getenv ("SIZE_MB")) : 200;
    g_autofree char *tmpl = g_build_filename (g_get_tmp_dir (), "boxlite-bench-XXXXXX", NULL);
    g_autofree char *home = g_mkdtemp (g_steal_pointer (&tmpl));
    g_autoptr (BoxliteOptions) options = boxlite_options_new ();
    g_autoptr (GError) error = NULL;

    boxlite_options_set_home_dir (options, home);
    g_autoptr (BoxliteRuntime) rt = boxlite_runtime_new (options, &error);
    bench_check (error);
    Server *server = server_start (size_mb * 1024 * 1024);

    g_autoptr (GArray) ours = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr (GArray) peer = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr (GArray) our_conns = g_array_new (FALSE, FALSE, sizeof (double));
    g_autoptr (GArray) peer_conns = g_array_new (FALSE, FALSE, sizeof (double));
    g_print ("%u runs of a %" G_GUINT64_FORMAT " MiB download and %u connections (TCG):\n", runs,
             size_mb, CONNECTIONS);
    for (guint i = 0; i < runs; i++) {
        /* Alternate, so that drift in the machine's load hits both. */
        measure (rt, server, FALSE, ours, our_conns);
        measure (rt, server, TRUE, peer, peer_conns);
    }
    double a = bench_median (ours), b = bench_median (peer);
    double ca = bench_median (our_conns), cb = bench_median (peer_conns);
    g_print ("download: boxlite %.1f MiB/s, qemu-user %.1f MiB/s, ratio %.2f (median of %u)\n", a,
             b, a / b, runs);
    g_print ("connections: boxlite %.0f/s, qemu-user %.0f/s, ratio %.2f (median of %u)\n", ca, cb,
             ca / cb, runs);
    const char *const rm[] = { "rm", "-rf", home, NULL };
    g_spawn_sync (NULL, (char **) rm, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, NULL,
                  NULL);
    return 0;
}

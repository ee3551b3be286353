#!/usr/bin/env python3
"""The test suite's stand-in for the internet, run inside a network namespace.

    servers.py OWNER CERT KEY LOG ADDR...

On each ADDR it serves plain HTTP on port 80 and HTTPS on port 443 (the
certificate is self-signed) and echoes UDP datagrams on port 7; every response body is "hello from ADDR over
http|https". For each connection it appends one line to LOG once the
connection is over: "ADDR PORT BYTES", BYTES being what the client sent
before the server answered (for 443: before the TLS handshake), so a test
can tell that a connection was cut before any byte arrived. Prints "ready"
once every socket listens, and exits when process OWNER (the test) is gone,
even if it died without cleaning up.
"""
import os
import socket
import ssl
import sys
import threading
import time

owner = int(sys.argv[1])
cert, key, log_path = sys.argv[2:5]
addrs = sys.argv[5:]
log_lock = threading.Lock()


def log(addr, port, nbytes):
    with log_lock, open(log_path, "a") as f:
        f.write(f"{addr} {port} {nbytes}\n")


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def respond(conn, addr, scheme):
    body = f"hello from {addr} over {scheme}".encode()
    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                 % len(body) + body)


def serve_http(conn, addr):
    try:
        conn.settimeout(20)
        head = read_head(conn)
        log(addr, 80, len(head))
        if head.startswith(b"GET "):
            respond(conn, addr, "http")
    except OSError:
        log(addr, 80, 0)
    finally:
        conn.close()


def serve_https(conn, addr, context):
    try:
        conn.settimeout(20)
        try:
            first = conn.recv(16384, socket.MSG_PEEK)
        except OSError:
            first = b""
        log(addr, 443, len(first))
        if not first:
            return
        tls = context.wrap_socket(conn, server_side=True)
        head = read_head(tls)
        if head.startswith(b"GET "):
            respond(tls, addr, "https")
        tls.close()
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()


def listen(addr, port, handler, *extra):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(64)

    def loop():
        while True:
            conn, _ = s.accept()
            threading.Thread(target=handler, args=(conn, addr) + extra, daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()


def echo_udp(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 7))

    def loop():
        while True:
            data, peer = s.recvfrom(2048)
            s.sendto(data, peer)

    threading.Thread(target=loop, daemon=True).start()


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
for a in addrs:
    listen(a, 80, serve_http)
    listen(a, 443, serve_https, context)
    echo_udp(a)
print("ready", flush=True)
while True:
    time.sleep(0.5)
    try:
        os.kill(owner, 0)
    except ProcessLookupError:
        os._exit(0)

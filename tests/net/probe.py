"""Network checks run inside a box by test-net: `python3 - STEP...`.

Each STEP is WORD:ARG:ARG... and prints one line that starts with the step:
  resolve:NAME              -> "resolve:NAME ADDRESS" or "resolve:NAME ERR reason"
  http:HOST:ADDR[:PORT]     -> GET / with Host HOST from ADDR; "... OK body" or "... ERR reason"
  https:SNI:ADDR            -> the same over TLS with server name SNI (no certificate check)
  tcpdns:NAME               -> an A query over TCP to the gateway; "... ADDRESS" (first answer)
  junkdns:N                 -> N malformed queries to the DNS server; "... replies=R"
  junktls:N:ADDR            -> N random TLS records on N/10 connections to ADDR:443; "... done"
The image's python3-minimal has socket and ssl but no http.client.
"""
import random
import socket
import ssl
import struct
import sys

random.seed(7)


def fetch(sock, host):
    sock.sendall(b"GET / HTTP/1.0\r\nHost: " + host.encode() + b"\r\n\r\n")
    reply = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.0 200"):
        return "ERR bad reply %r" % head[:40]
    return "OK " + body.decode()


def reason(e):
    return "ERR " + (type(e).__name__ + " " + str(e)).replace("\n", " ")[:120]


def step(word):
    kind, _, rest = word.partition(":")
    args = rest.split(":")
    try:
        if kind == "resolve":
            return socket.gethostbyname(args[0])
        if kind == "http":
            port = int(args[2]) if len(args) > 2 else 80
            with socket.create_connection((args[1], port), 10) as s:
                return fetch(s, args[0])
        if kind == "https":
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with socket.create_connection((args[1], 443), 10) as raw:
                with ctx.wrap_socket(raw, server_hostname=args[0]) as s:
                    return fetch(s, args[0])
        if kind == "tcpdns":
            name = b"".join(bytes([len(p)]) + p.encode() for p in args[0].split(".")) + b"\0"
            query = struct.pack("!HHHHHH", 0x7a7a, 0x0100, 1, 0, 0, 0) + name + b"\0\1\0\1"
            with socket.create_connection(("192.168.127.1", 53), 10) as s:
                s.sendall(struct.pack("!H", len(query)) + query)
                data = b""
                while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
                    chunk = s.recv(4096)
                    if not chunk:
                        return "ERR short reply"
                    data += chunk
            reply = data[2:]
            if struct.unpack("!H", reply[6:8])[0] == 0:
                return "no answer"
            return socket.inet_ntoa(reply[len(query) + 12:len(query) + 16])
        if kind == "junkdns":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(0.02)
            replies = 0
            for i in range(int(args[0])):
                n = random.randrange(0, 80)
                pkt = bytes(random.randrange(256) for _ in range(n))
                if i % 2 and n >= 12:
                    # A plausible header (one question, QR clear) over junk.
                    pkt = struct.pack("!HHHHHH", i, 0x0100, 1, 0, 0, 0) + pkt[12:]
                s.sendto(pkt, ("192.168.127.1", 53))
                try:
                    while True:
                        s.recv(4096)
                        replies += 1
                except OSError:
                    pass
            return "replies=%d" % replies
        if kind == "junktls":
            total = int(args[0])
            for _ in range(max(1, total // 10)):
                try:
                    with socket.create_connection((args[1], 443), 10) as s:
                        for _ in range(10):
                            body = bytes(random.randrange(256) for _ in range(random.randrange(0, 60)))
                            kind_byte = random.choice([0x16, 0x16, 0x17, 0x15, 0x00])
                            s.sendall(struct.pack("!BHH", kind_byte, 0x0301, len(body)) + body)
                        s.settimeout(5)
                        s.recv(100)
                except OSError:
                    pass
            return "done"
        return "ERR unknown step"
    except Exception as e:  # every failure is a result to report
        return reason(e)


for word in sys.argv[1:]:
    print(word, step(word), flush=True)

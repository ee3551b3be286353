"""Network checks run inside a box by test-net: `python3 - STEP...`.

Each STEP is WORD:ARG:ARG... and prints one line that starts with the step:
  resolve:NAME              -> "resolve:NAME ADDRESS" or "resolve:NAME ERR reason"
  http:HOST:ADDR[:PORT]     -> GET / with Host HOST from ADDR; "... OK body" or "... ERR reason"
  https:SNI:ADDR            -> the same over TLS with server name SNI (no certificate check)
  tcpdns:NAME               -> an A query over TCP to the gateway; "... ADDRESS" (first answer)
  junkdns:N                 -> N malformed queries to the DNS server; "... replies=R"
  junktls:N:ADDR            -> N random TLS records on N/10 connections to ADDR:443; "... done"
  forge:KIND:HOST:ADDR      -> connect to ADDR:80, send the filter a hand-made segment on
                               that connection (raw socket), then GET with Host HOST as http:
                               KIND rst-badsum (random seq, wrong checksum), rst-outwin (valid,
                               far out of the window), syn (a second SYN), noack (a request for
                               allowed.test at the right seq without ACK), pause (25 s idle)
  send:WHAT:ADDR            -> raw request bytes to ADDR:80; "... OK body" or "... ERR reason":
                               WHAT absolute, connect, h2c, pipelined
  udp:ADDR:PORT             -> a datagram to ADDR:PORT, waits 2 s for an answer: "... reply" or
                               "... ERR timeout"
The image's python3-minimal has socket and ssl but no http.client.
"""
import random
import socket
import ssl
import struct
import sys
import time

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


def tcp_seqs(sock):
    """The socket's next sequence number and what it acknowledges (TCP_REPAIR)."""
    sock.setsockopt(socket.IPPROTO_TCP, 19, 1)  # TCP_REPAIR
    sock.setsockopt(socket.IPPROTO_TCP, 20, 2)  # TCP_REPAIR_QUEUE: send queue
    snd = sock.getsockopt(socket.IPPROTO_TCP, 21)  # TCP_QUEUE_SEQ
    sock.setsockopt(socket.IPPROTO_TCP, 20, 1)  # receive queue
    rcv = sock.getsockopt(socket.IPPROTO_TCP, 21)
    sock.setsockopt(socket.IPPROTO_TCP, 19, 0)
    return snd & 0xffffffff, rcv & 0xffffffff


def inet_sum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


def raw_tcp(src, sport, dst, dport, seq, ack, flags, payload=b"", bad_sum=False):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, 5 << 4,
                      flags, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6,
                                                                         len(hdr) + len(payload))
    csum = inet_sum(pseudo + hdr + payload) ^ (0x5a5a if bad_sum else 0)
    hdr = hdr[:16] + struct.pack("!H", csum) + hdr[18:]
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP) as r:
        r.sendto(hdr + payload, (dst, 0))


FIN, SYN, RST, PSH, ACK = 1, 2, 4, 8, 16

CANNED = {
    "absolute": b"GET http://other.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
    "connect": b"CONNECT other.test:443 HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
    "h2c": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "pipelined": b"GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n"
                 b"GET / HTTP/1.1\r\nHost: other.test\r\n\r\n",
}


def forge(kind, host, addr):
    try:
        s = socket.create_connection((addr, 80), 10)
        src, sport = s.getsockname()
        snd, rcv = tcp_seqs(s)
        if kind == "rst-badsum":
            raw_tcp(src, sport, addr, 80, random.getrandbits(32), 0, RST, bad_sum=True)
        elif kind == "rst-outwin":
            raw_tcp(src, sport, addr, 80, snd + 0x40000000, rcv, RST | ACK)
        elif kind == "syn":
            raw_tcp(src, sport, addr, 80, random.getrandbits(32), 0, SYN)
        elif kind == "noack":
            raw_tcp(src, sport, addr, 80, snd, 0, PSH, CANNED["pipelined"][:38])
        elif kind == "pause":
            time.sleep(25)
        time.sleep(0.3)
    except Exception as e:
        return "SETUP-" + reason(e)
    with s:
        return fetch(s, host)


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
        if kind == "forge":
            return forge(args[0], args[1], args[2])
        if kind == "send":
            with socket.create_connection((args[1], 80), 10) as s:
                s.sendall(CANNED[args[0]])
                reply = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
                return "OK " + reply.decode(errors="replace").split("\r\n\r\n")[-1]
        if kind == "synflood":
            # SYNs from the box's address and fresh ports, none ever finished.
            addr, port, count = args[0], int(args[1]), int(args[2])
            for i in range(count):
                raw_tcp("192.168.127.2", 1024 + i % 60000, addr, port,
                        random.getrandbits(32), 0, SYN)
            return "sent=%d" % count
        if kind == "udp":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(2)
                s.sendto(b"ping", (args[0], int(args[1])))
                return s.recv(100).decode(errors="replace")
        return "ERR unknown step"
    except Exception as e:  # every failure is a result to report
        return reason(e)


for word in sys.argv[1:]:
    print(word, step(word), flush=True)

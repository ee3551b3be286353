#!/usr/bin/env python3
"""hostile-freeze.py AGENT --fd N: the real guest agent behind a relay that
answers the session request "freeze" itself, as a hostile guest may
(tests/fake-qemu.c runs it when FAKE_QEMU_AGENT_WRAPPER names it).

HOSTILE_FREEZE says how:
  silent   never answers
  lie      claims a million frozen filesystems
  shape    answers with a string where an object belongs
Every other frame passes both ways unchanged; the "thaw" that follows
reaches the real agent.
"""
import json
import os
import select
import socket
import struct
import subprocess
import sys

HEADER = 12
CONTROL = 1


def answer(host, mode):
    if mode == "silent":
        return
    body = {"lie": {"return": {"frozen": 1000000}},
            "shape": {"return": "frozen"}}[mode]
    payload = json.dumps(body).encode()
    host.sendall(struct.pack(">IIB3x", len(payload), 0, CONTROL) + payload)


def main():
    agent, fd = sys.argv[1], int(sys.argv[3])
    mode = os.environ.get("HOSTILE_FREEZE", "silent")
    host = socket.socket(fileno=fd)
    mine, theirs = socket.socketpair()
    proc = subprocess.Popen([agent, "--fd", str(theirs.fileno())],
                            pass_fds=[theirs.fileno()])
    theirs.close()
    pending = b""
    while True:
        ready, _, _ = select.select([host, mine], [], [])
        for sock in ready:
            data = sock.recv(65536)
            if not data:
                proc.kill()
                proc.wait()
                return
            if sock is mine:
                host.sendall(data)
                continue
            pending += data
            while len(pending) >= HEADER:
                length, channel, kind = struct.unpack(">IIB", pending[:9])
                if len(pending) < HEADER + length:
                    break
                frame, pending = pending[:HEADER + length], pending[HEADER + length:]
                if channel == 0 and kind == CONTROL and \
                        json.loads(frame[HEADER:]).get("execute") == "freeze":
                    answer(host, mode)
                    continue
                mine.sendall(frame)


if __name__ == "__main__":
    main()

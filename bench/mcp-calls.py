#!/usr/bin/env python3
"""What a call through `boxlite mcp` costs against the same work done with
the `boxlite` command line, in one run, alternating, on a fresh home:

- run_code (python, print) in a fresh box, against
  `boxlite run --rm -- python3 -c ...` (both create, boot, run, remove);
- exec of `true` on a running box, against `boxlite exec BOX -- true`
  (the command line starts a process and opens the runtime each time;
  the server is already running).

Prints each median and the ratio MCP / command line.

    BOXLITE_CLI=build/src/cli/boxlite python3 bench/mcp-calls.py [RUNS] [EXECS]
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CLI = os.environ.get("BOXLITE_CLI", "build/src/cli/boxlite")
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
EXECS = int(sys.argv[2]) if len(sys.argv) > 2 else 20


class Server:
    """`boxlite mcp` spoken to line by line."""

    def __init__(self, home):
        self.proc = subprocess.Popen([CLI, "--home", home, "mcp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        self.next_id = 0
        self.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                    "clientInfo": {"name": "bench", "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def send(self, message):
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        reply = json.loads(self.proc.stdout.readline())
        assert reply["id"] == self.next_id and "result" in reply, reply
        return reply["result"]

    def tool(self, name, arguments):
        result = self.request("tools/call", {"name": name, "arguments": arguments})
        assert not result["isError"], result
        return "".join(block["text"] for block in result["content"])

    def close(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=60) == 0


def timed(fn):
    start = time.monotonic()
    fn()
    return time.monotonic() - start


def cli(home, *args):
    out = subprocess.run([CLI, "--home", home, *args], check=True, capture_output=True)
    return out.stdout.decode()


def report(what, mcp, peer):
    m, p = statistics.median(mcp), statistics.median(peer)
    print(f"{what}: mcp {m * 1000:.1f} ms, command line {p * 1000:.1f} ms, "
          f"ratio {m / p:.2f} (medians of {len(mcp)})")


def main():
    home = tempfile.mkdtemp(prefix="boxlite-bench-mcp-")
    server = None
    try:
        server = Server(home)
        code = "print(6 * 7)"
        mcp, peer = [], []
        for _ in range(RUNS):
            mcp.append(timed(lambda: server.tool("run_code", {"language": "python", "code": code})))
            peer.append(timed(lambda: cli(home, "run", "--rm", "--", "python3", "-c", code)))
        report("run_code in a fresh box", mcp, peer)

        server.tool("create_box", {"name": "bench", "network": "none"})
        mcp, peer = [], []
        for _ in range(EXECS):
            mcp.append(timed(lambda: server.tool("exec", {"box": "bench", "command": ["true"]})))
            peer.append(timed(lambda: cli(home, "exec", "bench", "--", "true")))
        report("exec true on a running box", mcp, peer)
        server.tool("remove_box", {"box": "bench", "force": True})
    finally:
        if server:
            server.close()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()

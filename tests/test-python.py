#!/usr/bin/env python3
"""test-python.py: the library from Python, through GObject-Introspection.

Boots one real box (no network) through the typelib built next to the
library and does what a Python caller would: create, start, exec with
stdin, read both streams, wait, the async create/start on a GLib main
loop, errors as GLib.Error in the Boxlite error domain, the network spec
and its record, the state property and its notification, stop, a
snapshot and a clone, and remove. Prints TAP.
"""
import shutil
import sys
import tempfile
import time

import gi

gi.require_version("Boxlite", "0.1")
gi.require_version("Gio", "2.0")
from gi.repository import Boxlite, Gio, GLib  # noqa: E402

checks = 0


def check(name, ok, detail=""):
    global checks
    checks += 1
    print(("ok" if ok else "not ok") + f" {checks} - {name}" + (f": {detail}" if not ok else ""))
    if not ok:
        sys.exit(1)


def read_all(stream):
    data = b""
    while True:
        chunk = stream.read_bytes(65536, None).get_data()
        if not chunk:
            return data
        data += chunk


home = tempfile.mkdtemp(prefix="boxlite-py-")
try:
    options = Boxlite.Options.new()
    options.set_home_dir(home)
    runtime = Boxlite.Runtime.new(options)

    box_options = Boxlite.BoxOptions.new()
    check("network on by default", box_options.get_network() == Boxlite.NetworkMode.ENABLED)

    # Options as properties: set at construction, through .props, and
    # notified once per change, never for the same value again.
    box_options = Boxlite.BoxOptions(network=Boxlite.NetworkMode.DISABLED, memory_mib=640,
                                     env=["FROM=python"], max_processes=512)
    check("options from properties",
          box_options.get_network() == Boxlite.NetworkMode.DISABLED
          and box_options.props.memory_mib == 640 and list(box_options.props.env) == ["FROM=python"]
          and box_options.get_max_processes() == 512)
    seen = []
    box_options.connect("notify::cpus", lambda options, pspec: seen.append(options.props.cpus))
    box_options.props.cpus = 2
    box_options.props.cpus = 2
    box_options.set_cpus(1)
    check("notify once per change", seen == [2, 1], repr(seen))

    # Volumes: the spec list as a property, add_volume through the typelib.
    box_options.props.volumes = [home + ":/data"]
    box_options.add_volume(home, "/ro", True)
    check("volumes property and add_volume",
          list(box_options.props.volumes) == [home + ":/data", home + ":/ro:ro"],
          repr(box_options.props.volumes))
    check("volumes validate", box_options.validate())
    box_options.props.volumes = None

    # Async creation and start, driven by a main loop as a GLib app would.
    loop = GLib.MainLoop()
    state = {}

    def started(box, result):
        state["started"] = box.start_finish(result)
        loop.quit()

    def created(rt, result):
        box = rt.create_finish(result)
        state["box"] = box
        box.start_async(None, started)

    runtime.create_async(box_options, "from-python", None, created)
    loop.run()
    box = state["box"]
    check("async create and start", state["started"] and box.get_state() == Boxlite.BoxState.RUNNING)
    check("name", box.get_name() == "from-python")

    command = Boxlite.Command(argv=["sh", "-c", "tr a-z A-Z; echo err >&2; echo $FROM >&2; exit 3"],
                              stdin=True)
    execution = box.exec(command, None)
    stdin = execution.get_stdin()
    stdin.write_bytes(GLib.Bytes.new(b"hello from python\n"), None)
    stdin.close(None)
    out = read_all(execution.get_stdout())
    err = read_all(execution.get_stderr())
    execution.wait(None)
    check("stdout", out == b"HELLO FROM PYTHON\n", repr(out))
    check("stderr, with the box's environment", err == b"err\npython\n", repr(err))
    check("exit code", execution.get_exit_code() == 3, str(execution.get_exit_code()))
    check("not OOM-killed", not execution.get_oom_killed() and not execution.props.oom_killed)

    # A command on a terminal: the size from the properties, one stream.
    command = Boxlite.Command(argv=["sh", "-c", "stty size; echo err >&2"], tty=True)
    command.set_tty_size(20, 70)
    check("tty properties", command.props.tty_rows == 20 and command.props.tty_cols == 70)
    tty_execution = box.exec(command, None)
    check("execution on a terminal", tty_execution.get_tty())
    out = read_all(tty_execution.get_stdout())
    tty_execution.wait(None)
    check("tty output", out == b"20 70\r\nerr\r\n", repr(out))
    try:
        execution.resize(30, 90)
        check("resize without a terminal raises", False)
    except GLib.Error as e:
        check("resize without a terminal raises INVALID_STATE",
              e.matches(Boxlite.error_quark(), Boxlite.Error.INVALID_STATE), e.message)

    try:
        runtime.get("no-such-box")
        check("missing box raises", False)
    except GLib.Error as e:
        check("missing box raises NOT_FOUND",
              e.matches(Boxlite.error_quark(), Boxlite.Error.NOT_FOUND), e.message)

    check("no network, empty record", list(box.get_net_log()) == [])
    progress = []
    box.connect("copy-progress", lambda b, done, total: progress.append((done, total)))
    box.write_file("/tmp/from-python", GLib.Bytes.new(b"bytes\x00in"), 0o600, None)
    back = box.read_file("/tmp/from-python", 100, None).get_data()
    check("write_file and read_file", back == b"bytes\x00in", repr(back))
    # write_file reports the archive's bytes against the file's 8; read_file
    # cannot know a total.
    check("copy-progress", len(progress) == 2 and progress[0][1] == 8 and progress[0][0] >= 8
          and progress[1][1] == 0, repr(progress))
    # The state property follows the box, and tells on the main context.
    check("state property", box.props.state == Boxlite.BoxState.RUNNING, str(box.props.state))
    seen = []
    box.connect("notify::state", lambda b, pspec: seen.append(b.props.state))
    check("stop", box.stop(False, None) and box.get_state() == Boxlite.BoxState.STOPPED)
    deadline = GLib.get_monotonic_time() + 5 * 1000000
    while not seen and GLib.get_monotonic_time() < deadline:
        if not GLib.MainContext.default().iteration(False):
            time.sleep(0.01)
    check("state notifies", seen == [Boxlite.BoxState.STOPPED], repr(seen))
    # Snapshots and clones: a string list and a nullable snapshot name.
    check("snapshot_create", box.snapshot_create("s1", None))
    check("snapshot_list", box.snapshot_list() == ["s1"], repr(box.snapshot_list()))
    info = box.snapshot_get_info("s1")
    check("snapshot_get_info", info.unpack().get("taken") == "stopped", repr(info))
    copy = runtime.clone(box, None, "py-copy", None)
    check("clone", copy.get_name() == "py-copy" and copy.get_id() != box.get_id())
    try:
        box.snapshot_restore("../s1", None)
        check("bad snapshot name raises", False)
    except GLib.Error as e:
        check("bad snapshot name raises", e.matches(Boxlite.error_quark(),
                                                    Boxlite.Error.INVALID_ARGUMENT), e.message)
    check("remove the clone", runtime.remove(copy.get_id(), False))
    check("remove", runtime.remove(box.get_id(), False))
    check("nothing left", runtime.list() == [])
finally:
    shutil.rmtree(home, ignore_errors=True)
print(f"1..{checks}")

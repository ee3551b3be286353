/* bl_proto.h: the wire format between the host and the guest agent.
 *
 * Shared, unchanged, by the guest agent (plain libc) and the host (GLib), so
 * it uses nothing but <stdint.h> and <stddef.h>.
 *
 * The same framing is spoken on two links:
 *   - the virtio-serial port between the box monitor and the guest agent;
 *   - the box monitor's control socket, between the library and the monitor,
 *     which relays exec channels to the agent (renumbering channel ids so
 *     several clients can share one port).
 *
 * A frame is a 12-byte header followed by `len` bytes of payload:
 *
 *   offset 0  u32 big-endian  len      payload length, <= BL_PROTO_MAX_PAYLOAD
 *   offset 4  u32 big-endian  channel  0 = the session; >= 1 = one exec
 *   offset 8  u8              type     enum bl_frame_type
 *   offset 9  u8[3]           zero     must be zero; a reader rejects others
 *
 * CONTROL payloads are one JSON object in the QEMU guest agent's vocabulary:
 *   request   {"execute": "NAME", "arguments": {...}}
 *   reply     {"return": {...}}  or  {"error": {"class": "...", "desc": "..."}}
 *   event     {"event": "NAME", "data": {...}}
 * Replies on a channel come in the order of its requests; no "id" member is
 * needed because the channel number carries it.
 *
 * Session (channel 0), agent side:
 *   agent -> host  event  "ready"    {"version": N}   once the port is open
 *   host -> agent  execute "hello"   {"version": N}   -> return {"version": N}
 *                                                       or error "VersionMismatch"
 *   host -> agent  execute "identity" {
 *        "hostname": "name",     1-63 of [A-Za-z0-9.-], not starting with '-' or '.'
 *        "box_id": "id",         1-79 bytes
 *        "time_ns": N,           the host's wall clock (ns since the epoch) as sent
 *        "entropy": "hex",       32-64 bytes from the host's getrandom, lowercase hex
 *        "network": bool,        optional: set up eth0 (the box has a NIC)
 *        "pids_max": N,          optional, default 4096: the box's process cap
 *        "disk_bytes": N         optional: the root disk's size, awaited before
 *                                the mount (a template's copy had it resized)
 *   }  -> return {}  or  error "InvalidArgument"
 *                  sent once, after "hello" and before anything else: the
 *                  agent sets the clock, credits the bytes to the kernel's
 *                  pool and reseeds its generator (RNDADDENTROPY,
 *                  RNDRESEEDCRNG), then mounts the box's disk and sets up
 *                  the name, the process cap and the network. Until then
 *                  every other request but "hello" and "shutdown" is
 *                  refused ("Failed"). Templates: a template VM is stopped
 *                  after "ready" and before "identity", and copies of it
 *                  resume there; their agent never sends "ready" again, it
 *                  keeps its port open, treats EOF as "no host yet", and
 *                  the host speaks first.
 *   host -> agent  execute "mount" {"volumes": [{"tag": "boxliteN", "path": "/abs",
 *                                                 "read_only": bool}, ...]}
 *                  -> return {}  or  error {"class": "InvalidArgument" | "Failed", "desc"}
 *                  sent once, after "hello", when the box has host folders
 *                  (at most 16): the agent makes each path and mounts the
 *                  virtio-9p device whose mount tag is "tag" on it, and stops
 *                  at the first failure; the host counts the box as started
 *                  only after the {} and fails the start on an error.
 *   host -> agent  execute "stats" {}
 *                  -> return {"mem_total": N, "mem_available": N,   bytes, /proc/meminfo
 *                             "load1": N, "load5": N, "load15": N,  thousandths, /proc/loadavg
 *                             "processes": N,                       entries of /proc
 *                             "disk_total": N, "disk_used": N,      bytes of the root
 *                             "disk_available": N}                  filesystem (statvfs)
 *                  every member an unsigned integer, left out when the agent cannot
 *                  read it. The host takes all of it as the guest's word: it bounds
 *                  and cross-checks the figures (src/box/metrics.h) and refuses the
 *                  whole answer when one is off.
 *   host -> agent  execute "freeze" {"timeout_ms": N}   1..BL_PROTO_FREEZE_MAX_MS,
 *                                                        default the maximum
 *                  -> return {"frozen": N}  or  error {"class": "InvalidArgument" |
 *                                                      "Failed", "desc"}
 *                  freezes (FIFREEZE) every writable mount backed by a block
 *                  device, all or none: on an error nothing stays frozen. The
 *                  agent thaws by itself after timeout_ms, when the link ends and
 *                  before a shutdown, so a guest is never left frozen by a host
 *                  that went away. N is the guest's word: the host bounds it.
 *   host -> agent  execute "thaw" {}
 *                  -> return {"thawed": N, "expired": bool}
 *                  "expired": the deadline thawed them before this request.
 *   host -> agent  execute "shutdown" {}             -> return {}, then the
 *                  agent ends every process, syncs, unmounts and reboots (QEMU
 *                  runs with -no-reboot, so the VM exits).
 *
 * Session (channel 0), monitor side (control socket only):
 *   client -> monitor execute "hello"  {"version": N} -> return {"version": N, "id": BOXID}
 *   client -> monitor execute "stop"   {"force": bool, "timeout_ms": N} -> return {}
 *                     (the monitor exits soon after the reply)
 *   client -> monitor execute "status" {} -> return {"qemu": "running"|"paused"|...}
 *   client -> monitor execute "pause" {} | "resume" {} -> return {}
 *   client -> monitor execute "snapshot" {}
 *                     -> return {"frozen_ms": N, "filesystems": N, "expired": bool}
 *                     switches QEMU's disk to BOXDIR/disk.qcow2.new, a new empty
 *                     overlay the client made on a hard link of the current disk
 *                     (src/image/snapshot.c), with the guest's filesystems frozen
 *                     ("freeze" above) and the vCPUs running (a paused box runs
 *                     for that time and is paused again), then renames it over
 *                     disk.qcow2. After an error, disk.qcow2.new still there
 *                     means QEMU never wrote it (the freeze failed, or QEMU
 *                     refused). "frozen_ms" is how long the guest was frozen,
 *                     "filesystems" how many it says it froze, "expired" that
 *                     the agent thawed by itself before the thaw request.
 *   client -> monitor execute "start_detached" {exec arguments, below}
 *                     -> the agent's answer to that exec: return {"pid": N} or an
 *                     error. The command belongs to the box, not to the client: it
 *                     has no stdin, outlives the client, and its output goes to
 *                     BOXDIR/main.log (src/box/main-log.h).
 *   client -> monitor execute "stats"  {} -> return {
 *                        "processes": {"qemu"|"monitor"|"net": {"rss": BYTES, "cpu_ns": N}},
 *                        "disk": {"read_bytes", "write_bytes", "read_ops", "write_ops"},
 *                        "guest": the agent's answer to "stats", as it came}
 *                     a process not running is left out; "disk" sums QEMU's
 *                     query-blockstats over the box's drives; "disk" and "guest" are
 *                     left out when QEMU or the agent did not answer within 5 s
 *                     ("guest" also when the box is paused: the agent is not asked).
 *   client -> monitor execute "watch"  {} -> return {"state": STATE}
 *   monitor -> client event   "state"  {"state": STATE}
 *                     sent to each client that asked to "watch" whenever the box's
 *                     state changes, after the record (box.json) says so; the last
 *                     one ("stopped" or "crashed") comes just before the monitor
 *                     closes the link on its way out. STATE is one of "running",
 *                     "paused", "stopped", "crashed".
 *
 * Exec (channel N >= 1, chosen by the host, unused on this link):
 *   host -> agent  execute "exec" {
 *        "argv": ["prog", "arg", ...],       required, non-empty
 *        "env": ["K=V", ...],                optional, added to the default env
 *        "cwd": "/dir",                      optional, default "/"
 *        "user": "name" | "uid" | "uid:gid", optional, default root (looked up
 *                                            in ROOT/etc/passwd with "root")
 *        "root": "/dir",                     optional: the command runs chrooted
 *                                            there, with /proc, /sys and /dev
 *                                            mounted in a mount namespace of its
 *                                            own (a container in the box)
 *        "timeout_ms": N,                    optional, 0 = none; on expiry the
 *                                            process group gets SIGKILL
 *        "stdin": true | false               optional, false = stdin is /dev/null
 *        "tty": {"rows": R, "cols": C}       optional: run on a pseudo-terminal
 *   }
 *   -> return {"pid": N}
 *   -> error {"class": "CommandNotFound" | "PermissionDenied" |
 *             "InvalidArgument" | "Failed", "desc": "..."}  (channel is then free)
 *   then, from the agent: STDOUT / STDERR frames, an empty STDOUT and an empty
 *   STDERR frame (end of each stream), and last
 *      event "exit" {"code": N}  or  {"signal": N}
 *                   (+ "timed_out": true      the timeout killed it)
 *                   (+ "oom_killed": true     the guest's OOM killer killed the
 *                                             process or one it started: each
 *                                             exec has a cgroup of its own and
 *                                             this is its memory.events oom_kill)
 *   after which the channel number is free again. Both flags are optional
 *   booleans (absent = false); any other type is a protocol violation.
 *   Every exec runs under the box's process cap (cgroup v2 pids.max, from
 *   "identity"); the agent itself is
 *   outside it and out of the OOM killer's reach.
 *   host -> agent  execute "signal" {"signal": N} -> return {}
 *   host -> agent  STDIN frames; an empty STDIN frame closes the child's stdin.
 *
 * Terminals: with "tty", the command is the leader of a new session whose
 * controlling terminal is a pseudo-terminal of R rows and C columns (each
 * 1..65535; anything else is refused with "InvalidArgument"), open as its
 * stdin, stdout and stderr, with TERM=xterm unless "env" sets TERM. Its
 * output and its errors are one stream: the agent sends STDOUT frames only
 * (then the same two empty end frames); a non-empty STDERR frame on such a
 * channel is a protocol error. STDIN bytes go through the terminal's line
 * discipline, so 0x03 is the interrupt character as on any terminal. An
 * empty STDIN frame writes the terminal's end-of-file character (VEOF, ^D
 * by default) once and ends the input; the terminal itself stays open. The
 * output ends when no process has the terminal open any more, or, once the
 * command has exited, when nothing more is left to read after 500 ms (so a
 * process it left behind holding the terminal cannot hold back the exit).
 *   host -> agent  execute "resize" {"rows": R, "cols": C} -> return {}
 *                  sets the terminal's size (the command gets SIGWINCH);
 *                  "InvalidArgument" on a channel without a terminal or for
 *                  sizes outside 1..65535.
 * File copies (channel N >= 1, like an exec; the agent does the work in a
 * worker process of its own, so they need no tar program in the image):
 *   host -> agent  execute "copy_out" {"path": "/abs/path"}
 *        the agent sends a tar stream of the path as STDOUT frames: ustar
 *        headers, a pax extended header first when a name or link is longer
 *        than its field, a time has nanoseconds or a number does not fit;
 *        the top entry is named after the path's last component, or "."
 *        for "DIR/." (its contents). Symlinks are sent as links, devices
 *        and sockets are left out, nothing is followed.
 *   host -> agent  execute "copy_in" {
 *        "path": "/abs/path",   where the stream goes: into it when it is a
 *                               directory, else created as it, the stream's
 *                               top entry renamed (the container tools' cp)
 *        "raw": bool,           optional: the stream is the caller's and
 *                               "path" must be an existing directory
 *        "exact": bool,         optional: "path" is the file itself; a
 *                               directory there is an error
 *        "owners": bool         optional: keep the stream's uid/gid
 *   }   and the tar stream (ustar, pax or GNU) as STDIN frames, then an
 *        empty STDIN frame. Every entry is resolved beneath the destination
 *        without following a symlink; "..", absolute names and entries under
 *        a link are refused.
 *   Both: -> return {"pid": N} (the worker), or an error as for "exec";
 *   then an empty STDOUT and STDERR frame and last
 *      event "exit" {"code": 0}  or
 *                   {"code": N, "error": {"class": "NotFound" |
 *                    "NotADirectory" | "InvalidArgument" | "PermissionDenied" |
 *                    "NoSpace" | "Failed", "desc": "..."}}
 *   A copy is stopped with "signal" like a command.
 *
 * Flow control: each side may send at most BL_PROTO_INITIAL_CREDIT bytes of
 * data payload (STDOUT+STDERR together for the agent, STDIN for the host) on a
 * channel before the peer grants more with a CREDIT frame (payload: u32
 * big-endian byte count). A receiver grants credit as it hands bytes on, so
 * neither side buffers more than one window per exec. Sending beyond the
 * granted credit is a protocol error.
 *
 * Any violation (bad length, nonzero padding, unknown type, malformed JSON, a
 * frame for a channel that is not open) ends the link: the host treats all
 * of it as hostile input.
 */
#ifndef BL_PROTO_H
#define BL_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define BL_PROTO_VERSION 1
#define BL_PROTO_HEADER_SIZE 12
#define BL_PROTO_MAX_PAYLOAD (64 * 1024)
#define BL_PROTO_INITIAL_CREDIT (256 * 1024)
#define BL_PROTO_MAX_CHANNEL 0x7fffffffu
/* Name of the virtserialport the agent serves on (/sys/class/virtio-ports/…/name). */
#define BL_PROTO_PORT_NAME "org.boxlite.agent.0"
/* The longest the agent keeps filesystems frozen without a "thaw". */
#define BL_PROTO_FREEZE_MAX_MS 10000
/* Bounds of a terminal's rows and columns ("tty", "resize"). */
#define BL_PROTO_TTY_MIN 1
#define BL_PROTO_TTY_MAX 65535

enum bl_frame_type {
    BL_FRAME_CONTROL = 1,
    BL_FRAME_STDIN = 2,
    BL_FRAME_STDOUT = 3,
    BL_FRAME_STDERR = 4,
    BL_FRAME_CREDIT = 5,
};

struct bl_frame_header {
    uint32_t len;
    uint32_t channel;
    uint8_t type;
};

static inline void
bl_proto_put_u32 (uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

static inline uint32_t
bl_proto_get_u32 (const uint8_t *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

static inline void
bl_proto_encode_header (uint8_t out[BL_PROTO_HEADER_SIZE], const struct bl_frame_header *h)
{
    bl_proto_put_u32 (out, h->len);
    bl_proto_put_u32 (out + 4, h->channel);
    out[8] = h->type;
    out[9] = out[10] = out[11] = 0;
}

/* Decodes and validates a header. Returns 0, or -1 when the header is
 * malformed (oversized payload, nonzero padding, unknown type, a CREDIT frame
 * whose payload is not 4 bytes, or data frames on channel 0). */
static inline int
bl_proto_decode_header (const uint8_t in[BL_PROTO_HEADER_SIZE], struct bl_frame_header *h)
{
    h->len = bl_proto_get_u32 (in);
    h->channel = bl_proto_get_u32 (in + 4);
    h->type = in[8];
    if (in[9] || in[10] || in[11])
        return -1;
    if (h->len > BL_PROTO_MAX_PAYLOAD || h->channel > BL_PROTO_MAX_CHANNEL)
        return -1;
    if (h->type < BL_FRAME_CONTROL || h->type > BL_FRAME_CREDIT)
        return -1;
    if (h->type == BL_FRAME_CREDIT && h->len != 4)
        return -1;
    if (h->type == BL_FRAME_CONTROL && h->len == 0)
        return -1;
    if (h->type != BL_FRAME_CONTROL && h->channel == 0)
        return -1;
    return 0;
}

#endif /* BL_PROTO_H */

#!/usr/bin/env bash
# The boot floor: how fast the guest kernel alone gets to userspace and back
# out, with nothing of boxlite involved. Bare QEMU (microvm, TCG) boots the
# kernel with a tiny initramfs whose /init is a busybox-static shell script
# that prints a marker on the serial console and reboots; with reboot=t and
# -no-reboot that reboot ends QEMU. Anything boxlite adds to a box start is
# measured against this number.
#
#   bench/boot-floor.sh [KERNEL]
#
# KERNEL defaults to $BOXLITE_KERNEL, else /var/cache/boxlite/kernel/vmlinux.
# Environment: RUNS (5), TIMEOUT per run in seconds (60), BUSYBOX (path of a
# statically linked busybox), KEEP_LOGS=1 to keep every run's console output.
#
# Prints each run, then the medians of launch -> marker and launch -> QEMU
# exit. A run that does not reach the marker within TIMEOUT is killed and
# reported (a hang is a finding, not noise); its console output is kept.
# Exit status: 0 when every run booted, 1 when any did not.
set -euo pipefail

kernel=${1:-${BOXLITE_KERNEL:-/var/cache/boxlite/kernel/vmlinux}}
runs=${RUNS:-5}
timeout=${TIMEOUT:-60}
qemu=${QEMU:-qemu-system-x86_64}

die() { echo "boot-floor: $*" >&2; exit 2; }

[ -r "$kernel" ] || die "no kernel at $kernel (run scripts/setup.sh, or pass a path)"
command -v "$qemu" >/dev/null || die "$qemu not found (apt-get install qemu-system-x86)"
command -v cpio >/dev/null || die "cpio not found (apt-get install cpio)"
command -v python3 >/dev/null || die "python3 not found (apt-get install python3)"

# busybox-static installs /bin/busybox; a dynamically linked one would need
# its libraries in the initramfs, so refuse it.
busybox=${BUSYBOX:-}
if [ -z "$busybox" ]; then
    for b in /bin/busybox /usr/bin/busybox; do
        [ -x "$b" ] && { busybox=$b; break; }
    done
fi
[ -n "$busybox" ] || die "busybox not found (apt-get install busybox-static)"
if LC_ALL=C readelf -l "$busybox" 2>/dev/null | grep -q 'INTERP'; then
    die "$busybox is dynamically linked (apt-get install busybox-static)"
fi

# The guest cannot calibrate its TSC reliably under TCG; hand it the host's.
khz=$(awk -F: '/^cpu MHz/ { printf "%d\n", $2 * 1000; exit }' /proc/cpuinfo)
if [ -z "$khz" ] && [ -r /sys/devices/system/cpu/cpu0/tsc_freq_khz ]; then
    khz=$(cat /sys/devices/system/cpu/cpu0/tsc_freq_khz)
fi
if [ -z "$khz" ] || [ "$khz" -le 0 ]; then
    die "cannot read the host TSC frequency from /proc/cpuinfo"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/boot-floor.XXXXXX")
trap 'rm -rf "$work"' EXIT

# ── initramfs ────────────────────────────────────────────────────────────────
root=$work/root
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys"
cp "$busybox" "$root/bin/busybox"
# The kernel's built-in initramfs already has /dev/console; ship one anyway
# when we may create device nodes, so the script does not depend on that.
if [ "$(id -u)" = 0 ]; then
    mknod -m 600 "$root/dev/console" c 5 1
fi
marker="BOXLITE-FLOOR-$$-READY"
cat >"$root/init" <<EOF
#!/bin/busybox sh
/bin/busybox echo $marker
# reboot=t + QEMU's -no-reboot: the reboot ends QEMU. (poweroff would need
# ACPI, which this machine type runs without.)
/bin/busybox reboot -f
EOF
chmod 0755 "$root/init"
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$work/initrd.cpio"

append="console=ttyS0 quiet reboot=t panic=-1 tsc_early_khz=$khz tsc=reliable no_timer_check 8250.nr_uarts=1 rdinit=/init"
# shellcheck disable=SC2054  # the commas belong to QEMU options
qemu_argv=("$qemu" -M microvm,acpi=off,rtc=on -accel tcg -cpu max -m 512
           -nodefaults -no-user-config -display none -no-reboot
           -kernel "$kernel" -initrd "$work/initrd.cpio"
           -append "$append" -serial stdio)

echo "kernel:    $(readlink -f "$kernel") ($(( $(stat -L -c %s "$kernel") / 1024 )) KiB)"
echo "qemu:      $("$qemu" --version | head -n 1)"
echo "host:      $(nproc) cpus, TSC $khz kHz, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "initramfs: $(( $(stat -c %s "$work/initrd.cpio") / 1024 )) KiB (busybox-static)"
echo "runs:      $runs, timeout ${timeout}s each"

rc=0
python3 - "$runs" "$timeout" "$marker" "$work" "${qemu_argv[@]}" <<'PY' || rc=$?
import os, selectors, signal, statistics, subprocess, sys, time

runs, timeout, marker, work = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3].encode(), sys.argv[4]
argv = sys.argv[5:]
keep = os.environ.get("KEEP_LOGS")

def one(n):
    """Returns (seconds to marker or None, seconds to exit or None, status, console)."""
    console = bytearray()
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    t_marker = t_exit = None
    eof = False
    while not eof:
        left = timeout - (time.monotonic() - t0)
        if left <= 0:
            break
        for _key, _ in sel.select(left):
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                eof = True
                break
            console += chunk
            if t_marker is None and marker in console:
                t_marker = time.monotonic() - t0
    try:
        p.wait(max(0.0, timeout - (time.monotonic() - t0)))
        t_exit = time.monotonic() - t0
        status = "ok" if t_marker is not None else f"exited {p.returncode} without the marker"
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        status = ("hung after the marker (QEMU did not exit)" if t_marker is not None
                  else "hung before the marker")
        status += f", killed at {timeout:g}s"
    sel.close()
    p.stdout.close()
    return t_marker, t_exit, status, bytes(console)

marks, exits, bad = [], [], []
for n in range(1, runs + 1):
    m, e, status, console = one(n)
    fmt = lambda x: f"{x:6.3f}s" if x is not None else "     - "
    print(f"run {n}: launch->marker {fmt(m)}  launch->exit {fmt(e)}  {status}", flush=True)
    if m is not None:
        marks.append(m)
    if e is not None and m is not None:
        exits.append(e)
    if status != "ok" or keep:
        path = os.path.join(os.getcwd() if keep else work, f"boot-floor-run{n}.log")
        with open(path, "wb") as f:
            f.write(console)
    if status != "ok":
        bad.append(n)
        tail = console.decode(errors="replace").splitlines()[-15:]
        print("  last console lines:", *("  | " + l for l in tail), sep="\n", flush=True)

def summary(name, xs):
    if not xs:
        return f"{name}: no successful run"
    return (f"{name}: median {statistics.median(xs):.3f} s "
            f"(min {min(xs):.3f}, max {max(xs):.3f}, n={len(xs)})")

print(summary("launch -> marker", marks))
print(summary("launch -> exit  ", exits))
if bad:
    print(f"FINDING: {len(bad)} of {runs} runs did not boot cleanly (runs {', '.join(map(str, bad))})")
    sys.exit(1)
PY
if [ "$rc" != 0 ] && [ -z "${KEEP_LOGS:-}" ]; then
    # Keep the console output of the failed runs past the temp dir's removal.
    for f in "$work"/boot-floor-run*.log; do
        [ -e "$f" ] || continue
        cp "$f" "${TMPDIR:-/tmp}/" && echo "console log: ${TMPDIR:-/tmp}/$(basename "$f")"
    done
fi
exit "$rc"

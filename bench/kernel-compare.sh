#!/usr/bin/env bash
# Boot time to init of the two guest-kernel candidates, same QEMU, same TCG,
# same tiny initramfs (busybox prints a marker and reboots, which ends QEMU):
#   (a) Debian's cloud kernel (kernel/cloud-kernel.sh), ACPI on: its
#       virtio-mmio driver finds devices only through ACPI;
#   (b) the microvm kernel built by kernel/build.sh, ACPI off.
# Prints the median of RUNS launches to the marker and to QEMU's exit, and
# the ratio (a)/(b).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-5}
ours=$("$here/kernel/build.sh")
cloud=$("$here/kernel/cloud-kernel.sh")
busybox=$(command -v busybox || true)
[ -x /bin/busybox ] && busybox=/bin/busybox
[ -n "$busybox" ] || { echo "needs busybox-static" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/bin" "$work/root/dev" "$work/root/proc"
cp "$busybox" "$work/root/bin/busybox"
cat > "$work/root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox echo BOXLITE-MARKER
/bin/busybox reboot -f
INIT
chmod 755 "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc --quiet) > "$work/initrd.cpio"
khz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)

python3 - "$runs" "$work/initrd.cpio" "$khz" "$cloud" "$ours" <<'PY'
import statistics, subprocess, sys, time
runs, initrd, khz, cloud, ours = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]

def boot(kernel, machine):
    append = ("console=ttyS0 reboot=t panic=-1 8250.nr_uarts=1 rdinit=/init "
              f"tsc_early_khz={khz} tsc=reliable no_timer_check")
    argv = ["qemu-system-x86_64", "-M", machine, "-accel", "tcg", "-cpu", "max", "-m", "512",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-kernel", kernel, "-initrd", initrd, "-append", append, "-serial", "stdio"]
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    marker = None
    for line in proc.stdout:
        if b"BOXLITE-MARKER" in line and marker is None:
            marker = time.monotonic() - start
    proc.wait(timeout=120)
    return marker, time.monotonic() - start

results = {}
for name, kernel, machine in (("cloud", cloud, "microvm,rtc=on"),
                              ("microvm", ours, "microvm,acpi=off,rtc=on")):
    marks, exits = [], []
    for _ in range(runs):
        m, e = boot(kernel, machine)
        if m is None:
            print(f"{name}: no marker (boot failed)")
            continue
        marks.append(m); exits.append(e)
    results[name] = statistics.median(marks)
    print(f"{name:8s} launch->init marker median {statistics.median(marks):.3f} s "
          f"(runs: {', '.join(f'{x:.2f}' for x in marks)}); launch->QEMU exit median {statistics.median(exits):.3f} s")
print(f"ratio cloud/microvm (to init): {results['cloud'] / results['microvm']:.2f}")
PY

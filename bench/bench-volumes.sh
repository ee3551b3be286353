#!/usr/bin/env bash
# Host folders in a box: virtio-9p (what boxlite uses: QEMU's local backend,
# mapped-xattr, as a real volume mounted by the agent) against virtiofs
# (virtiofsd + vhost-user-fs, cache=auto) and against the guest's own disk
# (ext4 on the box's qcow2 overlay), all in one box, timed inside the guest.
#
#   bench/bench-volumes.sh [BUILD_DIR]          (as root; BUILD_DIR: build)
#
# Environment: RUNS (3), FILES (2000 files of 1 KiB), SIZE_MB (256).
# Each run, on each target: create FILES files, stat them, read them (files
# per second each), then write SIZE_MB MiB in 1 MiB blocks and fsync, and
# read it back (MiB/s). The guest drops its page cache before each stat,
# read and read-back phase; the host's page cache stays warm for every
# target alike. Prints the medians and each transport's ratio to the disk.
set -euo pipefail

build=${1:-build}
runs=${RUNS:-3}
files=${FILES:-2000}
size_mb=${SIZE_MB:-256}
here=$(cd "$(dirname "$0")" && pwd)
cli=$build/src/cli/boxlite
virtiofsd=${VIRTIOFSD:-/usr/lib/qemu/virtiofsd}

die() { echo "bench-volumes: $*" >&2; exit 2; }
[ -x "$cli" ] || die "no $cli (build first)"
[ -x "$virtiofsd" ] || die "no $virtiofsd (apt-get install qemu-system-x86)"
[ "$(id -u)" = 0 ] || die "run as root (virtiofsd needs it)"

work=$(mktemp -d /var/tmp/bench-volumes-XXXXXX)
vfs_pid=
cleanup() {
    [ -n "${KEEP:-}" ] && { echo "kept $work" >&2; return; }
    BOXLITE_HOME=$work/home "$cli" rm -f benchvol >/dev/null 2>&1 || true
    [ -n "$vfs_pid" ] && kill "$vfs_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/9p" "$work/vfs" "$work/home"
# The folder must be usable by QEMU's unprivileged user (README, Volumes).
chown "$(id -u boxlite-qemu 2>/dev/null || id -u nobody)" "$work/9p"

export BOXLITE_HOME=$work/home
export BENCH_VFS_SOCKET=$work/vfs.sock BENCH_VFS_TAG=benchvfs
"$virtiofsd" --socket-path="$BENCH_VFS_SOCKET" -o source="$work/vfs" -o cache=auto \
    >"$work/virtiofsd.log" 2>&1 &
vfs_pid=$!
for _ in $(seq 50); do [ -S "$BENCH_VFS_SOCKET" ] && break; sleep 0.1; done
export BOXLITE_QEMU=$here/volumes-qemu.sh
"$cli" create --name benchvol --network none -v "$work/9p:/mnt/9p" >/dev/null
"$cli" start benchvol >/dev/null
"$cli" exec benchvol -- sh -c 'mkdir -p /mnt/vfs /root/disk && mount -t virtiofs benchvfs /mnt/vfs'

read -r -d '' workload <<'PY' || true
import os, sys, time
root, files, size_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def drop():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3")
def timed(fn):
    t = time.monotonic(); fn(); return time.monotonic() - t
d = os.path.join(root, "small")
os.mkdir(d)
names = [os.path.join(d, "f%05d" % i) for i in range(files)]
block = b"x" * 1024
def create():
    for n in names:
        with open(n, "wb") as f:
            f.write(block)
def stat():
    for n in names:
        os.stat(n)
def read():
    for n in names:
        with open(n, "rb") as f:
            f.read()
out = {"create": files / timed(create)}
drop(); out["stat"] = files / timed(stat)
drop(); out["read"] = files / timed(read)
big = os.path.join(root, "big")
chunk = os.urandom(1 << 20)
def write_big():
    with open(big, "wb") as f:
        for _ in range(size_mb):
            f.write(chunk)
        f.flush(); os.fsync(f.fileno())
def read_big():
    with open(big, "rb") as f:
        while f.read(1 << 20):
            pass
out["write"] = size_mb / timed(write_big)
drop(); out["readback"] = size_mb / timed(read_big)
for n in names:
    os.unlink(n)
os.rmdir(d); os.unlink(big)
print(" ".join("%s=%.1f" % kv for kv in out.items()))
PY

declare -A results
targets="disk:/root/disk 9p:/mnt/9p virtiofs:/mnt/vfs"
for run in $(seq "$runs"); do
    for t in $targets; do
        name=${t%%:*} path=${t#*:}
        line=$("$cli" exec benchvol -- python3 -c "$workload" "$path" "$files" "$size_mb")
        echo "run $run $name: $line"
        for kv in $line; do
            results[$name.${kv%%=*}]+="${kv#*=} "
        done
    done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
printf '\n%-10s %12s %12s %12s %10s %10s\n' metric disk 9p virtiofs 9p/disk vfs/disk
for m in create stat read write readback; do
    d=$(echo "${results[disk.$m]}" | median)
    p=$(echo "${results[9p.$m]}" | median)
    v=$(echo "${results[virtiofs.$m]}" | median)
    unit=files/s; case $m in write|readback) unit=MiB/s;; esac
    printf '%-10s %12s %12s %12s %10.2f %10.2f  %s\n' "$m" "$d" "$p" "$v" \
        "$(echo "$p / $d" | bc -l)" "$(echo "$v / $d" | bc -l)" "$unit"
done

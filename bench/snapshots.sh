#!/bin/bash
# Snapshots of a box's disk two ways: qcow2 internal snapshots (one file) and
# external backing chains (each snapshot a frozen file the next overlay sits
# on). Prints the time to take each snapshot and the CPU time of the disk's
# reads and writes with none, and with SNAPSHOTS of them, taken. With BOXLITE_CLI
# set, also times `boxlite clone` of a box with 1 GiB written.
#   bash bench/snapshots.sh            (SNAPSHOTS=4 REPEAT=3 by default)
set -euo pipefail

SNAPSHOTS=${SNAPSHOTS:-4}
REPEAT=${REPEAT:-3}
dir=$(mktemp -d "${TMPDIR:-/var/tmp}/bl-snapbench.XXXXXX")
trap 'rm -rf "$dir"' EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The median of the numbers on stdin.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# A fresh box disk: a 2 GiB raw base with 512 MiB of data, a qcow2 overlay.
fresh_disk() {
    rm -rf "$dir/d" && mkdir -p "$dir/d/snapshots"
    qemu-img create -q -f raw "$dir/d/base.raw" 2G
    qemu-io -f raw -c "write -q -P 1 0 512M" "$dir/d/base.raw" >/dev/null
    qemu-img create -q -f qcow2 -F raw -b "$dir/d/base.raw" "$dir/d/disk.qcow2"
}

# Writes 64 MiB of the overlay, as a box would between two snapshots.
dirty() { qemu-io -f qcow2 -c "write -q -P $((1 + $1)) $(($1 * 64))M 64M" "$dir/d/disk.qcow2" >/dev/null; }

snap_internal() { qemu-img snapshot -c "s$1" "$dir/d/disk.qcow2"; }

# What the library does: the disk becomes the snapshot, a new overlay on it
# becomes the disk.
snap_external() {
    ln "$dir/d/disk.qcow2" "$dir/d/snapshots/s$1.qcow2"
    qemu-img create -q -f qcow2 -F qcow2 -b "$dir/d/snapshots/s$1.qcow2" "$dir/d/disk.new"
    mv "$dir/d/disk.new" "$dir/d/disk.qcow2"
}

# CPU milliseconds (user + system) that 512 MiB of 4 KiB requests cost:
# reads over the first 512 MiB, or writes into 512 MiB never written
# (allocations in the top file). CPU time, not MiB/s: the chain's cost is
# lookups, and the machine's other load moves wall-clock figures more than
# the difference measured.
cpu_ms() {
    local args=(-s 4k -c 131072) TIMEFORMAT='%3U %3S' t
    [ "$1" = write ] && args+=(-w -o 1G)
    for _ in $(seq "$REPEAT"); do
        cp --reflink=auto --sparse=always "$dir/d/disk.qcow2" "$dir/d/probe.qcow2"
        t=$({ time qemu-img bench -q -f qcow2 "${args[@]}" "$dir/d/probe.qcow2" >/dev/null; } 2>&1)
        awk '{ printf "%d\n", ($1 + $2) * 1000 }' <<<"$t"
        rm -f "$dir/d/probe.qcow2"
    done | median
}

echo "# disk: 2 GiB raw base (512 MiB data) under a qcow2 overlay; 64 MiB written between snapshots"
fresh_disk
echo "no snapshot: read $(cpu_ms read) ms CPU, write $(cpu_ms write) ms CPU"
for kind in internal external; do
    fresh_disk
    times=()
    for i in $(seq "$SNAPSHOTS"); do
        dirty "$i"
        t0=$(now_ms)
        "snap_$kind" "$i"
        times+=($(($(now_ms) - t0)))
    done
    echo "$kind: create ms ${times[*]}; with $SNAPSHOTS snapshots read $(cpu_ms read) ms CPU, write $(cpu_ms write) ms CPU, files $(du -sm "$dir/d" | cut -f1) MiB"
done

if [ -n "${BOXLITE_CLI:-}" ]; then
    export BOXLITE_HOME="$dir/home"
    id=$("$BOXLITE_CLI" create --name bench-src)
    disk="$BOXLITE_HOME/boxes/$id/disk.qcow2"
    qemu-io -f qcow2 -c "write -q -P 7 0 1G" "$disk" >/dev/null
    t0=$(now_ms)
    "$BOXLITE_CLI" clone bench-src bench-clone >/dev/null
    echo "clone of a box with 1 GiB written: $(($(now_ms) - t0)) ms (the boxlite process included)"
    "$BOXLITE_CLI" rm bench-clone >/dev/null
    "$BOXLITE_CLI" rm bench-src >/dev/null
fi

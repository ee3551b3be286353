#!/usr/bin/env bash
# What auto_stop's watch costs: the monitor's CPU time while its box sits
# idle with --auto-stop (one look a second: a stat() of the network's
# counts, and the relay table) against a peer box without it, both running
# at once on the same machine.
#
#   bench/idle-watch.sh [BUILD_DIR]          (BUILD_DIR: build)
#
# Environment: RUNS (3), WINDOW (30 seconds sampled per run), AUTO_STOP
# (3600: looks every 10 s; at most 10, it looks every second).
# Each run starts both boxes detached, with a main command that sleeps (so
# that the watched box looks on without stopping) and nothing else, takes each monitor's time
# on a CPU from /proc/PID/schedstat (nanoseconds; the tick-based figures of
# `boxlite stats` are too coarse for this) at the start and the end of the
# window, and prints the microseconds used; then the medians, their ratio
# and the cost of one look.
set -euo pipefail

build=${1:-build}
runs=${RUNS:-3}
window=${WINDOW:-30}
auto_stop=${AUTO_STOP:-3600}
cli=$build/src/cli/boxlite

die() { echo "idle-watch: $*" >&2; exit 2; }
[ -x "$cli" ] || die "no $cli (build first)"

home=$(mktemp -d "${TMPDIR:-/tmp}/bench-idle-XXXXXX")
bl() { "$cli" --home "$home" "$@"; }
cleanup() {
    bl rm -f idle-watched idle-plain >/dev/null 2>&1 || true
    rm -rf "$home"
}
trap cleanup EXIT

# monitor_ns NAME: the time the box's monitor has run on a CPU, in ns.
monitor_ns() {
    local pid
    pid=$(bl inspect "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["monitor_pid"])')
    cut -d' ' -f1 "/proc/$pid/schedstat"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

watched=() plain=()
for run in $(seq "$runs"); do
    bl run -d --auto-stop "$auto_stop" --name idle-watched -- sleep 100000 >/dev/null
    bl run -d --name idle-plain -- sleep 100000 >/dev/null
    sleep 2
    w0=$(monitor_ns idle-watched) p0=$(monitor_ns idle-plain)
    sleep "$window"
    w1=$(monitor_ns idle-watched) p1=$(monitor_ns idle-plain)
    bl rm -f idle-watched idle-plain >/dev/null
    watched+=($(((w1 - w0) / 1000))) plain+=($(((p1 - p0) / 1000)))
    echo "run $run: monitor CPU over ${window} s: ${watched[-1]} us with --auto-stop," \
        "${plain[-1]} us without"
done
mw=$(printf '%s\n' "${watched[@]}" | median)
mp=$(printf '%s\n' "${plain[@]}" | median)
echo "median over $runs runs: $mw us with --auto-stop $auto_stop, $mp us without" \
    "(ratio $(python3 -c "print('%.1f' % ($mw / max($mp, 1)))")," \
    "$(python3 -c "print('%.1f' % (($mw - $mp) / $window))") us a second)"

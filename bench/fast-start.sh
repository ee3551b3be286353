#!/bin/sh
# fast-start.sh: every figure of fast start in one run, each beside its
# peer: start from a template and cold against the bare-QEMU floor, PSS per
# idle box at 10, 25 and 50 boxes with where an idle box's memory goes
# (bench-boot), then the exec round trip against the QEMU guest agent on
# the same VM and stdout against the guest's own pipe (bench-exec, as root,
# with Debian's qemu-guest-agent installed). Prints both tables, then one
# JSON object holding both programs' figures.
#
#   bench/fast-start.sh [BUILD_DIR]      (RUNS, DENSITY, TRIPS pass through)
set -eu
build=${1:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$build/bench/bench-boot" | tee "$out/boot"
echo
if [ "$(id -u)" = 0 ] && [ -x /usr/sbin/qemu-ga ]; then
    "$build/bench/bench-exec" | tee "$out/exec"
    exec_json=$(tail -n 1 "$out/exec")
else
    echo "bench-exec skipped: it runs as root with /usr/sbin/qemu-ga (qemu-guest-agent)" >&2
    exec_json=null
fi
echo
printf '{"boot": %s, "exec": %s}\n' "$(tail -n 1 "$out/boot")" "$exec_json"

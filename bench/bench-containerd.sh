#!/usr/bin/env bash
# A container's whole life through containerd (`ctr run --rm`: create,
# start, the command, exit, delete) on the boxlite shim, against the same
# command in a box made by `boxlite run --rm` from the same root filesystem
# (what the shim adds), and against containerd's default runtime, runc (what
# a VM costs next to namespaces). One containerd of its own, as in
# tests/test-containerd.sh.
#
#   bench/bench-containerd.sh [BUILD_DIR]       (as root; BUILD_DIR: build)
#
# Environment: RUNS (5). Prints each median wall time and the ratios.
set -euo pipefail

build=$(cd "${1:-build}" && pwd)
runs=${RUNS:-5}
here=$(cd "$(dirname "$0")" && pwd)
cli=$build/src/cli/boxlite
shim=$build/src/ctrshim/containerd-shim-boxlite-v2

die() { echo "bench-containerd: $*" >&2; exit 2; }
[ -x "$shim" ] && [ -x "$cli" ] || die "build first ($shim, $cli)"
[ "$(id -u)" = 0 ] || die "run as root (containerd needs it)"

work=$(mktemp -d /tmp/blb.XXXXXX)
containerd_pid=
cleanup() {
    [ -n "$containerd_pid" ] && { kill "$containerd_pid"; wait "$containerd_pid" || true; } 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/config.toml" <<TOML
version = 2
root = "$work/root"
state = "$work/state"
[grpc]
  address = "$work/c.sock"
TOML
PATH="$(dirname "$shim"):$PATH" BOXLITE_CTR_ROOT="$work/b" \
    containerd --config "$work/config.toml" >"$work/containerd.log" 2>&1 &
containerd_pid=$!
ctr_() { ctr --address "$work/c.sock" --namespace bench "$@"; }
for _ in $(seq 100); do ctr_ version >/dev/null 2>&1 && break; sleep 0.1; done

python3 "$here/../tests/oci/make-layout.py" "$work/layout" --preset simple >/dev/null
tar -C "$work/layout" -cf "$work/image.tar" .
ctr_ images import --base-name localhost/bench "$work/image.tar" >/dev/null
image=localhost/bench:latest
# The same tree for boxlite run: the image's one layer, unpacked.
mkdir "$work/rootfs"
layer=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]+"/index.json"))["manifests"][0]["digest"].split(":")[1]; print(json.load(open(sys.argv[1]+"/blobs/sha256/"+m))["layers"][0]["digest"].split(":")[1])' "$work/layout")
tar -C "$work/rootfs" -xzf "$work/layout/blobs/sha256/$layer"

# seconds CMD...: wall time of CMD, output discarded.
seconds() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || die "failed: $*"
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

: >"$work/shim" >"$work/box" >"$work/runc"
for i in $(seq "$runs"); do
    seconds ctr_ run --rm --runtime io.containerd.boxlite.v2 "$image" "s$i" /bin/busybox true >>"$work/shim"
    seconds "$cli" --home "$work/home" run --rm "$work/rootfs" -- /bin/busybox true >>"$work/box"
    seconds ctr_ run --rm --runtime io.containerd.runc.v2 "$image" "r$i" /bin/busybox true >>"$work/runc"
done
shim_s=$(median <"$work/shim")
box_s=$(median <"$work/box")
runc_s=$(median <"$work/runc")
printf 'ctr run --rm, boxlite shim   %6.2f s (median of %d)\n' "$shim_s" "$runs"
printf 'boxlite run --rm, same tree  %6.2f s\n' "$box_s"
printf 'ctr run --rm, runc           %6.2f s\n' "$runc_s"
printf 'shim / boxlite run           %6.2f\n' "$(echo "$shim_s / $box_s" | bc -l)"
printf 'shim / runc                  %6.2f\n' "$(echo "$shim_s / $runc_s" | bc -l)"

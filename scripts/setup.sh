#!/usr/bin/env bash
# Prepare this machine to build, run and test boxlite, then build it.
#
#   scripts/setup.sh [--no-build] [--verbose]
#
#   --no-build   stop after the machine is ready; do not configure or build
#   --verbose    show the output of apt-get, debootstrap and meson as it comes
#                (by default it goes to a log that is shown only on failure)
#
# As root: installs the Debian packages that are missing, builds (or reuses)
# the guest kernel and links it where the runtime looks for it
# (/var/cache/boxlite/kernel/vmlinux), builds the default image when its
# recipe (scripts/default-image.packages and scripts/build-default-image.sh)
# changed and points /var/lib/boxlite/images/default/current at it, and builds
# the project into build/.
# Not as root: lists the missing packages with the command that installs them
# and stops if there are any.
#
# Safe to run again: every step checks before it acts. Progress goes to
# stderr; each step reports how long it took.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

# Where the runtime looks (src/meson.build); BOXLITE_KERNEL and
# BOXLITE_DEFAULT_IMAGE override them at run time.
kernel_link=/var/cache/boxlite/kernel/vmlinux
image_store=/var/lib/boxlite/images/default

build=1
verbose=0
for arg in "$@"; do
    case "$arg" in
        --no-build) build=0 ;;
        -v|--verbose) verbose=1 ;;
        -h|--help)
            sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
            exit 0 ;;
        *) echo "setup.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

log() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

setup_start=$(date +%s)
step_name=
step_start=0
step() {
    step_name=$1
    step_start=$(date +%s)
    log "── $step_name"
}
step_done() {
    log "   $step_name: ${1:-done} ($(( $(date +%s) - step_start ))s)"
}

# Output of the long steps goes to logs here; kept only when something fails.
logdir=$(mktemp -d "${TMPDIR:-/tmp}/boxlite-setup.XXXXXX")
on_exit() {
    local rc=$?
    if [ "$rc" = 0 ]; then
        rm -rf "$logdir"
    elif ! rmdir "$logdir" 2>/dev/null; then
        log "failed after $(( $(date +%s) - setup_start ))s; logs kept in $logdir"
    fi
}
trap on_exit EXIT

# run_logged NAME CMD...: runs CMD with its output (stdout and stderr) in
# $logdir/NAME.log, or on stderr with --verbose; on failure shows the end of
# that log.
run_logged() {
    local name=$1 logf=$logdir/$1.log rc=0
    shift
    if [ "$verbose" = 1 ]; then
        "$@" >&2 || rc=$?
    else
        "$@" >"$logf" 2>&1 || rc=$?
    fi
    if [ "$rc" != 0 ]; then
        log "   $name failed (exit $rc)"
        if [ "$verbose" = 0 ]; then
            log "   last lines of $logf:"
            tail -n 60 "$logf" | sed 's/^/    | /' >&2
        fi
    fi
    return "$rc"
}

packages_build=(meson ninja-build pkg-config gcc clang-format libglib2.0-dev libjson-glib-dev
                gobject-introspection libgirepository1.0-dev gi-docgen
                libarchive-dev libslirp-dev libsoup-3.0-dev libseccomp-dev
                protobuf-c-compiler libprotobuf-c-dev libprotobuf-dev
                golang-github-containerd-containerd-dev golang-github-containerd-ttrpc-dev
                golang-github-gogo-protobuf-dev golang-github-containerd-cgroups-dev)
packages_run=(qemu-system-x86 qemu-utils e2fsprogs)
packages_kernel=(linux-source-6.1 build-essential flex bison bc libelf-dev libssl-dev dwarves cpio)
packages_image=(debootstrap)
packages_tests=(busybox-static python3 python3-gi procps openssl iproute2 docker-registry skopeo
                valgrind containerd)
packages=("${packages_build[@]}" "${packages_run[@]}" "${packages_kernel[@]}"
          "${packages_image[@]}" "${packages_tests[@]}")

missing_packages() {
    local p
    for p in "${packages[@]}"; do
        # "ii " = wanted install, installed, no error.
        if [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" != "ii " ]; then
            echo "$p"
        fi
    done
}

is_root=0
[ "$(id -u)" = 0 ] && is_root=1

# ── 1. packages ──────────────────────────────────────────────────────────────
step packages
command -v dpkg-query >/dev/null || die "this script expects Debian 12 (no dpkg-query)"
mapfile -t missing < <(missing_packages)
if [ "${#missing[@]}" = 0 ]; then
    step_done "all ${#packages[@]} present"
elif [ "$is_root" = 1 ]; then
    log "   installing ${#missing[@]}: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_opts=(-q -y -o DPkg::Lock::Timeout=600
              -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    run_logged apt-get-update apt-get "${apt_opts[@]}" update </dev/null
    run_logged apt-get-install apt-get "${apt_opts[@]}" install "${missing[@]}" </dev/null
    mapfile -t still < <(missing_packages)
    [ "${#still[@]}" = 0 ] || die "still missing after apt-get install: ${still[*]}"
    step_done "installed ${#missing[@]}"
else
    log "   missing packages: ${missing[*]}"
    log "   install them as root with:"
    printf '\n    apt-get update && apt-get install -y %s\n\n' "${missing[*]}" >&2
    exit 1
fi

# ── users ────────────────────────────────────────────────────────────────────
# A runtime running as root has QEMU drop to this user once it is set up.
if [ "$is_root" = 1 ] && ! getent passwd boxlite-qemu >/dev/null; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        boxlite-qemu || die "cannot create the user boxlite-qemu"
    log "── users: created boxlite-qemu"
fi
# ...and the box's network process to this one.
if [ "$is_root" = 1 ] && ! getent passwd boxlite-net >/dev/null; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
        boxlite-net || die "cannot create the user boxlite-net"
    log "── users: created boxlite-net"
fi

# ── test clients from npm ────────────────────────────────────────────────────
# The MCP suite drives `boxlite mcp` with the official MCP SDK client, and the
# E2B suite `boxlite serve`'s /e2b API with E2B's own JS SDK, each pinned in
# tests/<suite>/package-lock.json; node_modules is reinstalled when the lock
# file changes.
step "npm (tests/mcp, tests/e2b)"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    [ "$is_root" = 1 ] || die "node and npm are missing: apt-get install nodejs npm (as root)"
    export DEBIAN_FRONTEND=noninteractive
    run_logged apt-get-update-node apt-get -q -y -o DPkg::Lock::Timeout=600 update </dev/null
    run_logged apt-get-install-node apt-get -q -y -o DPkg::Lock::Timeout=600 install nodejs npm </dev/null
fi
for suite in mcp e2b; do
    lock_hash=$(sha256sum tests/$suite/package-lock.json | cut -d' ' -f1)
    lock_stamp=tests/$suite/node_modules/.boxlite-lock-sha256
    if [ "$(cat "$lock_stamp" 2>/dev/null || true)" = "$lock_hash" ]; then
        step_done "tests/$suite/node_modules matches the lock file"
    else
        run_logged npm-ci-$suite npm ci --prefix tests/$suite --no-audit --no-fund </dev/null ||
            die "npm ci in tests/$suite failed"
        echo "$lock_hash" >"$lock_stamp"
        step_done "tests/$suite installed with node $(node --version)"
    fi
done

# ── 2. guest kernel ──────────────────────────────────────────────────────────
step kernel
cache=${BOXLITE_KERNEL_CACHE:-/var/cache/boxlite/kernel}
if [ -z "$(find "$cache" -mindepth 2 -maxdepth 2 -name vmlinux -print -quit 2>/dev/null)" ]; then
    log "   building the guest kernel from linux-source-6.1 (several minutes, once per machine)"
fi
# build.sh prints the path on stdout and talks on stderr.
# shellcheck disable=SC2016  # $1 is expanded by the inner sh
run_logged kernel-build sh -c 'sh kernel/build.sh >"$1"' sh "$logdir/kernel.path" </dev/null ||
    die "kernel/build.sh failed"
kernel_path=$(tail -n 1 "$logdir/kernel.path")
[ -f "$kernel_path" ] || die "kernel/build.sh printed no usable path ('$kernel_path')"
if [ "$(readlink "$kernel_link" 2>/dev/null || true)" = "$kernel_path" ]; then
    step_done "$kernel_link -> $kernel_path (unchanged)"
elif mkdir -p "$(dirname "$kernel_link")" 2>/dev/null && ln -sfn "$kernel_path" "$kernel_link" 2>/dev/null; then
    step_done "$kernel_link -> $kernel_path"
else
    log "   cannot write $kernel_link; tell the runtime instead:"
    log "     export BOXLITE_KERNEL=$kernel_path"
    step_done "built $kernel_path"
fi

# ── 3. default image ─────────────────────────────────────────────────────────
step image
if [ -n "${BOXLITE_DEFAULT_IMAGE:-}" ]; then
    [ -e "$BOXLITE_DEFAULT_IMAGE" ] || die "BOXLITE_DEFAULT_IMAGE=$BOXLITE_DEFAULT_IMAGE does not exist"
    step_done "BOXLITE_DEFAULT_IMAGE=$BOXLITE_DEFAULT_IMAGE (not building $image_store/current)"
else
    # Builds only when the recipe's hash names no image yet (needs root
    # then), and switches $image_store/current to it in one rename; boxes
    # already made keep the disk they were made from.
    was=$(readlink "$image_store/current" 2>/dev/null || true)
    BOXLITE_IMAGE_DIR=$image_store run_logged default-image bash scripts/build-default-image.sh </dev/null ||
        die "scripts/build-default-image.sh failed"
    if [ "$verbose" = 0 ]; then
        sed -n 's/^\[image [^]]*\] \(debootstrap done\|image ready\)/   \1/p' "$logdir/default-image.log" |
            while IFS= read -r line; do log "$line"; done
    fi
    now=$(readlink "$image_store/current")
    if [ -d "$image_store/rootfs" ]; then
        log "   $image_store/rootfs (the image of an earlier layout) is no longer used"
    fi
    if [ "$was" = "$now" ]; then
        step_done "$image_store/current -> $now (unchanged)"
    else
        step_done "$image_store/current -> $now${was:+ (was $was)}"
    fi
fi

# ── 4. project ───────────────────────────────────────────────────────────────
if [ "$build" = 1 ]; then
    step "meson setup"
    if [ -f build/meson-private/coredata.dat ] && [ -f build/build.ninja ]; then
        step_done "build/ already configured"
    elif [ -f build/meson-private/coredata.dat ]; then
        # An earlier reconfigure failed half-way; redo it with the same options.
        run_logged meson-setup meson setup --reconfigure build </dev/null
        step_done "build/ reconfigured"
    else
        # Also covers the leftovers of a first setup that failed.
        run_logged meson-setup meson setup build </dev/null
        step_done
    fi

    step "meson compile"
    run_logged meson-compile meson compile -C build </dev/null
    step_done
else
    log "── meson: skipped (--no-build)"
fi

log "ready in $(( $(date +%s) - setup_start ))s ($repo)"

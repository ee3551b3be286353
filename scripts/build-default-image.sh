#!/usr/bin/env bash
# Build boxlite's built-in default image: a trimmed Debian bookworm minbase
# root filesystem with the packages listed in default-image.packages (python3
# with pip and venv, ca-certificates, curl, procps, busybox), as a directory.
#
#   scripts/build-default-image.sh [--force] [--verbose]
#   scripts/build-default-image.sh --key     (prints the recipe's hash and exits)
#
# The image is kept under $BOXLITE_IMAGE_DIR (default
# /var/lib/boxlite/images/default) in a folder named after the hash of its
# recipe (this script and the package list): <hash>/rootfs. Once it is there,
# the symlink `current` (what the runtime opens) is pointed at it by renaming
# a new symlink over the old one, so a reader sees the old image or the new
# one, never neither; the image it replaces is left where it is. A recipe
# that did not change builds nothing. --force builds the current recipe again.
# Prints the path of the image's root on stdout.
#
# The packages come from the Debian mirror this machine's apt already uses
# (override with BOXLITE_MIRROR=URL). The image is assembled in a directory
# beside its place and renamed into it only once it passed its checks.
# debootstrap's own output goes to a log that is shown only when it fails
# (--verbose shows it as it comes). Needs root.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=bookworm
package_list=$here/default-image.packages
store=${BOXLITE_IMAGE_DIR:-/var/lib/boxlite/images/default}

force=0
verbose=0
print_key=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        --key) print_key=1 ;;
        -v|--verbose) verbose=1 ;;
        -h|--help)
            sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
            exit 0 ;;
        *) echo "build-default-image.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

log() { printf '[image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -r "$package_list" ] || die "$package_list missing"
packages=$(sed 's/#.*//' "$package_list" | tr -s ' \t\n' '\n' | sed '/^$/d' | sort -u)
[ -n "$packages" ] || die "$package_list lists no package"
include=$(echo "$packages" | paste -sd, -)
key=$(cat "$0" "$package_list" | sha256sum | cut -c1-16)
[ "$print_key" = 0 ] || { echo "$key"; exit 0; }
keydir=$store/$key
target=$keydir/rootfs

# Points $store/current at $target with one rename(2).
switch_current() {
    local link=$store/current
    if [ "$(readlink "$link" 2>/dev/null || true)" = "$key/rootfs" ]; then
        return 0
    fi
    ln -sfn "$key/rootfs" "$store/.current.new.$$"
    mv -T "$store/.current.new.$$" "$link"
    log "$link -> $key/rootfs"
}

finish() {
    switch_current
    echo "$store/current"
    exit 0
}

if [ -d "$target" ] && [ "$force" = 0 ]; then
    log "image $key (recipe unchanged) already at $target"
    finish
fi

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and chroot)"
command -v debootstrap >/dev/null || die "debootstrap not installed (apt-get install debootstrap)"

# ── which mirror ─────────────────────────────────────────────────────────────
# The first "deb" source that carries $suite itself (not -updates/-security),
# in apt's own order: sources.list, then sources.list.d/ sorted by name.
mirror_from_list() {   # one-line format
    awk -v suite="$suite" '
        $1 != "deb" { next }
        {
            i = 2
            if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
            if ($(i + 1) == suite) { print $i; exit }
        }' "$1"
}
mirror_from_sources() {   # deb822 format
    awk -v suite="$suite" '
        BEGIN { RS = ""; FS = "\n" }
        {
            types = ""; uris = ""; suites = ""; enabled = "yes"; last = ""
            for (i = 1; i <= NF; i++) {
                line = $i
                if (line ~ /^#/) continue
                if (line ~ /^[ \t]/) {                 # continuation line
                    sub(/^[ \t]+/, "", line)
                    if (last == "uris") uris = uris " " line
                    else if (last == "suites") suites = suites " " line
                    else if (last == "types") types = types " " line
                    continue
                }
                key = line; sub(/:.*/, "", key); key = tolower(key)
                val = line; sub(/^[^:]*:[ \t]*/, "", val)
                last = key
                if (key == "types") types = val
                else if (key == "uris") uris = val
                else if (key == "suites") suites = val
                else if (key == "enabled") enabled = tolower(val)
            }
            if (enabled == "no") next
            if ((" " types " ") !~ / deb /) next
            if ((" " suites " ") !~ (" " suite " ")) next
            split(uris, u, /[ \t]+/)
            if (u[1] != "") { print u[1]; exit }
        }' "$1"
}
find_mirror() {
    local f m
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        case "$f" in
            *.sources) m=$(mirror_from_sources "$f") ;;
            *) m=$(mirror_from_list "$f") ;;
        esac
        case "$m" in
            http://*|https://*|file:/*) echo "$m"; return 0 ;;
        esac
    done
    return 1
}

mirror=${BOXLITE_MIRROR:-}
if [ -z "$mirror" ]; then
    mirror=$(find_mirror) || die "no 'deb ... $suite' source in /etc/apt/sources.list{,.d/*.list,.d/*.sources}; set BOXLITE_MIRROR"
fi
log "suite $suite, mirror $mirror"

# ── build beside the target ──────────────────────────────────────────────────
start=$(date +%s)
parent=$keydir
mkdir -p "$parent"
exec 9>"$store/.build.lock"
flock -w 3600 9 || die "another build holds $store/.build.lock"
if [ -d "$target" ] && [ "$force" = 0 ]; then
    log "$target appeared while waiting for the lock"
    finish
fi

tmp=$(mktemp -d "$parent/.rootfs.new.XXXXXX")
old=
cleanup() {
    local m
    # debootstrap mounts /proc and /sys inside the tree; never rm through them.
    awk -v p="$tmp/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r |
        while IFS= read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$tmp"
    [ -z "$old" ] || rm -rf --one-file-system "$old"
    rmdir "$keydir" 2>/dev/null || true   # only when a failed build left it empty
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "debootstrap into $tmp (a minute or two)"
dblog=$parent/.debootstrap.log
rc=0
if [ "$verbose" = 1 ]; then
    debootstrap --variant=minbase --include="$include" "$suite" "$tmp" "$mirror" </dev/null >&2 || rc=$?
else
    debootstrap --variant=minbase --include="$include" "$suite" "$tmp" "$mirror" </dev/null >"$dblog" 2>&1 || rc=$?
fi
if [ "$rc" != 0 ]; then
    [ "$verbose" = 1 ] || { log "debootstrap output (end of $dblog):"; tail -n 30 "$dblog" >&2; }
    [ -f "$tmp/debootstrap/debootstrap.log" ] && { log "end of debootstrap.log:"; tail -n 30 "$tmp/debootstrap/debootstrap.log" >&2; }
    die "debootstrap failed (exit $rc)"
fi
rm -f "$dblog"
log "debootstrap done ($(( $(date +%s) - start ))s), $(du -sh --one-file-system "$tmp" | cut -f1) before trimming"

# ── trim ─────────────────────────────────────────────────────────────────────
r=$tmp
rm -rf "$r"/var/lib/apt/lists/*
mkdir -p "$r/var/lib/apt/lists/partial"
rm -rf "$r"/var/cache/apt/*
mkdir -p "$r/var/cache/apt/archives/partial"
rm -rf "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old
rm -rf "$r"/var/log/* "$r"/debootstrap
# Documentation goes, except each package's copyright file.
find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete 2>/dev/null || true
find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/groff/* "$r"/usr/share/lintian/*
# Locales: only C and C.UTF-8 stay.
find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 -type d ! -name 'C' ! -name 'C.*' -exec rm -rf {} + 2>/dev/null || true
if [ -d "$r/usr/lib/locale" ]; then
    find "$r/usr/lib/locale" -mindepth 1 -maxdepth 1 ! -name 'C' ! -name 'C.*' -exec rm -rf {} +
fi
# The bytecode the packages compiled stays: without it every new box
# compiles each module it imports first (9 s for json, sqlite3, ssl and
# subprocess under TCG, against 0.9 s with it), for 19 MB of image.
# Keep packages installed later in a box from bringing the same files back.
mkdir -p "$r/etc/dpkg/dpkg.cfg.d"
cat >"$r/etc/dpkg/dpkg.cfg.d/boxlite-trim" <<'EOF'
# The boxlite default image ships without documentation or translations.
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/groff/*
path-exclude=/usr/share/lintian/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
EOF

# ── essentials ───────────────────────────────────────────────────────────────
chmod 0755 "$r"
if ! chroot "$r" /bin/sh -c true 2>/dev/null; then
    log "no working /bin/sh; pointing it at busybox"
    ln -sfn busybox "$r/usr/bin/sh"
    chroot "$r" /bin/sh -c true || die "/bin/sh still does not run"
fi
# debootstrap copies some of the host's /etc; none of it belongs in a guest.
echo boxlite >"$r/etc/hostname"
cat >"$r/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	boxlite
::1	localhost ip6-localhost ip6-loopback
EOF
: >"$r/etc/resolv.conf"
chmod 0644 "$r/etc/hostname" "$r/etc/hosts" "$r/etc/resolv.conf"
mkdir -p "$r/root"
chmod 0700 "$r/root"
if ! grep -q '^nobody:' "$r/etc/passwd"; then
    grep -q '^nogroup:' "$r/etc/group" || echo 'nogroup:x:65534:' >>"$r/etc/group"
    echo 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' >>"$r/etc/passwd"
fi
grep -q '^nobody:' "$r/etc/shadow" 2>/dev/null || echo 'nobody:*:19000:0:99999:7:::' >>"$r/etc/shadow"

cat >"$r/etc/boxlite-image" <<EOF
name=default
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
suite=$suite
variant=minbase
include=$include
mirror=$mirror
debootstrap=$(dpkg-query -W -f='${Version}' debootstrap 2>/dev/null || echo unknown)
EOF

# ── checks ───────────────────────────────────────────────────────────────────
out=$(chroot "$r" python3 -B -c 'print(1)') || die "python3 does not run in the image"
[ "$out" = 1 ] || die "python3 in the image printed '$out', expected 1"
chroot "$r" python3 -B -c '
import ensurepip, json, sqlite3, ssl, subprocess, urllib.request, venv
assert ssl.create_default_context().cert_store_stats()["x509_ca"] > 0
' || die "python3 in the image lacks part of its standard library or CA certificates"
for cmd in 'pip3 --version' 'curl --version'; do
    PYTHONDONTWRITEBYTECODE=1 chroot "$r" $cmd >/dev/null || die "'$cmd' does not run in the image"
done
# ps and free read /proc, which the image does not have mounted here.
for cmd in ps free; do
    chroot "$r" sh -c "command -v $cmd" >/dev/null || die "image lacks $cmd"
done
chroot "$r" busybox true || die "busybox does not run in the image"
for f in bin/sh etc/hostname etc/boxlite-image root; do
    [ -e "$r/$f" ] || die "image lacks /$f"
done
chroot "$r" getent passwd nobody >/dev/null || die "image has no user nobody"

# ── into place ───────────────────────────────────────────────────────────────
if [ -e "$target" ]; then
    old=$(mktemp -d "$parent/.rootfs.old.XXXXXX")
    mv -T "$target" "$old/rootfs"
fi
mv -T "$tmp" "$target"
sync -f "$target" 2>/dev/null || true

log "image ready: $target, $(du -sh --one-file-system "$target" | cut -f1) ($(du -s --one-file-system --inodes "$target" | cut -f1) files), built in $(( $(date +%s) - start ))s"
finish


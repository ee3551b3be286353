#!/usr/bin/env bash
# test-cp.sh: `boxlite cp` against a real box: both directions, the cp
# rules for destinations, tar streams on stdin and stdout, exit statuses.
#
# BOXLITE_CLI names the binary under test; the box lives in a temporary
# home dir removed at the end.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

if [[ -z "${BOXLITE_CLI:-}" ]]; then
    echo "BOXLITE_CLI is not set" >&2
    exit 77
fi

home=$(mktemp -d "${TMPDIR:-/tmp}/boxlite-cp-test.XXXXXX")
scratch=$(mktemp -d "${TMPDIR:-/tmp}/boxlite-cp-out.XXXXXX")

bl() {
    "$BOXLITE_CLI" --home "$home" "$@"
}

cleanup() {
    bl rm -f cpbox >/dev/null 2>&1 || true
    rm -rf "$home" "$scratch"
}
trap cleanup EXIT

inbox() { bl exec cpbox -- sh -c "$1"; }

check "cp --help" 0 "$(status quiet bl cp --help)"
check "cp needs a box side" 125 "$(status bl cp /etc/hostname /tmp/x 2>/dev/null)"
check "cp with no arguments" 125 "$(status bl cp 2>/dev/null)"
check "cp to an unknown box" 125 "$(status bl cp /etc/hostname nobox:/tmp 2>/dev/null)"

bl run -d --name cpbox --network none >/dev/null

mkdir -p "$scratch/src/sub" "$scratch/src/empty"
printf 'one' >"$scratch/src/a"
printf 'two' >"$scratch/src/sub/b"
chmod 0751 "$scratch/src/sub"
chmod 0600 "$scratch/src/a"
ln -s sub/b "$scratch/src/link"

# Into the box.
bl cp "$scratch/src" cpbox:/srv/tree
check "a directory to a new name" "one two sub/b 600 751" \
    "$(inbox 'cd /srv/tree && echo $(cat a) $(cat sub/b) $(readlink link) $(stat -c %a a) $(stat -c %a sub)')"
bl cp "$scratch/src" cpbox:/srv/tree
check "a directory into an existing one" "one" "$(inbox 'cat /srv/tree/src/a')"
bl cp "$scratch/src/." cpbox:/srv/contents
check "SRC/. copies the contents" "a empty link sub" "$(inbox 'ls /srv/contents | tr "\n" " " | sed "s/ $//"')"
bl cp "$scratch/src/a" cpbox:/srv/
check "a file into an existing directory" "one" "$(inbox 'cat /srv/a')"
check "a file to DIR/ that does not exist" 125 \
    "$(status bl cp "$scratch/src/a" cpbox:/srv/nodir/ 2>"$scratch/err")"
if grep -q "^boxlite: .*not a directory" "$scratch/err"; then
    pass "the message says why"
else
    fail "message: $(cat "$scratch/err")"
fi
check "a directory onto a file" 125 "$(status bl cp "$scratch/src" cpbox:/srv/a 2>/dev/null)"
check "a missing source on the host" 125 "$(status bl cp "$scratch/none" cpbox:/srv 2>/dev/null)"

# Out of the box.
mkdir "$scratch/out"
bl cp cpbox:/srv/tree "$scratch/out/"
check "out: a directory into an existing one" "one two sub/b" \
    "$(echo "$(cat "$scratch/out/tree/a")" "$(cat "$scratch/out/tree/sub/b")" "$(readlink "$scratch/out/tree/link")")"
check "out: modes kept" "600 751" \
    "$(stat -c %a "$scratch/out/tree/a") $(stat -c %a "$scratch/out/tree/sub")"
bl cp cpbox:/srv/a "$scratch/out/renamed"
check "out: a file to a new name" "one" "$(cat "$scratch/out/renamed")"
bl cp cpbox:/srv/tree/. "$scratch/out/dot"
check "out: SRC/. to a new directory" "one" "$(cat "$scratch/out/dot/a")"
check "out: a missing source" 125 "$(status bl cp cpbox:/srv/none "$scratch/out" 2>"$scratch/err")"
if grep -q "No such file" "$scratch/err"; then pass "out: the missing source is named"; else fail "message: $(cat "$scratch/err")"; fi
check "out: a file to FILE/" 125 "$(status bl cp cpbox:/srv/a "$scratch/out/renamed/" 2>/dev/null)"

# Tar streams.
bl cp cpbox:/srv/tree - >"$scratch/tree.tar"
check "out: '-' writes a tar stream" "tree/sub/b" "$(tar -tf "$scratch/tree.tar" | grep -x 'tree/sub/b')"
tar -C "$scratch/src" -cf - . | bl cp - cpbox:/srv/contents
check "in: '-' reads a tar stream into a directory" "two" "$(inbox 'cat /srv/contents/sub/b')"
check "in: '-' into a missing directory" 125 \
    "$(status bl cp - cpbox:/srv/missing <"$scratch/tree.tar" 2>/dev/null)"
printf 'garbage that is no tar stream at all' >"$scratch/bad.tar"
check "in: '-' refuses what is no tar stream" 125 \
    "$(status bl cp - cpbox:/srv/contents <"$scratch/bad.tar" 2>/dev/null)"

bl rm -f cpbox >/dev/null
checks_done

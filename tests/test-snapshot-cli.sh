#!/usr/bin/env bash
# test-snapshot-cli.sh: `boxlite snapshot` and `boxlite clone` against real
# boxes. BOXLITE_CLI names the binary under test; every box lives in a
# temporary home dir that is removed at the end.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

if [[ -z "${BOXLITE_CLI:-}" ]]; then
    echo "BOXLITE_CLI is not set" >&2
    exit 77
fi

home=$(mktemp -d "${TMPDIR:-/tmp}/boxlite-snapcli-test.XXXXXX")
scratch=$(mktemp -d "${TMPDIR:-/tmp}/boxlite-snapcli-out.XXXXXX")

bl() {
    "$BOXLITE_CLI" --home "$home" "$@"
}

cleanup() {
    local ids
    # Clones go first: their sources are not removed while they exist.
    for _ in 1 2; do
        ids=$(bl ps -aq 2>/dev/null || true)
        if [[ -n "$ids" ]]; then
            # shellcheck disable=SC2086
            bl rm -f $ids >/dev/null 2>&1 || true
        fi
    done
    rm -rf "$home" "$scratch"
}
trap cleanup EXIT




# status CMD...: runs CMD with its stderr in $scratch/err and prints its exit
# status, whatever it is.
status() {
    local rc=0
    "$@" >/dev/null 2>"$scratch/err" || rc=$?
    echo "$rc"
}

# said NAME PATTERN: the last failing command's message matches PATTERN.
said() {
    if grep -q "$2" "$scratch/err"; then
        pass "$1"
    else
        fail "$1: message was '$(cat "$scratch/err")'"
    fi
}

test_help() {
    check "snapshot --help" 0 "$(status bl snapshot --help)"
    check "snapshot create --help" 0 "$(status bl snapshot create --help)"
    check "clone --help" 0 "$(status bl clone --help)"
    check "unknown snapshot command" 125 "$(status bl snapshot frobnicate)"
}

test_snapshot_restore_clone() {
    bl create --network none --name snap-src >/dev/null
    check "start" "snap-src" "$(bl start snap-src)"
    bl exec snap-src -- sh -c 'echo first > /root/f && sync'
    check "snapshot of a running box" "live" "$(bl snapshot create snap-src live)"
    check "it was taken with the guest frozen" '"live-frozen"' \
        "$(bl snapshot inspect snap-src live | sed -n 's/.*"taken" *: *\("[a-z-]*"\).*/\1/p')"
    check "the box runs on" "first" "$(bl exec snap-src -- cat /root/f)"
    check "stop" "snap-src" "$(bl stop snap-src)"
    check "a stopped box's snapshot says so" '"stopped"' "$(bl snapshot create snap-src cold >/dev/null &&
        bl snapshot inspect snap-src cold | sed -n 's/.*"taken" *: *\("[a-z-]*"\).*/\1/p')"
    check "rm the live snapshot" "live" "$(bl snapshot rm snap-src live)"
    check "rm the stopped one" "cold" "$(bl snapshot rm snap-src cold)"
    check "snapshot create" "one" "$(bl snapshot create snap-src one)"
    check "snapshot ls" "one" "$(bl snapshot ls snap-src)"
    check "a taken name is refused" 125 "$(status bl snapshot create snap-src one)"
    check "a name that is a path is refused" 125 "$(status bl snapshot create snap-src ../x)"
    said "the bad name is explained" "invalid snapshot name"
    check "unknown snapshot" 125 "$(status bl snapshot restore snap-src nope)"
    said "the unknown snapshot is named" "no snapshot named 'nope'"

    bl start snap-src >/dev/null
    bl exec snap-src -- sh -c 'echo second > /root/f && sync'
    check "restore of a running box is refused" 125 "$(status bl snapshot restore snap-src one)"
    check "restore --stop of an unknown snapshot is refused" 125 \
        "$(status bl snapshot restore --stop snap-src nope)"
    check "and the box runs on" "second" "$(bl exec snap-src -- cat /root/f)"
    # --stop stops it; the clone below (of the stopped box) shows the restore.
    check "snapshot restore --stop" "one" "$(bl snapshot restore --stop snap-src one)"

    # The clone starts as the restored disk: the first content.
    local id
    id=$(bl clone snap-src snap-copy)
    check "clone prints the new id" 32 "${#id}"
    bl start snap-copy >/dev/null
    check "the clone has the snapshot's file" "first" "$(bl exec snap-copy -- cat /root/f)"
    check "the clone has its own hostname" "snap-copy" "$(bl exec snap-copy -- hostname)"
    bl stop snap-copy >/dev/null

    check "the source of a clone is not removed" 125 "$(status bl rm -f snap-src)"
    said "the refusal names the clone" "snap-copy"
    check "a snapshot under a clone is not removed" 125 "$(status bl snapshot rm snap-src one)"
    check "rm the clone" "snap-copy" "$(bl rm snap-copy)"
    check "snapshot rm" "one" "$(bl snapshot rm snap-src one)"
    check "snapshot ls after rm" "" "$(bl snapshot ls snap-src)"
    check "rm the source" "snap-src" "$(bl rm snap-src)"
    check "nothing left" "" "$(ls "$home/boxes" | grep -v '^lock$' || true)"
}

test_help
test_snapshot_restore_clone

checks_done

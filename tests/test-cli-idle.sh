#!/usr/bin/env bash
# test-cli-idle.sh: `--auto-stop` of `create` and `run` against real boxes:
# kept in the box's options, refused when not a count, and a detached box
# that stops by itself once idle, with `inspect` saying why (and gone with
# --rm). Every box lives in a temporary home removed at the end.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

if [[ -z "${BOXLITE_CLI:-}" ]]; then
    echo "BOXLITE_CLI is not set" >&2
    exit 77
fi

home=$(mktemp -d "${TMPDIR:-/tmp}/boxlite-cli-idle.XXXXXX")

bl() {
    "$BOXLITE_CLI" --home "$home" "$@"
}

cleanup() {
    for name in idle-created idle-run idle-rm; do
        bl rm -f "$name" >/dev/null 2>&1 || true
    done
    rm -rf "$home"
}
trap cleanup EXIT

# field BOX EXPR: EXPR (Python, over the box's record `r`) from `inspect`.
field() {
    bl inspect "$1" | python3 -c 'import json, sys; r = json.load(sys.stdin)[0]; print('"$2"')'
}

# wait_stopped BOX: waits (at most 60 s) until BOX is no longer running.
wait_stopped() {
    local i
    for i in $(seq 240); do
        [[ "$(field "$1" 'r["state"]')" == running ]] || return 0
        sleep 0.25
    done
}

check "create --help names --auto-stop" 1 "$(bl create --help | grep -c -- '--auto-stop=SECONDS')"
quiet bl create --auto-stop 7 --name idle-created
check "inspect shows --auto-stop" 7 "$(field idle-created 'r["options"]["auto_stop"]')"
check "a box never started has no stop reason" None "$(field idle-created 'r["stop_reason"]')"
quiet bl rm idle-created
for bad in -1 5s 4294967296 ""; do
    check "--auto-stop '$bad' is refused" 125 \
        "$(status bl create --auto-stop "$bad" --name idle-bad 2>/dev/null)"
done
check "nothing made by refused flags" 0 "$(bl ps -a -q | wc -l | tr -d ' ')"

# The detached command keeps the box up for its 4 s; 3 s after, it stops.
quiet bl run -d --auto-stop 3 --name idle-run -- sleep 4
check "the box runs while its command does" running "$(field idle-run 'r["state"]')"
wait_stopped idle-run
check "then stops by itself" stopped "$(field idle-run 'r["state"]')"
check "inspect says it was idle" idle "$(field idle-run 'r["stop_reason"]')"

# With --rm the idle box goes altogether.
quiet bl run -d --rm --auto-stop 3 --name idle-rm -- true
gone=no
for i in $(seq 240); do
    if ! bl inspect idle-rm >/dev/null 2>&1; then
        gone=yes
        break
    fi
    sleep 0.25
done
check "--rm with --auto-stop: the idle box is removed" yes "$gone"
check "the journal has its idle stop" 1 \
    "$(grep -c '"name":"idle-rm","action":"stop","attributes":{"reason":"idle"}' \
        "$home/events.jsonl" || true)"

checks_done

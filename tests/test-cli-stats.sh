#!/usr/bin/env bash
# test-cli-stats.sh: `boxlite stats --no-stream` and `--json` against a
# real box; every box lives in a temporary home removed at the end.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

if [[ -z "${BOXLITE_CLI:-}" ]]; then
    echo "BOXLITE_CLI is not set" >&2
    exit 77
fi

home=$(mktemp -d "${TMPDIR:-/tmp}/boxlite-cli-stats.XXXXXX")

bl() {
    "$BOXLITE_CLI" --home "$home" "$@"
}

cleanup() {
    bl rm -f cli-stats >/dev/null 2>&1 || true
    rm -rf "$home"
}
trap cleanup EXIT


check "stats --help" 0 "$(status quiet bl stats --help)"
check "stats with nothing running: the header only" 1 "$(bl stats --no-stream | wc -l | tr -d ' ')"
check "stats of an unknown box exits 125" 125 "$(status bl stats --no-stream no-such-box 2>/dev/null)"

id=$(bl run -d --name cli-stats --memory 512 -- sleep 600)
short=${id:0:12}

table=$(bl stats --no-stream)
check "table: a header and one row" 2 "$(echo "$table" | wc -l | tr -d ' ')"
row=$(echo "$table" | tail -n 1)
re="^$short +cli-stats +[0-9]+\.[0-9]{2}% +[0-9.]+ (B|[KMG]iB) / [0-9.]+ MiB"
if [[ "$row" =~ $re ]]; then
    pass "table row: id, name, CPU %, memory used of the limit"
else
    fail "table row: '$row'"
fi
check "stats by name" 2 "$(bl stats --no-stream cli-stats | wc -l | tr -d ' ')"

json=$(bl stats --no-stream --json cli-stats)
check "--json: one line per box" 1 "$(echo "$json" | wc -l | tr -d ' ')"
verdict=$(python3 -c '
import json, sys
m = json.loads(sys.argv[1])
ok = (m["id"] == sys.argv[2] and m["name"] == "cli-stats"
      and 0 < m["mem-used"] <= m["mem-total"] <= 512 << 20
      and m["qemu-rss"] > 0 and m["qemu-cpu-ns"] > 0 and m["processes"] >= 1
      and m["fs-used"] <= m["fs-total"] and isinstance(m["cpu-percent"], float)
      and m["cpu-percent"] >= 0)
print("good" if ok else m)' "$json" "$id")
check "--json: the figures of the box" good "$verdict"

bl stop cli-stats >/dev/null
check "stats of a stopped box by name exits 125" 125 \
    "$(status bl stats --no-stream cli-stats 2>/dev/null)"

checks_done

#!/usr/bin/env bash
# test-cli.sh: the `boxlite` command line against real boxes.
#
# BOXLITE_CLI names the binary under test. Every box lives in a temporary
# home dir that is removed at the end, boxes included.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

if [[ -z "${BOXLITE_CLI:-}" ]]; then
    echo "BOXLITE_CLI is not set" >&2
    exit 77
fi

home=$(mktemp -d "${TMPDIR:-/tmp}/boxlite-cli-test.XXXXXX")
scratch=$(mktemp -d "${TMPDIR:-/tmp}/boxlite-cli-out.XXXXXX")

bl() {
    "$BOXLITE_CLI" --home "$home" "$@"
}

# Servers a case starts; stopped on any way out, a failed check included.
server_pids=()

cleanup() {
    local ids pid
    for pid in "${server_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    ids=$(bl ps -aq 2>/dev/null || true)
    if [[ -n "$ids" ]]; then
        # shellcheck disable=SC2086
        bl rm -f $ids >/dev/null 2>&1 || true
    fi
    rm -rf "$home" "$scratch"
}
trap cleanup EXIT






test_help() {
    local cmd
    check "boxlite --help" 0 "$(status quiet "$BOXLITE_CLI" --help)"
    check "boxlite --version" 0 "$(status quiet "$BOXLITE_CLI" --version)"
    for cmd in run exec ps create start stop rm inspect; do
        check "boxlite $cmd --help" 0 "$(status quiet "$BOXLITE_CLI" "$cmd" --help)"
    done
    check "unknown subcommand" 125 "$(status "$BOXLITE_CLI" no-such-command 2>/dev/null)"
    check "unknown flag" 125 "$(status bl run --no-such-flag 2>/dev/null)"
}

test_unknown_box() {
    local rc=0
    bl exec no-such-box -- true 2>"$scratch/err" || rc=$?
    check "exec on an unknown box exits 125" 125 "$rc"
    if grep -q "^boxlite: .*no-such-box" "$scratch/err"; then
        pass "unknown box is named in the message"
    else
        fail "unknown box message: $(cat "$scratch/err")"
    fi
    check "stop of an unknown box exits 125" 125 "$(status bl stop no-such-box 2>/dev/null)"
    check "rm of an unknown box exits 125" 125 "$(status bl rm no-such-box 2>/dev/null)"
}

test_run_echo() {
    check "run --rm echo" "hello" "$(bl run --rm -- echo hello)"
    check "run --rm leaves no box" "" "$(bl ps -aq)"
}

test_run_status() {
    check "exit status 7 propagates" 7 "$(status bl run --rm -- sh -c 'exit 7')"
    check "missing command exits 127" 127 \
        "$(status bl run --rm -- no-such-command-here 2>"$scratch/err")"
    if grep -q "no-such-command-here" "$scratch/err"; then
        pass "missing command is named"
    else
        fail "missing command message: $(cat "$scratch/err")"
    fi
}

test_run_streams_apart() {
    bl run --rm -- sh -c 'echo out1; echo err1 >&2; echo out2; echo err2 >&2' \
        >"$scratch/out" 2>"$scratch/err" || true
    check "stdout alone on stdout" $'out1\nout2' "$(cat "$scratch/out")"
    check "stderr alone on stderr" $'err1\nerr2' "$(cat "$scratch/err")"
}

test_run_stdin() {
    check "run -i passes stdin" "abc" "$(printf abc | bl run --rm -i -- cat)"
    check "run without -i gives no stdin" "0" "$(printf abc | bl run --rm -- sh -c 'wc -c')"
}

test_run_options() {
    # shellcheck disable=SC2016
    check "-e, -w" "v /tmp" \
        "$(bl run --rm -e K=v -w /tmp -- sh -c 'echo "$K" "$(pwd)"')"
}

test_detached() {
    local id short rc=0
    id=$(bl run -d --name cli-detached) || true
    if [[ "$id" =~ ^[0-9a-f]{16,}$ ]]; then
        pass "run -d prints the box id"
    else
        fail "run -d printed '$id'"
        return
    fi
    short=${id:0:12}

    check "exec in the detached box" "from exec" "$(bl exec "$short" -- echo from exec)"
    check "exec by name" "cli-detached" "$(bl exec cli-detached -- cat /etc/hostname)"
    check "exec status" 3 "$(status bl exec cli-detached -- sh -c 'exit 3')"
    check "exec killed by a signal" 143 "$(status bl exec cli-detached -- sh -c 'kill -TERM $$')"
    check "exec -i" "xyz" "$(printf xyz | bl exec -i cli-detached -- cat)"

    # A command that fills stderr while stdout waits must not stall.
    bl exec cli-detached -- sh -c 'head -c 3000000 /dev/zero >&2; echo done' \
        >"$scratch/out" 2>"$scratch/err" || rc=$?
    check "stderr flood: status" 0 "$rc"
    check "stderr flood: stdout" "done" "$(cat "$scratch/out")"
    check "stderr flood: all of stderr" 3000000 "$(wc -c <"$scratch/err" | tr -d ' ')"

    # Output arrives while the command still runs.
    bl exec cli-detached -- sh -c 'echo first; sleep 4; echo second' >"$scratch/live" &
    local pid=$! seen=no
    for _ in $(seq 1 30); do
        if grep -q first "$scratch/live" 2>/dev/null; then
            if kill -0 "$pid" 2>/dev/null && ! grep -q second "$scratch/live"; then
                seen=yes
            fi
            break
        fi
        sleep 0.1
    done
    wait "$pid" || true
    check "output streams as it comes" yes "$seen"

    # SIGINT goes to the command; the CLI reports how it ended.
    "$BOXLITE_CLI" --home "$home" exec cli-detached -- sleep 30 &
    pid=$!
    sleep 2
    kill -INT "$pid"
    rc=0
    wait "$pid" || rc=$?
    check "SIGINT is forwarded" 130 "$rc"

    if bl ps | grep -q "^$short .*running"; then
        pass "ps shows the running box"
    else
        fail "ps: $(bl ps)"
    fi
    check "ps -q prints full ids" "$id" "$(bl ps -q | grep "^$short")"

    check "pause" "cli-detached" "$(bl pause cli-detached)"
    if bl ps | grep -q "^$short .*paused"; then
        pass "ps shows the paused box"
    else
        fail "ps after pause: $(bl ps)"
    fi
    check "unpause" "cli-detached" "$(bl unpause cli-detached)"
    check "exec after unpause" "back" "$(bl exec cli-detached -- echo back)"

    check "rm of a running box without -f fails" 125 "$(status bl rm cli-detached 2>/dev/null)"
    check "stop" "cli-detached" "$(bl stop cli-detached)"
    if bl ps | grep -q "^$short"; then
        fail "ps still lists the stopped box"
    else
        pass "ps leaves out the stopped box"
    fi
    if bl ps -a | grep -q "^$short .*stopped"; then
        pass "ps -a shows the stopped box"
    else
        fail "ps -a: $(bl ps -a)"
    fi
    if bl inspect "$short" | grep -q "\"id\" : \"$id\""; then
        pass "inspect"
    else
        fail "inspect: $(bl inspect "$short")"
    fi
    check "rm" "cli-detached" "$(bl rm cli-detached)"
    check "rm deleted the box" "" "$(bl ps -aq)"
}

test_create_start() {
    local id
    id=$(bl create --name cli-created) || true
    check "create leaves the box created" 1 "$(bl ps -a | grep -c "^${id:0:12} .*created")"
    check "start" "cli-created" "$(bl start cli-created)"
    check "exec after start" "ok" "$(bl exec cli-created -- echo ok)"
    check "rm -f stops and deletes" "cli-created" "$(bl rm -f cli-created)"
    check "nothing left" "" "$(bl ps -aq)"
}

# A detached command's output, kept by the box: logs, --tail, -t, -f
# following it until the box stops, and what is left after the stop.
test_logs() {
    local id pid
    id=$(bl run -d --name cli-logs -- sh -c \
        'for i in 1 2 3; do echo out$i; echo err$i >&2; done; sleep 0.5; echo end1 >&2; echo end2 >&2
         sleep 3; echo late') || true
    sleep 1
    check "logs: stdout" "$(printf 'out1\nout2\nout3')" "$(bl logs cli-logs 2>/dev/null)"
    check "logs: stderr apart" "$(printf 'err1\nerr2\nerr3\nend1\nend2')" "$(bl logs cli-logs 2>&1 >/dev/null)"
    # The two streams are read apart, so only lines written after a pause
    # have a known order across them.
    check "logs --tail 2" "end1 end2" "$(bl logs --tail 2 cli-logs 2>&1 | tr '\n' ' ' | sed 's/ $//')"
    if bl logs -t cli-logs 2>/dev/null | head -1 | grep -Eq '^20[0-9-]{8}T[0-9:.]+Z out1$'; then
        pass "logs -t puts the time before each line"
    else
        fail "logs -t: $(bl logs -t cli-logs 2>&1 | head -2)"
    fi
    "$BOXLITE_CLI" --home "$home" logs -f cli-logs >"$scratch/follow" 2>/dev/null &
    pid=$!
    sleep 4
    check "logs -f shows what comes later" "late" "$(tail -1 "$scratch/follow")"
    quiet bl stop cli-logs
    local waited=0
    while kill -0 "$pid" 2>/dev/null && ((waited < 30)); do
        sleep 1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        fail "logs -f did not end when the box stopped"
    else
        pass "logs -f ends when the box stops"
    fi
    wait "$pid" 2>/dev/null || true
    check "logs of a stopped box" "late" "$(bl logs --tail 1 cli-logs 2>/dev/null)"
    if bl logs --console cli-logs | grep -q "boxlite-agent"; then
        pass "logs --console shows the guest's console"
    else
        fail "logs --console: $(bl logs --console cli-logs | tail -3)"
    fi
    quiet bl start cli-logs
    check "exec -d of a missing program exits 127" 127 \
        "$(status bl exec -d cli-logs no-such-program 2>/dev/null)"
    quiet bl exec -d cli-logs -- sh -c 'echo again'
    sleep 1
    check "exec -d output joins the log" "late again" \
        "$(bl logs --tail 2 cli-logs 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
    quiet bl rm -f cli-logs
}

# `events` sees what another process does to a box: create, start, a
# command's start and exit, a crash with its reason, remove.
test_events() {
    local pid id waited=0
    "$BOXLITE_CLI" --home "$home" events --json >"$scratch/events" &
    pid=$!
    sleep 1
    id=$(bl create --network none --name cli-events) || true
    quiet bl start cli-events
    quiet bl exec cli-events -- sh -c 'exit 4' || true
    pkill -KILL -f "qemu-system.*$id" || true
    while bl ps | grep -q "^${id:0:12}" && ((waited < 30)); do
        sleep 1
        waited=$((waited + 1))
    done
    quiet bl rm -f cli-events
    sleep 1
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    check "events: the box's actions in order" "create start exec_start exec_exit crash remove" \
        "$(grep "\"box\":\"$id\"" "$scratch/events" | python3 -c '
import json, sys
print(" ".join(json.loads(l)["action"] for l in sys.stdin))')"
    check "events: the exit status" "4" \
        "$(grep '"exec_exit"' "$scratch/events" | python3 -c '
import json, sys
print(json.loads(sys.stdin.readline())["attributes"]["code"])')"
    if grep '"crash"' "$scratch/events" | grep -q '"reason":"'; then
        pass "events: a crash says why"
    else
        fail "events: crash: $(grep '"crash"' "$scratch/events")"
    fi
}

test_network_flags() {
    local rc=0
    bl create --network none -p 1:2 2>"$scratch/err" >/dev/null || rc=$?
    check "create --network none -p exits 125" 125 "$rc"
    if grep -q "^boxlite: -p/--publish needs the network" "$scratch/err"; then
        pass "--network none with -p is explained"
    else
        fail "--network none -p message: $(cat "$scratch/err")"
    fi
    rc=0
    bl run --rm -p 8080:0 -- true 2>"$scratch/err" >/dev/null || rc=$?
    check "run -p with port 0 exits 125" 125 "$rc"
    if grep -q "port forward '8080:0'" "$scratch/err"; then
        pass "a bad -p spec is named"
    else
        fail "bad -p message: $(cat "$scratch/err")"
    fi
    check "no box left by refused network flags" "" "$(bl ps -aq)"
}

# An allowlist, a name it does not list, and what `netlog` says of it.
test_netlog() {
    local out
    bl run -d --name cli-net --allow-net allowed.test -- true >/dev/null
    out=$(bl exec cli-net -- python3 -c \
        'import socket; print(socket.gethostbyname("blocked.test"))')
    check "a name not listed resolves to the sinkhole" "0.0.0.0" "$out"
    out=$(bl netlog cli-net)
    if grep -q "^TIME " <<<"$out" && grep -q " dns .*sinkholed .*not-listed .*blocked.test A" <<<"$out"; then
        pass "netlog shows the sinkholed name"
    else
        fail "netlog output: $out"
    fi
    out=$(bl netlog --json cli-net | grep -c '"name":"blocked.test"')
    check "netlog --json has one entry per answer" 1 "$out"
    # The totals are written within a second of the decision.
    sleep 2
    out=$(bl netlog --counts cli-net | awk '$2 == "dns" && $3 == "sinkholed" && $4 == "not-listed" { print $1 }')
    check "netlog --counts counts the sinkholed answer" 1 "$out"
    check "inspect shows the allowlist" 1 \
        "$(bl inspect cli-net | grep -c '"allowed.test"')"
    quiet bl rm -f cli-net
}

# -v: a folder relative to the current directory, read-write and read-only,
# kept across stop/start and shown by inspect; a bad suffix refused.
test_volumes() {
    local rc=0 qemu_uid
    mkdir -p "$scratch/vol/rw" "$scratch/vol/ro"
    echo from-host >"$scratch/vol/ro/in.txt"
    # As root, QEMU runs as an unprivileged user, which must be able to
    # write the read-write folder (README, Volumes).
    if [[ $(id -u) == 0 ]]; then
        qemu_uid=$(id -u boxlite-qemu 2>/dev/null || id -u nobody)
        chown "$qemu_uid" "$scratch/vol/rw"
    fi
    (cd "$scratch/vol" && bl create --name cli-vol --network none -v rw:/work \
        -v "$scratch/vol/ro:/in:ro" >/dev/null)
    quiet bl start cli-vol
    check "-v read-write: the guest's file reaches the host" "from-guest" \
        "$(bl exec cli-vol -- sh -c 'echo from-guest > /work/out.txt' && cat "$scratch/vol/rw/out.txt")"
    check "-v :ro: the host's file is read" "from-host" "$(bl exec cli-vol -- cat /in/in.txt)"
    check "-v :ro: a write is refused" refused \
        "$(bl exec cli-vol -- sh -c 'echo x > /in/in.txt' 2>/dev/null && echo written || echo refused)"
    quiet bl stop cli-vol
    quiet bl start cli-vol
    check "-v survives stop/start" "from-guest" "$(bl exec cli-vol -- cat /work/out.txt)"
    check "inspect shows the volumes" 2 \
        "$(bl inspect cli-vol | grep -c -e "\"$scratch/vol/rw:/work\"" -e "\"$scratch/vol/ro:/in:ro\"")"
    quiet bl rm -f cli-vol
    bl run --rm -v "$scratch/vol/rw:/work:rx" -- true 2>"$scratch/err" >/dev/null || rc=$?
    check "-v with a bad suffix exits 125" 125 "$rc"
    if grep -q "unknown option 'rx'" "$scratch/err"; then
        pass "a bad -v suffix is named"
    else
        fail "bad -v message: $(cat "$scratch/err")"
    fi
    check "no box left by a refused -v" "" "$(bl ps -aq)"
}

test_help
test_unknown_box
test_volumes
test_network_flags
test_run_echo
test_run_status
test_run_streams_apart
test_run_stdin
test_run_options
test_detached
test_create_start
test_logs
test_events
test_netlog

# Images: import an OCI layout, list it, run boxes from it (its Env and Cmd,
# a command of our own), refuse to remove it while a box uses it, prune.
make_layout() {
    python3 "$(dirname "${BASH_SOURCE[0]}")/oci/make-layout.py" "$1" --preset simple >/dev/null
}

test_images() {
    local layout="$scratch/simple" id
    make_layout "$layout"
    check "import" 1 "$(bl import "$layout" simple:1 | grep -c '^Imported docker.io/library/simple:1 ')"
    check "images lists it" 1 "$(bl images | grep -c '^simple  *1  ')"
    id=$(bl images -q)
    check "image inspect shows its id" 1 "$(bl image inspect simple:1 | grep -c "\"id\" : \"$id\"")"
    # shellcheck disable=SC2016
    check "run IMAGE runs the image's Cmd with its Env" "bar /" \
        "$(echo 'echo $FOO $(pwd)' | bl run --rm -i simple:1)"
    check "run IMAGE CMD" "hello from simple" "$(bl run --rm simple:1 cat /hello.txt)"
    quiet bl create --name cli-img simple:1
    check "inspect records the image" 1 \
        "$(bl inspect cli-img | grep -c '"image" : "docker.io/library/simple:1"')"
    check "rmi of an image in use exits 125" 125 "$(status bl rmi simple:1 2>/dev/null)"
    check "rmi -f removes it anyway" "Untagged: simple:1 0" "$(echo $(bl rmi -f simple:1; echo $?))"
    check "the box still starts" "hello from simple" \
        "$(bl start cli-img >/dev/null && bl exec cli-img -- cat /hello.txt)"
    quiet bl rm -f cli-img
    check "image prune deletes what is left" 1 "$(bl image prune | grep -c '^Deleted [1-9]')"
    check "nothing left in the store" "" "$(bl images -q)"
}

# A pull from a real registry on loopback, by tag, by an unqualified name
# on a --registry search entry, and through --insecure-registry.
test_pull() {
    local layout="$scratch/simple-pull" port reg pid tries=0 out
    make_layout "$layout"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    reg="127.0.0.1:$port"
    mkdir -p "$scratch/registry"
    printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' \
        "$scratch/registry/data" "$reg" >"$scratch/registry/config.yml"
    docker-registry serve "$scratch/registry/config.yml" >"$scratch/registry/log" 2>&1 &
    pid=$!
    server_pids+=("$pid")
    until python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
        "http://$reg/v2/" 2>/dev/null; do
        tries=$((tries + 1))
        if ((tries > 100)); then
            fail "docker-registry did not start: $(cat "$scratch/registry/log")"
            kill "$pid"
            return
        fi
        sleep 0.1
    done
    skopeo copy -q --dest-tls-verify=false "oci:$layout:latest" "docker://$reg/cli/simple:latest"
    out=$(bl pull "$reg/cli/simple")
    check "pull prints each fetched blob (config, layer)" 2 "$(grep -c '^sha256:[0-9a-f]*: fetched ' <<<"$out")"
    check "pull names what it pulled" 1 "$(grep -c "^Pulled $reg/cli/simple:latest " <<<"$out")"
    check "run from the pulled image" "hello from simple" \
        "$(bl run --rm "$reg/cli/simple" cat /hello.txt)"
    check "a search registry finds an unqualified name" "hello from simple" \
        "$(bl --registry "$reg" run --rm cli/simple cat /hello.txt)"
    quiet bl rmi "$reg/cli/simple"
    check "pull -q through --insecure-registry" "$reg/cli/simple:latest" \
        "$(bl --insecure-registry "$reg" pull -q "$reg/cli/simple")"
    check "pull of an unknown image exits 125" 125 \
        "$(status bl pull "$reg/cli/none:1" 2>/dev/null)"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

test_images
test_pull

checks_done

#!/usr/bin/env bash
# test-cli.sh: the `boxlite` command line against real boxes.
#
# BOXLITE_CLI names the binary under test. Every box lives in a temporary
# home dir that is removed at the end, boxes included.
set -euo pipefail

if [[ -z "${BOXLITE_CLI:-}" ]]; then
    echo "BOXLITE_CLI is not set" >&2
    exit 77
fi

home=$(mktemp -d "${TMPDIR:-/tmp}/boxlite-cli-test.XXXXXX")
scratch=$(mktemp -d "${TMPDIR:-/tmp}/boxlite-cli-out.XXXXXX")
failures=0

bl() {
    "$BOXLITE_CLI" --home "$home" "$@"
}

cleanup() {
    local ids
    ids=$(bl ps -aq 2>/dev/null || true)
    if [[ -n "$ids" ]]; then
        # shellcheck disable=SC2086
        bl rm -f $ids >/dev/null 2>&1 || true
    fi
    rm -rf "$home" "$scratch"
}
trap cleanup EXIT

pass() {
    echo "ok - $1"
}

fail() {
    echo "FAIL - $1" >&2
    failures=$((failures + 1))
}

# check NAME EXPECTED ACTUAL
check() {
    if [[ "$2" == "$3" ]]; then
        pass "$1"
    else
        fail "$1: expected '$2', got '$3'"
    fi
}

# status CMD...: runs CMD and prints its exit status, whatever it is.
status() {
    local rc=0
    "$@" || rc=$?
    echo "$rc"
}

# quiet CMD...: runs CMD with its stdout discarded.
quiet() {
    "$@" >/dev/null
}

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
    check "inspect shows the allowlist" 1 \
        "$(bl inspect cli-net | grep -c '"allowed.test"')"
    quiet bl rm -f cli-net
}

test_help
test_unknown_box
test_network_flags
test_run_echo
test_run_status
test_run_streams_apart
test_run_stdin
test_run_options
test_detached
test_create_start
test_netlog

if ((failures > 0)); then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "all checks passed"

#!/usr/bin/env bash
# A small "internet" for the network tests, in a network namespace.
#
#   testnet.sh up NAME DIR     create namespace NAME, start the servers, write
#                              DIR/hosts (the names tests resolve) and print
#                              nothing but errors; servers log to DIR/servers.log
#   testnet.sh down NAME DIR   stop the servers and delete the namespace
# Namespaces named blnet* left by earlier runs are removed by `up`.
#
# Addresses (reachable from the host through a veth pair):
#   198.18.0.2  allowed.test, a.wild.test
#   198.18.0.3  other.test, allowed.test.evil, wild.test
#   10.203.0.1  private.test: the host's own end of the veth, a private
#               address, with the same servers listening on the host side
# Needs root, iproute2, python3 and openssl.
set -euo pipefail

cmd=$1 name=$2 dir=$3
host_if="${name:0:10}-h"
ns_if="${name:0:10}-n"

# Namespaces left by a run that died: their servers keep them alive.
clean_stale() {
    local ns
    for ns in $(ip netns list | awk '/^blnet/ { print $1 }'); do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
        ip link del "${ns:0:10}-h" 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
}

case "$cmd" in
up)
    clean_stale
    ip netns add "$name"
    ip link add "$host_if" type veth peer name "$ns_if"
    ip link set "$ns_if" netns "$name"
    ip addr add 198.18.0.1/24 dev "$host_if"
    ip addr add 10.203.0.1/24 dev "$host_if"
    ip link set "$host_if" up
    # 198.18.0.99 answers nothing: its frames go to a MAC no one has, so a
    # connection to it stays half-open (the SYN flood test).
    ip neigh replace 198.18.0.99 lladdr 02:00:00:00:00:99 dev "$host_if" nud permanent
    ip -n "$name" addr add 198.18.0.2/24 dev "$ns_if"
    ip -n "$name" addr add 198.18.0.3/24 dev "$ns_if"
    ip -n "$name" link set "$ns_if" up
    ip -n "$name" link set lo up
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=allowed.test" \
        -addext "subjectAltName=DNS:allowed.test,DNS:other.test" \
        -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
    cat >"$dir/hosts" <<HOSTS
198.18.0.2 allowed.test a.wild.test
198.18.0.3 other.test allowed.test.evil wild.test
10.203.0.1 private.test
HOSTS
    : >"$dir/servers.log"
    # $PPID is the test: the servers leave with it, however it ends.
    ip netns exec "$name" python3 "$(dirname "$0")/servers.py" "$PPID" "$dir/cert.pem" "$dir/key.pem" \
        "$dir/servers.log" 198.18.0.2 198.18.0.3 >"$dir/servers.out" 2>&1 &
    echo $! >"$dir/servers.pid"
    python3 "$(dirname "$0")/servers.py" "$PPID" "$dir/cert.pem" "$dir/key.pem" \
        "$dir/servers.log" 10.203.0.1 >"$dir/host-servers.out" 2>&1 &
    echo $! >"$dir/host-servers.pid"
    for _ in $(seq 100); do
        grep -q ready "$dir/servers.out" 2>/dev/null && grep -q ready "$dir/host-servers.out" 2>/dev/null &&
            exit 0
        sleep 0.1
    done
    echo "testnet: the servers did not start:" >&2
    cat "$dir/servers.out" "$dir/host-servers.out" >&2
    exit 1
    ;;
down)
    for pid in "$dir/servers.pid" "$dir/host-servers.pid"; do
        if [ -f "$pid" ]; then
            kill "$(cat "$pid")" 2>/dev/null || true
        fi
    done
    ip link del "$host_if" 2>/dev/null || true
    ip netns del "$name" 2>/dev/null || true
    ;;
*)
    echo "usage: testnet.sh up|down NAME DIR" >&2
    exit 2
    ;;
esac

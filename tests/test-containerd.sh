#!/usr/bin/env bash
# test-containerd.sh: containerd-shim-boxlite-v2 under Debian's containerd.
#
# The test starts its own containerd (root, state and sockets in a temporary
# folder, a config that names the shim's runtime type for the CRI), imports
# an OCI archive it builds, and drives tasks with ctr: each one must run in a
# box (the kernel answering inside is the box's, not the host's), with its
# output and exit status; exec adds a process; kill and delete, and a shim
# killed mid-task, leave no QEMU, box monitor, mount or socket. At the end
# containerd is stopped and the folder removed.
#
# BOXLITE_CTR_SHIM names the shim under test; containerd finds it on PATH
# by its runtime type, io.containerd.boxlite.v2.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

if [[ -z "${BOXLITE_CTR_SHIM:-}" ]]; then
    echo "BOXLITE_CTR_SHIM is not set" >&2
    exit 77
fi
[[ $(id -u) == 0 ]] || { echo "containerd needs root" >&2; exit 77; }

runtime=io.containerd.boxlite.v2
image=localhost/boxlite-ctr-test:latest
# Short: the boxes' sockets live below it.
tmp=$(mktemp -d /tmp/blc.XXXXXX)
containerd_pid=
events_pid=

ctr_() {
    ctr --address "$tmp/c.sock" --namespace boxlite-test "$@"
}

# Anything of ours still running: a process whose command line names the
# temporary folder (QEMU, box monitors, shims, containerd).
leftovers() {
    pgrep -af -- "$tmp" | grep -v -e "^$$ " -e 'ctr --address' || true
}

cleanup() {
    local m
    if ((failures > 0)) && [[ -f "$tmp/containerd.log" ]]; then
        echo "--- end of containerd's log" >&2
        tail -n 40 "$tmp/containerd.log" >&2
    fi
    [[ -z "$events_pid" ]] || kill "$events_pid" 2>/dev/null || true
    if [[ -n "$containerd_pid" ]]; then
        kill "$containerd_pid" 2>/dev/null || true
        wait "$containerd_pid" 2>/dev/null || true
    fi
    pkill -9 -f -- "$tmp/b/" 2>/dev/null || true
    for m in $(awk -v t="$tmp" 'index($2, t) == 1 {print $2}' /proc/mounts | sort -r); do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

start_containerd() {
    cat >"$tmp/config.toml" <<TOML
version = 2
root = "$tmp/root"
state = "$tmp/state"
[grpc]
  address = "$tmp/c.sock"
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "boxlite"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.boxlite]
  runtime_type = "$runtime"
  pod_annotations = ["boxlite.io/*"]
TOML
    PATH="$(dirname "$BOXLITE_CTR_SHIM"):$PATH" BOXLITE_CTR_ROOT="$tmp/b" \
        containerd --config "$tmp/config.toml" >"$tmp/containerd.log" 2>&1 &
    containerd_pid=$!
    for _ in $(seq 100); do
        ctr_ version >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    cat "$tmp/containerd.log" >&2
    echo "containerd did not start" >&2
    exit 1
}

# The CRI took the runtime of the config: the snippet of docs/containerd.md.
check_cri_config() {
    if grep -q "Runtimes:map\[boxlite:{Type:$runtime " "$tmp/containerd.log"; then
        pass "the CRI registers the boxlite runtime from the config"
    else
        fail "the CRI did not take the boxlite runtime"
    fi
}

import_image() {
    python3 "$(dirname "${BASH_SOURCE[0]}")/oci/make-layout.py" "$tmp/layout" --preset simple
    tar -C "$tmp/layout" -cf "$tmp/image.tar" .
    ctr_ images import --base-name localhost/boxlite-ctr-test "$tmp/image.tar" >/dev/null
    if ctr_ images ls -q | grep -qx "$image"; then
        pass "an OCI archive built here is imported"
    else
        fail "image $image not imported: $(ctr_ images ls -q)"
        exit 1
    fi
}

# The kernel release the boxes boot, read from the kernel image.
box_kernel_release() {
    grep -a -o -m1 'Linux version [^ ]*' "${BOXLITE_KERNEL:-/var/cache/boxlite/kernel/vmlinux}" |
        awk '{print $3}'
}

# no_traces ID: nothing of task ID remains: no QEMU or monitor under the
# boxes' root, no home, no shim socket, no shim.
no_traces() {
    local what=$1 left
    # A shim leaves shortly after its Shutdown is answered.
    for _ in $(seq 50); do
        left=$(leftovers | grep -v 'containerd --config' || true)
        [[ -z "$left" ]] && break
        sleep 0.1
    done
    check "$what: no QEMU, monitor or shim left" "" "$left"
    check "$what: no box home left" "" "$(ls -A "$tmp/b" 2>/dev/null || true)"
    check "$what: no shim socket left" "" "$(ls -A "$tmp/s" 2>/dev/null || true)"
}

# wait_stopped ID: until ctr reports the task STOPPED (or gone).
wait_stopped() {
    local _
    for _ in $(seq 300); do
        if ! ctr_ task ls 2>/dev/null | awk -v id="$1" '$1 == id {print $3}' | grep -q RUNNING; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

test_run() {
    local out rc=0 expected
    expected=$(box_kernel_release)
    out=$(ctr_ run --rm --runtime "$runtime" "$image" run1 /bin/busybox uname -r 2>"$tmp/err") ||
        rc=$?
    check "ctr run: exit status" 0 "$rc"
    check "ctr run: the kernel inside is the box's ($expected)" "$expected" "$out"
    if [[ "$out" == "$(uname -r)" ]]; then
        fail "ctr run: the command ran on the host's kernel"
    fi
    [[ $rc == 0 ]] || cat "$tmp/err" >&2

    rc=0
    out=$(ctr_ run --rm --runtime "$runtime" "$image" run2 sh -c 'echo to-out; echo to-err >&2; exit 7' \
        2>"$tmp/err") || rc=$?
    check "ctr run: the command's exit status" 7 "$rc"
    check "ctr run: stdout" "to-out" "$out"
    check "ctr run: stderr" "to-err" "$(cat "$tmp/err")"
    rc=0
    out=$(printf 'line one\nline two\n' |
        ctr_ run --rm --runtime "$runtime" "$image" run3 wc -l 2>"$tmp/err") || rc=$?
    check "ctr run: stdin reaches the process and ends" "0 2" "$rc $(tr -d ' ' <<<"$out")"
    no_traces "after ctr run --rm"
}

# linux.resources sizes the box; boxlite.io/allow-net picks its network.
test_resources_network() {
    local out mem
    out=$(ctr_ run --rm --runtime "$runtime" --cpus 2 --memory-limit 268435456 "$image" res1 \
        sh -c '/bin/busybox nproc; /bin/busybox grep MemTotal /proc/meminfo')
    check "--cpus 2: the box has 2 CPUs" 2 "$(head -n1 <<<"$out")"
    mem=$(awk '/MemTotal/ {print $2}' <<<"$out")
    if [[ "$mem" =~ ^[0-9]+$ ]] && ((mem > 180000 && mem <= 262144)); then
        pass "--memory-limit 256 MiB: the box has ${mem} kB"
    else
        fail "--memory-limit 256 MiB: MemTotal '$mem'"
    fi
    out=$(ctr_ run --rm --runtime "$runtime" "$image" net1 /bin/busybox ls /sys/class/net)
    check "default network: the box has eth0" 1 "$(grep -c '^eth0$' <<<"$out")"
    out=$(ctr_ run --rm --runtime "$runtime" --annotation boxlite.io/allow-net=none "$image" net2 \
        /bin/busybox ls /sys/class/net)
    check "boxlite.io/allow-net=none: the box has no eth0" 0 "$(grep -c '^eth0$' <<<"$out" || true)"
    no_traces "after sized boxes"
}

# The shim's events as containerd saw them, for the task of test_run.
test_events() {
    local topic
    for topic in /tasks/create /tasks/start /tasks/exit /tasks/delete; do
        if grep -F " $topic " "$tmp/events" | grep -q '"run1"\|container_id.*run1'; then
            pass "event $topic of run1 reached containerd"
        else
            fail "no $topic event of run1 in: $(cat "$tmp/events")"
        fi
    done
}

test_exec_kill_delete() {
    local out rc=0
    ctr_ run -d --runtime "$runtime" "$image" task1 /bin/busybox sleep 600 >/dev/null
    check "ctr run -d: the task runs" RUNNING \
        "$(ctr_ task ls | awk '$1 == "task1" {print $3}')"
    out=$(ctr_ task exec --exec-id e1 task1 sh -c 'echo from-exec; cat /hello.txt; exit 3') || rc=$?
    check "ctr task exec: exit status" 3 "$rc"
    check "ctr task exec: output" "from-exec" "$(head -n1 <<<"$out")"
    out=$(script -qec "stty rows 30 cols 100; ctr --address $tmp/c.sock \
        --namespace boxlite-test task exec -t --exec-id e2 task1 /bin/busybox tty" \
        /dev/null </dev/null | tr -d '\r\0')
    if grep -q '/dev/pts/' <<<"$out"; then
        pass "ctr task exec -t: the exec has a terminal"
    else
        fail "ctr task exec -t: tty said '$out'"
    fi
    check "ctr task ps: the task's process" 1 "$(ctr_ task ps task1 | tail -n +2 | wc -l)"
    ctr_ task pause task1
    check "ctr task pause" PAUSED "$(ctr_ task ls | awk '$1 == "task1" {print $3}')"
    ctr_ task resume task1
    check "ctr task resume" RUNNING "$(ctr_ task ls | awk '$1 == "task1" {print $3}')"
    out=$(ctr_ task metrics task1 | awk '$1 == "memory.usage_in_bytes" {print $2}')
    if [[ "$out" =~ ^[0-9]+$ ]] && ((out > 1048576)); then
        pass "ctr task metrics: the box's memory ($out bytes)"
    else
        fail "ctr task metrics: memory '$out'"
    fi
    ctr_ task kill -s SIGKILL task1
    if wait_stopped task1; then
        pass "ctr task kill: the task stops"
    else
        fail "ctr task kill: task1 still running"
    fi
    check "ctr task delete" 0 "$(status quiet ctr_ task delete task1)"
    ctr_ container delete task1
    no_traces "after kill and delete"
}

test_tty() {
    local out
    out=$(script -qec "stty rows 24 cols 80; ctr --address $tmp/c.sock \
        --namespace boxlite-test run --rm -t --runtime $runtime $image tty1 \
        sh -c '/bin/busybox sleep 1; /bin/busybox tty; /bin/busybox stty size'" /dev/null </dev/null | tr -d '\r\0')
    if grep -q '/dev/pts/' <<<"$out"; then
        pass "ctr run -t: the process has a terminal"
    else
        fail "ctr run -t: tty said '$out'"
    fi
    check "ctr run -t: the terminal has the client's size" "24 80" "$(tail -n1 <<<"$out")"
    no_traces "after ctr run -t"
}

test_shim_killed() {
    local shim
    ctr_ run -d --runtime "$runtime" "$image" task2 /bin/busybox sleep 600 >/dev/null
    shim=$(pgrep -f -- "containerd-shim-boxlite-v2 .*-id task2 .*serve" || true)
    if [[ -z "$shim" ]]; then
        fail "no shim process found for task2"
        return
    fi
    kill -9 "$shim"
    if wait_stopped task2; then
        pass "a killed shim: containerd sees the task stop"
    else
        fail "a killed shim: task2 still reported running"
    fi
    ctr_ task delete task2 >/dev/null 2>&1 || true
    check "a killed shim: the container can be deleted" 0 \
        "$(status quiet ctr_ container delete task2)"
    # The box monitor follows its creator; give it its stop timeout.
    for _ in $(seq 100); do
        [[ -z "$(leftovers | grep -v 'containerd --config')" ]] && break
        sleep 0.2
    done
    no_traces "after a killed shim"
}

# A pod as the CRI makes one: a sandbox container, then a member naming
# it. Both run in one box (one QEMU, one kernel boot), each in its own
# root; the member's writes stay its own; deleting the member leaves the
# pod running and nothing of the member mounted on the host.
test_pod() {
    local pod=(--annotation io.kubernetes.cri.sandbox-id=pod1)
    local boot_sandbox boot_member out qemus
    ctr_ run -d --runtime "$runtime" "${pod[@]}" \
        --annotation io.kubernetes.cri.container-type=sandbox "$image" pod1 \
        /bin/busybox sleep 600 >/dev/null
    ctr_ run -d --runtime "$runtime" "${pod[@]}" \
        --annotation io.kubernetes.cri.container-type=container "$image" member1 \
        sh -c 'echo from-member >/written-by-member; exec /bin/busybox sleep 600' >/dev/null
    check "pod: the member runs" RUNNING "$(ctr_ task ls | awk '$1 == "member1" {print $3}')"
    qemus=$(pgrep -f -- "qemu-system.*$tmp/b/" | wc -l)
    check "pod: one VM for the sandbox and its member" 1 "$qemus"
    boot_sandbox=$(ctr_ task exec --exec-id b1 pod1 /bin/busybox cat /proc/sys/kernel/random/boot_id)
    boot_member=$(ctr_ task exec --exec-id b2 member1 /bin/busybox cat /proc/sys/kernel/random/boot_id)
    if [[ -n "$boot_sandbox" && "$boot_sandbox" == "$boot_member" ]]; then
        pass "pod: the member runs on the sandbox's kernel (boot $boot_member)"
    else
        fail "pod: boot ids differ: sandbox '$boot_sandbox', member '$boot_member'"
    fi
    out=$(ctr_ task exec --exec-id w1 member1 sh -c 'cat /written-by-member; cat /hello.txt')
    check "pod: the member's exec sees its root and what its process wrote" \
        "from-member hello from simple" "$(tr '\n' ' ' <<<"$out" | sed 's/ $//')"
    out=$(ctr_ task exec --exec-id w2 pod1 sh -c 'ls /written-by-member 2>&1 || true')
    if grep -q 'No such file' <<<"$out"; then
        pass "pod: the sandbox does not see the member's files"
    else
        fail "pod: the sandbox sees /written-by-member: $out"
    fi
    out=$(find "$tmp/root" -name written-by-member 2>/dev/null | head -n1)
    check "pod: the member's writes do not reach the host's snapshot" "" "$out"
    out=$(ctr_ task exec --exec-id p1 member1 sh -c '/bin/busybox ls /proc/1 >/dev/null && echo proc; \
        /bin/busybox ls /dev/null && /bin/busybox id -u')
    check "pod: the member has /proc, /dev and runs as its user" "proc /dev/null 0" \
        "$(tr '\n' ' ' <<<"$out" | sed 's/ $//')"

    ctr_ task kill -s SIGKILL member1
    wait_stopped member1 || fail "pod: member1 did not stop"
    check "pod: the member is deleted" 0 "$(status quiet ctr_ task delete member1)"
    ctr_ container delete member1
    check "pod: the sandbox runs on after its member" RUNNING \
        "$(ctr_ task ls | awk '$1 == "pod1" {print $3}')"
    out=$(awk '{print $2}' /proc/mounts | grep -c -- "/pod/member1" || true)
    check "pod: nothing of the member stays mounted" 0 "$out"
    check "pod: the sandbox still answers" ok "$(ctr_ task exec --exec-id a1 pod1 echo ok)"
    ctr_ task kill -s SIGKILL pod1
    wait_stopped pod1 || fail "pod: pod1 did not stop"
    check "pod: the sandbox is deleted" 0 "$(status quiet ctr_ task delete pod1)"
    ctr_ container delete pod1
    no_traces "after the pod"
}

start_containerd
check_cri_config
import_image
ctr_ events >"$tmp/events" 2>&1 &
events_pid=$!
test_run
kill "$events_pid"
wait "$events_pid" 2>/dev/null || true
events_pid=
test_events
test_resources_network
test_exec_kill_delete
test_tty
test_pod
test_shim_killed

kill "$containerd_pid"
wait "$containerd_pid" 2>/dev/null || true
containerd_pid=
check "nothing of the test runs after containerd stopped" "" "$(leftovers)"
checks_done

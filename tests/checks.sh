# checks.sh: what the shell test scripts share, sourced by each: a count of
# failed checks, the checks themselves, and the closing report.

failures=0

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

# The script's last word: its status says whether every check passed.
checks_done() {
    if ((failures > 0)); then
        echo "$failures check(s) failed" >&2
        exit 1
    fi
    echo "all checks passed"
}

# shellcheck shell=bash
# Shared helpers for the integration tests (sourced, not run). Every process a test starts is
# recorded and ended by PID when the test exits, however it exits.
#
# The one home of the helpers several tests need: the clock (now_ms, unix_in, ms_to_unix), a timeout
# (with_timeout), waiting for background runs (wait_ok),
# reading the load generator's JSON (js), starting and stopping processes (start, stop), a
# process's children (children), and the ctest skip code (skip). They use only what macOS
# (BSD userland, bash 3.2) and Linux both have; tests/integration/test_portable.sh keeps it so.
set -u
# shellcheck disable=SC2034 # BIN and TESTBIN are for the tests that source this file
BIN=${FANOUT_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build/bin" && pwd)}
# shellcheck disable=SC2034
TESTBIN=${FANOUT_TESTBIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build/tests" && pwd)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fanout-test.XXXXXX")
PIDS=()
FAILS=0
PASSES=0
# The exit status ctest reads as "Skipped" (SKIP_RETURN_CODE in tests/CMakeLists.txt).
SKIP_CODE=77

cleanup() {
    local pid
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null
    done
    sleep 0.2
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=../../scripts/proc.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/proc.sh"

# start NAME CMD...: runs CMD in the background, logs to $WORK/NAME.log, waits for its first
# line ("... listening on ...:PORT") and sets PORT and PID; the test ends if it does not start.
start() {
    local name=$1
    shift
    fo_start_or_exit "$name" "$WORK/$name.log" "$@"
}

# interrupt_after SECONDS CMD...: runs CMD in the background, sends it SIGINT (Ctrl-C) after
# SECONDS and waits for it; its exit status in RC.
interrupt_after() {
    local seconds=$1 pid
    shift
    "$@" &
    pid=$!
    PIDS+=("$pid")
    sleep "$seconds"
    kill -INT "$pid"
    wait "$pid"
    RC=$?
}

# stop PID [SECONDS]: SIGTERM, then waits for the exit (SIGKILL after SECONDS, default 15) and
# sets RC to the exit code. PID must be this shell's child (not for $(...): only this shell can
# wait for its children).
stop() {
    local pid=$1 limit=${2:-15} stat
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq $((limit * 20))); do
        stat=$(ps -o stat= -p "$pid" 2>/dev/null) || break
        case $stat in Z*) break ;; esac
        sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid"
    # shellcheck disable=SC2034 # for the caller
    RC=$?
}

# children PID: the PIDs of PID's child processes, one a line.
children() {
    fo_children "$1"
}

# wait_children PID N: waits up to 5 s until PID has exactly N children.
wait_children() {
    for _ in $(seq 100); do
        [ "$(children "$1" | wc -l)" -eq "$2" ] && return 0
        sleep 0.05
    done
    return 1
}

# exited PID: true when PID has ended: no such process, or a zombie nobody has reaped yet.
exited() {
    local stat
    stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
    case $stat in Z* | "") return 0 ;; esac
    return 1
}

# now_ms: wall-clock milliseconds. macOS's date has no %N (before macOS 15.4 it prints a literal
# N), and its bash 3.2 no EPOCHREALTIME; perl is on both.
now_ms() {
    if [ -n "${EPOCHREALTIME:-}" ]; then
        local t=${EPOCHREALTIME/[.,]/}
        echo $((t / 1000))
    else
        perl -MTime::HiRes=time -e 'printf "%d\n", time() * 1000'
    fi
}

# unix_in MS: the wall-clock instant MS milliseconds from now, in Unix seconds with three
# decimals (what fanout-load --start-at takes).
unix_in() {
    ms_to_unix $(($(now_ms) + $1))
}

# ms_to_unix MS: wall-clock milliseconds (as now_ms gives) in Unix seconds with three decimals.
ms_to_unix() {
    echo "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"
}

# wait_ok PID...: waits for each PID (children of this shell: not from $(...)) and sets OK to
# how many exited 0.
wait_ok() {
    local pid
    OK=0
    for pid in "$@"; do
        wait "$pid" && OK=$((OK + 1))
    done
}

# with_timeout SECONDS CMD...: runs CMD, killed by SIGALRM after SECONDS (macOS has no
# timeout(1)); the exit status is CMD's, or 142 when it was killed.
with_timeout() {
    perl -e 'alarm shift; exec @ARGV or die "exec: $!"' "$@"
}

# skip REASON: the whole test cannot run here; says why and exits with ctest's skip code.
skip() {
    echo "skip - $*"
    exit "$SKIP_CODE"
}

# all CMD [-- CMD]...: runs the commands (`--` between them) in turn; true when every one is.
# For a check of several conditions: check "what" all [ "$a" = 1 ] -- [ "$b" -lt 2 ]. Written
# `check "what" [ ... ] && [ ... ]`, the shell would give check only the first condition.
all() {
    local a cmd=()
    for a in "$@" --; do
        if [ "$a" = -- ]; then
            "${cmd[@]}" || return 1
            cmd=()
        else
            cmd+=("$a")
        fi
    done
}

# check DESCRIPTION COMMAND...: one named assertion.
check() {
    local what=$1
    shift
    if "$@"; then
        PASSES=$((PASSES + 1))
        echo "ok   - $what"
    else
        FAILS=$((FAILS + 1))
        echo "FAIL - $what"
        return 1
    fi
}

# finish: prints the tally and exits non-zero on any failure.
finish() {
    echo "$PASSES passed, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}

# no_sanitizer_report: no sanitizer report in the test's logs and outputs. Under SANITIZE builds
# a report goes to stderr; exit codes alone could hide one (ASan's exit 1 is also fanout-load's
# failure-ratio exit).
no_sanitizer_report() {
    ! cat "$WORK"/*.err "$WORK"/*.txt "$WORK"/*.out "$WORK"/*.log 2>/dev/null |
        grep -qE "Sanitizer|runtime error:"
}

# stat_field URL FIELD: a number from the API's /stats JSON.
stat_field() {
    curl -s "$1/stats" | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"
}

# listen_cap: the most connections a listening socket may queue on this system (the kernel
# caps every listen backlog there): kern.ipc.somaxconn on macOS (128 by default), or
# net.core.somaxconn on Linux (4096 on recent kernels). 128 when neither can be read.
# FANOUT_LISTEN_CAP overrides it (to run macOS's sizes on Linux).
listen_cap() {
    local n=${FANOUT_LISTEN_CAP:-}
    [ -n "$n" ] || n=$(sysctl -n kern.ipc.somaxconn 2>/dev/null || cat /proc/sys/net/core/somaxconn 2>/dev/null)
    case $n in '' | *[!0-9]*) n=128 ;; esac
    echo "$n"
}

# burst WANTED PER: how many of WANTED clients to send at once when each opens PER connections
# to one listener: WANTED, or fewer so that WANTED * PER fits within listen_cap even if the
# listener accepted none meanwhile (a connection past the cap is dropped, and its retry costs a
# second, which would be measured instead of the server).
burst() {
    local cap
    cap=$(listen_cap)
    if [ $(($1 * $2)) -le "$cap" ]; then echo "$1"; else echo $((cap / $2)); fi
}

# parallel_get N URL: N requests at once (curl --parallel), one line "CODE SECONDS" each on
# stdout, bodies discarded.
parallel_get() {
    local n=$1 url=$2 cfg
    cfg=$(mktemp "$WORK/urls.XXXXXX")
    for _ in $(seq "$n"); do printf 'url = %s\noutput = /dev/null\n' "$url"; done >"$cfg"
    curl -s --no-progress-meter --parallel --parallel-immediate --parallel-max "$n" -K "$cfg" \
        -w '%{http_code} %{time_total}\n' 2>/dev/null
}

# js NAME EXPR: EXPR, a Python expression over d (the JSON of $WORK/NAME.json, with objects as
# attributes: d.failures.total), is true. Python, which every machine here has.
js() {
    python3 -c 'import json, sys, types
d = json.load(open(sys.argv[1]), object_hook=lambda o: types.SimpleNamespace(**o))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$WORK/$1.json" "$2"
}

# show NAME EXPR: prints EXPR's value over the same d, for the log (the figures behind checks).
show() {
    python3 -c 'import json, sys, types
d = json.load(open(sys.argv[1]), object_hook=lambda o: types.SimpleNamespace(**o))
print("     ", sys.argv[3], "=", eval(sys.argv[2]))' "$WORK/$1.json" "$2" "$1: $2"
}

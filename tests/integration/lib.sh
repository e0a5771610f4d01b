# Shared helpers for the integration tests (sourced, not run). Every process a test starts is
# recorded and ended by PID when the test exits, however it exits.
set -u
BIN=${FANOUT_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build/bin" && pwd)}
TESTBIN=${FANOUT_TESTBIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build/tests" && pwd)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fanout-test.XXXXXX")
PIDS=()
FAILS=0
PASSES=0

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

. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/proc.sh"

# start NAME CMD...: runs CMD in the background, logs to $WORK/NAME.log, waits for its first
# line ("... listening on ...:PORT") and sets PORT and PID; the test ends if it does not start.
start() {
    local name=$1
    shift
    fo_start "$WORK/$name.log" 100 "$@" && return 0
    echo "could not start $name: $(cat "$WORK/$name.log")" >&2
    exit 1
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

# stat_field URL FIELD: a number from the API's /stats JSON.
stat_field() {
    curl -s "$1/stats" | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"
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

#!/usr/bin/env bash
# Runs wrk and fanout-load side by side against the same target, one after the other, with the
# same connections and duration, and prints each one's requests per second and CPU time per
# request, and the ratios. fanout-load must never be what limits a benchmark: its req/s should
# be at least wrk's and its CPU per request lower.
#
#   bench/compare-wrk.sh [--url URL] [--users N] [--duration S] [--rounds R] [--check]
#
# Without --url it starts build/bin/fanout-api on a free port and aims at its /0/ (an answer
# at once), then stops it. --check exits 1 when fanout-load's req/s is below wrk's or its CPU
# per request above wrk's (in the last round). CPU is user + system time of each tool's process,
# from bash's `time`. Loopback only; every run is bounded by --duration.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${FANOUT_BIN:-$ROOT/build/bin}
URL=""
USERS=100
DURATION=5
ROUNDS=1
CHECK=0
while [ $# -gt 0 ]; do
    case $1 in
        --url) URL=$2; shift 2 ;;
        --users) USERS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --check) CHECK=1; shift ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare-wrk.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "compare-wrk.sh: wrk is not installed" >&2; exit 2; }
[ -x "$BIN/fanout-load" ] || { echo "compare-wrk.sh: $BIN/fanout-load is not built (make)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/compare-wrk.XXXXXX")
API_PID=""
cleanup() {
    [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ -z "$URL" ]; then
    [ -x "$BIN/fanout-api" ] || { echo "compare-wrk.sh: $BIN/fanout-api is not built; give --url" >&2; exit 2; }
    "$BIN/fanout-api" --port 0 >"$WORK/api.log" 2>&1 &
    API_PID=$!
    for _ in $(seq 100); do
        PORT=$(sed -n '1s/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p' "$WORK/api.log")
        [ -n "$PORT" ] && break
        sleep 0.05
    done
    [ -n "${PORT:-}" ] || { echo "compare-wrk.sh: fanout-api did not start: $(cat "$WORK/api.log")" >&2; exit 1; }
    URL=http://127.0.0.1:$PORT/0/
fi

# cpu_of FILE: user + system seconds from bash's `time` output ("U S").
cpu_of() { awk '{ printf "%.3f", $1 + $2 }' "$1"; }
TIMEFORMAT='%U %S'

echo "target $URL, $USERS connections, ${DURATION}s each, $ROUNDS round(s)"
printf "%-6s %-12s %12s %10s %12s %14s\n" round tool requests "req/s" "cpu (s)" "cpu/req (us)"
for round in $(seq "$ROUNDS"); do
    { time wrk -t1 -c"$USERS" -d"${DURATION}s" "$URL" >"$WORK/wrk.txt"; } 2>"$WORK/wrk.cpu"
    w_req=$(awk '/requests in/ { print $1 }' "$WORK/wrk.txt")
    w_rps=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk.txt")
    w_cpu=$(cpu_of "$WORK/wrk.cpu")

    { time "$BIN/fanout-load" -q -t 1 -u "$USERS" -d "${DURATION}s" --max-failure-ratio 1 "$URL" >"$WORK/fl.txt"; } 2>"$WORK/fl.cpu"
    f_req=$(awk '/^  requests/ { print $2 }' "$WORK/fl.txt")
    f_rps=$(awk '/^  requests/ { sub(/\/s;?/, "", $4); print $4 }' "$WORK/fl.txt")
    f_cpu=$(cpu_of "$WORK/fl.cpu")

    w_us=$(awk -v c="$w_cpu" -v n="$w_req" 'BEGIN { printf "%.2f", (n > 0 ? c * 1e6 / n : 0) }')
    f_us=$(awk -v c="$f_cpu" -v n="$f_req" 'BEGIN { printf "%.2f", (n > 0 ? c * 1e6 / n : 0) }')
    printf "%-6s %-12s %12s %10s %12s %14s\n" "$round" wrk "$w_req" "$w_rps" "$w_cpu" "$w_us"
    printf "%-6s %-12s %12s %10s %12s %14s\n" "$round" fanout-load "$f_req" "$f_rps" "$f_cpu" "$f_us"
    rps_ratio=$(awk -v a="$f_rps" -v b="$w_rps" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
    cpu_ratio=$(awk -v a="$f_us" -v b="$w_us" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
    echo "round $round: req/s fanout-load/wrk = $rps_ratio (want >= 1); cpu per request fanout-load/wrk = $cpu_ratio (want < 1)"
done
if [ "$CHECK" -eq 1 ]; then
    awk -v r="$rps_ratio" -v c="$cpu_ratio" 'BEGIN { exit !(r >= 1 && c < 1) }' || {
        echo "compare-wrk.sh: fanout-load fell behind wrk" >&2
        exit 1
    }
fi

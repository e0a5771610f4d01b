#!/usr/bin/env bash
# The open model's own benchmark (issue 13), not a test: can fanout-load --rate offer a high
# rate on time? One run of fanout-load --rate R against a target that answers at once, then the
# verdict: the achieved rate (requests sent a second) within 1% of the offered one, and send
# lateness (actual send - intended arrival) p99 under 1 ms.
#
#   bench/open-rate.sh [--url URL] [--rate R] [--duration D] [--threads T] [--max-connections N]
#
# Defaults: 100000 arrivals a second for 10s on one thread. Without --url it starts
# build/bin/fanout-api on a free port and aims at its /0/ (an answer at once), then stops it;
# for the issue's figure give an nginx with `location / { return 200; }`, e.g.
#   bench/open-rate.sh --url http://127.0.0.1:8080/
# Run it on a quiet machine with cores to spare for the target: the generator's loop needs one
# of its own. Exit 0 when both criteria hold, 1 when not, 2 on bad arguments. Loopback only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${FANOUT_BIN:-$ROOT/build/bin}
URL=""
RATE=100000
DURATION=10s
THREADS=1
MAXCONN=""
while [ $# -gt 0 ]; do
    case $1 in
        --url) URL=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --max-connections) MAXCONN=$2; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "open-rate.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ -x "$BIN/fanout-load" ] || { echo "open-rate.sh: $BIN/fanout-load is not built (make)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/open-rate.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]:-}"; do
        if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
. "$ROOT/scripts/proc.sh"

if [ -z "$URL" ]; then
    [ -x "$BIN/fanout-api" ] || { echo "open-rate.sh: $BIN/fanout-api is not built; give --url" >&2; exit 2; }
    fo_start "$WORK/api.log" 100 "$BIN/fanout-api" --port 0 ||
        { echo "open-rate.sh: fanout-api did not start: $(cat "$WORK/api.log")" >&2; exit 1; }
    URL=http://127.0.0.1:$PORT/0/
fi

args=(--quiet --rate "$RATE" --duration "$DURATION" --threads "$THREADS" --json "$WORK/run.json")
[ -n "$MAXCONN" ] && args+=(--max-connections "$MAXCONN")
echo "fanout-load ${args[*]} $URL"
rc=0
"$BIN/fanout-load" "${args[@]}" "$URL" >"$WORK/run.txt" || rc=$?
sed -n '2,12p' "$WORK/run.txt"
[ -s "$WORK/run.json" ] || { echo "open-rate.sh: fanout-load failed (exit $rc)" >&2; exit 1; }
python3 - "$WORK/run.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ok_rate = abs(d["achieved_rps"] - d["offered_rps"]) <= 0.01 * d["offered_rps"]
ok_late = d["lateness"]["p99_ms"] < 1.0
print("offered %.0f/s, achieved %.0f/s sent (%+.2f%%), %.0f/s answered; send lateness p50 %.3f "
      "p99 %.3f max %.3f ms; %d late starts, %d queued, %d unsent, %d connections" % (
          d["offered_rps"], d["achieved_rps"], 100 * (d["achieved_rps"] / d["offered_rps"] - 1),
          d["rps"], d["lateness"]["p50_ms"], d["lateness"]["p99_ms"], d["lateness"]["max_ms"],
          d["late_starts"], d["queued_starts"], d["unsent"], d["connections"]))
print("achieved within 1%%: %s; lateness p99 < 1 ms: %s" % (
    "yes" if ok_rate else "NO", "yes" if ok_late else "NO"))
sys.exit(0 if ok_rate and ok_late else 1)
PY

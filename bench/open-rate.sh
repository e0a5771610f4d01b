#!/usr/bin/env bash
# The open model's own benchmark (issue 13), not a test: can fanout-load --rate offer a high
# rate on time? One run of fanout-load --rate R against a target that answers at once, then the
# verdict: the achieved rate (requests sent a second) within 1% of the offered one, and send
# lateness (actual send - intended arrival) p99 under 1 ms.
#
#   bench/open-rate.sh [--target nginx|api | --url URL] [--rate R] [--duration D]
#                      [--threads T] [--max-connections N] [--no-pin]
#
# Defaults: 100000 arrivals a second for 10s on one thread, against nginx (one worker,
# `return 200`; installed when missing) that the script starts and stops. --target api aims at
# fanout-api's /0/ instead (one worker, an answer at once); --url at a target of your own.
# On Linux with 2 CPUs or more the target the script starts runs on the last CPU and
# fanout-load on the others (taskset): on a small machine the scheduler otherwise puts both on
# one CPU now and then, and the generator's lateness measures the target's work. --no-pin
# leaves that to the scheduler. Exit 0 when both criteria hold, 1 when not, 2 on bad arguments.
# Loopback only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${FANOUT_BIN:-$ROOT/build/bin}
TARGET=nginx
URL=""
RATE=100000
DURATION=10s
THREADS=1
MAXCONN=""
PIN=1
while [ $# -gt 0 ]; do
    case $1 in
        --target) TARGET=$2; shift 2 ;;
        --url) URL=$2; TARGET=url; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --max-connections) MAXCONN=$2; shift 2 ;;
        --no-pin) PIN=0; shift ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "open-rate.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case $TARGET in
    nginx|api|url) ;;
    *) echo "open-rate.sh: --target is nginx or api, not '$TARGET'" >&2; exit 2 ;;
esac
[ -x "$BIN/fanout-load" ] || { echo "open-rate.sh: $BIN/fanout-load is not built (make)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/open-rate.XXXXXX")
PIDS=()
# shellcheck source=../scripts/proc.sh
. "$ROOT/scripts/proc.sh"
# shellcheck source=nginx.sh
. "$ROOT/bench/nginx.sh"
cleanup() {
    fo_stop_all
    rm -rf "$WORK"
}
trap cleanup EXIT

PIN_TARGET=() PIN_CLIENT=() PIN_NOTE="not pinned (--no-pin)"
if [ "$PIN" -eq 1 ]; then
    if [ "$TARGET" = url ]; then PIN_NOTE="not pinned: a target of your own (--url)"; else fo_pin_split; fi
fi
case $TARGET in
    nginx)
        fo_nginx_ensure open-rate.sh
        fo_nginx_start open-rate.sh ${PIN_TARGET[@]+"${PIN_TARGET[@]}"}
        URL=$NGINX_URL ;;
    api)
        [ -x "$BIN/fanout-api" ] || { echo "open-rate.sh: $BIN/fanout-api is not built" >&2; exit 2; }
        fo_start "$WORK/api.log" 100 ${PIN_TARGET[@]+"${PIN_TARGET[@]}"} "$BIN/fanout-api" --port 0 ||
            { echo "open-rate.sh: fanout-api did not start: $(cat "$WORK/api.log")" >&2; exit 1; }
        URL=http://127.0.0.1:$PORT/0/ ;;
esac

args=(--quiet --rate "$RATE" --duration "$DURATION" --threads "$THREADS" --json "$WORK/run.json")
[ -n "$MAXCONN" ] && args+=(--max-connections "$MAXCONN")
echo "target $TARGET $URL; $PIN_NOTE"
echo "fanout-load ${args[*]} $URL"
rc=0
${PIN_CLIENT[@]+"${PIN_CLIENT[@]}"} "$BIN/fanout-load" "${args[@]}" "$URL" >"$WORK/run.txt" || rc=$?
sed -n '2,12p' "$WORK/run.txt"
[ -s "$WORK/run.json" ] || { echo "open-rate.sh: fanout-load failed (exit $rc)" >&2; exit 1; }
python3 - "$WORK/run.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ok_rate = abs(d["achieved_rps"] - d["offered_rps"]) <= 0.01 * d["offered_rps"]
ok_late = d["lateness"]["p99_ms"] < 1.0
print("offered %.0f/s, achieved %.0f/s sent (%+.2f%%), %.0f/s answered; send lateness p50 %.3f "
      "p99 %.3f max %.3f ms; %d late starts (%.2f%%), %d queued, %d unsent, %d connections" % (
          d["offered_rps"], d["achieved_rps"], 100 * (d["achieved_rps"] / d["offered_rps"] - 1),
          d["rps"], d["lateness"]["p50_ms"], d["lateness"]["p99_ms"], d["lateness"]["max_ms"],
          d["late_starts"], 100.0 * d["late_starts"] / max(1, d["sent"]), d["queued_starts"],
          d["unsent"], d["connections"]))
print("achieved within 1%%: %s; lateness p99 < 1 ms: %s" % (
    "yes" if ok_rate else "NO", "yes" if ok_late else "NO"))
sys.exit(0 if ok_rate and ok_late else 1)
PY

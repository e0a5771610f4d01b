#!/usr/bin/env bash
# Soak: long runs that `make test` leaves out.
#
#   1. Upstream faults at scale: tests/integration/test_robust_leak.sh with 10,000 pages against
#      a down API per model (SOAK_FAULT_PAGES; 0 skips this part), plus 2,000 answering 500,
#      1,000 with invalid JSON and 500 stalling.
#   2. 100 users (fanout-load) against each model for SOAK_SECONDS (default 120), sampling the
#      server's resident memory and open descriptors every SOAK_SAMPLE seconds (default 5). It
#      fails when any request failed, or when memory or descriptors grow during the run by more
#      than SOAK_RSS_SLACK_MB (default 10) or SOAK_FD_SLACK (default 20) over the first sample
#      taken once the users are all running.
#
#   scripts/soak.sh                  SOAK_SECONDS=30 SOAK_MODELS="uv" scripts/soak.sh
#
# Linux only (/proc); elsewhere it says so and exits 0.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export FANOUT_BIN=${FANOUT_BIN:-$PWD/build/bin}
export FANOUT_TESTBIN=${FANOUT_TESTBIN:-$(dirname "$FANOUT_BIN")/tests}
SECS=${SOAK_SECONDS:-120}
SAMPLE=${SOAK_SAMPLE:-5}
USERS=${SOAK_USERS:-100}
MS=${SOAK_MS:-300}
FAULT_PAGES=${SOAK_FAULT_PAGES:-10000}
RSS_SLACK_KB=$((${SOAK_RSS_SLACK_MB:-10} * 1024))
FD_SLACK=${SOAK_FD_SLACK:-20}
# Every model in the engine table, unless told otherwise.
SOAK_MODEL_LIST=${SOAK_MODELS:-$("$FANOUT_BIN/fanout-server" --list-models | awk '{ print $1 }')}
if ! [[ $SECS =~ ^[0-9]+$ && $SAMPLE =~ ^[0-9]+$ ]] || [ "$SAMPLE" -lt 1 ] || [ "$SECS" -lt $((2 * SAMPLE + 2)) ]; then
    echo "soak: SOAK_SECONDS ($SECS) must be at least $((2 * SAMPLE + 2)): two samples, ${SAMPLE}s apart, are needed to see a trend" >&2
    exit 2
fi
# prefork's workers: enough that 100 users do not wait minutes for one (each worker is a process).
PREFORK_WORKERS=${SOAK_PREFORK_WORKERS:-20}

if [ ! -d /proc/self/fd ]; then
    echo "soak: skipped: needs /proc (Linux) to read memory and descriptor counts"
    exit 0
fi
LOAD=$FANOUT_BIN/fanout-load
if [ ! -x "$LOAD" ]; then
    echo "soak: $LOAD not built: run make" >&2
    exit 1
fi
FAILED=0

if [ "$FAULT_PAGES" -gt 0 ]; then
    echo "soak: part 1: $FAULT_PAGES failed pages per fault and model"
    if ! FAULT_PAGES=$FAULT_PAGES ROBUST_MODELS="$SOAK_MODEL_LIST" bash tests/integration/test_robust_leak.sh; then
        FAILED=1
    fi
fi

echo "soak: part 2: $USERS users for ${SECS}s against each model, sampling every ${SAMPLE}s"
# shellcheck source=../tests/integration/lib.sh
. tests/integration/lib.sh
# shellcheck source=../tests/integration/robust_lib.sh
. tests/integration/robust_lib.sh

start api "$BIN/fanout-api" --port 0
# shellcheck disable=SC2153 # start (scripts/proc.sh) sets PORT
API=http://127.0.0.1:$PORT

for model in $SOAK_MODEL_LIST; do
    case $model in
    prefork) args=(--workers "$PREFORK_WORKERS") ;;
    threads) args=(--threads "$USERS") ;;
    *) args=() ;;
    esac
    start_model "soak-$model" "$model" ${args[@]+"${args[@]}"} --upstream "$API" || continue
    spid=$PID
    url=http://127.0.0.1:$PORT/$MS/
    "$LOAD" --users "$USERS" --spawn-rate "$USERS" --duration "${SECS}s" --quiet \
        --max-failure-ratio 0 --json "$WORK/load-$model.json" "$url" >"$WORK/load-$model.out" 2>&1 &
    lpid=$!
    samples="$WORK/samples-$model"
    : >"$samples"
    t=0
    # Samples while the load runs; the first one at SAMPLE s, when every user is running.
    while kill -0 "$lpid" 2>/dev/null; do
        sleep "$SAMPLE"
        t=$((t + SAMPLE))
        kill -0 "$lpid" 2>/dev/null || break
        kill -0 "$spid" 2>/dev/null || break
        echo "$t $(rss_kb_of "$spid") $(fds_of "$spid")" >>"$samples"
    done
    wait "$lpid"
    lrc=$?
    json=$(tr -d ' \n' <"$WORK/load-$model.json" 2>/dev/null)
    requests=$(grep -o '"requests":[0-9]*' <<<"$json" | head -1 | grep -o '[0-9]*$')
    failures=$(grep -o '"failures":{"total":[0-9]*' <<<"$json" | grep -o '[0-9]*$')
    read -r _ rss0 fd0 <<<"$(head -1 "$samples")"
    read -r _ rss_max fd_max <<<"$(awk 'BEGIN { r = 0; f = 0 } { if ($2 > r) r = $2; if ($3 > f) f = $3 }
        END { print "x", r, f }' "$samples")"
    n=$(wc -l <"$samples")
    echo "soak: $model: ${requests:-?} requests, ${failures:-?} failed; $n samples:" \
        "RSS $((${rss0:-0} / 1024)) -> max $((${rss_max:-0} / 1024)) MiB, descriptors ${fd0:-?} -> max ${fd_max:-?}"
    awk '{ printf "  t=%4ss  rss=%6d KiB  fds=%d\n", $1, $2, $3 }' "$samples"
    check "$model: the load generator ran and succeeded (exit $lrc)" [ "$lrc" -eq 0 ]
    check "$model: requests were served" [ "${requests:-0}" -gt 0 ]
    check "$model: no request failed" [ "${failures:-1}" -eq 0 ]
    check "$model: at least 2 samples" [ "$n" -ge 2 ]
    check "$model: memory flat (max $rss_max KiB <= $rss0 + $RSS_SLACK_KB)" \
        [ "${rss_max:-0}" -le $((${rss0:-0} + RSS_SLACK_KB)) ]
    check "$model: descriptors flat (max $fd_max <= $fd0 + $FD_SLACK)" \
        [ "${fd_max:-0}" -le $((${fd0:-0} + FD_SLACK)) ]
    check "$model: still running" kill -0 "$spid"
    kill "$spid"
done

if ! finish; then FAILED=1; fi
if [ "$FAILED" -ne 0 ]; then
    echo "soak: FAILED"
    exit 1
fi
echo "soak: passed"

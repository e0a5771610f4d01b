#!/usr/bin/env bash
# Cancellation, for every model: a client that leaves while its page waits on the API stops the
# page's calls at once, and a page answers as soon as one of its calls has failed.
#   - 50 clients ask for /3000/ (calls of 3, 6 and 1.5 s) and give up after 0.5 s: one second
#     later the API has no call in flight (its /stats). threads runs 20 at once, so 30 of the
#     pages are still queued when their clients leave: they are dropped without a thread.
#   - With --no-cancel (today's behaviour before cancelling, kept to measure it) the calls run on.
#   - One of two upstreams refuses connections: a /2000/ page answers 502 at once, naming the
#     failed call, instead of waiting 4 s for the others.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/robust_lib.sh"

# in_flight URL [FIELD]: the API's calls in flight (or FIELD of its /stats, e.g. peak_in_flight).
in_flight() {
    curl -s -m 5 "$1/stats" | sed -n "s/.*\"${2:-in_flight}\":\([0-9]*\).*/\1/p"
}

# leave MODEL NAME MS ARGS...: starts a fresh API and MODEL with ARGS, sends 50 pages of /MS/
# whose clients leave after 0.5 s; sets DURING (the most calls in flight at once, the API's
# peak) and AFTER (calls in flight 1 s after the clients left). Before stopping the server it
# lets any call still running end (a server stopped with calls out abandons them at its
# shutdown timeout, which a sanitizer build reports as leaks).
leave() {
    local model=$1 name=$2 ms=$3 i
    shift 3
    start "api-$name" "$BIN/fanout-api" --port 0
    local api=http://127.0.0.1:$PORT api_pid=$PID
    start_model "srv-$name" "$model" "$@" --shutdown-timeout 200 --upstream "$api" || return 1
    local srv=http://127.0.0.1:$PORT srv_pid=$PID
    local clients=()
    for i in $(seq 50); do
        curl -s -o /dev/null -m 0.5 "$srv/$ms/" &
        clients+=($!)
    done
    for i in "${clients[@]}"; do wait "$i" || true; done
    sleep 1
    AFTER=$(in_flight "$api")
    DURING=$(in_flight "$api" peak_in_flight)
    check "$name: still serving" [ "$(code "$srv/0/")" = 200 ]
    for i in $(seq 100); do
        [ "$(in_flight "$api")" = 0 ] && break
        sleep 0.1
    done
    fo_stop "$srv_pid"
    fo_stop "$api_pid"
}

for model in $MODELS; do
    case $model in
    prefork) size=(--workers 50) ;;
    threads) size=(--threads 20) ;;
    *) size=() ;;
    esac
    leave "$model" "$model" 3000 "${size[@]+"${size[@]}"}" || continue
    check "$model: the pages' calls reached the API (at most $DURING in flight at once)" [ "${DURING:-0}" -ge 15 ]
    check "$model: clients gone 1 s ago leave no call in flight (${AFTER:-?})" [ "${AFTER:-1}" = 0 ]
done

# The flag that keeps the old behaviour: the same run leaves the calls running (pages of /1500/,
# whose 3 s calls are still out 1.5 s after the start and over by 4 s).
leave uv uv-no-cancel 1500 --no-cancel || true
check "uv --no-cancel: the calls run on after their clients left (${AFTER:-?} in flight)" \
    [ "${AFTER:-0}" -ge 20 ]

# A failed call decides its page at once.
start api-ff "$BIN/fanout-api" --port 0
API=http://127.0.0.1:$PORT
for model in $MODELS; do
    start_model "ff-$model" "$model" --upstream "$API,http://127.0.0.1:1" || continue
    out=$(curl -s -m 10 -w '\n%{http_code} %{time_total}' "http://127.0.0.1:$PORT/2000/")
    read -r c s <<<"$(tail -1 <<<"$out")"
    check "$model: a refused call answers 502 at once, not after the 4 s call ($c in ${s}s)" \
        awk -v c="$c" -v s="$s" 'BEGIN { exit !(c == 502 && s < 1.5) }'
    check "$model: the 502 names the failed call ($(head -1 <<<"$out"))" \
        grep -q "could not connect" <<<"$out"
    fo_stop "$PID"
done
sleep 0.5
check "no call left in flight at the API after the 502s ($(in_flight "$API"))" [ "$(in_flight "$API")" = 0 ]

robust_finish

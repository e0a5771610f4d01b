#!/usr/bin/env bash
# Slow clients ("slow loris"): clients that send their request one byte a second. Every model
# drops them after --header-timeout (2 s here) with a 408 and a close. In uv and threads they do
# not delay anybody else, even when there are more of them than threads; in prefork each one
# holds a worker, so as many slow clients as workers make everybody else wait until they are
# dropped (the lesson this suite teaches about prefork).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/robust_lib.sh"

REQ='GET /0/ HTTP/1.1\r\nHost: slow\r\nUser-Agent: one-byte-a-second\r\n\r\n'

# slow_clients N TAG PORT: starts N clients sending REQ one byte a second; their PIDs in SLOW.
slow_clients() {
    local i
    SLOW=()
    for i in $(seq "$1"); do
        printf '%b' "$REQ" | "$RC_BIN" "$3" --slow 1000 >"$WORK/slow.$2.$i" &
        SLOW+=($!)
    done
}

# check_dropped N TAG: waits for the N slow clients (SLOW); each ran (exit 0) and got a 408 (or
# a bare close) after the 2 s header timeout, long before its 60-byte request could have been sent.
check_dropped() {
    local i got
    wait_ok "${SLOW[@]}"
    check "$2 slow clients ran (exit 0: $OK of $1)" [ "$OK" -eq "$1" ]
    for i in $(seq "$1"); do
        got=$(sed -n 's/^#STATUS *//p; s/^#END \([a-z]*\) ms=\([0-9]*\).*/\1 \2/p' "$WORK/slow.$2.$i" | tr '\n' ' ')
        check "$2 slow client $i dropped after the header timeout ($got)" awk -v g="$got" \
            'BEGIN { n = split(g, a, " "); if (n == 2) { a[3] = a[2]; a[2] = a[1]; a[1] = 408 }
                     exit !(a[1] == 408 && a[2] == "eof" && a[3] >= 1500 && a[3] < 10000) }'
    done
}

# timed URL: "CODE SECONDS" of one GET.
timed() {
    curl -s -o /dev/null -m 20 -w '%{http_code} %{time_total}' "$1"
}

# check_served WHAT URL MIN MAX: one GET of URL answers 200 in MIN s or more and under MAX s.
check_served() {
    local c s
    read -r c s <<<"$(timed "$2")"
    check "$1 ($c in ${s}s)" awk -v c="$c" -v s="$s" -v lo="$3" -v hi="$4" \
        'BEGIN { exit !(c == 200 && s >= lo && s < hi) }'
}

start api "$BIN/fanout-api" --port 0 --header-timeout 2000
API=http://127.0.0.1:$PORT

# The API's own server is the uv HTTP server: the same must hold for it.
API_PORT=$PORT
slow_clients 4 api "$API_PORT"
sleep 0.3
check_served "api: answers at once while 4 slow clients are connected" "$API/0/" 0 1.0
check_dropped 4 api

for model in $MODELS; do
    case $model in
    threads) args=(--threads 2) ;;   # fewer threads than slow clients
    prefork) args=(--workers 2) ;;
    *) args=() ;;
    esac
    start_model "srv-$model" "$model" ${args[@]+"${args[@]}"} --header-timeout 2000 --upstream "$API" || continue
    SRV=http://127.0.0.1:$PORT
    SPID=$PID
    if [ "$model" = prefork ]; then
        # One slow client, two workers: the other worker serves at once.
        slow_clients 1 prefork1 "$PORT"
        sleep 0.5
        check_served "prefork: 1 slow client, 2 workers: others served at once" "$SRV/50/" 0 1.5
        check_dropped 1 prefork1
        # Two slow clients hold both workers: the next client waits until one is dropped.
        slow_clients 2 prefork2 "$PORT"
        sleep 0.5
        check_served "prefork: 2 slow clients hold both workers: others wait for the header timeout" \
            "$SRV/50/" 1.0 10
        check_dropped 2 prefork2
    else
        # More slow clients than threads: nobody else notices them.
        slow_clients 4 "$model" "$PORT"
        sleep 0.5
        for i in 1 2 3; do
            check_served "$model: page $i served at once while 4 slow clients are connected" \
                "$SRV/50/" 0 1.0
        done
        check_dropped 4 "$model"
    fi
    # The header timeout is for receiving a request: a page that takes longer is not cut.
    read -r c s <<<"$(timed "$SRV/1200/")"
    check "$model: a 2.4 s page outlives the 2 s header timeout ($c in ${s}s)" [ "$c" = 200 ]
    check "$model: still serving" [ "$(code "$SRV/0/")" = 200 ]
    check "$model: still running" kill -0 "$SPID"
done

robust_finish

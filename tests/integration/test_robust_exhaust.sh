#!/usr/bin/env bash
# Resource exhaustion. Every binary works out the descriptors its configuration needs at start
# and refuses, with the numbers, when the limit is too low. A server limited to 64 descriptors
# (ulimit -n 64) caps its connections below that limit: sent 150 connections at once, it takes
# what fits and leaves the rest waiting in the backlog (none accepted and then failed), spends no
# CPU while full (no accept loop spinning on EMFILE), serves a page that arrives meanwhile once
# room is made, and stops within --shutdown-timeout when told to while full. Every model.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/robust_lib.sh"

HOLD=${EXHAUST_CONNECTIONS:-150}
HOLD_MS=3000

start api "$BIN/fanout-api" --port 0
API=http://127.0.0.1:$PORT

# under_limit N CMD...: runs CMD with the open-files limit (soft and hard) at N.
under_limit() {
    local n=$1
    shift
    bash -c 'ulimit -n "$0" && exec "$@"' "$n" "$@"
}

# --- Refusals at start, with the numbers ---------------------------------------------------
out=$(under_limit 64 "$BIN/fanout-server" --model threads --port 0 --upstream "$API" 2>&1)
rc=$?
check "threads: 100 threads under 64 descriptors exit 1 (exit $rc)" [ "$rc" -eq 1 ]
check "threads: ... saying what they need ($out)" \
    grep -q "threads --threads 100 needs 632 descriptors (532 fixed + 1 per connection x 100 connections), but the open-files limit is 64" <<<"$out"
out=$(under_limit 64 "$BIN/fanout-server" --model uv --port 0 --max-connections 100 \
    --upstream "$API" 2>&1)
rc=$?
check "uv: --max-connections 100 under 64 descriptors exits 1 (exit $rc)" [ "$rc" -eq 1 ]
check "uv: ... saying 4 per connection ($out)" grep -q "4 per connection x 100 connections" <<<"$out"
out=$(under_limit 64 "$BIN/fanout-api" --port 0 --max-connections 100 2>&1)
rc=$?
check "api: --max-connections 100 under 64 descriptors exits 1 (exit $rc)" [ "$rc" -eq 1 ]
check "api: ... saying why ($out)" grep -q "open-files limit is 64" <<<"$out"
out=$(under_limit 64 "$BIN/fanout-load" -q --users 100 --duration 1s "$API/0/" 2>&1)
rc=$?
check "load: 100 users under 64 descriptors exit 4 without a request (exit $rc)" [ "$rc" -eq 4 ]
check "load: ... saying why ($out)" grep -q "users 100 needs .* the open-files limit is 64" <<<"$out"
check "api: served nothing to the refused load generator" [ "$(stat_field "$API" served)" = 0 ]

# --- Full: the cap, no spin, a page meanwhile, a stop -------------------------------------
for model in $MODELS; do
    args=()
    [ "$model" = prefork ] && args=(--workers 2)
    # Few threads, so that their descriptors leave room for some connections.
    [ "$model" = threads ] && args=(--threads 4)
    start_model "$model" "$model" ${args[@]+"${args[@]}"} --upstream "$API" || continue
    kill "$PID"
    # A header timeout longer than the hold: a connection the server accepted stays open, so a
    # connection closed by the server could only be one it accepted and then shed.
    # Not through under_limit: a function started in the background runs in a subshell that
    # forks bash, so PID would be that subshell's and the server, never signalled, would outlive
    # the test (and the SIGTERM check below would watch the wrong process). exec keeps one PID.
    # shellcheck disable=SC2016 # bash -c's own $0 and $@
    start "$model-64" bash -c 'ulimit -n "$0" && exec "$@"' 64 "$BIN/fanout-server" --model "$model" --port 0 \
        ${args[@]+"${args[@]}"} --backlog 256 --header-timeout 20000 --shutdown-timeout 2000 \
        --upstream "$API"
    SPID=$PID
    SRV=http://127.0.0.1:$PORT
    echo "# $(head -1 "$WORK/$model-64.log")"
    check "$model: serves with 64 descriptors" [ "$(code "$SRV/0/")" = 200 ]
    "$RC_BIN" "$PORT" --hold "$HOLD" --hold-ms "$HOLD_MS" >"$WORK/hold.$model" &
    holder=$!
    sleep 0.5
    # A page asked for while the server is full waits for room instead of failing.
    curl -s -o /dev/null -m 15 -w '%{http_code}' "$SRV/0/" >"$WORK/meanwhile.$model" &
    pager=$!
    t0=$(fo_tree_cpu_s "$SPID")
    sleep 1
    t1=$(fo_tree_cpu_s "$SPID")
    used=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    check "$model: no spin while full ($used s of CPU in 1 s)" awk -v u="$used" 'BEGIN { exit !(u < 0.2) }'
    check "$model: still running with $HOLD connections offered" kill -0 "$SPID"
    wait "$holder"
    rc=$?
    check "$model: the client holding $HOLD connections ran (exit $rc)" [ "$rc" -eq 0 ]
    held=$(cat "$WORK/hold.$model")
    echo "# $model: $held"
    check "$model: none of the $HOLD connections was accepted and then dropped ($held)" \
        grep -q "^#HOLD connected=[0-9]* closed-by-server=0 pending=[0-9]*$" "$WORK/hold.$model"
    wait "$pager"
    rc=$?
    check "$model: the page asked for while full got an answer (curl exit $rc)" [ "$rc" -eq 0 ]
    check "$model: the page asked for while full was answered 200 once there was room" \
        [ "$(cat "$WORK/meanwhile.$model")" = 200 ]
    check "$model: serves normally once they are gone" [ "$(code "$SRV/0/")" = 200 ]

    # Full again, then SIGTERM: the process ends within --shutdown-timeout (2 s), and a bit.
    "$RC_BIN" "$PORT" --hold "$HOLD" --hold-ms 8000 >/dev/null &
    holder=$!
    sleep 1
    kill -TERM "$SPID"
    ended=no
    for _ in $(seq 40); do
        if ! kill -0 "$SPID" 2>/dev/null; then
            ended=yes
            break
        fi
        sleep 0.1
    done
    check "$model: SIGTERM while full ends the server within 4 s" [ "$ended" = yes ]
    wait "$holder"
    rc=$?
    check "$model: the client holding connections through the shutdown ran (exit $rc)" [ "$rc" -eq 0 ]
done

robust_finish

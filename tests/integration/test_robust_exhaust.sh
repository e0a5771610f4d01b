#!/usr/bin/env bash
# Resource exhaustion: a server limited to 64 descriptors (ulimit -n 64) is sent 150 connections
# at once and a small accept queue (--backlog 4) overflows. Every model keeps running, sheds what
# it cannot take, and serves normally once those connections are gone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/robust_lib.sh"

HOLD=${EXHAUST_CONNECTIONS:-150}

start api "$BIN/fanout-api" --port 0
API=http://127.0.0.1:$PORT

# served_again URL: true once a page is 200 again, trying for up to 10 s.
served_again() {
    local i
    for i in $(seq 20); do
        [ "$(code "$1")" = 200 ] && return 0
        sleep 0.5
    done
    return 1
}

for model in $MODELS; do
    args=()
    [ "$model" = prefork ] && args=(--workers 2)
    # A few threads, so that their upstream connections leave descriptors to shed.
    [ "$model" = threads ] && args=(--threads 8)
    # The limit is set in a shell that then becomes the server, so PID is the server's.
    start_model "$model" "$model" ${args[@]+"${args[@]}"} --backlog 4 --header-timeout 2000 --upstream "$API" \
        || continue
    kill "$PID"
    start "$model-64" bash -c 'ulimit -n 64 && exec "$0" "$@"' "$BIN/fanout-server" --model "$model" \
        --port 0 ${args[@]+"${args[@]}"} --backlog 4 --header-timeout 2000 --upstream "$API"
    SPID=$PID
    SRV=http://127.0.0.1:$PORT
    check "$model: serves with 64 descriptors" [ "$(code "$SRV/0/")" = 200 ]
    "$RC_BIN" "$PORT" --hold "$HOLD" --hold-ms 3000 >"$WORK/hold.$model" &
    holder=$!
    sleep 1.5
    during=$(code "$SRV/0/")
    check "$model: still running with $HOLD connections held (a page meanwhile: $during)" kill -0 "$SPID"
    wait "$holder"
    held=$(cat "$WORK/hold.$model")
    echo "# $model: $held"
    check "$model: the held connections were all accounted for ($held)" \
        grep -q "^#HOLD connected=[0-9]* closed-by-server=[0-9]* pending=[0-9]*$" "$WORK/hold.$model"
    if [ "$model" != prefork ]; then
        # Out of descriptors, the loop sheds connections it cannot take rather than leaving
        # them queued forever.
        check "$model: out of descriptors, some connections were shed ($held)" \
            bash -c "! grep -q 'closed-by-server=0 ' '$WORK/hold.$model'"
    fi
    check "$model: serves normally once they are gone" served_again "$SRV/0/"
    check "$model: still running" kill -0 "$SPID"
done

# The default pool of 100 threads needs more than 64 descriptors (each thread's libcurl handle
# keeps a socket pair): the server says so and exits, instead of aborting or starting unable to
# accept anything.
out=$(bash -c 'ulimit -n 64 && exec "$0" "$@"' "$BIN/fanout-server" --model threads --port 0 \
    --upstream "$API" 2>&1)
rc=$?
check "threads: 100 threads under 64 descriptors exit 1 (exit $rc)" [ "$rc" -eq 1 ]
check "threads: ... saying why" grep -q "open-files limit is 64" <<<"$out"

robust_finish

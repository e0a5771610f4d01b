#!/usr/bin/env bash
# fanout-server's concurrency models, one suite for all: the same answers from every model, the
# concurrency each one really reaches (measured by the country API's /stats), graceful shutdown
# without leftover processes, and a prefork worker that dies being replaced.
. "$(dirname "$0")/lib.sh"

start api "$BIN/fanout-api" --port 0
API=http://127.0.0.1:$PORT

# serve NAME MODEL-ARGS...: starts fanout-server in front of the API; sets SRV, SPORT and SPID.
serve() {
    local name=$1
    shift
    start "$name" "$BIN/fanout-server" "$@" --port 0 --upstream "$API"
    SRV=http://127.0.0.1:$PORT
    SPORT=$PORT
    SPID=$PID
}

# gone PID: true when no process PID exists (a zombie not reaped yet counts as existing).
gone() {
    ! ps -p "$1" >/dev/null 2>&1
}

# count_ok FILE: how many "CODE SECONDS" lines in FILE are 200.
count_ok() {
    grep -c '^200 ' "$1"
}

# batch N URL FILE: N requests at once; the wall time in ms goes to BATCH_MS.
batch() {
    local t0
    t0=$(now_ms)
    parallel_get "$1" "$2" >"$3"
    BATCH_MS=$(($(now_ms) - t0))
}

# --- The models, from the engine table -------------------------------------------------------
# Each model is run at sizes chosen by its --list-models line ("NAME SIZE_FLAG CAPS"): where the
# size caps concurrency, wide (100) and narrow (2); where it is processes, 2 of them as well.
list=$("$BIN/fanout-server" --list-models)
# shellcheck disable=SC2016 # the list is the inner shell's $0, expanded there
check "--list-models: one 'NAME workers|threads 0|1' line per model" \
    bash -c '[ -n "$0" ] && ! grep -Evq "^[a-z0-9_]+ (workers|threads) [01]\$" <<<"$0"' "$list"
NAMES=() SAME=() WIDE=() NARROW=() TERM=() PROCS=()
while read -r name flag caps; do
    NAMES+=("$name")
    SAME+=("$name")
    if [ "$caps" = 1 ]; then
        WIDE+=("$name --$flag 100")
        NARROW+=("$name --$flag 2")
        TERM+=("$name --$flag 12")
    else
        WIDE+=("$name")
        TERM+=("$name")
        [ "$flag" = workers ] && SAME+=("$name --workers 2") && TERM+=("$name --workers 2")
    fi
    [ "$flag" = workers ] && PROCS+=("$name --workers 2")
done <<<"$list"

# wait_workers PID SPEC: with --workers N in SPEC, waits until PID has its N children (false
# when it does not within 5 s); true at once without --workers.
wait_workers() {
    case $2 in
    *"--workers "*) wait_children "$1" "${2##* }" ;;
    esac
}

# --- The same answers from every model -------------------------------------------------------
help=$("$BIN/fanout-server" --help)
for m in "${NAMES[@]}"; do
    check "--help explains $m in one sentence" \
        grep -Eq "^  $m +[a-z].*\.\$" <<<"$help"
done
# shellcheck disable=SC2016 # bash -c's own $0
check "--help lists no unbuilt model" bash -c '! grep -q "not built" <<<"$0"' "$help"

for spec in "${SAME[@]}"; do
    # shellcheck disable=SC2086 # spec is a model and its flags, split on purpose
    serve "suite-${spec// /_}" --model $spec
    m=${spec%% *}
    check "[$spec] the banner names the model and its size" \
        grep -Eq "^fanout-server: model=$m (workers|threads)=[0-9]+ listening on " "$WORK/suite-${spec// /_}.log"
    out=$(curl -s -D "$WORK/headers" -w '\n%{http_code} %{time_total}' "$SRV/300/")
    read -r code secs <<<"$(tail -1 <<<"$out")"
    check "[$spec] /300/ is 200" [ "$code" = 200 ]
    check "[$spec] /300/ shows a country in an h1" grep -Eq '<h1>[^<]+</h1>' <<<"$out"
    check "[$spec] /300/ takes under the sequential 1050 ms (took $secs s)" \
        awk -v s="$secs" 'BEGIN { exit !(s >= 0.600 && s < 1.050) }'
    if [ "$m" = prefork ]; then
        check "[$spec] one request per connection: Connection: close" \
            grep -qi '^connection: close' "$WORK/headers"
    else
        # shellcheck disable=SC2016 # bash -c's own $0
        check "[$spec] keep-alive: no Connection: close" \
            bash -c '! grep -qi "^connection: close" "$0"' "$WORK/headers"
        check "[$spec] keep-alive: a second request reuses the connection" \
            [ "$(curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' "$SRV/0/" "$SRV/0/" | tr '\n' ' ')" = "1 0 " ]
    fi
    for bad in /-5/ /60001/; do
        check "[$spec] $bad is 400" [ "$(curl -s -o /dev/null -w '%{http_code}' "$SRV$bad")" = 400 ]
    done
    check "[$spec] /nope/x is 404" [ "$(curl -s -o /dev/null -w '%{http_code}' "$SRV/nope/x")" = 404 ]
    check "[$spec] POST is 405" [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$SRV/")" = 405 ]
    stop "$SPID"
    check "[$spec] SIGTERM when idle: exit 0 (got $RC)" [ "$RC" = 0 ]
done

# --- prefork's blocking connection handling (conn_block) ------------------------------------
serve conn --model prefork --workers 2 --header-timeout 300
exec 3<>"/dev/tcp/127.0.0.1/$SPORT"
printf 'GET /0/ HTTP/1.1\r\nHost: t\r\n' >&3
with_timeout 5 cat <&3 >"$WORK/slow"
exec 3<&-
check "prefork: a request not whole within --header-timeout is answered 408" \
    grep -q '^HTTP/1.1 408' "$WORK/slow"
exec 3<>"/dev/tcp/127.0.0.1/$SPORT"
printf 'GET /0/ HTTP/1.1\r\nHost: t\r\n\r\nGET /0/ HTTP/1.1\r\nHost: t\r\n\r\n' >&3
with_timeout 5 cat <&3 >"$WORK/pipe"
exec 3<&-
check "prefork: two pipelined requests get one answer, then the connection closes" \
    [ "$(grep -c '^HTTP/1.1 200' "$WORK/pipe")" = 1 ]
check "prefork: ... and that answer says Connection: close" grep -qi '^connection: close' "$WORK/pipe"
check "prefork: garbage is answered 400" \
    [ "$(printf 'NOT HTTP\r\n\r\n' | with_timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SPORT; cat >&3; cat <&3" | head -1 | cut -d' ' -f2)" = 400 ]
check "prefork: still serving after all that" \
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$SRV/0/")" = 200 ]
stop "$SPID"

# --- coro: the coroutines' stack size ---------------------------------------------------------
out=$("$BIN/fanout-server" --model coro --stack-size 4096 --port 0 2>&1)
rc=$?
check "coro: --stack-size 4096 is refused (exit $rc)" [ "$rc" = 2 ]
check "coro: ... saying what it takes" grep -q -- "--stack-size must be a whole number from 16384" <<<"$out"
serve stack --model coro --stack-size 32768
check "coro --stack-size 32768: 20 pages at once, all 200" \
    [ "$(parallel_get 20 "$SRV/30/" | grep -c '^200 ')" = 20 ]
stop "$SPID"
check "coro --stack-size 32768: stops with exit 0 (got $RC)" [ "$RC" = 0 ]

# --- threads: idle connections wait on the loop, not on a thread ----------------------------
serve idle --model threads --threads 2
for fd in 4 5 6 7; do eval "exec $fd<>/dev/tcp/127.0.0.1/$SPORT"; done
secs=$(curl -s -o /dev/null -w '%{time_total}' "$SRV/300/")
check "threads --threads 2: 4 silent connections hold no thread (a page took $secs s)" \
    awk -v s="$secs" 'BEGIN { exit !(s >= 0.600 && s < 1.050) }'
for fd in 4 5 6 7; do eval "exec $fd<&-"; done
stop "$SPID"

# --- Concurrency, measured at the API -------------------------------------------------------
# 100 pages at once, each 3 calls: a model that really serves 100 requests at once keeps about
# 300 calls in flight at the API. At /1000/ the shortest call lasts 500 ms, so 100 workers on a
# busy CI machine have time to all start theirs before the first ones end. The 300 calls are
# 300 connections to the API at once: where the system caps listen backlogs below that (macOS:
# kern.ipc.somaxconn, 128), fewer pages go at once (42 there), so that no connection is dropped
# and retried a second later.
PAGES=$(burst 100 3)
# batch_at_api SPEC N MS NAME: serves SPEC (its workers up), sends N pages of /MS/ at once, checks
# every one is 200, and sets peak to the API's peak of calls in flight meanwhile.
batch_at_api() {
    local spec=$1 n=$2 ms=$3 name=$4
    # shellcheck disable=SC2086 # spec is a model and its flags, split on purpose
    serve "$name-${spec// /_}" --model $spec
    check "[$spec] its workers are up" wait_workers "$SPID" "$spec"
    curl -s "$API/stats/reset" >/dev/null
    batch "$n" "$SRV/$ms/" "$WORK/$name"
    peak=$(stat_field "$API" peak_in_flight)
    echo "     $spec: $n pages at /$ms/ in $BATCH_MS ms, API peak in flight $peak"
    check "[$spec] $n concurrent pages all 200" [ "$(count_ok "$WORK/$name")" = "$n" ]
}

for spec in "${WIDE[@]}"; do
    batch_at_api "$spec" "$PAGES" 1000 wide
    check "[$spec] API peak in flight about $((3 * PAGES)) (>= $((27 * PAGES / 10)); got $peak)" \
        awk -v p="$peak" -v n="$PAGES" 'BEGIN { exit !(p >= 2.7 * n && p <= 3 * n) }'
    stop "$SPID"
    check "[$spec] stops with exit 0 (got $RC)" [ "$RC" = 0 ]
done

# 2 at once: never more than 6 calls in flight, and every one of the 100 users is served (in
# arrival order, so nobody starves).
for spec in "${NARROW[@]}"; do
    batch_at_api "$spec" 100 30 narrow
    check "[$spec] API peak in flight never above 6 (got $peak)" [ "$peak" -le 6 ]
    check "[$spec] the 3 calls of a page still overlap (peak $peak >= 3)" [ "$peak" -ge 3 ]
    stop "$SPID"
    check "[$spec] stops with exit 0 (got $RC)" [ "$RC" = 0 ]
done

# --- Graceful shutdown ----------------------------------------------------------------------
# 10 pages at /1000/ (2 s each); SIGTERM 300 ms in. Every page completes, the server exits 0,
# and none of its processes is left.
for spec in "${TERM[@]}"; do
    # shellcheck disable=SC2086
    serve "term-${spec// /_}" --model $spec
    check "[$spec] its workers are up" wait_workers "$SPID" "$spec"
    parallel_get 10 "$SRV/1000/" >"$WORK/term" &
    client=$!
    sleep 0.3
    kids=$(children "$SPID")
    stop "$SPID"
    wait "$client"
    crc=$?
    check "[$spec] SIGTERM with 10 pages in flight: exit 0 (got $RC)" [ "$RC" = 0 ]
    check "[$spec] ... and the client's transfers all ended well (curl exit $crc)" [ "$crc" = 0 ]
    check "[$spec] ... and all 10 pages answered 200" [ "$(count_ok "$WORK/term")" = 10 ]
    left=0
    for k in $kids; do gone "$k" || left=$((left + 1)); done
    check "[$spec] ... and none of its $(($(wc -w <<<"$kids"))) child processes is left ($left left)" \
        [ "$left" = 0 ]
done

# --- A dead worker is replaced --------------------------------------------------------------
for spec in "${PROCS[@]}"; do
    n=${spec##* }
    # shellcheck disable=SC2086
    serve "kill-${spec// /_}" --model $spec
    check "[$spec] its $n workers are up" wait_children "$SPID" "$n"
    victim=$(children "$SPID" | head -1)
    kill -9 "$victim"
    replaced=no
    for _ in $(seq 60); do
        if ! children "$SPID" | grep -qx "$victim" && [ "$(children "$SPID" | wc -l)" -eq "$n" ]; then
            replaced=yes
            break
        fi
        sleep 0.05
    done
    check "[$spec] a worker killed with SIGKILL is replaced ($n workers again)" [ "$replaced" = yes ]
    check "[$spec] ... and the death is logged" \
        grep -q "worker $victim died (signal 9); starting a new one" "$WORK/kill-${spec// /_}.log"
    parallel_get 6 "$SRV/0/" >"$WORK/after"
    check "[$spec] ... and the server keeps answering" [ "$(count_ok "$WORK/after")" = 6 ]
    kids=$(children "$SPID")
    stop "$SPID"
    check "[$spec] stops with exit 0 (got $RC)" [ "$RC" = 0 ]
    left=0
    for k in $kids; do gone "$k" || left=$((left + 1)); done
    check "[$spec] no child process left" [ "$left" = 0 ]
done

finish

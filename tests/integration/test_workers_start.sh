#!/usr/bin/env bash
# A multi-process server answers only at its full size: its workers wait until the parent has
# forked them all (the supervisor's gate), so the first page a client gets comes from a server
# whose N workers all run. Forking thousands takes seconds; a server that answered as soon as
# its first worker ran was measured by the benchmarks, which wait for one answer before they
# start the load, at a fraction of its size (prefork at 3,000 workers: half not yet forked).
# Also: a worker that dies is replaced, and its replacement serves at once (the gate is open).
. "$(dirname "$0")/lib.sh"

N=${FANOUT_TEST_WORKERS:-300}
start api "$BIN/fanout-api" --port 0
API=http://127.0.0.1:$PORT

start prefork "$BIN/fanout-server" --model prefork --workers "$N" --port 0 --upstream "$API"
parent=$PID
srv=http://127.0.0.1:$PORT
# The first answer, asked for as soon as the port is known (the log's first line).
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 "$srv/0/")
forked=$(children "$parent" | wc -l)
check "prefork --workers $N: the first page (status $code) came when all $N workers were forked ($forked)" \
    all [ "$code" = 200 ] -- [ "$forked" -eq "$N" ]

stop "$parent"
check "the server stops cleanly (exit $RC)" [ "$RC" = 0 ]

# A replacement finds the gate open and serves: with 2 workers, one killed and replaced, two
# /300/ pages at once both take one page's time (600 ms), not one after the other (1,200).
start prefork2 "$BIN/fanout-server" --model prefork --workers 2 --port 0 --upstream "$API"
parent=$PID
srv=http://127.0.0.1:$PORT
check "prefork --workers 2 answers" [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$srv/0/")" = 200 ]
victim=$(children "$parent" | head -1)
kill -9 "$victim"
deadline=$(($(now_ms) + 10000))
while [ "$(now_ms)" -lt "$deadline" ]; do
    [ "$(children "$parent" | grep -vcx "$victim")" -eq 2 ] && break
    sleep 0.1
done
check "a killed worker is replaced" [ "$(children "$parent" | grep -vcx "$victim")" -eq 2 ]
t0=$(now_ms)
parallel_get 2 "$srv/300/" >"$WORK/pages"
took=$(($(now_ms) - t0))
check "... and the replacement serves beside the other: two /300/ pages at once in $took ms (one after the other: 1,200)" \
    all [ "$(grep -c '^200 ' "$WORK/pages")" = 2 ] -- [ "$took" -lt 1150 ]
stop "$parent"
finish

#!/usr/bin/env bash
# The multi-process programs' workers do not outlive their parent. When the parent of
# fanout-server (prefork, uv --workers N) or of fanout-api --workers N is killed outright with
# SIGKILL, it cannot stop its workers; each worker sees the parent's end of a pipe close and
# stops by itself, finishing the requests it has in flight first. This is the path macOS uses
# (it has no PR_SET_PDEATHSIG), and Linux runs it too.
. "$(dirname "$0")/lib.sh"

start api "$BIN/fanout-api" --port 0
API=http://127.0.0.1:$PORT

for spec in "prefork --workers 3" "uv --workers 2" "api --workers 2"; do
    n=${spec##* }
    name="orphan-${spec// /_}"
    if [ "${spec%% *}" = api ]; then
        start "$name" "$BIN/fanout-api" --port 0 --workers "$n"
    else
        # shellcheck disable=SC2086 # spec is a model and its flags, split on purpose
        # A long header timeout: a worker that only stopped at it would fail the 10 s below.
        start "$name" "$BIN/fanout-server" --model $spec --port 0 --upstream "$API" \
            --header-timeout 600000
    fi
    parent=$PID
    srv=http://127.0.0.1:$PORT
    check "[$spec] $n workers started" wait_children "$parent" "$n"
    kids=$(children "$parent")
    # The workers are ended by the test's cleanup too, should they outlive this test.
    for k in $kids; do PIDS+=("$k"); done
    if [ "${spec%% *}" = prefork ] && [ -r "/proc/$parent/status" ]; then
        # Linux: a prefork worker watches the lifeline in its own waits; no second task.
        tasks=$(for k in $kids; do awk '/^Threads:/ { print $2 }' "/proc/$k/status"; done | sort -u | paste -sd, -)
        check "[$spec] each worker is one task (Threads: $tasks)" [ "$tasks" = 1 ]
    fi
    # A client that connects and says nothing: a prefork worker waits for its request.
    [ "${spec%% *}" = api ] || exec 3<>"/dev/tcp/127.0.0.1/$PORT"
    # Two requests of 500 ms or more in flight when the parent dies.
    parallel_get 2 "$srv/500/" >"$WORK/$name.pages" &
    client=$!
    sleep 0.3
    kill -9 "$parent"
    left=$n
    # Ten seconds of wall time, however slowly the checks run on a busy machine.
    deadline=$(($(now_ms) + 10000))
    while [ "$(now_ms)" -lt "$deadline" ]; do
        left=0
        for k in $kids; do exited "$k" || left=$((left + 1)); done
        [ "$left" = 0 ] && break
        sleep 0.1
    done
    check "[$spec] parent killed with SIGKILL: all $n workers exit within 10 s ($left left)" \
        [ "$left" = 0 ]
    exec 3>&-
    wait "$client"
    crc=$?
    check "[$spec] ... after finishing the 2 requests they were serving (curl exit $crc)" \
        all [ "$crc" = 0 ] -- [ "$(grep -c '^200 ' "$WORK/$name.pages")" = 2 ]
    check "[$spec] ... and nothing accepts on the port any more" \
        [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$srv/0/")" = 000 ]
done

finish

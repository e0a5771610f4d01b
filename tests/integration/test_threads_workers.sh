#!/usr/bin/env bash
# threads --workers N: N processes of --threads M threads each on one listening socket, like
# uWSGI's --processes/--threads and gunicorn's gthread -w/--threads. The parent only supervises:
# it has N children, each serves pages on its own, together they serve N x M pages at once in
# about one floor, and SIGTERM stops them all.
. "$(dirname "$0")/lib.sh"

start api "$BIN/fanout-api" --port 0
API=http://127.0.0.1:$PORT

start tw "$BIN/fanout-server" --model threads --workers 2 --threads 3 --port 0 --upstream "$API"
parent=$PID
SRV=http://127.0.0.1:$PORT
check "the banner names both sizes" grep -q "model=threads threads=3 workers=2 listening" "$WORK/tw.log"
check "the parent has 2 children" wait_children "$parent" 2
kids=$(children "$parent")
for k in $kids; do PIDS+=("$k"); done

# Each child serves pages by itself: with the other one stopped (SIGSTOP), it alone accepts.
for k in $kids; do
    others=$(echo "$kids" | grep -vx "$k")
    # shellcheck disable=SC2086 # one PID a word
    kill -STOP $others
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$SRV/0/")
    # shellcheck disable=SC2086
    kill -CONT $others
    check "child $k serves a page while the other is stopped ($code)" [ "$code" = 200 ]
done

# 6 pages at once (ms 300: a floor of 600 ms): two processes of 3 threads serve them together,
# in about one floor; one process of 3, or a process that took 4 of them, needs two.
t0=$(now_ms)
parallel_get 6 "$SRV/300/" >"$WORK/six.txt"
ms=$(($(now_ms) - t0))
slowest=$(awk '{ if ($2 > m) m = $2 } END { printf "%d", m * 1000 }' "$WORK/six.txt")
check "6 pages at once: all 200" [ "$(grep -c '^200 ' "$WORK/six.txt")" = 6 ]
check "... the slowest in about one floor: $slowest ms (< 1100; two floors are 1200)" \
    [ "$slowest" -lt 1100 ]
echo "      the 6 took $ms ms in all"

# Linux: each child runs its 3 pool threads, its loop's thread and the lifeline's watcher.
if [ -r "/proc/$parent/status" ]; then
    for k in $kids; do
        n=$(awk '/^Threads:/ { print $2 }' "/proc/$k/status")
        check "child $k runs 5 threads (3 + loop + lifeline): $n" [ "$n" = 5 ]
    done
fi

stop "$parent"
check "SIGTERM: the parent exits 0 ($RC)" [ "$RC" = 0 ]
left=0
for k in $kids; do exited "$k" || left=$((left + 1)); done
check "... and no child is left ($left)" [ "$left" = 0 ]
check "... and nothing accepts on the port any more" \
    [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$SRV/0/")" = 000 ]
check "no sanitizer report" no_sanitizer_report

finish

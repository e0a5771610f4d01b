#!/usr/bin/env bash
# fanout-switch --tasks: a hop round a ring of processes and of threads is timed, every task of
# the ring ends with it (also when it is killed outright), and a ring the system cannot give is
# refused with a reason rather than run short.
. "$(dirname "$0")/lib.sh"

out=$WORK/ring.out
"$BIN/fanout-switch" --rounds 1000 --tasks 20 --hops 2017 >"$out" 2>"$WORK/ring.err"
rc=$?
cat "$out"
hop() { sed -n "s/.*a hop round a ring of 20 $1[a-z ]*: \([0-9.]*\) us (2020 hops).*/\1/p" "$out"; }
procs=$(hop processes)
threads=$(hop threads)
check "a ring of 20 processes and one of 20 threads are timed (exit $rc; $procs and $threads us a hop)" \
    all [ "$rc" = 0 ] -- awk -v p="${procs:-0}" -v t="${threads:-0}" 'BEGIN { exit !(p > 0 && t > 0) }'
check "no member of either ring is left" [ -z "$(pgrep -f "fanout-switch --rounds 1000 --tasks 20 --hops 2017")" ]

# Killed outright while its process ring runs, its members end with it (Linux: at once; other
# systems only by their watchdog, so there the test ends them itself).
"$BIN/fanout-switch" --rounds 1 --tasks 10 --hops 1000000000 >/dev/null 2>&1 &
parent=$!
PIDS+=("$parent")
wait_children "$parent" 9
members=$(children "$parent")
check "the ring's 9 other members run ($(echo "$members" | wc -l | tr -d ' '))" [ "$(echo "$members" | grep -c .)" -eq 9 ]
kill -9 "$parent"
wait "$parent" 2>/dev/null
if [ "$(uname -s)" = Linux ]; then
    left=9
    for _ in $(seq 100); do
        left=0
        for m in $members; do exited "$m" || left=$((left + 1)); done
        [ "$left" -eq 0 ] && break
        sleep 0.05
    done
    check "killed outright, its members end with it ($left left)" [ "$left" -eq 0 ]
else
    for m in $members; do kill -9 "$m" 2>/dev/null; done
fi

"$BIN/fanout-switch" --tasks 1 >"$WORK/one.out" 2>&1
rc=$?
check "--tasks 1 is refused (exit $rc: $(cat "$WORK/one.out"))" \
    all [ "$rc" = 2 ] -- grep -q "at least 2 tasks" "$WORK/one.out"

(ulimit -n 40 && exec "$BIN/fanout-switch" --rounds 1 --tasks 100) >"$WORK/fds.out" 2>&1
rc=$?
check "a ring past the open-files limit is refused with the count (exit $rc: $(tail -1 "$WORK/fds.out"))" \
    all [ "$rc" = 1 ] -- grep -q "needs 216 descriptors; the open-files limit is 40" "$WORK/fds.out"
check "no sanitizer report in any run's output" no_sanitizer_report
finish

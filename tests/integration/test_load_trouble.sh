#!/usr/bin/env bash
# fanout-load under trouble: a server that cuts responses short, one that never answers, one
# that sends garbage, one that answers 500, and one that dies mid-run. Each yields failures of
# the right kind, never a success from half a response, and a run that ends on time with exit 1.
source "$(dirname "$0")/lib.sh"
LOAD=$BIN/fanout-load

# run_against NAME MODE [server args...]: starts load_server in MODE, runs 4 users for 2 s with
# a 500 ms timeout, and leaves the JSON in $WORK/NAME.json, the exit code in RC and the wall
# time in seconds in WALL.
run_against() {
    local name=$1 mode=$2
    shift 2
    start "$name" "$TESTBIN/load_server" --mode "$mode" --delay 10 --lifetime 60 "$@"
    local t0
    t0=$(now_ms)
    "$LOAD" -q -u 4 -d 2s --timeout 500ms --json "$WORK/$name.json" "http://127.0.0.1:$PORT/" \
        >"$WORK/$name.out" 2>"$WORK/$name.err"
    RC=$?
    WALL=$((($(now_ms) - t0) / 1000))
    kill "$PID" 2>/dev/null
}

run_against cut cut
check "cut: exit 1 (every request failed)" [ "$RC" -eq 1 ]
check "cut: ends on time" [ "$WALL" -lt 8 ]
check "cut: no half response counted as a success" js cut 'd.requests == 0 and d.min_ms == 0'
check "cut: failures are 'closed'" js cut 'd.failures.closed > 0 and d.failures.total == d.failures.closed'
check "cut: the summary still ends with the blog's row" grep -q '^| Min(ms) |' <(tail -2 "$WORK/cut.out")

run_against never never
check "never: exit 1" [ "$RC" -eq 1 ]
check "never: ends on time" [ "$WALL" -lt 8 ]
check "never: every user timed out at least once (4 users, 500 ms, 2 s)" \
    js never 'd.requests == 0 and d.failures.timeout >= 4 and d.failures.total == d.failures.timeout'

run_against garbage garbage
check "garbage: exit 1" [ "$RC" -eq 1 ]
check "garbage: failures are 'malformed'" js garbage 'd.requests == 0 and d.failures.malformed > 0'

run_against s500 status500
check "500: exit 1" [ "$RC" -eq 1 ]
check "500: failures are 'http', and stay out of the latency figures" \
    js s500 'd.requests == 0 and d.failures.http > 0 and d.min_ms == 0 and d.reconnects == 0'

# A server that dies after 40 answers: the answers before count, then connect failures.
run_against dies ok --die-after 40
check "dies: exit 1 (most requests failed)" [ "$RC" -eq 1 ]
check "dies: ends on time" [ "$WALL" -lt 8 ]
# Some answers before the death are successes, never more than the 40 it sent. (Up to one per
# user may be lost to the reset when it exits, and a loaded machine may lose a few more.)
check "dies: the answers before its death are successes" js dies '1 <= d.requests <= 40' ||
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("  requests", d["requests"], "failures", d["failures"])' "$WORK/dies.json"
check "dies: then connect failures (or closed connections)" js dies 'd.failures.connect + d.failures.closed > 0'

# The open model against a server that dies: the arrivals after the death find their
# connections closed, and every connection the pool opens for them is refused. Each arrival
# fails once (a refused connect fails the arrival waiting for it), and the pool, which opens 16
# connections at a time, neither spins nor runs out of descriptors.
# Unsent arrivals are not zero by rule: an arrival is sent (here: failed) only when the
# generator's loop runs at its time, and the run's end is a timer that runs before anything
# else once the loop wakes. On a busy machine the loop's thread may not run for a few ms (or
# tens, under sanitizers) around the end: the arrivals due then were never sent, and "unsent"
# says so (seen: 1 to 11 of 800 beside a CPU hog, always the last ones: e.g. the last arrival,
# due 2.5 ms before the end, with no connect under way, when the loop woke 0.6 ms after it).
# So: every arrival counted once, sent or unsent, and the unsent only the last 0.2 s of them
# (80); a pool that stopped failing arrivals after the death would leave about 760.
start dies_open "$TESTBIN/load_server" --die-after 40 --lifetime 60
t0=$(now_ms)
"$LOAD" -q --rate 400 -d 2s --timeout 500ms --json "$WORK/dies_open.json" "http://127.0.0.1:$PORT/" \
    >"$WORK/dies_open.out" 2>"$WORK/dies_open.err"
RC=$?
WALL=$((($(now_ms) - t0) / 1000))
kill "$PID" 2>/dev/null
show dies_open '(d.arrivals, d.sent, d.unsent, d.requests, d.failures, d.in_flight_at_end, d.connections)'
check "open model, server dies: exit 1" [ "$RC" -eq 1 ]
check "open model, server dies: ends on time" [ "$WALL" -lt 8 ]
check "open model, server dies: every arrival sent once or unsent, and each sent one answered or failed" \
    js dies_open 'd.arrivals == d.sent + d.unsent == 800 and 1 <= d.requests <= 40 and d.requests + d.failures.total + d.in_flight_at_end == d.sent'
check "open model, server dies: unsent only at the end (at most the last 0.2 s of arrivals, 80)" \
    js dies_open 'd.unsent <= 80'
check "open model, server dies: the rest are refused connects (or connections closed by the death)" \
    js dies_open 'd.failures.connect >= 600 and d.failures.connect + d.failures.closed == d.failures.total'

# A tolerant limit turns the same failures into a passing run.
start lenient "$TESTBIN/load_server" --mode status500 --lifetime 60
"$LOAD" -q -u 2 -d 1s --max-failure-ratio 1 "http://127.0.0.1:$PORT/" >/dev/null 2>&1
check "--max-failure-ratio 1 accepts a run of failures" [ $? -eq 0 ]
check "no sanitizer report in any run" no_sanitizer_report
finish

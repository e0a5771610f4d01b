#!/usr/bin/env bash
# fanout-load's ramps and stages, over two event loops: the users per window follow the
# schedule, per-stage figures are reported, and two threads merge into one consistent result.
source "$(dirname "$0")/lib.sh"
LOAD=$BIN/fanout-load

start server "$TESTBIN/load_server" --delay 100 --lifetime 60
URL=http://127.0.0.1:$PORT/

# Locust's schedule: 4 users every second up to 12, over 2 threads.
"$LOAD" -q -u 12 -r 4 -d 4s -t 2 --json "$WORK/ramp.json" "$URL" >"$WORK/ramp.out" 2>&1
check "ramp: exit 0" [ $? -eq 0 ]
check "ramp: users per window are 4, 8, 12, 12" js ramp '[w.users for w in d.windows] == [4, 8, 12, 12]'
check "ramp: windows add up to the requests" js ramp 'sum(w.requests for w in d.windows) == d.requests'
check "ramp: the first second runs about 4 users' worth (up to 40 requests)" js ramp '20 <= d.windows[0].requests <= 40'
check "ramp: the last second about 12 users' worth" js ramp 'd.windows[3].requests >= 80'

# Stages: 2 users for 1 s, then 6 for 2 s, at once.
"$LOAD" --stages 2:1s,6:2s -t 2 --json "$WORK/st.json" "$URL" >"$WORK/st.out" 2>&1
check "stages: exit 0" [ $? -eq 0 ]
check "stages: two stages in the JSON with their users" js st '[s.users for s in d.stages] == [2, 6] and d.users == 6'
# The holds are planned to the nanosecond (start_s); how long the run took is measured, and a busy
# machine may stop it a few milliseconds either side of the plan.
check "stages: the holds start where planned (0 s and 1 s)" js st '[s.start_s for s in d.stages] == [0, 1]'
check "stages: the run lasts the sum of the holds (3 s, within 0.5 s)" \
    js st 'not d.interrupted and abs(d.duration_s - 3) < 0.5'
check "stages: the second stage serves about three times the first's rate" \
    js st 'd.stages[1].rps > 2 * d.stages[0].rps and d.stages[0].requests > 0'
check "stages: the summary shows a stage table" grep -q "stages (figures over each hold)" "$WORK/st.out"
check "no sanitizer report in any run" no_sanitizer_report
finish

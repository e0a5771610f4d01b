#!/usr/bin/env bash
# fanout-load --rate, the open model, against the fixed-delay test server: the offered rate is
# achieved whatever the server does; response time (from the intended arrival) equals service
# time (from the send) when nothing queues and grows as queueing theory says when the server is
# overloaded; and the coordinated-omission demonstration: a 1 s stall of the server shows in the
# open model's response-time p99, not in its service time nor in a closed-model run.
# The assertions check the physics with margins for a busy shared machine, not tight timings.
source "$(dirname "$0")/lib.sh"
LOAD=$BIN/fanout-load

# 1. 100 arrivals a second against 600 ms answers: 60 requests are in flight at any time, and
# the open model keeps sending on time, opening the connections it needs.
start slow "$TESTBIN/load_server" --delay 600 --lifetime 60
URL=http://127.0.0.1:$PORT/
"$LOAD" --rate 100 -d 3s --json "$WORK/slow.json" --csv "$WORK/slow" "$URL" >"$WORK/slow.out" 2>"$WORK/slow.err"
check "100/s at 600 ms: exit 0" [ $? -eq 0 ]
show slow '(d.offered_rps, d.achieved_rps, d.response.p95_ms, d.service.p95_ms, d.lateness.p99_ms, d.connections)'
check "100/s at 600 ms: achieved within 1% of offered" js slow 'd.model == "open" and abs(d.achieved_rps - 100) <= 1 and d.offered_rps == 100'
check "100/s at 600 ms: every arrival was sent, none unsent" js slow 'd.arrivals == d.sent == 300 and d.unsent == 0'
# The bound is 605 ms; on a busy machine the server's own 600 ms sleeps may overrun it (the
# service time shows that), and the generator must then add no more than 1 ms to it.
check "100/s at 600 ms: response-time p95 <= 605 ms (or the server's own p95 + 1 ms)" \
    js slow '600 <= d.response.p95_ms <= max(605, d.service.p95_ms + 1) and d.p95_ms == d.response.p95_ms'
check "100/s at 600 ms: completions reach 100/s once the first answers come (seconds 1, 2)" \
    js slow 'all(95 <= w.requests <= 105 for w in d.windows[1:3])'
check "100/s at 600 ms: about 60 connections at once (100/s x 0.6 s), reused" \
    js slow '55 <= d.connections <= 90 and d.reconnects == 0'
check "100/s at 600 ms: nothing silently dropped (answered + in flight at the end = sent)" \
    js slow 'd.requests + d.failures.total + d.in_flight_at_end == d.sent'
# The arrivals of the last 0.6 s are still being answered when the run ends: about 60, in
# neither count, and every output says how many.
check "100/s at 600 ms: about 60 in flight at the end, in the JSON" \
    js slow '50 <= d.in_flight_at_end <= 70'
check "... in the summary's requests line" \
    js slow "any(l.startswith('  requests ') and l.endswith('; in flight at the end %d (neither ok nor failed)' % d.in_flight_at_end) for l in open('$WORK/slow.out').read().splitlines())"
check "... and in the CSV's last column (\"In Flight At End\", both rows)" \
    js slow "[l.split(',')[22] for l in open('$WORK/slow_stats.csv').read().splitlines()] == ['\"In Flight At End\"', str(d.in_flight_at_end), str(d.in_flight_at_end)]"
check "100/s at 600 ms: windows add up" \
    js slow 'sum(w.sent for w in d.windows) == d.sent and sum(w.requests for w in d.windows) == d.requests and sum(w.offered for w in d.windows) == d.arrivals'
check "100/s at 600 ms: both histograms count every success" \
    js slow 'd.histogram.count == d.service_histogram.count == d.requests'
check "the live line shows offered and sent, one a second" [ "$(grep -c '^\[ *[0-9.]*/3s\] offered 100/s  sent 100/s' "$WORK/slow.err")" -eq 3 ]
check "the summary shows both latencies, and ends with the blog's two lines" \
    bash -c "grep -q '^  response .*intended arrival' '$WORK/slow.out' && grep -q '^  service ' '$WORK/slow.out' &&
             [ \"\$(tail -2 '$WORK/slow.out' | head -1)\" = '| Min(ms) | 95%-ile(ms) | Average(ms) | Max RPS |' ]"
check "the blog row uses response time" \
    js slow "'| %.2f | %.2f | %.2f |' % (d.response.min_ms, d.response.p95_ms, d.response.mean_ms) in open('$WORK/slow.out').read().splitlines()[-1]"
check "CSV: the open model's columns after Locust's" \
    bash -c "head -1 '$WORK/slow_stats.csv' | grep -q '\"Offered/s\",\"Achieved/s\",\"Late Starts\"' &&
             head -1 '$WORK/slow_stats_history.csv' | grep -q '\"Offered/s\",\"Sent/s\",\"Late Starts\",\"Service 50%\"'"
kill "$PID" 2>/dev/null

# 2. A server that works on one request at a time, 10 ms each. At 10/s it is idle nine tenths
# of the time: nothing queues, and response time is service time. (At 50/s, 20 ms apart, a busy
# machine's delays of a few ms made an answer late for the next arrival now and then, which then
# opened a second connection: the check of one connection failed 1 run in 3 under make test -j2.)
start serial "$TESTBIN/load_server" --serial --delay 10 --lifetime 60
URL=http://127.0.0.1:$PORT/
"$LOAD" -q --rate 10 -d 3s --json "$WORK/s10.json" "$URL" >"$WORK/s10.out" 2>&1
check "serial at 10/s: exit 0" [ $? -eq 0 ]
show s10 '(d.response.p50_ms, d.service.p50_ms, d.response.mean_ms, d.service.mean_ms, d.late_starts)'
check "serial at 10/s: service time is the server's 10 ms" js s10 '10 <= d.service.p50_ms <= 20'
check "serial at 10/s: response time = service time (p50 within 1 ms, mean within 3 ms)" \
    js s10 'abs(d.response.p50_ms - d.service.p50_ms) <= 1 and abs(d.response.mean_ms - d.service.mean_ms) <= 3'
check "serial at 10/s: one connection does it all (only the first arrival waits, for its connect)" \
    js s10 'd.connections == 1 and d.queued_starts == 1'

# 3. At 150/s the same server is overloaded: it completes mu = 1/S a second (S its service
# time, 10 ms: 100/s) while 150 arrive. With one connection the queue forms here, visibly:
# arrival t is answered at 150 t / mu = 1.5 t, so each second of arrivals adds 150 / mu - 1 =
# half a second of waiting, while service time stays S. Seen by completion time c, response
# time is c (1 - mu / 150): the windows' medians grow by 1 - mu / 150 = 1/3 s a second. The
# check uses the mu measured, since a busy machine stretches the server's 10 ms.
"$LOAD" -q --rate 150 -d 3s --max-connections 1 --json "$WORK/s150.json" "$URL" >"$WORK/s150.out" 2>&1
check "serial at 150/s: exit 0" [ $? -eq 0 ]
slope='(lambda ws: (sum((i - 1) * w.p50_ms for i, w in enumerate(ws)) / 2 / 1000))(d.windows[0:3])'
mu='(sum(w.requests for w in d.windows[0:3]) / 3)'
show s150 "(d.service.mean_ms, $mu, [round(w.p50_ms) for w in d.windows], $slope, 1 - $mu / 150, (lambda s: s / (1 - s))($slope), d.late_starts, d.queued_starts, d.unsent)"
check "serial at 150/s: service time stays the server's ~10 ms, flat while response time grows" \
    js s150 '10 <= d.service.p50_ms <= 20 and d.windows[2].service_p50_ms <= d.windows[0].service_p50_ms + 5 and d.windows[2].p50_ms >= d.windows[0].p50_ms + 400'
check "serial at 150/s: completions at about 1/S a second" js s150 "abs($mu - 1000 / d.service.mean_ms) <= 0.1 * $mu"
check "serial at 150/s: the response time grows as queueing theory says (1 - mu/150 s a second), within 10%" \
    js s150 "abs($slope - (1 - $mu / 150)) <= 0.1 * (1 - $mu / 150)"
check "serial at 150/s: the waiting arrivals are late and queued, and the rest unsent" \
    js s150 'd.late_starts >= 250 and d.queued_starts >= 250 and d.sent + d.unsent == d.arrivals == 450 and d.unsent >= 100'
check "serial at 150/s: lateness is the queueing (its p50 near the response time's)" \
    js s150 'abs(d.lateness.p50_ms - d.response.p50_ms) <= 30'
kill "$PID" 2>/dev/null

# 4. Coordinated omission. The server answers in 5 ms and stops dead for 1 s (SIGSTOP, SIGCONT)
# during each run. The open model at 100/s on two connections: the visitors who arrive during
# the stall wait for it, so response-time p99 shows it; service time, measured from the send,
# does not (two requests of 400 sat through it). A closed model of two users over the same stall
# sends nothing while it waits, so its p99 does not show it either, though its max does.
start stall "$TESTBIN/load_server" --delay 5 --lifetime 60
URL=http://127.0.0.1:$PORT/
stall_during() { # stall_during NAME ARGS...: runs fanout-load for 4 s, the server stopped at 1-2 s
    local name=$1
    shift
    "$LOAD" -q -d 4s --json "$WORK/$name.json" "$@" "$URL" >"$WORK/$name.out" 2>&1 &
    local load=$!
    PIDS+=("$load")
    sleep 1
    kill -STOP "$PID"
    sleep 1
    kill -CONT "$PID"
    wait "$load"
}
stall_during co_open --rate 100 --max-connections 2
check "stall, open model: exit 0" [ $? -eq 0 ]
stall_during co_closed --users 2
check "stall, closed model: exit 0" [ $? -eq 0 ]
show co_open '(d.response.p99_ms, d.service.p99_ms, d.service.max_ms, d.late_starts)'
show co_closed '(d.p99_ms, d.max_ms, d.requests)'
check "stall, open model: response-time p99 shows the stall (>= 500 ms)" js co_open 'd.response.p99_ms >= 500'
check "stall, open model: service-time p99 does not (< 100 ms), though its max does" \
    js co_open 'd.service.p99_ms < 100 and d.service.max_ms >= 800'
check "stall, open model: the arrivals during the stall were counted late" js co_open 'd.late_starts >= 50'
check "stall, closed model: p99 does not show it (< 100 ms), though its max does" \
    js co_closed 'd.p99_ms < 100 and d.max_ms >= 800'

# 5. The rest: threads, stages, timeouts, failures and errors behave as in the closed model.
"$LOAD" -q --rate 200 -t 2 -d 2s --json "$WORK/thr.json" "$URL" >/dev/null 2>&1
check "--threads 2: exit 0, the global schedule is sent in full" \
    js thr 'd.threads == 2 and d.arrivals == d.sent == 400 and abs(d.achieved_rps - 200) <= 2'
"$LOAD" -q --rate-stages 50:1s,150:1s --json "$WORK/rst.json" "$URL" >"$WORK/rst.out" 2>&1
show rst '([s.rate for s in d.stages], d.arrivals, d.duration_s, d.stages[0].requests, d.stages[1].requests)'
check "--rate-stages: exit 0, two stages with their rates and arrivals" \
    js rst '[s.rate for s in d.stages] == [50, 150] and d.arrivals == 200 and d.duration_s == 2'
check "--rate-stages: the second stage completes about three times the first's rate" \
    js rst 'd.stages[1].rps > 2 * d.stages[0].rps and d.stages[0].requests >= 40'
check "--rate-stages: the summary shows a stage table" grep -q "stages (figures over each stage" "$WORK/rst.out"
kill "$PID" 2>/dev/null

start never "$TESTBIN/load_server" --mode never --lifetime 60
"$LOAD" -q --rate 20 -d 2s --timeout 300ms --json "$WORK/never.json" "http://127.0.0.1:$PORT/" >/dev/null 2>&1
check "a server that never answers: exit 1 (failure ratio)" [ $? -eq 1 ]
check "... every arrival answered in time is a timeout (from its send), none a success" \
    js never 'd.requests == 0 and d.failures.timeout >= 30 and d.failures.total == d.failures.timeout'
"$LOAD" -q --rate 20 -d 1s --timeout 300ms --max-failure-ratio 1 "http://127.0.0.1:$PORT/" >/dev/null 2>&1
check "--max-failure-ratio 1 accepts it" [ $? -eq 0 ]
kill "$PID" 2>/dev/null

for args in "--rate 10 --users 5" "--rate 10 --spawn-rate 2" "--rate-stages 10:1s --stages 5:1s" \
    "--rate 0" "--rate 10 --rate-stages 10:1s" "--max-connections 5"; do
    # shellcheck disable=SC2086
    "$LOAD" $args "$URL" >/dev/null 2>"$WORK/bad.txt"
    rc=$?
    check "bad arguments '$args': exit 2 with one line" [ "$rc" -eq 2 -a "$(wc -l <"$WORK/bad.txt")" -eq 1 ]
done
start fd "$TESTBIN/load_server" --delay 5 --lifetime 60
URL=http://127.0.0.1:$PORT/
(ulimit -n 256 && "$LOAD" --rate 10 --max-connections 1000 "$URL" >/dev/null 2>"$WORK/fd.txt")
rc=$?
check "--max-connections beyond the open-files limit: exit 4" [ "$rc" -eq 4 ]
check "... saying so in one line" \
    bash -c "[ \$(wc -l <'$WORK/fd.txt') -eq 1 ] && grep -q 'max-connections 1000 needs .* open-files limit is 256' '$WORK/fd.txt'"
(ulimit -n 256 && "$LOAD" -q --rate 10 -d 1s --json "$WORK/fdfit.json" "$URL" >/dev/null 2>&1)
check "... while the default cap is lowered to fit it" js fdfit 'd.max_connections <= 256 - 32 and d.sent == 10'
# A connect that never finishes holds up no arrival a connection coming free can carry. The
# server answers in 70 ms on the first connections it accepts (the start-up probe's and two
# more) and then plugs its backlog, so every later connect hangs in SYN retries (Linux's backlog
# rules; elsewhere skipped). 40/s for a second needs a third connection now and then; the pool
# opens it, and the arrivals go out on the two that work as they come free. (Binding each
# arrival to a connect of its own, as the pool once did, left 13 of these 70 to time out.)
if [ "$(uname -s)" = Linux ]; then
    start plug "$TESTBIN/load_server" --accept-max 3 --delay 70 --lifetime 60
    "$LOAD" -q --rate-stages "40:1s,10:3s" --timeout 2s --json "$WORK/plug.json" \
        "http://127.0.0.1:$PORT/" >/dev/null 2>&1
    rc=$?
    kill "$PID" 2>/dev/null
    show plug '(d.arrivals, d.sent, d.requests, d.failures.total, d.unsent, d.connections, d.lateness.max_ms)'
    check "a connect that hangs: the run passes" [ "$rc" -eq 0 ]
    check "... every arrival sent and answered" \
        js plug 'd.arrivals == d.sent == d.requests == 70 and d.failures.total == 0 and d.unsent == 0'
    check "... with connects opened beyond the two that work, and no arrival waiting on them" \
        js plug 'd.connections > 3 and d.lateness.max_ms < 1500'
fi

# Ctrl-C ends a long open run early, and it still reports what it measured.
interrupt_after 1.5 "$LOAD" -q --rate 100 -t 2 -d 60s --json "$WORK/int.json" "$URL" >"$WORK/int.out" 2>&1
check "SIGINT: the open run ends with exit 0" [ "$RC" -eq 0 ]
check "SIGINT: interrupted, its arrivals offered and sent up to then, windows adding up" \
    js int 'd.interrupted and 1 < d.duration_s < 10 and d.arrivals >= 100 and d.sent + d.unsent == d.arrivals == sum(w.offered for w in d.windows) and sum(w.sent for w in d.windows) == d.sent'
free_port=$(fo_free_port)
"$LOAD" -q --rate 10 -d 30s "http://127.0.0.1:$free_port/" >/dev/null 2>&1
check "an unreachable target: exit 3" [ $? -eq 3 ]

# Under SANITIZE builds a report would go to stderr; exit codes alone could hide one (ASan's
# exit 1 is also the failure-ratio exit).
no_sanitizer_report() { ! cat "$WORK"/*.err "$WORK"/*.txt "$WORK"/*.out "$WORK"/*.log 2>/dev/null | grep -qE "Sanitizer|runtime error:"; }
check "no sanitizer report in any run" no_sanitizer_report
finish

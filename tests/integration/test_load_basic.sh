#!/usr/bin/env bash
# fanout-load against a tiny server that answers after a fixed 100 ms, keep-alive: the figures
# are right, the summary ends with the blog's two lines, JSON and CSV are written, and the exit
# codes say what happened (bad arguments, unreachable target).
source "$(dirname "$0")/lib.sh"
LOAD=$BIN/fanout-load

start server "$TESTBIN/load_server" --delay 100 --lifetime 60
URL=http://127.0.0.1:$PORT/

"$LOAD" --users 10 --duration 3s --json "$WORK/run.json" --csv "$WORK/run" "$URL" >"$WORK/out.txt" 2>"$WORK/err.txt"
rc=$?
check "a healthy run exits 0" [ "$rc" -eq 0 ]
check "the live line went to stderr, one plain line a second" [ "$(grep -c '^\[ *[0-9.]*/3s\] users 10' "$WORK/err.txt")" -eq 3 ]
check "the second-to-last line is the blog's header" \
    [ "$(tail -2 "$WORK/out.txt" | head -1)" = "| Min(ms) | 95%-ile(ms) | Average(ms) | Max RPS |" ]
check "the last line is a row of four numbers" \
    grep -Eq '^\| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$' <(tail -1 "$WORK/out.txt")
check "JSON: min is at least the server's delay" js run 'd.min_ms >= 100 and d.min_ms < 150'
check "JSON: p95 is near the delay" js run 'd.p95_ms >= 100 and d.p95_ms < 200'
check "JSON: min <= p50 <= p95 <= p99 <= max" \
    js run 'd.min_ms <= d.p50_ms <= d.p95_ms <= d.p99_ms <= d.max_ms'
check "JSON: 10 closed-loop users at 100 ms make 100 to 300 requests in 3 s" \
    js run '100 <= d.requests <= 300'
check "JSON: no failures, no reconnects on keep-alive" \
    js run 'd.failures.total == 0 and d.reconnects == 0'
check "JSON: three windows whose counts add up to the requests" \
    js run 'len(d.windows) == 3 and sum(w.requests for w in d.windows) == d.requests'
check "JSON: the histogram's buckets count every request" \
    js run 'sum(b[2] for b in d.histogram.buckets) == d.requests == d.histogram.count'
check "JSON: Locust's p95 is the exact one rounded to 10 ms" \
    js run 'abs(d.p95_locust_ms - d.p95_ms) <= 10'
check "CSV: Locust's stats header" grep -q '^"Type","Name","Request Count","Failure Count","Median Response Time"' "$WORK/run_stats.csv"
check "CSV: an Aggregated row" grep -q '^"","Aggregated",' "$WORK/run_stats.csv"
check "CSV: history has a header and one row a second" [ "$(wc -l <"$WORK/run_stats_history.csv")" -eq 4 ]
check "summary and JSON agree on the request count" \
    grep -q "requests *$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["requests"])' "$WORK/run.json") ok" "$WORK/out.txt"

# --quiet: nothing on stderr.
"$LOAD" -q -u 2 -d 1s "$URL" >/dev/null 2>"$WORK/quiet.txt"
check "--quiet prints nothing on stderr" [ ! -s "$WORK/quiet.txt" ]

# Bad arguments: exit 2 with one line.
for args in "--users 0 $URL" "--duration soon $URL" "--stages 10 $URL" "--bogus $URL" "" "https://x/"; do
    # shellcheck disable=SC2086
    "$LOAD" $args >/dev/null 2>"$WORK/bad.txt"
    rc=$?
    check "bad arguments '$args': exit 2 with one line" [ "$rc" -eq 2 -a "$(wc -l <"$WORK/bad.txt")" -eq 1 ]
done
"$LOAD" --help >"$WORK/help.txt"
check "--help exits 0 and documents the JSON" grep -q "max_rps_smoothed" "$WORK/help.txt"

# Nothing listens on a port we just freed: exit 3 at once, one line.
free_port=$(fo_free_port)
start_s=$(date +%s)
"$LOAD" -q -u 5 -d 30s "http://127.0.0.1:$free_port/" >/dev/null 2>"$WORK/unreach.txt"
rc=$?
check "an unreachable target exits 3" [ "$rc" -eq 3 ]
check "... with a one-line reason" grep -q "cannot connect" "$WORK/unreach.txt"
check "... without running the 30 s" [ $(($(date +%s) - start_s)) -lt 10 ]
# Ctrl-C ends a long run early, and it still reports what it measured.
interrupt_after 2.5 "$LOAD" -u 5 -d 60s --json "$WORK/int.json" "$URL" >"$WORK/int.out" 2>"$WORK/int.err"
check "SIGINT: the run ends with exit 0" [ "$RC" -eq 0 ]
check "SIGINT: the JSON says interrupted, after about 2.5 s" js int 'd.interrupted and 1.5 < d.duration_s < 10'
check "SIGINT: requests were counted" js int 'd.requests > 20 and sum(w.requests for w in d.windows) == d.requests'
check "SIGINT: the summary says so" grep -q "interrupted" "$WORK/int.out"

check "no sanitizer report in any run" no_sanitizer_report
finish

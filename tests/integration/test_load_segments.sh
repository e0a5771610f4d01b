#!/usr/bin/env bash
# Load from several processes: four fanout-load --segment processes started together with
# --start-at against a server of varied answer times, merged with fanout-report merge, agree
# with one process running the same options against the same kind of server, and the merged
# histogram is the segments' added: requests within 1%, min, p95 and average within 3%,
# Max RPS within 3%, and the merged windows' users follow the single ramp exactly. The merge
# refuses what it must, and fanout-report reads the merged file as one process's. Loopback only.
source "$(dirname "$0")/lib.sh"
LOAD=$BIN/fanout-load
REPORT=$BIN/fanout-report

# Answer times that differ, so that a wrong merge shows: the server answers each block of 10
# connections in 620, 860, 1150 or 1400 ms, in turn, in the order they send their first request
# (load_server --delays). 80 users make 80 connections, 10 of each time at 0 s and again at 1 s,
# in one process or spread over four, so the merged run and the single one see the same mix:
# 260 requests, p95 in the 1400 ms block (rank 247 of 221..260), average 906 ms. The four
# segments start 10 ms apart (--start-at), so their first 10 users connect one segment after
# the other and each segment meets mostly one answer time: their own p95s lie near 620, 860,
# 1150 and 1400 ms, and a merge that averaged them (~1000), dropped or doubled one, or added
# the wrong buckets misses the single run's p95 or average by 10% or more (a sanitizer build's
# slower client moves the two separate runs' times apart by about 1%, hence 3%). On a busy
# machine the segments' connections may interleave; the mix over all of them stays the same.
# Each time leaves every user the same whole number of requests in either setup, 200 ms or more
# before the end and 100 ms or more from a second's edge (6 and 4, 4 and 3, 3 and 2, 2 and 2
# from 0 s and 1 s): scheduling delays move no request across the end or a one-second window.
DELAYS=(--delays "620,860,1150,1400" --per-delay 10)
start server "$TESTBIN/load_server" "${DELAYS[@]}" --lifetime 120
server_pid=$PID
URL=http://127.0.0.1:$PORT/
OPTS=(-q -u 80 -r 40 -d 4s)

# run_segments N NAME ARGS...: N processes, segments 0/N .. N-1/N of fanout-load ARGS URL,
# segment i starting START_MS (default 1500) + i * STAGGER_MS (default 0) ms from now, writing
# $WORK/NAMEi.json; sets OK to how many exited 0 and START_AT to segment 0's start.
run_segments() {
    local n=$1 name=$2 i pids=() t0
    shift 2
    t0=$(($(now_ms) + ${START_MS:-1500}))
    START_AT=$(ms_to_unix "$t0")
    for i in $(seq 0 $((n - 1))); do
        "$LOAD" "$@" --segment "$i/$n" --start-at "$(ms_to_unix $((t0 + i * ${STAGGER_MS:-0})))" \
            --json "$WORK/$name$i.json" "$URL" >"$WORK/$name$i.out" 2>&1 &
        pids+=("$!")
        PIDS+=("$!")
    done
    wait_ok "${pids[@]}"
}

STAGGER_MS=10 run_segments 4 seg "${OPTS[@]}"
check "four segments: each exits 0" [ "$OK" -eq 4 ]
check "segments: each ran its share of the 80 users (20)" \
    python3 -c 'import json, sys
sys.exit(0 if all(json.load(open(f))["users"] == 20 for f in sys.argv[1:]) else 1)' "$WORK"/seg?.json
check "segments: each started when asked, 10 ms after the one before" \
    python3 -c 'import json, sys
s = [json.load(open(f))["start_unix"] for f in sys.argv[2:]]
sys.exit(0 if all(abs(x - float(sys.argv[1]) - 0.010 * i) < 0.005 for i, x in enumerate(s)) else 1)' \
    "$START_AT" "$WORK"/seg?.json
python3 -c 'import json, sys
print("      segments: p95 (ms) %s, average %s" % tuple([round(json.load(open(f))[k]) for f in sys.argv[1:]] for k in ("p95_ms", "mean_ms")))' \
    "$WORK"/seg?.json

"$REPORT" merge "$WORK/merged.json" "$WORK"/seg3.json "$WORK"/seg1.json "$WORK"/seg0.json "$WORK"/seg2.json \
    >"$WORK/merge.out" 2>&1
check "merge: exit 0, in any order of the inputs" [ $? -eq 0 ]
check "merge: prints the blog's row" grep -Eq '^\| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$' "$WORK/merge.out"

# The same options from one process, against a server of the same answer times (a new one: the
# pattern starts again with its first connection), afterwards.
check "the segments' server is still up" kill -0 "$server_pid" || cat "$WORK/server.log"
start server1 "$TESTBIN/load_server" "${DELAYS[@]}" --lifetime 120
"$LOAD" "${OPTS[@]}" --json "$WORK/single.json" "http://127.0.0.1:$PORT/" >"$WORK/single.out" 2>&1
check "single: exit 0" [ $? -eq 0 ] || cat "$WORK/single.out"
python3 -c 'import json, sys
s, m = (json.load(open(f)) for f in sys.argv[1:])
for k in ("requests", "min_ms", "p95_ms", "mean_ms", "max_rps_smoothed", "max_rps_raw"):
    print("%-17s single %10.3f  merged %10.3f" % (k, s[k], m[k]))
print("users/window      single %s  merged %s" % ([w["users"] for w in s["windows"]],
                                                   [w["users"] for w in m["windows"]]))' \
    "$WORK/single.json" "$WORK/merged.json" | tee "$WORK/compare.txt"

check "merged: users per window follow the single ramp exactly (40, 80, 80, 80)" \
    js merged '[w.users for w in d.windows] == [40, 80, 80, 80]'
check "single: the same ramp" js single '[w.users for w in d.windows] == [40, 80, 80, 80]'
near() { # near KEY TOLERANCE: merged and single agree on KEY within TOLERANCE (relative)
    python3 -c 'import json, sys
s, m = (json.load(open(f)) for f in sys.argv[1:3])
k, tol = sys.argv[3], float(sys.argv[4])
sys.exit(0 if s[k] > 0 and abs(m[k] - s[k]) <= tol * s[k] else 1)' "$WORK/single.json" "$WORK/merged.json" "$1" "$2"
}
check "merged vs single: requests within 1%" near requests 0.01
check "merged vs single: min within 3%" near min_ms 0.03
check "merged vs single: p95 within 3%" near p95_ms 0.03
check "merged vs single: average within 3%" near mean_ms 0.03
check "merged vs single: Max RPS (smoothed) within 3%" near max_rps_smoothed 0.03
check "merged: the histogram counts every request, the windows add up" \
    js merged 'd.histogram.count == d.requests == sum(w.requests for w in d.windows) == sum(b[2] for b in d.histogram.buckets)'
check "merged: its histogram is the segments' added bucket for bucket" \
    python3 -c 'import json, sys, collections
m = json.load(open(sys.argv[1])); c = collections.Counter()
for f in sys.argv[2:]:
    for lo, hi, n in json.load(open(f))["histogram"]["buckets"]: c[(lo, hi)] += n
sys.exit(0 if {(lo, hi): n for lo, hi, n in m["histogram"]["buckets"]} == dict(c) else 1)' \
    "$WORK/merged.json" "$WORK"/seg?.json
check "merged: requests are the segments' sum, min the segments' min" \
    python3 -c 'import json, sys
m = json.load(open(sys.argv[1])); s = [json.load(open(f)) for f in sys.argv[2:]]
sys.exit(0 if m["requests"] == sum(x["requests"] for x in s) and m["min_ms"] == min(x["min_ms"] for x in s) else 1)' \
    "$WORK/merged.json" "$WORK"/seg?.json
check "merged: one segment of one, 4 segments named" js merged 'd.segment.count == 1 and d.merged.segments == 4'

# The merged file is a fanout-load result: fanout-report reads it as one process's.
mkdir -p "$WORK/res"
cp "$WORK/merged.json" "$WORK/res/m.load.json"
echo m >"$WORK/res/configs.txt"
printf '{"config": "merged", "model": "threads", "size": 64, "size_caps": 1, "users": 80, "ms": 500, "peak_rss_kib": 1024, "cpu_s": 1, "upstream_peak_in_flight": 0}\n' \
    >"$WORK/res/m.server.json"
"$REPORT" --dir "$WORK/res" >"$WORK/report.out" 2>&1
check "fanout-report reads the merged file: exit 0" [ $? -eq 0 ]
check "... and charts it: one series line a second" [ "$(grep -vc '^#' "$WORK/res/m.series.dat")" -eq 4 ]

# Refusals, with the difference named.
"$REPORT" merge "$WORK/bad.json" "$WORK/seg0.json" "$WORK/seg0.json" "$WORK/seg2.json" "$WORK/seg3.json" 2>"$WORK/dup.txt"
check "merge: a segment given twice is refused (exit 2)" [ $? -eq 2 ]
check "... saying which" grep -q "both segment 0 of 4" "$WORK/dup.txt"
"$REPORT" merge "$WORK/bad.json" "$WORK/seg0.json" "$WORK/seg1.json" "$WORK/seg3.json" 2>"$WORK/miss.txt"
check "merge: a missing segment is refused (exit 2), named" \
    [ $? -eq 2 -a "$(grep -c 'segment 2 of 4 is missing' "$WORK/miss.txt")" -eq 1 ]
python3 -c 'import json, sys
d = json.load(open(sys.argv[1])); d["plan"]["spawn_rate"] = 5.0; json.dump(d, open(sys.argv[2], "w"))' \
    "$WORK/seg1.json" "$WORK/other.json"
"$REPORT" merge "$WORK/bad.json" "$WORK/seg0.json" "$WORK/other.json" "$WORK/seg2.json" "$WORK/seg3.json" 2>"$WORK/diff.txt"
check "merge: another spawn rate is refused (exit 2), named" [ $? -eq 2 -a "$(grep -c 'spawn_rate 40.0 vs 5.0' "$WORK/diff.txt")" -eq 1 ]
python3 -c 'import json, sys
d = json.load(open(sys.argv[1])); d["url"] = "http://127.0.0.1:1/"; json.dump(d, open(sys.argv[2], "w"))' \
    "$WORK/seg1.json" "$WORK/other.json"
"$REPORT" merge "$WORK/bad.json" "$WORK/seg0.json" "$WORK/other.json" "$WORK/seg2.json" "$WORK/seg3.json" 2>"$WORK/url.txt"
check "merge: another URL is refused (exit 2), named" [ $? -eq 2 -a "$(grep -c 'different URLs' "$WORK/url.txt")" -eq 1 ]
check "merge: nothing written when refused" [ ! -e "$WORK/bad.json" ]
# Starts: kept exact (the four above started 10 ms apart: 30 ms from the first to the last),
# and more than 50 ms apart refused unless allowed, naming the segments and the skew.
check "merged: the starts' spread is exact (30 ms) and each segment's start is kept" \
    js merged 'abs(d.merged.start_skew_ms - 30) < 5 and len(d.merged.starts_ms) == 4 and d.merged.starts_ms[0] == 0'
python3 -c 'import json, sys
d = json.load(open(sys.argv[1])); d["start_unix"] += 0.12; json.dump(d, open(sys.argv[2], "w"))' \
    "$WORK/seg2.json" "$WORK/late.json"
"$REPORT" merge "$WORK/bad.json" "$WORK/seg0.json" "$WORK/seg1.json" "$WORK/late.json" "$WORK/seg3.json" 2>"$WORK/skew.txt"
rc=$?
cat "$WORK/skew.txt"
check "merge: starts 140 ms apart are refused (exit 2, got $rc)" [ "$rc" -eq 2 ]
check "... naming the segments and their skew" \
    grep -Eq "starts differ by 1[34][0-9][.][0-9]+ ms, more than 50 ms: .*late.json \(segment 2 of 4\) started at .* and .*seg0.json \(segment 0 of 4\)" "$WORK/skew.txt"
"$REPORT" merge --max-skew-ms 200 "$WORK/skew.json" "$WORK/seg0.json" "$WORK/seg1.json" "$WORK/late.json" "$WORK/seg3.json" >/dev/null 2>&1
check "merge --max-skew-ms 200 accepts them" [ $? -eq 0 ]
"$REPORT" merge --max-skew-ms soon "$WORK/skew.json" "$WORK/seg0.json" 2>"$WORK/skewarg.txt"
check "merge --max-skew-ms soon: exit 2 with one line" [ $? -eq 2 -a "$(wc -l <"$WORK/skewarg.txt")" -eq 1 ]

# The open model: arrivals k mod 2, merged, are the single process's arrivals exactly.
START_MS=1000 run_segments 2 open -q --rate 40 -d 2s
check "open model, two segments: each exits 0" [ "$OK" -eq 2 ]
"$REPORT" merge "$WORK/openm.json" "$WORK/open0.json" "$WORK/open1.json" >"$WORK/openm.out" 2>&1
check "open model: merge exits 0" [ $? -eq 0 ]
"$LOAD" -q --rate 40 -d 2s --json "$WORK/open.json" "$URL" >"$WORK/open.out" 2>&1
check "open model: the single run exits 0" [ $? -eq 0 ]
check "open model: each segment offered half the arrivals (40 of 80)" js open0 'd.arrivals == 40 and d.sent == 40'
check "open model: merged arrivals and offered per window equal the single run's" \
    python3 -c 'import json, sys
s, m = (json.load(open(f)) for f in sys.argv[1:])
sys.exit(0 if s["arrivals"] == m["arrivals"] == 80 and [w["offered"] for w in s["windows"]] == [w["offered"] for w in m["windows"]] else 1)' \
    "$WORK/open.json" "$WORK/openm.json"
check "open model: merged service histogram counts every success" \
    js openm 'd.service_histogram.count == d.requests and d.response.p95_ms == d.p95_ms'

# Bad values: exit 2 with one line.
for args in "--segment 4/4" "--segment 1" "--segment -1/4" "--segment 0/0" "--segment 0/50 -u 40" \
    "--start-at 1000000000" "--start-at +soon" "--start-at 12:00"; do
    # shellcheck disable=SC2086
    "$LOAD" -q $args "$URL" >/dev/null 2>"$WORK/bad.txt"
    rc=$?
    check "bad value '$args': exit 2 with one line" [ "$rc" -eq 2 -a "$(wc -l <"$WORK/bad.txt")" -eq 1 ]
done
past=$(($(now_ms) / 1000 - 5))
"$LOAD" -q -u 1 -d 1s --start-at "$past" "$URL" >/dev/null 2>"$WORK/past.txt"
check "a start 5 s in the past: exit 2, saying so" [ $? -eq 2 -a "$(grep -c 'in the past' "$WORK/past.txt")" -eq 1 ]
t0=$(now_ms)
"$LOAD" -q -u 1 -d 500ms --start-at +1s --json "$WORK/later.json" "$URL" >/dev/null 2>&1
check "--start-at +1s: the run starts a second later" [ $(($(now_ms) - t0)) -ge 1400 ]
check "--start-at +1s: start_unix is a second after the command" js later "abs(d.start_unix - $t0 / 1000 - 1) < 0.3"

check "no sanitizer report in any run" no_sanitizer_report
finish

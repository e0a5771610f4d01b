#!/usr/bin/env bash
# make bench-scale's mechanics, in seconds: a two-step ladder for uv and threads under an
# open-files limit of 300, where threads at 60 users needs more (5 descriptors a thread) and
# must be refused at start with the cause named, while uv climbs. The report's files must be
# there and agree, and no process may be left behind. 200 pages a second (/50/ at 20 users, a
# 100 ms floor): at the default 1,667 the page was /6/, and on a busy machine a few ms of
# scheduling put uv's p95 above 1.5 x its 12 ms floor ("broke: queueing", 1 run in 3).
. "$(dirname "$0")/lib.sh"

SRC=${FANOUT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
OUT=$WORK/scale

bash -c 'ulimit -n 300 && exec "$@"' _ env FANOUT_BIN="$BIN" "$SRC/scripts/bench.sh" --scale \
    --models "uv threads" --ladder "20 60" --rate 200 --duration 3 --out "$OUT" >"$WORK/scale.log" 2>&1
rc=$?
sed 's/^/# /' "$WORK/scale.log" | head -40
check "bench.sh --scale exits 0 (exit $rc)" [ "$rc" -eq 0 ]
check "four steps, in ladder order per model" \
    [ "$(paste -sd' ' - <"$OUT/steps.txt")" = "uv-20 uv-60 threads-20 threads-60" ]
check "uv held at both steps" grep -q "^| uv | [0-9.]* · [0-9.]* | [0-9.]* · [0-9.]* | held at every step |$" "$OUT/scale.md"
check "threads at 60 users refused for descriptors" \
    grep -q "^| threads | [0-9.]* · [0-9.]* | refused | 60 users: refused (descriptors) |$" "$OUT/scale.md"
check "the refusal's own words are kept" grep -q "threads --threads 60 needs 392 descriptors" "$OUT/scale.md"
check "scale.json has the four steps" \
    [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["steps"]))' "$OUT/scale.json")" = 4 ]
check "uv's steps record the API's and the load's CPU" \
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["steps"][1]; sys.exit(not (s["status"]=="ran" and 0 <= s["api_busy"] < 1 and 0 <= s["load_busy"] < 1 and s["api_peak_in_flight"] > 0))' "$OUT/scale.json"
check "requests in flight at the end: a column of scale.md, and each step's in scale.json" \
    python3 -c 'import json, sys
out = sys.argv[1]
steps = [s for s in json.load(open(out + "/scale.json"))["steps"] if s["status"] == "ran"]
load = lambda s: json.load(open("%s/%s-%d.load.json" % (out, s["model"], s["users"])))
same = all(s["in_flight_at_end"] == load(s)["in_flight_at_end"] for s in steps)
column = "| failures | in flight at end |" in open(out + "/scale.md").read()
sys.exit(0 if steps and same and column else 1)' "$OUT"
check "index.html is written" grep -q "Models × users" "$OUT/index.html"
# Every server the run started named its API's URL on its command line: none may remain.
urls=$(sed -n '1s/.*listening on \([^ ]*\).*/\1/p' "$OUT"/*.api.log | paste -sd'|' -)
# shellcheck disable=SC2009 # pgrep -f cannot match the URLs in the whole command line as one pattern here
left=$(ps -A -o pid= -o args= | grep -E "fanout-(server|api|load)" | grep -E "$urls|$OUT" | grep -v grep || true)
check "no process left behind ($left)" [ -z "$left" ]
check "... and the check can see one (the API URLs were found: $urls)" [ -n "$urls" ]
finish

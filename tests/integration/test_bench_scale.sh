#!/usr/bin/env bash
# make bench-scale's mechanics, in seconds: a two-step ladder for uv and threads under an
# open-files limit of 300, where threads at 60 users needs more than one process holds (5
# descriptors a thread) and so runs in two, as uv does. The report's files must be there and
# agree, and no process may be left behind.
. "$(dirname "$0")/lib.sh"

SRC=${FANOUT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
OUT=$WORK/scale

bash -c 'ulimit -n 300 && exec "$@"' _ env FANOUT_BIN="$BIN" "$SRC/scripts/bench.sh" --scale \
    --models "uv threads" --ladder "20 60" --duration 3 --out "$OUT" >"$WORK/scale.log" 2>&1
rc=$?
sed 's/^/# /' "$WORK/scale.log" | head -40
check "bench.sh --scale exits 0 (exit $rc)" [ "$rc" -eq 0 ]
check "four steps, in ladder order per model" \
    [ "$(paste -sd' ' - <"$OUT/steps.txt")" = "uv-20 uv-60 threads-20 threads-60" ]
check "uv held at both steps" grep -q "^| uv | [0-9.]* · [0-9.]* | [0-9.]* · [0-9.]* | held at every step |$" "$OUT/scale.md"
check "threads held at both steps" grep -q "^| threads | [0-9.]* · [0-9.]* | [0-9.]* · [0-9.]* | held at every step |$" "$OUT/scale.md"
check "threads at 60 users ran as 2 processes of 30 threads, said so" \
    grep -q "^\[threads 60\] 2 processes of 30 threads$" "$WORK/scale.log"
check "... and the step counts 3 processes (the parent and 2 workers)" \
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["steps"][3]; sys.exit(not (s["status"]=="ran" and s["peak_procs"]==3))' "$OUT/scale.json"
check "scale.json has the four steps" \
    [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["steps"]))' "$OUT/scale.json")" = 4 ]
check "uv's steps record the API's and the load's CPU" \
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["steps"][1]; sys.exit(not (s["status"]=="ran" and 0 <= s["api_busy"] < 1 and 0 <= s["load_busy"] < 1 and s["api_peak_in_flight"] > 0))' "$OUT/scale.json"
check "index.html is written" grep -q "Models × users" "$OUT/index.html"
# Every server the run started named its API's URL on its command line: none may remain.
urls=$(sed -n '1s/.*listening on \([^ ]*\).*/\1/p' "$OUT"/*.api.log | paste -sd'|' -)
# shellcheck disable=SC2009 # pgrep -f cannot match the URLs in the whole command line as one pattern here
left=$(ps -A -o pid= -o args= | grep -E "fanout-(server|api|load)" | grep -E "$urls|$OUT" | grep -v grep || true)
check "no process left behind ($left)" [ -z "$left" ]
check "... and the check can see one (the API URLs were found: $urls)" [ -n "$urls" ]
finish

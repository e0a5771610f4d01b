#!/usr/bin/env bash
# make bench-scale's mechanics, in seconds: a two-step ladder for uv and threads under an
# open-files limit of 300, where threads at 60 users needs more (5 descriptors a thread) and
# must be refused at start with the cause named, while uv climbs. The report's files must be
# there and agree, and no process may be left behind.
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
check "threads at 60 users refused for descriptors" \
    grep -q "^| threads | [0-9.]* · [0-9.]* | refused | 60 users: refused (descriptors) |$" "$OUT/scale.md"
check "the refusal's own words are kept" grep -q "threads --threads 60 needs 392 descriptors" "$OUT/scale.md"
check "scale.json has the four steps" \
    [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["steps"]))' "$OUT/scale.json")" = 4 ]
check "uv's steps record the API's and the load's CPU" \
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["steps"][1]; sys.exit(not (s["status"]=="ran" and 0 <= s["api_busy"] < 1 and 0 <= s["load_busy"] < 1 and s["api_peak_in_flight"] > 0))' "$OUT/scale.json"
check "index.html is written" grep -q "Models × users" "$OUT/index.html"
# Memory is what the model costs (fanout-mem): PSS + the kernel's part, the RSS sum beside it.
if [ -r /proc/self/smaps_rollup ]; then
    check "threads at 20 users: PSS, the kernel's part, the RSS sum and the sockets in the step's JSON" \
        python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(not (s["pss_kib"] > 0 and s["kernel_kib"] > 0 and s["rss_sum_kib"] >= s["pss_kib"] and s["sockets_kib"] >= 0))' "$OUT/threads-20.step.json"
    check "... and scale.json's memory is PSS + kernel" \
        python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["steps"][2]; sys.exit(not (s["model"] == "threads" and s["memory_kib"] == s["pss_kib"] + s["kernel_kib"] and s["memory_per_user_kib"] == s["memory_kib"] / 20))' "$OUT/scale.json"
fi
# The memory guard before a step, from the step before: a step far past the RAM is skipped,
# saying why (exit 3); the next real step runs (exit 0).
# guard USERS: fanout-report's guard after threads at 20 users; sets RC, its words in guard.out.
guard() {
    "$BIN/fanout-report" --scale-guard "$OUT/threads-20" "$1" >"$WORK/guard.out"
    RC=$?
}
guard 10000000
check "the guard skips 10,000,000 users after threads at 20 (exit $RC): $(cat "$WORK/guard.out")" \
    grep -q "^memory: 10000000 users would take about .* GiB (PSS + kernel" "$WORK/guard.out"
check "... with exit 3" [ "$RC" -eq 3 ]
guard 60
check "... and lets 60 users run (exit $RC)" [ "$RC" -eq 0 ]
check "... saying nothing" [ ! -s "$WORK/guard.out" ]
# Every server the run started named its API's URL on its command line: none may remain.
urls=$(sed -n '1s/.*listening on \([^ ]*\).*/\1/p' "$OUT"/*.api.log | paste -sd'|' -)
# shellcheck disable=SC2009 # pgrep -f cannot match the URLs in the whole command line as one pattern here
left=$(ps -A -o pid= -o args= | grep -E "fanout-(server|api|load)" | grep -E "$urls|$OUT" | grep -v grep || true)
check "no process left behind ($left)" [ -z "$left" ]
check "... and the check can see one (the API URLs were found: $urls)" [ -n "$urls" ]
finish

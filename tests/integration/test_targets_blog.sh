#!/usr/bin/env bash
# Smoke test of the blog's six Django targets (bench/targets; the -reuse six are
# test_targets_blog_reuse.sh, which sources this with BLOG_SUFFIX=-reuse): each starts under its
# real stack against the real API, answers GET /300/ with the page (a country in its <h1>, its
# duration), its three calls overlapping (the best of three pages well under the 1,050 ms a
# sequential fan-out needs), a failing API call is a 502, and stopping it leaves nothing of its
# process group. Skipped when the stacks are not installed (scripts/install-deps.sh --targets),
# except in CI (CI=true, or FANOUT_TARGETS_REQUIRED=1 as .ci/run sets it after installing them),
# where a skip would hide that they were never tested.
. "$(dirname "$0")/lib.sh"
SRC=${FANOUT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../../scripts/targets.sh
. "$SRC/scripts/targets.sh"
SUFFIX=${BLOG_SUFFIX:-}
TARGETS="uwsgi-t2 uwsgi-t100 uwsgi-gevent gunicorn-t100 gunicorn-gevent uvicorn"
export FO_TARGETS_CACHE=$WORK/cache FO_TARGET_READY_S=60

for t in $TARGETS; do
    fo_target_installed "$t$SUFFIX" && continue
    if [ "${CI:-}" = true ] || [ "${FANOUT_TARGETS_REQUIRED:-}" = 1 ]; then
        echo "FAIL - target $t$SUFFIX is not installed, and CI requires it (.ci/run installs it first)"
        exit 1
    fi
    skip "target $t$SUFFIX is not installed (scripts/install-deps.sh --targets)"
done

# group_left PGID: processes of the group left, zombies aside.
group_left() {
    ps -A -o pgid= -o stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { n++ } END { print n + 0 }'
}

start api "$BIN/fanout-api" --port 0
API=http://127.0.0.1:$PORT
# An upstream that refuses: a port nothing listens on.
DEAD=http://127.0.0.1:$(fo_free_port)

for t in $TARGETS; do
    t=$t$SUFFIX
    fo_target_load "$t"
    if ! fo_target_start "$t" "$TARGET_SIZE" "$API" "$WORK/$t" 2>"$WORK/err"; then
        check "$t starts ($(head -3 "$WORK/err"))" false
        continue
    fi
    url=http://127.0.0.1:$TARGET_PORT/300/
    # The page's own duration of its fan-out: a sequential one is at least 300 + 600 + 150 ms
    # of the API's time, whatever the machine's load (the wall time of a page here is not: a
    # busy 2-core machine adds hundreds of ms to a Python page).
    best=999999 page=""
    for _ in 1 2 3; do
        page=$(curl -s --max-time 20 "$url")
        d=$(sed -n 's|.*<code>duration: \([0-9.]*\)</code>.*|\1|p' <<<"$page" | awk '{ printf "%d", $1 * 1000 }')
        [ -n "$d" ] && [ "$d" -lt "$best" ] && best=$d
    done
    check "$t ($TARGET_VERSION_STR): the page shows a country" grep -Eq '<h1>[^<]+</h1>' <<<"$page"
    check "$t: the three calls overlap: its fan-out took ${best} ms (best of 3), from the 600 ms floor to 950, where a sequential one takes 1,050" \
        test "$best" -ge 600 -a "$best" -lt 950
    pgid=$TARGET_PID
    fo_target_stop
    check "$t: stopped, nothing of its group left" [ "$(group_left "$pgid")" -eq 0 ]
done

# A failed call: the first stack against an upstream that refuses (once, in this test only).
[ -z "$SUFFIX" ] || finish
# Its ready path calls the API too, so it never becomes ready: the harness says so, with the 502.
t=${TARGETS%% *}$SUFFIX
FO_TARGET_READY_S=20
if fo_target_start "$t" 2 "$DEAD" "$WORK/dead" 2>"$WORK/err"; then
    check "a target whose API is down never counts as ready" false
else
    check "$t against an API that refuses never becomes ready, and says so: $(head -1 "$WORK/err")" \
        grep -q "did not answer 200 on /0/.*last: 502" "$WORK/err"
fi
finish

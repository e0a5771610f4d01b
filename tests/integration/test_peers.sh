#!/usr/bin/env bash
# The peers of bench/targets/ (TARGET_KIND=peer: Node.js, Go, nginx with Lua), each started and
# stopped through scripts/targets.sh as bench/peers.sh does them: the page renders (a country in
# its <h1>, the duration), its three calls overlap (/300/ under the 1,050 ms that calls one after
# another take, and the API saw the three at once), a failed call answers 502, and stopping
# leaves none of its processes. A peer that is not installed is skipped, saying so
# (scripts/install-deps.sh --peers or --targets installs them, and .ci/run does); in CI (CI=true,
# or FANOUT_TARGETS_REQUIRED=1 as .ci/run sets it after installing them) it fails.
. "$(dirname "$0")/lib.sh"

SRC=${FANOUT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
[ -f "$SRC/scripts/targets.sh" ] || skip "scripts/targets.sh is absent"
# shellcheck source=../../scripts/targets.sh
. "$SRC/scripts/targets.sh"

# group_gone PGID: no process of the group is left (but zombies not reaped yet).
group_gone() { ! fo_target_group_alive "$1"; }

peers=""
for n in $(fo_target_list); do
    fo_target_load "$n" && [ "$TARGET_KIND" = peer ] && peers="$peers $n"
done
check "bench/targets/ has peers:$peers" [ -n "$peers" ]

absent=""
for p in $peers; do
    if ! fo_target_installed "$p"; then
        absent="$absent $p"
        continue
    fi
    start "api-$p" "$BIN/fanout-api" --port 0
    api_pid=$PID
    api=http://127.0.0.1:$PORT
    check "$p starts against the API" fo_target_start "$p" 1 "$api" "$WORK/$p" || continue
    url=http://127.0.0.1:$TARGET_PORT
    code=$(curl -s -o "$WORK/$p.page" -w '%{http_code}' --max-time 10 "$url/0/")
    check "$p: /0/ answers 200 ($code)" [ "$code" = 200 ]
    check "$p: the page shows a country in its <h1> and the duration" \
        grep -Eq '<h1>[^<]+</h1>' "$WORK/$p.page"
    check "... and the fan-out's duration in seconds" grep -Eq 'duration: [0-9]+[.][0-9]{3}' "$WORK/$p.page"

    curl -s "$api/stats/reset" >/dev/null
    t0=$(now_ms)
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url/300/")
    took=$(($(now_ms) - t0))
    peak=$(stat_field "$api" peak_in_flight)
    check "$p: /300/ answers 200 in $took ms: at least the 600 ms floor, under 1,000 (one call after another: 1,050)" \
        all [ "$code" = 200 ] -- [ "$took" -ge 595 ] -- [ "$took" -lt 1000 ]
    check "$p: the API had the page's three calls at once (peak in flight ${peak:-none})" [ "${peak:-0}" -ge 3 ]

    # A failed call: the API is gone, so the calls cannot connect.
    stop "$api_pid"
    code=$(curl -s -o "$WORK/$p.fail" -w '%{http_code}' --max-time 20 "$url/0/")
    check "$p: with the API gone, /0/ answers 502 ($code: $(head -c 100 "$WORK/$p.fail"))" [ "$code" = 502 ]
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 "$url/0/")
    check "$p: ... and keeps serving (502 again: $code)" [ "$code" = 502 ]

    group=$TARGET_PID
    fo_target_stop
    check "$p: stopped, none of its processes is left" group_gone "$group"
done

if [ -n "$absent" ]; then
    if [ "${CI:-}" = true ] || [ "${FANOUT_TARGETS_REQUIRED:-}" = 1 ]; then
        check "every peer is installed (CI: scripts/install-deps.sh --peers); absent:$absent" false
    elif [ "$PASSES" -le 1 ]; then
        finish || exit 1
        skip "not installed:$absent (scripts/install-deps.sh --peers installs them)"
    else
        echo "# not installed, not tested:$absent (scripts/install-deps.sh --peers installs them)"
    fi
fi
finish

#!/usr/bin/env bash
# The target mechanism (scripts/targets.sh) with the standard-library target (bench/targets/pystd):
# it is listed, starts on a free port against the real API, serves the page with its three calls
# overlapping, its size caps the pages served at once, and stopping it leaves nothing of its
# process group. Targets that fail give an error naming them and leave nothing running: a command
# that exits, one that never answers, one whose child ignores the stop signal, a file without a
# command, and a name with no file.
. "$(dirname "$0")/lib.sh"
SRC=${FANOUT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../../scripts/targets.sh
. "$SRC/scripts/targets.sh"
[ -x "$(fo_target_python)" ] || skip "no python3 for the standard-library target"
export FO_TARGETS_CACHE=$WORK/cache

# group_left PGID: how many processes of the group are left, zombies aside.
group_left() {
    ps -A -o pgid= -o stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { n++ } END { print n + 0 }'
}

start api "$BIN/fanout-api" --port 0
API=http://127.0.0.1:$PORT

check "pystd is listed" bash -c "$(declare -f fo_target_list); FO_TARGETS_DIR='$FO_TARGETS_DIR' fo_target_list | grep -qx pystd"
fo_target_start pystd 2 "$API" "$WORK/pystd" 2>"$WORK/start.err"
check "pystd:2 starts (exit $?: $(cat "$WORK/start.err"))" [ -n "$TARGET_PID" ]
check "its version string ($TARGET_VERSION_STR)" bash -c "[[ '$TARGET_VERSION_STR' == Python\ 3.* ]]"
url=http://127.0.0.1:$TARGET_PORT
page=$(curl -s --max-time 10 "$url/300/")
# The page's own duration of its fan-out: a sequential one takes at least 300 + 600 + 150 ms of
# the API's time however busy the machine is; the wall time of a Python page here is not that.
d=$(sed -n 's|.*<code>duration: \([0-9.]*\)</code>.*|\1|p' <<<"$page" | awk '{ printf "%d", $1 * 1000 }')
check "the page shows a country" grep -Eq '<h1>[^<]+</h1>' <<<"$page"
check "the three calls overlap: its fan-out took ${d:-?} ms, at least the 600 ms floor, under the 1,050 of a sequential one" \
    test "${d:-0}" -ge 600 -a "${d:-0}" -lt 950
check "a page out of range is a 404" [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/99999/")" = 404 ]

# Size 2 caps the pages at once: 4 pages of /200/ (floor 400 ms) at once take two rounds.
t0=$(now_ms)
cpids=()
for _ in 1 2 3 4; do curl -s -o /dev/null --max-time 10 "$url/200/" & cpids+=($!); done
wait_ok "${cpids[@]}"
t1=$(now_ms)
check "size 2 serves 4 pages of a 400 ms floor in two rounds ($((t1 - t0)) ms: 800 or more, 400 uncapped)" \
    test "$OK" -eq 4 -a $((t1 - t0)) -ge 800 -a $((t1 - t0)) -lt 3000
pgid=$TARGET_PID
fo_target_stop
check "stopped: nothing of its group is left" [ "$(group_left "$pgid")" -eq 0 ]
check "... and it is no longer in PIDS" bash -c "[[ ' ${PIDS[*]:-} ' != *' $pgid '* ]]"

# Targets that fail, from a folder of their own.
FO_TARGETS_DIR=$WORK/targets
mkdir -p "$FO_TARGETS_DIR"
bad() { # bad NAME CMD [STOP]: a target file whose command is CMD
    printf 'TARGET_KIND=target\nTARGET_ROW=%q\nTARGET_DESC=%q\nTARGET_CMD=%q\nTARGET_VERSION="echo 1"\nTARGET_STOP=%s\n' \
        "$1" "$1" "$2" "${3:-TERM}" >"$FO_TARGETS_DIR/$1.target"
}
bad exits "echo the config is wrong >&2; exit 3"
bad silent "sleep 60"
# A parent that answers, with a child that ignores the stop signal and outlives it.
bad stubborn "{python} -c 'import os, signal, subprocess, sys; subprocess.Popen([\"bash\", \"-c\", \"trap \\\"\\\" TERM; sleep 60\"]); os.execv(sys.executable, [sys.executable, \"$SRC/bench/targets/pystd/server.py\"] + sys.argv[1:])' --port {port} --upstream {upstream}"
printf 'TARGET_KIND=target\nTARGET_ROW=x\nTARGET_DESC=x\nTARGET_VERSION=true\n' >"$FO_TARGETS_DIR/nocmd.target"
printf 'TARGET_KIND=other\nTARGET_ROW=x\nTARGET_DESC=x\nTARGET_CMD=true\nTARGET_VERSION=true\n' >"$FO_TARGETS_DIR/kind.target"

fo_target_start exits 1 "$API" "$WORK/exits" 2>"$WORK/err"
rc=$?
check "a command that exits: exit 1 ($rc), naming it: $(head -1 "$WORK/err")" test $rc -eq 1 -a -n "$(grep -l 'exits exited before it answered' "$WORK/err")"
check "... with its own words" grep -q 'the config is wrong' "$WORK/err"

FO_TARGET_READY_S=2
t0=$(now_ms)
fo_target_start silent 1 "$API" "$WORK/silent" 2>"$WORK/err"
rc=$?
t1=$(now_ms)
check "a command that never answers: exit 1 ($rc) after the ready timeout ($((t1 - t0)) ms): $(head -1 "$WORK/err")" \
    test $rc -eq 1 -a $((t1 - t0)) -ge 2000 -a -n "$(grep -l 'silent did not answer 200' "$WORK/err")"
check "... and its sleep is gone" bash -c "! ps -A -o args= | grep -q '^sleep 60\$'"

export FO_TARGET_READY_S=30 FO_TARGET_STOP_S=1
fo_target_start stubborn 1 "$API" "$WORK/stubborn" 2>"$WORK/err"
check "a target whose child ignores SIGTERM starts ($(head -1 "$WORK/err"))" [ -n "$TARGET_PID" ]
pgid=$TARGET_PID
check "... with 2 processes in its group" [ "$(group_left "$pgid")" -eq 2 ]
fo_target_stop
check "... and stopping it leaves none ($(group_left "$pgid") left)" [ "$(group_left "$pgid")" -eq 0 ]

fo_target_start nocmd 1 "$API" "$WORK/nocmd" 2>"$WORK/err"
check "a file without TARGET_CMD: exit 1, saying so ($(cat "$WORK/err"))" grep -q 'nocmd.target sets no TARGET_CMD' "$WORK/err"
fo_target_start kind 1 "$API" "$WORK/kind" 2>"$WORK/err"
check "a TARGET_KIND out of its set: said ($(cat "$WORK/err"))" grep -q "TARGET_KIND is target or peer, not 'other'" "$WORK/err"
fo_target_start nosuch 1 "$API" "$WORK/nosuch" 2>"$WORK/err"
check "a name with no file: said ($(cat "$WORK/err"))" grep -q "no target 'nosuch'" "$WORK/err"
check "the failed starts left no target PID" [ -z "$TARGET_PID" ]
finish

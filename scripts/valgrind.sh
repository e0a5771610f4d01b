#!/usr/bin/env bash
# Runs fanout-api and fanout-server (--model uv by default) under valgrind with a short load,
# stops them with SIGTERM, and fails on any memory error or any definitely or indirectly lost
# block. ("Still reachable" memory at exit, e.g. libcurl's and OpenSSL's globals, is fine.)
#
#   scripts/valgrind.sh                 MODELS="uv threads" scripts/valgrind.sh
#
# The load: pages (many at once), pages whose upstream is down (502), and malformed and
# cut-short requests. Everything is bounded; a run takes about a minute.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BIN=${FANOUT_BIN:-build/bin}
TESTBIN=${FANOUT_TESTBIN:-$(dirname "$BIN")/tests}
MODELS=${MODELS:-uv}
PAGES=${VALGRIND_PAGES:-200}

if ! command -v valgrind >/dev/null; then
    echo "valgrind: not installed (Debian/Ubuntu: apt-get install valgrind; macOS: not supported)" >&2
    exit 1
fi
for b in "$BIN/fanout-api" "$BIN/fanout-server" "$TESTBIN/robust_client"; do
    [ -x "$b" ] || { echo "valgrind: $b not built: run make" >&2; exit 1; }
done
if grep -qa '__asan_init' "$BIN/fanout-server"; then
    echo "valgrind: $BIN is a sanitizer build; valgrind needs a plain one (make, not SANITIZE=...)" >&2
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fanout-valgrind.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
FAILED=0

# shellcheck disable=SC2054 # the commas are inside valgrind's option values
VG=(valgrind --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
    --error-exitcode=99 --track-fds=no --num-callers=30)

. "$(dirname "$0")/proc.sh"

# under NAME CMD...: starts CMD under valgrind; sets PORT and PID (valgrind's PID is the program's).
under() {
    local name=$1
    shift
    fo_start "$WORK/$name.out" 300 "${VG[@]}" --log-file="$WORK/$name.vg" "$@" && return 0
    echo "valgrind: $name did not start: $(cat "$WORK/$name.out")" >&2
    exit 1
}

# stop_and_judge NAME PID: SIGTERM, wait (up to 60 s), then read valgrind's verdict.
stop_and_judge() {
    local name=$1 pid=$2 rc
    kill -TERM "$pid"
    for _ in $(seq 600); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    local errors definite indirect
    errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$WORK/$name.vg" | tail -1)
    definite=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$WORK/$name.vg" | tail -1)
    indirect=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$WORK/$name.vg" | tail -1)
    printf 'valgrind: %-14s exit %s, errors %s, definitely lost %s bytes, indirectly lost %s bytes\n' \
        "$name" "$rc" "${errors:-?}" "${definite:-0}" "${indirect:-0}"
    if [ "$rc" -ne 0 ] || [ "${errors:-1}" != 0 ]; then
        FAILED=1
        echo "---- $name: valgrind's report ($WORK/$name.vg) ----"
        grep -v '^==[0-9]*== *$' "$WORK/$name.vg" | grep -E -A 25 'ERROR SUMMARY|Invalid|uninitialised|lost in loss record' | head -120
        cp "$WORK/$name.vg" "${TMPDIR:-/tmp}/fanout-valgrind-$name.log" &&
            echo "(full report kept in ${TMPDIR:-/tmp}/fanout-valgrind-$name.log)"
    fi
}

# pages N URL: N GETs, 20 at a time; prints the count of each status.
pages() {
    local n=$1 url=$2 cfg=$WORK/pages.cfg
    for _ in $(seq "$n"); do printf 'url = %s\noutput = /dev/null\n' "$url"; done >"$cfg"
    curl -s --parallel --parallel-max 20 -m 60 -K "$cfg" -w '%{http_code}\n' 2>/dev/null |
        sort | uniq -c | awk '{ printf "%s%s x%s", sep, $2, $1; sep = ", " }'
}

# bad_requests PORT: malformed, cut-short and reset requests.
bad_requests() {
    local p=$1 rc=$TESTBIN/robust_client
    printf '\x00garbage\r\n\r\n' | "$rc" "$p" >/dev/null
    printf 'GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello' | "$rc" "$p" >/dev/null
    printf 'GET /%09000d HTTP/1.1\r\n\r\n' 0 | "$rc" "$p" >/dev/null
    printf 'GET /0/ HTTP/1.1\r\n\r\nGET /1/ HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\nConnection: close\r\n\r\n' |
        "$rc" "$p" >/dev/null
    printf 'GET /0/ HTTP/1.1\r\n\r\n' | "$rc" "$p" --shut >/dev/null
    printf 'GET /0/ HTTP/1.1\r\n\r\n' | "$rc" "$p" --reset-after 8 >/dev/null
    printf 'GET /100/ HTTP/1.1\r\n\r\n' | "$rc" "$p" --reset-after 100 >/dev/null
    printf 'GET /0/ HTTP/1.1\r\nHost: x\r\n' | "$rc" "$p" --timeout 500 >/dev/null
}

under api "$BIN/fanout-api" --port 0
API_PID=$PID
API=http://127.0.0.1:$PORT
echo "valgrind: fanout-api: $PAGES calls: $(pages "$PAGES" "$API/20/")"
bad_requests "${API##*:}"

for model in $MODELS; do
    under "server-$model" "$BIN/fanout-server" --model "$model" --port 0 --upstream "$API" \
        --upstream-timeout 2000 --keepalive-timeout 1000
    spid=$PID
    echo "valgrind: $model: $PAGES pages: $(pages "$PAGES" "http://127.0.0.1:$PORT/10/")"
    bad_requests "$PORT"
    under "server-$model-down" "$BIN/fanout-server" --model "$model" --port 0 \
        --upstream http://127.0.0.1:1
    dpid=$PID
    echo "valgrind: $model, upstream down: $((PAGES / 2)) pages: $(pages $((PAGES / 2)) "http://127.0.0.1:$PORT/10/")"
    # A request still in flight at SIGTERM must be finished and freed too.
    curl -s -o /dev/null "http://127.0.0.1:${PORT}/10/" &
    stop_and_judge "server-$model-down" "$dpid"
    curl -s -o /dev/null -m 10 "http://127.0.0.1:$(sed -n '1s/.*listening on [^ ]*:\([0-9]*\).*/\1/p' "$WORK/server-$model.out")/500/" &
    sleep 0.3
    stop_and_judge "server-$model" "$spid"
done
stop_and_judge api "$API_PID"
wait

if [ "$FAILED" -ne 0 ]; then
    echo "valgrind: FAILED"
    exit 1
fi
echo "valgrind: no memory errors, nothing definitely or indirectly lost"

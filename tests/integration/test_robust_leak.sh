#!/usr/bin/env bash
# Upstream faults leak nothing: after many failed pages (API down -> 502, API answering 500 or
# invalid JSON -> 502, API stalling -> 504) every model's open-descriptor count and resident
# memory are back near where they were after a warm-up. FAULT_PAGES sets how many pages with
# the API down (default 1000, 500 for prefork, to stay quick under ctest; `make soak` runs
# 10,000); the other faults get a fifth, a tenth and a twentieth of that, but never fewer than
# LEAK_PAGES: enough that a leak of 4 KiB a page grows resident memory by twice the slack.
# The slack, 512 KiB, is about five times the growth seen with no leak (up to ~100 KiB after
# the warm-up, every model and fault). Linux only: it reads /proc. Under AddressSanitizer the
# memory check is skipped (its quarantine keeps freed memory) and LeakSanitizer's report at
# exit is checked instead.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/robust_lib.sh"

FULL=${FAULT_PAGES:-}
RSS_SLACK_KB=${RSS_SLACK_KB:-512}
# The smallest leak this test must catch, and so the fewest pages a fault gets.
LEAK_KB_PER_PAGE=4
LEAK_PAGES=$((2 * RSS_SLACK_KB / LEAK_KB_PER_PAGE))
FD_SLACK=${FD_SLACK:-3}
PARALLEL=8

have_proc || skip "no /proc here: descriptor and memory counts need Linux"

# pages N URL: N GETs, PARALLEL at a time; prints how many answers had each status ("502 1000").
pages() {
    local n=$1 url=$2 cfg=$WORK/pages.cfg
    for _ in $(seq "$n"); do printf 'url = %s\noutput = /dev/null\n' "$url"; done >"$cfg"
    curl -s --parallel --parallel-max "$PARALLEL" -m 30 -K "$cfg" -w '%{http_code}\n' 2>/dev/null |
        sort | uniq -c | awk '{ printf "%s%s %s", sep, $2, $1; sep = ", " }'
}

# at_least N: N pages, or LEAK_PAGES if that is more.
at_least() {
    if [ "$1" -gt "$LEAK_PAGES" ]; then echo "$1"; else echo "$LEAK_PAGES"; fi
}

# settle PID: waits until the descriptor count stops changing (connections closing), up to 3 s.
settle() {
    local last=-1 now
    for _ in $(seq 15); do
        now=$(fds_of "$1")
        [ "$now" = "$last" ] && return 0
        last=$now
        sleep 0.2
    done
}

# leak_run MODEL FAULT UPSTREAM WANT [ARGS...]: one server in front of a failing upstream.
leak_run() {
    local model=$1 fault=$2 upstream=$3 want=$4 args=()
    shift 4
    [ "$model" = prefork ] && args=(--workers 2)
    [ "$model" = threads ] && args=(--threads 8)
    start_model "$model-$fault" "$model" ${args[@]+"${args[@]}"} --upstream "$upstream" "$@" || return 1
    local pid=$PID url=http://127.0.0.1:$PORT/0/
    local warm
    warm=$(pages $((PAGES / 10 > 50 ? PAGES / 10 : 50)) "$url")
    settle "$pid"
    local fd0 rss0 fd1 rss1 got
    fd0=$(fds_of "$pid")
    rss0=$(rss_kb_of "$pid")
    got=$(pages "$PAGES" "$url")
    settle "$pid"
    fd1=$(fds_of "$pid")
    rss1=$(rss_kb_of "$pid")
    check "$model, $fault: every page is $want (warm-up: $warm; then: $got)" [ "$got" = "$want $PAGES" ]
    # An upstream that answers (500, bad JSON) keeps its connections alive, and libcurl keeps
    # them for the next pages: up to 3 per page in flight (8 here) may be open at any time.
    local slack=$FD_SLACK
    case $fault in http-500 | bad-json) slack=$((FD_SLACK + 3 * PARALLEL)) ;; esac
    check "$model, $fault: descriptors back to $fd0 (now $fd1, slack $slack)" [ "$fd1" -le $((fd0 + slack)) ]
    if asan_build; then
        echo "skip - $model, $fault: memory (AddressSanitizer build; LeakSanitizer checks at exit)"
    else
        check "$model, $fault: memory back near $((rss0 / 1024)) MiB (now $((rss1 / 1024)) MiB, +$((rss1 - rss0)) KiB)" \
            [ "$rss1" -le $((rss0 + RSS_SLACK_KB)) ]
    fi
    check "$model, $fault: still running" kill -0 "$pid"
}


start fake-500 "$TESTBIN/fake_upstream" 500 600
UP_500=http://127.0.0.1:$PORT
start fake-badjson "$TESTBIN/fake_upstream" badjson 600
UP_BADJSON=http://127.0.0.1:$PORT
start fake-stall "$TESTBIN/fake_upstream" stall 600
UP_STALL=http://127.0.0.1:$PORT

for model in $MODELS; do
    # prefork opens a connection per page and is the slowest to drive: half as many under ctest.
    BASE=${FULL:-$([ "$model" = prefork ] && echo 500 || echo 1000)}
    PAGES=$(at_least "$BASE")
    leak_run "$model" down http://127.0.0.1:1 502
    PAGES=$(at_least $((BASE / 5)))
    leak_run "$model" http-500 "$UP_500" 502
    PAGES=$(at_least $((BASE / 10)))
    leak_run "$model" bad-json "$UP_BADJSON" 502
    # Each stalled page waits out a 50 ms upstream timeout: the timeout path's cleanup.
    PAGES=$(at_least $((BASE / 20)))
    leak_run "$model" stall "$UP_STALL" 504 --upstream-timeout 50
done

robust_finish

#!/usr/bin/env bash
# The models at scale: for each model, a ladder of users (default 100, 300, 1,000, 3,000, 10,000)
# at one offered rate. The page's ms grows with the users (users / (2 ms) stays RATE pages a
# second), so a model that falls behind does so for its concurrency, not for want of CPU. Each
# step records the blog's figures, the ratios to Little's law, failures, the server's peak
# memory, CPU per page, descriptors, threads and processes, and the country API's and the load
# generator's CPU and peaks, to show that they were not the limit. A model stops climbing at
# its break: failures above 1%, p95 above 1.5 x the floor, or a refusal to start; the cause is
# named (descriptors, memory, CPU, pids). Before a step, its memory is projected from the step
# before, and the step is skipped, saying why, when it would pass half of the RAM.
# Writes bench/results/scale-<date-time>/ and its index.html (fanout-report --scale). See --help.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
BIN=${FANOUT_BIN:-$top/build/bin}
MODELS=${MODELS:-}
LADDER=${LADDER:-"100 300 1000 3000 10000"}
RATE=${RATE:-1667}
OUT=""
MIN_DURATION=${MIN_DURATION:-30}
DURATION=${DURATION:-}

usage() {
    cat <<USAGE
usage: scripts/bench-scale.sh [options]        (or: scripts/bench.sh --scale [options])

For each model, runs fanout-load against fanout-server on a ladder of users at one offered rate,
and writes bench/results/scale-<date-time>/ with a table of models x users, charts against users
and an index.html.

  --models "M ..."     models to climb (default: every model fanout-server --list-models gives)
  --ladder "N ..."     users of each step, rising (default "$LADDER")
  --rate R             offered pages a second: each step's page is /ms/ with
                       ms = users x 1000 / (2 R), rounded (default $RATE: /300/ at 1,000 users)
  --min-duration S     seconds of each step at least; longer where the ramp (users/10 a second
                       for 10 s), Locust's 12-second window and three pages need it
                       (default $MIN_DURATION)
  --duration S         every step S seconds exactly instead (a quick look; the ratios need
                       the ramp, the window and a few pages to mean much)
  --out DIR            results folder (default bench/results/scale-<date-time>)
  -h, --help           this help

Sizes: threads and prefork get one thread or process per user (their size caps concurrency);
uv gets the processes its open-files limit requires (4 descriptors a connection), reported.
The country API gets the workers and ports 3 calls per user need. Settings are read from the
environment too: MODELS, LADDER, RATE.
USAGE
}

while [ $# -gt 0 ]; do
    case "$1" in
    --scale) shift ;;
    --models) MODELS=$2; shift 2 ;;
    --ladder) LADDER=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --min-duration) MIN_DURATION=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench-scale.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
done

die() { echo "bench-scale.sh: $*" >&2; exit 2; }
for b in fanout-api fanout-server fanout-load fanout-report; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is missing: run 'make' first"
done
if [ -z "$MODELS" ]; then
    MODELS=$("$BIN/fanout-server" --list-models 2>/dev/null | awk '{ print $1 }' | paste -sd' ' -) || true
    [ -n "$MODELS" ] || MODELS="uv threads prefork"
fi
[[ $RATE =~ ^[0-9]+$ && $RATE -gt 0 ]] || die "--rate must be a positive whole number, not '$RATE'"
[[ $MIN_DURATION =~ ^[0-9]+$ && $MIN_DURATION -ge 5 ]] || die "--min-duration must be 5 seconds or more, not '$MIN_DURATION'"
[ -z "$DURATION" ] || [[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 2 ]] || die "--duration must be 2 seconds or more, not '$DURATION'"
prev=0
for u in $LADDER; do
    [[ $u =~ ^[0-9]+$ && $u -ge 10 && $u -le 100000 ]] || die "a ladder step is 10 to 100000 users, not '$u'"
    [ "$u" -gt "$prev" ] || die "the ladder must rise: $u after $prev"
    prev=$u
done

. "$top/scripts/proc.sh"
# Every process here may hold thousands of sockets: the scripts' own limit goes to the hard one,
# and every binary checks what its configuration needs (and refuses with the numbers).
fo_raise_nofile
hard=$NOFILE
mem_kib=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo 2>/dev/null || true)
if [ -z "$mem_kib" ]; then
    mem_kib=$(($(sysctl -n hw.memsize 2>/dev/null || echo 8589934592) / 1024))
fi
half_kib=$((mem_kib / 2))

[ -n "$OUT" ] || OUT="$top/bench/results/scale-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
: >"$OUT/steps.txt"

PIDS=()
trap fo_stop_all EXIT
trap 'echo; echo "bench-scale.sh: interrupted; stopping everything" >&2; exit 130' INT TERM

# sample PID: "rss_kib threads procs fds" of a process tree. Linux reads /proc (fds
# only when asked: FDS=1); elsewhere ps gives memory and processes, and fds and threads are -1.
sample() {
    local pids
    pids=$(fo_tree_pids "$1")
    if [ -r /proc/self/status ]; then
        local fds=-1
        if [ "${FDS:-0}" = 1 ]; then
            fds=0
            for p in $pids; do
                fds=$((fds + $(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)))
            done
        fi
        for p in $pids; do
            awk '$1 == "VmRSS:" { r = $2 } $1 == "Threads:" { t = $2 } END { print r + 0, t + 0 }' \
                "/proc/$p/status" 2>/dev/null || true
        done | awk -v fds="$fds" '{ r += $1; t += $2; n++ } END { printf "%d %d %d %d\n", r, t, n, fds }'
    else
        ps -o rss= -p "$(echo "$pids" | paste -sd, -)" 2>/dev/null |
            awk '{ r += $1; n++ } END { printf "%d -1 %d -1\n", r, n }'
    fi
}

ceil_div() { echo $((($1 + $2 - 1) / $2)); }

# step_json NAME key=value...: writes NAME.step.json, numbers as numbers, the rest as strings.
step_json() {
    local name=$1 kv k v sep="" out="{"
    shift
    for kv in "$@"; do
        k=${kv%%=*}
        v=${kv#*=}
        if [[ $v =~ ^-?[0-9]+([.][0-9]+)?$ ]]; then out="$out$sep\"$k\":$v"
        else out="$out$sep\"$k\":\"${v//\"/\'}\""; fi
        sep=","
    done
    echo "$out}" >"$OUT/$name.step.json"
    echo "$name" >>"$OUT/steps.txt"
}

# cause_of_refusal LOG: what a refusal at start says ran out.
cause_of_refusal() {
    if grep -q "descriptors" "$1"; then echo descriptors
    elif grep -q "processes and threads" "$1"; then echo pids
    elif grep -qi "memory" "$1"; then echo memory
    else echo "refused"; fi
}

echo "fanout bench-scale: models $MODELS; ladder $LADDER users at $RATE pages/s offered"
echo "machine: $ncpu cores, $((mem_kib / 1048576)) GiB; open-files hard limit $hard"
echo "results: $OUT"
for model in $MODELS; do
    rss_per_user=0
    broke=""
    for users in $LADDER; do
        name="$model-$users"
        ms=$(((users * 1000 + RATE) / (2 * RATE)))
        floor_s=$(awk -v ms="$ms" 'BEGIN { printf "%.3f", 2 * ms / 1000 }')
        dur=$(awk -v f="$floor_s" -v m="$MIN_DURATION" 'BEGIN { d = 10 + 12 + 3 * f; if (d < m) d = m;
            printf "%d", d + 0.999 }')
        [ -n "$DURATION" ] && dur=$DURATION
        common=(model="$model" users="$users" ms="$ms" rate="$RATE" duration_s="$dur")
        if [ -n "$broke" ]; then
            step_json "$name" "${common[@]}" status=not-run reason="$model broke at $broke"
            continue
        fi
        # Guard the machine: the step's memory, projected from the step before.
        if [ "$rss_per_user" != 0 ]; then
            projected=$(awk -v r="$rss_per_user" -v u="$users" 'BEGIN { printf "%d", r * u * 1.1 }')
            if [ "$projected" -gt "$half_kib" ]; then
                reason=$(awk -v p="$projected" -v h="$half_kib" -v u="$users" 'BEGIN {
                    printf "memory: %d users would take about %.1f GiB, more than half of the RAM (%.1f GiB)",
                    u, p / 1048576, h / 1048576 }')
                echo "[$model $users] skipped: $reason"
                step_json "$name" "${common[@]}" status=skipped cause=memory reason="$reason"
                broke=$users
                continue
            fi
        fi
        case $model in
        threads) size_flag=(--threads "$users"); size=$users ;;
        prefork) size_flag=(--workers "$users"); size=$users ;;
        *)
            # An event loop holds 4 descriptors a connection; room for 1.25 x the users.
            per_proc=$(((hard - 64) / 4))
            size=$(ceil_div $((users * 5 / 4)) "$per_proc")
            size_flag=(--workers "$size")
            ;;
        esac
        # Ports: one address pair offers ~28,000 source ports, and libcurl looks for an idle
        # connection among all of one host:port's (a list): a few thousand a port keeps it short.
        api_ports=$(ceil_div $((3 * users)) 2000)
        [ "$api_ports" -gt 32 ] && api_ports=32
        api_workers=$(ceil_div $((3 * users * 5 / 4)) $((hard - 100)))
        load_threads=1
        [ "$users" -ge 3000 ] && load_threads=2

        # The API keeps idle connections longer than a page lasts: a connection it closed while
        # idle in the server's pool is dead there, and libcurl's pruning of dead connections
        # walks the whole pool once for each (quadratic in the thousands).
        keepalive_ms=$((6 * ms + 5000))
        fo_start "$OUT/$name.api.log" 100 "$BIN/fanout-api" --port 0 --ports "$api_ports" \
            --workers "$api_workers" --backlog 4096 --keepalive-timeout "$keepalive_ms" ||
            die "the country API did not start: $(head -3 "$OUT/$name.api.log")"
        api_pid=$PID
        upstream=$(sed -n '1s/.*listening on \([^ ]*\).*/\1/p' "$OUT/$name.api.log")
        api_url=${upstream%%,*}
        if ! fo_start "$OUT/$name.server.log" 600 "$BIN/fanout-server" --model "$model" \
            "${size_flag[@]}" --port 0 --upstream "$upstream" --backlog 4096 \
            --upstream-timeout 60000 --shutdown-timeout 5000; then
            cause=$(cause_of_refusal "$OUT/$name.server.log")
            reason=$(grep -m1 "fanout-server:" "$OUT/$name.server.log" || tail -1 "$OUT/$name.server.log")
            echo "[$model $users] refused at start ($cause): $reason"
            step_json "$name" "${common[@]}" size="$size" status=refused cause="$cause" reason="$reason"
            fo_stop "$PID"
            fo_stop "$api_pid"
            broke=$users
            continue
        fi
        srv_pid=$PID
        srv_url=http://127.0.0.1:$PORT
        ready=0
        for _ in $(seq 600); do
            [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$srv_url/0/")" = 200 ] && { ready=1; break; }
            sleep 0.1
        done
        if [ $ready = 0 ]; then
            echo "[$model $users] does not answer; see $OUT/$name.server.log" >&2
            step_json "$name" "${common[@]}" size="$size" status=refused cause=start \
                reason="the server started but never answered"
            fo_stop "$srv_pid"
            fo_stop "$api_pid"
            broke=$users
            continue
        fi
        curl -s "$api_url/stats/reset" >/dev/null
        srv_cpu0=$(fo_tree_cpu_s "$srv_pid")
        api_cpu0=$(fo_tree_cpu_s "$api_pid")
        spawn=$(awk -v u="$users" 'BEGIN { printf "%g", u / 10 }')
        echo "[$model $users] /$ms/ (floor $floor_s s), $dur s, $model size $size, API $api_workers workers x $api_ports ports, load $load_threads threads"
        t0=$(date +%s)
        (
            "$BIN/fanout-load" --quiet --users "$users" --spawn-rate "$spawn" --duration "${dur}s" \
                --threads "$load_threads" --timeout 60s --max-failure-ratio 1 \
                --json "$OUT/$name.load.json" "$srv_url/$ms/" >"$OUT/$name.load.txt" 2>"$OUT/$name.load.err"
            echo "$?" >"$OUT/$name.load.rc"
        ) &
        load_pid=$!
        PIDS+=("$load_pid")
        peak_rss=0 peak_threads=0 peak_procs=0 peak_fds=0 api_peak_rss=0 n=0 load_cpu=0
        while kill -0 "$load_pid" 2>/dev/null; do
            n=$((n + 1))
            # Descriptors every 4th sample: counting them is the costly part.
            FDS=$((n % 4 == 1 ? 1 : 0))
            # shellcheck disable=SC2046 # sample prints four numbers, one a word
            set -- $(FDS=$FDS sample "$srv_pid")
            [ "$1" -gt "$peak_rss" ] && peak_rss=$1
            [ "$2" -gt "$peak_threads" ] && peak_threads=$2
            [ "$3" -gt "$peak_procs" ] && peak_procs=$3
            [ "$4" -gt "$peak_fds" ] && peak_fds=$4
            # shellcheck disable=SC2046
            set -- $(sample "$api_pid")
            [ "$1" -gt "$api_peak_rss" ] && api_peak_rss=$1
            # The load generator's CPU so far (the subshell and fanout-load), the largest seen:
            # a sample after fanout-load ended reads nothing. Its last second is missed, which
            # flatters the harness by under a second of its CPU.
            c=$(fo_tree_cpu_s "$load_pid")
            load_cpu=$(awk -v a="$load_cpu" -v b="$c" 'BEGIN { print (b > a ? b : a) }')
            sleep 1
        done
        wait "$load_pid" || true
        wall=$(($(date +%s) - t0))
        srv_cpu=$(fo_cpu_since "$srv_cpu0" "$srv_pid")
        api_cpu=$(fo_cpu_since "$api_cpu0" "$api_pid")
        api_peak=$(curl -s "$api_url/stats" | sed -n 's/.*"peak_in_flight":\([0-9]*\).*/\1/p')
        load_rc=$(cat "$OUT/$name.load.rc" 2>/dev/null || echo 4)
        fo_stop "$srv_pid"
        fo_stop "$api_pid"
        if [ ! -s "$OUT/$name.load.json" ]; then
            echo "[$model $users] fanout-load failed (exit $load_rc): $(tail -3 "$OUT/$name.load.err")" >&2
            step_json "$name" "${common[@]}" size="$size" status=refused cause=load \
                reason="fanout-load failed: $(tail -1 "$OUT/$name.load.err")"
            broke=$users
            continue
        fi
        step_json "$name" "${common[@]}" status=ran size="$size" wall_s="$wall" \
            peak_rss_kib="$peak_rss" cpu_s="$srv_cpu" peak_threads="$peak_threads" \
            peak_procs="$peak_procs" peak_fds="$peak_fds" fd_limit="$hard" \
            api_workers="$api_workers" api_ports="$api_ports" api_cpu_s="$api_cpu" \
            api_peak_rss_kib="$api_peak_rss" api_peak_in_flight="${api_peak:-0}" \
            load_threads="$load_threads" load_cpu_s="$load_cpu" load_exit="$load_rc" \
            mem_kib="$mem_kib" cores="$ncpu"
        # The step's verdict (failures, p95 / floor) and cause are the report's to judge; it
        # prints the step's line and exits 3 when the model broke there.
        verdict=0
        "$BIN/fanout-report" --scale-step "$OUT/$name" || verdict=$?
        [ "$verdict" = 3 ] && broke=$users
        rss_per_user=$(awk -v r="$peak_rss" -v u="$users" 'BEGIN { printf "%.3f", r / u }')
    done
done

rc=0
"$BIN/fanout-report" --scale --dir "$OUT" || rc=$?
if command -v gnuplot >/dev/null 2>&1; then
    if ! (cd "$OUT" && gnuplot "$top/scripts/plot-scale.gp" >"$OUT/gnuplot.log" 2>&1); then
        echo "bench-scale.sh: gnuplot failed; charts are missing (see $OUT/gnuplot.log)" >&2
    fi
else
    echo "bench-scale.sh: gnuplot is not installed, so no charts; the rest is written" >&2
fi
echo "results: $OUT/index.html"
exit $rc

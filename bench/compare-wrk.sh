#!/usr/bin/env bash
# Runs wrk and fanout-load side by side against the same target, one after the other, with the
# same connections and duration, and prints each one's requests per second and CPU time per
# request, and the ratios. fanout-load must never be what limits a benchmark: its req/s should
# be at least wrk's and its CPU per request lower.
#
#   bench/compare-wrk.sh [--url URL] [--users N] [--duration S] [--rounds R] [--check]
#   bench/compare-wrk.sh --harness [--users N] [--duration S] [--rounds R] [--rate R] [--check]
#
# Without --url it starts build/bin/fanout-api on a free port and aims at its /0/ (an answer
# at once), then stops it. --check exits 1 when fanout-load's req/s is below wrk's or its CPU
# per request above wrk's, over all rounds. CPU is user + system time of each tool's process,
# from bash's `time`. Loopback only; every run is bounded by --duration.
#
# --harness measures the suite's own harness against the tools people trust, in one run: nginx
# (one worker, `return 200`; installed when missing) beside fanout-api's /0/ (one worker), both
# loaded by wrk; and fanout-load beside wrk, both loading that nginx. --check then wants the
# API at 1.0 x nginx's req/s or more and fanout-load at 1.3 x wrk's or more (issue 9). Last, each
# server's CPU per answer at one offered rate (--rate, default 40000/s, fanout-load's open model):
# the servers' own cost, which req/s hide when a client or the machine's noise sets the pace.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${FANOUT_BIN:-$ROOT/build/bin}
# shellcheck source=../scripts/proc.sh
. "$ROOT/scripts/proc.sh"
# shellcheck source=nginx.sh
. "$ROOT/bench/nginx.sh"
URL=""
USERS=100
DURATION=5
ROUNDS=1
FIXED_RATE=40000
CHECK=0
HARNESS=0
while [ $# -gt 0 ]; do
    case $1 in
        --harness) HARNESS=1; shift ;;
        --url) URL=$2; shift 2 ;;
        --users) USERS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --rounds) ROUNDS=$2; shift 2 ;;
        --rate) FIXED_RATE=$2; shift 2 ;;
        --check) CHECK=1; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare-wrk.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "compare-wrk.sh: wrk is not installed" >&2; exit 2; }
[ -x "$BIN/fanout-load" ] || { echo "compare-wrk.sh: $BIN/fanout-load is not built (make)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/compare-wrk.XXXXXX")
PIDS=()
cleanup() {
    fo_stop_all
    rm -rf "$WORK"
}
trap cleanup EXIT

# start_api ARGS...: fanout-api on a free port (proc.sh's fo_start); sets API_ROOT.
start_api() {
    fo_start "$WORK/api.log" 100 "$BIN/fanout-api" --port 0 "$@" || {
        echo "compare-wrk.sh: fanout-api did not start: $(cat "$WORK/api.log")" >&2
        exit 1
    }
    API_ROOT=http://127.0.0.1:$PORT
}

# cpu_of FILE: user + system seconds from bash's `time` output ("U S").
cpu_of() { awk '{ printf "%.3f", $1 + $2 }' "$1"; }
TIMEFORMAT='%U %S'

if [ "$HARNESS" -eq 1 ]; then
    [ -x "$BIN/fanout-api" ] || { echo "compare-wrk.sh: $BIN/fanout-api is not built (make)" >&2; exit 2; }
    fo_nginx_ensure compare-wrk.sh
    fo_nginx_start compare-wrk.sh
    start_api --workers 1
    API_PID=$PID
    API_URL=$API_ROOT/0/
    # srv_cpu: CPU seconds nginx has used so far.
    srv_cpu() { fo_tree_cpu_s "$NGINX_PID"; }
    # wrk_run URL / load_run URL: one client's run; prints "req/s client-cpu-seconds
    # client-system-seconds".
    sys_of() { awk '{ printf "%.3f", $2 }' "$1"; }
    wrk_run() {
        { time wrk -t1 -c"$USERS" -d"${DURATION}s" "$1" >"$WORK/h.txt"; } 2>"$WORK/h.cpu"
        echo "$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/h.txt") $(cpu_of "$WORK/h.cpu") $(sys_of "$WORK/h.cpu")"
    }
    load_run() {
        { time "$BIN/fanout-load" -q -t 1 -u "$USERS" -d "${DURATION}s" --max-failure-ratio 1 "$1" \
            >"$WORK/h.txt"; } 2>"$WORK/h.cpu"
        echo "$(awk '/^  requests/ { sub(/\/s;?/, "", $4); print $4 }' "$WORK/h.txt") $(cpu_of "$WORK/h.cpu") $(sys_of "$WORK/h.cpu")"
    }
    sum() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b }'; }
    ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
    pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", (b > 0 ? 100 * a / b : 0) }'; }
    echo "the harness against its peers: nginx $NGINX_URL (1 worker, return 200) and fanout-api"
    echo "$API_URL (1 worker); $USERS connections, one client thread, ${DURATION}s each, $ROUNDS round(s)"
    echo "(req/s of each; for the two clients on nginx also requests per CPU-second of the client, the"
    echo " kernel's share of each client's CPU (sys%: loopback TCP, the same for any client sending one"
    echo " request per round trip, so only the rest can differ between clients), and nginx's own CPU"
    echo " share: near 100% means nginx, not the client, set the pace)"
    printf "%-5s %11s %11s %7s | %11s %11s %7s | %9s %9s %7s | %5s %5s | %6s\n" round "wrk>nginx" "wrk>api" \
        "api/ngx" "wrk>nginx" "load>nginx" "ld/wrk" "wrk/cpu-s" "load/cpu-s" "ld/wrk" "sys%w" "sys%l" "nginx%"
    t_n=0 t_a=0 t_w=0 t_l=0 t_wc=0 t_lc=0 t_ws=0 t_ls=0
    for round in $(seq "$ROUNDS"); do
        # Each pair alternates which goes first, so a machine getting busier favours neither.
        if [ $((round % 2)) -eq 1 ]; then
            read -r n _ < <(wrk_run "$NGINX_URL"); read -r a _ < <(wrk_run "$API_URL")
        else
            read -r a _ < <(wrk_run "$API_URL"); read -r n _ < <(wrk_run "$NGINX_URL")
        fi
        c0=$(srv_cpu)
        if [ $((round % 2)) -eq 1 ]; then
            read -r l lc ls < <(load_run "$NGINX_URL"); read -r w wc ws < <(wrk_run "$NGINX_URL")
        else
            read -r w wc ws < <(wrk_run "$NGINX_URL"); read -r l lc ls < <(load_run "$NGINX_URL")
        fi
        busy=$(awk -v a="$c0" -v b="$(srv_cpu)" -v d="$DURATION" 'BEGIN { printf "%.0f", 100 * (b - a) / (2 * d) }')
        wps=$(awk -v r="$w" -v c="$wc" -v d="$DURATION" 'BEGIN { printf "%.0f", (c > 0 ? r * d / c : 0) }')
        lps=$(awk -v r="$l" -v c="$lc" -v d="$DURATION" 'BEGIN { printf "%.0f", (c > 0 ? r * d / c : 0) }')
        printf "%-5s %11s %11s %7s | %11s %11s %7s | %9s %9s %7s | %4s%% %4s%% | %5s%%\n" "$round" "$n" "$a" \
            "$(ratio "$a" "$n")" "$w" "$l" "$(ratio "$l" "$w")" "$wps" "$lps" "$(ratio "$lps" "$wps")" \
            "$(pct "$ws" "$wc")" "$(pct "$ls" "$lc")" "$busy"
        t_n=$(sum "$t_n" "$n") t_a=$(sum "$t_a" "$a") t_w=$(sum "$t_w" "$w") t_l=$(sum "$t_l" "$l")
        t_wc=$(sum "$t_wc" "$wc") t_lc=$(sum "$t_lc" "$lc") t_ws=$(sum "$t_ws" "$ws") t_ls=$(sum "$t_ls" "$ls")
    done
    eff_ratio=$(ratio "$(awk -v r="$t_l" -v c="$t_lc" 'BEGIN { print r / c }')" \
        "$(awk -v r="$t_w" -v c="$t_wc" 'BEGIN { print r / c }')")
    api_ratio=$(ratio "$t_a" "$t_n")
    load_ratio=$(ratio "$t_l" "$t_w")
    echo "all rounds: fanout-api /0/ / nginx = $api_ratio (want >= 1.0);" \
        "fanout-load / wrk on nginx = $load_ratio req/s (want >= 1.3), $eff_ratio requests per CPU-second;" \
        "the kernel's share of the clients' CPU: wrk $(pct "$t_ws" "$t_wc")%, fanout-load $(pct "$t_ls" "$t_lc")%"
    # The servers' own cost, which the req/s above hide when a client or the machine's noise sets
    # the pace: at one fixed offered rate (the open model), each server's CPU per answer.
    cpu_per_answer() { # URL PID: microseconds of PID's CPU (and its children's) per answer
        local c0 c1 n
        c0=$(fo_tree_cpu_s "$2")
        "$BIN/fanout-load" -q --rate "$FIXED_RATE" -d "${DURATION}s" --max-failure-ratio 1 \
            --json "$WORK/rate.json" "$1" >/dev/null 2>&1 || true
        c1=$(fo_tree_cpu_s "$2")
        n=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["requests"])' "$WORK/rate.json" 2>/dev/null || echo 0)
        awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN { printf "%.2f", (n > 0 ? (b - a) * 1e6 / n : 0) }'
    }
    ngx_us=$(cpu_per_answer "$NGINX_URL" "$NGINX_PID")
    api_us=$(cpu_per_answer "$API_URL" "$API_PID")
    echo "at $FIXED_RATE requests/s offered for ${DURATION}s each (fanout-load --rate): CPU per answer" \
        "nginx $ngx_us us, fanout-api /0/ $api_us us: the API answers $(ratio "$ngx_us" "$api_us") x" \
        "nginx's requests per CPU-second"
    if [ "$CHECK" -eq 1 ]; then
        awk -v a="$api_ratio" -v l="$load_ratio" 'BEGIN { exit !(a >= 1.0 && l >= 1.3) }' || {
            echo "compare-wrk.sh: the harness fell behind its peers" >&2
            exit 1
        }
    fi
    exit 0
fi

if [ -z "$URL" ]; then
    [ -x "$BIN/fanout-api" ] || { echo "compare-wrk.sh: $BIN/fanout-api is not built; give --url" >&2; exit 2; }
    start_api
    URL=$API_ROOT/0/
fi


echo "target $URL, $USERS connections, ${DURATION}s each, $ROUNDS round(s)"
printf "%-6s %-12s %12s %10s %12s %14s\n" round tool requests "req/s" "cpu (s)" "cpu/req (us)"
run_wrk() {
    { time wrk -t1 -c"$USERS" -d"${DURATION}s" "$URL" >"$WORK/wrk.txt"; } 2>"$WORK/wrk.cpu"
    w_req=$(awk '/requests in/ { print $1 }' "$WORK/wrk.txt")
    w_rps=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/wrk.txt")
    w_cpu=$(cpu_of "$WORK/wrk.cpu")
}
run_load() {
    { time "$BIN/fanout-load" -q -t 1 -u "$USERS" -d "${DURATION}s" --max-failure-ratio 1 "$URL" \
        >"$WORK/fl.txt"; } 2>"$WORK/fl.cpu"
    f_req=$(awk '/^  requests/ { print $2 }' "$WORK/fl.txt")
    f_rps=$(awk '/^  requests/ { sub(/\/s;?/, "", $4); print $4 }' "$WORK/fl.txt")
    f_cpu=$(cpu_of "$WORK/fl.cpu")
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
per_req_us() { awk -v c="$1" -v n="$2" 'BEGIN { printf "%.2f", (n > 0 ? c * 1e6 / n : 0) }'; }

# Rounds alternate which tool goes first, so a machine that gets busier or quieter during the
# comparison favours neither; the totals over all rounds give the overall ratios.
tw_req=0 tw_cpu=0 tw_rps=0 tf_req=0 tf_cpu=0 tf_rps=0
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then run_wrk; run_load; else run_load; run_wrk; fi
    w_us=$(per_req_us "$w_cpu" "$w_req")
    f_us=$(per_req_us "$f_cpu" "$f_req")
    printf "%-6s %-12s %12s %10s %12s %14s\n" "$round" wrk "$w_req" "$w_rps" "$w_cpu" "$w_us"
    printf "%-6s %-12s %12s %10s %12s %14s\n" "$round" fanout-load "$f_req" "$f_rps" "$f_cpu" "$f_us"
    echo "round $round: req/s fanout-load/wrk = $(ratio "$f_rps" "$w_rps") (want >= 1);" \
        "cpu per request fanout-load/wrk = $(ratio "$f_us" "$w_us") (want < 1)"
    read -r tw_req tw_cpu tw_rps tf_req tf_cpu tf_rps < <(awk -v a="$tw_req $tw_cpu $tw_rps $tf_req $tf_cpu $tf_rps" \
        -v b="$w_req $w_cpu $w_rps $f_req $f_cpu $f_rps" \
        'BEGIN { split(a, x, " "); split(b, y, " "); for (i = 1; i <= 6; i++) printf "%s ", x[i] + y[i]; print "" }')
done
rps_ratio=$(ratio "$tf_rps" "$tw_rps")
cpu_ratio=$(ratio "$(per_req_us "$tf_cpu" "$tf_req")" "$(per_req_us "$tw_cpu" "$tw_req")")
echo "all rounds: req/s fanout-load/wrk = $rps_ratio; cpu per request fanout-load/wrk = $cpu_ratio"
if [ "$CHECK" -eq 1 ]; then
    awk -v r="$rps_ratio" -v c="$cpu_ratio" 'BEGIN { exit !(r >= 1 && c < 1) }' || {
        echo "compare-wrk.sh: fanout-load fell behind wrk" >&2
        exit 1
    }
fi

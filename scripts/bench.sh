#!/usr/bin/env bash
# Runs the model comparison: the country API, then each configuration in turn (a model of
# fanout-server, or a target: a real stack such as the blog's Django configurations, declared in
# bench/targets/NAME.target) under fanout-load with the blog's load, and writes
# bench/results/<date-time>/ with the table, JSON, CSV, charts and an index.html. See --help.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
BIN=${FANOUT_BIN:-$top/build/bin}
CONFIGS=${CONFIGS:-"threads:2 threads:100 prefork:2 prefork:100 uv:1 uv:$ncpu coro:1"}
USERS=${USERS:-100}
SPAWN_RATE=${SPAWN_RATE:-10}
DURATION=${DURATION:-30s}
MS=${MS:-300}
THREADS=${LOAD_THREADS:-1}
MODE=${MODE:-closed}
RATE=${RATE:-}
OUT=""
BASELINE=""
WRITE_BASELINE=""
TOLERANCE=${TOLERANCE:-0.25}
LIST=0

usage() {
    cat <<USAGE
usage: scripts/bench.sh [options]

Starts fanout-api, then for each configuration starts fanout-server, waits until it answers,
runs fanout-load against GET /<ms>/ and stops the server; prints the blog's table for this
machine with each row's Little's-law bound, and writes bench/results/<date-time>/.

  --configs "M:N ..."   configurations, model:size, the size going to the model's --workers
                        or --threads (fanout-server --list-models says which), or target:size
                        for a target of bench/targets (its SIZE; target alone takes its
                        default); default "$CONFIGS"
  --list                the models and the targets, and whether each target is installed
  --users N             users (default $USERS)
  --spawn-rate R        users started per second, Locust's way (default $SPAWN_RATE)
  --duration D          each configuration's run, ramp included (default $DURATION)
  --ms MS               the page's ms: calls of MS, 2*MS, MS/2; floor 2*MS (default $MS)
  --load-threads T      fanout-load event loops (default $THREADS)
  --mode closed|open    closed: Locust's users (the blog's load; the default). open: visitors
                        arrive at --rate a second whatever the server does (fanout-load --rate),
                        so a model that cannot keep up builds a queue that shows as growing
                        response time; the charts show response and service time over time
  --rate R              the open model's offered rate (default 0.9 of the uncapped bound,
                        0.9 * users / (2 * ms / 1000): 150/s for 100 users and /300/)
  --out DIR             results folder (default bench/results/<date-time>)
  --baseline FILE       compare ratios with FILE; exit 1 when a configuration is worse than it
                        by more than --tolerance (default $TOLERANCE, relative)
  --write-baseline FILE write this run's ratios as the new baseline
  --scale [options]     the models at scale instead: scripts/bench-scale.sh (see --scale --help)
  -h, --help            this help

The same settings are read from the environment: CONFIGS, USERS, SPAWN_RATE, DURATION, MS,
MODE, RATE.
USAGE
}

# The models at scale are their own run (scripts/bench-scale.sh).
if [ "${1:-}" = --scale ]; then
    shift
    exec "$top/scripts/bench-scale.sh" "$@"
fi

while [ $# -gt 0 ]; do
    case "$1" in
    --configs) CONFIGS=$2; shift 2 ;;
    --list) LIST=1; shift ;;
    --users) USERS=$2; shift 2 ;;
    --spawn-rate) SPAWN_RATE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --ms) MS=$2; shift 2 ;;
    --load-threads) THREADS=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --baseline) BASELINE=$2; shift 2 ;;
    --write-baseline) WRITE_BASELINE=$2; shift 2 ;;
    --tolerance) TOLERANCE=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
done

die() { echo "bench.sh: $*" >&2; exit 2; }
. "$top/scripts/proc.sh"
[[ $USERS =~ ^[0-9]+$ && $USERS -gt 0 ]] || die "--users must be a positive whole number, not '$USERS'"
[[ $MS =~ ^[0-9]+$ && $MS -le 60000 ]] || die "--ms must be a whole number from 0 to 60000, not '$MS'"
[[ $SPAWN_RATE =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--spawn-rate must be a number, not '$SPAWN_RATE'"
# The load's flags: Locust's users (closed), or arrivals at RATE a second (open; issue 13).
load_flags() {
    case $MODE in
    closed)
        [ -z "$RATE" ] || die "--rate is for --mode open"
        LOAD_FLAGS=(--users "$USERS" --spawn-rate "$SPAWN_RATE")
        LOAD_DESC="$USERS users (spawn rate $SPAWN_RATE/s)"
        ;;
    open)
        LOAD_DESC="open model"
        if [ -z "$RATE" ]; then
            [ "$MS" -gt 0 ] || die "--mode open with --ms 0 has no bound to take 0.9 of: give --rate"
            RATE=$(awk -v u="$USERS" -v f="$(fo_floor_ms "$MS")" 'BEGIN { printf "%g", 0.9 * u / (f / 1000) }')
            LOAD_DESC="open model (0.9 of the bound of $USERS users)"
        fi
        if ! [[ $RATE =~ ^[0-9]+([.][0-9]+)?$ ]] || ! awk -v r="$RATE" 'BEGIN { exit !(r > 0) }'; then
            die "--rate must be a number of arrivals a second above 0, not '$RATE'"
        fi
        LOAD_FLAGS=(--rate "$RATE")
        LOAD_DESC="$LOAD_DESC, $RATE arrivals/s offered"
        ;;
    *) die "--mode is closed or open, not '$MODE'" ;;
    esac
}
load_flags

. "$top/scripts/proc.sh"
. "$top/scripts/targets.sh"
for b in fanout-api fanout-server fanout-load fanout-report fanout-mem; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is missing: run 'make' first"
done
# The models, from the server's engine table: "NAME SIZE_FLAG CAPS" a line.
MODEL_LIST=$("$BIN/fanout-server" --list-models) || die "$BIN/fanout-server --list-models failed"
# model_field MODEL N: column N of MODEL's line (2: its size flag, 3: whether the size caps
# concurrency); empty for an unknown model.
model_field() {
    awk -v m="$1" -v n="$2" '$1 == m { print $n }' <<<"$MODEL_LIST"
}

# --list: the models (the server's engine table) and the targets (bench/targets).
list_all() {
    local n inst
    echo "models (fanout-server --list-models: name, size flag, whether the size caps concurrency):"
    awk '{ printf "  %-24s --%s, size caps: %s\n", $1, $2, ($3 == 1 ? "yes" : "no") }' <<<"$MODEL_LIST"
    echo "targets (bench/targets/NAME.target; scripts/install-deps.sh --targets installs them):"
    for n in $(fo_target_list); do
        fo_target_load "$n" || continue
        inst="not installed"
        fo_target_installed "$n" && inst="installed"
        printf '  %-24s %s, default size %s, %s: %s\n' "$n" "$TARGET_KIND" "$TARGET_SIZE" "$inst" "$TARGET_DESC"
    done
}
[ "$LIST" = 1 ] && { list_all; exit 0; }

# Each configuration is model:size or target[:size]; a target alone takes its TARGET_SIZE.
# Targets must be installed: the run would otherwise stop at the first one, minutes in.
configs=""
for c in $CONFIGS; do
    n=${c%%:*}
    if [[ $c =~ ^[a-z0-9_]+:[1-9][0-9]*$ && -n $(model_field "$n" 2) ]]; then
        :
    elif [[ $c =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*(:[1-9][0-9]*)?$ ]] && fo_target_exists "$n"; then
        fo_target_load "$n" || die "target '$n' has a bad file (above)"
        [[ $c == *:* ]] || c="$n:$TARGET_SIZE"
        fo_target_installed "$n" ||
            die "target '$n' is not installed here ('$TARGET_VERSION' fails): run scripts/install-deps.sh --targets"
    else
        die "a configuration is model:size with model one of $(awk '{ print $1 }' <<<"$MODEL_LIST" | paste -sd, - | sed 's/,/, /g'), or target:size with a target of bench/targets ($(fo_target_list | paste -sd, - | sed 's/,/, /g'); see --list), and a size of 1 or more, not '$c'"
    fi
    [[ " $configs " == *" $c "* ]] && die "configuration '$c' is listed twice"
    configs="$configs${configs:+ }$c"
done
CONFIGS=$configs

# Seconds of a duration like 30s, 2m, 1m30s, 500ms (for the progress line only).
seconds_of() {
    awk -v d="$1" 'BEGIN { t = 0; while (match(d, /^[0-9.]+(ms|s|m|h)?/)) { part = substr(d, 1, RLENGTH);
        d = substr(d, RLENGTH + 1); n = part + 0; u = part; sub(/^[0-9.]+/, "", u);
        t += (u == "ms") ? n / 1000 : (u == "m") ? n * 60 : (u == "h") ? n * 3600 : n } printf "%d", t + 0.999 }'
}
run_s=$(seconds_of "$DURATION")
[ "$run_s" -gt 0 ] || die "--duration must be a duration such as 30s or 2m, not '$DURATION'"
# The CPU bound is the CPU's at the row's peak: the server's, the API's and the load's CPU are
# sampled every second, and the bound's inputs are counted over the 10 seconds of the run that
# answered the most pages, the window Locust's Max RPS is the peak of. The CPU a page costs
# drifts over a run (a Python stack's heap grows), so a bound from the whole run's average sat
# below the peak it is compared with (uwsgi-t100 read 1.09 of it); counted from the start, the
# pages in flight at the end also charged their CPU to those answered (gunicorn-t100, 1.15).
CPU_WINDOW_S=10

# The load opens one connection per user, the servers as many; a laptop's default of 256 is too low.
fo_raise_nofile

fo_results_dir "$top/bench/results/$(date +%Y%m%d-%H%M%S)" configs.txt
trap 'fo_target_stop; fo_stop_all' EXIT

# start NAME CMD...: background process logging to $OUT/NAME.log; sets PID and PORT.
start() {
    local name=$1
    shift
    fo_start_or_exit "$name" "$OUT/$name.log" "$@"
}

# peak_window HISTORY CPU_DAT: "CPU WALL API_CPU LOAD_CPU PAGES" over the CPU_WINDOW_S seconds
# that answered the most pages (answered and failed: the history's cumulative counts, Locust's
# _stats_history.csv, a line a second), within the time CPU_DAT's samples cover, each CPU read
# between the two samples around the window's ends; nothing when the run is shorter than a
# window or either file is missing.
peak_window() {
    [ -s "$1" ] && [ -s "$2" ] || return 0
    awk -F'[, ]' -v w="$CPU_WINDOW_S" '
        function at(t, k,   i) { # sample column k at wall time t, between the samples around it
            for (i = 2; i <= n; i++)
                if (ts[i] >= t) return v[i - 1, k] + (v[i, k] - v[i - 1, k]) * (t - ts[i - 1]) / (ts[i] - ts[i - 1])
            return v[n, k] }
        FNR == NR { n++; ts[n] = $1; for (k = 2; k <= 4; k++) v[n, k] = $k; next }
        $4 == "\"Aggregated\"" && $1 ~ /^[0-9]+$/ { cum[$1] = $18 + $19 }
        END {
            if (n < 2) exit
            for (t in cum) {
                t += 0
                if (!((t - w) in cum) || t - w < ts[1] || t > ts[n]) continue
                p = cum[t] - cum[t - w]
                if (p > best) { best = p; end = t }
            }
            if (!best) exit
            printf "%.3f %d %.3f %.3f %d\n", at(end, 2) - at(end - w, 2), w, at(end, 3) - at(end - w, 3),
                at(end, 4) - at(end - w, 4), best }' "$2" "$1"
}

fmt_time() { printf '%d:%02d' $(($1 / 60)) $(($1 % 60)); }

# json_str TEXT: TEXT with its backslashes and double quotes escaped and control characters
# dropped, for a JSON string.
json_str() {
    printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g'
}

# start_model MODEL SIZE NAME: fanout-server with MODEL at SIZE; waits until it answers. Sets
# srv_pid and PORT.
start_model() {
    start "$3.server" "$BIN/fanout-server" --model "$1" "--$(model_field "$1" 2)" "$2" --port 0 \
        --upstream "$API" --backlog 4096 --upstream-timeout 60000
    srv_pid=$PID
    for _ in $(seq 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/0/")" = 200 ] && return 0
        sleep 0.1
    done
    echo "bench.sh: $3 does not answer; see $OUT/$3.server.log" >&2
    exit 1
}

# start_target TARGET SIZE NAME: the target at SIZE (scripts/targets.sh: it waits until it
# answers, and says why when it does not). Sets srv_pid, PORT, kind, row, version, size_caps.
start_target() {
    fo_target_start "$1" "$2" "$API" "$OUT/$3.work" "$OUT/$3.server.log" ||
        die "target $1 did not start (above); its output: $OUT/$3.server.log"
    # shellcheck disable=SC2153 # set by fo_target_start
    srv_pid=$TARGET_PID PORT=$TARGET_PORT kind=$TARGET_KIND row=$TARGET_ROW version=$TARGET_VERSION_STR
    size_caps=0
    [ "$TARGET_SIZE_CAPS" = yes ] && size_caps=1
    return 0
}

start api "$BIN/fanout-api" --port 0
API=http://127.0.0.1:$PORT
API_PID=$PID

# shellcheck disable=SC2086 # a list of configurations, split on purpose
set -- $CONFIGS
n_configs=$#
i=0
t_begin=$(date +%s)
per_config=$((run_s + 4))
echo "fanout bench: $n_configs configurations, $LOAD_DESC, $DURATION each, page /$MS/ (floor $(fo_floor_ms "$MS") ms)"
echo "results: $OUT"
for cfg in $CONFIGS; do
    i=$((i + 1))
    model=${cfg%%:*}
    size=${cfg##*:}
    name="$model-$size"
    if [ -n "$(model_field "$model" 2)" ]; then
        kind=model row="" version=""
        size_caps=$(model_field "$model" 3)
        start_model "$model" "$size" "$name"
    else
        start_target "$model" "$size" "$name"
    fi
    url=http://127.0.0.1:$PORT/$MS/
    curl -s "$API/stats/reset" >/dev/null
    # The CPU columns count from here: the server's start-up is not the model's cost per page.
    # The API's and the load generator's CPU over the same time give the cores left to the
    # server (the CPU bound).
    cpu0=$(fo_tree_cpu_s "$srv_pid")
    api_cpu0=$(fo_tree_cpu_s "$API_PID")
    wall0=$(fo_now_s)

    fo_cpu_run "$OUT/$name.load.cpu" "$BIN/fanout-load" --quiet "${LOAD_FLAGS[@]}" --duration "$DURATION" \
        --threads "$THREADS" --timeout 60s --max-failure-ratio 1 \
        --json "$OUT/$name.load.json" --csv "$OUT/$name" "$url" >"$OUT/$name.load.txt" 2>"$OUT/$name.load.err" &
    load_pid=$!
    PIDS+=("$load_pid")
    # Memory: PSS and the kernel's part at the sample where their sum peaked (fanout-mem;
    # fo_model_mem_kib in src/report.c adds them the same way), and the RSS sum's own peak,
    # only for comparison with top. -1: not measured here.
    peak_mem=-1 peak_pss=-1 peak_kernel=-1 peak_rss=-1
    t0=$(date +%s)
    : >"$OUT/$name.cpu.dat" # "wall server api load" a line: CPU seconds so far, every second
    last_cpu=0
    last_line=0 # off a terminal: a line at once, then every 10 s
    while kill -0 "$load_pid" 2>/dev/null; do
        # shellcheck disable=SC2046 # fo_mem_sample prints five numbers, one a word
        set -- $(fo_mem_sample "$BIN/fanout-mem" "$srv_pid")
        mem=$(($1 + ($2 > 0 ? $2 : 0)))
        if [ "$1" -ge 0 ] && [ "$mem" -gt "$peak_mem" ]; then peak_mem=$mem peak_pss=$1 peak_kernel=$2; fi
        [ "$3" -gt "$peak_rss" ] && peak_rss=$3
        now=$(date +%s)
        if [ "$now" -gt "$last_cpu" ]; then
            echo "$(fo_now_s) $(fo_tree_cpu_s "$srv_pid") $(fo_tree_cpu_s "$API_PID") $(fo_tree_cpu_s "$load_pid")" >>"$OUT/$name.cpu.dat"
            last_cpu=$now
        fi
        el=$((now - t_begin))
        # The configurations to come take as long as those done took on average (a target's
        # start-up is seconds), or the run and 4 s before any is done.
        [ "$i" -gt 1 ] && per_config=$(((t0 - t_begin) / (i - 1)))
        left=$(((n_configs - i) * per_config + run_s - (now - t0)))
        [ $left -lt 0 ] && left=0
        line=$(printf '[%d/%d] %-12s elapsed %s, left ~%s' "$i" "$n_configs" "$cfg" "$(fmt_time $el)" "$(fmt_time $left)")
        if [ -t 1 ]; then
            printf '\r%s\033[K' "$line"
        elif [ $((now - last_line)) -ge 10 ]; then
            echo "$line"
            last_line=$now
        fi
        sleep 0.5
    done
    load_rc=0
    wait "$load_pid" || load_rc=$?
    [ -t 1 ] && printf '\r\033[K'
    cpu=$(fo_cpu_since "$cpu0" "$srv_pid")
    api_cpu=$(fo_cpu_since "$api_cpu0" "$API_PID")
    wall=$(awk -v a="$wall0" -v b="$(fo_now_s)" 'BEGIN { printf "%.3f", b - a }')
    load_cpu=$(cat "$OUT/$name.load.cpu" 2>/dev/null || echo -1)
    # At the peak (above): the window's CPU, wall time and pages replace the whole run's.
    cpu_pages=0
    # shellcheck disable=SC2046 # peak_window prints five numbers or nothing
    set -- $(peak_window "$OUT/${name}_stats_history.csv" "$OUT/$name.cpu.dat")
    [ $# = 5 ] && cpu=$1 wall=$2 api_cpu=$3 load_cpu=$4 cpu_pages=$5
    peak=$(curl -s "$API/stats" | sed -n 's/.*"peak_in_flight":\([0-9]*\).*/\1/p')
    if [ "$kind" = model ]; then fo_stop "$srv_pid"; else fo_target_stop; fi
    if [ ! -s "$OUT/$name.load.json" ]; then
        echo "bench.sh: fanout-load failed for $name (exit $load_rc): $(tail -3 "$OUT/$name.load.err")" >&2
        exit 1
    fi
    printf '{"config":"%s","model":"%s","kind":"%s","row":"%s","version":"%s","size":%d,"size_caps":%d,"users":%d,"ms":%d,"pss_kib":%d,"kernel_kib":%d,"rss_sum_kib":%d,"cpu_s":%s,"wall_s":%s,"api_cpu_s":%s,"load_cpu_s":%s,"cpus":%d,"cpu_pages":%d,"upstream_peak_in_flight":%d,"load_exit":%d}\n' \
        "$cfg" "$model" "$kind" "$(json_str "$row")" "$(json_str "$version")" "$size" "$size_caps" "$USERS" "$MS" \
        "$peak_pss" "$peak_kernel" "$peak_rss" "$cpu" "$wall" "$api_cpu" "$load_cpu" "$ncpu" "$cpu_pages" "${peak:-0}" "$load_rc" >"$OUT/$name.server.json"
    echo "$name" >>"$OUT/configs.txt"
    echo "[$i/$n_configs] $cfg done: $(tail -1 "$OUT/$name.load.txt")"
done
fo_stop "$API_PID"

report_args=(--dir "$OUT")
[ -n "$BASELINE" ] && report_args+=(--baseline "$BASELINE" --tolerance "$TOLERANCE")
[ -n "$WRITE_BASELINE" ] && report_args+=(--write-baseline "$WRITE_BASELINE")
rc=0
"$BIN/fanout-report" "${report_args[@]}" || rc=$?

if command -v gnuplot >/dev/null 2>&1; then
    if ! (cd "$OUT" && gnuplot "$top/scripts/plot.gp" >"$OUT/gnuplot.log" 2>&1); then
        echo "bench.sh: gnuplot failed; charts are missing (see $OUT/gnuplot.log)" >&2
    fi
else
    echo "bench.sh: gnuplot is not installed, so no charts (scripts/install-deps.sh installs it); the rest is written" >&2
fi
echo "results: $OUT/index.html"
if ! grep -qE '"kind":"(target|peer)"' "$OUT"/*.server.json; then
    echo "bench.sh: the C models only; the blog's real stacks are targets (scripts/bench.sh --list): scripts/install-deps.sh --targets, then make bench-blog, or CONFIGS=\"uv:1 uvicorn gunicorn-t100\""
fi
exit $rc

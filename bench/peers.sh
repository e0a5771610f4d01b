#!/usr/bin/env bash
# The models beside their best-known peers (issue 21): every model and every peer of
# bench/targets/ (TARGET_KIND=peer: Node.js, Go, nginx with Lua) under the same API and load,
# in one run. (a) Saturation: /0/ pages at 100 users, pages a second and the CPU per page of the
# server's whole process tree (schedstat, fo_tree_cpu_s), then, in a pass of its own since
# counting slows a server, its system calls per page (perf stat's raw_syscalls:sys_enter where
# perf works, else strace -c -f, over the whole process tree). (b) Scale: 10,000 users at the
# ladder's rate (scripts/bench-scale.sh, its rate, load split and guards): memory per user (PSS +
# kernel, fanout-mem), p95 / floor and failures. Writes peers.json, peers.md (each figure also as
# a ratio to the best peer's), peers.dat and a chart into the results folder. See --help.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
BIN=${FANOUT_BIN:-$top/build/bin}
MODELS=${MODELS:-"uv:1 coro:1 threads:100 prefork:100"}
PEERS=${PEERS:-"node:1 go:1 nginx-lua:1"}
# (b)'s peers: named alone, a peer gets the processes its descriptors need, as uv gets loops
# (SIZE is Node.js's cluster and nginx's workers); Go's SIZE is GOMAXPROCS, not processes: every
# core, Go's own default, as the loops' processes may use them all.
SCALE_PEERS=${SCALE_PEERS:-"node go:$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2) nginx-lua"}
SCALE_USERS=${SCALE_USERS:-10000}
SAT_SECONDS=${SAT_SECONDS:-10}
COUNT_SECONDS=${COUNT_SECONDS:-3}
WARMUP_SECONDS=${WARMUP_SECONDS:-3}
WANT_NOFILE=""
SCALE_PREFORK=0
PARTS="saturation scale"
OUT=""

usage() {
    cat <<USAGE
usage: bench/peers.sh [options]        (or: make bench-peers)

Runs every model and every peer (bench/targets/*.target with TARGET_KIND=peer) under the same
country API and load, and writes bench/results/peers-<date-time>/: peers.md (the table, each
figure also as a ratio to the best peer's), peers.json (a row per server: name, kind,
pages_per_s, cpu_us_per_page, syscalls_per_page, pss_kib_per_user, p95_floor), peers.png/.svg.

  (a) saturation: /0/ pages, 100 users from the start, --seconds each after a warm-up of
      WARMUP_SECONDS ($WARMUP_SECONDS, unmeasured: JIT compilers, pools): pages a second and CPU
      per page of the server's whole process tree; then a second, shorter pass that counts
      the tree's system calls per page (perf stat -e raw_syscalls:sys_enter when perf can, else
      strace -c -f; the table says which), apart because counting slows the server
  (b) scale: --users users at the ladder's rate (scripts/bench-scale.sh --ladder N): memory per
      user (PSS + kernel, fanout-mem), p95 / floor, failures. Models get bench-scale's sizes
      (a thread or a process a user, loops by descriptors); a peer named alone in
      --scale-peers the processes its descriptors need as a loop does, or its SIZE

  --models "M:N ..."   the models and their sizes for (a) (default "$MODELS")
  --peers "P:N ..."    the peers and their sizes (default "$PEERS")
  --scale-peers "P ..." the peers of (b), NAME or NAME:SIZE (default "$SCALE_PEERS")
  --users N            users of (b) (default $SCALE_USERS; 1000 for a trial)
  --seconds S          each saturation run (default $SAT_SECONDS)
  --saturation-only    only (a)        --scale-only    only (b)
  --scale-prefork      prefork in (b) too: a process a user (left out by default: it breaks
                       by 1,000 users, and 10,000 workers weigh on a shared machine)
  --nofile N           raise the open-files hard limit to N first, where this user may, so
                       that one process holds (b)'s connections (default: the machine's, as
                       bench-scale uses it; one loop then holds ~5,000 users under 20,000)
  --out DIR            results folder (default bench/results/peers-<date-time>)
  -h, --help           this help

Settings are read from the environment too: MODELS, PEERS, SCALE_PEERS, SCALE_USERS, SAT_SECONDS,
WARMUP_SECONDS, COUNT_SECONDS, SYSCALL_COUNTER (perf or strace).
USAGE
}

die() { echo "peers.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
    --models) MODELS=$2; shift 2 ;;
    --peers) PEERS=$2; shift 2 ;;
    --scale-peers) SCALE_PEERS=$2; shift 2 ;;
    --users) SCALE_USERS=$2; shift 2 ;;
    --seconds) SAT_SECONDS=$2; shift 2 ;;
    --saturation-only) PARTS=saturation; shift ;;
    --scale-only) PARTS=scale; shift ;;
    --scale-prefork) SCALE_PREFORK=1; shift ;;
    --nofile) WANT_NOFILE=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (try --help)" ;;
    esac
done
[[ $SCALE_USERS =~ ^[0-9]+$ && $SCALE_USERS -ge 10 ]] || die "--users must be 10 or more, not '$SCALE_USERS'"
[[ $SAT_SECONDS =~ ^[0-9]+$ && $SAT_SECONDS -ge 3 ]] || die "--seconds must be 3 or more, not '$SAT_SECONDS'"
[ -z "$WANT_NOFILE" ] || [[ $WANT_NOFILE =~ ^[0-9]+$ ]] || die "--nofile must be a number, not '$WANT_NOFILE'"
for b in fanout-api fanout-server fanout-load fanout-report fanout-mem; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is missing: run 'make' first"
done

. "$top/scripts/proc.sh"
. "$top/scripts/targets.sh"
MODEL_LIST=$("$BIN/fanout-server" --list-models) || die "$BIN/fanout-server --list-models failed"
for c in $MODELS; do
    if ! [[ $c =~ ^[a-z0-9_]+:[1-9][0-9]*$ ]] || ! awk -v m="${c%%:*}" '$1 == m { f = 1 } END { exit !f }' <<<"$MODEL_LIST"; then
        die "a model is MODEL:SIZE with MODEL one of fanout-server --list-models, not '$c'"
    fi
done
peer_names=()
for p in $PEERS; do
    if ! [[ $p =~ ^[a-z0-9_-]+:[1-9][0-9]*$ ]] || ! fo_target_exists "${p%%:*}"; then
        die "a peer is NAME:SIZE with NAME in bench/targets/, not '$p'"
    fi
    peer_names+=("${p%%:*}")
done
for p in $SCALE_PEERS; do
    fo_target_exists "${p%%:*}" || die "a peer of --scale-peers is NAME or NAME:SIZE with NAME in bench/targets/, not '$p'"
    peer_names+=("${p%%:*}")
done

# --nofile: the hard limit goes up where this user may raise it (CAP_SYS_RESOURCE), and every
# process started inherits it.
if [ -n "$WANT_NOFILE" ] && [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$WANT_NOFILE" ]; then
    ulimit -Hn "$WANT_NOFILE" 2>/dev/null || die "cannot raise the open-files hard limit to $WANT_NOFILE here (it stays $(ulimit -Hn))"
fi
fo_raise_nofile

[ -n "$OUT" ] || OUT="$top/bench/results/peers-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PIDS=()
trap 'fo_target_stop; fo_stop_all' EXIT
trap 'echo; echo "peers.sh: interrupted; stopping everything" >&2; exit 130' INT TERM

RUNLEVEL=1 fo_target_install "${peer_names[@]}" # RUNLEVEL=1: Debian's nginx service is not started
echo "fanout bench-peers: models $MODELS; peers $PEERS; open-files limit $NOFILE"
echo "results: $OUT"

# The system-call counter: perf where it may read tracepoints here, else strace
# (SYSCALL_COUNTER=strace chooses it).
counter=${SYSCALL_COUNTER:-}
case $counter in
"")
    if command -v perf >/dev/null 2>&1 && perf stat -e raw_syscalls:sys_enter -x, true >/dev/null 2>&1; then
        counter=perf
    elif command -v strace >/dev/null 2>&1; then
        counter=strace
    fi
    ;;
perf | strace) command -v "$counter" >/dev/null 2>&1 || die "SYSCALL_COUNTER=$counter, but $counter is not installed" ;;
*) die "SYSCALL_COUNTER is perf or strace, not '$counter'" ;;
esac

# start_server CFG UPSTREAM WORK: starts a model (fanout-server) or a peer at its size; sets
# srv_pid and srv_url, or returns 1 saying why in WORK.log.
start_server() {
    local name=${1%%:*} size=${1##*:}
    if fo_target_exists "$name"; then
        fo_target_start "$name" "$size" "$2" "$3" "$3.log" 2>"$3.err" || return 1
        srv_pid=$TARGET_PID srv_url=http://127.0.0.1:$TARGET_PORT
        return 0
    fi
    local flag
    flag=$(awk -v m="$name" '$1 == m { print $2 }' <<<"$MODEL_LIST")
    local started=0
    fo_start "$3.log" 100 "$BIN/fanout-server" --model "$name" "--$flag" "$size" --port 0 \
        --upstream "$2" --backlog 4096 --upstream-timeout 60000 && started=1
    srv_pid=$PID srv_url=http://127.0.0.1:$PORT
    [ $started = 1 ] || return 1
    for _ in $(seq 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$srv_url/0/")" = 200 ] && return 0
        sleep 0.1
    done
    return 1
}

stop_server() {
    if fo_target_exists "${1%%:*}"; then fo_target_stop; else fo_stop "$srv_pid"; fi
}

api_served() { curl -s "$1/stats" | sed -n 's/.*"served":\([0-9]*\).*/\1/p'; }

# count_syscalls CFG API: the system calls of CFG's whole process tree per page over
# COUNT_SECONDS of a short /0/ run at 100 users, after WARMUP_SECONDS; prints "CALLS PAGES", the pages
# from the API's count of calls served (three a page).
count_syscalls() {
    local work=$OUT/syscalls/${1//:/-} load_pid tool_pid served0 served1 calls pids
    start_server "$1" "$2" "$work" || { echo "-1 0"; stop_server "$1"; return 0; }
    "$BIN/fanout-load" --quiet --users 100 --spawn-rate 100 --duration "$((WARMUP_SECONDS + COUNT_SECONDS + 2))s" \
        --timeout 60s --max-failure-ratio 1 "$srv_url/0/" >"$work.load.txt" 2>&1 &
    load_pid=$!
    PIDS+=("$load_pid")
    sleep "$WARMUP_SECONDS"
    pids=$(fo_tree_pids "$srv_pid" | paste -sd, -)
    served0=$(api_served "$2")
    if [ "$counter" = perf ]; then
        perf stat -e raw_syscalls:sys_enter -x, -o "$work.count" -p "$pids" -- sleep "$COUNT_SECONDS" 2>/dev/null || true
        served1=$(api_served "$2")
        calls=$(awk -F, '$3 ~ /raw_syscalls:sys_enter/ { print $1 }' "$work.count")
    else
        # shellcheck disable=SC2046 # one -p PID a process
        strace -c -f -o "$work.count" $(echo "$pids" | tr ',' '\n' | sed 's/^/-p /') 2>"$work.strace.err" &
        tool_pid=$!
        PIDS+=("$tool_pid")
        sleep "$COUNT_SECONDS"
        served1=$(api_served "$2")
        # SIGTERM: it detaches and writes its summary (a background job ignores SIGINT).
        kill -TERM "$tool_pid" 2>/dev/null || true
        wait "$tool_pid" 2>/dev/null || true
        fo_forget "$tool_pid"
        # strace -c's last line: % time, seconds, usecs/call, calls, [errors,] total.
        calls=$(awk '$NF == "total" { print $4 }' "$work.count")
    fi
    wait "$load_pid" 2>/dev/null || true
    fo_forget "$load_pid"
    stop_server "$1"
    echo "${calls:--1} $(((served1 - served0) / 3))"
}

# saturate CFG API: CFG at /0/ with 100 users from the start for SAT_SECONDS, the load's JSON in
# saturation/NAME.load.json; prints the CPU seconds of the server's whole tree from the load's
# start to its end (-1 when it did not start).
saturate() {
    local work=$OUT/saturation/${1//:/-} cpu0 cpu
    start_server "$1" "$2" "$work" || { stop_server "$1"; echo -1; return 0; }
    # Warm, as a server in production is: the JIT compilers of Node.js and LuaJIT, every pool.
    "$BIN/fanout-load" --quiet --users 100 --spawn-rate 100 --duration "${WARMUP_SECONDS}s" --timeout 60s \
        --max-failure-ratio 1 "$srv_url/0/" >"$work.warmup.txt" 2>&1 || true
    cpu0=$(fo_tree_cpu_s "$srv_pid")
    "$BIN/fanout-load" --quiet --users 100 --spawn-rate 100 --duration "${SAT_SECONDS}s" --timeout 60s \
        --max-failure-ratio 1 --json "$work.load.json" "$srv_url/0/" >"$work.load.txt" 2>&1 || true
    cpu=$(fo_cpu_since "$cpu0" "$srv_pid")
    stop_server "$1"
    echo "$cpu"
}

if [[ " $PARTS " == *" saturation "* ]]; then
    # (a) Pages a second and CPU per page, then the system calls per page in a pass of their own.
    mkdir -p "$OUT/saturation" "$OUT/syscalls"
    fo_start "$OUT/saturation/api.log" 100 "$BIN/fanout-api" --port 0 || die "the country API did not start"
    api_pid=$PID
    api=http://127.0.0.1:$PORT
    for cfg in $MODELS $PEERS; do
        cpu=$(saturate "$cfg" "$api")
        echo "$cfg $cpu" >>"$OUT/saturation/runs.txt"
        echo "[$cfg] $(sed -n 's/^ *requests *//p' "$OUT/saturation/${cfg//:/-}.load.txt" 2>/dev/null); $cpu s of CPU"
    done
    if [ -z "$counter" ]; then
        echo "peers.sh: neither perf nor strace is here: no system calls counted" >&2
    else
        for cfg in $MODELS $PEERS; do
            read -r calls pages <<<"$(count_syscalls "$cfg" "$api")"
            echo "$cfg $calls $pages $counter" >>"$OUT/syscalls/counts.txt"
            echo "[$cfg] $calls system calls ($counter) over $pages pages"
        done
    fi
    fo_stop "$api_pid"
fi

if [[ " $PARTS " == *" scale "* ]]; then
    # (b) Memory per user and p95 / floor at the ladder's rate: scripts/bench-scale.sh, one rung.
    scale_models=""
    for cfg in $MODELS; do
        m=${cfg%%:*}
        if [ "$m" = prefork ] && [ $SCALE_PREFORK = 0 ]; then
            echo "peers.sh: prefork is left out of (b): it breaks by 1,000 users (README); --scale-prefork runs it"
            continue
        fi
        [[ " $scale_models " == *" $m "* ]] || scale_models="$scale_models $m"
    done
    FANOUT_BIN="$BIN" "$top/scripts/bench-scale.sh" --models "${scale_models# } $SCALE_PEERS" \
        --ladder "$SCALE_USERS" --out "$OUT/scale" || echo "peers.sh: the scale report exited $?" >&2
fi

python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
"$python" "$top/bench/peers-report.py" "$OUT" "$MODELS" "$PEERS" "${counter:-none}"
if command -v gnuplot >/dev/null 2>&1; then
    (cd "$OUT" && gnuplot "$top/scripts/plot-peers.gp" >"$OUT/gnuplot.log" 2>&1) ||
        echo "peers.sh: gnuplot failed; the chart is missing (see $OUT/gnuplot.log)" >&2
else
    echo "peers.sh: gnuplot is not installed, so no chart; the rest is written" >&2
fi
echo "results: $OUT/peers.md"

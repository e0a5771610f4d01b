#!/usr/bin/env bash
# The models at scale: for each model, a ladder of users (default 100, 300, 1,000, 3,000, 10,000,
# 30,000) at one offered rate. The page's ms grows with the users (users / (2 ms) stays RATE pages a
# second), so a model that falls behind does so for its concurrency, not for want of CPU. Each
# step records the blog's figures, the ratios to Little's law, failures, the server's peak
# memory, CPU per page, descriptors, threads and processes, and the country API's and the load
# generator's CPU and peaks, to show that they were not the limit. A model stops climbing at
# its break: failures above 1%, p95 above 1.5 x the floor, or a refusal to start; the cause is
# named, the model's own first (tasks, memory, CPU) and this machine's descriptor limit last.
# Before a step, its memory and its tasks are projected from the step before, and the step is
# skipped, saying why, when they would pass half of the RAM or the tasks the system has left.
# Where one fanout-load process cannot hold a step's users (its open-files limit, or the ~28,000
# source ports one address has for one target), the load is split over processes that each run
# a --segment of the same ramp from one instant (--start-at), each from a loopback address of
# its own (--source, Linux), merged exactly into the step's load.json (fanout-report merge).
# Writes bench/results/scale-<date-time>/ and its index.html (fanout-report --scale). See --help.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
ncpu=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)
BIN=${FANOUT_BIN:-$top/build/bin}
MODELS=${MODELS:-}
LADDER=${LADDER:-"100 300 1000 3000 10000 30000"}
RATE=${RATE:-1667}
OUT=""
MIN_DURATION=${MIN_DURATION:-30}
DURATION=${DURATION:-}
LOAD_PROCS=${LOAD_PROCS:-}
LOAD_SOURCES=${LOAD_SOURCES:-}

usage() {
    cat <<USAGE
usage: scripts/bench-scale.sh [options]        (or: scripts/bench.sh --scale [options])

For each model, runs fanout-load against fanout-server on a ladder of users at one offered rate,
and writes bench/results/scale-<date-time>/ with a table of models x users, charts against users
and an index.html.

  --models "M ..."     models to climb (default: every model fanout-server --list-models gives);
                       a target of bench/targets/ climbs too: NAME:SIZE at that size, NAME
                       alone at the processes a loop gets (SIZE as processes: node, nginx-lua)
  --ladder "N ..."     users of each step, rising (default "$LADDER")
  --rate R             offered pages a second: each step's page is /ms/ with
                       ms = users x 1000 / (2 R), rounded (default $RATE: /300/ at 1,000 users)
  --min-duration S     seconds of each step at least; longer where the ramp (users/10 a second
                       for 10 s), Locust's 12-second window and three pages need it
                       (default $MIN_DURATION)
  --duration S         every step S seconds exactly instead (a quick look; the ratios need
                       the ramp, the window and a few pages to mean much)
  --load-procs N       split every step's load over N fanout-load processes at least
                       (default: as many as descriptors and ports need, often 1)
  --out DIR            results folder (default bench/results/scale-<date-time>)
  -h, --help           this help

Sizes: prefork gets one process per user and threads one thread per user (their size caps
concurrency), threads in as many processes as its open-files limit requires (6.25 descriptors a
user), as uv and coro get the processes theirs require (4 descriptors a connection), reported.
The country API gets the workers and ports 3 calls per user need.

The load: one fanout-load process holds a connection (a descriptor) a user, and one source
address offers one target port only the ephemeral range (Linux: ip_local_port_range, ~28,000).
A step that needs more runs P processes, each a --segment of the same ramp started at one
instant, merged exactly into the step's load.json. On Linux each takes a loopback address of
its own (127.0.0.1, 127.0.0.2, ...: lo holds all of 127.0.0.0/8). macOS configures 127.0.0.1
only: the split still spreads descriptors, but every process shares its ~16,000 ports, and a
step that needs more is skipped (ports), unless you add addresses and name them:
  sudo ifconfig lo0 alias 127.0.0.2 && LOAD_SOURCES="127.0.0.1 127.0.0.2" scripts/bench-scale.sh

Guards: before each step its memory and its tasks (processes and threads) are projected from
the step before; it is skipped, with the reason, when the memory would pass half of the RAM or
the tasks what pid_max, threads-max (Linux) or ulimit -u leave free. Every process started is
stopped and waited for on exit or Ctrl-C.

Settings are read from the environment too: MODELS, LADDER, RATE, LOAD_PROCS, LOAD_SOURCES
(the load's source addresses, process i taking the i-th, round-robin).
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
    --load-procs) LOAD_PROCS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "bench-scale.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
done

die() { echo "bench-scale.sh: $*" >&2; exit 2; }
for b in fanout-api fanout-server fanout-load fanout-report fanout-mem fanout-switch; do
    [ -x "$BIN/$b" ] || die "$BIN/$b is missing: run 'make' first"
done
if [ -z "$MODELS" ]; then
    MODELS=$("$BIN/fanout-server" --list-models 2>/dev/null | awk '{ print $1 }' | paste -sd' ' -) || true
    [ -n "$MODELS" ] || MODELS="uv threads prefork"
fi
[[ $RATE =~ ^[0-9]+$ && $RATE -gt 0 ]] || die "--rate must be a positive whole number, not '$RATE'"
[[ $MIN_DURATION =~ ^[0-9]+$ && $MIN_DURATION -ge 5 ]] || die "--min-duration must be 5 seconds or more, not '$MIN_DURATION'"
[ -z "$DURATION" ] || [[ $DURATION =~ ^[0-9]+$ && $DURATION -ge 2 ]] || die "--duration must be 2 seconds or more, not '$DURATION'"
[ -z "$LOAD_PROCS" ] || [[ $LOAD_PROCS =~ ^[0-9]+$ && $LOAD_PROCS -ge 1 && $LOAD_PROCS -le 64 ]] ||
    die "--load-procs (LOAD_PROCS) must be 1 to 64, not '$LOAD_PROCS'"
src_list=()
[ -z "$LOAD_SOURCES" ] || read -r -a src_list <<<"$LOAD_SOURCES"
for a in "${src_list[@]:-}"; do
    [ -z "$a" ] || [[ $a =~ ^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+$ || $a == *:* ]] || die "LOAD_SOURCES wants IP addresses, not '$a'"
done
prev=0
for u in $LADDER; do
    [[ $u =~ ^[0-9]+$ && $u -ge 10 && $u -le 100000 ]] || die "a ladder step is 10 to 100000 users, not '$u'"
    [ "$u" -gt "$prev" ] || die "the ladder must rise: $u after $prev"
    prev=$u
done

. "$top/scripts/proc.sh"
calls=$(fo_fanout_calls) # the calls of a page (include/fanout/settings.h)
[ -n "$calls" ] || die "cannot read FO_FANOUT_CALLS from include/fanout/settings.h"
# Servers the suite did not build (bench/targets/NAME.target, scripts/targets.sh) climb the
# ladder as the models do: a MODELS word NAME or NAME:SIZE that names a target starts it at SIZE
# (its default without one) instead of fanout-server.
have_targets=0
if [ -f "$top/scripts/targets.sh" ]; then
    . "$top/scripts/targets.sh"
    have_targets=1
fi
is_target() { [ $have_targets = 1 ] && fo_target_exists "${1%%:*}"; }
for model in $MODELS; do
    [[ $model != *:* ]] || is_target "$model" || die "'$model': only a target takes a size here (see bench/targets/)"
done
# Every process here may hold thousands of sockets: the scripts' own limit goes to the hard one,
# and every binary checks what its configuration needs (and refuses with the numbers).
fo_raise_nofile
hard=$NOFILE
mem_kib=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo 2>/dev/null || true)
if [ -z "$mem_kib" ]; then
    mem_kib=$(($(sysctl -n hw.memsize 2>/dev/null || echo 8589934592) / 1024))
fi
# The load's source ports: one source address offers one target address and port its ephemeral
# range, less a tenth for whatever else runs. Linux's lo holds all of 127.0.0.0/8, so each load
# process can connect from an address of its own; elsewhere only LOAD_SOURCES' (macOS has
# 127.0.0.1 alone unless aliases are added).
if [ -r /proc/sys/net/ipv4/ip_local_port_range ]; then
    read -r port_lo port_hi </proc/sys/net/ipv4/ip_local_port_range
    auto_sources=1
else
    port_lo=$(sysctl -n net.inet.ip.portrange.first 2>/dev/null || echo 49152)
    port_hi=$(sysctl -n net.inet.ip.portrange.last 2>/dev/null || echo 65535)
    auto_sources=0
fi
port_span=$((port_hi - port_lo + 1))
ports_per_source=$((port_span * 9 / 10))

fo_results_dir "$top/bench/results/scale-$(date +%Y%m%d-%H%M%S)" steps.txt
# A target started goes with its whole process group.
trap 'if [ $have_targets = 1 ]; then fo_target_stop; fi; fo_stop_all' EXIT

# sample PID: "pss_kib kernel_kib rss_sum_kib threads procs fds" of a process tree. Memory,
# threads and processes come from fanout-mem (fo_mem_sample: every descendant; -1 where this
# system does not give a figure); descriptors from /proc on Linux, only when asked (FDS=1), else
# -1.
sample() {
    local pss kernel rss procs tasks fds=-1 p
    read -r pss kernel rss procs tasks <<<"$(fo_mem_sample "$BIN/fanout-mem" "$1")"
    [ "$procs" -ge 0 ] || procs=$(fo_tree_pids "$1" | wc -l | tr -d ' ')
    if [ "${FDS:-0}" = 1 ] && [ -d /proc/self/fd ]; then
        # One ls for the whole tree (a find per process forked a thousand times for prefork):
        # it lists each folder under a "DIR:" header, blank lines between.
        # shellcheck disable=SC2046,SC2012 # one folder a word; the names are numbers
        fds=$(ls -1U $(fo_tree_pids "$1" | sed 's|.*|/proc/&/fd|') 2>/dev/null |
            awk 'NF && !/:$/ { n++ } END { print n + 0 }')
    fi
    echo "$pss $kernel $rss $tasks $procs $fds"
}

# stop_server: stops the step's server, a target with its own signal.
stop_server() {
    if [ -n "$target" ]; then fo_target_stop; else fo_stop "$srv_pid"; fi
}

ceil_div() { echo $((($1 + $2 - 1) / $2)); }

# task_room: "ROOM LIMIT": how many more tasks (processes and threads) may start now, and the
# limit that says so. Linux: pid_max and threads-max less every task running (/proc/loadavg's
# total); everywhere: ulimit -u's hard limit (fanout-server raises its soft one to it) less this
# user's tasks, except for root, whom the kernel does not hold to it. "-1 none" if nothing is
# known. Linux counts threads against every limit, macOS processes only. FANOUT_TASK_ROOM="ROOM
# LIMIT" stands in for it (the tests' machine short of tasks).
task_room() {
    local room=-1 limit=none used lim uid
    if [ -n "${FANOUT_TASK_ROOM:-}" ]; then echo "$FANOUT_TASK_ROOM"; return; fi
    if [ -r /proc/loadavg ] && [ -r /proc/sys/kernel/pid_max ]; then
        used=$(awk '{ split($4, a, "/"); print a[2] + 0 }' /proc/loadavg)
        for lim in pid_max threads-max; do
            local left=$(($(cat "/proc/sys/kernel/$lim") - used))
            if [ "$room" -lt 0 ] || [ "$left" -lt "$room" ]; then room=$left limit="$lim $(cat "/proc/sys/kernel/$lim")"; fi
        done
    else
        lim=$(sysctl -n kern.maxproc 2>/dev/null || echo 0)
        used=$(ps -A -o pid= | wc -l)
        [ "$lim" -gt 0 ] && room=$((lim - used)) limit="kern.maxproc $lim"
    fi
    uid=$(id -u)
    lim=$(ulimit -Hu)
    if [ "$uid" != 0 ] && [ "$lim" != unlimited ]; then
        if [ -r /proc/loadavg ]; then used=$(ps -L -u "$uid" -o lwp= | wc -l); else used=$(ps -U "$uid" -o pid= | wc -l); fi
        local left=$((lim - used))
        if [ "$room" -lt 0 ] || [ "$left" -lt "$room" ]; then room=$left limit="RLIMIT_NPROC (ulimit -u) $lim"; fi
    fi
    echo "$room $limit"
}

# plan_load USERS: how a step's load runs. Sets load_procs (fanout-load processes, each a
# --segment of the one ramp), load_threads (each one's), load_src (each one's --source, or none)
# and ports_short (why the ports cannot hold USERS, or empty). A process holds a descriptor a
# user besides a few of its own (FO_FD_RESERVE and 8 a thread: 64 covers them); one source
# address ports_per_source users.
plan_load() {
    local users=$1 n_src by_ports per_addr i
    load_procs=$(ceil_div "$users" $((hard - 64)))
    [ -n "$LOAD_PROCS" ] && [ "$LOAD_PROCS" -gt "$load_procs" ] && load_procs=$LOAD_PROCS
    if [ -n "$LOAD_SOURCES" ]; then n_src=${#src_list[@]}
    elif [ $auto_sources = 1 ]; then n_src=254
    else n_src=1; fi
    by_ports=$(ceil_div "$users" "$ports_per_source")
    [ "$n_src" -gt 1 ] && [ "$by_ports" -gt "$load_procs" ] && load_procs=$by_ports
    [ "$load_procs" -gt "$users" ] && load_procs=$users
    # As many threads in all as one process had (2 from 3,000 users): the harness's CPU stays
    # what it was, only spread.
    load_threads=1
    [ "$users" -ge 3000 ] && load_threads=2
    load_threads=$(ceil_div "$load_threads" "$load_procs")
    load_src=()
    if [ -n "$LOAD_SOURCES" ] || { [ $auto_sources = 1 ] && [ "$load_procs" -gt 1 ]; }; then
        for i in $(seq 0 $((load_procs - 1))); do
            if [ -n "$LOAD_SOURCES" ]; then load_src+=("${src_list[$((i % n_src))]}")
            else load_src+=("127.0.0.$((i + 1))"); fi
        done
    fi
    # The users of the busiest source address (the processes take the addresses round-robin).
    local n_used=${#load_src[@]}
    [ "$n_used" -gt "$n_src" ] && n_used=$n_src
    [ "$n_used" -lt 1 ] && n_used=1
    per_addr=$(($(ceil_div "$users" "$load_procs") * $(ceil_div "$load_procs" "$n_used")))
    ports_short=""
    if [ "$per_addr" -gt "$ports_per_source" ]; then
        ports_short="ports: $per_addr connections from one source address to the server's port need more than this machine's $port_span ephemeral ports ($port_lo-$port_hi) less a tenth; add loopback addresses and name them in LOAD_SOURCES (see --help)"
    fi
}

# start_load PREFIX SOURCE ARGS...: one fanout-load process in the background, ARGS and (unless
# SOURCE is empty) --source SOURCE, writing PREFIX.json, .txt and .err; its PID joins PIDS (the
# cleanup's) and load_pids.
start_load() {
    local prefix=$1 src=$2
    shift 2
    [ -n "$src" ] && set -- "$@" --source "$src"
    "$BIN/fanout-load" "$@" --json "$prefix.json" "$srv_url/$ms/" >"$prefix.txt" 2>"$prefix.err" &
    PIDS+=("$!")
    load_pids+=("$!")
}

# merge_segments PREFIX: merges the segments PREFIX.load.I.json (I < load_procs) exactly into
# PREFIX.load.json, the file the report reads, logging to PREFIX.merge.log. Otherwise nothing is
# written, and load_err names the log that says why: the first segment's that wrote nothing,
# or the merge's.
merge_segments() {
    local i segs=()
    for i in $(seq 0 $((load_procs - 1))); do
        if [ ! -s "$1.load.$i.json" ]; then
            load_err=$1.load.$i.err
            return 1
        fi
        segs+=("$1.load.$i.json")
    done
    if ! "$BIN/fanout-report" merge "$1.load.json" "${segs[@]}" >"$1.merge.log" 2>&1; then
        rm -f "$1.load.json"
        load_err=$1.merge.log
        return 1
    fi
}

# load_running: whether any of load_pids still runs (bash reaps its ended children itself).
load_running() {
    local p
    for p in "${load_pids[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done
    return 1
}

# Linux's system-wide counts the report quotes, to show whether a step met them: connections
# dropped for a full accept queue (TcpExt ListenOverflows) and the connection-tracking table's
# entries (when netfilter's conntrack is loaded). -1 where there is no such count.
listen_overflows() {
    awk '$1 == "TcpExt:" { if (!h) { for (i = 2; i <= NF; i++) k[i] = $i; h = 1 }
        else for (i = 2; i <= NF; i++) if (k[i] == "ListenOverflows") v = $i }
        END { print (v == "" ? -1 : v) }' /proc/net/netstat 2>/dev/null || echo -1
}
conntrack_count() { cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || echo -1; }
conntrack_max=$(cat /proc/sys/net/netfilter/nf_conntrack_max 2>/dev/null || echo -1)

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

# cause_of_refusal LOG: what a refusal at start says ran out, the model's own needs (tasks,
# memory) before this machine's descriptor limit.
cause_of_refusal() {
    if grep -q "processes and threads" "$1"; then echo tasks
    elif grep -qi "memory" "$1"; then echo memory
    elif grep -q "descriptors" "$1"; then echo descriptors
    else echo "refused"; fi
}

# refusal_words CAUSE WORDS: the reason a refused step records, naming whose limit it was.
refusal_words() {
    case $1 in
    descriptors) echo "descriptors: this machine's open-files hard limit $hard ($2)" ;;
    tasks) echo "tasks (pid_max / RLIMIT_NPROC): $2" ;;
    *) echo "$2" ;;
    esac
}

echo "fanout bench-scale: models $MODELS; ladder $LADDER users at $RATE pages/s offered"
read -r room limit <<<"$(task_room)"
echo "machine: $ncpu cores, $((mem_kib / 1048576)) GiB; open-files hard limit $hard; $port_span ephemeral ports a source address; $room tasks free ($limit)"
echo "results: $OUT"
# What a switch between tasks costs this machine, once: a hop round a ring of processes (prefork's
# workers) and of threads (threads'), as many as the ladder's largest step up to 1,000. Where the
# first grows with the processes (a virtual machine with its page tables in software), it is what
# stops a process per connection (README, "At scale"). Written to switch.json for the report.
switch_tasks=$(echo "$LADDER" | tr ' ' '\n' | awk '$1 > m { m = $1 } END { print (m > 1000 ? 1000 : (m < 2 ? 2 : m)) }')
if "$BIN/fanout-switch" --rounds 1 --tasks "$switch_tasks" --hops $((switch_tasks * 5)) \
    >"$OUT/switch.txt" 2>&1; then
    hop() { sed -n "s/.*ring of $switch_tasks $1[a-z ]*: \([0-9.]*\) us.*/\1/p" "$OUT/switch.txt"; }
    p_us=$(hop processes) t_us=$(hop threads)
    printf '{"tasks": %s, "process_hop_us": %s, "thread_hop_us": %s}\n' "$switch_tasks" \
        "${p_us:-null}" "${t_us:-null}" >"$OUT/switch.json"
    echo "machine: a hop between $switch_tasks processes takes $p_us us, between $switch_tasks threads $t_us us (fanout-switch --tasks $switch_tasks)"
else
    echo "machine: the switch between tasks was not measured: $(tail -1 "$OUT/switch.txt")"
fi
for model in $MODELS; do
    prev_ran=""
    tasks_per_user=0
    broke=""
    for users in $LADDER; do
        name="${model//:/-}-$users"
        ms=$(fo_ms_for_floor "$(awk -v u="$users" -v r="$RATE" 'BEGIN { printf "%.6f", u * 1000 / r }')")
        floor_s=$(awk -v f="$(fo_floor_ms "$ms")" 'BEGIN { printf "%.3f", f / 1000 }')
        dur=$(awk -v f="$floor_s" -v m="$MIN_DURATION" 'BEGIN { d = 10 + 12 + 3 * f; if (d < m) d = m;
            printf "%d", d + 0.999 }')
        [ -n "$DURATION" ] && dur=$DURATION
        common=(model="$model" users="$users" ms="$ms" rate="$RATE" duration_s="$dur")
        if [ -n "$broke" ]; then
            step_json "$name" "${common[@]}" status=not-run reason="$model broke at $broke"
            continue
        fi
        # Guard the machine: the step's tasks (every process and thread of the server's tree,
        # at its peak), projected from the step before, against what the limits leave free now;
        # 512 stay for the API, the load and the rest of the system.
        if [ "$tasks_per_user" != 0 ]; then
            read -r room limit <<<"$(task_room)"
            projected=$(awk -v t="$tasks_per_user" -v u="$users" 'BEGIN { printf "%d", t * u * 1.1 + 0.999 }')
            if [ "$room" -ge 0 ] && [ $((projected + 512)) -gt "$room" ]; then
                reason="tasks: $users users would start about $projected processes and threads, more than the $room that $limit leaves free (less 512 for the rest)"
                echo "[$model $users] skipped: $reason"
                step_json "$name" "${common[@]}" status=skipped cause=tasks reason="$reason"
                broke=$users
                continue
            fi
        fi
        # Guard the machine: the step's memory (PSS + kernel), projected from the last step
        # that ran (fanout-report --scale-guard: fo_scale_guard in src/scale.c).
        if [ -n "$prev_ran" ]; then
            guard=0
            reason=$("$BIN/fanout-report" --scale-guard "$OUT/$prev_ran" "$users") || guard=$?
            if [ "$guard" = 3 ]; then
                echo "[$model $users] skipped: $reason"
                step_json "$name" "${common[@]}" status=skipped cause=memory reason="$reason"
                broke=$users
                continue
            fi
            [ "$guard" = 0 ] || die "the memory guard could not project $name from $prev_ran"
        fi
        target=""
        is_target "$model" && target=${model%%:*}
        size_flag=()
        # An event loop holds 4 descriptors a connection; room for 1.25 x the users.
        loop_procs=$(ceil_div $((users * 5 / 4)) $(((hard - 64) / 4)))
        if [ -n "$target" ]; then
            # A target runs at the size it is given, or, named alone, at the processes an event
            # loop would get here (Node.js's cluster, nginx's workers: their SIZE is processes).
            # A peer (TARGET_KIND=peer) takes the API's every port, as the models do; the blog's
            # stacks take its first.
            fo_target_load "$target" || die "the target $target cannot be loaded"
            size=$loop_procs
            [[ $model == *:* ]] && size=${model#*:}
        else case $model in
        threads)
            # A thread per user, in as many processes as descriptors require, like uv: a thread
            # holds 5 (its 3 upstream connections and libcurl's wake-up pair) and its user's
            # connection one, with room for 1.25 x the users: 6.25 a user.
            per_proc=$(((hard - 64) * 4 / 25))
            procs=$(ceil_div "$users" "$per_proc")
            size=$users
            size_flag=(--workers "$procs" --threads "$(ceil_div "$users" "$procs")")
            echo "[$model $users] $procs processes of $(ceil_div "$users" "$procs") threads"
            ;;
        prefork) size_flag=(--workers "$users"); size=$users ;;
        *) size=$loop_procs; size_flag=(--workers "$size") ;;
        esac; fi
        # Ports: one address pair offers ~28,000 source ports, and libcurl looks for an idle
        # connection among all of one host:port's (a list): a few thousand a port keeps it short.
        api_ports=$(ceil_div $((calls * users)) 2000)
        [ "$api_ports" -gt 32 ] && api_ports=32
        api_workers=$(ceil_div $((calls * users * 5 / 4)) $((hard - 100)))
        plan_load "$users"
        if [ -n "$ports_short" ]; then
            echo "[$model $users] skipped: $ports_short"
            step_json "$name" "${common[@]}" status=skipped cause=ports reason="$ports_short"
            broke=$users
            continue
        fi

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
        if [ -n "$target" ]; then
            target_up=$api_url
            [ "$TARGET_KIND" = peer ] && target_up=$upstream
            if fo_target_start "$target" "$size" "$target_up" "$OUT/$name.work" "$OUT/$name.server.log" 2>"$OUT/$name.start.err"; then
                srv_pid=$TARGET_PID PORT=$TARGET_PORT
            else
                reason=$(tail -1 "$OUT/$name.start.err")
                echo "[$model $users] refused at start: $reason"
                step_json "$name" "${common[@]}" size="$size" status=refused cause=start reason="$reason"
                fo_stop "$api_pid"
                broke=$users
                continue
            fi
        elif ! fo_start "$OUT/$name.server.log" 600 "$BIN/fanout-server" --model "$model" \
            "${size_flag[@]}" --port 0 --upstream "$upstream" --backlog 4096 \
            --upstream-timeout 60000 --shutdown-timeout 5000; then
            cause=$(cause_of_refusal "$OUT/$name.server.log")
            reason=$(grep -m1 "fanout-server:" "$OUT/$name.server.log" || tail -1 "$OUT/$name.server.log")
            reason=$(refusal_words "$cause" "$reason")
            echo "[$model $users] refused at start ($cause): $reason"
            step_json "$name" "${common[@]}" size="$size" status=refused cause="$cause" reason="$reason" \
                fd_limit="$hard"
            fo_stop "$PID"
            fo_stop "$api_pid"
            broke=$users
            continue
        fi
        [ -n "$target" ] || srv_pid=$PID
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
            stop_server
            fo_stop "$api_pid"
            broke=$users
            continue
        fi
        # The first answer comes from the first worker up; the load starts once every worker
        # is (a supervisor forks 1,000 prefork workers over seconds, and their start-up would
        # otherwise be measured as serving: the CPU baseline is read after it), and the tree
        # has been quiet for a second.
        want_procs=1
        [ "${size_flag[0]:-}" = --workers ] && [ "${size_flag[1]}" -gt 1 ] && want_procs=$((size_flag[1] + 1))
        for _ in $(seq 1200); do
            [ "$(fo_tree_pids "$srv_pid" | wc -l)" -ge "$want_procs" ] && break
            sleep 0.1
        done
        sleep 1
        curl -s "$api_url/stats/reset" >/dev/null
        srv_cpu0=$(fo_tree_cpu_s "$srv_pid")
        api_cpu0=$(fo_tree_cpu_s "$api_pid")
        spawn=$(awk -v u="$users" 'BEGIN { printf "%g", u / 10 }')
        load_words="load $load_threads threads"
        [ "$load_procs" -gt 1 ] && load_words="load $load_procs processes x $load_threads threads"
        [ -n "${load_src[0]:-}" ] && load_words="$load_words from ${load_src[*]}"
        echo "[$model $users] /$ms/ (floor $floor_s s), $dur s, $model size $size, API $api_workers workers x $api_ports ports, $load_words"
        load_args=(--quiet --users "$users" --spawn-rate "$spawn" --duration "${dur}s"
            --threads "$load_threads" --timeout 60s --max-failure-ratio 1)
        load_pids=()
        overflows0=$(listen_overflows)
        if [ "$load_procs" = 1 ]; then
            t0=$(date +%s)
            start_load "$OUT/$name.load" "${load_src[0]:-}" "${load_args[@]}"
        else
            # Every segment starts its ramp at one instant, far enough ahead for all to be ready.
            t0=$(($(date +%s) + 3))
            for i in $(seq 0 $((load_procs - 1))); do
                start_load "$OUT/$name.load.$i" "${load_src[$i]:-}" "${load_args[@]}" \
                    --segment "$i/$load_procs" --start-at "$t0"
            done
        fi
        # Memory: PSS and the kernel's part at the sample where their sum peaked (added as
        # fo_model_mem_kib adds them), the RSS sum's own peak (only for comparison with top),
        # and the system's socket buffers, the same for every model, apart.
        peak_mem=-1 peak_pss=-1 peak_kernel=-1 peak_rss=-1 peak_sockets=-1 api_peak_mem=-1
        peak_threads=0 peak_procs=0 peak_fds=0 n=0 load_cpu=0
        peak_conntrack=-1
        # The server's tree is sampled every second while it is small, and more rarely as it
        # grows: reading 1,000 processes' smaps_rollup (and their descriptors) takes the
        # machine's CPU and each process's memory lock, and sampling prefork's 1,000 workers
        # every second cost it a quarter of its RPS. Its memory settles once the ramp is over,
        # so a sample every procs/100 seconds still finds the peak.
        every=1 ticks=0 machine0=""
        while load_running; do
            # The machine's CPU from the load's start (t0): its busy share over the step.
            [ -z "$machine0" ] && [ "$(date +%s)" -ge "$t0" ] && machine0=$(fo_machine_ticks)
            ticks=$((ticks + 1))
            if [ $(((ticks - 1) % every)) = 0 ]; then
                n=$((n + 1))
                # Descriptors every 4th sample from the second on (not during the ramp's first
                # seconds): counting them is the costly part.
                FDS=$((n % 4 == 2 ? 1 : 0))
                # shellcheck disable=SC2046 # sample prints six numbers, one a word
                set -- $(FDS=$FDS sample "$srv_pid")
                mem=$(($1 + ($2 > 0 ? $2 : 0)))
                if [ "$1" -ge 0 ] && [ "$mem" -gt "$peak_mem" ]; then peak_mem=$mem peak_pss=$1 peak_kernel=$2; fi
                [ "$3" -gt "$peak_rss" ] && peak_rss=$3
                [ "$4" -gt "$peak_threads" ] && peak_threads=$4
                [ "$5" -gt "$peak_procs" ] && peak_procs=$5
                [ "$6" -gt "$peak_fds" ] && peak_fds=$6
                every=$((1 + $5 / 100))
                # shellcheck disable=SC2046
                set -- $(sample "$api_pid")
                mem=$(($1 + ($2 > 0 ? $2 : 0)))
                [ "$1" -ge 0 ] && [ "$mem" -gt "$api_peak_mem" ] && api_peak_mem=$mem
            fi
            sockets=$(fo_sockets_kib "$BIN/fanout-mem")
            [ "${sockets:--1}" -gt "$peak_sockets" ] && peak_sockets=$sockets
            # The load generators' CPU so far, the largest sum seen: a sample after a process
            # ended reads nothing of it. Their last second is missed, which flatters the harness
            # by under a second of its CPU.
            c=$(for p in "${load_pids[@]}"; do fo_tree_cpu_s "$p"; echo; done | awk '{ s += $1 } END { print s + 0 }')
            load_cpu=$(awk -v a="$load_cpu" -v b="$c" 'BEGIN { print (b > a ? b : a) }')
            c=$(conntrack_count)
            [ "$c" -gt "$peak_conntrack" ] && peak_conntrack=$c
            sleep 1
        done
        # Every load process's exit status; the worst is kept (0 ok, 1 failures, 2 usage, 3
        # unreachable, 4 other errors).
        load_rc=0
        for p in "${load_pids[@]}"; do
            rc=0
            wait "$p" || rc=$?
            fo_forget "$p"
            [ "$rc" -gt "$load_rc" ] && load_rc=$rc
        done
        overflows=$(listen_overflows)
        [ "$overflows" -ge 0 ] && overflows=$((overflows - overflows0))
        wall=$(($(date +%s) - t0))
        # shellcheck disable=SC2046,SC2086 # two numbers each, split on purpose
        machine_busy=$(echo ${machine0:--1 -1} $(fo_machine_ticks) |
            awk '{ printf "%.3f", (($1 < 0 || $4 <= $2) ? -1 : ($3 - $1) / ($4 - $2)) }')
        srv_cpu=$(fo_cpu_since "$srv_cpu0" "$srv_pid")
        api_cpu=$(fo_cpu_since "$api_cpu0" "$api_pid")
        api_peak=$(curl -s "$api_url/stats" | sed -n 's/.*"peak_in_flight":\([0-9]*\).*/\1/p')
        stop_server
        fo_stop "$api_pid"
        load_err=$OUT/$name.load.err
        [ "$load_procs" = 1 ] || merge_segments "$OUT/$name" || true
        if [ ! -s "$OUT/$name.load.json" ]; then
            echo "[$model $users] fanout-load failed (exit $load_rc): $(tail -3 "$load_err")" >&2
            step_json "$name" "${common[@]}" size="$size" status=refused cause=load \
                reason="fanout-load failed: $(tail -1 "$load_err")" load_procs="$load_procs"
            broke=$users
            continue
        fi
        step_json "$name" "${common[@]}" status=ran size="$size" wall_s="$wall" \
            pss_kib="$peak_pss" kernel_kib="$peak_kernel" rss_sum_kib="$peak_rss" \
            sockets_kib="$peak_sockets" cpu_s="$srv_cpu" peak_threads="$peak_threads" \
            peak_procs="$peak_procs" peak_fds="$peak_fds" fd_limit="$hard" \
            api_workers="$api_workers" api_ports="$api_ports" api_cpu_s="$api_cpu" \
            api_peak_mem_kib="$api_peak_mem" api_peak_in_flight="${api_peak:-0}" \
            load_threads="$((load_threads * load_procs))" load_cpu_s="$load_cpu" load_exit="$load_rc" \
            load_procs="$load_procs" load_sources="${load_src[*]:-}" listen_overflows="$overflows" \
            peak_conntrack="$peak_conntrack" conntrack_max="$conntrack_max" \
            mem_kib="$mem_kib" cores="$ncpu" machine_busy="$machine_busy"
        # The step's verdict (failures, p95 / floor) and cause are the report's to judge; it
        # prints the step's line and exits 3 when the model broke there.
        verdict=0
        "$BIN/fanout-report" --scale-step "$OUT/$name" || verdict=$?
        [ "$verdict" = 3 ] && broke=$users
        prev_ran=$name
        # Threads where they are counted (Linux), else processes (macOS: each its own pid).
        tasks_per_user=$(awk -v t="$peak_threads" -v p="$peak_procs" -v u="$users" 'BEGIN {
            printf "%.4f", (t > 0 ? t : p) / u }')
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

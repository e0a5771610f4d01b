# shellcheck shell=bash
# Sourced by the scripts and the integration tests: starts a server in the background and reads
# back the port it prints on its first line ("... listening on HOST:PORT ...", or fake test
# servers' "listening on PORT"), and lists a process's children. Every process it starts is added
# to the array PIDS, so that the caller's cleanup can end them by PID. Only what macOS's and
# Linux's userlands both have: no /proc, no GNU-only options.

# fo_start LOG TRIES CMD...: runs CMD with stdout and stderr to LOG, and polls it every 0.1 s,
# at most TRIES times, for the port. Sets PID and PORT; returns 1 when CMD exits or never says.
fo_start() {
    local log=$1 tries=$2
    shift 2
    : >"$log" # exists before the first poll, whenever the child opens it
    "$@" >"$log" 2>&1 &
    PID=$!
    PIDS+=("$PID")
    for _ in $(seq "$tries"); do
        PORT=$(sed -n '1s/.*listening on [^ ]*:\([0-9][0-9]*\).*/\1/p; 1s/^listening on \([0-9][0-9]*\)$/\1/p' "$log")
        [ -n "$PORT" ] && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}

# fo_start_or_exit NAME LOG CMD...: fo_start with 10 s to say its port; a program that does not
# start ends the caller (exit 1) with the first lines of its log.
fo_start_or_exit() {
    local name=$1 log=$2
    shift 2
    fo_start "$log" 100 "$@" && return 0
    echo "${0##*/}: $name did not start: $(head -3 "$log")" >&2
    exit 1
}

# fo_results_dir DEFAULT LIST: the benchmark scripts' set-up: OUT (DEFAULT when unset) made and
# absolute, OUT/LIST emptied, and every process in PIDS stopped on exit or interruption.
fo_results_dir() {
    [ -n "$OUT" ] || OUT=$1
    mkdir -p "$OUT"
    OUT=$(cd "$OUT" && pwd)
    : >"$OUT/$2"
    PIDS=()
    trap fo_stop_all EXIT
    trap 'echo; echo "${0##*/}: interrupted; stopping everything" >&2; exit 130' INT TERM
}

# fo_free_port: a loopback port nothing listens on now (the kernel picks it; python3 is a test
# dependency).
fo_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# fo_children PID: the PIDs of PID's child processes, one a line (ps -A -o: POSIX, and the same
# on macOS and Linux).
fo_children() {
    ps -A -o pid= -o ppid= | awk -v p="$1" '$2 == p { print $1 }'
}

# fo_tree_pids PID: PID and every descendant of it (children, their children, ...), one a line,
# PID first. A server's workers may be grandchildren (uWSGI's under its master, a target's under
# the shell that started it).
fo_tree_pids() {
    ps -A -o pid= -o ppid= | awk -v root="$1" '{ kids[$2] = kids[$2] " " $1 }
        END { n = 1; q[1] = root; for (i = 1; i <= n; i++) { print q[i]; m = split(kids[q[i]], k, " ");
            for (j = 1; j <= m; j++) if (k[j] != q[i]) q[++n] = k[j] } }'
}

# fo_tree_rss_kib PID: resident memory of PID and its children together, in KiB: a sum of RSS,
# which counts every shared page once per process (fo_mem_sample gives what they cost).
fo_tree_rss_kib() {
    { ps -o rss= -p "$(fo_tree_pids "$1" | paste -sd, -)" 2>/dev/null || true; } | awk '{ s += $1 } END { print s + 0 }'
}

# fo_mem_sample FANOUT_MEM PID: "pss_kib kernel_kib rss_sum_kib procs tasks" of PID's process
# tree (PID and every descendant), read by fanout-mem (the program's path is the first
# argument); a figure this system does not give is -1. Where fanout-mem cannot measure, the RSS
# sum of PID and its children from ps stands in and the rest is -1, so that callers still have
# a figure to compare with top, never a PSS they did not measure.
fo_mem_sample() {
    local json
    if json=$("$1" "$2" 2>/dev/null); then
        awk -v j="$json" 'BEGIN { n = split("pss_kib kernel_kib rss_sum_kib procs tasks", k, " ");
            for (i = 1; i <= n; i++) { v = -1; key = "\"" k[i] "\":";
                if (match(j, key "[0-9]+")) v = substr(j, RSTART + length(key), RLENGTH - length(key));
                printf "%s%s", v, (i < n ? " " : "\n") } }'
    else
        echo "-1 -1 $(fo_tree_rss_kib "$2") -1 -1"
    fi
}

# fo_sockets_kib FANOUT_MEM: the system's socket buffer memory in KiB (fanout-mem --sockets), or
# -1 where it cannot be read (macOS).
fo_sockets_kib() {
    local json
    json=$("$1" --sockets 2>/dev/null) || { echo -1; return 0; }
    echo "$json" | sed -n 's/.*"sockets_kib":\([0-9]*\).*/\1/p'
}

# fo_machine_ticks: "BUSY TOTAL", the machine's CPU time so far in clock ticks, busy (every state
# but idle and I/O wait: user, nice, system, interrupts, steal) and in all (/proc/stat's first
# line); "-1 -1" where there is no /proc/stat (macOS). Two readings give the share of the
# machine's CPU that everything used in between, kernel threads included.
fo_machine_ticks() {
    if [ -r /proc/stat ]; then
        awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
    else
        echo "-1 -1"
    fi
}

# fo_tree_cpu_s PID: CPU seconds PID and its descendants have run so far, counting the threads
# and processes that ended meanwhile. On Linux, per process: the larger of the scheduler's count of
# its live threads' run time (/proc/PID/task/TID/schedstat, nanoseconds: exact, where the ticks
# of /proc/PID/stat truncate a process that ran 5 ms to 0, and prefork's 1,000 workers summed to
# 0.00 s against 5.5 s) and the process's own user + system time (/proc/PID/stat, which also
# holds its threads that ended: the blog's sync view starts a thread pool per request, and the
# live threads' schedstat read 2.6 ms a page where this reads 58), plus the user + system time
# of its children that ended and were reaped (cutime + cstime). Elsewhere ps's time,
# [[dd-]hh:]mm:ss.cc, of the live processes.
fo_tree_cpu_s() {
    local pids p
    pids=$(fo_tree_pids "$1")
    if [ -r /proc/self/schedstat ]; then
        # One cat for the whole tree (a sed and a cat per process forked thousands for prefork):
        # each process's stat line (it holds "(comm)") and then its threads' schedstat lines. A
        # process may end while it is read: what is gone counts nothing, and is no error.
        local files=()
        for p in $pids; do files+=("/proc/$p/stat" /proc/"$p"/task/*/schedstat); done
        { cat -- "${files[@]}" 2>/dev/null || true; } |
            awk -v hz="$(getconf CLK_TCK)" 'function flush() { t += (own > ns ? own : ns) + kids; own = ns = kids = 0 }
            /\)/ { flush(); sub(/.*\) /, ""); if (NF > 15) { own = ($12 + $13) / hz; kids = ($14 + $15) / hz }; next }
            { ns += $1 / 1e9 }
            END { flush(); printf "%.2f", t }'
    else
        { ps -o time= -p "$(echo "$pids" | paste -sd, -)" || true; } | awk '{ n = split($1, a, /[-:]/); s = 0;
            for (i = 1; i <= n; i++) s = s * 60 + a[i]; t += s } END { printf "%.2f", t }'
    fi
}

# fo_cpu_since BASE PID: CPU seconds PID and its children have run since fo_tree_cpu_s read BASE
# for them. Read BASE once the process does what is measured (a server that answers), so that
# its start-up (loading, forking workers, reserving tables) stays out of the figure. Never below
# 0: a child that ended meanwhile takes its CPU out of the sum.
fo_cpu_since() {
    awk -v a="$1" -v b="$(fo_tree_cpu_s "$2")" 'BEGIN { d = b - a; if (d < 0) d = 0; printf "%.2f", d }'
}

# fo_stop PID: SIGTERM, up to 20 s for PID to end, then SIGKILL of it and its children (a
# supervisor's workers must not outlive it); reaps PID when it is the caller's child, and drops
# it from PIDS.
fo_stop() {
    local kids
    fo_forget "$1"
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$1" 2>/dev/null; then
        kids=$(fo_tree_pids "$1")
        # shellcheck disable=SC2086 # one PID a word
        kill -9 $kids 2>/dev/null || true
    fi
    wait "$1" 2>/dev/null || true
}

# fo_forget PID: drops PID from PIDS once the caller has ended and reaped it, so that a later
# cleanup never signals a process that has since been given the same number (a ladder of
# thousands of workers goes round pid_max).
fo_forget() {
    local keep=() p
    for p in "${PIDS[@]:-}"; do
        if [ -n "$p" ] && [ "$p" != "$1" ]; then keep+=("$p"); fi
    done
    PIDS=("${keep[@]:-}")
}

# fo_stop_all: ends every process in PIDS, the way a script's EXIT trap should: SIGTERM to all
# at once, up to 10 s for each, then SIGKILL; and waits for each (the caller's children).
fo_stop_all() {
    local pid
    for pid in "${PIDS[@]:-}"; do if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; done
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] || continue
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

# fo_raise_nofile: raises this shell's open-files limit (and so its children's) to the hard
# limit, as far as 1,048,576, and sets NOFILE to the limit now in force (call it in the shell
# itself, not in $(...)). Every binary still checks what its own configuration needs.
fo_raise_nofile() {
    local hard
    hard=$(ulimit -Hn)
    if [ "$hard" = unlimited ] || [ "$hard" -gt 1048576 ]; then hard=1048576; fi
    ulimit -n "$hard" 2>/dev/null || true
    # shellcheck disable=SC2034 # for the caller
    NOFILE=$(ulimit -n)
}

# fo_pin_split: on a machine of 2 or more CPUs with taskset (Linux), sets PIN_TARGET and
# PIN_CLIENT to command prefixes that run a target on the last CPU and a load generator on the
# others, so the two never take turns on one CPU (the scheduler would otherwise move them
# together now and then, and the generator's timing would show the target's work). Elsewhere
# (macOS has no CPU affinity tool) both are empty and PIN_NOTE says why.
fo_pin_split() {
    local n
    n=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
    # shellcheck disable=SC2034 # for the caller
    PIN_TARGET=() PIN_CLIENT=()
    if [ "$n" -lt 2 ]; then
        PIN_NOTE="not pinned: one CPU"
    elif ! command -v taskset >/dev/null 2>&1; then
        PIN_NOTE="not pinned: no taskset here (the target and the generator share the CPUs)"
    else
        # shellcheck disable=SC2034 # for the caller
        PIN_TARGET=(taskset -c "$((n - 1))")
        if [ "$n" -eq 2 ]; then PIN_CLIENT=(taskset -c 0); else PIN_CLIENT=(taskset -c "0-$((n - 2))"); fi
        # shellcheck disable=SC2034 # for the caller
        PIN_NOTE="pinned: target on CPU $((n - 1)), generator on CPU ${PIN_CLIENT[2]}"
    fi
}

# fo_fanout_calls: the calls a front page fans out to the country API (FO_FANOUT_CALLS, read
# from include/fanout/settings.h, where the C code has it).
fo_fanout_calls() {
    sed -n 's/^#define FO_FANOUT_CALLS \([0-9][0-9]*\).*/\1/p' \
        "$(dirname "${BASH_SOURCE[0]}")/../include/fanout/settings.h"
}

# fo_floor_ms MS: the floor of a page at /MS/, its slowest call (FO_FLOOR_MS in
# include/fanout/settings.h), in ms; MS may have a fraction.
fo_floor_ms() {
    awk -v ms="$1" 'BEGIN { printf "%g\n", 2 * ms }'
}

# fo_ms_for_floor FLOOR_MS: the page (/MS/, rounded to a whole ms) whose floor is FLOOR_MS, the
# inverse of fo_floor_ms.
fo_ms_for_floor() {
    awk -v f="$1" 'BEGIN { printf "%d\n", f / 2 + 0.5 }'
}

# fo_cpu_run FILE CMD...: runs CMD and, once it ends, writes to FILE the CPU seconds (user +
# system) it and the children it reaped used, from the kernel's own count (times(2) in a perl
# wrapper: CMD runs in the background of a script, and $(...) or the shell's `times` would also
# count the script's other children). SIGTERM and SIGINT to the wrapper go on to CMD. Exits
# with CMD's status.
fo_cpu_run() {
    local file=$1
    shift
    perl -e 'my $f = shift; my $pid = fork; die "fork: $!\n" unless defined $pid;
        if (!$pid) { exec @ARGV or die "exec $ARGV[0]: $!\n" }
        $SIG{$_} = sub { kill $_[0], $pid } for qw(TERM INT);
        waitpid($pid, 0); my $rc = $?; my (undef, undef, $cu, $cs) = times;
        open(my $o, ">", $f) or die "$f: $!\n"; printf $o "%.2f\n", $cu + $cs; close $o;
        exit($rc & 127 ? 128 + ($rc & 127) : $rc >> 8)' "$file" "$@"
}

# fo_now_s: the wall clock in seconds with three decimals (macOS's date has no %N).
fo_now_s() {
    perl -MTime::HiRes=time -e 'printf "%.3f\n", time'
}

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

# fo_children PID: the PIDs of PID's child processes, one a line (ps -A -o: POSIX, and the same
# on macOS and Linux).
fo_children() {
    ps -A -o pid= -o ppid= | awk -v p="$1" '$2 == p { print $1 }'
}

# fo_tree_pids PID: PID and its children, one a line.
fo_tree_pids() {
    echo "$1"
    fo_children "$1"
}

# fo_tree_rss_kib PID: resident memory of PID and its children together, in KiB.
fo_tree_rss_kib() {
    ps -o rss= -p "$(fo_tree_pids "$1" | paste -sd, -)" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}

# fo_tree_cpu_s PID: CPU seconds PID and its children have run so far. On Linux the scheduler's
# own count of every thread's run time (/proc/PID/task/TID/schedstat, nanoseconds): the user and
# system times of /proc/PID/stat come from sampling at the clock tick, and miss a process that
# wakes just after a tick and sleeps before the next (prefork's workers at 1,000 showed 0.00 s
# there against 5.5 s here). Elsewhere ps's time, [[dd-]hh:]mm:ss.cc.
fo_tree_cpu_s() {
    local pids p
    pids=$(fo_tree_pids "$1")
    if [ -r /proc/self/schedstat ]; then
        for p in $pids; do
            cat /proc/"$p"/task/*/schedstat 2>/dev/null
        done | awk '{ ns += $1 } END { printf "%.2f", ns / 1e9 }'
    else
        ps -o time= -p "$(echo "$pids" | paste -sd, -)" | awk '{ n = split($1, a, /[-:]/); s = 0;
            for (i = 1; i <= n; i++) s = s * 60 + a[i]; t += s } END { printf "%.2f", t }'
    fi
}

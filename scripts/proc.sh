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

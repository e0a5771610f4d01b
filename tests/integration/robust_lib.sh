# shellcheck shell=bash
# Helpers for the robustness tests (sourced after lib.sh, not run): start a model, talk raw
# bytes through robust_client, and read a process's descriptors and memory.
RC_BIN=$TESTBIN/robust_client
# Every model in the engine table (fanout-server --list-models), unless told otherwise.
# shellcheck disable=SC2034 # for the tests that source this file
MODELS=${ROBUST_MODELS:-$("$BIN/fanout-server" --list-models | awk '{ print $1 }')}

# start_model NAME MODEL ARGS...: starts fanout-server --model MODEL ARGS... --port 0; sets PORT
# and PID. A model that does not start, or exits at once, is a failed check (never a skip: a
# crashing engine must not pass the suite), and start_model returns 1 so that the caller moves
# on to the next model.
start_model() {
    local name=$1 model=$2
    shift 2
    if fo_start "$WORK/$name.log" 100 "$BIN/fanout-server" --model "$model" --port 0 "$@"; then
        sleep 0.3
        kill -0 "$PID" 2>/dev/null && return 0
    fi
    check "model $model starts and keeps running (its log: $(tail -3 "$WORK/$name.log" | tr '\n' ' '))" false
}

# raw DESC WANT PORT [robust_client options] < bytes: sends the bytes and checks what came back.
# Feed it with a redirection (raw ... < <(printf ...)), not a pipe: in a pipe it would run in a
# subshell and its check would not be counted.
# WANT is "<statuses> <end>", e.g. "400 eof" (one answer 400, then a clean close), "200 404 eof"
# (two answers in order), "eof" (closed without an answer) or "sent-reset".
raw() {
    local desc=$1 want=$2 port=$3 got
    shift 3
    "$RC_BIN" "$port" "$@" >"$WORK/raw.out"
    # shellcheck disable=SC2034 # for the tests, which may check the time
    RAW_MS=$(sed -n 's/^#END [a-z-]* ms=\([0-9]*\).*/\1/p' "$WORK/raw.out")
    got=$(sed -n 's/^#STATUS *//p' "$WORK/raw.out")
    got="${got:+$got }$(sed -n 's/^#END \([a-z-]*\).*/\1/p' "$WORK/raw.out")"
    check "$desc: want '$want', got '$got'" [ "$got" = "$want" ]
}

# code URL: the status of one GET with curl (000 when there was no answer), within 10 s.
code() {
    curl -s -o /dev/null -m 10 -w '%{http_code}' "$1"
}

# pids_of PID: PID and its child processes (a prefork or multi-loop supervisor's workers).
pids_of() {
    echo "$1"
    children "$1"
}

# fds_of PID: open descriptors of PID and its children (Linux /proc).
fds_of() {
    local p n=0
    for p in $(pids_of "$1"); do
        n=$((n + $(find /proc/"$p"/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)))
    done
    echo "$n"
}

# rss_kb_of PID: resident memory of PID and its children, in KiB (Linux /proc).
rss_kb_of() {
    local p n=0
    for p in $(pids_of "$1"); do
        n=$((n + $(awk '$1 == "VmRSS:" { kb = $2 } END { print kb + 0 }' /proc/"$p"/status 2>/dev/null)))
    done
    echo "$n"
}

# have_proc: true where /proc tells descriptors and memory (Linux).
have_proc() {
    [ -d /proc/self/fd ] && [ -r /proc/self/status ]
}

# asan_build: true when the binaries are built with AddressSanitizer, whose quarantine keeps
# freed memory resident (RSS then says nothing about leaks; LeakSanitizer checks at exit).
asan_build() {
    grep -qa '__asan_init' "$BIN/fanout-server"
}

# robust_finish: stops every process the test started with SIGTERM and waits for it (up to 10 s
# each), so that sanitizer builds report leaks at exit; fails on any sanitizer report in the
# logs; then prints the tally like finish.
robust_finish() {
    local pid
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]:-}"; do
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    done
    check "no sanitizer report in any log" \
        bash -c "! cat '$WORK'/*.log 2>/dev/null | grep -E -m 5 'Sanitizer|runtime error:'"
    finish
}

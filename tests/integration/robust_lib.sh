# Helpers for the robustness tests (sourced after lib.sh, not run): start a model that may not
# be built yet, talk raw bytes through robust_client, and read a process's descriptors and memory.
RC_BIN=$TESTBIN/robust_client
# Every model in the engine table (fanout-server --list-models), unless told otherwise.
MODELS=${ROBUST_MODELS:-$("$BIN/fanout-server" --list-models | awk '{ print $1 }')}

# start_model NAME MODEL ARGS...: starts fanout-server --model MODEL ARGS... --port 0; sets PORT
# and PID. Returns 1 (after saying why) when the model is only a placeholder or exits at once.
start_model() {
    local name=$1 model=$2
    shift 2
    start "$name" "$BIN/fanout-server" --model "$model" --port 0 "$@"
    sleep 0.3
    if grep -qi 'not built yet' "$WORK/$name.log" || ! kill -0 "$PID" 2>/dev/null; then
        echo "skip - model $model: $(tail -1 "$WORK/$name.log")"
        return 1
    fi
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
    cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . || true
}

# fds_of PID: open descriptors of PID and its children (Linux /proc).
fds_of() {
    local p n=0
    for p in $(pids_of "$1"); do
        n=$((n + $(ls /proc/"$p"/fd 2>/dev/null | wc -l)))
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
    local pid i
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]:-}"; do
        for i in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    done
    check "no sanitizer report in any log" \
        bash -c "! cat '$WORK'/*.log 2>/dev/null | grep -E -m 5 'Sanitizer|runtime error:'"
    finish
}

#!/usr/bin/env bash
# fanout-mem against process trees of known memory (mem_hog): a process that touches 64 MiB
# shows about 64 MiB more PSS than one that touches nothing; four children that only read those
# pages do not count them again (PSS stays near 64 MiB while the RSS sum is five times that);
# descendants at any depth are in the tree; the kernel's part is there and grows with the
# threads; a PID that does not exist or is not a PID gets a clear error and a non-zero exit.
. "$(dirname "$0")/lib.sh"

MEM=$BIN/fanout-mem
HOG=$TESTBIN/mem_hog
MIB=64

# measure NAME HOG_ARGS...: starts mem_hog with those arguments, waits until its tree is set up,
# writes fanout-mem's JSON of it to $WORK/NAME.json, and stops the tree.
measure() {
    local name=$1 pid
    shift
    "$HOG" --lifetime 60 "$@" >"$WORK/$name.out" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 100); do
        grep -q "^mem_hog: ready" "$WORK/$name.out" && break
        sleep 0.1
    done
    grep -qE "^mem_hog: ready $pid( \(.*\))?$" "$WORK/$name.out" || { echo "mem_hog $* did not start: $(cat "$WORK/$name.out")" >&2; exit 1; }
    "$MEM" "$pid" >"$WORK/$name.json" 2>"$WORK/$name.err"
    echo "# $name ($*): $(cat "$WORK/$name.json" "$WORK/$name.err")"
    stop "$pid"
}

measure idle
measure touched --touch "$MIB"
measure forked --touch "$MIB" --fork 4
measure chain --fork 5 --chain
measure threads --threads 64

check "the JSON has every figure" js touched 'all(hasattr(d, k) for k in ("pid", "procs", "tasks", "pss_kib", "kernel_kib", "page_tables_kib", "kstack_kib", "task_struct_kib", "rss_sum_kib", "unknown"))'
# Under AddressSanitizer (SANITIZE=address builds) every 8 bytes touched cost a shadow byte too.
touched=$((MIB * 1024))
grep -q "address sanitizer" "$WORK/touched.out" && touched=$((MIB * 1024 * 9 / 8))
idle_pss=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["pss_kib"])' "$WORK/idle.json")
check "touching $MIB MiB adds $((touched / 1024)) MiB of PSS, within 10%" \
    js touched "abs(d.pss_kib - $idle_pss - $touched) <= 0.1 * $MIB * 1024"
check "a parent and 4 children that only read its $MIB MiB: 5 processes" js forked 'd.procs == 5'
check "... whose RSS sum counts the shared pages in every process (5 x $MIB MiB, within 10%)" \
    js forked "d.rss_sum_kib >= 0.9 * 5 * $MIB * 1024"
check "a chain of 5 descendants, each the child of the one before: 6 processes" js chain 'd.procs == 6 and d.tasks == 6'

if [ -r /proc/self/smaps_rollup ] || [ -r /proc/self/smaps ]; then
    # PSS proper (Linux): macOS's footprint is no PSS, and how it charges pages shared
    # copy-on-write is its own.
    check "Linux: their PSS counts the shared pages once (about $MIB MiB, not 5 x)" \
        js forked "d.pss_kib - $idle_pss <= $touched + 0.25 * $MIB * 1024 and d.pss_kib >= 0.9 * $MIB * 1024"
    check "Linux: every kernel part is known" js idle 'd.unknown == [] and d.kstack_bytes_per_task > 0 and d.task_struct_bytes > 0'
    check "Linux: the kernel's part is positive and the sum of its parts" \
        js idle 'd.kernel_kib > 0 and d.kernel_kib == d.page_tables_kib + d.kstack_kib + d.task_struct_kib'
    idle_kernel=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["kernel_kib"])' "$WORK/idle.json")
    check "64 more threads: 65 tasks" js threads 'd.tasks == 65 and d.procs == 1'
    # A kernel stack is a page at least on every architecture Linux runs on.
    check "... and the kernel's part grows by at least a 4 KiB stack and a task struct each" \
        js threads "d.kernel_kib - $idle_kernel >= 64 * (4 + d.task_struct_bytes / 1024)"
    "$MEM" --sockets >"$WORK/sockets.json" 2>"$WORK/sockets.err"
    echo "# sockets: $(cat "$WORK/sockets.json" "$WORK/sockets.err")"
    check "--sockets: TCP's counts and memory, as numbers" \
        js sockets 'all(isinstance(getattr(d, k), int) and getattr(d, k) >= 0 for k in ("sockets_used", "tcp_inuse", "tcp_alloc", "tcp_mem_kib", "sockets_kib"))'
else
    check "elsewhere: the kernel's part is unknown, and said so" js idle 'd.kernel_kib is None and len(d.unknown) == 3'
fi

# A PID that existed and has ended (and been reaped): nothing is there any more.
true &
gone=$!
wait "$gone"
"$MEM" "$gone" >"$WORK/gone.out" 2>"$WORK/gone.err"
rc=$?
check "a PID with no process: exit 1 (exit $rc)" [ "$rc" -eq 1 ]
check "... saying so in one line ($(cat "$WORK/gone.err"))" grep -qx "fanout-mem: no process $gone.*" "$WORK/gone.err"
check "... and nothing on stdout" [ ! -s "$WORK/gone.out" ]
# refused RC: exit 2, and a line that says what is wrong.
refused() { [ "$1" -eq 2 ] && grep -q "^fanout-mem: " "$WORK/bad.err"; }
for bad in abc 0 -5 12x 99999999999999999999; do
    "$MEM" "$bad" >/dev/null 2>"$WORK/bad.err"
    rc=$?
    check "'$bad' is refused: exit 2 (exit $rc), '$(head -1 "$WORK/bad.err")'" \
        refused "$rc"
done
"$MEM" >/dev/null 2>&1
check "no argument: exit 2" [ $? -eq 2 ]
help_ok() { "$MEM" --help >"$WORK/help.out" && grep -q "^usage: fanout-mem PID" "$WORK/help.out"; }
check "--help: exit 0 and the usage" help_ok
finish

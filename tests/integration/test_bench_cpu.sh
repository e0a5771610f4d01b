#!/usr/bin/env bash
# make bench's CPU column is the model's cost while it serves, not its start-up: a fanout-server
# that burns a second of CPU before it starts (a wrapper that then execs the real one, so the
# burn counts in the same process) must show about the CPU of the run alone. bench.sh reads a
# baseline once the server answers (fo_cpu_since in scripts/proc.sh); before that it read one
# cumulative figure, start-up included.
. "$(dirname "$0")/lib.sh"

SRC=${FANOUT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
FAKE=$WORK/bin
BURN_S=1
mkdir -p "$FAKE"
for b in fanout-api fanout-load fanout-report fanout-mem; do ln -s "$BIN/$b" "$FAKE/$b"; done
# The wrapper burns BURN_S seconds of its own CPU (bash's `times`: the shell's user time) unless
# asked for the model list, then becomes the real server, in the same process.
cat >"$FAKE/fanout-server" <<EOF
#!/usr/bin/env bash
case " \$* " in *" --list-models "*) exec "$BIN/fanout-server" "\$@" ;; esac
# times runs in this shell only with its output to a file (in a pipe or \$(...) it would
# report a subshell's, which starts at 0).
while times >"$WORK/times" && awk -v b=$BURN_S 'NR == 1 { split(\$1, a, /[ms]/); exit !(a[1] * 60 + a[2] < b) }' "$WORK/times"; do
    i=0
    while [ \$i -lt 20000 ]; do i=\$((i + 1)); done
done
exec "$BIN/fanout-server" "\$@"
EOF
chmod +x "$FAKE/fanout-server"

FANOUT_BIN=$FAKE "$SRC/scripts/bench.sh" --configs "uv:1" --users 4 --spawn-rate 4 \
    --duration 2s --ms 10 --out "$WORK/res" >"$WORK/bench.out" 2>&1
rc=$?
sed 's/^/# /' "$WORK/bench.out" | head -20
check "bench.sh with a server that burns ${BURN_S} s at start: exit 0 (exit $rc)" [ "$rc" -eq 0 ]
cpu=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["cpu_s"])' "$WORK/res/uv-1.server.json")
check "the CPU column leaves the start-up out ($cpu s, under ${BURN_S} s - 0.5 s)" \
    awk -v c="$cpu" -v b="$BURN_S" 'BEGIN { exit !(c >= 0 && c < b - 0.5) }'
check "... and still counts the run (above 0: $cpu s)" awk -v c="$cpu" 'BEGIN { exit !(c > 0) }'
finish

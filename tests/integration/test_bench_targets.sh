#!/usr/bin/env bash
# make bench with a target (scripts/bench.sh, CONFIGS NAME:SIZE): --list shows it, the run
# measures it as a model, server.json and summary.json carry its kind, version, both bounds and
# what limits it, and its CPU counts the threads that ended during the run. The target here
# answers each page after a thread of its own has burnt 20 ms of CPU and ended, as the blog's sync
# view starts a thread pool per page: summing the live threads at the end would find nearly none
# of it; the process's own user + system time keeps it.
. "$(dirname "$0")/lib.sh"
SRC=${FANOUT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
[ -x /usr/bin/python3 ] || command -v python3 >/dev/null || skip "no python3"
export FO_TARGETS_DIR=$WORK/targets FO_TARGETS_CACHE=$WORK/cache
mkdir -p "$FO_TARGETS_DIR/burner"
cat >"$FO_TARGETS_DIR/burner/server.py" <<'PY'
import http.server, sys, threading, time
def burn():
    t = time.thread_time()
    while time.thread_time() - t < 0.02:  # this thread's own CPU
        pass
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        t = threading.Thread(target=burn); t.start(); t.join()
        body = b"<h1>Burnt</h1>"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
srv.daemon_threads = True
srv.serve_forever()
PY
cat >"$FO_TARGETS_DIR/burner.target" <<'T'
TARGET_KIND=target
TARGET_ROW="a test row"
TARGET_DESC="burns 20 ms of CPU on a new thread per page"
TARGET_CMD="{python} {dir}/server.py {port}"
TARGET_SIZE=4
TARGET_VERSION="echo burner 1.0"
T

FANOUT_BIN=$BIN "$SRC/scripts/bench.sh" --list >"$WORK/list" 2>&1
check "--list shows the models and the target: $(grep burner "$WORK/list")" \
    bash -c "grep -q '^  uv ' '$WORK/list' && grep -q '^  burner  *target, default size 4, installed: burns' '$WORK/list'"
FANOUT_BIN=$BIN "$SRC/scripts/bench.sh" --configs "burner:nope" >"$WORK/bad" 2>&1
check "a bad size is refused, naming the targets: $(head -c 160 "$WORK/bad")" grep -q "burner" "$WORK/bad"

FANOUT_BIN=$BIN "$SRC/scripts/bench.sh" --configs "burner" --users 4 --spawn-rate 4 \
    --duration 3s --ms 10 --out "$WORK/res" >"$WORK/bench.out" 2>&1
rc=$?
sed 's/^/# /' "$WORK/bench.out" | grep -v '^# |' | head -10
check "bench.sh with a target: exit 0 ($rc), its default size taken" [ "$rc" -eq 0 -a -f "$WORK/res/burner-4.server.json" ]
js_field() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); d = d["configs"][0] if "configs" in d else d; print(d[sys.argv[2]])' "$@"; }
S=$WORK/res/burner-4.server.json
check "server.json: the kind, the version, the API's and the load's CPU" \
    test "$(js_field "$S" kind)" = target -a "$(js_field "$S" version)" = "burner 1.0" -a "$(js_field "$S" load_cpu_s)" != -1
pages=$(js_field "$WORK/res/summary.json" requests)
cpu=$(js_field "$S" cpu_s)
check "the CPU counts the ended threads: $cpu s for $pages pages of 20 ms (at least 0.8 of it)" \
    awk -v c="$cpu" -v p="$pages" 'BEGIN { exit !(p > 10 && c >= 0.8 * 0.02 * p) }'
check "summary.json: both bounds, the limit, cores busy, the version" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["configs"][0]
assert r["little_bound_rps"] > 0 and r["cpu_bound_rps"] > 0 and r["cores_busy"] > 0, r
assert r["limit"] in ("cpu", "concurrency", "other") and r["version"] == "burner 1.0", r' "$WORK/res/summary.json"
check "the table names the target's version" grep -q "burner:4: a test row; burner 1.0" "$WORK/res/summary.md"
check "nothing of the target is left" bash -c "! ps -A -o args= | grep -q '[b]urner/server.py'"
finish

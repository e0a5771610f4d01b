#!/usr/bin/env bash
# deploy/: the Kubernetes Indexed Job, its gather step and the container image, checked without
# a cluster or a container engine:
#   1. the manifest: kubectl apply --dry-run=client --validate=false where kubectl can do that
#      offline, and in any case a stricter check (python3-yaml) of the fields that matter: an
#      Indexed Job with completions = parallelism = SEGMENTS, one try, pods that run
#      fanout-load --segment $JOB_COMPLETION_INDEX/$SEGMENTS --start-at $START_AT as non-root;
#   2. the pods' own shell script, run here as two pods against a loopback server, and
#      gather.sh reading their "logs" through a stand-in kubectl and merging them;
#   3. the Containerfile: multi-stage, non-root (the manifest's user), and the build
#      dependencies of scripts/install-deps.sh.
source "$(dirname "$0")/lib.sh"
SRC=${FANOUT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
JOB=$SRC/deploy/kubernetes/job.yaml
CONTAINERFILE=$SRC/deploy/Containerfile

have_yaml=0
python3 -c 'import yaml' 2>/dev/null && have_yaml=1
have_kubectl=0
command -v kubectl >/dev/null 2>&1 && have_kubectl=1
[ $have_yaml = 1 ] || [ $have_kubectl = 1 ] || skip "neither python3-yaml nor kubectl is installed"

# 1a. kubectl's client-side dry run. It needs the API server's discovery to map the kind, so
# without a cluster it cannot run: say so, and rely on the check below. It talks to loopback only.
if [ $have_kubectl = 1 ]; then
    sed "s/@START_AT@/2000000000/" "$JOB" >"$WORK/job.yaml"
    if with_timeout 30 kubectl --kubeconfig=/dev/null --server=http://127.0.0.1:1 --request-timeout=5s \
        apply --dry-run=client --validate=false -f "$WORK/job.yaml" >"$WORK/kubectl.txt" 2>&1; then
        check "kubectl apply --dry-run=client accepts the Job" grep -q "job.batch/fanout-load" "$WORK/kubectl.txt"
    else
        echo "# kubectl apply --dry-run=client needs an API server here ($(tail -1 "$WORK/kubectl.txt" | cut -c1-100)); the offline check below stands in"
    fi
fi

# 1b. The fields that matter, offline.
if [ $have_yaml = 1 ]; then
    python3 - "$JOB" "$CONTAINERFILE" >"$WORK/yaml.txt" 2>&1 <<'EOF'
import re, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
fails = []
def need(cond, what):
    if not cond:
        fails.append(what)
need(len(docs) == 1, "one document")
job = docs[0]
need(job.get("apiVersion") == "batch/v1" and job.get("kind") == "Job", "a batch/v1 Job")
spec = job["spec"]
need(spec.get("completionMode") == "Indexed", "completionMode: Indexed")
pod = spec["template"]["spec"]
c = pod["containers"][0]
env = {e["name"]: e.get("value") for e in c.get("env", [])}
need(isinstance(spec.get("completions"), int) and spec.get("completions") == spec.get("parallelism")
     == int(env.get("SEGMENTS", "0")), "completions = parallelism = SEGMENTS")
need(spec.get("backoffLimit") == 0, "backoffLimit: 0 (a retried segment would miss --start-at)")
need(pod.get("restartPolicy") == "Never", "restartPolicy: Never")
script = " ".join(c.get("command", []) + c.get("args", []))
need(c.get("command", [None])[0] == "/bin/sh", "the command is a shell script")
need('--segment "$JOB_COMPLETION_INDEX/$SEGMENTS"' in script, "--segment from JOB_COMPLETION_INDEX")
need('--start-at "$START_AT"' in script and env.get("START_AT") == "@START_AT@",
     "--start-at from START_AT, left to fill in")
need("fanout-load" in script and "--json" in script, "runs fanout-load --json")
need("BEGIN FANOUT-LOAD JSON" in script and "END FANOUT-LOAD JSON" in script, "markers for gather.sh")
need(env.get("TARGET_URL", "").startswith("http://"), "a TARGET_URL")
psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
need(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) > 0, "runs as non-root")
need(csc.get("allowPrivilegeEscalation") is False and csc.get("readOnlyRootFilesystem") is True,
     "no privilege escalation, read-only root")
mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
vols = {v["name"]: v for v in pod.get("volumes", [])}
need(env.get("RESULT_DIR") in mounts and "emptyDir" in vols.get(mounts.get(env.get("RESULT_DIR")), {}),
     "RESULT_DIR is a writable emptyDir")
need(c.get("image"), "an image")
# The image runs as the manifest's user.
users = re.findall(r"^USER\s+(\d+)", open(sys.argv[2]).read(), re.M)
need(users and int(users[-1]) == psc.get("runAsUser"), "the Containerfile's USER is runAsUser")
for f in fails:
    print("missing: " + f)
sys.exit(1 if fails else 0)
EOF
    rc=$?
    awk '{ print "     " $0 }' "$WORK/yaml.txt"
    check "job.yaml: an Indexed Job of N pods running their segments, as non-root (python3-yaml)" [ $rc -eq 0 ]
fi

# 2. Two pods' scripts, run here, and gather.sh over their logs.
start server "$TESTBIN/load_server" --delay 50 --lifetime 60
script=$(python3 -c 'import sys, yaml
print(yaml.safe_load(open(sys.argv[1]))["spec"]["template"]["spec"]["containers"][0]["args"][0])' "$JOB" 2>/dev/null) ||
    script=$(sed -n '/^            - |$/,/^          resources:/p' "$JOB" | sed '1d;$d;s/^              //')
mkdir -p "$WORK/logs" "$WORK/fakebin"
start_at=$(unix_in 1000)
pids=()
for i in 0 1; do
    mkdir -p "$WORK/pod$i"
    PATH="$BIN:$PATH" JOB_COMPLETION_INDEX=$i SEGMENTS=2 START_AT=$start_at \
        TARGET_URL="http://127.0.0.1:$PORT/" LOAD_ARGS="-u 4 -r 2 -d 2s" RESULT_DIR="$WORK/pod$i" \
        sh -c "$script" >"$WORK/logs/fanout-load-$i-x.log" 2>&1 &
    pids+=("$!")
    PIDS+=("$!")
done
wait_ok "${pids[@]}"
check "the pods' script: both exit 0" [ "$OK" -eq 2 ]
check "the pods' script: the result follows the summary, between markers" \
    grep -q '^-----BEGIN FANOUT-LOAD JSON 1/2-----$' "$WORK/logs/fanout-load-1-x.log"
# A stand-in kubectl: lists the two pods, prints their logs.
cat >"$WORK/fakebin/kubectl" <<EOF
#!/bin/sh
case "\$1" in
get) ls "$WORK/logs" | sed 's/\.log\$//' ;;
logs) cat "$WORK/logs/\$2.log" ;;
*) exit 2 ;;
esac
EOF
chmod +x "$WORK/fakebin/kubectl"
PATH="$WORK/fakebin:$PATH" FANOUT_REPORT=$BIN/fanout-report \
    "$SRC/deploy/kubernetes/gather.sh" fanout-load "$WORK/gathered" >"$WORK/gather.out" 2>&1
check "gather.sh: exit 0" [ $? -eq 0 ]
check "gather.sh: prints the merged row" grep -Eq '^\| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|$' "$WORK/gather.out"
check "gather.sh: the merged result is the two pods' JSON merged" \
    python3 -c 'import json, sys
m = json.load(open(sys.argv[1])); a, b = (json.load(open(f)) for f in sys.argv[2:])
sys.exit(0 if m["merged"]["segments"] == 2 and m["requests"] == a["requests"] + b["requests"] > 0
         and [w["users"] for w in m["windows"]] == [2, 4] else 1)' \
    "$WORK/gathered/merged.json" "$WORK/pod0/segment.json" "$WORK/pod1/segment.json"
rm "$WORK/logs/fanout-load-1-x.log"
PATH="$WORK/fakebin:$PATH" FANOUT_REPORT=$BIN/fanout-report \
    "$SRC/deploy/kubernetes/gather.sh" fanout-load "$WORK/gathered" >"$WORK/gather2.out" 2>&1
check "gather.sh: a lost pod means a refused merge (missing segment), exit non-zero" \
    [ $? -ne 0 -a "$(grep -c 'segment 1 of 2 is missing' "$WORK/gather2.out")" -eq 1 ]

# 3. The image: two stages, a non-root user, the build dependencies of install-deps.sh.
check "Containerfile: multi-stage" [ "$(grep -c '^FROM ' "$CONTAINERFILE")" -ge 2 ]
check "Containerfile: ends as a non-root user" \
    [ "$(sed -n 's/^USER \([0-9]*\).*/\1/p' "$CONTAINERFILE" | tail -1)" -gt 0 ]
missing=""
# Debian's names: the lines after the Homebrew part.
while read -r pkg; do
    # the tests' tools, and the format check's
    case $pkg in curl | perl | python3 | python3-yaml | shellcheck | clang-format*) continue ;; esac
    grep -q "[[:space:]]$pkg\([[:space:]]\|$\)" "$CONTAINERFILE" || missing="$missing $pkg"
done < <(sed -n '/^have apt-get/,$ s/.*required+=(\([^)]*\)).*/\1/p' "$SRC/scripts/install-deps.sh" | sort -u)
check "Containerfile: installs install-deps.sh's build dependencies${missing:+ (missing:$missing)}" [ -z "$missing" ]
check "no sanitizer report in any run" no_sanitizer_report
finish

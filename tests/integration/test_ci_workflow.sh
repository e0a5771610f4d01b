#!/usr/bin/env bash
# The CI workflow (.github/workflows/ci.yml) parses as YAML, runs on Linux and on Apple Silicon
# macOS, runs the README's test command and the regression benchmark against the baseline,
# uploads the results folder even when a step failed, and every `make X` it runs is a target of
# the Makefile. Reads YAML with PyYAML (Debian: python3-yaml; scripts/install-deps.sh installs
# it); skipped with ctest's skip code, saying so, where PyYAML is missing.
. "$(dirname "$0")/lib.sh"

SRC=${FANOUT_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
WF=$SRC/.github/workflows/ci.yml

check "the workflow file exists" [ -f "$WF" ] || { finish; exit 1; }
python3 -c 'import yaml' 2>/dev/null ||
    skip "PyYAML is not installed (scripts/install-deps.sh installs it; Debian: apt-get install python3-yaml)"

# facts: one line per fact the workflow states, read by PyYAML:
#   os NAME          a system a job runs on (runs-on, or its matrix)
#   run COMMAND      a step's command, one line each
#   upload PATH IF   an upload-artifact step, with its condition
python3 - "$WF" >"$WORK/facts" 2>"$WORK/yaml.err" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
jobs = doc["jobs"]
for name, job in jobs.items():
    runs_on = job["runs-on"]
    matrix = job.get("strategy", {}).get("matrix", {})
    if isinstance(runs_on, str) and runs_on.startswith("${{ matrix."):
        key = runs_on[len("${{ matrix."):].rstrip("} ").strip()
        systems = matrix[key]
    else:
        systems = runs_on if isinstance(runs_on, list) else [runs_on]
    for s in systems:
        print("os", s)
    for step in job["steps"]:
        for line in str(step.get("run", "")).splitlines():
            if line.strip():
                print("run", line.strip())
        if str(step.get("uses", "")).startswith("actions/upload-artifact@"):
            print("upload", step["with"]["path"], step.get("if", "-"))
PY
rc=$?
check "the workflow parses as YAML, with jobs, systems and steps (exit $rc: $(head -c 300 "$WORK/yaml.err"))" \
    [ "$rc" -eq 0 ]
check "a job runs on ubuntu-latest" grep -qx 'os ubuntu-latest' "$WORK/facts"
check "a job runs on macos-14 (Apple Silicon)" grep -qx 'os macos-14' "$WORK/facts"
check "it runs the README's test command with warnings as errors (make test WERROR=ON)" \
    grep -qx 'run make test WERROR=ON' "$WORK/facts"
check "the README gives that test command" grep -q 'make test WERROR=ON' "$SRC/README.md"
check "it runs make bench-ci" grep -Eq '^run make bench-ci( |$)' "$WORK/facts"
check "it checks the formatting (make format-check)" grep -qx 'run make format-check' "$WORK/facts"
check "make bench-ci compares with bench/baseline.json, which exists" \
    bash -c "grep -A2 '^bench-ci:' '$SRC/Makefile' | grep -q -- '--baseline bench/baseline.json' && [ -s '$SRC/bench/baseline.json' ]"
check "it uploads the results folder (build/bench-ci) even after a failure" \
    grep -qx 'upload build/bench-ci always()' "$WORK/facts"

# Every make target the workflow runs is a rule of the Makefile (a line "target ...:", not the
# names a .PHONY line lists).
targets=$(sed -n 's/^\([A-Za-z0-9_][A-Za-z0-9_. -]*\):.*/\1/p' "$SRC/Makefile" | tr ' ' '\n' | sort -u)
made=$(sed -n 's/^run .*make \([A-Za-z0-9_-]*\).*/\1/p' "$WORK/facts" | sort -u)
check "it runs make at least twice (found: $(echo "$made" | tr '\n' ' '))" [ "$(echo "$made" | grep -c .)" -ge 2 ]
for t in $made; do
    check "make $t is a target of the Makefile" grep -qx "$t" <<<"$targets"
done

finish

#!/usr/bin/env bash
# gather.sh [JOB [DIR]]: the last step of deploy/kubernetes/job.yaml. Reads the log of every pod
# of the Indexed Job JOB (default fanout-load), decodes the --json result each printed between
# its marker lines into DIR/segmentI.json (default DIR: fanout-results), and merges them into
# DIR/merged.json with fanout-report merge, which prints the blog's table row. The merge refuses
# a missing or repeated segment, or segments run with different options.
#
# Needs kubectl (pointed at the cluster), python3, and fanout-report: $FANOUT_REPORT, else this
# repository's build/bin/fanout-report, else fanout-report on PATH.
set -eu
job=${1:-fanout-load}
dir=${2:-fanout-results}
here=$(cd "$(dirname "$0")" && pwd)
report=${FANOUT_REPORT:-}
if [ -z "$report" ]; then
    if [ -x "$here/../../build/bin/fanout-report" ]; then
        report=$here/../../build/bin/fanout-report
    else
        report=fanout-report
    fi
fi

mkdir -p "$dir"
rm -f "$dir"/segment*.json
pods=$(kubectl get pods -l "job-name=$job" -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
if [ -z "$pods" ]; then
    echo "gather.sh: no pod of job $job (kubectl get pods -l job-name=$job)" >&2
    exit 1
fi
for pod in $pods; do
    # The pod's log: its summary, then its result between the markers.
    if ! kubectl logs "$pod" | python3 -c '
import base64, gzip, re, sys
out = sys.argv[1]
lines, index, count, body = sys.stdin.read().splitlines(), None, None, None
for line in lines:
    m = re.match(r"^-----BEGIN FANOUT-LOAD JSON (\d+)/(\d+)-----$", line)
    if m:
        index, count, body = m.group(1), m.group(2), []
    elif line == "-----END FANOUT-LOAD JSON-----" and body is not None:
        path = "%s/segment%s.json" % (out, index)
        with open(path, "wb") as f:
            f.write(gzip.decompress(base64.b64decode("".join(body))))
        print("%s: segment %s/%s -> %s" % (sys.argv[2], index, count, path))
        sys.exit(0)
    elif body is not None:
        body.append(line.strip())
sys.exit("%s: no result in its log (did fanout-load fail? kubectl logs %s)" % (sys.argv[2], sys.argv[2]))
' "$dir" "$pod"; then
        exit 1
    fi
done
# shellcheck disable=SC2046 # one argument a file; the names have no spaces
"$report" merge "$dir/merged.json" $(ls "$dir"/segment*.json)

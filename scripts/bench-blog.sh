#!/usr/bin/env bash
# The blog's benchmark for real (make bench-blog): its six Python configurations as targets
# (bench/targets: Django under uWSGI, Gunicorn and Uvicorn), each beside the same stack with one
# HTTP client per process (the -reuse targets) and the C models closest to them, all under the
# blog's load (100 users, spawn rate 10/s, 30 s, page /300/), through scripts/bench.sh. Installs
# the stacks first when they are missing (scripts/install-deps.sh --targets). The table gives
# both bounds of every row (Little's law and CPU) and what limits it, and sets each of the blog's
# rows beside the blog's own figures. Settings pass through: USERS, SPAWN_RATE, DURATION, MS,
# CONFIGS (to run fewer), and the rest of scripts/bench.sh's options as arguments.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
BLOG="uwsgi-t2 uwsgi-t100 uwsgi-gevent gunicorn-t100 gunicorn-gevent uvicorn"
MODELS="threads:2 threads:100 coro:1 uv:1"
if [ -z "${CONFIGS:-}" ]; then
    CONFIGS=""
    for t in $BLOG; do CONFIGS="$CONFIGS $t $t-reuse"; done
    CONFIGS="${CONFIGS# } $MODELS"
fi

. "$top/scripts/proc.sh"
. "$top/scripts/targets.sh"
missing=""
for c in $CONFIGS; do
    fo_target_exists "${c%%:*}" && ! fo_target_installed "${c%%:*}" && missing="$missing ${c%%:*}"
done
if [ -n "$missing" ]; then
    echo "bench-blog: installing what these targets need:$missing"
    "$top/scripts/install-deps.sh" --targets
fi

export CONFIGS USERS=${USERS:-100} SPAWN_RATE=${SPAWN_RATE:-10} DURATION=${DURATION:-30s} MS=${MS:-300}
exec "$top/scripts/bench.sh" "$@"

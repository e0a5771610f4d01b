# shellcheck shell=bash
# nginx as a peer to measure against, for the bench scripts (sourced, after scripts/proc.sh,
# with WORK set and a PIDS array that the script's cleanup stops).
#
#   fo_nginx_ensure PROG      installs nginx when it is missing (apt-get or brew)
#   fo_nginx_start PROG [PREFIX...]
#                             starts one worker, no master, `return 200` on a free loopback
#                             port, run through PREFIX when given (taskset -c 1); sets
#                             NGINX_URL and NGINX_PID. PROG names the script in messages.

fo_nginx_ensure() {
    if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then return 0; fi
    echo "$1: installing nginx (a peer to measure against)"
    if command -v apt-get >/dev/null 2>&1; then
        # RUNLEVEL=1: the package's service is not started (it would listen on port 80).
        RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light >/dev/null
    elif command -v brew >/dev/null 2>&1; then
        brew install nginx >/dev/null
    else
        echo "$1: nginx is missing and there is no apt-get or brew to install it" >&2
        exit 2
    fi
}

fo_nginx_start() {
    local prog=$1 bin port
    shift
    bin=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
    port=$(fo_free_port)
    mkdir -p "$WORK/nginx/logs"
    cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
master_process off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$port backlog=4096;
        location / { return 200; }
    }
}
CONF
    "$@" "$bin" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$WORK/nginx/stdout.log" 2>&1 &
    NGINX_PID=$!
    PIDS+=("$NGINX_PID")
    NGINX_URL=http://127.0.0.1:$port/
    for _ in $(seq 100); do
        curl -s -o /dev/null "$NGINX_URL" && return 0
        kill -0 "$NGINX_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "$prog: nginx did not start: $(cat "$WORK/nginx/logs/error.log" "$WORK/nginx/stdout.log" 2>/dev/null)" >&2
    exit 1
}

#!/usr/bin/env bash
# Starts the nginx + Lua peer in the foreground: fills nginx.conf.in's placeholders into
# WORK/nginx.conf and execs nginx's master there (SIGTERM stops it and its workers).
#   start.sh PORT UPSTREAM[,UPSTREAM...] WORKERS WORK
# Each UPSTREAM (http://HOST:PORT) becomes a server of the upstream block; worker_connections is
# what the open-files limit fits (a worker holds a client's and its calls' connections).
set -euo pipefail
[ $# = 4 ] || { echo "usage: start.sh PORT UPSTREAM[,UPSTREAM...] WORKERS WORK" >&2; exit 2; }
port=$1 upstream=$2 size=$3 work=$4
dir=$(cd "$(dirname "$0")" && pwd)
modules=""
for d in /usr/lib/nginx/modules /usr/local/lib/nginx/modules /usr/share/nginx/modules; do
    [ -f "$d/ngx_http_lua_module.so" ] && { modules=$d; break; }
done
[ -n "$modules" ] || { echo "start.sh: nginx's Lua module (ngx_http_lua_module.so) is not installed" >&2; exit 2; }
servers=""
IFS=, read -r -a urls <<<"$upstream"
for u in "${urls[@]}"; do
    hostport=${u#http://}
    servers+="        server ${hostport%%/*};"$'\n'
done
connections=$(ulimit -n)
[ "$connections" = unlimited ] && connections=65536
mkdir -p "$work"
sed -e "s|{modules}|$modules|g" -e "s|{size}|$size|g" -e "s|{connections}|$((connections - 64))|g" \
    -e "s|{port}|$port|g" -e "s|{dir}|$dir|g" -e "s|{work}|$work|g" "$dir/nginx.conf.in" |
    awk -v s="$servers" '$1 == "{servers}" { printf "%s", s; next } { print }' >"$work/nginx.conf"
echo "listening on 127.0.0.1:$port ($size workers)"
exec nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log"

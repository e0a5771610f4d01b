#!/usr/bin/env bash
# End to end, foundation: the country API on its own, then fanout-server --model uv in front of
# it and in front of upstreams that fail in every way we know.
. "$(dirname "$0")/lib.sh"

start api "$BIN/fanout-api" --port 0
API=http://127.0.0.1:$PORT
API_PORT=$PORT

# --- The country API ---------------------------------------------------------------------
out=$(curl -s -D "$WORK/h" -w '\n%{http_code} %{time_total}' "$API/100/")
body=$(echo "$out" | head -1)
read -r code secs <<<"$(echo "$out" | tail -1)"
check "API /100/ answers 200" [ "$code" = 200 ]
check "API answer is a country object" grep -Eq '^\{"name":"[^"]+","code":"[A-Z]{2}"\}$' <<<"$body"
check "API answer is JSON" grep -qi '^content-type: application/json' "$WORK/h"
check "API waits at least 100 ms at /100/" awk -v s="$secs" 'BEGIN { exit !(s >= 0.100) }'
check "API / answers after 300 ms" awk -v s="$(curl -s -o /dev/null -w '%{time_total}' "$API/")" \
    'BEGIN { exit !(s >= 0.300) }'
for bad in /-1/ /99999999999999999999/ /60001/ /12ab/; do
    check "API $bad is 400" [ "$(curl -s -o /dev/null -w '%{http_code}' "$API$bad")" = 400 ]
done
check "API unknown path is 404" [ "$(curl -s -o /dev/null -w '%{http_code}' "$API/nope/x")" = 404 ]
check "API POST is 405" [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$API/0/")" = 405 ]
check "API /stats counts the countries it served" [ "$(stat_field "$API" served)" = 2 ]

# Pipelining: three requests in one write on one connection, three answers in order.
exec 3<>"/dev/tcp/127.0.0.1/$API_PORT"
printf 'GET /50/ HTTP/1.1\r\nHost: t\r\n\r\nGET /stats HTTP/1.1\r\nHost: t\r\n\r\nGET /0/ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' >&3
with_timeout 5 cat <&3 >"$WORK/pipe"
exec 3<&-
check "pipelined requests get three answers" [ "$(grep -o 'HTTP/1.1 200' "$WORK/pipe" | wc -l)" -eq 3 ]
check "pipelined answers come in order" \
    [ "$(grep -oE '"(name|served)"' "$WORK/pipe" | tr '\n' ' ')" = '"name" "served" "name" ' ]

# HTTP/1.0 keep-alive is acknowledged, so a 1.0 client (ab -k) reuses the connection instead of
# waiting for the server to close it.
exec 3<>"/dev/tcp/127.0.0.1/$API_PORT"
printf 'GET /0/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' >&3
head_10=""
while IFS= read -r -t 5 line <&3; do
    line=${line%$'\r'}
    [ -z "$line" ] && break
    head_10="$head_10$line;"
done
exec 3<&-
check "HTTP/1.0 keep-alive answered with Connection: keep-alive" \
    grep -qi 'connection: keep-alive' <<<"$head_10"

# Never early: 100 clients at once at /600/, each answer after at least 600.0 ms.
curl -s "$API/stats/reset" >/dev/null
parallel_get 100 "$API/600/" >"$WORK/api100"
check "100 concurrent API calls all 200" [ "$(grep -c '^200 ' "$WORK/api100")" = 100 ]
# shellcheck disable=SC2016 # an awk program
check "no API answer before 600 ms" awk '$2 < 0.600 { bad = 1 } END { exit bad }' "$WORK/api100"
check "the API held 100 requests at once" [ "$(stat_field "$API" peak_in_flight)" = 100 ]

# --- fanout-server --model uv ------------------------------------------------------------
start uv "$BIN/fanout-server" --model uv --port 0 --upstream "$API"
SRV=http://127.0.0.1:$PORT
curl -s "$API/stats/reset" >/dev/null
out=$(curl -s -w '\n%{http_code} %{time_total}' "$SRV/300/")
read -r code secs <<<"$(echo "$out" | tail -1)"
check "page /300/ is 200" [ "$code" = 200 ]
check "page shows a country in an h1" grep -Eq '<h1>[^<]+</h1>' <<<"$out"
check "page shows the duration" grep -Eq '<code>duration: 0\.6[0-9]{2}</code>' <<<"$out"
check "the three calls overlap: page well under the sequential 1050 ms" \
    awk -v s="$secs" 'BEGIN { exit !(s >= 0.600 && s < 1.000) }'
check "the API saw 3 calls in flight at once" [ "$(stat_field "$API" peak_in_flight)" = 3 ]
check "/abc/-like bad ms is 400" [ "$(curl -s -o /dev/null -w '%{http_code}' "$SRV/-5/")" = 400 ]
check "unknown path is 404" [ "$(curl -s -o /dev/null -w '%{http_code}' "$SRV/a/b")" = 404 ]
check "POST is 405" [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$SRV/")" = 405 ]

# Each page is 3 connections to the API: as many pages at once as the listen backlog cap allows
# (100 here; 42 under macOS's default kern.ipc.somaxconn of 128).
n=$(burst 100 3)
start_ms=$(now_ms)
parallel_get "$n" "$SRV/300/" >"$WORK/pages"
wall_ms=$(($(now_ms) - start_ms))
check "$n concurrent pages all 200" [ "$(grep -c '^200 ' "$WORK/pages")" = "$n" ]
check "$n concurrent pages well under 2 s in total (took $wall_ms ms)" [ "$wall_ms" -lt 2000 ]

# --- Upstream faults: each answers at once with a clear status; the server keeps serving ---
start down "$BIN/fanout-server" --model uv --port 0 --upstream http://127.0.0.1:1
out=$(curl -s -w '\n%{http_code} %{time_total}' "http://127.0.0.1:$PORT/300/")
check "upstream down: 502" [ "$(echo "$out" | tail -1 | cut -d' ' -f1)" = 502 ]
check "upstream down: answered at once" awk -v s="$(echo "$out" | tail -1 | cut -d' ' -f2)" 'BEGIN { exit !(s < 0.5) }'
check "upstream down: the body says why" grep -qi 'upstream' <<<"$out"

for mode in stall 500 badjson wrongtype close garbage; do
    start "fake-$mode" "$TESTBIN/fake_upstream" "$mode" 60
    start "srv-$mode" "$BIN/fanout-server" --model uv --port 0 --upstream "http://127.0.0.1:$PORT" \
        --upstream-timeout 500
    want=502
    [ "$mode" = stall ] && want=504
    res=$(curl -s -o "$WORK/body" -w '%{http_code} %{time_total}' "http://127.0.0.1:$PORT/10/")
    check "upstream $mode: $want" [ "${res% *}" = "$want" ]
    check "upstream $mode: short clear body" [ "$(wc -c <"$WORK/body")" -gt 5 ]
    [ "$mode" = stall ] && check "stalled upstream: 504 only after the 500 ms timeout" \
        awk -v s="${res#* }" 'BEGIN { exit !(s >= 0.5 && s < 5) }'
    res2=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/10/")
    check "upstream $mode: the server keeps serving" [ "$res2" = "$want" ]
done

finish

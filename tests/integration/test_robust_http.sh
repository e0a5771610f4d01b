#!/usr/bin/env bash
# Malformed HTTP against fanout-api and every fanout-server model that is built: each bad request
# gets the right status and a clean close (never a reset, a hang or a crash), pipelined requests
# are answered in order, half-closes and resets are survived, and another client is served
# meanwhile and afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/robust_lib.sh"

LONG_URL=$(head -c 9000 /dev/zero | tr '\0' a)
BIG_HEADERS=$(for i in $(seq 90); do printf 'X-Pad-%03d: %0100d\r\n' "$i" 0; done)

# suite NAME PORT GOOD SLOW ONE_PER_CONN: GOOD is a path answered 200 at once, SLOW one answered
# 200 after a while (for a client served meanwhile); ONE_PER_CONN=1 for prefork, which answers one
# request per connection and closes.
suite() {
    local n=$1 port=$2 good=$3 slow=$4 one=$5 url=http://127.0.0.1:$2
    echo "# $n"
    # A well-behaved client whose answer is being prepared while the bad ones are at work.
    curl -s -o /dev/null -m 20 -w '%{http_code}' "$url$slow" >"$WORK/witness.$n" &
    local witness=$!
    # Clients that stall (dropped after --header-timeout 2000), in the background meanwhile.
    printf 'GET %s HTTP/1.1\r\nHost: t\r\n' "$good" | "$RC_BIN" "$port" >"$WORK/partial.$n" &
    local partial=$!
    : | "$RC_BIN" "$port" >"$WORK/silent.$n" &
    local silent=$!

    raw "$n garbage bytes" "400 eof" "$port" < <(printf '\x00\x01\x02garbage\xff\r\n\r\n')
    raw "$n request line without target" "400 eof" "$port" < <(printf 'GET\r\n\r\n')
    raw "$n request line with two targets" "400 eof" "$port" < <(printf 'GET / / HTTP/1.1\r\n\r\n')
    raw "$n lower-case method" "400 eof" "$port" < <(printf 'get %s HTTP/1.1\r\nHost: t\r\n\r\n' "$good")
    raw "$n not HTTP" "400 eof" "$port" < <(printf 'GET %s FOO/1.1\r\nHost: t\r\n\r\n' "$good")
    raw "$n HTTP/0.9 request" "505 eof" "$port" < <(printf 'GET /\r\n\r\n')
    raw "$n HTTP/2.0" "505 eof" "$port" < <(printf 'GET %s HTTP/2.0\r\nHost: t\r\n\r\n' "$good")
    raw "$n HTTP/1.x" "505 eof" "$port" < <(printf 'GET %s HTTP/1.x\r\nHost: t\r\n\r\n' "$good")
    raw "$n HTTP/1.0 is served and closed" "200 eof" "$port" < <(printf 'GET %s HTTP/1.0\r\n\r\n' "$good")
    raw "$n header without colon" "400 eof" "$port" < <(printf 'GET %s HTTP/1.1\r\nHost t\r\n\r\n' "$good")
    raw "$n NUL in a header" "400 eof" "$port" < <(printf 'GET %s HTTP/1.1\r\nHost: a\x00b\r\n\r\n' "$good")
    raw "$n bare LF line ends" "400 eof" "$port" < <(printf 'GET %s HTTP/1.1\nHost: t\n\n' "$good")
    raw "$n request line over 8 KiB" "414 eof" "$port" < <(printf 'GET /%s HTTP/1.1\r\nHost: t\r\n\r\n' "$LONG_URL")
    raw "$n headers over 8 KiB" "431 eof" "$port" < <(printf 'GET %s HTTP/1.1\r\n%s\r\n' "$good" "$BIG_HEADERS")
    raw "$n body on GET" "400 eof" "$port" < <(printf 'GET %s HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello' "$good")
    raw "$n empty body on GET is fine" "200 eof" "$port" < <(printf 'GET %s HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' "$good")
    raw "$n chunked body" "400 eof" "$port" < <(printf 'GET %s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' "$good")
    raw "$n conflicting Content-Length" "400 eof" "$port" < <(printf 'GET %s HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nhello' "$good")
    raw "$n Content-Length list" "400 eof" "$port" < <(printf 'GET %s HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\n\r\nhello' "$good")
    raw "$n negative Content-Length" "400 eof" "$port" < <(printf 'GET %s HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n' "$good")
    raw "$n Content-Length with space before the colon" "400 eof" "$port" < <(printf 'GET %s HTTP/1.1\r\nHost: t\r\nContent-Length : 24\r\n\r\nGET /stats HTTP/1.1\r\n\r\n' "$good")
    raw "$n CL.TE smuggling shape" "400 eof" "$port" < <(printf 'POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET %s HTTP/1.1\r\n\r\n' "$good" "$good")
    raw "$n TE.CL smuggling shape" "400 eof" "$port" < <(printf 'GET %s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n' "$good")
    raw "$n unknown Transfer-Encoding" "400 eof" "$port" < <(printf 'GET %s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\n\r\n' "$good")
    raw "$n POST with a body: 405" "405 eof" "$port" < <(printf 'POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello' "$good")
    raw "$n POST without a body: 405" "405 eof" "$port" < <(printf 'POST %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' "$good")
    # An error followed by 300 KB the server will never read: the answer must still arrive,
    # not be destroyed by a reset (lingering close).
    raw "$n error then a flood" "400 eof" "$port" < <({ printf 'GARBAGE\r\n'; head -c 300000 /dev/zero; })

    # Pipelining: three requests in one write, answered in order.
    local pipe3="GET /nope HTTP/1.1\r\nHost: t\r\n\r\nGET $good HTTP/1.1\r\nHost: t\r\n\r\nGET /x/y HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    local pipebad="GET $good HTTP/1.1\r\nHost: t\r\n\r\nGARBAGE\r\n\r\nGET $good HTTP/1.1\r\n\r\n"
    local many=$WORK/many.$n
    for _ in $(seq 49); do printf 'GET %s HTTP/1.1\r\nHost: t\r\n\r\n' "$good"; done >"$many"
    printf 'GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n' "$good" >>"$many"
    if [ "$one" = 1 ]; then
        # prefork answers one request per connection ("Connection: close"): the rest are
        # dropped, and the client knows to send them again.
        raw "$n pipelined: the first answered, then closed" "404 eof" "$port" < <(printf '%b' "$pipe3")
        raw "$n 50 pipelined: the first answered, then closed" "200 eof" "$port" <"$many"
    else
        raw "$n pipelined: answered in order" "404 200 404 eof" "$port" < <(printf '%b' "$pipe3")
        raw "$n pipelined: good, then garbage" "200 400 eof" "$port" < <(printf '%b' "$pipebad")
        raw "$n 50 pipelined: 50 answers" "$(printf '200 %.0s' $(seq 50))eof" "$port" <"$many"
    fi

    # A client that half-closes after its request counts as gone, as in nginx and Go's net/http:
    # an answer still being prepared is cancelled and the connection closes without it. (With
    # --no-cancel it still comes: half_closes below.)
    raw "$n half-close while the answer is being prepared: cancelled" "eof" "$port" --shut < <(printf 'GET %s HTTP/1.1\r\nHost: t\r\n\r\n' "$slow")
    raw "$n half-close mid-request: closed" "eof" "$port" --shut < <(printf 'GET %s HTTP/1.1\r\nHost: t\r\n' "$good")
    # Resets: in the middle of a request, and while its answer is being prepared.
    raw "$n reset mid-request" "sent-reset" "$port" --reset-after 12 < <(printf 'GET %s HTTP/1.1\r\nHost: t\r\n\r\n' "$good")
    for _ in 1 2 3; do
        raw "$n reset while the answer is prepared" "sent-reset" "$port" --reset-after 100 < <(printf 'GET %s HTTP/1.1\r\nHost: t\r\n\r\n' "$slow")
    done

    wait_ok "$partial" "$silent" "$witness"
    check "$n the three background clients ran (exit 0: $OK of 3)" [ "$OK" -eq 3 ]
    local got
    got=$(sed -n 's/^#STATUS *//p; s/^#END \([a-z]*\) ms=\([0-9]*\).*/\1 \2/p' "$WORK/partial.$n" | tr '\n' ' ')
    check "$n incomplete request: 408 and closed after the 2 s header timeout ($got)" \
        awk -v g="$got" 'BEGIN { split(g, a, " "); exit !(a[1] == 408 && a[2] == "eof" && a[3] >= 1500 && a[3] < 8000) }'
    got=$(sed -n 's/^#END \([a-z]*\) ms=\([0-9]*\).*/\1 \2/p' "$WORK/silent.$n")
    check "$n silent connection: closed after the header timeout ($got)" \
        awk -v g="$got" 'BEGIN { split(g, a, " "); exit !(a[1] == "eof" && a[2] >= 1500 && a[2] < 8000) }'
    check "$n a client served meanwhile got its 200" [ "$(cat "$WORK/witness.$n")" = 200 ]
    check "$n still serving afterwards" [ "$(code "$url$good")" = 200 ]
}

# half_closes NAME PORT GOOD SLOW ONE_PER_CONN: on a server that does not cancel (--no-cancel), a
# client that half-closes after its request still gets the answer, however long it takes.
half_closes() {
    local n=$1 port=$2 good=$3 slow=$4 one=$5
    raw "$n --no-cancel: half-close after the request" "200 eof" "$port" --shut < <(printf 'GET %s HTTP/1.1\r\nHost: t\r\n\r\n' "$good")
    raw "$n --no-cancel: half-close while the answer is being prepared" "200 eof" "$port" --shut < <(printf 'GET %s HTTP/1.1\r\nHost: t\r\n\r\n' "$slow")
    if [ "$one" = 0 ]; then
        # Half a request after a whole one, then a half-close: the whole one is answered.
        raw "$n --no-cancel: pipelined, then half a request and a half-close" "200 eof" "$port" --shut < <(printf 'GET %s HTTP/1.1\r\nHost: t\r\n\r\nGET %s HT' "$good" "$good")
    fi
}

start api "$BIN/fanout-api" --port 0 --header-timeout 2000 --keepalive-timeout 3000
API_PORT=$PORT
API_PID=$PID
suite api "$API_PORT" /0/ /1500/ 0
# The API answers /0/ within the request's own callback: before it can read the half-close.
raw "api half-close after the request: answered at once" "200 eof" "$API_PORT" --shut < <(printf 'GET /0/ HTTP/1.1\r\nHost: t\r\n\r\n')
check "api still running" kill -0 "$API_PID"

# A client that pipelines 100,000 requests and never reads an answer: the server stops reading
# it after a few unsent answers instead of queueing answers without limit (Linux: reads /proc).
if have_proc; then
    awk 'BEGIN { for (i = 0; i < 100000; i++) printf "GET /stats HTTP/1.1\r\nHost: t\r\n\r\n" }' >"$WORK/flood"
    rss0=$(rss_kb_of "$API_PID")
    exec 3<>"/dev/tcp/127.0.0.1/$API_PORT"
    with_timeout 5 cat "$WORK/flood" >&3
    sleep 1
    check "api: served meanwhile" [ "$(code "http://127.0.0.1:$API_PORT/0/")" = 200 ]
    rss1=$(rss_kb_of "$API_PID")
    if asan_build; then
        # The kernel's socket buffers take megabytes of answers first, and every freed block
        # of those sits in ASan's quarantine: RSS says nothing about queueing here.
        echo "skip - api: memory of a client that never reads (AddressSanitizer build)"
    else
        check "api: a client that never reads its answers costs little memory (+$((rss1 - rss0)) KiB)" \
            [ $((rss1 - rss0)) -lt 8192 ]
    fi
    exec 3<&-
fi

for model in $MODELS; do
    workers=()
    [ "$model" = prefork ] && workers=(--workers 3)
    start_model "srv-$model" "$model" ${workers[@]+"${workers[@]}"} --header-timeout 2000 --keepalive-timeout 3000 \
        --upstream "http://127.0.0.1:$API_PORT" || continue
    SPID=$PID
    suite "$model" "$PORT" /0/ /700/ "$([ "$model" = prefork ] && echo 1 || echo 0)"
    check "$model still running" kill -0 "$SPID"
    [ "$model" = prefork ] && check "prefork: all 3 workers still there" [ "$(pids_of "$SPID" | wc -l)" -ge 4 ]
    fo_stop "$SPID"
    start_model "srv-$model-nc" "$model" ${workers[@]+"${workers[@]}"} --no-cancel \
        --upstream "http://127.0.0.1:$API_PORT" || continue
    half_closes "$model" "$PORT" /0/ /700/ "$([ "$model" = prefork ] && echo 1 || echo 0)"
    fo_stop "$PID"
done

robust_finish

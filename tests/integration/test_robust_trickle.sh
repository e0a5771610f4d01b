#!/usr/bin/env bash
# Trickling clients, for the API and every model, with --header-timeout 3000 and
# --keepalive-timeout 2500: the header deadline runs from the first byte after idle, whatever the
# bytes are, and only a whole request re-arms the idle timer. So each of these is dropped within
# the header timeout of its first trickled byte:
#   - bare line breaks, one byte a second (llhttp skips them without starting a message, so a
#     server that re-armed a timer on every read kept this client forever);
#   - the same after a first request answered on a keep-alive connection;
#   - a header, one byte a second, after a first request answered;
#   - a body, one byte a second, after a whole header: no route takes a body, so it is refused
#     (405) from its header, at once, instead of being waited for.
# prefork answers one request per connection and closes: after a first request there is nothing
# left to drop, and it must say so at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/robust_lib.sh"

TIMEOUTS=(--header-timeout 3000 --keepalive-timeout 2500)
CRLFS=$(for _ in $(seq 8); do printf '\\r\\n'; done)
FIRST='GET /0/ HTTP/1.1\r\nHost: t\r\n\r\n'

# trickle NAME PORT TAG SLOW_AFTER BYTES: one client in the background sending BYTES (printf %b
# escapes), the first SLOW_AFTER of them at once and the rest one a second; output in
# $WORK/NAME.TAG. It gives up 2 s after its last byte (a client never dropped ends "timeout").
trickle() {
    printf '%b' "$5" | "$RC_BIN" "$2" --slow 1000 --slow-after "$4" --timeout 2000 >"$WORK/$1.$3" &
    TRICKLERS+=($!)
}

# dropped NAME TAG WANT LO HI: the client got WANT (statuses then the end, as raw in robust_lib;
# an extended regular expression) and was closed between LO and HI ms after it connected.
dropped() {
    local f=$WORK/$1.$2 got ms
    got=$(sed -n 's/^#STATUS *//p' "$f")
    got="${got:+$got }$(sed -n 's/^#END \([a-z-]*\).*/\1/p' "$f")"
    ms=$(sed -n 's/^#END [a-z-]* ms=\([0-9]*\).*/\1/p' "$f")
    check "$1: $2: want '$3' within $4-$5 ms, got '$got' at ${ms:-?} ms" \
        awk -v g="$got" -v w="$3" -v ms="${ms:-0}" -v lo="$4" -v hi="$5" \
        'BEGIN { exit !(g ~ ("^(" w ")$") && ms >= lo && ms <= hi) }'
}

# suite NAME PORT ONE_PER_CONN: the four tricklers at once, then the verdicts.
suite() {
    local n=$1 port=$2 one=$3 first_len
    first_len=$(printf '%b' "$FIRST" | wc -c)
    TRICKLERS=()
    trickle "$n" "$port" crlf 0 "$CRLFS"
    trickle "$n" "$port" keepalive-crlf "$first_len" "$FIRST$CRLFS"
    trickle "$n" "$port" keepalive-header "$first_len" "${FIRST}GET /0/ HTTP/1.1\r\nHost: slow\r\n\r\n"
    local post='POST /0/ HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\n'
    trickle "$n" "$port" body "$(printf '%b' "$post" | wc -c)" "${post}aaaaaaaaaaaaaaaaaaaa"
    wait_ok "${TRICKLERS[@]}"
    check "$n: the four trickling clients ran" [ "$OK" = 4 ]
    # The deadline is 3 s from the first trickled byte: at 0 s for the bare line breaks and the
    # body's header, at 1 s after a first request. Closed well before the bytes run out (16 s).
    # Closed with no request begun: a byte in flight at that moment may turn the close into a reset.
    dropped "$n" crlf "eof|reset" 2500 7000
    dropped "$n" body "405 eof" 0 1500
    if [ "$one" = 1 ]; then
        dropped "$n" keepalive-crlf "200 eof" 0 2500
        dropped "$n" keepalive-header "200 eof" 0 2500
    else
        # As for crlf: a byte that arrives as the server drops the client, unread, makes the
        # kernel end the connection with a reset (seen once in a busy sanitizer run).
        dropped "$n" keepalive-crlf "200 (eof|reset)" 3500 8000
        dropped "$n" keepalive-header "200 408 eof" 3500 8000
    fi
}

start api "$BIN/fanout-api" --port 0 "${TIMEOUTS[@]}"
API_PORT=$PORT
suite api "$API_PORT" 0

for model in $MODELS; do
    size=()
    [ "$model" = prefork ] && size=(--workers 5)
    start_model "srv-$model" "$model" ${size[@]+"${size[@]}"} "${TIMEOUTS[@]}" \
        --upstream "http://127.0.0.1:$API_PORT" || continue
    SPID=$PID
    suite "$model" "$PORT" "$([ "$model" = prefork ] && echo 1 || echo 0)"
    check "$model: still serving" [ "$(code "http://127.0.0.1:$PORT/0/")" = 200 ]
    fo_stop "$SPID"
done

robust_finish

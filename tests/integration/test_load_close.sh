#!/usr/bin/env bash
# fanout-load against servers that end connections: "Connection: close" after each answer (as
# prefork does), a body delimited by the close, and a server that closes idle keep-alive
# connections. Requests still succeed; reconnects are counted; the connect is inside the time.
source "$(dirname "$0")/lib.sh"
LOAD=$BIN/fanout-load

start close "$TESTBIN/load_server" --mode close --delay 50 --lifetime 60
"$LOAD" -q -u 5 -d 2s --json "$WORK/close.json" "http://127.0.0.1:$PORT/" >/dev/null 2>"$WORK/close.err"
check "Connection: close: exit 0" [ $? -eq 0 ]
check "Connection: close: successes, no failures" js close 'd.requests >= 50 and d.failures.total == 0'
check "Connection: close: one reconnect per request after each user's first" \
    js close 'd.requests - 5 <= d.reconnects <= d.requests + 5'
check "Connection: close: min includes the 50 ms delay" js close 'd.min_ms >= 50'

start eof "$TESTBIN/load_server" --mode eof-body --delay 20 --lifetime 60
"$LOAD" -q -u 3 -d 1s --json "$WORK/eof.json" "http://127.0.0.1:$PORT/" >/dev/null 2>"$WORK/eof.err"
check "body ended by close: exit 0" [ $? -eq 0 ]
check "body ended by close: successes with all 33 bytes of each body" \
    js eof 'd.requests > 10 and d.failures.total == 0 and d.bytes == d.requests * 33'

# The server closes a connection after 0.2 s idle; with a 300..400 ms wait between requests
# every request finds its connection closed and must reconnect, without failing.
start idle "$TESTBIN/load_server" --mode idle-close --delay 10 --lifetime 60
"$LOAD" -q -u 3 -d 2s --wait 300:400 --json "$WORK/idle.json" "http://127.0.0.1:$PORT/" >/dev/null 2>"$WORK/idle.err"
check "idle close: exit 0" [ $? -eq 0 ]
check "idle close: no failures, and reconnects" js idle 'd.requests >= 6 and d.failures.total == 0 and d.reconnects >= 3'
check "idle close: --wait paces the users (3 users, at most 7 each in 2 s)" js idle 'd.requests <= 21'
check "no sanitizer report in any run" no_sanitizer_report
finish

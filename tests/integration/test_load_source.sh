#!/usr/bin/env bash
# fanout-load --source: every connection (the first probe too) comes from the address given, so
# that the processes of a large load can each have a source address of their own, and with it
# the whole range of ephemeral ports (bench-scale.sh's ladder to 30,000 users needs two). An
# address this machine lacks, or of the other family, is a clear error before any load.
# Loopback only; the 127.0.0.2 part needs Linux's 127.0.0.0/8 on lo (macOS has 127.0.0.1 only).
source "$(dirname "$0")/lib.sh"
LOAD=$BIN/fanout-load

start server "$TESTBIN/load_server" --delay 50 --lifetime 60 --log-peers
URL=http://127.0.0.1:$PORT/

# peers FROM: the distinct source addresses the server saw since line FROM of its log.
peers() { tail -n +"$1" "$WORK/server.log" | sed -n 's/^peer //p' | sort -u | paste -sd' ' -; }

"$LOAD" -q --users 4 --duration 1s --source 127.0.0.1 "$URL" >"$WORK/one.out" 2>&1
rc=$?
check "--source 127.0.0.1 exits 0 (exit $rc)" [ "$rc" -eq 0 ]
check "... and its summary says where from" grep -q "; from 127.0.0.1$" "$WORK/one.out"
check "... and the server saw 127.0.0.1 only ($(peers 2))" [ "$(peers 2)" = 127.0.0.1 ]

"$LOAD" -q --users 4 --duration 1s --source localhost "$URL" >"$WORK/name.out" 2>&1
rc=$?
check "a name is refused (exit $rc)" [ "$rc" -eq 2 ]
check "... saying an IP address is wanted" grep -q -- "--source wants an IP address" "$WORK/name.out"

"$LOAD" -q --users 4 --duration 1s --source ::1 "$URL" >"$WORK/family.out" 2>&1
rc=$?
check "an IPv6 source for an IPv4 target fails before any load (exit $rc)" [ "$rc" -eq 3 ]
check "... saying from what" grep -q "cannot connect to 127.0.0.1 port $PORT from ::1" "$WORK/family.out"

# 203.0.113.77 (TEST-NET-3, RFC 5737) is on no machine's interfaces: the bind fails, nothing is sent.
"$LOAD" -q --users 4 --duration 1s --source 203.0.113.77 "$URL" >"$WORK/absent.out" 2>&1
rc=$?
check "an address this machine lacks fails before any load (exit $rc)" [ "$rc" -eq 3 ]
check "... naming it" grep -q "from 203.0.113.77: address not available" "$WORK/absent.out"

if ! python3 -c 'import socket; socket.socket().bind(("127.0.0.2", 0))' 2>/dev/null; then
    echo "# 127.0.0.2 is not configured here (macOS has only 127.0.0.1 on lo0): the rest is skipped"
    finish
fi
mark=$(($(wc -l <"$WORK/server.log") + 1))
"$LOAD" -q --users 6 --duration 1s --json "$WORK/two.json" --source 127.0.0.2 "$URL" >"$WORK/two.out" 2>&1
rc=$?
check "--source 127.0.0.2 exits 0 (exit $rc)" [ "$rc" -eq 0 ]
check "... with no failures" js two 'd.failures.total == 0 and d.requests > 20'
check "... and every connection came from 127.0.0.2 ($(peers "$mark"))" [ "$(peers "$mark")" = 127.0.0.2 ]
check "... seven of them: the probe and six users" \
    [ "$(tail -n +"$mark" "$WORK/server.log" | grep -c '^peer 127.0.0.2$')" -eq 7 ]
check "no sanitizer report in any run" no_sanitizer_report
finish

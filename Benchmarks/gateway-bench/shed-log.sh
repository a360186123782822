#!/bin/sh
# What a flood of 503s costs: `metro up` on a fresh data folder, one user, then
# wrk for 5 s on /healthz, and for 5 s on GET /v1/users/<id> with the only
# profiles instance stopped (SIGSTOP; every answer is 503 no-instance). Prints
# answers/s, CPU µs per answer of the gateway and of `metro up` (which copies its
# children's log lines into its own log), and the lines that log holds.
# docs/performance.md, "The shed path's log".
#
#   sh Benchmarks/gateway-bench/shed-log.sh .build-release/release/metro [label]
set -eu
BIN=$1
LABEL=${2:-metro}
PORT=${PORT:-18081}
D=$(mktemp -d)
"$BIN" up --data-dir "$D/data" --gateway 127.0.0.1:$PORT --synthetic-work-ms 5 >"$D/up.log" 2>&1 &
UP=$!
trap 'kill -TERM $UP 2>/dev/null; wait $UP 2>/dev/null; rm -rf "$D"' EXIT
for _ in $(seq 1 120); do curl -sf 127.0.0.1:$PORT/readyz >/dev/null && break; sleep 1; done
ID=$(curl -s -XPOST 127.0.0.1:$PORT/v1/users -H 'content-type: application/json' \
    -d '{"displayName":"A","email":"a@example.com"}' | sed 's/.*"id":"\([^"]*\)".*/\1/')
GW=$(pgrep -P $UP -f ' gateway ' | head -1)
PROFILES=$(pgrep -P $UP -f 'worker profiles' | head -1)
ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
row() {
    g0=$(ticks $GW); u0=$(ticks $UP)
    out=$(wrk -t2 -c32 -d5s "$2" 2>&1)
    g1=$(ticks $GW); u1=$(ticks $UP)
    echo "$out" | awk -v label="$LABEL" -v what="$1" -v g=$((g1 - g0)) -v u=$((u1 - u0)) \
        -v lines="$(wc -l <"$D/up.log")" '
        /requests in/ { n = $1 }
        /Requests\/sec/ { rate = $2 }
        END { printf "%s %s: %.0f answers/s, gateway %.1f µs, metro up %.1f µs per answer, %d log lines\n",
              label, what, rate, g * 10000 / n, u * 10000 / n, lines }'
}
row healthz http://127.0.0.1:$PORT/healthz
kill -STOP $PROFILES
sleep 1
row 503s http://127.0.0.1:$PORT/v1/users/$ID
kill -CONT $PROFILES

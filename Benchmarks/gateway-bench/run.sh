#!/bin/sh
# The gateway benchmark (issue 17): wrk on loopback, GET /v1/users/{id} through
# `metro gateway` to one profiles worker, against a Hummingbird handler that
# answers the same JSON directly (metro-gateway-bench-direct), alternated in one
# session; then past saturation (twice the connections) the share of 429s and the
# p99 of the requests served.
#
#   swift build -c release --scratch-path .build-release --product metro --product metro-gateway-bench-direct
#   Benchmarks/gateway-bench/run.sh [.build-release/release] [duration-seconds] [connections]
set -eu
BIN=${1:-.build-release/release}
DUR=${2:-10}
CONNS=${3:-32}
WORK=$(mktemp -d)
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

ready() { # file -> value of key $2 in the ready line, waiting up to 30 s
    i=0
    while ! grep -q '^ready ' "$1" 2>/dev/null; do i=$((i+1)); [ $i -lt 300 ] || { echo "no ready line in $1" >&2; exit 1; }; sleep 0.1; done
    grep '^ready ' "$1" | head -1 | sed "s/.*\"$2\":\"\([^\"]*\)\".*/\1/"
}
start() { # name args...
    name=$1; shift
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PIDS="$PIDS $!"
}

printf 'journal:\n  fsync: never\n' >"$WORK/broker.yaml"
start broker "$BIN/metro" broker --config "$WORK/broker.yaml" --data-dir "$WORK/journal" --ingest 'tcp://127.0.0.1:*' \
    --publish 'tcp://127.0.0.1:*' --events 'tcp://127.0.0.1:*' --consume 'tcp://127.0.0.1:*' --metrics "" --log-level warning
INGEST=$(ready "$WORK/broker.out" ingest); PUBLISH=$(ready "$WORK/broker.out" publish)
EVENTS=$(ready "$WORK/broker.out" events); CONSUME=$(ready "$WORK/broker.out" consume)
start registry "$BIN/metro" registry --endpoint 'tcp://127.0.0.1:*' --broker "$PUBLISH" --log-level warning
REGISTRY=$(ready "$WORK/registry.out" endpoint)
start profiles "$BIN/metro" worker profiles --broker-ingest "$INGEST" --broker-consume "$CONSUME" --registry "$REGISTRY" \
    --data "$WORK/data" --log-level warning
ready "$WORK/profiles.out" rpc >/dev/null
start gateway "$BIN/metro" gateway --listen 127.0.0.1:0 --registry "$REGISTRY" --broker-events "$EVENTS" \
    --broker-ingest "$INGEST" --broker-consume "$CONSUME" --log-level warning
GATEWAY=$(ready "$WORK/gateway.out" http)

curl -s -o "$WORK/user.json" -H 'Content-Type: application/json' \
    -d '{"displayName":"Bench","email":"bench@example.com","favouriteTags":["jazz"]}' "http://$GATEWAY/v1/users"
ID=$(sed 's/.*"id":"\([^"]*\)".*/\1/' "$WORK/user.json")
curl -s -o "$WORK/user.json" "http://$GATEWAY/v1/users/$ID"
start direct "$BIN/metro-gateway-bench-direct" 0 "$WORK/user.json"
DIRECT=$(ready "$WORK/direct.out" http)

cat >"$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.2f %d %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(99) / 1000, summary.requests, summary.errors.status, summary.errors.timeout))
end
LUA
run() { # label address connections
    out=$(wrk -t2 -c"$3" -d"${DUR}s" --latency -s "$WORK/report.lua" "http://$2/v1/users/$ID" | grep '^RESULT')
    set -- "$1" "$3" $out
    printf '%-10s %5s conns  %9.0f req/s  p99 %7.2f ms  non-2xx %s of %s\n' "$1" "$2" "$4" "$5" "$7" "$6"
    echo "$1 $4 $5" >>"$WORK/results"
}
echo "GET /v1/users/{id}, wrk -t2 -c$CONNS -d${DUR}s, alternated:"
for round in 1 2 3; do
    run direct "$DIRECT" "$CONNS"
    run gateway "$GATEWAY" "$CONNS"
done
awk '{s[$1]=s[$1]" "$2} END {for (k in s) print k, s[k]}' "$WORK/results" | sort | while read -r name a b c; do
    m=$(printf '%s\n%s\n%s\n' "$a" "$b" "$c" | sort -n | sed -n 2p); echo "$name median $m req/s"; echo "$name $m" >>"$WORK/medians"
done
awk '/^direct/ {d=$2} /^gateway/ {g=$2} END {printf "ratio gateway/direct (medians): %.2f\n", g/d}' "$WORK/medians"
echo "Past saturation: gateway with $((CONNS*2)) connections (non-2xx are 429s, see metro_gateway_shed_total):"
run gateway2x "$GATEWAY" $((CONNS*2))
curl -s "http://$GATEWAY/metrics" | grep -E '^metro_gateway_(shed_total|concurrency_limit)' || true

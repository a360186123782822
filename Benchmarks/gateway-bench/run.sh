#!/bin/sh
# The gateway benchmark (issue 17): wrk on loopback, GET /v1/users/{id} through
# `metro gateway` to one profiles worker, against two bare Hummingbird handlers
# (metro-gateway-bench-direct): `direct` answers the same JSON from memory (the
# issue's baseline), `rpc` makes the same rpc call through MetroKit's RpcClient
# without the gateway's layers (the fairer baseline). Alternated in one session,
# three rounds, medians of the served (2xx) requests/s and both ratios; then
# the gateway at 1x and 2x the connections: the share of 429s and the p99 of the
# requests served (from the gateway's own histogram, status 200: wrk's p99 mixes
# in the fast 429s). Each row also gives the CPU time per request (user + system,
# from /proc/<pid>/stat before and after, 10 ms ticks; per served request, so the
# 429s' cost is charged to the 200s) of the server answering
# wrk, of the profiles worker behind it, and of wrk itself: it says where a
# request's time goes. Rates move with the load of this shared machine by 10x;
# the CPU per request less, but it too grows with contention (each thread hop
# of the rpc path costs more when the run queue is long).
#
#   swift build -c release --scratch-path .build-release --product metro
#   swift build -c release --scratch-path .build-release --product metro-gateway-bench-direct
# (two commands: given two --product flags, swift build builds only the last)
#   Benchmarks/gateway-bench/run.sh [.build-release/release] [duration-seconds] [connections]
# GATEWAY_ARGS, if set, is added to the gateway's flags (e.g. "--limit-latency-floor-ms 5").
set -eu
GATEWAY_ARGS=${GATEWAY_ARGS:-}
BIN=${1:-.build-release/release}
DUR=${2:-10}
CONNS=${3:-32}
. "$(dirname "$0")/common.sh"
start_core
start_worker profiles
start gateway "$BIN/metro" gateway --listen 127.0.0.1:0 --registry "$REGISTRY" --broker-events "$EVENTS" \
    --broker-ingest "$INGEST" --broker-consume "$CONSUME" --log-level warning $GATEWAY_ARGS
GATEWAY=$(ready "$WORK/gateway.out" http)

curl -s -o "$WORK/user.json" -H 'Content-Type: application/json' \
    -d '{"displayName":"Bench","email":"bench@example.com","favouriteTags":["jazz"]}' "http://$GATEWAY/v1/users"
ID=$(sed 's/.*"id":"\([^"]*\)".*/\1/' "$WORK/user.json")
curl -s -o "$WORK/user.json" "http://$GATEWAY/v1/users/$ID"
start direct "$BIN/metro-gateway-bench-direct" 0 "$WORK/user.json"
DIRECT=$(ready "$WORK/direct.out" http)
start rpc "$BIN/metro-gateway-bench-direct" 0 --rpc "$REGISTRY" "$EVENTS"
RPC=$(ready "$WORK/rpc.out" http)

cat >"$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.3f %.2f %d %d %d\n", summary.duration / 1e6,
    latency:percentile(99) / 1000, summary.requests, summary.errors.status, summary.errors.timeout))
end
LUA
run() { # label address connections server-process [worker-process]
    label=$1 address=$2 conns=$3 server=$4 worker=${5:-}
    s0=$(ticks "$server"); w0=0; [ -z "$worker" ] || w0=$(ticks "$worker")
    out=$(/usr/bin/time -f 'TIME %U %S' wrk -t2 -c"$conns" -d"${DUR}s" --latency -s "$WORK/report.lua" \
        "http://$address/v1/users/$ID" 2>&1 | grep -E '^(RESULT|TIME)' | tr '\n' ' ')
    s1=$(ticks "$server"); w1=0; [ -z "$worker" ] || w1=$(ticks "$worker")
    set -- $out
    # RESULT seconds p99 requests non-2xx timeouts TIME user system
    served=$(echo "$2 $4 $5" | awk '{printf "%.0f", ($2 - $3) / $1}')
    cpu=$(echo "$s0 $s1 $w0 $w1 $8 $9 $4 $5 $TICK_US" | awk '{n = $7 - $8; t = $9; if (n < 1) n = 1
        printf "%4.0f %4.0f %4.0f", ($2 - $1) * t / n, ($4 - $3) * t / n, ($5 + $6) * 1e6 / n}')
    set -- "$@" $cpu
    printf '%-10s %3s conns %7s served req/s  p99 %7.2f ms  non-2xx %6s of %7s  CPU us/req: server %s worker %s wrk %s\n' \
        "$label" "$conns" "$served" "$3" "$5" "$4" "${10}" "$( [ -n "$worker" ] && echo "${11}" || echo '   -')" "${12}"
    echo "$label $served $3 ${10} ${11} ${12}" >>"$WORK/results"
}
# The served requests' latency histogram of GET /v1/users/{id}, status 200: "le count" lines.
histogram() {
    curl -s "http://$GATEWAY/metrics" | grep '^metro_gateway_request_duration_seconds_bucket' |
        grep 'status="200"' | grep 'route="/v1/users/{id}"' |
        sed 's/.*le="\([^"]*\)".* \([0-9.e+]*\)$/\1 \2/'
}
# p99 in ms (the upper bound of its bucket) of the requests between two histograms.
p99between() {
    awk 'NR==FNR {before[$1]=$2; next} {d=$2-before[$1]; print $1, d}' "$1" "$2" |
        awk '$1 != "+Inf" {le[NR]=$1; c[NR]=$2; n=NR} $1 == "+Inf" {total=$2}
             END {for (i=1; i<=n; i++) if (c[i] >= 0.99*total) {printf "%g", le[i]*1000; exit} printf ">%g", le[n]*1000}'
}
echo "GET /v1/users/{id}, wrk -t2 -c$CONNS -d${DUR}s, alternated (load before: $(cut -d' ' -f1-3 /proc/loadavg)):"
for round in 1 2 3; do
    run direct "$DIRECT" "$CONNS" direct
    run rpc "$RPC" "$CONNS" rpc profiles
    run gateway "$GATEWAY" "$CONNS" gateway profiles
done
med() { # label column -> the median of that column over the label's three rows
    awk -v l="$1" -v c="$2" '$1 == l {print $c}' "$WORK/results" | sort -n | sed -n 2p
}
G=$(med gateway 2)
printf '%-38s %12s %9s  %s\n' "medians of 3" "served req/s" "gateway/x" "CPU us/req: server worker wrk"
for name in direct rpc gateway; do
    case $name in
        direct) what="direct: bare handler, JSON in memory" ;;
        rpc) what="rpc: bare handler, same rpc call" ;;
        gateway) what="gateway" ;;
    esac
    m=$(med $name 2)
    printf '%-38s %12s %9s  %s %s %s\n' "$what" "$m" "$(echo "$G $m" | awk '{printf "%.2f", $1 / $2}')" \
        "$(med $name 4)" "$( [ $name = direct ] && echo - || med $name 5)" "$(med $name 6)"
done
echo "Saturation and past it: the gateway at $CONNS and $((CONNS*2)) connections (non-2xx are 429s):"
for c in "$CONNS" $((CONNS*2)); do
    histogram >"$WORK/h.before"
    run "gateway$c" "$GATEWAY" "$c" gateway profiles
    histogram >"$WORK/h.after"
    echo "    served p99 (gateway histogram, status 200): $(p99between "$WORK/h.before" "$WORK/h.after") ms"
done
curl -s "http://$GATEWAY/metrics" | grep -E '^metro_gateway_(shed_total|concurrency_limit)' || true
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

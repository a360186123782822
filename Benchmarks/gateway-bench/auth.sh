#!/bin/sh
# What the gateway's authentication costs (docs/gateway-auth.md): wrk on loopback,
# GET /v1/users/{id} through three gateways in front of the same profiles worker,
# alternated, three rounds, medians: `off` (no authentication: the path every
# other benchmark measures), `on` (--auth-secret-file, each request with a user's
# HS256 token for its own id) and, when BASE is given, `base`: the gateway of
# another build (e.g. main's, before authentication existed), also without it,
# or with it when BASE_AUTH=1 (then its requests carry the token too: e.g. the
# build before verified tokens were kept, docs/gateway-auth.md).
# Served (2xx) requests/s and the gateway's CPU time per served request (user +
# system from /proc/<pid>/stat, 10 ms ticks).
#
#   swift build -c release --scratch-path .build-release --product metro
#   Benchmarks/gateway-bench/auth.sh [.build-release/release] [duration-seconds] [connections]
#   BASE=/path/to/other/metro [BASE_AUTH=1] Benchmarks/gateway-bench/auth.sh ...
set -eu
BIN=${1:-.build-release/release}
DUR=${2:-10}
CONNS=${3:-32}
. "$(dirname "$0")/common.sh"
start_core
start_worker profiles
gateway() { # name binary extra-flags...
    name=$1 bin=$2; shift 2
    start "$name" "$bin" gateway --listen 127.0.0.1:0 --registry "$REGISTRY" --broker-events "$EVENTS" \
        --broker-ingest "$INGEST" --broker-consume "$CONSUME" --log-level warning "$@"
}
"$BIN/metro" gateway-auth secret "$WORK/secret" >/dev/null
gateway off "$BIN/metro"
gateway on "$BIN/metro" --auth-secret-file "$WORK/secret"
OFF=$(ready "$WORK/off.out" http); ON=$(ready "$WORK/on.out" http)
NAMES="off on"
if [ -n "${BASE:-}" ]; then
    if [ "${BASE_AUTH:-0}" = 1 ]; then gateway base "$BASE" --auth-secret-file "$WORK/secret"; else gateway base "$BASE"; fi
    B=$(ready "$WORK/base.out" http); NAMES="base off on"
fi

curl -s -o "$WORK/user.json" -H 'Content-Type: application/json' \
    -d '{"displayName":"Bench","email":"bench@example.com","favouriteTags":["jazz"]}' "http://$OFF/v1/users"
ID=$(sed 's/.*"id":"\([^"]*\)".*/\1/' "$WORK/user.json")
TOKEN=$("$BIN/metro" gateway-auth token --user "$ID" --role user --ttl 1h --secret-file "$WORK/secret")
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://$ON/v1/users/$ID")" = 200 ]
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$ON/v1/users/$ID")" = 401 ]

cat >"$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.3f %.2f %d %d\n", summary.duration / 1e6,
    latency:percentile(99) / 1000, summary.requests, summary.errors.status))
end
LUA
run() { # name
    case $1 in base) a=$B ;; off) a=$OFF ;; on) a=$ON ;; esac
    s0=$(ticks "$1")
    if [ "$1" = on ] || { [ "$1" = base ] && [ "${BASE_AUTH:-0}" = 1 ]; }; then
        out=$(wrk -t2 -c"$CONNS" -d"${DUR}s" -s "$WORK/report.lua" -H "Authorization: Bearer $TOKEN" "http://$a/v1/users/$ID" | grep '^RESULT')
    else
        out=$(wrk -t2 -c"$CONNS" -d"${DUR}s" -s "$WORK/report.lua" "http://$a/v1/users/$ID" | grep '^RESULT')
    fi
    s1=$(ticks "$1")
    set -- "$1" $out
    # name RESULT seconds p99 requests non-2xx
    echo "$1 $3 $4 $5 $6 $s0 $s1 $TICK_US" | awk '{served = $4 - $5; if (served < 1) served = 1
        printf "%-5s %8.0f served req/s  p99 %7.2f ms  non-2xx %6d  gateway CPU %5.0f us/req\n",
            $1, served / $2, $3, $5, ($7 - $6) * $8 / served}' | tee -a "$WORK/results"
}
echo "GET /v1/users/{id}, wrk -t2 -c$CONNS -d${DUR}s, alternated (load before: $(cut -d' ' -f1-3 /proc/loadavg)):"
for round in 1 2 3; do for n in $NAMES; do run "$n"; done; done
echo "medians of 3:"
for n in $NAMES; do
    printf '%-5s %8s served req/s  gateway CPU %5s us/req\n' "$n" \
        "$(awk -v n=$n '$1 == n {print $2}' "$WORK/results" | sort -n | sed -n 2p)" \
        "$(awk -v n=$n '$1 == n {print $12}' "$WORK/results" | sort -n | sed -n 2p)"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

#!/bin/bash
# Broker CPU per event with CURVE on, for the cost of the permission checks (protocol.md §7.8).
# Run from anywhere after: swift build -c release --scratch-path .build-release --product metro
#   (and --product metro-publish-bench). Prints broker CPU per event per round.
# Broker CPU per event with CURVE on: identity `full` (no permissions) against
# `limited` (4 publish prefixes, the match last), alternating, same broker.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
M=$ROOT/.build-release/release/metro
B=$ROOT/.build-release/release/metro-publish-bench
W=$(mktemp -d); cd "$W"
for n in broker full limited; do $M keys generate $n --dir keys >/dev/null; done
printf 'identities:\n  full:\n    publicKey: "%s"\n  limited:\n    publicKey: "%s"\n    permissions: {publish: ["a.", "b.", "c.", "bench."]}\n' "$(cat keys/full.pub)" "$(cat keys/limited.pub)" > allow.yaml
nice -n 19 $M broker --ingest tcp://127.0.0.1:17811 --publish tcp://127.0.0.1:17812 --events tcp://127.0.0.1:17813 \
  --consume tcp://127.0.0.1:17814 --metrics "" --data-dir "$W/data" --fsync never --log-level warning \
  --curve-secret-key keys/broker.key --allow-list allow.yaml > broker.out 2> broker.err &
BPID=$!
until grep -q "^ready " broker.out; do sleep 0.1; done
cpu() { awk '{print $14 + $15}' /proc/$BPID/stat; }
for round in 1 2; do
  for who in full limited; do
    c0=$(cpu); out=$(nice -n 19 $B tcp://127.0.0.1:17811 100000 256 keys/$who.key keys/broker.pub); c1=$(cpu)
    echo "acked $who round $round: $out broker CPU µs/event $(echo "($c1 - $c0) * 10000 / 100000" | bc -l | cut -c1-5)"
    c0=$(cpu); out=$(timeout 60 nice -n 19 /usr/bin/python3 "$ROOT/Benchmarks/permissions-bench/ff.py" $who 100000); c1=$(cpu)
    n=$(echo "$out" | awk '{print $NF}')
    echo "fire-and-forget $who round $round: $out broker CPU µs/event $(echo "($c1 - $c0) * 10000 / $n" | bc -l | cut -c1-5)"
  done
done
kill $BPID; wait $BPID
rm -rf "$W"

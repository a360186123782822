#!/bin/bash
# The broker loop's CPU per event at a fixed rate, for comparing two builds of
# `metro` in one run (docs/performance.md, "Metrics publish"):
#
#   Benchmarks/loop-cpu/loop-cpu.sh <metro A> <metro B> [rate=10000] [seconds=20] [rounds=4]
#
# Each round runs A then B: `metro broker --fsync interval` on ephemeral ports, a
# C PUB (pace.c) sending `rate` events/s, and the CPU time of the broker's
# busiest thread (its loop) and of the whole process from
# /proc/<pid>/task/<tid>/schedstat, before and after. Compare medians: rates on
# a 2-core VM swing ±20% between identical runs.
set -euo pipefail
A=$1; B=$2; RATE=${3:-10000}; SECS=${4:-20}; ROUNDS=${5:-4}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cc -O2 -o "$WORK/pace" "$HERE/pace.c" -lzmq

one() {
    local bin=$1 dir
    dir=$(mktemp -d "$WORK/run.XXXX")
    "$bin" broker --ingest 'tcp://127.0.0.1:*' --publish 'tcp://127.0.0.1:*' --events 'tcp://127.0.0.1:*' \
        --consume 'tcp://127.0.0.1:*' --metrics "" --data-dir "$dir/j" --fsync interval --log-level error \
        >"$dir/out" 2>"$dir/err" &
    local pid=$!
    for _ in $(seq 100); do grep -q '^ready' "$dir/out" 2>/dev/null && break; sleep 0.1; done
    local endpoint
    endpoint=$(sed -n 's/.*"publish":"\([^"]*\)".*/\1/p' "$dir/out")
    declare -A before
    for t in /proc/$pid/task/*; do before[${t##*/}]=$(cut -d' ' -f1 "$t/schedstat"); done
    "$WORK/pace" "$endpoint" "$RATE" "$SECS" >/dev/null
    local max=0 total=0 d
    for t in /proc/$pid/task/*; do
        d=$(($(cut -d' ' -f1 "$t/schedstat") - ${before[${t##*/}]:-0}))
        total=$((total + d))
        if [ "$d" -gt "$max" ]; then max=$d; fi
    done
    kill -TERM "$pid"
    wait "$pid" || true
    echo "loop ns/event $((max / (RATE * SECS)))  process ns/event $((total / (RATE * SECS)))"
}

for round in $(seq "$ROUNDS"); do
    echo "round $round A: $(one "$A")"
    echo "round $round B: $(one "$B")"
done

#!/bin/sh
# CURVE on against off (issue 19): the same broker build twice, one plain and one
# with CURVE on (`--curve-secret-key`, an allow-list of one client), each fed in
# turn, alternating, three rounds:
#   acked  MetroKit's Publisher (metro-publish-bench: 256 tasks, 100 B payloads);
#          it packs what is queued into PUBLISH-PACKED, so one encrypted message
#          carries many events
#   acked1 the same with one task: one event per message, one at a time (N/10 events)
#   ff     fire-and-forget from `metro publish --fire-and-forget` (XPUB -> XSUB)
# Each row gives the rate and the broker's CPU per event (user + system from
# /proc/<pid>/stat, 10 ms ticks), and for acked the client's CPU per event. The
# fire-and-forget rate is counted at the broker: from the first send until its
# `received` counter has grown by every event. The journal's fsync is off
# (`fsync: never`) so that the disk does not hide the CPU cost of encryption.
#
#   swift build -c release --scratch-path .build-release --product metro
#   swift build -c release --scratch-path .build-release --product metro-publish-bench
# (two commands: given two --product flags, swift build builds only the last)
#   sh Benchmarks/curve-bench/run.sh [.build-release/release] [events=100000]
set -eu
BIN=${1:-.build-release/release}
N=${2:-100000}
WORK=$(mktemp -d)
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

ready() { # file key -> value of key in the ready line, waiting up to 30 s
    i=0
    while ! grep -q '^ready ' "$1" 2>/dev/null; do i=$((i+1)); [ $i -lt 300 ] || { echo "no ready line in $1" >&2; cat "${1%.out}.err" >&2; exit 1; }; sleep 0.1; done
    grep '^ready ' "$1" | head -1 | sed "s/.*\"$2\":\"\([^\"]*\)\".*/\1/"
}
start() { # name args...
    name=$1; shift
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PIDS="$PIDS $!"
    echo $! >"$WORK/$name.pid"
}
ticks() { awk '{print $14 + $15}' "/proc/$(cat "$WORK/$1.pid")/stat"; }
TICK_US=$((1000000 / $(getconf CLK_TCK)))

K="$WORK/keys"
for name in broker registry bench; do "$BIN/metro" keys generate "$name" --dir "$K" >/dev/null; done
printf 'identities:\n  bench:\n    publicKey: "%s"\n' "$(cat "$K/bench.pub")" >"$WORK/allow-list.yaml"
printf 'journal:\n  fsync: never\n' >"$WORK/broker.yaml"
for mode in plain curve; do
    extra=""
    [ $mode = plain ] || extra="--curve-secret-key $K/broker.key --allow-list $WORK/allow-list.yaml"
    # shellcheck disable=SC2086
    start "$mode" "$BIN/metro" broker --config "$WORK/broker.yaml" --data-dir "$WORK/journal-$mode" \
        --ingest 'tcp://127.0.0.1:*' --publish 'tcp://127.0.0.1:*' --events 'tcp://127.0.0.1:*' \
        --consume 'tcp://127.0.0.1:*' --metrics "" --log-level warning $extra
done
for mode in plain curve; do
    eval "INGEST_$mode=\$(ready \"\$WORK/$mode.out\" ingest)"
    eval "PUBLISH_$mode=\$(ready \"\$WORK/$mode.out\" publish)"
    eval "CONSUME_$mode=\$(ready \"\$WORK/$mode.out\" consume)"
done
keyargs() { [ "$1" = plain ] || echo "--keys $K --identity bench"; }
received() { # mode -> the broker's received counter
    # shellcheck disable=SC2046
    "$BIN/metro" broker stats --consume "$(eval echo "\$CONSUME_$1")" $(keyargs "$1") |
        sed -n 's/.*"received" : \([0-9]*\).*/\1/p'
}
now() { date +%s.%N; }

acked() { # mode [tasks=256] [kind=acked]: tasks publishing at once (the Publisher packs what is queued)
    mode=$1 tasks=${2:-256} kind=${3:-acked}
    n=$N; [ "$tasks" -gt 1 ] || n=$((N / 10))
    b0=$(ticks "$mode")
    if [ "$mode" = plain ]; then
        out=$("$BIN/metro-publish-bench" "$(eval echo "\$INGEST_$mode")" "$n" "$tasks")
    else
        out=$("$BIN/metro-publish-bench" "$(eval echo "\$INGEST_$mode")" "$n" "$tasks" "$K/bench.key" "$K/broker.pub")
    fi
    b1=$(ticks "$mode")
    rate=$(echo "$out" | sed 's/.*events\/s \([0-9]*\).*/\1/')
    client=$(echo "$out" | sed 's/.*client CPU µs\/event \([0-9.]*\).*/\1/')
    broker=$(echo "$b0 $b1 $TICK_US $n" | awk '{printf "%.2f", ($2 - $1) * $3 / $4}')
    printf '%-6s %-6s %10s ev/s   broker CPU %6s us/ev   client CPU %6s us/ev\n' "$kind" "$mode" "$rate" "$broker" "$client"
    echo "$kind $mode $rate $broker $client" >>"$WORK/results"
}
ff() { # mode
    mode=$1
    r0=$(received "$mode"); b0=$(ticks "$mode"); t0=$(now)
    # shellcheck disable=SC2046
    "$BIN/metro" publish bench.ff --raw --data '{"p":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}' \
        --count "$N" --fire-and-forget --publish "$(eval echo "\$PUBLISH_$mode")" $(keyargs "$mode") >/dev/null 2>"$WORK/ff.err"
    i=0
    while [ "$(received "$mode")" -lt $((r0 + N)) ]; do
        i=$((i+1)); [ $i -lt 600 ] || { echo "ff $mode: the broker did not receive $N events" >&2; break; }; sleep 0.05
    done
    t1=$(now); b1=$(ticks "$mode")
    rate=$(echo "$t0 $t1 $N" | awk '{printf "%.0f", $3 / ($2 - $1)}')
    broker=$(echo "$b0 $b1 $TICK_US $N" | awk '{printf "%.2f", ($2 - $1) * $3 / $4}')
    printf '%-6s %-6s %10s ev/s   broker CPU %6s us/ev\n' ff "$mode" "$rate" "$broker"
    echo "ff $mode $rate $broker -" >>"$WORK/results"
}

echo "CURVE off vs on, $N events of ~100 B per row, alternated (load before: $(cut -d' ' -f1-3 /proc/loadavg)):"
for round in 1 2 3; do
    acked plain; acked curve; acked plain 1 acked1; acked curve 1 acked1; ff plain; ff curve
done
med() { # kind mode column -> median over the three rounds
    awk -v k="$1" -v m="$2" -v c="$3" '$1 == k && $2 == m {print $c}' "$WORK/results" | sort -n | sed -n 2p
}
echo
printf '%-8s %12s %12s %8s   %18s %18s\n' "medians" "plain ev/s" "curve ev/s" "ratio" "broker us/ev p/c" "client us/ev p/c"
for kind in acked acked1 ff; do
    p=$(med $kind plain 3); c=$(med $kind curve 3)
    printf '%-8s %12s %12s %8s   %18s %18s\n' "$kind" "$p" "$c" "$(echo "$p $c" | awk '{printf "%.2f", $2 / $1}')" \
        "$(med $kind plain 4) / $(med $kind curve 4)" "$(med $kind plain 5) / $(med $kind curve 5)"
done
echo "(load after: $(cut -d' ' -f1-3 /proc/loadavg))"

# Sourced by the gateway benchmarks (run.sh, auth.sh, media.sh): a work folder
# removed at exit with every process started, the helpers to start processes and
# read their ready lines and CPU, and the core of a system on ephemeral ports.
# Needs BIN (the folder of the `metro` binary).
WORK=$(mktemp -d)
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

ready() { # file key -> the value of key in the file's ready line, waiting up to 30 s
    i=0
    while ! grep -q '^ready ' "$1" 2>/dev/null; do i=$((i+1)); [ $i -lt 300 ] || { echo "no ready line in $1" >&2; exit 1; }; sleep 0.1; done
    grep '^ready ' "$1" | head -1 | sed "s/.*\"$2\":\"\([^\"]*\)\".*/\1/"
}
start() { # name args... -> runs args in the background, output in $WORK/name.out and .err
    name=$1; shift
    "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PIDS="$PIDS $!"
    echo $! >"$WORK/$name.pid"
}
ticks() { # name -> user + system clock ticks of that process so far (comm has no spaces)
    awk '{print $14 + $15}' "/proc/$(cat "$WORK/$1.pid")/stat"
}
TICK_US=$((1000000 / $(getconf CLK_TCK)))
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_core() { # a broker (fsync never) and a registry; sets INGEST PUBLISH EVENTS CONSUME REGISTRY
    printf 'journal:\n  fsync: never\n' >"$WORK/broker.yaml"
    start broker "$BIN/metro" broker --config "$WORK/broker.yaml" --data-dir "$WORK/journal" \
        --ingest 'tcp://127.0.0.1:*' --publish 'tcp://127.0.0.1:*' --events 'tcp://127.0.0.1:*' \
        --consume 'tcp://127.0.0.1:*' --metrics "" --log-level warning
    INGEST=$(ready "$WORK/broker.out" ingest); PUBLISH=$(ready "$WORK/broker.out" publish)
    EVENTS=$(ready "$WORK/broker.out" events); CONSUME=$(ready "$WORK/broker.out" consume)
    start registry "$BIN/metro" registry --endpoint 'tcp://127.0.0.1:*' --broker "$PUBLISH" --log-level warning
    REGISTRY=$(ready "$WORK/registry.out" endpoint)
}
start_worker() { # service [flags...] -> one instance on $WORK/data, once it is ready
    service=$1; shift
    start "$service" "$BIN/metro" worker "$service" --broker-ingest "$INGEST" --broker-consume "$CONSUME" \
        --registry "$REGISTRY" --data "$WORK/data" --log-level warning "$@"
    ready "$WORK/$service.out" rpc >/dev/null
}

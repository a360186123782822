#!/bin/sh
# Runs schemathesis (PyPI) against a live `metro gateway` with docs/openapi.yaml:
# broker, registry, a profiles and a video worker and the gateway on loopback, from the
# given build folder. It must find no 5xx and no response that breaks the schema
# (issue 17 §5). A synthetic video worker runs too; the recommendations routes
# answer 503 problems (no such worker runs), a status the document has.
#
# With GATEWAY_AUTH=1 the gateway runs with authentication on (docs/gateway-auth.md)
# and schemathesis sends an operator's token, minted by `metro gateway-auth`.
#
#   pip3 install schemathesis
#   .ci/gateway-schemathesis.sh [.build/debug] [max-examples]
#   GATEWAY_AUTH=1 .ci/gateway-schemathesis.sh [.build/debug] [max-examples]
set -eu
BIN=${1:-.build/debug}
EXAMPLES=${2:-30}
WORK=$(mktemp -d)
PIDS=""
cleanup() { for p in $PIDS; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
ready() {
    i=0
    while ! grep -q '^ready ' "$1" 2>/dev/null; do i=$((i+1)); [ $i -lt 300 ] || { echo "no ready line in $1" >&2; exit 1; }; sleep 0.1; done
    grep '^ready ' "$1" | head -1 | sed "s/.*\"$2\":\"\([^\"]*\)\".*/\1/"
}
start() { name=$1; shift; "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" & PIDS="$PIDS $!"; }

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
# A video worker (synthetic step: no ffmpeg run per fuzzed upload), so the upload and
# media routes answer from the service, not 503.
start video "$BIN/metro" worker video --broker-ingest "$INGEST" --broker-consume "$CONSUME" --registry "$REGISTRY" \
    --data "$WORK/data" --synthetic-work-ms 5 --log-level warning
ready "$WORK/video.out" rpc >/dev/null
AUTH=""
if [ "${GATEWAY_AUTH:-0}" = 1 ]; then
    "$BIN/metro" gateway-auth secret "$WORK/gateway.secret" >/dev/null
    AUTH="--auth-secret-file $WORK/gateway.secret"
    TOKEN=$("$BIN/metro" gateway-auth token --user schemathesis --role operator --ttl 1h --secret-file "$WORK/gateway.secret")
fi
# shellcheck disable=SC2086 # AUTH is two words or none
start gateway "$BIN/metro" gateway --listen 127.0.0.1:0 --registry "$REGISTRY" --broker-events "$EVENTS" \
    --broker-ingest "$INGEST" --broker-consume "$CONSUME" --log-level warning $AUTH
GATEWAY=$(ready "$WORK/gateway.out" http)

# Authentication off: the document without its global bearer requirement, which
# the gateway then does not have (else schemathesis expects 401 without a token).
DOC=docs/openapi.yaml
if [ -n "$AUTH" ]; then
    set -- -H "Authorization: Bearer $TOKEN"
else
    set --
    DOC="$WORK/openapi.yaml"
    sed '/^security:$/,/^  - bearer: \[\]$/d' docs/openapi.yaml >"$DOC"
    ! grep -q '^security:' "$DOC" || { echo "could not drop the global security of docs/openapi.yaml" >&2; exit 1; }
fi
schemathesis run "$DOC" --url "http://$GATEWAY" --checks all --max-examples "$EXAMPLES" \
    --exclude-checks ignored_auth "$@" ${SCHEMATHESIS_ARGS:-}

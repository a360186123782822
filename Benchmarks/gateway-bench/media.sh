#!/bin/sh
# Media through the gateway, both ways, each against a plain server in the same
# run, alternated:
# - downloads: a processed video's preview (GET /v1/videos/{id}/preview,
#   streamed in pieces of an rpc to the video worker) against `python3 -m
#   http.server` serving the same file. A 1280x720 lavfi clip of SECONDS seconds
#   is uploaded and processed first; each round downloads the preview DOWNLOADS
#   times with curl, one after the other, from each server;
# - uploads: POST /v1/videos of UPLOAD_MB MB of random bytes (sent in chunks of
#   an rpc to the video worker, which writes them to its part file), 5 per
#   round, against a python server that writes the body to a file as it reads
#   it (64 KiB at a time, no fsync). curl sends no `Expect: 100-continue` (the
#   python server would not answer it, and curl would wait 1 s per upload).
# Reported per round: MB/s, and the CPU per MB (user + system from
# /proc/<pid>/stat, 10 ms ticks) of the gateway, of the video worker and of the
# plain server. The ratio is the gateway's MB/s over the plain server's.
#
#   swift build -c release --scratch-path .build-release --product metro
#   Benchmarks/gateway-bench/media.sh [.build-release/release] [rounds] [downloads] [seconds] [upload-MB]
# GATEWAY_ARGS / VIDEO_ARGS, if set, are added to the gateway's / worker's flags.
set -eu
GATEWAY_ARGS=${GATEWAY_ARGS:-}
VIDEO_ARGS=${VIDEO_ARGS:-}
BIN=${1:-.build-release/release}
ROUNDS=${2:-3}
DOWNLOADS=${3:-50}
SECONDS_OF_CLIP=${4:-120}
UPLOAD_MB=${5:-64}
. "$(dirname "$0")/common.sh"
start_core
start_worker video $VIDEO_ARGS
start_worker profiles
start gateway "$BIN/metro" gateway --listen 127.0.0.1:0 --registry "$REGISTRY" --broker-events "$EVENTS" \
    --broker-ingest "$INGEST" --broker-consume "$CONSUME" --log-level warning $GATEWAY_ARGS
GATEWAY=$(ready "$WORK/gateway.out" http)

ffmpeg -loglevel error -f lavfi -i "testsrc2=size=1280x720:rate=25:duration=$SECONDS_OF_CLIP" \
    -c:v libx264 -pix_fmt yuv420p "$WORK/clip.mp4"
curl -sf -o "$WORK/user.json" -H 'Content-Type: application/json' \
    -d '{"displayName":"Bench","email":"bench@example.com"}' "http://$GATEWAY/v1/users"
OWNER=$(sed 's/.*"id":"\([^"]*\)".*/\1/' "$WORK/user.json")
curl -sf -o "$WORK/video.json" -H 'Content-Type: video/mp4' --data-binary "@$WORK/clip.mp4" \
    "http://$GATEWAY/v1/videos?owner=$OWNER&title=bench"
VIDEO=$(sed 's/.*"videoId":"\([^"]*\)".*/\1/' "$WORK/video.json")
i=0
until curl -sf "http://$GATEWAY/v1/videos/$VIDEO" | grep -q '"status":"processed"'; do
    i=$((i+1)); [ $i -lt 1200 ] || { echo "video $VIDEO not processed within 120 s" >&2; exit 1; }; sleep 0.1
done
URL="http://$GATEWAY/v1/videos/$VIDEO/preview"
BLOB=$(curl -sfI "$URL" | tr -d '\r' | sed -n 's/^[Ee][Tt][Aa][Gg]: "\(.*\)"$/\1/p')
mkdir "$WORK/static"
cp "$(find "$WORK/data" -type f -name "$BLOB" | head -1)" "$WORK/static/preview.mp4"
SIZE=$(stat -c %s "$WORK/static/preview.mp4")
PORT=$(free_port)
start static python3 -m http.server --bind 127.0.0.1 --directory "$WORK/static" "$PORT"
STATIC="http://127.0.0.1:$PORT/preview.mp4"
i=0
until curl -sf -o /dev/null "$STATIC"; do i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done
curl -sf -o "$WORK/a" "$URL"; cmp "$WORK/a" "$WORK/static/preview.mp4"

rounds() { # megabytes-per-row timed-function gateway-url plain-url plain-name -> ROUNDS alternated rows
    r=1
    while [ $r -le "$ROUNDS" ]; do
        g0=$(ticks gateway); v0=$(ticks video)
        tg=$($2 "$3")
        g1=$(ticks gateway); v1=$(ticks video)
        s0=$(ticks "$5")
        ts=$($2 "$4")
        s1=$(ticks "$5")
        echo "$r $1 $tg $ts $g0 $g1 $v0 $v1 $s0 $s1 $TICK_US" | awk '{
            mb = $2; t = $11 / 1000
            printf "%-6s %12.0f %14.2f %14.2f %12.0f %14.2f %7.2f\n", $1, mb / $3, ($6 - $5) * t / mb,
                ($8 - $7) * t / mb, mb / $4, ($10 - $9) * t / mb, $4 / $3 }'
        r=$((r+1))
    done
}
download() { # url -> elapsed seconds of DOWNLOADS sequential downloads
    t0=$(date +%s.%N)
    n=0
    while [ $n -lt "$DOWNLOADS" ]; do curl -sf -o /dev/null "$1"; n=$((n+1)); done
    echo "$t0 $(date +%s.%N)" | awk '{print $2 - $1}'
}
MB=$(echo "$SIZE $DOWNLOADS" | awk '{print $1 * $2 / 1e6}')
echo "preview of a ${SECONDS_OF_CLIP} s 1280x720 clip: $SIZE bytes; $DOWNLOADS downloads per row (load before: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-6s %12s %14s %14s %12s %14s %7s\n' round "gateway MB/s" "gateway ms/MB" "worker ms/MB" "static MB/s" "static ms/MB" ratio
rounds "$MB" download "$URL" "$STATIC" static

# Uploads: the same random file to the gateway and to a plain python sink.
head -c $((UPLOAD_MB * 1000000)) /dev/urandom >"$WORK/upload.bin"
cat >"$WORK/sink.py" <<'PY'
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        left = int(self.headers["Content-Length"])
        with open(sys.argv[2], "wb") as out:
            while left > 0:
                piece = self.rfile.read(min(left, 65536))
                if not piece:
                    break
                out.write(piece)
                left -= len(piece)
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
PY
SINK_PORT=$(free_port)
start sink python3 "$WORK/sink.py" "$SINK_PORT" "$WORK/sink.out"
i=0
until curl -sf -o /dev/null -X POST --data-binary x "http://127.0.0.1:$SINK_PORT/"; do
    i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.1
done
upload() { # url -> elapsed seconds of 5 sequential uploads
    t0=$(date +%s.%N)
    n=0
    while [ $n -lt 5 ]; do
        curl -sf -o /dev/null -H 'Content-Type: video/mp4' -H 'X-Request-Timeout: 30000' -H 'Expect:' \
            --data-binary "@$WORK/upload.bin" "$1"
        n=$((n+1))
    done
    echo "$t0 $(date +%s.%N)" | awk '{print $2 - $1}'
}
UP_MB=$((UPLOAD_MB * 5))
echo "uploads of $UPLOAD_MB MB of random bytes, 5 per row:"
printf '%-6s %12s %14s %14s %12s %14s %7s\n' round "gateway MB/s" "gateway ms/MB" "worker ms/MB" "sink MB/s" "sink ms/MB" ratio
rounds "$UP_MB" upload "http://$GATEWAY/v1/videos?owner=$OWNER&title=upload" "http://127.0.0.1:$SINK_PORT/" sink
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

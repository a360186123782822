#!/usr/bin/env bash
# Opens a soak report's HTML page in headless Chromium and checks that its charts
# rendered (issue 16 §4, "Browser check"). Outside the test suite: it needs
# Debian's `chromium` (apt-get install chromium) and ffmpeg (for the pixels).
#
#   scripts/soak-report-check.sh REPORT.html [OUT_DIR]
#   scripts/soak-report-check.sh --sample [OUT_DIR]
#
# --sample writes the fixture's sample report first (no soak run needed): the
# test ReportSampleWriterTests with METRO_SOAK_SAMPLE_DIR set, from the debug
# build of `swift build --build-tests`.
#
# Checks, on the DOM Chromium parsed (--dump-dom): three <svg> charts, polylines
# with at least two points, fault bands; and on a full-page screenshot (PNG in
# OUT_DIR, look at it): the chart line colours and the fault bands' colour are
# really painted, and no chart says "no data".
set -euo pipefail

if [[ $# -lt 1 ]]; then
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi

if [[ "$1" == "--sample" ]]; then
    out="${2:-$(mktemp -d /tmp/soak-report-sample.XXXXXX)}"
    mkdir -p "$out"
    out="$(cd "$out" && pwd)"
    cd "$(dirname "$0")/.."
    METRO_SOAK_SAMPLE_DIR="$out" swift test --skip-build --filter ReportSampleWriterTests >"$out/sample-test.log" 2>&1 \
        || { cat "$out/sample-test.log"; exit 1; }
    report="$out/soak-report.html"
else
    report="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
    out="${2:-$(dirname "$report")}"
    mkdir -p "$out"
fi
[[ -f "$report" ]] || { echo "no such report: $report" >&2; exit 2; }
command -v chromium >/dev/null || { echo "chromium is not installed (apt-get install chromium)" >&2; exit 2; }
command -v ffmpeg >/dev/null || { echo "ffmpeg is not installed (apt-get install ffmpeg)" >&2; exit 2; }

# A throwaway profile: no state shared with other runs, nothing left behind.
profile="$(mktemp -d /tmp/soak-report-chromium.XXXXXX)"
trap 'rm -rf "$profile"' EXIT
chrome=(chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile"
    --no-first-run --disable-extensions --run-all-compositor-stages-before-draw)

dom="$out/soak-report.dom.html"
shot="$out/soak-report.png"
width=1200
height=4200
"${chrome[@]}" --dump-dom "file://$report" >"$dom" 2>"$out/chromium-dom.log"
"${chrome[@]}" --screenshot="$shot" --window-size="$width,$height" "file://$report" >"$out/chromium-shot.log" 2>&1
[[ -s "$shot" ]] || { echo "chromium wrote no screenshot (see $out/chromium-shot.log)" >&2; exit 1; }

ffmpeg -v error -i "$shot" -f rawvideo -pix_fmt rgb24 -y "$out/soak-report.rgb"
python3 - "$dom" "$out/soak-report.rgb" "$width" "$height" <<'PY'
import re, sys
dom_path, rgb_path, width, height = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
dom = open(dom_path, encoding="utf-8").read()
problems = []

svgs = re.findall(r"<svg\b", dom)
polylines = re.findall(r'<polyline\b[^>]*\bpoints="([^"]*)"', dom)
drawn = [p for p in polylines if len(p.split()) >= 2]
faults = re.findall(r'<rect\b[^>]*class="fault"', dom)
nodata = dom.count('class="nodata"')
print(f"DOM: {len(svgs)} svg charts, {len(drawn)} polylines with >= 2 points, {len(faults)} fault bands, "
      f"{nodata} empty charts")
if len(svgs) != 3: problems.append(f"expected 3 svg charts, found {len(svgs)}")
if not drawn: problems.append("no polyline with points")
if nodata: problems.append(f"{nodata} chart(s) say 'no data'")
if re.search(r"https?://", dom): problems.append("the page references http(s)://")
if re.search(r"<script\b", dom, re.I): problems.append("a <script> element is in the DOM")

pixels = open(rgb_path, "rb").read()
if len(pixels) != width * height * 3:
    problems.append(f"screenshot is {len(pixels)} bytes, expected {width}x{height}x3")
# Count each distinct colour once, then match colours within a tolerance (anti-aliasing).
from collections import Counter
colours = Counter(pixels[i:i + 3] for i in range(0, len(pixels) - 2, 3))
def count(rgb, tolerance=12):
    return sum(n for c, n in colours.items() if all(abs(c[k] - rgb[k]) <= tolerance for k in range(3)))
palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759"]
for colour in palette:
    rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    n = count(rgb)
    print(f"screenshot: {n} pixels of line colour {colour}")
    # A legend swatch is 12x12 (144 px) per chart; a drawn line is far more.
    if n < 1500: problems.append(f"line colour {colour}: only {n} pixels painted")
band = count((0xec, 0xb2, 0xb2), tolerance=14)  # #c62828 at 35% over white
print(f"screenshot: {band} pixels of fault-band colour")
if faults and band < 500: problems.append(f"fault bands: only {band} pixels painted")

if problems:
    print("FAIL: " + "; ".join(problems))
    sys.exit(1)
print("OK: the charts rendered")
PY
rm -f "$out/soak-report.rgb"
echo "screenshot: $shot"

#!/usr/bin/env bash
# Builds each example package (Examples/hello-service, a MetroKit client, and
# Examples/bookmarks-service, the service of docs/services.md on MetroRuntime)
# twice, as users would depend on Metro:
#   1. by path (`.package(name: "metro", path: "../..")`, as checked in), and
#   2. by version, from a tagged git snapshot of this checkout's HEAD
#      (`.package(url: "file://…/metro.git", from: "0.0.1")`).
# The second is what a service author's own package does, and it is the one
# SwiftPM refuses when a library product (MetroKit, MetroRuntime, ZeroMQ)
# contains a target with unsafe flags. Run from anywhere; uses scratch folders
# under $TMPDIR. `check-as-dependency.sh bookmarks-service` builds one example.
# Then each example runs against real processes on ephemeral loopback ports
# (its session.py, with Examples/session_support.py): hello-service publishes
# and takes its greetings through a broker; bookmarks-service runs its own tests
# and the session of docs/services.md §7 (broker, registry and the service,
# driven with pyzmq and `metro publish`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/metro-as-dependency.XXXXXX")"
trap 'rm -rf "$work"' EXIT
examples=("${@:-hello-service bookmarks-service}")
read -r -a examples <<<"${examples[*]}"

# The session needs a metro binary: the test build's, else one built now.
metro="${METRO_BIN:-$root/.build/debug/metro}"
if [ ! -x "$metro" ]; then
    swift build --package-path "$root" --product metro
fi

git clone -q --bare "$root" "$work/metro.git"
git -C "$work/metro.git" tag -f 0.0.1 HEAD >/dev/null

for example in "${examples[@]}"; do
    echo "== $example against Metro by path"
    swift build --package-path "$root/Examples/$example" --scratch-path "$work/$example-by-path"

    echo "== $example against Metro by version (a tagged snapshot of HEAD)"
    cp -R "$root/Examples/$example" "$work/$example"
    rm -rf "$work/$example/.build"
    sed -i "s|.package(name: \"metro\", path: \"../..\")|.package(url: \"file://$work/metro.git\", from: \"0.0.1\")|" \
        "$work/$example/Package.swift"
    grep -q "file://$work/metro.git" "$work/$example/Package.swift"
    swift build --package-path "$work/$example" --scratch-path "$work/$example-by-version"

    if [ "$example" = hello-service ]; then
        echo "== hello-service: run against a real broker"
        /usr/bin/python3 "$root/Examples/hello-service/session.py" "$metro" "$work/$example-by-version/debug/HelloService"
    fi
    if [ "$example" = bookmarks-service ]; then
        echo "== bookmarks-service: its own tests"
        swift test --package-path "$work/$example" --scratch-path "$work/$example-by-version"
        echo "== bookmarks-service: the session of docs/services.md §7, with real processes"
        /usr/bin/python3 "$root/Examples/bookmarks-service/session.py" "$metro" \
            "$work/$example-by-version/debug/BookmarksService"
    fi
done
echo "== ok: ${examples[*]} build against Metro as a path and as a versioned dependency"

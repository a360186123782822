#!/usr/bin/env bash
# Builds Examples/hello-service twice, as users would depend on Metro:
#   1. by path (`.package(name: "metro", path: "../..")`, as checked in), and
#   2. by version, from a tagged git snapshot of this checkout's HEAD
#      (`.package(url: "file://…/metro.git", from: "0.0.1")`).
# The second is what a service author's own package does, and it is the one
# SwiftPM refuses when a library product (MetroKit, ZeroMQ) contains a target
# with unsafe flags. Run from anywhere; uses scratch folders under $TMPDIR.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/metro-as-dependency.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "== hello-service against Metro by path"
swift build --package-path "$root/Examples/hello-service" --scratch-path "$work/by-path"

echo "== hello-service against Metro by version (a tagged snapshot of HEAD)"
git clone -q --bare "$root" "$work/metro.git"
git -C "$work/metro.git" tag -f 0.0.1 HEAD >/dev/null
cp -R "$root/Examples/hello-service" "$work/hello-service"
rm -rf "$work/hello-service/.build"
sed -i "s|.package(name: \"metro\", path: \"../..\")|.package(url: \"file://$work/metro.git\", from: \"0.0.1\")|" \
    "$work/hello-service/Package.swift"
grep -q "file://$work/metro.git" "$work/hello-service/Package.swift"
swift build --package-path "$work/hello-service" --scratch-path "$work/by-version"
echo "== ok: MetroKit builds as a path and as a versioned dependency"

#!/usr/bin/env bash
# Renders raftsim's HTML timeline in a real browser (headless Chromium) and
# checks that it draws one lane per node and message arrows between them.
# Usage: scripts/check-timeline.sh [screenshot.png]
# Installs Debian's chromium package if it is missing (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go run ./cmd/raftsim -scenario leader-crash -nodes 3 -ticks 300 -seed 7 -out "$out" >"$out/summary.txt"
html=$(sed -n 's/^HTML timeline: \(.*\) (open it in a browser)$/\1/p' "$out/summary.txt")
[ -n "$html" ] && [ -f "$html" ] || { echo "no timeline written"; cat "$out/summary.txt"; exit 1; }

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$out/profile" --virtual-time-budget=5000)
chromium "${flags[@]}" --dump-dom "file://$html#start=0&win=50" 2>/dev/null >"$out/dom.html"

lanes=$(grep -o '>node [0-9]*</text>' "$out/dom.html" | sort -u | wc -l)
arrows=$(grep -o 'marker-end="url(#a[0-9]*)"' "$out/dom.html" | wc -l)
lost=$(grep -o 'stroke-dasharray="3,2"' "$out/dom.html" | wc -l)
echo "timeline in Chromium: $lanes node lanes, $arrows delivered-message arrows, $lost lost-message arrows"
if [ "$lanes" -ne 3 ]; then echo "FAIL: want 3 node lanes"; exit 1; fi
if [ "$arrows" -lt 10 ]; then echo "FAIL: want message arrows"; exit 1; fi

if [ $# -ge 1 ]; then
  chromium "${flags[@]}" --window-size=1400,900 --screenshot="$1" "file://$html#start=0&win=50" 2>/dev/null
  echo "screenshot: $1"
fi
echo "timeline check passed"

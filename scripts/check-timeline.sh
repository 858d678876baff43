#!/usr/bin/env bash
# Renders raftsim's HTML timeline in a real browser (headless Chromium) and
# checks that it draws one lane per node, message arrows between them and
# the log view; then breaks the commit rule as tour chapter 3 does and
# checks that the log view of the failing run outlines the entry the
# Figure 8 violation names.
# Usage: scripts/check-timeline.sh [screenshot.png]
# Installs Debian's chromium package if it is missing (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/chromium.sh

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go run ./cmd/raftsim -scenario leader-crash -nodes 3 -ticks 300 -seed 7 -out "$out" >"$out/summary.txt"
html=$(sed -n 's/^HTML timeline: \(.*\) (open it in a browser)$/\1/p' "$out/summary.txt")
[ -n "$html" ] && [ -f "$html" ] || { echo "no timeline written"; cat "$out/summary.txt"; exit 1; }

flags=("${chromium_flags[@]}" --user-data-dir="$out/profile" --virtual-time-budget=5000)
chromium "${flags[@]}" --dump-dom "file://$html#start=0&win=50" 2>/dev/null >"$out/dom.html"

lanes=$(grep -o '>node [0-9]*</text>' "$out/dom.html" | sort -u | wc -l)
arrows=$(grep -o 'marker-end="url(#a[0-9]*)"' "$out/dom.html" | wc -l)
lost=$(grep -o 'stroke-dasharray="3,2"' "$out/dom.html" | wc -l)
echo "timeline in Chromium: $lanes node lanes, $arrows delivered-message arrows, $lost lost-message arrows"
if [ "$lanes" -ne 3 ]; then echo "FAIL: want 3 node lanes"; exit 1; fi
if [ "$arrows" -lt 10 ]; then echo "FAIL: want message arrows"; exit 1; fi
cells=$(grep -o 'class="logcell"' "$out/dom.html" | wc -l)
echo "log view: $cells entries drawn; $(grep -o 'id="loghead">[^<]*' "$out/dom.html" | sed 's/.*>//')"
if [ "$cells" -lt 30 ]; then echo "FAIL: want the log view to draw the logs"; exit 1; fi

# Figure 8: the commit rule removed (tour chapter 3), the first failing seed
# of a sweep writes its timeline; its log view must outline the entry the
# leader-completeness or read-freshness violation names.
f8="$out/f8"; mkdir -p "$f8"
sed 's/if t, _ := n.log.term(idx); t != n.term {/if t, _ := n.log.term(idx); false \&\& t != n.term {/' replication.go >"$f8/replication.go"
printf '{"Replace":{"%s/replication.go":"%s/replication.go"}}' "$PWD" "$f8" >"$f8/overlay.json"
go build -overlay "$f8/overlay.json" -o "$f8/raftsim" ./cmd/raftsim
(cd "$f8" && ./raftsim -scenario figure8 -seeds 100 -out "$f8" >"$f8/summary.txt" || true)
f8html=$(sed -n 's/^HTML timeline: \(.*\) (open it in a browser)$/\1/p' "$f8/summary.txt" | head -n 1)
[ -n "$f8html" ] || { echo "FAIL: the broken commit rule failed no seed"; tail -n 3 "$f8/summary.txt"; exit 1; }
chromium "${flags[@]}" --dump-dom "file://$f8html" 2>/dev/null >"$f8/dom.html"
outlined=$(grep -o 'class="logcell"[^>]*stroke="#c62828"' "$f8/dom.html" | wc -l)
echo "Figure 8: $(grep -o 'VIOLATION: [^<]*' "$f8/dom.html" | head -n 1 | cut -c1-120)...; $outlined entries outlined in the log view"
if [ "$outlined" -lt 1 ]; then echo "FAIL: the log view outlines no entry of the violation"; exit 1; fi

if [ $# -ge 1 ]; then
  chromium "${flags[@]}" --window-size=1400,900 --screenshot="$1" "file://$html#start=0&win=50" 2>/dev/null
  echo "screenshot: $1"
fi
echo "timeline check passed"

#!/usr/bin/env bash
# Starts the live playground (go run ./cmd/raftsim -playground) on a free
# loopback port and loads it in headless Chromium with #autotest: the page
# waits for a leader, clicks "crash" on it, and reports when another node
# is elected. Passes if it does. Installs Debian's chromium if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/chromium.sh

out=$(mktemp -d)
go build -o "$out/raftsim" ./cmd/raftsim
"$out/raftsim" -playground -addr 127.0.0.1:0 >"$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$out"' EXIT
url=""
for _ in $(seq 1 120); do
  url=$(sed -n 's/^playground: \(http[^ ]*\).*/\1/p' "$out/server.log")
  [ -n "$url" ] && break
  kill -0 $server 2>/dev/null || { cat "$out/server.log"; echo "FAIL: the playground did not start"; exit 1; }
  sleep 1
done
[ -n "$url" ] || { cat "$out/server.log"; echo "FAIL: the playground did not start in time"; exit 1; }

chromium "${chromium_flags[@]}" --user-data-dir="$out/profile" --virtual-time-budget=60000 \
  --dump-dom "${url}#autotest" 2>/dev/null >"$out/dom.html"
result=$(grep -o 'id="autotest">[^<]*' "$out/dom.html" | sed 's/.*>//')
echo "playground in Chromium: ${result:-no result}"
case "$result" in
  "PLAYGROUND OK"*) echo "playground check passed" ;;
  *) grep -o 'id="lmsg">[^<]*' "$out/dom.html" || true; echo "FAIL: no new leader after crashing the leader"; exit 1 ;;
esac

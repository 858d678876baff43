#!/usr/bin/env bash
# Benchmarks a 3-node raftkv cluster against a 3-node etcd cluster on this
# machine, with the same load generator (raftkv bench), fsync on in both,
# everything on loopback. Installs etcd from Debian's etcd-server package if
# it is missing. Not part of the test run.
#
#   examples/raftkv/scripts/compare-etcd.sh            # 3 rounds of 10 s runs
#   ROUNDS=1 DURATION=5s examples/raftkv/scripts/compare-etcd.sh
#
# Environment: ROUNDS (3), DURATION (10s), CONCURRENCY (1,64,512),
# VALUE_SIZE (256), WORKLOADS (put,get-linearizable,get-lease,get-stale),
# KEYS (1000), KEEP (set: keep the data and logs).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v etcd >/dev/null 2>&1; then
  echo "== installing etcd (Debian etcd-server)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
fi
etcd --version | sed -n 1p >&2

work=$(mktemp -d /tmp/raftkv-compare-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "logs and data kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building raftkv" >&2
go build -o "$work/raftkv" .

echo "== starting etcd x3" >&2
cluster="e1=http://127.0.0.1:22381,e2=http://127.0.0.1:22382,e3=http://127.0.0.1:22383"
for i in 1 2 3; do
  etcd --name "e$i" --data-dir "$work/etcd$i" \
    --listen-client-urls "http://127.0.0.1:2237$i" --advertise-client-urls "http://127.0.0.1:2237$i" \
    --listen-peer-urls "http://127.0.0.1:2238$i" --initial-advertise-peer-urls "http://127.0.0.1:2238$i" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token compare \
    --log-level error >"$work/etcd$i.log" 2>&1 &
  pids+=($!)
done

echo "== starting raftkv x3" >&2
peers="1=127.0.0.1:27001/127.0.0.1:28001,2=127.0.0.1:27002/127.0.0.1:28002,3=127.0.0.1:27003/127.0.0.1:28003"
for i in 1 2 3; do
  "$work/raftkv" --id "$i" --peers "$peers" --data "$work/raftkv$i" --initial-cluster-state new --log-level warn >"$work/raftkv$i.log" 2>&1 &
  pids+=($!)
done

# Wait for both clusters to elect a leader.
for i in $(seq 1 100); do
  ok=1
  curl -sf http://127.0.0.1:22371/health | grep -q true || ok=0
  curl -sf http://127.0.0.1:28001/cluster/status | grep -q '"leader":[1-9]' || ok=0
  [ $ok = 1 ] && break
  sleep 0.2
done

echo "== load: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$work/raftkv" bench \
  --endpoints 127.0.0.1:28001,127.0.0.1:28002,127.0.0.1:28003 \
  --etcd http://127.0.0.1:22371,http://127.0.0.1:22372,http://127.0.0.1:22373 \
  --workloads "${WORKLOADS:-put,get-linearizable,get-lease,get-stale}" \
  --concurrency "${CONCURRENCY:-1,64,512}" --value-size "${VALUE_SIZE:-256}" \
  --duration "${DURATION:-10s}" --rounds "${ROUNDS:-3}" --keys "${KEYS:-1000}"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

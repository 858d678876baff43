#!/usr/bin/env bash
# Benchmarks a 3-node raftkv cluster against a 3-node etcd cluster on this
# machine, with the same load generator (raftkv bench), fsync on in both,
# everything on loopback. Installs etcd from Debian's etcd-server package if
# it is missing. Not part of the test run.
#
#   examples/raftkv/scripts/compare-etcd.sh            # 3 rounds of 10 s runs
#   ROUNDS=1 DURATION=5s examples/raftkv/scripts/compare-etcd.sh
#   TLS=1 examples/raftkv/scripts/compare-etcd.sh      # both with peer and client TLS
#   RAFT_GROUPS=16 examples/raftkv/scripts/compare-etcd.sh  # raftkv's keys over 16 Raft groups
#
# With TLS=1 both systems use certificates from `raftkv certs`: etcd with
# peer TLS (--peer-client-cert-auth) and client TLS (--client-cert-auth),
# raftkv with --tls-dir (mutual TLS between peers, TLS and authorization on
# the API); the load generator presents the "writer" client certificate.
#
# Environment: ROUNDS (3), DURATION (10s), CONCURRENCY (1,64,512),
# VALUE_SIZE (256), WORKLOADS (put,get-linearizable,get-lease,get-stale),
# KEYS (1000), RAFT_GROUPS (1: raftkv's --groups), KEEP (set: keep the data and logs).
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

scheme=http
etcd_tls=()
raftkv_tls=()
bench_tls=()
curl_tls=()
if [ -n "${TLS:-}" ]; then
  scheme=https
  "$work/raftkv" certs --dir "$work/certs" --nodes 1,2,3 >/dev/null
  c="$work/certs"
  bench_tls=(--cacert "$c/ca.crt" --cert "$c/client-writer.crt" --key "$c/client-writer.key")
  curl_tls=(--cacert "$c/ca.crt" --cert "$c/client-admin.crt" --key "$c/client-admin.key")
fi

echo "== starting etcd x3 ($scheme)" >&2
cluster="e1=$scheme://127.0.0.1:22381,e2=$scheme://127.0.0.1:22382,e3=$scheme://127.0.0.1:22383"
for i in 1 2 3; do
  if [ -n "${TLS:-}" ]; then
    etcd_tls=(--cert-file "$c/node-$i.crt" --key-file "$c/node-$i.key" --trusted-ca-file "$c/ca.crt" --client-cert-auth
      --peer-cert-file "$c/node-$i.crt" --peer-key-file "$c/node-$i.key" --peer-trusted-ca-file "$c/ca.crt" --peer-client-cert-auth)
  fi
  etcd --name "e$i" --data-dir "$work/etcd$i" \
    --listen-client-urls "$scheme://127.0.0.1:2237$i" --advertise-client-urls "$scheme://127.0.0.1:2237$i" \
    --listen-peer-urls "$scheme://127.0.0.1:2238$i" --initial-advertise-peer-urls "$scheme://127.0.0.1:2238$i" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token compare \
    "${etcd_tls[@]}" --log-level error >"$work/etcd$i.log" 2>&1 &
  pids+=($!)
done

echo "== starting raftkv x3" >&2
peers="1=127.0.0.1:27001/127.0.0.1:28001,2=127.0.0.1:27002/127.0.0.1:28002,3=127.0.0.1:27003/127.0.0.1:28003"
for i in 1 2 3; do
  if [ -n "${TLS:-}" ]; then raftkv_tls=(--tls-dir "$c"); fi
  "$work/raftkv" --id "$i" --peers "$peers" --data "$work/raftkv$i" --groups "${RAFT_GROUPS:-1}" --initial-cluster-state new "${raftkv_tls[@]}" --log-level warn >"$work/raftkv$i.log" 2>&1 &
  pids+=($!)
done

# Wait for both clusters to elect a leader.
for i in $(seq 1 100); do
  ok=1
  curl -sf "${curl_tls[@]}" $scheme://127.0.0.1:22371/health | grep -q true || ok=0
  curl -sf "${curl_tls[@]}" $scheme://127.0.0.1:28001/cluster/status | grep -q '"leader":[1-9]' || ok=0
  [ $ok = 1 ] && break
  sleep 0.2
done

echo "== load: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$work/raftkv" bench \
  --endpoints 127.0.0.1:28001,127.0.0.1:28002,127.0.0.1:28003 \
  --etcd $scheme://127.0.0.1:22371,$scheme://127.0.0.1:22372,$scheme://127.0.0.1:22373 "${bench_tls[@]}" \
  --workloads "${WORKLOADS:-put,get-linearizable,get-lease,get-stale}" \
  --concurrency "${CONCURRENCY:-1,64,512}" --value-size "${VALUE_SIZE:-256}" \
  --duration "${DURATION:-10s}" --rounds "${ROUNDS:-3}" --keys "${KEYS:-1000}"
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

#!/usr/bin/env bash
# Put throughput and latency of a 3-node raftkv cluster against the number
# of Raft groups the keys are spread over (issue 17): for each G, three
# raftkv processes on this machine (fsync on, loopback), the same load
# generator (raftkv bench, put workload), and the WAL fsyncs per second the
# three processes did during the load (from raftkv_wal_fsync_seconds_count
# in /metrics). Not part of the test run.
#
#   examples/raftkv/scripts/scale-groups.sh                 # G = 1,4,16,64
#   GROUPS_LIST=1,16 DURATION=5s ROUNDS=1 examples/raftkv/scripts/scale-groups.sh
#
# Environment: GROUPS_LIST (1,4,16,64), CONCURRENCY (256), DURATION (10s),
# ROUNDS (3), VALUE_SIZE (256), KEYS (10000), KEEP (set: keep data and logs),
# PROFILE (set: profile node 1's CPU for 10 s of each load and print the top).
#
# Also reported: the CPU time the three raftkv processes used per put
# (user + system, from /proc), which shows what G costs in work, apart from
# what the machine can run in parallel.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/raftkv-scale-XXXXXX)
pids=()
stop() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
}
cleanup() {
  stop
  if [ -n "${KEEP:-}" ]; then echo "logs and data kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building raftkv" >&2
go build -o "$work/raftkv" .

# cputicks sums the user and system CPU ticks of the raftkv processes.
cputicks() {
  local total=0 p
  for p in "${pids[@]}"; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$total"
}

# fsyncs sums raftkv_wal_fsync_seconds_count over the three nodes.
fsyncs() {
  local total=0 n
  for i in 1 2 3; do
    n=$(curl -sf "http://127.0.0.1:2800$i/metrics" | awk '/^raftkv_wal_fsync_seconds_count/ {print $2}')
    total=$(awk -v a="$total" -v b="${n:-0}" 'BEGIN {printf "%.0f", a + b}')
  done
  echo "$total"
}

peers="1=127.0.0.1:27001/127.0.0.1:28001,2=127.0.0.1:27002/127.0.0.1:28002,3=127.0.0.1:27003/127.0.0.1:28003"
summary="| G | concurrency | puts/s | p50 | p99 | fsyncs/s (3 nodes) | CPU µs per put (3 nodes) |\n|---:|---:|---:|---:|---:|---:|---:|\n"
IFS=, read -r -a glist <<<"${GROUPS_LIST:-1,4,16,64}"
for g in "${glist[@]}"; do
  echo "== G=$g: starting raftkv x3" >&2
  for i in 1 2 3; do
    "$work/raftkv" --id "$i" --peers "$peers" --data "$work/g$g-$i" --groups "$g" --initial-cluster-state new \
      --log-level warn >"$work/g$g-$i.log" 2>&1 &
    pids+=($!)
  done
  # Every group must have a leader: write one key per group's share of
  # the key space until all writes succeed.
  ready=0
  for _ in $(seq 1 300); do
    ready=1
    for k in $(seq 1 $((4 * g))); do
      curl -sf -X PUT "http://127.0.0.1:28001/kv/warm$k" -d x >/dev/null || { ready=0; break; }
    done
    [ $ready = 1 ] && break
    sleep 0.2
  done
  if [ $ready != 1 ]; then echo "G=$g: cluster not ready; logs in $work" >&2; KEEP=1; exit 1; fi
  echo "== G=$g: load on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  before=$(fsyncs)
  cpu0=$(cputicks)
  start=$(date +%s.%N)
  if [ -n "${PROFILE:-}" ]; then
    (sleep 3; curl -sf -o "$work/g$g-node1.pprof" "http://127.0.0.1:28001/debug/pprof/profile?seconds=10") &
  fi
  out=$("$work/raftkv" bench --endpoints 127.0.0.1:28001,127.0.0.1:28002,127.0.0.1:28003 \
    --workloads put --concurrency "${CONCURRENCY:-256}" --value-size "${VALUE_SIZE:-256}" \
    --duration "${DURATION:-10s}" --rounds "${ROUNDS:-3}" --keys "${KEYS:-10000}" --format markdown 2>/dev/null)
  end=$(date +%s.%N)
  after=$(fsyncs)
  cpu1=$(cputicks)
  wait_profile=$(jobs -p | grep -v -F -f <(printf '%s\n' "${pids[@]}") || true)
  [ -n "$wait_profile" ] && wait $wait_profile 2>/dev/null || true
  echo "$out" >"$work/g$g-bench.md"
  rate=$(awk -v a="$before" -v b="$after" -v s="$start" -v e="$end" 'BEGIN {printf "%.0f", (b - a) / (e - s)}')
  # bench prints the median of the rounds of each figure, one markdown
  # row: | system | workload | conc | ops/s | p50 | p90 | p99 | max | errors |
  row=$(echo "$out" | awk -F'|' '$3 ~ /put/ {gsub(/ /, ""); printf "%s | %s | %s ms | %s ms", $4, $5, $6, $8}')
  puts=$(echo "$out" | awk -F'|' '$3 ~ /put/ {gsub(/ /, ""); print $5}')
  cpu=$(awk -v t="$((cpu1 - cpu0))" -v r="$puts" -v s="$start" -v e="$end" 'BEGIN {printf "%.0f", t * 10000 / (r * (e - s))}')
  summary+="| $g | $row | $rate | $cpu |\n"
  if [ -n "${PROFILE:-}" ] && [ -s "$work/g$g-node1.pprof" ]; then
    echo "== G=$g: node 1's CPU profile, top 15 by cumulative time" >&2
    go tool pprof -top -cum "$work/raftkv" "$work/g$g-node1.pprof" 2>/dev/null | sed -n 1,22p >&2
  fi
  stop
done
echo
echo "raftkv put throughput against G, 3 nodes on one machine, fsync on; medians of ${ROUNDS:-3} rounds; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
printf "%b" "$summary"

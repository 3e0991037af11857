#!/usr/bin/env bash
# What replication costs as nodes are added, measured on real nodes against
# the test broker, for this tree and (optionally) an earlier commit in one run:
#   - records per admitted request: wrk load on three serving nodes, users
#     drawn at random among 1,000,000 (far below their limit: capacity 10,
#     1/s) or among 100 (far above it), in each merge mode; records are what
#     the broker acknowledged (limiter_sync_published_total), counted once
#     the buckets have refilled and their tombstones (if any) gone out;
#   - an idle fourth node's CPU per request served elsewhere (µs, from
#     /proc): all of it, and what it spent above its own idle cost, measured
#     for as long just before the load (its Kafka clients' polling, which
#     does not grow with the others' traffic).
# Everything targets 127.0.0.1, every run is bounded (SECONDS_PER_RUN).
# Usage: scripts/perf-scale.sh [BASE_REV]   (SECONDS_PER_RUN=15 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${SECONDS_PER_RUN:-15}
base_rev=${1:+$(git rev-parse --short "$1")}
root=$PWD
out=$root/target/perf-scale
mkdir -p "$out"

cargo build --release --quiet --bin crdt-limiter
cp target/release/crdt-limiter "$out/crdt-limiter-this"
bins=(this)
if [ -n "$base_rev" ]; then
  base=$root/target/perf-base/$base_rev
  if [ ! -x "$base/crdt-limiter" ]; then
    echo "== building $base_rev"
    mkdir -p "$base"
    tree=$root/target/perf-base/tree
    git worktree remove --force "$tree" 2>/dev/null || true
    git worktree add --detach "$tree" "$base_rev" >/dev/null
    (cd "$tree" && CARGO_TARGET_DIR=$root/target cargo build --release --quiet --bin crdt-limiter &&
      cp "$root/target/release/crdt-limiter" "$base/")
    git worktree remove --force "$tree"
  fi
  cp "$base/crdt-limiter" "$out/crdt-limiter-$base_rev"
  bins=("$base_rev" this)
fi
scripts/tools.sh install wrk >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export BROKER_STATE_DIR=$out/broker
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/broker.sh stop "$port" >/dev/null 2>&1 || true
}
trap cleanup EXIT
scripts/broker.sh start "$port" >/dev/null

metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v s="$2" '$1==s {v+=$2} END {print v+0}'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
wait_ready() { for _ in $(seq 1 300); do curl -sf -o /dev/null "http://127.0.0.1:$1/readyz" && return 0; sleep 0.1; done; return 1; }

# run BIN MERGE SCENARIO: one line of results
run() {
  local bin=$out/crdt-limiter-$1 merge=$2 scenario=$3 tag=$RANDOM$RANDOM
  local ports=() node_pids=()
  for i in 1 2 3 4; do
    local p
    p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$bin" --listen "127.0.0.1:$p" --kafka-brokers "127.0.0.1:$port" --topic "scale-$tag" \
      --config-topic "scale-config-$tag" --node-id "n$i" --merge "$merge" --capacity 10 \
      --refill-per-sec 1 --max-keys 2000000 --log warn >"$out/node-$i.log" 2>&1 &
    node_pids+=($!); pids+=($!); ports+=("$p")
  done
  for p in "${ports[@]}"; do wait_ready "$p"; done
  sleep 1
  local idle_before quiet_ticks
  idle_before=$(cpu_ticks "${node_pids[3]}")
  sleep "$secs"
  quiet_ticks=$(($(cpu_ticks "${node_pids[3]}") - idle_before))
  idle_before=$(cpu_ticks "${node_pids[3]}")
  local wrks=()
  for i in 0 1 2; do
    wrk -t1 -c16 -d"${secs}s" -s scripts/perf-scale.lua "http://127.0.0.1:${ports[$i]}/protected" \
      -- "$scenario" >"$out/wrk-$i.txt" 2>&1 &
    wrks+=($!)
  done
  wait "${wrks[@]}"
  sleep 0.5
  local idle_after
  idle_after=$(cpu_ticks "${node_pids[3]}")
  # Refilled (10 s) and swept: tombstones, if any, are out.
  sleep 13
  local published=0 allowed=0 decisions=0
  for i in 0 1 2; do
    published=$((published + $(metric "${ports[$i]}" limiter_sync_published_total | cut -d. -f1)))
    allowed=$((allowed + $(curl -s "http://127.0.0.1:${ports[$i]}/metrics" |
      awk '/^limiter_decisions_total/ && /outcome="allowed"/ {v+=$2} END {print v+0}' | cut -d. -f1)))
    decisions=$((decisions + $(curl -s "http://127.0.0.1:${ports[$i]}/metrics" |
      awk '/^limiter_decisions_total/ {v+=$2} END {print v+0}' | cut -d. -f1)))
  done
  for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  awk -v b="$1" -v m="$merge" -v s="$scenario" -v pub="$published" -v a="$allowed" -v d="$decisions" \
    -v t="$((idle_after - idle_before))" -v q="$quiet_ticks" 'BEGIN {
      printf "| %s | %s | %s | %d | %d | %d | %.3f | %.3f | %.3f |\n", b, m, s, d, a, pub, pub / (a > 0 ? a : 1),
        t * 10000 / (d > 0 ? d : 1), (t - q) * 10000 / (d > 0 ? d : 1) }'
}

echo
echo "| build | merge | users | requests | admitted | records | records per admitted | idle node µs per request elsewhere | of which above its idle cost |"
echo "|---|---|---|---|---|---|---|---|---|"
for scenario in uniform hot; do
  for merge in min-max counted; do
    for b in "${bins[@]}"; do run "$b" "$merge" "$scenario"; done
  done
done

#!/usr/bin/env bash
# Counts how often nodes go between "cut off" and "connected" when the CPU is
# starved around a broker freeze: a test broker and N nodes (each with some
# traffic), busy loops on every core, the broker frozen for a while and
# thawed, then the transitions each node logged are counted per phase.
#   scripts/partition-flap.sh [ROUNDS]       (default 1; prints one line per round)
# Settings (environment): NODES=3, BUSY=<cores × 3> busy loops, SETTLE=10 s of
# load before the freeze, FREEZE=3 s, WATCH=15 s after it, AFTER_MS=500
# (--partition-after-ms), BIN=target/debug/crdt-limiter (built if missing).
# The busy loops end by themselves (timeout), and everything started is
# stopped on exit. Logs: target/flap/.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-1}
nodes=${NODES:-3}
busy=${BUSY:-$(($(nproc) * 3))}
settle=${SETTLE:-10}
freeze=${FREEZE:-3}
watch=${WATCH:-15}
after_ms=${AFTER_MS:-500}
bin=${BIN:-target/debug/crdt-limiter}
dir=$PWD/target/flap
mkdir -p "$dir"
[ -x "$bin" ] || cargo build --quiet --bin crdt-limiter

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export BROKER_STATE_DIR="$dir"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  scripts/broker.sh stop "$port" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Transitions logged in $1 after line $2: "<cut-offs> <heals> <seconds from $3 to the last one>".
transitions() {
  local log=$1 from=$2 since=$3
  tail -n "+$((from + 1))" "$log" | python3 -c '
import sys, datetime
since = float(sys.argv[1]); cuts = heals = 0; last = None
for line in sys.stdin:
    cut, heal = "cut off from the cluster" in line, "hearing the cluster again" in line
    if cut or heal:
        cuts += cut; heals += heal
        stamp = line.split()[0].replace("Z", "+00:00")
        last = datetime.datetime.fromisoformat(stamp).timestamp() - since
print(cuts, heals, "-" if last is None else f"{last:.1f}")
' "$since"
}

metric() { curl -sf "http://$1/metrics" | awk -v s="$2" '$1 == s { print $2 }'; }

scripts/broker.sh start "$port" >/dev/null
for round in $(seq 1 "$rounds"); do
  topic="flap-$$-$round"
  addrs=()
  for i in $(seq 1 "$nodes"); do
    log="$dir/round-$round-node-$i.log"
    "$bin" --listen 127.0.0.1:0 --kafka-brokers "127.0.0.1:$port" --topic "$topic" \
      --node-id "n$i" --merge counted --partition-after-ms "$after_ms" --log "${LOG:-info}" \
      >"$log" 2>&1 </dev/null &
    pids+=($!)
    for _ in $(seq 1 100); do
      addr=$(grep -o ' addr=[0-9.:]*' "$log" | head -1 | cut -d= -f2 || true)
      [ -n "$addr" ] && break
      sleep 0.1
    done
    addrs+=("$addr")
  done
  for addr in "${addrs[@]}"; do
    for _ in $(seq 1 300); do
      [ "$(metric "$addr" limiter_cluster_nodes)" = "$nodes" ] && break
      sleep 0.1
    done
  done
  # A user spending on every node, 20 requests a second each.
  for addr in "${addrs[@]}"; do
    (end=$((SECONDS + settle + freeze + watch + 2))
     while [ $SECONDS -lt $end ]; do
       curl -s -o /dev/null -X POST -H 'X-User-ID: zoe' "http://$addr/protected" || true
       sleep 0.05
     done) &
    pids+=($!)
  done
  for _ in $(seq 1 "$busy"); do
    timeout "$((settle + freeze + watch + 2))" sh -c 'while :; do :; done' &
    pids+=($!)
  done
  marks=()
  for i in $(seq 1 "$nodes"); do marks+=("$(wc -l <"$dir/round-$round-node-$i.log")"); done
  loaded=$(date +%s.%N)
  sleep "$settle"
  frozen_marks=()
  for i in $(seq 1 "$nodes"); do frozen_marks+=("$(wc -l <"$dir/round-$round-node-$i.log")"); done
  scripts/broker.sh pause "$port" >/dev/null
  sleep "$freeze"
  scripts/broker.sh resume "$port" >/dev/null
  resumed=$(date +%s.%N)
  sleep "$watch"
  line="round $round (load $(cut -d' ' -f1 /proc/loadavg)):"
  for i in $(seq 1 "$nodes"); do
    log="$dir/round-$round-node-$i.log"
    read -r lc lh _ < <(head -n "${frozen_marks[$((i - 1))]}" "$log" | transitions /dev/stdin "${marks[$((i - 1))]}" "$loaded")
    read -r fc fh last < <(transitions "$log" "${frozen_marks[$((i - 1))]}" "$resumed")
    state=$(metric "${addrs[$((i - 1))]}" limiter_partitioned)
    line+=" n$i load-only ${lc}c/${lh}h, freeze+${watch}s ${fc}c/${fh}h last@${last}s end=${state:-?};"
  done
  echo "$line"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
done

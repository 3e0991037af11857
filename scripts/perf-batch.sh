#!/usr/bin/env bash
# Decisions per second through POST /v1/checks (1,000 items a call) against
# single POST /v1/check on the same node, ROUNDS alternating runs of
# SECONDS_PER_RUN seconds each, medians, and the ratio.
#   - one standalone node, 127.0.0.1 only, capacity and refill of 1e9 so the
#     same 1,000 users (scripts/perf-batch.lua) stay allowed: every item is a
#     full decision (take a token, answer allowed) and no key leaves memory;
#   - node --workers 2 (its default on 2 cores) and wrk -t1: wrk has little
#     to do per batch, so both cores go to deciding; 4 connections keep two
#     workers fed with batches (~0.3 ms each), single checks get 32. Tried on
#     this machine: --workers 1 gave ~2.2 M/s, wrk -t2 and -c8 or -c2 no
#     better. WORKERS, WRK_THREADS and *_CONNECTIONS override;
#   - decisions/s is counted by the node itself (limiter_decisions_total before
#     and after each run), and every run must answer only 2xx.
# Usage: scripts/perf-batch.sh        (~1 minute after the build; ROUNDS=3 SECONDS_PER_RUN=10)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-10}
workers=${WORKERS:-2}
threads=${WRK_THREADS:-1}
batch_conns=${BATCH_CONNECTIONS:-4}
single_conns=${SINGLE_CONNECTIONS:-32}
port=${PORT:-8077}
url=http://127.0.0.1:$port
target=${CARGO_TARGET_DIR:-$PWD/target}
out=$target/perf-batch
mkdir -p "$out"

command -v wrk >/dev/null || { echo "perf-batch.sh: wrk missing; scripts/tools.sh install wrk" >&2; exit 1; }
cargo build --release --quiet --bin crdt-limiter

"$target/release/crdt-limiter" --listen "127.0.0.1:$port" --workers "$workers" --log warn \
  --capacity 1000000000 --refill-per-sec 1000000000 >"$out/node.log" 2>&1 &
node=$!
trap 'kill "$node" 2>/dev/null || true; wait "$node" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf -o /dev/null "$url/readyz" && break; sleep 0.1; done
curl -sf -o /dev/null "$url/readyz"

decisions() { curl -s "$url/metrics" | awk '$1 ~ /^limiter_decisions_total/ {s+=$2} END {printf "%d\n", s}'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
run() {  # run MODE CONNECTIONS -> decisions/s (appended to $out/MODE.txt)
  local before after report
  before=$(decisions)
  report=$(timeout $((secs + 30)) wrk -t"$threads" -c"$2" -d"${secs}s" -s scripts/perf-batch.lua "$url" -- "$1")
  after=$(decisions)
  if grep -q "Non-2xx" <<<"$report"; then echo "$report" >&2; echo "perf-batch.sh: $1 got errors" >&2; exit 1; fi
  echo "$report" >>"$out/$1.wrk"
  awk -v d=$((after - before)) -v s="$secs" 'BEGIN {printf "%d\n", d / s}' | tee -a "$out/$1.txt"
}
rm -f "$out"/*.txt "$out"/*.wrk
# Warm up: the 1,000 users' buckets exist before the first measured run.
wrk -t1 -c1 -d1s -s scripts/perf-batch.lua "$url" -- batch >/dev/null

echo "== $rounds rounds x ${secs}s: node --workers $workers; wrk -t$threads, batch -c$batch_conns, single -c$single_conns"
for r in $(seq 1 "$rounds"); do
  # Assigned first, so that a failed run stops the script (set -e).
  b=$(run batch "$batch_conns")
  s=$(run single "$single_conns")
  echo "round $r: batch $b decisions/s, single $s decisions/s"
done
batch=$(median <"$out/batch.txt")
single=$(median <"$out/single.txt")
echo "RESULT batch_decisions_per_s=$batch single_decisions_per_s=$single ratio=$(awk -v b="$batch" -v s="$single" 'BEGIN {printf "%.1f", b / s}')"
echo "(wrk reports in $out/*.wrk)"

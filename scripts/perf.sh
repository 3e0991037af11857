#!/usr/bin/env bash
# Measures the figures of docs/performance.md on this machine, side by side:
#   - one node vs the bare actix-web baseline (examples/bare_http.rs), hot user and
#     many users, ROUNDS alternating rounds, medians;
#   - three nodes (scripts/cluster.sh) vs three bare servers, plus Kafka records/s
#     against requests/s and the convergence lag from limiter_sync_lag_seconds;
#   - memory per tracked key: RSS growth of a node over 1,000,000 active users.
# Everything targets 127.0.0.1 and every run is bounded (SECONDS per run).
# Usage: scripts/perf.sh            (ROUNDS=3 SECONDS_PER_RUN=10 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-10}
users=${LOADTEST_USERS:-32}
out=$PWD/target/perf
mkdir -p "$out"

cargo build --release --quiet --bin crdt-limiter --example bare_http
cargo build --release --quiet -p crdt-limiter-loadtest
lt=$PWD/target/release/loadtest
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/cluster.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

wait_up() { for _ in $(seq 1 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; return 1; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
metric_sum() {  # sum of one series over the given base URLs
  local name=$1; shift
  for u in "$@"; do curl -s "$u/metrics"; done | awk -v n="$name" '$1==n {s+=$2} END {print s+0}'
}
run() {  # run SCENARIO TARGETS LABEL [CLIENT] -> appends the RESULT line to $out/LABEL-SCENARIO.txt
  # CLIENT is the goose scenario actually run (default SCENARIO). The bare server
  # always answers 200, so it is driven by the client that expects 200
  # (manyusers): goose then does the same work per request on both sides.
  local client=${4:-$1}
  (cd "$out" && LOADTEST_TARGETS=$2 "$lt" --scenarios "$client" --run-time "$secs" -u "$users" \
     --increase-rate "$users" --quiet --no-print-metrics --report-file "$out/$3-$1.html") \
    | grep '^RESULT' | tee -a "$out/$3-$1.txt"
}
summary() {  # summary LABEL SCENARIO -> "rps p50 p99 p999" medians
  local f="$out/$1-$2.txt"
  echo "$(field rps <"$f" | median) $(field p50_us <"$f" | median) $(field p99_us <"$f" | median) $(field p999_us <"$f" | median)"
}
rm -f "$out"/*.txt

echo "== one node vs bare baseline ($rounds rounds x ${secs}s, $users goose users)"
./target/release/crdt-limiter --listen 127.0.0.1:8000 --log warn >"$out/node.log" 2>&1 & pids+=($!)
./target/release/examples/bare_http 127.0.0.1:8090 >"$out/bare.log" 2>&1 & pids+=($!)
wait_up http://127.0.0.1:8000/healthz; wait_up http://127.0.0.1:8090/protected || true
for scenario in hotuser manyusers; do
  for _ in $(seq 1 "$rounds"); do
    run "$scenario" http://127.0.0.1:8090 bare1 manyusers >/dev/null
    run "$scenario" http://127.0.0.1:8000 node1 >/dev/null
  done
done
kill "${pids[@]}"; pids=()

echo "== three nodes vs three bare servers"
ports=(8091 8092 8093)
for p in "${ports[@]}"; do ./target/release/examples/bare_http "127.0.0.1:$p" >/dev/null 2>&1 & pids+=($!); done
scripts/cluster.sh start 3 >/dev/null
nodes=(http://127.0.0.1:8001 http://127.0.0.1:8002 http://127.0.0.1:8003)
bare3=http://127.0.0.1:8091,http://127.0.0.1:8092,http://127.0.0.1:8093
cluster=$(IFS=,; echo "${nodes[*]}")
for p in "${ports[@]}"; do wait_up "http://127.0.0.1:$p/protected" || true; done
for scenario in hotuser manyusers; do
  for _ in $(seq 1 "$rounds"); do
    run "$scenario" "$bare3" bare3 manyusers >/dev/null
    before=$(metric_sum limiter_sync_published_total "${nodes[@]}")
    line=$(run "$scenario" "$cluster" node3)
    after=$(metric_sum limiter_sync_published_total "${nodes[@]}")
    echo "$line kafka_records=$((${after%.*} - ${before%.*}))" >>"$out/kafka-$scenario.txt"
  done
done
lag=$(for u in "${nodes[@]}"; do curl -s "$u/metrics"; done | python3 -c '
import re, sys
buckets, total = {}, 0.0
for line in sys.stdin:
    m = re.match(r"limiter_sync_lag_seconds_bucket\{le=\"([^\"]+)\"\} (\S+)", line)
    if m and m.group(1) != "+Inf":
        buckets[float(m.group(1))] = buckets.get(float(m.group(1)), 0) + float(m.group(2))
    elif line.startswith("limiter_sync_lag_seconds_count "):
        total += float(line.split()[1])
def upper(q):
    return next((f"{le * 1000:g} ms" for le, n in sorted(buckets.items()) if n >= q * total), "over 10 s")
print(f"{total:.0f} merged records: p50 <= {upper(0.5)}, p99 <= {upper(0.99)} (histogram bucket bounds)")
')
scripts/cluster.sh stop >/dev/null
kill "${pids[@]}"; pids=()

echo "== memory per tracked key (1,000,000 active users)"
./target/release/crdt-limiter --listen 127.0.0.1:8000 --log warn --refill-per-sec 1/3600 --max-keys 2000000 \
  >"$out/memory.log" 2>&1 & node_pid=$!; pids+=($node_pid)
wait_up http://127.0.0.1:8000/healthz
rss() { awk '/^VmRSS/ {print $2}' "/proc/$node_pid/status"; }
rss_before=$(rss)
(cd "$out" && LOADTEST_TARGETS=http://127.0.0.1:8000 "$lt" --scenarios newusers --iterations 31250 \
   -u "$users" --increase-rate "$users" --quiet --no-print-metrics --report-file "$out/memory.html") >/dev/null
keys=$(metric_sum limiter_buckets http://127.0.0.1:8000)
rss_after=$(rss)
kill "$node_pid"; pids=()

echo
echo "RESULTS (medians of $rounds runs of ${secs}s; rps = requests/s; latency in microseconds, client side)"
for scenario in hotuser manyusers; do
  read -r b_rps _ _ _ <<<"$(summary bare1 "$scenario")"
  read -r n_rps n50 n99 n999 <<<"$(summary node1 "$scenario")"
  read -r b3_rps _ _ _ <<<"$(summary bare3 "$scenario")"
  read -r n3_rps m50 m99 m999 <<<"$(summary node3 "$scenario")"
  recs=$(awk '{for(i=1;i<=NF;i++){split($i,a,"="); if(a[1]=="kafka_records")r+=a[2]; if(a[1]=="requests")q+=a[2]}} END {printf "%d records for %d requests (%.4f per request)", r, q, r/q}' "$out/kafka-$scenario.txt")
  echo "$scenario 1 node : $n_rps rps (bare $b_rps, ratio $(awk -v a="$n_rps" -v b="$b_rps" 'BEGIN{printf "%.2f", a/b}')), p50 $n50 p99 $n99 p99.9 $n999"
  echo "$scenario 3 nodes: $n3_rps rps (bare x3 $b3_rps, ratio $(awk -v a="$n3_rps" -v b="$b3_rps" 'BEGIN{printf "%.2f", a/b}')), p50 $m50 p99 $m99 p99.9 $m999; kafka: $recs"
done
echo "convergence lag (3 nodes): $lag"
echo "memory: $keys keys tracked, RSS ${rss_before} kB -> ${rss_after} kB: $(awk -v a="$rss_after" -v b="$rss_before" -v k="$keys" 'BEGIN{printf "%.0f", (a-b)*1024/k}') bytes per key"
echo "HTML reports: $out/*.html"

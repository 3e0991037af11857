# Part `cluster` of scripts/perf.sh: three nodes (scripts/cluster.sh, on its
# broker) against three bare servers, hot user and many users, ROUNDS
# alternating rounds of SECONDS_PER_RUN s with LOADTEST_USERS goose users;
# Kafka records published against requests, and the convergence lag from
# limiter_sync_lag_seconds.
# shellcheck shell=bash disable=SC2154 # target and the helpers come from scripts/lib/perf.sh

perf_cluster() {
  local rounds=${ROUNDS:-3} secs=${SECONDS_PER_RUN:-10} users=${LOADTEST_USERS:-32}
  local out=$target/perf/cluster scenario p
  mkdir -p "$out"; rm -f "$out"/*.txt
  build --bin crdt-limiter --example bare_http
  build_loadtest

  say "== three nodes vs three bare servers ($rounds rounds x ${secs}s, $users goose users)"
  local ports=(8091 8092 8093)
  for p in "${ports[@]}"; do "$target/release/examples/bare_http" "127.0.0.1:$p" >/dev/null 2>&1 & track $!; done
  on_exit "scripts/cluster.sh stop"
  scripts/cluster.sh start 3 >/dev/null
  local nodes=(http://127.0.0.1:8001 http://127.0.0.1:8002 http://127.0.0.1:8003)
  local bare3=http://127.0.0.1:8091,http://127.0.0.1:8092,http://127.0.0.1:8093
  local cluster before after line
  cluster=$(IFS=,; echo "${nodes[*]}")
  for p in "${ports[@]}"; do wait_up "http://127.0.0.1:$p/protected" || true; done
  for scenario in hotuser manyusers; do
    for _ in $(seq 1 "$rounds"); do
      goose "$scenario" "$bare3" bare3 manyusers >/dev/null
      before=$(metric_sum limiter_sync_published_total "${nodes[@]}")
      line=$(goose "$scenario" "$cluster" node3)
      after=$(metric_sum limiter_sync_published_total "${nodes[@]}")
      echo "$line kafka_records=$((${after%.*} - ${before%.*}))" >>"$out/kafka-$scenario.txt"
    done
  done
  local lag
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
  cleanup

  echo "RESULTS (medians of $rounds runs of ${secs}s; rps = requests/s; latency in microseconds, client side)"
  local b3_rps n3_rps m50 m99 m999 recs
  for scenario in hotuser manyusers; do
    read -r b3_rps _ _ _ <<<"$(goose_summary bare3 "$scenario")"
    read -r n3_rps m50 m99 m999 <<<"$(goose_summary node3 "$scenario")"
    recs=$(awk '{for(i=1;i<=NF;i++){split($i,a,"="); if(a[1]=="kafka_records")r+=a[2]; if(a[1]=="requests")q+=a[2]}} END {printf "%d records for %d requests (%.4f per request)", r, q, r/q}' "$out/kafka-$scenario.txt")
    echo "$scenario 3 nodes: $n3_rps rps (bare x3 $b3_rps, ratio $(ratio "$n3_rps" "$b3_rps")), p50 $m50 p99 $m99 p99.9 $m999; kafka: $recs"
  done
  echo "convergence lag (3 nodes): $lag"
  echo "HTML reports: $out/*.html"
}

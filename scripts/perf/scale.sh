# Part `scale [BASE]` of scripts/perf.sh: what replication costs as nodes are
# added, measured on real nodes against the test broker, for this tree and
# (optionally) an earlier commit in one run:
#   - records per admitted request: wrk load on three serving nodes, users
#     drawn at random among 1,000,000 (far below their limit: capacity 10,
#     1/s) or among 100 (far above it), in each merge mode; records are what
#     the broker acknowledged (limiter_sync_published_total), counted once
#     the buckets have refilled and their tombstones (if any) gone out;
#   - an idle fourth node's CPU per request served elsewhere (µs, from
#     /proc): all of it, and what it spent above its own idle cost, measured
#     for as long just before the load (its Kafka clients' polling, which
#     does not grow with the others' traffic).
# Every run is bounded: SECONDS_PER_RUN (15 by default) of idle, as much of
# load, then 13 s for the buckets to refill.
# shellcheck shell=bash disable=SC2154 # target and the helpers come from scripts/lib/perf.sh

perf_scale() {
  local secs=${SECONDS_PER_RUN:-15} out=$target/perf/scale bins=(this) base_rev base
  base_rev=${1:+$(git rev-parse --short "$1")}
  mkdir -p "$out"
  build --bin crdt-limiter
  cp "$target/release/crdt-limiter" "$out/crdt-limiter-this"
  if [ -n "$base_rev" ]; then
    base=$(build_base "$base_rev")
    cp "$base/crdt-limiter" "$out/crdt-limiter-$base_rev"
    bins=("$base_rev" this)
  fi
  scripts/tools.sh install wrk >/dev/null

  local port
  port=$(free_port)
  export BROKER_STATE_DIR=$out/broker
  on_exit "scripts/broker.sh stop $port"
  scripts/broker.sh start "$port" >/dev/null

  echo
  echo "| build | merge | users | requests | admitted | records | records per admitted | idle node µs per request elsewhere | of which above its idle cost |"
  echo "|---|---|---|---|---|---|---|---|---|"
  local scenario merge b
  for scenario in uniform hot; do
    for merge in min-max counted; do
      for b in "${bins[@]}"; do scale_run "$b" "$merge" "$scenario"; done
    done
  done
}

scale_cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# scale_run BIN MERGE SCENARIO: one line of results.
scale_run() {
  local bin=$out/crdt-limiter-$1 merge=$2 scenario=$3 tag=$RANDOM$RANDOM
  local ports=() node_pids=() i p
  for i in 1 2 3 4; do
    p=$(free_port)
    "$bin" --listen "127.0.0.1:$p" --kafka-brokers "127.0.0.1:$port" --topic "scale-$tag" \
      --config-topic "scale-config-$tag" --node-id "n$i" --merge "$merge" --capacity 10 \
      --refill-per-sec 1 --max-keys 2000000 --log warn >"$out/node-$i.log" 2>&1 &
    node_pids+=($!); track $!; ports+=("$p")
  done
  for p in "${ports[@]}"; do wait_ok "http://127.0.0.1:$p/readyz" 300; done
  # Settled: the idle node's cost is measured from here.
  sleep 1
  local idle_before quiet_ticks
  idle_before=$(scale_cpu_ticks "${node_pids[3]}")
  sleep "$secs"
  quiet_ticks=$(($(scale_cpu_ticks "${node_pids[3]}") - idle_before))
  idle_before=$(scale_cpu_ticks "${node_pids[3]}")
  local wrks=()
  for i in 0 1 2; do
    wrk -t1 -c16 -d"${secs}s" -s scripts/perf/scale.lua "http://127.0.0.1:${ports[$i]}/protected" \
      -- "$scenario" >"$out/wrk-$i.txt" 2>&1 &
    wrks+=($!)
  done
  wait "${wrks[@]}"
  sleep 0.5
  local idle_after
  idle_after=$(scale_cpu_ticks "${node_pids[3]}")
  # Refilled (10 s) and swept: tombstones, if any, are out.
  sleep 13
  local published=0 allowed=0 decisions=0 url
  for i in 0 1 2; do
    url=http://127.0.0.1:${ports[$i]}
    published=$((published + $(metric_sum limiter_sync_published_total "$url" | cut -d. -f1)))
    allowed=$((allowed + $(metric_family limiter_decisions_total "$url" 'outcome="allowed"')))
    decisions=$((decisions + $(metric_family limiter_decisions_total "$url")))
  done
  for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  awk -v b="$1" -v m="$merge" -v s="$scenario" -v pub="$published" -v a="$allowed" -v d="$decisions" \
    -v t="$((idle_after - idle_before))" -v q="$quiet_ticks" 'BEGIN {
      printf "| %s | %s | %s | %d | %d | %d | %.3f | %.3f | %.3f |\n", b, m, s, d, a, pub, pub / (a > 0 ? a : 1),
        t * 10000 / (d > 0 ? d : 1), (t - q) * 10000 / (d > 0 ? d : 1) }'
}

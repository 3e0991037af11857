#!/usr/bin/env bash
# A local cluster: the test broker plus N crdt-limiter nodes on loopback.
#   scripts/cluster.sh start [N]   broker on 127.0.0.1:$CLUSTER_BROKER_PORT (9092), nodes on
#                                  127.0.0.1:8001..800N (release build); prints their URLs
#   scripts/cluster.sh stop        stops the nodes and the broker
# Extra node flags: CLUSTER_NODE_ARGS="--merge counted --capacity 100".
# Logs and pids: target/cluster/.
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=${1:-}
n=${2:-3}
broker_port=${CLUSTER_BROKER_PORT:-9092}
dir=$PWD/target/cluster

stop() {
  if [ -d "$dir" ]; then
    for pid_file in "$dir"/node-*.pid; do
      [ -e "$pid_file" ] || continue
      kill -TERM "$(cat "$pid_file")" 2>/dev/null || true
      rm -f "$pid_file"
    done
  fi
  BROKER_STATE_DIR="$dir" scripts/broker.sh stop "$broker_port" >/dev/null
}

case "$cmd" in
  start)
    [[ "$n" =~ ^[1-9][0-9]?$ ]] || { echo "cluster.sh: N must be 1-99" >&2; exit 2; }
    mkdir -p "$dir"
    cargo build --release --quiet --bin crdt-limiter
    BROKER_STATE_DIR="$dir" scripts/broker.sh start "$broker_port"
    urls=()
    for i in $(seq 1 "$n"); do
      port=$((8000 + i))
      # shellcheck disable=SC2086 # CLUSTER_NODE_ARGS is a list of flags
      nohup ./target/release/crdt-limiter --listen "127.0.0.1:$port" \
        --kafka-brokers "127.0.0.1:$broker_port" --node-id "node-$i" \
        ${CLUSTER_NODE_ARGS:-} >"$dir/node-$i.log" 2>&1 </dev/null &
      echo $! >"$dir/node-$i.pid"
      urls+=("http://127.0.0.1:$port")
    done
    for url in "${urls[@]}"; do
      for _ in $(seq 1 300); do
        curl -sf "$url/readyz" >/dev/null 2>&1 && break
        sleep 0.1
      done
      curl -sf "$url/readyz" >/dev/null || { echo "cluster.sh: $url not ready; see $dir" >&2; stop; exit 1; }
    done
    echo "cluster.sh: $n nodes ready (logs in $dir):"
    printf '  %s\n' "${urls[@]}"
    echo "LOADTEST_TARGETS=$(IFS=,; echo "${urls[*]}")"
    ;;
  stop)
    stop
    echo "cluster.sh: stopped"
    ;;
  *)
    echo "usage: scripts/cluster.sh start [N] | stop" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# A real Kafka-API test broker (tansu, in-memory storage) on 127.0.0.1.
#   scripts/broker.sh start [PORT]   install tansu if missing, start it, wait until it accepts
#   scripts/broker.sh stop [PORT]    stop the broker this script started on PORT
#   scripts/broker.sh pause|resume [PORT]  freeze / thaw it (SIGSTOP / SIGCONT): a broker
#                                    that stops answering but keeps its data, as in a partition
# PORT defaults to 9092. State (pid, log) lives in $BROKER_STATE_DIR (default target/broker).
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=${1:-}
port=${2:-9092}
state_dir=${BROKER_STATE_DIR:-$PWD/target/broker}
pid_file="$state_dir/tansu-$port.pid"
log_file="$state_dir/tansu-$port.log"

accepts() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

install() {
  if command -v tansu >/dev/null 2>&1; then return; fi
  export PATH="$HOME/.cargo/bin:$PATH"
  if command -v tansu >/dev/null 2>&1; then return; fi
  echo "broker.sh: installing tansu from crates.io (several minutes on 2 cores; once)" >&2
  cargo install tansu --locked --features dynostore
}

case "$cmd" in
  start)
    install
    export PATH="$HOME/.cargo/bin:$PATH"
    mkdir -p "$state_dir"
    if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
      echo "broker.sh: already running on 127.0.0.1:$port (pid $(cat "$pid_file"))"
      exit 0
    fi
    if accepts "$port"; then
      echo "broker.sh: port $port is taken by another process" >&2
      exit 1
    fi
    nohup tansu broker \
      --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine "memory://tansu/" \
      >"$log_file" 2>&1 </dev/null &
    echo $! >"$pid_file"
    for _ in $(seq 1 200); do
      if accepts "$port"; then
        echo "broker.sh: tansu on 127.0.0.1:$port (pid $(cat "$pid_file"), log $log_file)"
        exit 0
      fi
      if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
        echo "broker.sh: tansu exited; its log:" >&2
        cat "$log_file" >&2
        exit 1
      fi
      sleep 0.1
    done
    echo "broker.sh: tansu did not accept connections within 20 s" >&2
    exit 1
    ;;
  stop)
    if [ -f "$pid_file" ]; then
      pid=$(cat "$pid_file")
      kill -CONT "$pid" 2>/dev/null || true
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$pid_file"
      echo "broker.sh: stopped the broker on port $port"
    fi
    ;;
  pause|resume)
    [ -f "$pid_file" ] || { echo "broker.sh: no broker of ours on port $port" >&2; exit 1; }
    if [ "$cmd" = pause ]; then kill -STOP "$(cat "$pid_file")"; else kill -CONT "$(cat "$pid_file")"; fi
    echo "broker.sh: ${cmd}d the broker on port $port"
    ;;
  *)
    echo "usage: scripts/broker.sh start|stop|pause|resume [PORT]" >&2
    exit 2
    ;;
esac

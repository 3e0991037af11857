# Part `memory` of scripts/perf.sh: memory per tracked key, the RSS growth of
# a node over 1,000,000 active users (LOADTEST_USERS goose users creating them).
# shellcheck shell=bash disable=SC2154 # target and the helpers come from scripts/lib/perf.sh

perf_memory() {
  # shellcheck disable=SC2034 # read by memory_per_key
  local users=${LOADTEST_USERS:-32}
  local out=$target/perf/memory bytes keys before after
  mkdir -p "$out"
  build --bin crdt-limiter
  build_loadtest

  say "== memory per tracked key (1,000,000 active users)"
  read -r bytes keys before after <<<"$(memory_per_key "$target/release/crdt-limiter" 8000)"
  echo "memory: $keys keys tracked, RSS ${before} kB -> ${after} kB: $bytes bytes per key"
}

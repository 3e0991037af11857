#!/usr/bin/env bash
# A longer, randomized fault run for release checks: three real nodes on a
# broker of their own, with the broker replaced (at once or after a gap) or
# frozen, and nodes killed (SIGKILL) or stopped (SIGTERM) and restarted, at
# random, under steady load. After every fault it checks that no node died,
# every acknowledged admin change is on every node and in the topic, and
# replication converged; at the end it prints a table of faults and recovery
# times, and the hot user's admitted ÷ allowed.
# Usage: scripts/chaos.sh MINUTES [SEED]   (SEED replays a run; it is printed)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:?usage: scripts/chaos.sh MINUTES [SEED]}
if ! cargo nextest --version >/dev/null 2>&1; then
  cargo install cargo-nextest --locked
fi
export CRDT_LIMITER_CHAOS_MINUTES=$minutes
if [ -n "${2:-}" ]; then export CRDT_LIMITER_CHAOS_SEED=$2; fi
# Its own broker (tests/it/faults.rs starts one through scripts/broker.sh,
# which installs tansu when missing).
exec cargo nextest run --locked --test it faults::chaos --run-ignored only \
  --no-capture

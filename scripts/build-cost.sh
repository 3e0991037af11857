#!/usr/bin/env bash
# What building and testing the tree costs, for commits side by side in one
# run: each is cloned fresh, its tests are built from an empty target/ (the
# crates.io downloads are cached by cargo and not counted), then, with
# RUN_TESTS=1, the suite runs against a fresh test broker. Prints a table:
# cold build (wall and CPU seconds: CPU is the fairer figure on a busy
# machine), test binaries, target/ size, suite seconds.
# Usage: scripts/build-cost.sh REF [REF...]     (e.g. 8fcbaad main)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n 2,7p "$0"; exit 2; }
root=$(pwd)
work=${BUILD_COST_DIR:-/tmp/build-cost}
rm -rf "$work" && mkdir -p "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rows=()
for ref in "$@"; do
  sha=$(git rev-parse --short "$ref")
  dir=$work/$sha
  git clone -q "$root" "$dir" && git -C "$dir" checkout -q "$sha"
  # bash's `time` of the subshell counts its children's CPU: cargo, rustc, the linker.
  build=$( { TIMEFORMAT='%0R s, %0U+%0S s CPU'; time (cd "$dir" && cargo nextest run --locked --no-run >/dev/null 2>&1); } 2>&1 )
  bins=$(cd "$dir" && cargo nextest list --locked --message-format json 2>/dev/null |
    python3 -c 'import json,sys; print(sum(1 for b in json.load(sys.stdin)["rust-suites"].values() if b["kind"] != "lib"))')
  size=$(du -sh "$dir/target" | cut -f1)
  suite=-
  if [ "${RUN_TESTS:-0}" = 1 ]; then
    # Envoy lives under the clone's own target/tools: installed, not timed.
    (cd "$dir" && scripts/tools.sh install >/dev/null)
    BROKER_STATE_DIR="$work/broker-$sha" scripts/broker.sh start "$port" >/dev/null
    start=$(date +%s)
    (cd "$dir" && CRDT_LIMITER_TEST_BROKERS=127.0.0.1:$port cargo nextest run --locked --no-fail-fast >"$work/$sha.log" 2>&1) || true
    suite="$(($(date +%s) - start)) ($(grep -o '[0-9]* passed[^,]*, [0-9]* failed\|[0-9]* passed' "$work/$sha.log" | tail -1))"
    BROKER_STATE_DIR="$work/broker-$sha" scripts/broker.sh stop "$port" >/dev/null || true
  fi
  rows+=("| $sha | $build | $bins | $size | $suite |")
  rm -rf "$dir/target"
done
echo "| commit | cold test build | test binaries (not the library's) | target/ | suite, s |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"

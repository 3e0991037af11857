#!/usr/bin/env bash
# Measures this tree against an earlier commit in one run, as ratios: the
# criterion bench (each case present in both), one node under goose (hot user,
# many users; alternating rounds, medians) and memory per tracked key over
# 1,000,000 users. Everything targets 127.0.0.1 and every run is bounded.
# Usage: scripts/perf-compare.sh BASE_REV   (ROUNDS=3 SECONDS_PER_RUN=10 by default)
# The base is built in a git worktree under target/ with the same target dir
# (dependencies are reused), and its binaries kept in target/perf-base/REV.
set -euo pipefail
cd "$(dirname "$0")/.."
base_rev=$(git rev-parse --short "${1:?usage: scripts/perf-compare.sh BASE_REV}")
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-10}
users=${LOADTEST_USERS:-32}
parts=${PARTS:-criterion goose memory}  # any of these, to measure less
root=$PWD
out=$root/target/perf-compare
base=$root/target/perf-base/$base_rev
mkdir -p "$out" "$base"
rm -f "$out"/*.txt
touch "$out/criterion.txt"

bench_binary() {  # the bench executable cargo just built, by the JSON it prints
  cargo bench --bench decision --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "decision":
        print(m["executable"])'
}

if [ ! -x "$base/decision" ]; then
  echo "== building $base_rev"
  tree=$root/target/perf-base/tree
  git worktree remove --force "$tree" 2>/dev/null || true
  git worktree add --detach "$tree" "$base_rev" >/dev/null
  (cd "$tree" && export CARGO_TARGET_DIR=$root/target &&
    cargo build --release --quiet --bin crdt-limiter &&
    cp "$root/target/release/crdt-limiter" "$base/" &&
    cp "$(bench_binary)" "$base/decision")
  git worktree remove --force "$tree"
fi
echo "== building this tree"
cargo build --release --quiet --bin crdt-limiter --example bare_http
cargo build --release --quiet -p crdt-limiter-loadtest
mkdir -p "$out/bin"
cp target/release/crdt-limiter "$out/bin/"
cp "$(bench_binary)" "$out/bin/decision"
lt=$root/target/release/loadtest

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_up() { for _ in $(seq 1 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; return 1; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "== criterion: base and this tree, one after the other"
has() { [[ " $parts " == *" $1 "* ]]; }
has criterion && for side in base new; do
  bin=$base/decision; [ "$side" = new ] && bin=$out/bin/decision
  rm -rf "$out/criterion-$side"
  # --noplot: no gnuplot here; a fixed short measurement keeps the whole run bounded.
  CRITERION_HOME=$out/criterion-$side "$bin" --bench --noplot --warm-up-time 1 --measurement-time 3 >/dev/null 2>&1
  python3 - "$out/criterion-$side" "$side" >>"$out/criterion.txt" <<'PY'
import json, pathlib, sys
root = pathlib.Path(sys.argv[1])
for est in sorted(root.glob("**/new/estimates.json")):
    bench = json.loads((est.parent / "benchmark.json").read_text())
    print(sys.argv[2], bench["full_id"].replace(" ", "_"), json.loads(est.read_text())["median"]["point_estimate"])
PY
done

if has goose; then
echo "== goose: one node, base and this tree alternating ($rounds rounds x ${secs}s)"
"$base/crdt-limiter" --listen 127.0.0.1:8010 --log warn >"$out/base.log" 2>&1 & pids+=($!)
"$out/bin/crdt-limiter" --listen 127.0.0.1:8011 --log warn >"$out/new.log" 2>&1 & pids+=($!)
./target/release/examples/bare_http 127.0.0.1:8019 >"$out/bare.log" 2>&1 & pids+=($!)
wait_up http://127.0.0.1:8010/healthz; wait_up http://127.0.0.1:8011/healthz; wait_up http://127.0.0.1:8019/protected || true
goose() {  # goose SCENARIO TARGET LABEL [CLIENT]
  (cd "$out" && LOADTEST_TARGETS=$2 "$lt" --scenarios "${4:-$1}" --run-time "$secs" -u "$users" \
     --increase-rate "$users" --quiet --no-print-metrics --report-file "$out/$3-$1.html") |
    grep '^RESULT' >>"$out/$3-$1.txt"
}
for scenario in hotuser manyusers; do
  for _ in $(seq 1 "$rounds"); do
    goose "$scenario" http://127.0.0.1:8019 bare manyusers
    goose "$scenario" http://127.0.0.1:8010 base
    goose "$scenario" http://127.0.0.1:8011 new
  done
done
cleanup; pids=()
fi

echo "== memory per tracked key (1,000,000 active users)"
memory() {  # memory BINARY -> bytes per key
  "$1" --listen 127.0.0.1:8012 --log warn --refill-per-sec 1/3600 --max-keys 2000000 >"$out/memory.log" 2>&1 &
  local pid=$!; pids+=($pid)
  wait_up http://127.0.0.1:8012/healthz
  local before after keys
  before=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  (cd "$out" && LOADTEST_TARGETS=http://127.0.0.1:8012 "$lt" --scenarios newusers --iterations 31250 \
     -u "$users" --increase-rate "$users" --quiet --no-print-metrics --report-file "$out/memory.html") >/dev/null
  keys=$(curl -s http://127.0.0.1:8012/metrics | awk '$1=="limiter_buckets" {print $2}')
  after=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pids=()
  awk -v a="$after" -v b="$before" -v k="$keys" 'BEGIN {printf "%.0f bytes per key (%d keys, RSS %d -> %d kB)", (a-b)*1024/k, k, b, a}'
}
mem_base=skipped mem_new=skipped
if has memory; then
  mem_base=$(memory "$base/crdt-limiter")
  mem_new=$(memory "$out/bin/crdt-limiter")
fi

echo
echo "RESULTS: this tree ($(git rev-parse --short HEAD)) against $base_rev"
echo "criterion (ns per iteration, median; ratio = base / this, above 1 is faster):"
python3 - "$out/criterion.txt" <<'PY'
import sys
times = {}
for line in open(sys.argv[1]):
    side, name, ns = line.split()
    times.setdefault(name, {})[side] = float(ns)
for name, t in sorted(times.items()):
    if "base" in t and "new" in t:
        print(f"  {name:<36} {t['base']:10.1f} {t['new']:10.1f}   {t['base'] / t['new']:.2f}x")
    else:
        print(f"  {name:<36} {'-':>10} {t['new']:10.1f}   (only in this tree)")
PY
if has goose; then
echo "goose, one node (medians of $rounds runs of ${secs}s, $users users; rps and client-side latency in us):"
for scenario in hotuser manyusers; do
  b=$(field rps <"$out/bare-$scenario.txt" | median)
  o=$(field rps <"$out/base-$scenario.txt" | median)
  n=$(field rps <"$out/new-$scenario.txt" | median)
  o99=$(field p99_us <"$out/base-$scenario.txt" | median)
  n99=$(field p99_us <"$out/new-$scenario.txt" | median)
  awk -v s="$scenario" -v b="$b" -v o="$o" -v n="$n" -v o99="$o99" -v n99="$n99" 'BEGIN {
    printf "  %-9s base %.0f rps (%.2fx bare, p99 %s)  this %.0f rps (%.2fx bare, p99 %s)  this/base %.2fx\n",
      s, o, o/b, o99, n, n/b, n99, n/o }'
done
fi
echo "memory: base $mem_base"
echo "        this $mem_new"

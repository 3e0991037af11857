# Part `compare BASE` of scripts/perf.sh: this tree against an earlier commit
# in one run, as ratios: the criterion bench (each case present in both), one
# node under goose (hot user, many users; ROUNDS alternating rounds of
# SECONDS_PER_RUN s with LOADTEST_USERS goose users, medians) and memory per
# tracked key over 1,000,000 users (~15 minutes). PARTS="criterion goose
# memory" by default: name fewer to measure less. The base is built once
# (build_base) and its binaries kept in target/perf-base/REV.
# shellcheck shell=bash disable=SC2154 # target and the helpers come from scripts/lib/perf.sh

perf_compare() {
  local base_rev
  base_rev=$(git rev-parse --short "${1:?usage: scripts/perf.sh compare BASE_REV}")
  local rounds=${ROUNDS:-3} secs=${SECONDS_PER_RUN:-10} users=${LOADTEST_USERS:-32}
  local parts=${PARTS:-criterion goose memory} out=$target/perf/compare base
  mkdir -p "$out"
  rm -f "$out"/*.txt
  touch "$out/criterion.txt"
  base=$(build_base "$base_rev" bench)
  say "== building this tree"
  build --bin crdt-limiter --example bare_http
  build_loadtest
  mkdir -p "$out/bin"
  cp "$target/release/crdt-limiter" "$out/bin/"
  cp "$(bench_binary)" "$out/bin/decision"

  if compare_has criterion; then
    say "== criterion: base and this tree, one after the other"
    local side bin
    for side in base new; do
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
  fi

  local scenario
  if compare_has goose; then
    say "== goose: one node, base and this tree alternating ($rounds rounds x ${secs}s)"
    "$base/crdt-limiter" --listen 127.0.0.1:8010 --log warn >"$out/base.log" 2>&1 & track $!
    "$out/bin/crdt-limiter" --listen 127.0.0.1:8011 --log warn >"$out/new.log" 2>&1 & track $!
    "$target/release/examples/bare_http" 127.0.0.1:8019 >"$out/bare.log" 2>&1 & track $!
    wait_up http://127.0.0.1:8010/healthz; wait_up http://127.0.0.1:8011/healthz
    wait_up http://127.0.0.1:8019/protected || true
    for scenario in hotuser manyusers; do
      for _ in $(seq 1 "$rounds"); do
        goose "$scenario" http://127.0.0.1:8019 bare manyusers >/dev/null
        goose "$scenario" http://127.0.0.1:8010 base >/dev/null
        goose "$scenario" http://127.0.0.1:8011 new >/dev/null
      done
    done
    cleanup
  fi

  local mem_base=skipped mem_new=skipped
  if compare_has memory; then
    say "== memory per tracked key (1,000,000 active users)"
    mem_base=$(compare_memory "$base/crdt-limiter")
    mem_new=$(compare_memory "$out/bin/crdt-limiter")
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
  if compare_has goose; then
    echo "goose, one node (medians of $rounds runs of ${secs}s, $users users; rps and client-side latency in us):"
    local b o n o99 n99
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
}

# compare_has PART: whether PART (criterion, goose, memory) is to be measured.
compare_has() { [[ " $parts " == *" $1 "* ]]; }

# compare_memory BINARY: "N bytes per key (K keys, RSS B -> A kB)".
compare_memory() {
  local bytes keys before after
  read -r bytes keys before after <<<"$(memory_per_key "$1" 8012)"
  echo "$bytes bytes per key ($keys keys, RSS $before -> $after kB)"
}

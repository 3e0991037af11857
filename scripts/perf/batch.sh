# Part `batch` of scripts/perf.sh: decisions per second through POST
# /v1/checks (1,000 items a call) against single POST /v1/check on the same
# node, ROUNDS alternating runs of SECONDS_PER_RUN seconds each, medians, and
# the ratio (~1 minute after the build with the defaults).
#   - one standalone node, 127.0.0.1 only, capacity and refill of 1e9 so the
#     same 1,000 users (scripts/perf/batch.lua) stay allowed: every item is a
#     full decision (take a token, answer allowed) and no key leaves memory;
#   - node --workers 2 (its default on 2 cores) and wrk -t1: wrk has little
#     to do per batch, so both cores go to deciding; 4 connections keep two
#     workers fed with batches (~0.3 ms each), single checks get 32. Tried on
#     this machine: --workers 1 gave ~2.2 M/s, wrk -t2 and -c8 or -c2 no
#     better. WORKERS, WRK_THREADS, BATCH_CONNECTIONS, SINGLE_CONNECTIONS
#     and PORT (8077) override;
#   - decisions/s is counted by the node itself (limiter_decisions_total before
#     and after each run), and every run must answer only 2xx.
# shellcheck shell=bash disable=SC2154 # target and the helpers come from scripts/lib/perf.sh

perf_batch() {
  local rounds=${ROUNDS:-3} secs=${SECONDS_PER_RUN:-10} workers=${WORKERS:-2}
  local threads=${WRK_THREADS:-1} batch_conns=${BATCH_CONNECTIONS:-4}
  local single_conns=${SINGLE_CONNECTIONS:-32} port=${PORT:-8077}
  local url=http://127.0.0.1:$port out=$target/perf/batch
  mkdir -p "$out"; rm -f "$out"/*.txt "$out"/*.wrk
  need wrk
  build --bin crdt-limiter

  "$target/release/crdt-limiter" --listen "127.0.0.1:$port" --workers "$workers" --log warn \
    --capacity 1000000000 --refill-per-sec 1000000000 >"$out/node.log" 2>&1 &
  track $!
  wait_ok "$url/readyz"

  # Warm up: the 1,000 users' buckets exist before the first measured run.
  wrk -t1 -c1 -d1s -s scripts/perf/batch.lua "$url" -- batch >/dev/null

  say "== $rounds rounds x ${secs}s: node --workers $workers; wrk -t$threads, batch -c$batch_conns, single -c$single_conns"
  local r b s
  for r in $(seq 1 "$rounds"); do
    # Assigned first, so that a failed run stops the part (set -e).
    b=$(batch_run batch "$batch_conns")
    s=$(batch_run single "$single_conns")
    say "round $r: batch $b decisions/s, single $s decisions/s"
  done
  local batch single
  batch=$(median <"$out/batch.txt")
  single=$(median <"$out/single.txt")
  echo "RESULT batch_decisions_per_s=$batch single_decisions_per_s=$single ratio=$(awk -v b="$batch" -v s="$single" 'BEGIN {printf "%.1f", b / s}')"
  echo "(wrk reports in $out/*.wrk)"
}

# batch_run MODE CONNECTIONS: one wrk run; prints decisions/s (appended to $out/MODE.txt).
batch_run() {
  local before after report
  before=$(metric_family limiter_decisions_total "$url")
  report=$(timeout $((secs + 30)) wrk -t"$threads" -c"$2" -d"${secs}s" -s scripts/perf/batch.lua "$url" -- "$1")
  after=$(metric_family limiter_decisions_total "$url")
  if grep -q "Non-2xx" <<<"$report"; then say "$report"; say "perf.sh batch: $1 got errors"; exit 1; fi
  echo "$report" >>"$out/$1.wrk"
  awk -v d=$((after - before)) -v s="$secs" 'BEGIN {printf "%d\n", d / s}' | tee -a "$out/$1.txt"
}

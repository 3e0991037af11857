# Part `http` of scripts/perf.sh: one node against the bare actix-web
# baseline (examples/bare_http.rs), hot user and many users, ROUNDS
# alternating rounds of SECONDS_PER_RUN s with LOADTEST_USERS goose users;
# medians and the ratio.
# shellcheck shell=bash disable=SC2154 # target and the helpers come from scripts/lib/perf.sh

perf_http() {
  local rounds=${ROUNDS:-3} secs=${SECONDS_PER_RUN:-10} users=${LOADTEST_USERS:-32}
  local out=$target/perf/http scenario
  mkdir -p "$out"; rm -f "$out"/*.txt
  build --bin crdt-limiter --example bare_http
  build_loadtest

  say "== one node vs bare baseline ($rounds rounds x ${secs}s, $users goose users)"
  "$target/release/crdt-limiter" --listen 127.0.0.1:8000 --log warn >"$out/node.log" 2>&1 & track $!
  "$target/release/examples/bare_http" 127.0.0.1:8090 >"$out/bare.log" 2>&1 & track $!
  wait_up http://127.0.0.1:8000/healthz; wait_up http://127.0.0.1:8090/protected || true
  for scenario in hotuser manyusers; do
    for _ in $(seq 1 "$rounds"); do
      goose "$scenario" http://127.0.0.1:8090 bare1 manyusers >/dev/null
      goose "$scenario" http://127.0.0.1:8000 node1 >/dev/null
    done
  done
  cleanup

  echo "RESULTS (medians of $rounds runs of ${secs}s; rps = requests/s; latency in microseconds, client side)"
  local b_rps n_rps n50 n99 n999
  for scenario in hotuser manyusers; do
    read -r b_rps _ _ _ <<<"$(goose_summary bare1 "$scenario")"
    read -r n_rps n50 n99 n999 <<<"$(goose_summary node1 "$scenario")"
    echo "$scenario 1 node : $n_rps rps (bare $b_rps, ratio $(ratio "$n_rps" "$b_rps")), p50 $n50 p99 $n99 p99.9 $n999"
  done
  echo "HTML reports: $out/*.html"
}

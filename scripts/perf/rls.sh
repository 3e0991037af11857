# Part `rls` of scripts/perf.sh: ShouldRateLimit calls/s and p99 through the
# Envoy rate-limit service against a bare tonic server answering OK to every
# call (examples/bare_rls.rs), ROUNDS alternating runs of SECONDS_PER_RUN
# seconds each with h2load, medians and the ratio (~1 minute after the build).
#   - one standalone node with --grpc-listen and a descriptor file whose limits
#     (1e9 a second) never refuse, so every call is a full decision of both
#     descriptors (take from two buckets, answer OK with their statuses);
#   - the same call for every request (h2load sends one body): a user and a
#     client address, as Envoy's request_headers and remote_address actions make;
#   - node and bare server with WORKERS (default 2) runtime threads; h2load -t1
#     with CLIENTS (16) connections of STREAMS (8) concurrent calls each; the
#     node's HTTP port is PORT (8078), its gRPC port the next, the bare one after;
#   - p99 from h2load's per-request log; each run must answer only HTTP 200, and
#     the node's own count of OK calls must match h2load's.
# shellcheck shell=bash disable=SC2154 # target and the helpers come from scripts/lib/perf.sh

perf_rls() {
  local rounds=${ROUNDS:-3} secs=${SECONDS_PER_RUN:-10} workers=${WORKERS:-2}
  local clients=${CLIENTS:-16} streams=${STREAMS:-8} http_port=${PORT:-8078}
  local node_port=$((http_port + 1)) bare_port=$((http_port + 2)) out=$target/perf/rls
  mkdir -p "$out"; rm -f "$out"/*.txt "$out"/*.h2load
  need h2load
  build --bin crdt-limiter --example bare_rls

  cat >"$out/bench.yaml" <<'YAML'
domain: bench
descriptors:
  - key: user
    rate_limit: { unit: second, requests_per_unit: 1000000000 }
  - key: remote_address
    rate_limit: { unit: second, requests_per_unit: 1000000000 }
YAML
  # The gRPC message: a 5-byte frame header, then RateLimitRequest{domain "bench",
  # descriptors [{user: alice}, {remote_address: 10.0.0.1}], hits_addend 1}.
  python3 - "$out/call.bin" <<'PY'
import struct, sys
def field(tag, payload): return bytes([tag << 3 | 2, len(payload)]) + payload
def entry(k, v): return field(1, field(1, k.encode()) + field(2, v.encode()))
msg = field(1, b"bench") + field(2, entry("user", "alice")) + field(2, entry("remote_address", "10.0.0.1")) + bytes([3 << 3, 1])
open(sys.argv[1], "wb").write(b"\0" + struct.pack(">I", len(msg)) + msg)
PY

  "$target/release/crdt-limiter" --listen "127.0.0.1:$http_port" --grpc-listen "127.0.0.1:$node_port" \
    --rls-config "$out/bench.yaml" --workers "$workers" --log warn >"$out/node.log" 2>&1 &
  track $!
  "$target/release/examples/bare_rls" "127.0.0.1:$bare_port" "$workers" >"$out/bare.log" 2>&1 &
  track $!
  wait_ok "http://127.0.0.1:$http_port/readyz"
  local i
  for ((i = 0; i < 100; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$bare_port") 2>/dev/null && break; sleep 0.1; done

  h2load -t1 -c2 -n2000 -H 'content-type: application/grpc' -H 'te: trailers' -d "$out/call.bin" \
    "http://127.0.0.1:$node_port/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit" >/dev/null

  say "== $rounds rounds x ${secs}s: WORKERS=$workers, h2load -t1 -c$clients -m$streams"
  local r b n
  for r in $(seq 1 "$rounds"); do
    b=$(rls_run bare "$bare_port")
    n=$(rls_run node "$node_port")
    say "round $r: bare $b | node $n   (calls/s p99_us)"
  done
  local bare_rps node_rps bare_p99 node_p99
  bare_rps=$(awk '{print $1}' "$out/bare.txt" | median)
  node_rps=$(awk '{print $1}' "$out/node.txt" | median)
  bare_p99=$(awk '{print $2}' "$out/bare.txt" | median)
  node_p99=$(awk '{print $2}' "$out/node.txt" | median)
  echo "RESULT bare_rps=$bare_rps bare_p99_us=$bare_p99 node_rps=$node_rps node_p99_us=$node_p99 ratio=$(ratio "$node_rps" "$bare_rps")"
}

# rls_run NAME PORT: one h2load run; prints "calls/s p99_us" (appended to $out/NAME.txt).
rls_run() {
  local report log="$out/$1.log" before after done_n rps p99
  local ok='limiter_rls_requests_total{outcome="ok"}'
  before=$(metric_sum "$ok" "http://127.0.0.1:$http_port")
  report=$(timeout $((secs + 30)) h2load -t1 -c"$clients" -m"$streams" -D "$secs" --log-file="$log" \
    -H 'content-type: application/grpc' -H 'te: trailers' -d "$out/call.bin" \
    "http://127.0.0.1:$2/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit")
  echo "$report" >>"$out/$1.h2load"
  done_n=$(awk '/^requests:/ {print $8}' <<<"$report")
  if ! grep -q "status codes: $done_n 2xx" <<<"$report"; then say "$report"; say "perf.sh rls: $1 got non-200 answers"; exit 1; fi
  if [ "$1" = node ]; then
    after=$(metric_sum "$ok" "http://127.0.0.1:$http_port")
    [ $((after - before)) -ge "$done_n" ] || { say "perf.sh rls: the node counted $((after - before)) OK calls of $done_n"; exit 1; }
  fi
  rps=$(awk '/^finished in/ {print $4}' <<<"$report")
  # The log: start time, status, duration in microseconds, per request.
  p99=$(awk '{print $3}' "$log" | sort -n | awk '{a[NR]=$1} END {print a[int(NR*0.99)]}')
  echo "$rps $p99" | tee -a "$out/$1.txt"
}

#!/usr/bin/env bash
# ShouldRateLimit calls/s and p99 through the Envoy rate-limit service against
# a bare tonic server answering OK to every call (examples/bare_rls.rs), ROUNDS
# alternating runs of SECONDS_PER_RUN seconds each with h2load, medians and the ratio.
#   - one standalone node with --grpc-listen and a descriptor file whose limits
#     (1e9 a second) never refuse, so every call is a full decision of both
#     descriptors (take from two buckets, answer OK with their statuses);
#   - the same call for every request (h2load sends one body): a user and a
#     client address, as Envoy's request_headers and remote_address actions make;
#   - node and bare server with WORKERS (default 2) runtime threads; h2load -t1
#     with CLIENTS connections of STREAMS concurrent calls each;
#   - p99 from h2load's per-request log; each run must answer only HTTP 200, and
#     the node's own count of OK calls must match h2load's.
# Usage: scripts/perf-rls.sh        (~1 minute after the build; ROUNDS=3 SECONDS_PER_RUN=10)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
secs=${SECONDS_PER_RUN:-10}
workers=${WORKERS:-2}
clients=${CLIENTS:-16}
streams=${STREAMS:-8}
http_port=${PORT:-8078}
node_port=$((http_port + 1))
bare_port=$((http_port + 2))
target=${CARGO_TARGET_DIR:-$PWD/target}
out=$target/perf-rls
mkdir -p "$out"

command -v h2load >/dev/null || { echo "perf-rls.sh: h2load missing; scripts/tools.sh install h2load" >&2; exit 1; }
cargo build --release --quiet --bin crdt-limiter --example bare_rls

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
node=$!
"$target/release/examples/bare_rls" "127.0.0.1:$bare_port" "$workers" >"$out/bare.log" 2>&1 &
bare=$!
trap 'kill "$node" "$bare" 2>/dev/null || true; wait "$node" "$bare" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$http_port/readyz" && (exec 3<>"/dev/tcp/127.0.0.1/$bare_port") 2>/dev/null && break; sleep 0.1; done

ok_calls() { curl -s "http://127.0.0.1:$http_port/metrics" | awk '$1 == "limiter_rls_requests_total{outcome=\"ok\"}" {print $2+0; f=1} END {if (!f) print 0}'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
run() {  # run NAME PORT -> "calls/s p99_us" (appended to $out/NAME.txt)
  local report log="$out/$1.log" before after
  before=$(ok_calls)
  report=$(timeout $((secs + 30)) h2load -t1 -c"$clients" -m"$streams" -D "$secs" --log-file="$log" \
    -H 'content-type: application/grpc' -H 'te: trailers' -d "$out/call.bin" \
    "http://127.0.0.1:$2/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit")
  echo "$report" >>"$out/$1.h2load"
  local done_n rps
  done_n=$(awk '/^requests:/ {print $8}' <<<"$report")
  if ! grep -q "status codes: $done_n 2xx" <<<"$report"; then echo "$report" >&2; echo "perf-rls.sh: $1 got non-200 answers" >&2; exit 1; fi
  if [ "$1" = node ]; then
    after=$(ok_calls)
    [ $((after - before)) -ge "$done_n" ] || { echo "perf-rls.sh: the node counted $((after - before)) OK calls of $done_n" >&2; exit 1; }
  fi
  rps=$(awk '/^finished in/ {print $4}' <<<"$report")
  # The log: start time, status, duration in microseconds, per request.
  p99=$(awk '{print $3}' "$log" | sort -n | awk '{a[NR]=$1} END {print a[int(NR*0.99)]}')
  echo "$rps $p99" | tee -a "$out/$1.txt"
}
rm -f "$out"/*.txt "$out"/*.h2load
h2load -t1 -c2 -n2000 -H 'content-type: application/grpc' -H 'te: trailers' -d "$out/call.bin" \
  "http://127.0.0.1:$node_port/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit" >/dev/null

echo "== $rounds rounds x ${secs}s: WORKERS=$workers, h2load -t1 -c$clients -m$streams"
for r in $(seq 1 "$rounds"); do
  b=$(run bare "$bare_port")
  n=$(run node "$node_port")
  echo "round $r: bare $b | node $n   (calls/s p99_us)"
done
bare_rps=$(awk '{print $1}' "$out/bare.txt" | median)
node_rps=$(awk '{print $1}' "$out/node.txt" | median)
bare_p99=$(awk '{print $2}' "$out/bare.txt" | median)
node_p99=$(awk '{print $2}' "$out/node.txt" | median)
echo "RESULT bare_rps=$bare_rps bare_p99_us=$bare_p99 node_rps=$node_rps node_p99_us=$node_p99 ratio=$(awk -v a="$node_rps" -v b="$bare_rps" 'BEGIN {printf "%.2f", a / b}')"

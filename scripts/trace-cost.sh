#!/usr/bin/env bash
# What traces cost when they are off: each BINARY (e.g. one built from main
# and one from this tree) serves N forward-auth and N gateway requests, each
# with a `traceparent`, under callgrind, counting only inside the handler
# (--toggle-collect); prints instructions and allocator calls per request and
# the calls into OpenTelemetry (0 when off). Instruction counts do not depend
# on the machine's load; the spread between runs of one binary (hash seeds,
# timers) is about 0.3%. Everything on 127.0.0.1; each node stops after its N.
#
# Usage: scripts/trace-cost.sh BINARY...      (N=300 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-300} out=target/trace-cost
mkdir -p "$out"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# run BINARY PATH NAME TOGGLE [FLAG...]: N requests to PATH under callgrind.
run() {
  local bin=$1 path=$2 name=$3 toggle=$4 port; shift 4
  port=$(free_port)
  timeout 600 valgrind --tool=callgrind --callgrind-out-file="$out/$name.cg" --toggle-collect="$toggle" \
    "$bin" --listen "127.0.0.1:$port" --workers 1 --log warn "$@" >/dev/null 2>"$out/$name.log" &
  local pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.3; done
  python3 - "$port" "$n" "$path" <<'PY'
import http.client, sys
port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
for i in range(n):
    c.request("GET", path, headers={"X-User-ID": f"u{i}", "X-Forwarded-Uri": "/orders",
              "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
  kill -TERM "$pid"; wait "$pid" || true
  python3 - "$out/$name.cg" "$n" "$name" <<'PY'
import re, sys
path, n, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
names, callee, alloc, otel, total = {}, None, 0, 0, 0
for line in open(path):
    m = re.match(r'c?fn=\((\d+)\)(?: (.*))?', line)
    if m:
        if m.group(2): names[m.group(1)] = m.group(2).strip()
        if line.startswith('cfn'): callee = names.get(m.group(1), '')
        continue
    m = re.match(r'calls=(\d+)', line)
    if m and callee in ('malloc', 'realloc', 'calloc'): alloc += int(m.group(1))
    # Functions of OpenTelemetry or of telemetry::traces (not drop glue of an empty Option).
    if m and callee.startswith(('opentelemetry', 'crdt_limiter::telemetry::traces')): otel += int(m.group(1))
    m = re.match(r'summary: (\d+)', line) or re.match(r'totals: (\d+)', line)
    if m: total = max(total, int(m.group(1)))
print(f"{name}: {total / n:,.0f} instructions/request, {alloc / n:.1f} allocator calls/request, {otel} calls into OpenTelemetry")
PY
}

upstream=$(free_port)
python3 -m http.server "$upstream" --bind 127.0.0.1 --directory "$out" >/dev/null 2>&1 &
up=$!
trap 'kill $up 2>/dev/null || true' EXIT
printf '[[routes]]\nname = "all"\nprefix = "/"\nupstreams = ["http://127.0.0.1:%s"]\n' "$upstream" >"$out/gateway.toml"
touch "$out/page"
i=0
for bin in "$@"; do
  i=$((i + 1))
  echo "binary $i: $bin"
  run "$bin" /v1/forward-auth "forward-auth-$i" '*forward_auth::forward_auth*'
  run "$bin" /page "gateway-$i" '*http_api::gateway::gateway*' \
    --gateway "$out/gateway.toml" --trusted-proxies 127.0.0.1/32 --capacity 1000000
done

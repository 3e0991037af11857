# Part `proxies` of scripts/perf.sh: what asking the limiter costs a proxy,
# in one run: requests/s and p99 (wrk) through a proxy without the limiter
# and through the same proxy asking a release-built node on every request,
# alternating rounds, medians, and the ratio (goal: >= 0.8x); ~7 minutes
# after the build with the defaults. Everything on 127.0.0.1, every run
# bounded. Knobs (defaults): PARTS="forward-auth caddy" (any of
# forward-auth caddy gateway) ROUNDS=5 SECONDS_PER_RUN=10 CONNECTIONS=32
# WRK_THREADS=1 NGINX_WORKERS=1 NODE_WORKERS=1.
# A sub-part is a function `proxies_NAME` (dashes as underscores) that
# prints table rows through `proxies_compare`; add one (e.g. `rls`) and name
# it in PARTS.
# shellcheck shell=bash disable=SC2154 # target and the helpers come from scripts/lib/perf.sh

perf_proxies() {
  local parts=${PARTS:-forward-auth caddy} rounds=${ROUNDS:-5} secs=${SECONDS_PER_RUN:-10}
  local conns=${CONNECTIONS:-32} threads=${WRK_THREADS:-1} workers=${NGINX_WORKERS:-1}
  local node_workers=${NODE_WORKERS:-1} out=$target/perf/proxies
  rm -rf "$out"
  mkdir -p "$out"

  scripts/tools.sh install wrk nginx
  local wrk nginx node_bin=$target/release/crdt-limiter part
  wrk=$(scripts/tools.sh path wrk)
  nginx=$(scripts/tools.sh path nginx)
  say "== building the node (release)"
  build --bin crdt-limiter

  # Not in a pipeline: the sub-parts must run in this shell, so the exit
  # trap stops what they start.
  for part in $parts; do "proxies_${part//-/_}"; done >"$out/rows.md"
  {
    echo "| path | requests/s | p50 ms | p99 ms | ratio |"
    echo "|---|---|---|---|---|"
    cat "$out/rows.md"
  } | tee "$out/table.md"
  echo "(wrk -t$threads -c$conns -d${secs}s, median of $rounds alternating rounds; raw output in $out)"
}

# proxies_measure URL LABEL: one bounded run; appends "rps p99_ms non2xx" to $out/LABEL.txt.
proxies_measure() {
  local url=$1 label=$2 text
  text=$(timeout $((secs + 30)) "$wrk" -t"$threads" -c"$conns" -d"${secs}s" --latency \
    -H 'X-User-ID: bench' "$url")
  echo "$text" >>"$out/$label.wrk"
  python3 - "$text" >>"$out/$label.txt" <<'PY'
import re, sys
text = sys.argv[1]
rps = float(re.search(r"Requests/sec:\s*([\d.]+)", text).group(1))
def pct(p):
    value, unit = re.search(rf"^\s*{p}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
print(f"{rps:.0f} {pct(99):.2f} {bad.group(1) if bad else 0} {pct(50):.3f}")
PY
}

# proxies_compare LABEL URL [LABEL URL]...: rounds through every URL in turn; prints
# a table row each, with its ratio to the first.
proxies_compare() {
  local labels=() urls=() i
  while [ $# -gt 0 ]; do labels+=("$1"); urls+=("$2"); shift 2; done
  for i in "${!urls[@]}"; do  # warm-up, not counted
    timeout 30 "$wrk" -t1 -c"$conns" -d2s -H 'X-User-ID: bench' "${urls[$i]}" >/dev/null
  done
  for r in $(seq 1 "$rounds"); do
    echo "   round $r/$rounds" >&2
    for i in "${!urls[@]}"; do proxies_measure "${urls[$i]}" "${labels[$i]}"; done
  done
  local base_rps rps p50 p99 bad ratio
  for i in "${!urls[@]}"; do
    rps=$(cut -d' ' -f1 "$out/${labels[$i]}.txt" | median)
    p50=$(cut -d' ' -f4 "$out/${labels[$i]}.txt" | median)
    p99=$(cut -d' ' -f2 "$out/${labels[$i]}.txt" | median)
    bad=$(cut -d' ' -f3 "$out/${labels[$i]}.txt" | awk '{n += $1} END {print n}')
    [ "$bad" = 0 ] || echo "WARNING: ${labels[$i]}: $bad non-2xx answers" >&2
    [ "$i" = 0 ] && base_rps=$rps
    ratio=$(awk "BEGIN {printf \"%.2f\", $rps / $base_rps}")
    printf '| %s | %.0f | %.3f | %.2f | %s |\n' "${labels[$i]}" "$rps" "$p50" "$p99" "$ratio"
  done
}

# proxies_node PORT: a release node whose capacity and refill are so high
# nothing is refused (the figures are of allowed requests).
proxies_node() {
  "$node_bin" --listen "127.0.0.1:$1" --workers "$node_workers" --log warn --capacity 4000000000 \
    --refill-per-sec 1000000000 >"$out/node.log" 2>&1 &
  track $!
}

# proxies_finish PORT: proof the auth rows went through the limiter (what it
# counted), then stop everything the part started.
proxies_finish() {
  curl -s "http://127.0.0.1:$1/metrics" | grep '^limiter_decisions_total' >&2 || true
  cleanup
}

# One nginx ($workers worker(s)) serving: the app (`return 200`); a front
# that proxies to it; docs/proxies.md's forward-auth configuration (examples/
# proxies/nginx.conf) asking the node; and that configuration asking nginx's
# own `return 200` instead (the control). Every front reaches the app over
# kept-alive connections.
proxies_forward_auth() {
  local node_port plain_port auth_port noop_port app_port dir=$out/nginx
  node_port=$(free_port); plain_port=$(free_port); auth_port=$(free_port)
  noop_port=$(free_port); app_port=$(free_port)
  mkdir -p "$dir"
  proxies_node "$node_port"
  local server
  server=$(sed -e "s/limiter:8000/127.0.0.1:$node_port/" -e "s/app:8080/app/" \
    -e "s/listen 80;/listen 127.0.0.1:$auth_port;/" examples/proxies/nginx.conf)
  # The control: the same configuration with nginx's own `return 200` in
  # the limiter's place, so what auth_request costs nginx shows apart from
  # what the limiter costs.
  local noop
  noop=$(sed -e "s/limiter:8000/127.0.0.1:$app_port/" -e "s/upstream limiter/upstream noop_auth/" \
    -e "s|http://limiter/|http://noop_auth/|" -e "s/app:8080/app/" \
    -e "s/listen 80;/listen 127.0.0.1:$noop_port;/" examples/proxies/nginx.conf)
  local user=""
  [ "$(id -u)" = 0 ] && user="user root;"
  cat >"$dir/nginx.conf" <<EOF
$user
daemon off;
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    # Both fronts keep their connections to the app open.
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    upstream app {
        server 127.0.0.1:$app_port;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:$app_port;
        location / { return 200 "upstream\n"; }
    }
    server {
        listen 127.0.0.1:$plain_port;
        location / { proxy_pass http://app; }
    }
$server
$noop
}
EOF
  "$nginx" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" &
  track $!
  wait_up "http://127.0.0.1:$node_port/readyz"
  wait_up "http://127.0.0.1:$plain_port/"
  wait_up "http://127.0.0.1:$auth_port/"
  local check
  check=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-User-ID: bench' "http://127.0.0.1:$auth_port/")
  [ "$check" = 200 ] || { echo "auth front answered $check, not 200" >&2; cat "$dir/error.log" >&2; exit 1; }
  echo "== forward-auth: nginx ($workers worker) without / with auth_request (node: $node_workers worker), $rounds rounds x ${secs}s, $conns connections" >&2
  proxies_compare "nginx, no auth" "http://127.0.0.1:$plain_port/api/orders" \
    "nginx + auth_request to the node" "http://127.0.0.1:$auth_port/api/orders" \
    "nginx + auth_request to nginx's return 200 (control)" "http://127.0.0.1:$noop_port/api/orders"
  proxies_finish "$node_port"
}

# One Caddy (GOMAXPROCS=$workers, as nginx's workers) serving: the app
# (`respond`); a front that proxies to it; docs/proxies.md's forward_auth site
# (examples/proxies/Caddyfile) asking the node; and that site asking Caddy's
# own `respond 200` instead (the control).
proxies_caddy() {
  local node_port plain_port auth_port noop_port app_port yes_port dir=$out/caddy
  node_port=$(free_port); plain_port=$(free_port); auth_port=$(free_port)
  noop_port=$(free_port); app_port=$(free_port); yes_port=$(free_port)
  mkdir -p "$dir"
  scripts/tools.sh install caddy
  local caddy_bin
  caddy_bin=$(scripts/tools.sh path caddy)
  proxies_node "$node_port"
  local site noop
  site=$(sed -e "s/limiter:8000/127.0.0.1:$node_port/" -e "s/app:8080/127.0.0.1:$app_port/" \
    -e "s|^:80 {|http://127.0.0.1:$auth_port {|" examples/proxies/Caddyfile)
  noop=$(sed -e "s/limiter:8000/127.0.0.1:$yes_port/" -e "s/app:8080/127.0.0.1:$app_port/" \
    -e "s|^:80 {|http://127.0.0.1:$noop_port {|" examples/proxies/Caddyfile)
  cat >"$dir/Caddyfile" <<CADDY
{
	admin off
	auto_https off
}
http://127.0.0.1:$app_port {
	respond "upstream" 200
}
http://127.0.0.1:$yes_port {
	respond 200
}
http://127.0.0.1:$plain_port {
	reverse_proxy 127.0.0.1:$app_port
}
$site
$noop
CADDY
  (cd "$dir" && GOMAXPROCS=$workers HOME=$dir XDG_DATA_HOME=$dir/data XDG_CONFIG_HOME=$dir/config \
    exec "$caddy_bin" run --config Caddyfile --adapter caddyfile >"$dir/caddy.log" 2>&1) &
  track $!
  wait_up "http://127.0.0.1:$node_port/readyz"
  wait_up "http://127.0.0.1:$auth_port/"
  echo "== forward-auth: Caddy (GOMAXPROCS=$workers) without / with forward_auth (node: $node_workers worker), $rounds rounds x ${secs}s, $conns connections" >&2
  proxies_compare "Caddy, no auth" "http://127.0.0.1:$plain_port/api/orders" \
    "Caddy + forward_auth to the node" "http://127.0.0.1:$auth_port/api/orders" \
    "Caddy + forward_auth to Caddy's respond 200 (control)" "http://127.0.0.1:$noop_port/api/orders"
  proxies_finish "$node_port"
}

# Gateway mode against nginx's proxy_pass and Caddy's reverse_proxy, each in
# front of the same nginx (its own process) serving a static file (1 KiB),
# with the same worker count; the last row asks the file directly, so
# p50/p99 above it are what each front adds. Ratios are to nginx's proxy_pass.
proxies_gateway() {
  local node_port app_port plain_port caddy_port dir=$out/gateway
  node_port=$(free_port); app_port=$(free_port); plain_port=$(free_port); caddy_port=$(free_port)
  mkdir -p "$dir/static/api"
  head -c 1024 /dev/zero | tr '\0' 'x' >"$dir/static/api/orders"
  scripts/tools.sh install caddy
  local caddy_bin user=""
  caddy_bin=$(scripts/tools.sh path caddy)
  [ "$(id -u)" = 0 ] && user="user root;"
  # The upstream and the front are separate nginx processes, each with
  # $workers worker(s), so the front does only a front's work.
  local role port body
  for role in upstream front; do
    if [ "$role" = upstream ]; then
      port=$app_port; body="root $dir/static;"
    else
      port=$plain_port; body="location / { proxy_pass http://app; }"
    fi
    mkdir -p "$dir/$role"
    cat >"$dir/$role/nginx.conf" <<NGINX
$user
daemon off;
worker_processes $workers;
pid $dir/$role/nginx.pid;
error_log $dir/$role/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/$role/client_body;
    proxy_temp_path $dir/$role/proxy;
    fastcgi_temp_path $dir/$role/fastcgi;
    uwsgi_temp_path $dir/$role/uwsgi;
    scgi_temp_path $dir/$role/scgi;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    upstream app {
        server 127.0.0.1:$app_port;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$port;
        $body
    }
}
NGINX
  done
  cat >"$dir/Caddyfile" <<CADDY
{
	admin off
	auto_https off
}
http://127.0.0.1:$caddy_port {
	reverse_proxy 127.0.0.1:$app_port
}
CADDY
  cat >"$dir/gateway.toml" <<GATEWAY
[[routes]]
name = "api"
prefix = "/api"
upstreams = ["http://127.0.0.1:$app_port"]
GATEWAY
  for role in upstream front; do
    "$nginx" -p "$dir/$role/" -c "$dir/$role/nginx.conf" -e "$dir/$role/error.log" &
    track $!
  done
  (cd "$dir" && GOMAXPROCS=$workers HOME=$dir XDG_DATA_HOME=$dir/data XDG_CONFIG_HOME=$dir/config \
    exec "$caddy_bin" run --config Caddyfile --adapter caddyfile >"$dir/caddy.log" 2>&1) &
  track $!
  "$node_bin" --listen "127.0.0.1:$node_port" --workers "$node_workers" --log warn --capacity 4000000000 \
    --refill-per-sec 1000000000 --gateway "$dir/gateway.toml" --trusted-proxies 127.0.0.1/32 \
    >"$out/node.log" 2>&1 &
  track $!
  wait_up "http://127.0.0.1:$node_port/readyz"
  wait_up "http://127.0.0.1:$plain_port/api/orders"
  wait_up "http://127.0.0.1:$caddy_port/api/orders"
  local check
  check=$(curl -s -o /dev/null -w '%{http_code}' -H 'X-User-ID: bench' "http://127.0.0.1:$node_port/api/orders")
  [ "$check" = 200 ] || { echo "the gateway answered $check, not 200" >&2; exit 1; }
  echo "== gateway: node ($node_workers worker) vs nginx proxy_pass and Caddy reverse_proxy ($workers), $rounds rounds x ${secs}s, $conns connections" >&2
  proxies_compare "nginx proxy_pass" "http://127.0.0.1:$plain_port/api/orders" \
    "crdt-limiter gateway (decide + forward)" "http://127.0.0.1:$node_port/api/orders" \
    "Caddy reverse_proxy" "http://127.0.0.1:$caddy_port/api/orders" \
    "the static file directly (no front)" "http://127.0.0.1:$app_port/api/orders"
  proxies_finish "$node_port"
}

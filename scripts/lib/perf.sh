# Helpers shared by the parts of scripts/perf.sh (sourced, not run). Every
# part runs in a subshell of its own: what it starts through `track` or
# `on_exit` is stopped when it ends, even on failure or Ctrl-C.
# shellcheck shell=bash disable=SC2154 # out, lt, secs, users: set by the calling part

root=$PWD
target=${CARGO_TARGET_DIR:-$root/target}

# Processes to kill and commands to run when the part's subshell exits.
pids=()
exit_hooks=()
cleanup() {
  local p hook
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  for hook in "${exit_hooks[@]}"; do eval "$hook" >/dev/null 2>&1 || true; done
  exit_hooks=()
}
track() { pids+=("$@"); }
on_exit() { exit_hooks+=("$1"); }

# say TEXT: a progress line, on stderr so a part's stdout stays its results.
say() { echo "$*" >&2; }

# need TOOL: fails naming the command that installs TOOL if it is missing.
need() {
  command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] ||
    { say "perf.sh: $1 missing; scripts/tools.sh install $1"; exit 1; }
}

# build ARGS...: a quiet release build (cargo build --release ARGS).
build() { cargo build --release --quiet "$@"; }

# build_loadtest: the goose load generator; sets $lt.
build_loadtest() {
  build -p crdt-limiter-loadtest
  lt=$target/release/loadtest
}

# bench_binary: the criterion bench executable cargo just built, by the JSON it prints.
bench_binary() {
  cargo bench --bench decision --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "decision":
        print(m["executable"])'
}

# build_base REV [bench]: the release binary (and with `bench`, the criterion
# bench as `decision`) of an earlier commit, built once in a git worktree
# under the target dir with the same target dir (dependencies are reused)
# and kept in $target/perf-base/REV; prints that directory.
build_base() {
  local rev=$1 dir=$target/perf-base/$1 tree=$target/perf-base/tree
  mkdir -p "$dir"
  if [ -x "$dir/crdt-limiter" ] && { [ "${2:-}" != bench ] || [ -x "$dir/decision" ]; }; then
    echo "$dir"; return
  fi
  say "== building $rev"
  git worktree remove --force "$tree" 2>/dev/null || true
  git worktree add --detach "$tree" "$rev" >/dev/null
  (cd "$tree" && export CARGO_TARGET_DIR=$target &&
    build --bin crdt-limiter && cp "$target/release/crdt-limiter" "$dir/" &&
    if [ "${2:-}" = bench ]; then cp "$(bench_binary)" "$dir/decision"; fi) >&2
  git worktree remove --force "$tree"
  echo "$dir"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_up URL [TRIES]: until URL answers at all (any status), 0.1 s apart (default 100 tries).
wait_up() {
  local i
  for ((i = 0; i < ${2:-100}; i++)); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  say "not up: $1"; return 1
}

# wait_ok URL [TRIES]: until URL answers 2xx (e.g. /readyz), 0.1 s apart (default 100 tries).
wait_ok() {
  local i
  for ((i = 0; i < ${2:-100}; i++)); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  say "not ready: $1"; return 1
}

# field KEY: the numbers of KEY=NUMBER in the lines on stdin.
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

# median: the median of the numbers on stdin, one a line.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# metric_sum SERIES URL...: one series (`name` or `name{labels}`) summed over nodes' /metrics.
metric_sum() {
  local name=$1; shift
  for u in "$@"; do curl -s "$u/metrics"; done | awk -v n="$name" '$1==n {s+=$2} END {print s+0}'
}

# metric_family NAME URL [FILTER]: every series of NAME (all labels, or those
# matching the awk regex FILTER) summed, as an integer.
metric_family() {
  curl -s "$2/metrics" |
    awk -v n="$1" -v f="${3:-}" 'index($1, n) == 1 && (substr($1, length(n) + 1, 1) ~ /^[{]?$/) && $0 ~ f {s+=$2}
      END {printf "%d\n", s}'
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# goose SCENARIO TARGETS LABEL [CLIENT]: one bounded loadtest run ($secs s,
# $users goose users); prints its RESULT line and appends it to
# $out/LABEL-SCENARIO.txt. CLIENT is the goose scenario actually run (default
# SCENARIO): a bare server always answers 200, so it is driven by the client
# that expects 200 (manyusers) and goose does the same work per request on
# both sides.
goose() {
  (cd "$out" && LOADTEST_TARGETS=$2 "$lt" --scenarios "${4:-$1}" --run-time "$secs" -u "$users" \
     --increase-rate "$users" --quiet --no-print-metrics --report-file "$out/$3-$1.html") |
    grep '^RESULT' | tee -a "$out/$3-$1.txt"
}

# memory_per_key BINARY PORT: RSS growth of a node over 1,000,000 active
# users (goose newusers); prints "BYTES_PER_KEY KEYS RSS_BEFORE_KB RSS_AFTER_KB".
memory_per_key() {
  "$1" --listen "127.0.0.1:$2" --log warn --refill-per-sec 1/3600 --max-keys 2000000 \
    >"$out/memory-$2.log" 2>&1 &
  local pid=$! before after keys
  track "$pid"
  wait_up "http://127.0.0.1:$2/healthz"
  before=$(rss_kb "$pid")
  (cd "$out" && LOADTEST_TARGETS=http://127.0.0.1:$2 "$lt" --scenarios newusers --iterations 31250 \
     -u "$users" --increase-rate "$users" --quiet --no-print-metrics --report-file "$out/memory.html") >/dev/null
  keys=$(metric_sum limiter_buckets "http://127.0.0.1:$2")
  after=$(rss_kb "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  awk -v a="$after" -v b="$before" -v k="$keys" 'BEGIN {printf "%.0f %d %d %d\n", (a-b)*1024/k, k, b, a}'
}

# ratio A B: A / B to two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

# goose_summary LABEL SCENARIO: "rps p50 p99 p999", medians of the runs so far.
goose_summary() {
  local f="$out/$1-$2.txt"
  echo "$(field rps <"$f" | median) $(field p50_us <"$f" | median) $(field p99_us <"$f" | median) $(field p999_us <"$f" | median)"
}

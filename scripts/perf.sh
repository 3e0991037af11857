#!/usr/bin/env bash
# Measures crdt-limiter on this machine, one named part after another, each
# against a baseline or an earlier build; everything on 127.0.0.1, every run
# bounded, and everything a part starts is stopped when it ends.
#
# Usage: scripts/perf.sh PART...        e.g. scripts/perf.sh http cluster memory
#   http          one node vs the bare actix-web server (examples/bare_http.rs),
#                 goose hot user and many users                      (~2 min)
#   cluster       three nodes (scripts/cluster.sh) vs three bare servers, Kafka
#                 records per request, convergence lag               (~3 min)
#   memory        RSS per tracked key over 1,000,000 active users    (~1 min)
#   batch         POST /v1/checks (1,000 items) vs single /v1/check, wrk (~1 min)
#   rls           the Envoy rate-limit service vs a bare tonic server, h2load (~1 min)
#   proxies       nginx and Caddy with and without forward auth to a node; the
#                 gateway vs nginx and Caddy (PARTS, below)         (~7 min)
#   scale [BASE]  records per admitted request and an idle node's CPU, 4 nodes
#                 on the test broker; this tree and optionally BASE  (~3 min a build)
#   compare BASE  this tree against commit BASE, as ratios: criterion bench,
#                 goose on one node, memory per key                  (~15 min)
# Knobs (environment; defaults per part):
#   ROUNDS           alternating rounds, medians taken (3; proxies 5)
#   SECONDS_PER_RUN  length of each run (10; scale 15)
#   LOADTEST_USERS   goose users (32): http, cluster, memory, compare
#   PARTS            proxies: any of forward-auth caddy gateway (forward-auth caddy);
#                    compare: any of criterion goose memory (all)
#   WORKERS          node (and bare server) threads: batch, rls (2)
#   WRK_THREADS      wrk threads: batch, proxies (1)
#   BATCH_CONNECTIONS, SINGLE_CONNECTIONS   batch: wrk connections (4, 32)
#   CLIENTS, STREAMS rls: h2load connections and streams each (16, 8)
#   PORT             batch (8077), rls (8078, gRPC on the next two ports)
#   CONNECTIONS, NGINX_WORKERS, NODE_WORKERS   proxies (32, 1, 1)
# Results go to stdout, progress to stderr, raw output to target/perf/PART/.
# Helpers shared by the parts: scripts/lib/perf.sh; the parts: scripts/perf/.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/{/^set -euo/d; s/^# \{0,1\}//; p}' "$0"; }

known=(http cluster memory batch rls proxies scale compare)
is_part() { [[ " ${known[*]} " == *" $1 "* ]]; }

# The parts to run, and each one's argument (BASE, or empty).
parts=() args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    compare)
      if [ -z "${2:-}" ] || is_part "$2"; then echo "perf.sh: compare needs BASE (a commit)" >&2; exit 2; fi
      parts+=(compare); args+=("$2"); shift 2 ;;
    scale)
      if [ -n "${2:-}" ] && ! is_part "$2"; then parts+=(scale); args+=("$2"); shift 2
      else parts+=(scale); args+=(""); shift; fi ;;
    *)
      is_part "$1" || { echo "perf.sh: no part named '$1'" >&2; usage >&2; exit 2; }
      parts+=("$1"); args+=(""); shift ;;
  esac
done
[ ${#parts[@]} -gt 0 ] || { usage >&2; exit 2; }

# shellcheck source=scripts/lib/perf.sh
. scripts/lib/perf.sh
for part in "${known[@]}"; do
  # shellcheck source=/dev/null
  . "scripts/perf/$part.sh"
done

for i in "${!parts[@]}"; do
  # A subshell each: the part's variables and processes end with it.
  (
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    if [ -n "${args[$i]}" ]; then "perf_${parts[$i]}" "${args[$i]}"; else "perf_${parts[$i]}"; fi
  )
done

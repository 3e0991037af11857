#!/usr/bin/env bash
# Runs every check and test of crdt-limiter, installing what is missing first
# (cargo-nextest; Envoy, Caddy, nginx, h2load, wrk, Chromium, chromedriver,
# Prometheus and promtool; kubectl, kubernetes-validate and the CRD models through scripts/tools.sh; the tansu test broker, which it starts on a free
# loopback port).
# Usage: scripts/test.sh   (from anywhere; exits non-zero on the first failure)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if ! cargo nextest --version >/dev/null 2>&1; then
  step "installing cargo-nextest (not found)"
  cargo install cargo-nextest --locked
fi

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "proxies, load tools, the browser, Prometheus and the Kubernetes tools (Envoy, Caddy, nginx, h2load, wrk, Chromium, chromedriver, Prometheus, promtool, kubectl, kubernetes-validate, CRD models)"
scripts/tools.sh install

step "test broker"
port=${TEST_BROKER_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
scripts/broker.sh start "$port"
trap 'scripts/broker.sh stop "$port" >/dev/null' EXIT
export CRDT_LIMITER_TEST_BROKERS="127.0.0.1:$port"

step "tests"
cargo nextest run --locked --no-fail-fast

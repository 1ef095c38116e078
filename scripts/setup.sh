#!/usr/bin/env bash
# Installs what the tests and the demo need beyond npm packages: Prometheus (with promtool) and
# Alertmanager from Debian, and checks that kubectl is there. Idempotent: does nothing when all are
# already on PATH.
set -euo pipefail

# The deploy tests render the manifests with the real `kubectl kustomize` (kubectl 1.27+ bundles kustomize 5).
if ! command -v kubectl >/dev/null 2>&1; then
  echo "setup: kubectl is not on PATH; the deploy tests render the manifests with kubectl kustomize: install kubectl (1.27 or later) and rerun" >&2
  exit 1
fi

need=()
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo -n)
else
  echo "setup: need Debian packages ${need[*]} but am not root and have no sudo; install them and rerun" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: need ${need[*]} (Prometheus 2.x with promtool, Alertmanager 0.25+) on PATH; no apt-get here to install them" >&2
  exit 1
fi
echo "setup: installing ${need[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts nothing on install here, but stop the units if a system did, so tests own their ports.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  "${sudo[@]}" systemctl disable --now prometheus prometheus-node-exporter prometheus-alertmanager >/dev/null 2>&1 || true
fi

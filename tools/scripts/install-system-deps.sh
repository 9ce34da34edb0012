#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, when running as root; otherwise stops
# with the one command to run. The list grows with the services (ZooKeeper for the
# coordination service, iproute2 for the network-namespace partition test, prometheus for
# `npm run observe` and the promtool checks of deploy/prometheus in tools/observability,
# kubectl for the checks of deploy/k8s).
set -euo pipefail
packages=(zookeeper iproute2 prometheus)
# kubectl (`kubectl kustomize deploy/k8s` in tools/observability): any kubectl will do; when the
# machine has none, Debian's kubernetes-client provides one.
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "system packages present: ${packages[*]}"; exit 0; }
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages; run: sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

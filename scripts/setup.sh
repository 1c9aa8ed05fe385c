#!/usr/bin/env bash
# Installs the Debian packages aisle needs, and does nothing when all are there.
#   scripts/setup.sh           what the programs need to build (the demo)
#   scripts/setup.sh --tests   and what the tests and benchmarks need
set -euo pipefail
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libeigen3-dev libabsl-dev nlohmann-json3-dev libssl-dev libhiredis-dev libjs-chart.js
)
if [ "${1:-}" = "--tests" ]; then
  PACKAGES+=(libgtest-dev libbenchmark-dev redis-server python3-jsonschema python3-yaml)
fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

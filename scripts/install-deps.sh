#!/usr/bin/env bash
# Installs the Debian 12 packages sluice needs to build and test, skipping those already present.
# Run as root or with sudo.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config clang-format git
  liburing-dev libxxhash-dev libzstd-dev liblz4-dev libsnappy-dev zlib1g-dev
  libcli11-dev nlohmann-json3-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  kcat librdkafka-dev python3-kafka python3-confluent-kafka python3-lz4 python3-snappy
  python3-zstandard
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "sluice: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

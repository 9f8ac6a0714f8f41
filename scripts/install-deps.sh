#!/usr/bin/env bash
# Installs the Debian 12 packages sluice needs to build and test, skipping those already present.
# Run as root or with sudo. Then fetches the test-only tools from their own registries into the test
# cache: Apache Kafka 4.4 (broker, tools, Java clients) with Maven (scripts/kafka-fixture.sh) and
# the client libraries of scripts/client-tools.sh (PyPI, ...): for the user running this script,
# and under sudo also for the user who invoked sudo, so tests run later without sudo find them too.
# `--no-kafka` leaves these test tools out (scripts/demo.sh does not need them).
set -euo pipefail
with_kafka=1
[ "${1:-}" = "--no-kafka" ] && with_kafka=0
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config clang-format git
  liburing-dev libxxhash-dev libzstd-dev liblz4-dev libsnappy-dev zlib1g-dev
  libcli11-dev nlohmann-json3-dev libssl-dev openssl
  libgtest-dev libgmock-dev libbenchmark-dev
  kcat librdkafka-dev python3-kafka python3-confluent-kafka python3-lz4 python3-snappy
  python3-zstandard python3-venv
  openjdk-17-jdk-headless maven
  chromium chromium-driver
  zsh fish  # the shells whose completions test_shell_completions.py loads
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Node.js and npm for the kafkajs tests (scripts/client-tools.sh): Debian's, unless the machine has
# its own on PATH (Debian's npm package would not install beside another nodejs build).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
  fi
  echo "sluice: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Test-only tools (a no-op when cached). A failure here fails the install: a client that cannot be
# installed is a failure, not a skip.
fetch_test_tools='./scripts/kafka-fixture.sh fetch && ./scripts/client-tools.sh fetch'
if [ "$with_kafka" = 1 ]; then
  bash -c "$fetch_test_tools"
  if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] && [ "$(id -u)" -eq 0 ]; then
    user_home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
    if runuser -u "$SUDO_USER" -- test -x ./scripts/kafka-fixture.sh && [ -d "$user_home" ]; then
      runuser -u "$SUDO_USER" -- env HOME="$user_home" XDG_CACHE_HOME= \
        bash -c "$fetch_test_tools"
    else  # a checkout that user cannot read: the tests run as root here
      echo "sluice: test tools fetched for root only ($SUDO_USER cannot run them from $PWD)" >&2
    fi
  fi
fi

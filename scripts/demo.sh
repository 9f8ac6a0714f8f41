#!/usr/bin/env bash
# Quick start, command 1: installs what is missing, builds sluice (Release), and runs the embedded
# demo: produce telemetry into a topic, read every record back, print throughput.
# Extra arguments go to `sluice demo` (see `build/release/sluice demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh --no-kafka  # the demo needs no Apache Kafka (the tests do)
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DSLUICE_BUILD_TESTS=OFF \
  -DSLUICE_BUILD_BENCH=OFF >/dev/null
cmake --build build/release -j2 --target sluice
exec ./build/release/sluice demo "$@"

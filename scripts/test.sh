#!/usr/bin/env bash
# Quick start, command 2: installs what is missing, then builds and runs the whole test suite twice:
# once with warnings as errors, once under AddressSanitizer + UndefinedBehaviorSanitizer.
# `SLUICE_TEST_SANITIZE=0` skips the sanitizer pass (for a quicker local loop).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

# Formatting (.clang-format, clang-format 14 as Debian 12 ships it).
echo "== sluice format check"
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror

run_suite() {
  local dir="$1"
  shift
  echo "== sluice tests: $dir ($*)"
  cmake -S . -B "$dir" -DSLUICE_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j2
  (cd "$dir" && ctest --output-on-failure -j2 --timeout 900)
}

run_suite build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${SLUICE_TEST_SANITIZE:-1}" != "0" ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_suite build/test-asan -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=address,undefined \
      -DSLUICE_BUILD_BENCH=OFF
fi

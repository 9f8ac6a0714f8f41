#!/usr/bin/env bash
# Quick start, command 2: installs what is missing, then builds and runs the whole test suite twice:
# once with warnings as errors, once under AddressSanitizer + UndefinedBehaviorSanitizer (without
# the compatibility tests labelled `compat`, tests/CMakeLists.txt says why); then the concurrent
# tests (engine, net, groups) under ThreadSanitizer.
# `SLUICE_TEST_SANITIZE=0` skips the ASan/UBSan pass and `SLUICE_TEST_TSAN=0` the TSan pass (for a
# quicker local loop). A skipped test fails the run unless `SLUICE_TEST_ALLOW_SKIPS=1`.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

# Formatting (.clang-format, clang-format 14 as Debian 12 ships it).
echo "== sluice format check"
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror

# A skipped test is never a pass: a run that skipped any test fails, unless SLUICE_TEST_ALLOW_SKIPS=1
# (say why where you set it). Each skip prints its reason (GTEST_SKIP() << why).
check_skips() {
  local log="$1"
  local skipped
  skipped=$(grep -E '\*\*\*Skipped|\(Skipped\)' "$log" | sed -E 's/^ *//' | sort -u || true)
  if [ -n "$skipped" ]; then
    echo "== sluice tests: skipped tests (a skip is not a pass):"
    echo "$skipped"
    if [ "${SLUICE_TEST_ALLOW_SKIPS:-0}" != "1" ]; then
      echo "== failing: set SLUICE_TEST_ALLOW_SKIPS=1 to accept skips on this machine" >&2
      return 1
    fi
  fi
}

# run_suite DIR [cmake args...] [-- ctest args...]: configures, builds, runs ctest.
run_suite() {
  local dir="$1"
  shift
  local cmake_args=() ctest_args=() targets=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do cmake_args+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  ctest_args=("$@")
  echo "== sluice tests: $dir (${cmake_args[*]}) ${ctest_args[*]}"
  cmake -S . -B "$dir" -DSLUICE_WERROR=ON "${cmake_args[@]}" >/dev/null
  if [ -n "${SLUICE_BUILD_TARGETS:-}" ]; then
    read -r -a targets <<<"$SLUICE_BUILD_TARGETS"
    cmake --build "$dir" -j2 --target "${targets[@]}"
  else
    cmake --build "$dir" -j2
  fi
  local log="$dir/ctest.log"
  (cd "$dir" && ${SLUICE_CTEST_PREFIX:-} ctest --output-on-failure -j2 --timeout 900 "${ctest_args[@]}") \
    2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || return "$rc"
  check_skips "$log"
}

run_suite build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${SLUICE_TEST_SANITIZE:-1}" != "0" ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_suite build/test-asan -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=address,undefined \
      -DSLUICE_BUILD_BENCH=OFF -- -LE compat
fi

# ThreadSanitizer over the tests labelled `concurrent` (tests/CMakeLists.txt): only their binaries
# are built (tests/CMakeLists.txt says why remote_cli_test is not among them). Any race fails the run.
# `SLUICE_TEST_TSAN=0` skips it.
if [ "${SLUICE_TEST_TSAN:-1}" != "0" ]; then
  tsan_dir=build/test-tsan
  tsan_targets="partition_log_test data_listener_test group_offsets_test replay_test \
engine_test producer_state_test group_coordinator_test fault_test storage_safety_test \
server_test tls_test pipelining_test sasl_broker_test partition_reader_test admin_api_broker_test \
log_cleaner_test log_cleaner_dictionary_test"
  # Some kernels map memory where TSan's shadow must go (vm.mmap_rnd_bits above 28): TSan then
  # stops with "unexpected memory mapping"; without address randomization it runs.
  prefix=""
  probe=$(mktemp -d)
  printf 'int main() { return 0; }\n' >"$probe/p.cc"
  c++ -fsanitize=thread "$probe/p.cc" -o "$probe/p"
  if ! "$probe/p" >/dev/null 2>&1; then
    prefix="setarch $(uname -m) -R"
    echo "== TSan needs address randomization off here: running under '$prefix'"
    $prefix "$probe/p"
  fi
  rm -rf "$probe"
  TSAN_OPTIONS="halt_on_error=1 abort_on_error=1 second_deadlock_stack=1" \
    SLUICE_BUILD_TARGETS="$tsan_targets" SLUICE_CTEST_PREFIX="$prefix" \
    run_suite "$tsan_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_SANITIZE=thread \
      -DSLUICE_BUILD_BENCH=OFF -- -L concurrent
fi

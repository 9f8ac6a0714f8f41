#!/usr/bin/env bash
# Quick start, command 2: installs what is missing, then builds and runs the whole test suite twice:
# once with warnings as errors, once under AddressSanitizer + UndefinedBehaviorSanitizer (without
# the compatibility tests labelled `compat`, tests/CMakeLists.txt says why); then the concurrent
# tests (engine, net, groups) under ThreadSanitizer.
# `SLUICE_TEST_SANITIZE=0` skips the ASan/UBSan pass and `SLUICE_TEST_TSAN=0` the TSan pass (for a
# quicker local loop). A skipped test fails the run unless `SLUICE_TEST_ALLOW_SKIPS=1`.
#
# Time (CI's budget is 40 minutes on 2 cores): the three builds are most of the CPU work, and the
# test passes leave much of the CPU idle (client tests wait on JVMs, sockets and fsyncs). So the
# two sanitizer builds start at once, in the background at low priority (nice 10 and 19), and
# compile in what the plain build and the tests leave; each pass's tests run at normal priority as
# soon as its build is done. Debug information is line tables only (-g1): enough for sanitizer
# reports and backtraces, and a third less compile time than -g. The end prints each step's time.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."

started=$SECONDS
step_started=$SECONDS
timings=()
step_done() {  # step_done NAME: records the time since the previous step ended
  timings+=("$(printf '%-34s %5d s' "$1" $((SECONDS - step_started)))")
  step_started=$SECONDS
}
print_timings() {
  echo "== sluice test timings (wall clock; the sanitizer builds overlap the steps before them)"
  printf '   %s\n' "${timings[@]}"
  printf '   %-34s %5d s\n' total $((SECONDS - started))
}

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

DEBUG_INFO=(-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS_DEBUG="-g1")

# configure DIR [cmake args...]
configure() {
  local dir="$1"
  shift
  echo "== sluice configure: $dir ($*)"
  cmake -S . -B "$dir" -DSLUICE_WERROR=ON "${DEBUG_INFO[@]}" "$@" >/dev/null
}

# build DIR [targets...]: all targets when none are named.
build() {
  local dir="$1"
  shift
  local targets=()
  [ $# -gt 0 ] && targets=(--target "$@")
  cmake --build "$dir" -j2 "${targets[@]}"
}

# background_build DIR NICENESS [targets...]: the build in the background, in its own process
# group (stopped with the script), its output in DIR/build.log. `await_build DIR` waits for it and
# shows that log if it failed.
declare -A build_pids
stop_background_builds() {
  local pid
  for pid in "${build_pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
}
background_build() {
  local dir="$1" niceness="$2"
  shift 2
  setsid bash "$self" --build-only "$niceness" "$dir" "$@" >"$dir/build.log" 2>&1 &
  build_pids[$dir]=$!
  trap stop_background_builds EXIT
}
await_build() {
  local dir="$1"
  if ! wait "${build_pids[$dir]}"; then
    echo "== sluice build of $dir failed:" >&2
    tail -n 200 "$dir/build.log" >&2
    return 1
  fi
  unset "build_pids[$dir]"
  echo "== sluice build of $dir done (its output: $dir/build.log)"
}

# run_tests DIR [ctest args...]
run_tests() {
  local dir="$1"
  shift
  echo "== sluice tests: $dir $*"
  local log="$dir/ctest.log"
  (cd "$dir" && ${SLUICE_CTEST_PREFIX:-} ctest --output-on-failure -j2 --timeout 900 "$@") \
    2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || return "$rc"
  check_skips "$log"
}

# Re-entry for background_build: `test.sh --build-only NICENESS DIR [targets...]`. Its session
# is a scheduler autogroup of its own (kernel.sched_autogroup_enabled): niceness ranks processes
# only within their group, so the group's own niceness is set too, or the build would get an equal
# share of the CPU with everything else.
if [ "${1:-}" = "--build-only" ]; then
  niceness="$2"
  shift 2
  echo "$niceness" 2>/dev/null >/proc/self/autogroup || true
  renice -n "$niceness" $$ >/dev/null
  build "$@"
  exit
fi

./scripts/install-deps.sh
step_done "install"

# Formatting (.clang-format, clang-format 14 as Debian 12 ships it).
echo "== sluice format check"
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror
step_done "format check"

sanitize=${SLUICE_TEST_SANITIZE:-1}
tsan=${SLUICE_TEST_TSAN:-1}
configure build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "$sanitize" != "0" ]; then
  configure build/test-asan -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=address,undefined \
    -DSLUICE_BUILD_BENCH=OFF
  background_build build/test-asan 10
fi
# ThreadSanitizer runs the tests labelled `concurrent` (tests/CMakeLists.txt): only their binaries
# are built (tests/CMakeLists.txt says why remote_cli_test is not among them). Any race fails the
# run.
tsan_targets=(partition_log_test data_listener_test group_offsets_test replay_test engine_test
  producer_state_test group_coordinator_test fault_test storage_safety_test server_test tls_test
  pipelining_test sasl_broker_test partition_reader_test admin_api_broker_test log_cleaner_test
  log_cleaner_dictionary_test)
if [ "$tsan" != "0" ]; then
  configure build/test-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_SANITIZE=thread \
    -DSLUICE_BUILD_BENCH=OFF
  background_build build/test-tsan 19 "${tsan_targets[@]}"
fi
step_done "configure"

build build/test
step_done "build (plain, benchmarks too)"
run_tests build/test
step_done "tests (plain)"

if [ "$sanitize" != "0" ]; then
  await_build build/test-asan
  step_done "rest of the ASan+UBSan build"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_tests build/test-asan -LE compat
  step_done "tests (ASan+UBSan, not compat)"
fi

if [ "$tsan" != "0" ]; then
  await_build build/test-tsan
  step_done "rest of the TSan build"
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
    SLUICE_CTEST_PREFIX="$prefix" run_tests build/test-tsan -L concurrent
  step_done "tests (TSan, concurrent)"
fi
print_timings

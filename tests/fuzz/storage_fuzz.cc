// libFuzzer entry point of one storage target (tests/fuzz/storage_targets.h), compiled once per
// target with SLUICE_FUZZ_ENTRY naming its function (tests/CMakeLists.txt). Built with clang and
// -DSLUICE_FUZZ=ON; bench/RESULTS.md ("Fuzzing the on-disk parsers") has the commands. Save what it
// finds (crash-*, oom-*, timeout-*, ...) in tests/fuzz/corpus/<target>/; storage_corpus_test
// replays every file there in every build.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "segment/base/log.h"
#include "tests/fuzz/storage_targets.h"

// The engine logs what it finds wrong with a damaged file, which is every input here: those lines
// buried libFuzzer's own output. The targets check outcomes, not logs. (Speed was the same with
// and without them: ~1.5 k exec/s for segment_open at load 9.)
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  sluice::base::SetLogSink([](sluice::base::LogLevel, std::string_view) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::fuzz::SLUICE_FUZZ_ENTRY({reinterpret_cast<const std::byte*>(data), size});
  return 0;
}

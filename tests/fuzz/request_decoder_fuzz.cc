// libFuzzer target for the Kafka request decoder (net/messages.h). Built with clang and
// -DSLUICE_FUZZ=ON; run from the build directory, e.g.
//   ./tests/request_decoder_fuzz -max_len=4096 -malloc_limit_mb=256 new_units/ \
//       ../tests/fuzz/corpus/request_decoder/
// Save inputs it finds (crash-*, oom-*, ...) in tests/fuzz/corpus/request_decoder/ under the name
// libFuzzer gives them; request_corpus_test replays them in every build.

#include <cstddef>
#include <cstdint>

#include "tests/fuzz/request_decoder_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::net::FuzzDecodeRequest({reinterpret_cast<const std::byte*>(data), size}).IgnoreError();
  return 0;
}

// Replays the corpora of the storage fuzz targets (tests/fuzz/corpus/<target>/) through the same
// code as the fuzzers, in every build (GCC included). Each seed that storage_seeds.cc builds must
// be saved there and must decode to what it was built from, or be rejected with the error it was
// damaged to cause; every other file there (the fuzzer's findings, regression inputs) must be
// handled: no crash and every invariant the target checks holds.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/fuzz/storage_seeds.h"
#include "tests/support/test_util.h"

namespace sluice::fuzz {
namespace {

namespace fs = std::filesystem;

fs::path CorpusDir(const StorageTarget& target) {
  return fs::path(SLUICE_SOURCE_DIR) / "tests/fuzz/corpus" / target.name;
}

std::string ErrorText(const std::optional<base::ErrorCode>& e) {
  return e ? std::string(base::ErrorCodeName(*e)) : std::string("accepted");
}

class StorageCorpusTest : public ::testing::TestWithParam<StorageTarget> {};

TEST_P(StorageCorpusTest, SavedSeedsDecodeToWhatTheyWereBuiltFrom) {
  const StorageTarget& target = GetParam();
  const std::vector<StorageSeed> seeds = target.seeds();
  ASSERT_GE(seeds.size(), 5u);
  size_t valid = 0;
  for (const StorageSeed& seed : seeds) {
    valid += seed.valid() ? 1 : 0;
    const fs::path path = CorpusDir(target) / seed.name;
    ASSERT_TRUE(fs::exists(path)) << path << " is missing: run build/tests/write_storage_seeds";
    const std::string saved = testing::ReadWholeFile(path.string());
    for (const auto& [what, bytes] :
         {std::pair{"saved", &saved}, std::pair{"built", &seed.bytes}}) {
      const FuzzOutcome outcome = target.run(base::AsBytes(*bytes));
      EXPECT_EQ(ErrorText(outcome.error), ErrorText(seed.error)) << what << " " << seed.name;
      if (seed.summary) {
        EXPECT_EQ(outcome.summary, *seed.summary) << what << " " << seed.name;
      }
    }
  }
  EXPECT_GE(valid, 2u);
  EXPECT_GE(seeds.size() - valid, 3u);  // damaged seeds too
}

TEST_P(StorageCorpusTest, EveryCorpusFileIsHandled) {
  const StorageTarget& target = GetParam();
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(CorpusDir(target))) {
    if (!entry.is_regular_file()) continue;
    target.run(base::AsBytes(testing::ReadWholeFile(entry.path().string())));
    ++files;
  }
  EXPECT_GE(files, target.seeds().size());
}

// Damage the seeds do not spell out: every truncation of a valid seed, and a bit flipped at every
// position. A shortened record batch, index, snapshot, offsets batch or small file is always
// rejected (each carries its length or a checksum over its end, or is a JSON object that a cut
// leaves open); a shortened frame stream or segment yields a prefix of the frames.
TEST_P(StorageCorpusTest, TruncatedAndFlippedValidSeedsAreRejectedOrYieldAPrefix) {
  const StorageTarget& target = GetParam();
  const std::string name = target.name;
  const bool frames = name == "frame" || name == "segment_open";
  for (const StorageSeed& seed : target.seeds()) {
    if (!seed.valid()) continue;
    const FuzzOutcome whole = target.run(base::AsBytes(seed.bytes));
    // Segment opens cost a file system each: every 7th cut there.
    const size_t step = name == "segment_open" ? 7 : 1;
    for (size_t n = 0; n < seed.bytes.size(); n += step) {
      const FuzzOutcome cut = target.run(base::AsBytes(seed.bytes).first(n));
      // A JSON text (the legacy catalog) may lose its trailing newline and stay whole.
      const bool only_whitespace_cut =
          seed.bytes.find_first_not_of(" \t\r\n", n) == std::string::npos;
      if (!frames && !only_whitespace_cut) {
        EXPECT_TRUE(cut.error.has_value()) << seed.name << " cut to " << n << " bytes";
      } else if (name == "frame") {
        // Every frame line but the last line (end or bad) is one of the whole stream's.
        const std::string lines =
            cut.summary.substr(0, cut.summary.rfind('\n', cut.summary.size() - 2) + 1);
        EXPECT_EQ(whole.summary.compare(0, lines.size(), lines), 0)
            << seed.name << " cut to " << n << " bytes";
      }
    }
    for (size_t pos = 0; pos < seed.bytes.size(); pos += step) {
      std::string flipped = seed.bytes;
      flipped[pos] = static_cast<char>(flipped[pos] ^ 0x04);
      target.run(base::AsBytes(flipped));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Storage, StorageCorpusTest, ::testing::ValuesIn(StorageTargets()),
                         [](const ::testing::TestParamInfo<StorageTarget>& param) {
                           return std::string(param.param.name);
                         });

}  // namespace
}  // namespace sluice::fuzz

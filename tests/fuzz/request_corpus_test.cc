// Replays the request-decoder fuzz corpus (tests/fuzz/corpus/request_decoder/) through the fuzz
// target's checks, in every build (GCC included): each file and every truncation of it. Files
// named as libFuzzer names its findings (crash-*, oom-*, timeout-*, leak-*, slow-unit-*) are
// reproducers and only must not crash; every other file is a valid request and must decode.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/fuzz/request_decoder_target.h"
#include "tests/support/test_util.h"

namespace sluice::net {
namespace {

namespace fs = std::filesystem;

bool IsReproducer(const std::string& name) {
  for (const char* prefix : {"crash-", "oom-", "timeout-", "leak-", "slow-unit-"}) {
    if (name.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

std::vector<fs::path> CorpusFiles() {
  std::vector<fs::path> files;
  const fs::path dir = fs::path(SLUICE_SOURCE_DIR) / "tests/fuzz/corpus/request_decoder";
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(RequestCorpusTest, HasSeedsForEveryApi) {
  const std::vector<fs::path> files = CorpusFiles();
  EXPECT_GE(files.size(), 20u);
  int api_versions_v3 = 0;
  for (const fs::path& f : files) api_versions_v3 += f.filename() == "ApiVersions-v3";
  EXPECT_EQ(api_versions_v3, 1);
}

TEST(RequestCorpusTest, ValidSeedsDecode) {
  for (const fs::path& f : CorpusFiles()) {
    const std::string name = f.filename().string();
    const std::string bytes = testing::ReadWholeFile(f.string());
    const bool decoded = FuzzDecodeRequest(base::AsBytes(bytes));
    if (!IsReproducer(name)) {
      EXPECT_TRUE(decoded) << name << " no longer decodes";
    }
  }
}

TEST(RequestCorpusTest, EveryTruncationIsHandled) {
  size_t runs = 0;
  for (const fs::path& f : CorpusFiles()) {
    const std::string bytes = testing::ReadWholeFile(f.string());
    for (size_t n = 0; n <= bytes.size(); ++n) {
      FuzzDecodeRequest(base::AsBytes(bytes).first(n));
      ++runs;
    }
  }
  EXPECT_GT(runs, 0u);
}

}  // namespace
}  // namespace sluice::net

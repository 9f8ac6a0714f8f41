// Replays the request-decoder fuzz corpus (tests/fuzz/corpus/request_decoder/) through the fuzz
// target's checks, in every build (GCC included): each file and every truncation of it. Files
// named as libFuzzer names its findings (crash-*, oom-*, timeout-*, leak-*, slow-unit-*) are
// reproducers and only must not crash; every other file is a valid request named
// <API>-v<version> and must decode as that API and version, and each of its truncations must be
// rejected.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "net/kafka_errors.h"
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

// "Produce-v7" -> {"Produce", 7}.
std::pair<std::string, int> ApiAndVersion(const std::string& name) {
  const size_t dash = name.rfind("-v");
  if (dash == std::string::npos) return {name, -1};
  return {name.substr(0, dash), std::stoi(name.substr(dash + 2))};
}

TEST(RequestCorpusTest, EachSeedDecodesAsTheApiAndVersionItIsNamedFor) {
  size_t seeds = 0;
  for (const fs::path& f : CorpusFiles()) {
    const std::string name = f.filename().string();
    if (IsReproducer(name)) continue;
    ++seeds;
    const auto [api, version] = ApiAndVersion(name);
    const Result<RequestHeader> header =
        FuzzDecodeRequest(base::AsBytes(testing::ReadWholeFile(f.string())));
    ASSERT_TRUE(header.has_value()) << name << " no longer decodes: " << header.error().ToString();
    EXPECT_STREQ(ApiKeyName(static_cast<ApiKey>(header->api_key)), api.c_str()) << name;
    EXPECT_EQ(header->api_version, version) << name;
  }
  EXPECT_GE(seeds, 40u);
}

// Every field of a request is required (Kafka has no optional trailing fields; the tagged-field
// section of a flexible version is required too), so every strict prefix of a valid request is
// rejected as malformed; the one exception is the body of ApiVersions.
TEST(RequestCorpusTest, EveryTruncationOfASeedIsRejected) {
  for (const fs::path& f : CorpusFiles()) {
    const std::string name = f.filename().string();
    const std::string bytes = testing::ReadWholeFile(f.string());
    for (size_t n = 0; n < bytes.size(); ++n) {
      const Result<RequestHeader> header = FuzzDecodeRequest(base::AsBytes(bytes).first(n));
      if (IsReproducer(name)) continue;  // findings only must not crash
      if (header.has_value()) {
        // Only ApiVersions is answered whatever its body (KIP-511: the body is not parsed), so
        // only its header must be whole.
        const auto [api, version] = ApiAndVersion(name);
        EXPECT_EQ(api, "ApiVersions") << name << " cut to " << n << " bytes decoded";
        EXPECT_EQ(header->api_version, version) << name << " cut to " << n;
        continue;
      }
      // Malformed requests are kInvalidArgument in net/ (the server closes the connection).
      EXPECT_EQ(header.error().code, base::ErrorCode::kInvalidArgument)
          << name << " cut to " << n << " bytes: " << header.error().ToString();
    }
  }
}

}  // namespace
}  // namespace sluice::net

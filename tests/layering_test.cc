// Enforces the dependency direction of STYLE.md: cli -> engine -> segment (-> io -> base). A file
// may include project headers only from its own layer or the layers below it; test-only code
// (segment/io/testing, tests/) is never included by product code.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// Layer rank by path prefix; a file may include headers of rank <= its own.
int Rank(const std::string& path) {
  if (path.rfind("segment/io/testing/", 0) == 0) return 10;  // test-only
  if (path.rfind("tests/", 0) == 0 || path.rfind("bench/", 0) == 0) return 10;
  if (path.rfind("segment/base/", 0) == 0) return 0;
  if (path.rfind("segment/io/", 0) == 0) return 1;
  if (path.rfind("segment/", 0) == 0) return 2;
  if (path.rfind("engine/", 0) == 0) return 3;
  if (path.rfind("net/", 0) == 0) return 4;
  if (path.rfind("cli/", 0) == 0) return 5;
  return -1;
}

TEST(LayeringTest, NoFileIncludesAHeaderOfAHigherLayer) {
  const fs::path root = SLUICE_SOURCE_DIR;
  const std::regex include_re(R"re(^\s*#\s*include\s+"([^"]+)")re");
  std::vector<std::string> violations;
  int files = 0;
  for (const char* top : {"segment", "engine", "net", "cli"}) {
    if (!fs::exists(root / top)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
      const std::string ext = entry.path().extension().string();
      if (ext != ".h" && ext != ".cc") continue;
      const std::string rel = fs::relative(entry.path(), root).string();
      const int rank = Rank(rel);
      if (rank >= 10) continue;  // test-only code may include anything
      ++files;
      std::ifstream in(entry.path());
      std::string line;
      int lineno = 0;
      while (std::getline(in, line)) {
        ++lineno;
        std::smatch m;
        if (!std::regex_search(line, m, include_re)) continue;
        const std::string target = m[1];
        const int target_rank = Rank(target);
        if (target_rank < 0) {
          violations.push_back(rel + ":" + std::to_string(lineno) + " includes \"" + target +
                               "\", which is not a path from the repository root");
        } else if (target_rank > rank) {
          violations.push_back(rel + ":" + std::to_string(lineno) + " includes " + target +
                               " from a higher layer");
        }
      }
    }
  }
  EXPECT_GT(files, 20);
  for (const auto& v : violations) ADD_FAILURE() << v;
}

// STYLE.md: each third-party library is included from exactly one wrapper. OpenSSL's is
// net/tls.cc (tests included: they use net/tls.h).
// OpenSSL is two libraries with one wrapper each: libssl in net/tls.cc (TLS listeners), libcrypto
// in segment/base/crypto.cc (hashes, HMAC, PBKDF2 and randomness for SCRAM).
TEST(LayeringTest, OnlyTheTwoOpenSslWrappersIncludeOpenSsl) {
  const fs::path root = SLUICE_SOURCE_DIR;
  const std::regex include_re(R"re(^\s*#\s*include\s+<openssl/)re");
  std::vector<std::string> includers;
  for (const char* top : {"segment", "engine", "net", "cli", "tests", "bench"}) {
    if (!fs::exists(root / top)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(root / top)) {
      const std::string ext = entry.path().extension().string();
      if (ext != ".h" && ext != ".cc") continue;
      std::ifstream in(entry.path());
      std::string line;
      while (std::getline(in, line)) {
        if (std::regex_search(line, include_re)) {
          includers.push_back(fs::relative(entry.path(), root).string());
          break;
        }
      }
    }
  }
  std::sort(includers.begin(), includers.end());
  EXPECT_EQ(includers, (std::vector<std::string>{"net/tls.cc", "segment/base/crypto.cc"}));
}

}  // namespace

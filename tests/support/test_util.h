#pragma once

// Helpers shared by the tests: temporary directories, batch construction, seeded randomness.

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "segment/base/clock.h"
#include "segment/base/codec.h"
#include "segment/base/result.h"
#include "segment/io/posix_fs.h"

namespace sluice::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A Kafka RecordBatch v2 of `count` records "<prefix>-<i>" (keys "k<i>"), timestamps
// base_ts + i, built with `codec`.
std::string MakeBatch(int count, const std::string& prefix = "value", int64_t base_ts = 1000,
                      base::Codec codec = base::Codec::kNone);

// The values of every record of `batch`, in order.
std::vector<std::string> BatchValues(const std::string& batch);

// A random engine seeded from --gtest_random_seed (printed by gtest on failure), mixed with `salt`.
std::mt19937_64 SeededRng(uint64_t salt = 0);

// Options of an engine for a test: on `dir`, without background threads (the test calls Flush,
// FlushDue and EnforceRetention itself), on `fs` and `clock` when given.
engine::EngineOptions TestEngineOptions(const std::string& dir, io::FileSystem* fs = nullptr,
                                        const base::Clock* clock = nullptr);
// Opens an engine; on an error fails the test and returns null.
std::unique_ptr<engine::Engine> OpenTestEngine(const engine::EngineOptions& options);

// A fixture with an engine on a fresh temporary data directory: real files, a manual clock, no
// background threads. Reopen() closes the engine cleanly (by destroying it) and opens it again.
class EngineTestBase : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    engine_.reset();
    engine_ = OpenTestEngine(TestEngineOptions(dir_.path(), &fs_, &clock_));
    ASSERT_NE(engine_, nullptr);
  }

  TempDir dir_;
  io::PosixFs fs_;
  base::ManualClock clock_;
  std::unique_ptr<engine::Engine> engine_;
};

// Every record value (null as "<null>") of a partition from `from` to its high watermark, checking
// that offsets are contiguous.
std::vector<std::string> ReadValues(const engine::Engine& engine, const std::string& topic,
                                    int32_t partition, int64_t from = 0);

// Reads/writes a whole file on the real file system.
std::string ReadWholeFile(const std::string& path);
void WriteWholeFile(const std::string& path, const std::string& contents);

// Whether this build runs under ASan or TSan (whose shadow memory changes what a process's memory
// figures mean).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

// This process's memory now, from /proc/self/statm: its virtual size, what is resident, and its
// data (private writable mappings and the stack: what RLIMIT_DATA bounds, with the stack).
struct ProcessMemory {
  uint64_t virtual_bytes = 0;
  uint64_t resident_bytes = 0;
  uint64_t data_bytes = 0;
};
ProcessMemory ProcessMemoryNow();

}  // namespace sluice::testing

// gtest assertions for Status / Result.
#define ASSERT_OK(expr)                                                 \
  do {                                                                  \
    const auto& sluice_r_ = (expr);                                     \
    ASSERT_TRUE(sluice_r_.has_value()) << sluice_r_.error().ToString(); \
  } while (false)
#define EXPECT_OK(expr)                                                 \
  do {                                                                  \
    const auto& sluice_r_ = (expr);                                     \
    EXPECT_TRUE(sluice_r_.has_value()) << sluice_r_.error().ToString(); \
  } while (false)
// Declares `lhs` from a Result's value, failing the test on an error.
#define ASSERT_OK_AND_ASSIGN(lhs, expr)                            \
  auto SLUICE_CONCAT_(sluice_tmp_, __LINE__) = (expr);             \
  ASSERT_TRUE(SLUICE_CONCAT_(sluice_tmp_, __LINE__).has_value())   \
      << SLUICE_CONCAT_(sluice_tmp_, __LINE__).error().ToString(); \
  lhs = std::move(SLUICE_CONCAT_(sluice_tmp_, __LINE__)).value()

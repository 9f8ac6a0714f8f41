// EngineOptions::on_data: called once per written group after the high watermark advances, with
// the partition's topic and number, with no engine lock held; never for appends that store nothing.

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "engine/engine.h"
#include "segment/io/posix_fs.h"
#include "segment/io/testing/fault_fs.h"
#include "segment/record_batch.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::Offset;
using io::testing::Fault;
using io::testing::FaultFs;
using io::testing::OpKind;
using testing::MakeBatch;

struct Call {
  std::string topic;
  int32_t partition = 0;
  Offset high_watermark;  // as seen from inside the callback
  bool operator==(const Call&) const = default;
};

void PrintTo(const Call& c, std::ostream* os) {
  *os << c.topic << "-" << c.partition << " @" << c.high_watermark.value();
}

class DataListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EngineOptions options = testing::TestEngineOptions(dir_.path(), &fs_, &clock_);
    options.on_data = [this](const std::string& topic, int32_t partition) {
      // Calls back into the engine: WaitForData takes the partition's lock, so this would
      // deadlock if the callback ran under it.
      Offset hw(-1);
      if (engine_ != nullptr) {
        auto r = engine_->WaitForData(topic, partition, Offset(0), 0);
        if (r) hw = *r;
      }
      std::lock_guard lock(mu_);
      calls_.push_back({topic, partition, hw});
    };
    engine_ = testing::OpenTestEngine(options);
    ASSERT_NE(engine_, nullptr);
  }

  std::vector<Call> TakeCalls() {
    std::lock_guard lock(mu_);
    return std::exchange(calls_, {});
  }

  testing::TempDir dir_;
  base::ManualClock clock_;
  io::PosixFs posix_;
  FaultFs fs_{posix_, 7};
  std::mutex mu_;
  std::vector<Call> calls_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(DataListenerTest, FiresForTheWrittenPartitionWithFlushNoneAndSync) {
  ASSERT_OK(engine_->CreateTopic("fast", 2, {{"flush", "none"}}));
  ASSERT_OK(engine_->CreateTopic("safe", 1, {{"flush", "sync"}}));
  EXPECT_TRUE(TakeCalls().empty());

  ASSERT_OK(engine_->Append("fast", 1, base::AsBytes(MakeBatch(3))));
  EXPECT_EQ(TakeCalls(), (std::vector<Call>{{"fast", 1, Offset(3)}}));
  ASSERT_OK(engine_->Append("fast", 1, base::AsBytes(MakeBatch(2))));
  EXPECT_EQ(TakeCalls(), (std::vector<Call>{{"fast", 1, Offset(5)}}));
  ASSERT_OK(engine_->Append("safe", 0, base::AsBytes(MakeBatch(4))));
  EXPECT_EQ(TakeCalls(), (std::vector<Call>{{"safe", 0, Offset(4)}}));
}

TEST_F(DataListenerTest, DoesNotFireForAppendsThatStoreNothing) {
  ASSERT_OK(engine_->CreateTopic("t", 1, {}));
  // Rejected input.
  std::string bad = MakeBatch(2);
  bad.back() = static_cast<char>(bad.back() ^ 1);  // CRC mismatch
  EXPECT_FALSE(engine_->Append("t", 0, base::AsBytes(bad)).has_value());
  // A duplicate of an idempotent batch.
  segment::BatchBuilder builder;
  builder.Add("k", "v", 1000);
  ASSERT_OK_AND_ASSIGN(std::string idem,
                       builder.Build(base::Codec::kNone, 0, segment::ProducerInfo{5, 0, 0}));
  ASSERT_OK(engine_->Append("t", 0, base::AsBytes(idem)));
  EXPECT_EQ(TakeCalls().size(), 1u);
  ASSERT_OK_AND_ASSIGN(AppendResult dup, engine_->Append("t", 0, base::AsBytes(idem)));
  EXPECT_TRUE(dup.duplicate);
  EXPECT_TRUE(TakeCalls().empty());
  // A failed write.
  fs_.Arm(Fault::Nth(OpKind::kWrite, 1).OnPath(".log"));
  auto failed = engine_->Append("t", 0, base::AsBytes(MakeBatch(2)));
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, ErrorCode::kIoError);
  EXPECT_EQ(engine_->Append("t", 0, base::AsBytes(MakeBatch(2))).error().code,
            ErrorCode::kPoisoned);
  EXPECT_TRUE(TakeCalls().empty());
  engine_->SimulateCrashForTesting();
}

TEST_F(DataListenerTest, FiresForEveryGroupWhenManyThreadsAppend) {
  ASSERT_OK(engine_->CreateTopic("t", 1, {{"flush", "sync"}}));
  constexpr int kThreads = 4;
  constexpr int kAppends = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kAppends; ++i) {
        EXPECT_OK(engine_->Append("t", 0, base::AsBytes(MakeBatch(1))));
      }
    });
  }
  for (auto& th : threads) th.join();
  const std::vector<Call> calls = TakeCalls();
  // One call per group: at least one, at most one per append; the last saw the final HW.
  ASSERT_GE(calls.size(), 1u);
  EXPECT_LE(calls.size(), static_cast<size_t>(kThreads * kAppends));
  Offset max_hw(0);
  for (const Call& c : calls) {
    EXPECT_EQ(c.topic, "t");
    EXPECT_EQ(c.partition, 0);
    EXPECT_GT(c.high_watermark, Offset(0));
    max_hw = std::max(max_hw, c.high_watermark);
  }
  EXPECT_EQ(max_hw, Offset(kThreads * kAppends));
}

}  // namespace
}  // namespace sluice::engine

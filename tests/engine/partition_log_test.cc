#include "engine/partition_log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "engine/writer_pool.h"
#include "segment/format.h"
#include "segment/io/posix_fs.h"
#include "segment/io/testing/fault_fs.h"
#include "segment/io/uring_fs.h"
#include "segment/record_batch.h"
#include "tests/support/test_util.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::Offset;
using testing::MakeBatch;

class PartitionLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.compression = CompressionPolicy::kNone;
    Open();
  }

  void Open() {
    log_.reset();
    reports_.clear();
    auto log = PartitionLog::Open(fs_, dir_.Join("t-0"), config_, clock_, &reports_, hooks_,
                                  PartitionOpen::kCreate);
    ASSERT_TRUE(log.has_value()) << log.error().ToString();
    log_ = std::move(log).value();
  }

  Result<AppendResult> Append(const std::string& batch) {
    auto header = segment::ParseBatchHeader(base::AsBytes(batch));
    EXPECT_TRUE(header.has_value());
    return log_->Append(base::AsBytes(batch), *header);
  }

  // Every (offset, value) from `from` to the high watermark, checking contiguity.
  std::vector<std::pair<int64_t, std::string>> ReadFrom(int64_t from) {
    std::vector<std::pair<int64_t, std::string>> out;
    Offset next(from);
    segment::RecordDecoder decoder;
    for (;;) {
      auto r = log_->Read(next, 16 * 1024);
      EXPECT_TRUE(r.has_value()) << r.error().ToString();
      if (!r || r->batches.empty()) break;
      for (const auto& b : r->batches) {
        auto s = segment::ForEachRecord(b.bytes, decoder, [&](const segment::RecordView& rec) {
          if (rec.offset >= next.value()) {
            EXPECT_EQ(rec.offset, next.value());
            out.emplace_back(rec.offset, std::string(rec.value.value_or("")));
            next = Offset(rec.offset + 1);
          }
          return base::Status();
        });
        EXPECT_TRUE(s.has_value()) << s.error().ToString();
      }
    }
    return out;
  }

  testing::TempDir dir_;
  io::UringFs fs_;
  base::ManualClock clock_;
  TopicConfig config_;
  PartitionLogHooks hooks_;
  std::vector<segment::RecoveryReport> reports_;
  std::unique_ptr<PartitionLog> log_;
};

// A writer "thread" the test runs by hand: the log's writer tasks wait here until RunAll, so a
// test decides what is queued when the writer takes its group.
class HeldWriter {
 public:
  PartitionLogHooks Hooks() {
    PartitionLogHooks hooks;
    hooks.run_writer = [this](std::function<void()> task) {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    };
    return hooks;
  }
  size_t held() {
    std::lock_guard lock(mu_);
    return tasks_.size();
  }
  // Runs the held tasks, and those they post, until none is left; returns how many ran.
  int RunAll() {
    int ran = 0;
    for (;;) {
      std::function<void()> task;
      {
        std::lock_guard lock(mu_);
        if (tasks_.empty()) return ran;
        task = std::move(tasks_.front());
        tasks_.erase(tasks_.begin());
      }
      task();
      ++ran;
    }
  }

 private:
  std::mutex mu_;
  std::vector<std::function<void()>> tasks_;
};

// The outcomes of asynchronous appends, in the order their callbacks ran.
struct AsyncResults {
  std::mutex mu;
  std::vector<std::pair<int, Result<AppendResult>>> done;  // (the append's number, its result)

  AppendCallback For(int n) {
    return [this, n](Result<AppendResult> r) {
      std::lock_guard lock(mu);
      done.emplace_back(n, std::move(r));
    };
  }
  size_t size() {
    std::lock_guard lock(mu);
    return done.size();
  }
};

TEST_F(PartitionLogTest, RollsBySize) {
  config_.segment_bytes = 8192;
  Open();
  for (int i = 0; i < 200; ++i) ASSERT_OK(Append(MakeBatch(10, "v" + std::to_string(i))));
  PartitionStats stats = log_->Stats();
  // About 290 bytes a frame: 58 KB over segments of 8 KiB.
  EXPECT_GE(stats.segment_count, 6u);
  EXPECT_EQ(stats.high_watermark, Offset(2000));
  auto all = ReadFrom(0);
  ASSERT_EQ(all.size(), 2000u);
  EXPECT_EQ(all[537].second, "v53-7");
  // Sealed segments are trimmed to their data.
  auto names = fs_.ListDir(dir_.Join("t-0"));
  ASSERT_TRUE(names.has_value());
  int sealed_over = 0;
  for (const auto& n : *names) {
    if (n.size() > 4 && n.substr(n.size() - 4) == ".log" && n != names->back()) {
      auto size = fs_.FileSize(dir_.Join("t-0/" + n));
      if (size.has_value() && *size > 8192) ++sealed_over;
    }
  }
  EXPECT_EQ(sealed_over, 0);
  ASSERT_OK(log_->Close());
  Open();
  EXPECT_EQ(ReadFrom(0), all);
}

// The batches of one AppendBatches call go into one segment: when they do not fit together in
// the active one, the log rolls before the first of them (not between them).
TEST_F(PartitionLogTest, BatchesOfOneCallAreNeverSplitAcrossSegments) {
  config_.segment_bytes = 4096;
  Open();
  const std::string filler = MakeBatch(10, "f");
  const uint64_t frame = filler.size() + segment::format::kFramePrefixSize;
  while (log_->Stats().size_bytes + 2 * frame < 4096) ASSERT_OK(Append(filler));
  ASSERT_EQ(log_->Stats().segment_count, 1u);
  const Offset set_base = log_->high_watermark();
  // One more of these would fit the active segment; three do not.
  std::vector<std::string> owned = {MakeBatch(10, "s0"), MakeBatch(10, "s1"), MakeBatch(10, "s2")};
  std::vector<BatchToAppend> set;
  for (const std::string& b : owned) {
    auto header = segment::ParseBatchHeader(base::AsBytes(b));
    ASSERT_TRUE(header.has_value());
    set.push_back({base::AsBytes(b), *header});
  }
  ASSERT_OK_AND_ASSIGN(AppendResult r, log_->AppendBatches(set));
  EXPECT_EQ(r.base_offset, set_base);
  EXPECT_EQ(r.last_offset, set_base + 29);
  EXPECT_EQ(log_->high_watermark(), set_base + 30);
  EXPECT_EQ(log_->Stats().segment_count, 2u);
  // The first segment holds only records below the set: all of the set is in the second one.
  ASSERT_OK(log_->DeleteSegmentsBefore(set_base));
  EXPECT_EQ(log_->log_start_offset(), set_base);
  auto rest = ReadFrom(set_base.value());
  ASSERT_EQ(rest.size(), 30u);
  EXPECT_EQ(rest.front().second, "s0-0");
  EXPECT_EQ(rest.back().second, "s2-9");
}

TEST_F(PartitionLogTest, RollsByAge) {
  config_.segment_ms = 1000;
  Open();
  ASSERT_OK(Append(MakeBatch(5)));
  clock_.AdvanceMs(500);
  ASSERT_OK(Append(MakeBatch(5)));
  EXPECT_EQ(log_->Stats().segment_count, 1u);
  clock_.AdvanceMs(600);
  ASSERT_OK(Append(MakeBatch(5)));
  EXPECT_EQ(log_->Stats().segment_count, 2u);
  EXPECT_EQ(ReadFrom(0).size(), 15u);
}

TEST_F(PartitionLogTest, RetentionBySizeDeletesOldestSegmentsWhileReadersKeepThem) {
  config_.segment_bytes = 4096;
  config_.retention_bytes = 3 * 4096;
  Open();
  for (int i = 0; i < 60; ++i) ASSERT_OK(Append(MakeBatch(10, "v" + std::to_string(i))));
  auto held = log_->Read(Offset(0), 1 << 20);  // a reader holding the oldest segments
  ASSERT_TRUE(held.has_value());
  ASSERT_FALSE(held->batches.empty());
  const auto before = log_->Stats();
  ASSERT_OK(log_->EnforceRetention(clock_.NowMs()));
  const auto after = log_->Stats();
  EXPECT_LT(after.segment_count, before.segment_count);
  EXPECT_GT(after.log_start_offset, Offset(0));
  EXPECT_LE(after.size_bytes, static_cast<uint64_t>(config_.retention_bytes) + 4096);
  EXPECT_EQ(after.high_watermark, Offset(600));
  // The held views still read the deleted data.
  auto values = testing::BatchValues(std::string(base::AsString(held->batches[0].bytes)));
  EXPECT_EQ(values.front(), "v0-0");
  // New reads start at the new log start; below it is out of range.
  EXPECT_EQ(log_->Read(Offset(0), 100).error().code, ErrorCode::kOutOfRange);
  auto rest = ReadFrom(after.log_start_offset.value());
  EXPECT_EQ(static_cast<int64_t>(rest.size()), 600 - after.log_start_offset.value());
  ASSERT_OK(log_->Close());
  Open();
  EXPECT_EQ(log_->log_start_offset(), after.log_start_offset);
}

TEST_F(PartitionLogTest, RetentionByTimeUsesTheNewestTimestampOfASegment) {
  config_.segment_bytes = 4096;
  config_.retention_ms = 10'000;
  Open();
  const int64_t now = clock_.NowMs();
  for (int i = 0; i < 30; ++i) ASSERT_OK(Append(MakeBatch(10, "old", now - 60'000 + i)));
  for (int i = 0; i < 30; ++i) ASSERT_OK(Append(MakeBatch(10, "new", now + i)));
  ASSERT_OK(log_->EnforceRetention(now));
  auto rest = ReadFrom(log_->log_start_offset().value());
  ASSERT_FALSE(rest.empty());
  // Every fully-old sealed segment went; the one holding the first new records stays.
  EXPECT_GT(log_->log_start_offset(), Offset(0));
  EXPECT_LE(log_->log_start_offset(), Offset(300));
  EXPECT_EQ(rest.back().second, "new-9");
}

TEST_F(PartitionLogTest, ConcurrentAppendersAndReadersSeeAContiguousLog) {
  config_.segment_bytes = 64 * 1024;  // several rolls under load
  Open();
  constexpr int kWriters = 4;
  constexpr int kBatches = 150;
  std::atomic<bool> stop{false};
  std::atomic<int> reader_errors{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      segment::RecordDecoder decoder;
      while (!stop) {
        Offset hw = log_->high_watermark();
        auto res = log_->Read(Offset(0), 1 << 30);
        if (!res) {
          ++reader_errors;
          continue;
        }
        int64_t expect = 0;
        for (const auto& b : res->batches) {
          if (b.header.base_offset != expect) ++reader_errors;
          if (b.header.base_offset >= res->high_watermark.value()) ++reader_errors;
          expect = b.header.last_offset() + 1;
        }
        if (expect != res->high_watermark.value() || res->high_watermark < hw) ++reader_errors;
      }
    });
  }
  std::vector<std::thread> writers;
  std::vector<std::vector<AppendResult>> results(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kBatches; ++i) {
        auto r = Append(MakeBatch(10, "w" + std::to_string(w) + "." + std::to_string(i)));
        ASSERT_TRUE(r.has_value()) << r.error().ToString();
        results[static_cast<size_t>(w)].push_back(*r);
      }
    });
  }
  for (auto& t : writers) t.join();
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(reader_errors.load(), 0);
  EXPECT_EQ(log_->high_watermark(), Offset(kWriters * kBatches * 10));
  // Every writer's batches landed in its own order, each exactly once, at the offsets it was told.
  auto all = ReadFrom(0);
  ASSERT_EQ(all.size(), static_cast<size_t>(kWriters * kBatches * 10));
  for (int w = 0; w < kWriters; ++w) {
    int64_t prev = -1;
    for (int i = 0; i < kBatches; ++i) {
      const AppendResult& r = results[static_cast<size_t>(w)][static_cast<size_t>(i)];
      EXPECT_GT(r.base_offset.value(), prev);
      prev = r.base_offset.value();
      EXPECT_EQ(all[static_cast<size_t>(r.base_offset.value())].second,
                "w" + std::to_string(w) + "." + std::to_string(i) + "-0");
    }
  }
}

TEST_F(PartitionLogTest, SyncAppendsFromManyThreadsShareFsyncs) {
  config_.flush = FlushMode::kSync;
  Open();
  std::vector<std::thread> writers;
  for (int w = 0; w < 8; ++w) {
    writers.emplace_back([&] {
      for (int i = 0; i < 25; ++i) ASSERT_OK(Append(MakeBatch(2)));
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(log_->high_watermark(), Offset(400));
  EXPECT_EQ(ReadFrom(0).size(), 400u);
}

TEST_F(PartitionLogTest, AsyncAppendsQueuedTogetherShareOneWriteAndOneFsync) {
  config_.flush = FlushMode::kSync;
  HeldWriter writer;
  hooks_ = writer.Hooks();
  Open();
  std::vector<std::string> batches;
  for (int i = 0; i < 50; ++i) batches.push_back(MakeBatch(3, "a" + std::to_string(i)));
  AsyncResults results;
  for (int i = 0; i < 50; ++i) {
    const std::string& b = batches[static_cast<size_t>(i)];
    auto header = segment::ParseBatchHeader(base::AsBytes(b));
    ASSERT_TRUE(header.has_value());
    const BatchToAppend one[] = {{base::AsBytes(b), *header}};
    log_->AppendBatchesAsync(one, results.For(i));
  }
  // Queued with their offsets, none written: the first one handed the writer role to a writer
  // task, and the rest joined its queue.
  EXPECT_EQ(results.size(), 0u);
  EXPECT_EQ(log_->high_watermark(), Offset(0));
  EXPECT_EQ(writer.held(), 1u);
  EXPECT_EQ(writer.RunAll(), 1);  // one round took all 50: one gathered write, one fdatasync
  ASSERT_EQ(results.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    const auto& [n, r] = results.done[static_cast<size_t>(i)];
    EXPECT_EQ(n, i);  // told in queue order
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(r->base_offset, Offset(3 * i));
    EXPECT_EQ(r->last_offset, Offset(3 * i + 2));
  }
  EXPECT_EQ(log_->high_watermark(), Offset(150));
  auto all = ReadFrom(0);
  ASSERT_EQ(all.size(), 150u);
  EXPECT_EQ(all[3 * 49].second, "a49-0");
}

TEST_F(PartitionLogTest, ABlockedAppendBehindQueuedAsyncOnesIsWrittenWithThem) {
  HeldWriter writer;
  hooks_ = writer.Hooks();
  Open();
  const std::string first = MakeBatch(2, "async");
  auto header = segment::ParseBatchHeader(base::AsBytes(first));
  ASSERT_TRUE(header.has_value());
  const BatchToAppend one[] = {{base::AsBytes(first), *header}};
  AsyncResults results;
  log_->AppendBatchesAsync(one, results.For(0));
  ASSERT_EQ(writer.held(), 1u);
  // A blocking appender queues behind it and waits: the writer role is the task's.
  std::optional<Result<AppendResult>> blocked;
  std::thread t([&] { blocked = Append(MakeBatch(2, "blocking")); });
  // Once the blocked append is queued (its offsets assigned), the writer runs: one round, one
  // group of both.
  while (log_->QueuedAppendsForTesting() < 2) std::this_thread::yield();
  EXPECT_EQ(writer.held(), 1u);
  EXPECT_EQ(writer.RunAll(), 1);
  t.join();
  ASSERT_EQ(results.size(), 1u);
  ASSERT_TRUE(results.done[0].second.has_value());
  EXPECT_EQ(results.done[0].second->base_offset, Offset(0));
  ASSERT_TRUE(blocked.has_value());
  ASSERT_TRUE(blocked->has_value()) << blocked->error().ToString();
  EXPECT_EQ((*blocked)->base_offset, Offset(2));
  EXPECT_EQ(log_->high_watermark(), Offset(4));
}

TEST_F(PartitionLogTest, WithoutWriterThreadsAnAsyncAppendIsWrittenBeforeItReturns) {
  const std::string b = MakeBatch(4);
  auto header = segment::ParseBatchHeader(base::AsBytes(b));
  ASSERT_TRUE(header.has_value());
  const BatchToAppend one[] = {{base::AsBytes(b), *header}};
  AsyncResults results;
  log_->AppendBatchesAsync(one, results.For(0));
  ASSERT_EQ(results.size(), 1u);
  ASSERT_TRUE(results.done[0].second.has_value());
  EXPECT_EQ(log_->high_watermark(), Offset(4));
}

TEST_F(PartitionLogTest, AsyncAppendsFromManyThreadsOnWriterThreadsAreAllToldOnce) {
  config_.flush = FlushMode::kSync;
  config_.segment_bytes = 64 * 1024;  // rolls while appends are in flight
  WriterPool pool(3);
  hooks_.run_writer = [&pool](std::function<void()> task) { pool.Post(std::move(task)); };
  Open();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100;
  std::vector<std::string> batches;
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    batches.push_back(MakeBatch(2, "m" + std::to_string(i)));
  }
  AsyncResults results;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t * kPerThread; i < (t + 1) * kPerThread; ++i) {
        const std::string& b = batches[static_cast<size_t>(i)];
        auto header = segment::ParseBatchHeader(base::AsBytes(b));
        const BatchToAppend one[] = {{base::AsBytes(b), *header}};
        log_->AppendBatchesAsync(one, results.For(i));
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_OK(log_->Close());  // waits for the writer role to go idle: everything is told
  ASSERT_EQ(results.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<int> seen;
  std::map<int64_t, int> by_offset;
  for (const auto& [n, r] : results.done) {
    EXPECT_TRUE(seen.insert(n).second) << "told twice: " << n;
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    by_offset[r->base_offset.value()] = n;
  }
  // The offsets are exactly 0, 2, 4, ...: no gap, no overlap; each thread's appends in its order.
  ASSERT_EQ(by_offset.size(), static_cast<size_t>(kThreads * kPerThread));
  int64_t expect = 0;
  std::map<int, int> last_of_thread;
  for (const auto& [offset, n] : by_offset) {
    EXPECT_EQ(offset, expect);
    expect += 2;
    const int t = n / kPerThread;
    if (last_of_thread.contains(t)) {
      EXPECT_LT(last_of_thread[t], n);
    }
    last_of_thread[t] = n;
  }
  pool.Stop();
  Open();  // a clean reopen finds every acknowledged record
  EXPECT_EQ(log_->high_watermark(), Offset(2 * kThreads * kPerThread));
}

TEST_F(PartitionLogTest, AFailedFsyncFailsTheAsyncAppendsItCoveredAndNoneBefore) {
  config_.flush = FlushMode::kSync;
  io::testing::FaultFs faulty(fs_);
  HeldWriter writer;
  std::vector<segment::RecoveryReport> reports;
  auto opened = PartitionLog::Open(faulty, dir_.Join("f-0"), config_, clock_, &reports,
                                   writer.Hooks(), PartitionOpen::kCreate);
  ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
  std::unique_ptr<PartitionLog> log = std::move(opened).value();
  std::vector<std::string> batches;
  for (int i = 0; i < 8; ++i) batches.push_back(MakeBatch(2, "f" + std::to_string(i)));
  AsyncResults results;
  auto append = [&](int i) {
    const std::string& b = batches[static_cast<size_t>(i)];
    auto header = segment::ParseBatchHeader(base::AsBytes(b));
    const BatchToAppend one[] = {{base::AsBytes(b), *header}};
    log->AppendBatchesAsync(one, results.For(i));
  };
  append(0);
  append(1);
  writer.RunAll();  // the first group: synced, acknowledged
  faulty.Arm(io::testing::Fault::Nth(io::testing::OpKind::kSync, 1).OnPath(".log"));
  for (int i = 2; i < 6; ++i) append(i);
  EXPECT_EQ(writer.RunAll(), 1);  // the second group: its fdatasync fails
  append(6);                      // refused at once: the log is poisoned
  ASSERT_EQ(results.size(), 7u);
  for (const auto& [n, r] : results.done) {
    if (n < 2) {
      EXPECT_TRUE(r.has_value()) << n;
    } else if (n < 6) {
      ASSERT_FALSE(r.has_value()) << n;
      EXPECT_EQ(r.error().code, ErrorCode::kIoError) << n;
    } else {
      ASSERT_FALSE(r.has_value()) << n;
      EXPECT_EQ(r.error().code, ErrorCode::kPoisoned) << n;
    }
  }
  EXPECT_EQ(log->high_watermark(), Offset(4));  // only the acknowledged group
  EXPECT_FALSE(log->Close().has_value());       // poisoned: not a clean close
}

TEST_F(PartitionLogTest, UncleanReopenRecoversEverythingWritten) {
  for (int i = 0; i < 50; ++i) ASSERT_OK(Append(MakeBatch(10)));
  log_->AbandonForTesting();
  Open();
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_FALSE(reports_[0].truncated);
  EXPECT_EQ(log_->high_watermark(), Offset(500));
  EXPECT_EQ(ReadFrom(0).size(), 500u);
  ASSERT_OK(Append(MakeBatch(10)));
  EXPECT_EQ(log_->high_watermark(), Offset(510));
}

TEST_F(PartitionLogTest, RecoveryWorkIsBoundedByTheUnflushedTail) {
  config_.segment_bytes = 64 << 20;
  Open();
  for (int i = 0; i < 2000; ++i) ASSERT_OK(Append(MakeBatch(50)));
  ASSERT_OK(log_->Flush());
  const uint64_t flushed_size = log_->Stats().size_bytes;
  for (int i = 0; i < 10; ++i) ASSERT_OK(Append(MakeBatch(50)));
  const uint64_t tail_bytes = log_->Stats().size_bytes - flushed_size;
  log_->AbandonForTesting();
  Open();
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_EQ(reports_[0].scanned_bytes, tail_bytes);
  EXPECT_EQ(reports_[0].scanned_from.value(), flushed_size);
  EXPECT_EQ(log_->high_watermark(), Offset(2010 * 50));
}

TEST_F(PartitionLogTest, TornTailIsTruncatedAndReported) {
  for (int i = 0; i < 20; ++i) ASSERT_OK(Append(MakeBatch(10)));
  ASSERT_OK(log_->Flush());
  const uint64_t good_end = log_->Stats().size_bytes;
  ASSERT_OK(Append(MakeBatch(10, "torn")));
  log_->AbandonForTesting();
  log_.reset();
  // Tear the last frame: clobber its second half.
  const std::string path = dir_.Join("t-0/00000000000000000000.log");
  std::string data = testing::ReadWholeFile(path);
  const uint64_t frame_size = data.size();  // preallocated; find the frame from good_end
  ASSERT_GT(frame_size, good_end + 100);
  for (uint64_t i = good_end + 60; i < good_end + 100; ++i) data[i] = '\x5a';
  testing::WriteWholeFile(path, data);
  Open();
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_TRUE(reports_[0].truncated);
  EXPECT_EQ(reports_[0].truncated_at.value(), good_end);
  EXPECT_EQ(reports_[0].first_lost_offset, Offset(200));
  EXPECT_GT(reports_[0].dropped_bytes, 0u);
  EXPECT_EQ(log_->high_watermark(), Offset(200));
  ASSERT_OK(Append(MakeBatch(3, "after")));
  auto all = ReadFrom(0);
  ASSERT_EQ(all.size(), 203u);
  EXPECT_EQ(all.back().second, "after-2");
}

TEST_F(PartitionLogTest, FlushIsDueAfterFlushMsOrFlushBytes) {
  config_.flush_ms = 1000;
  config_.flush_bytes = 20'000;
  Open();
  EXPECT_FALSE(log_->FlushDue(clock_.NowMs()));  // nothing written
  ASSERT_OK(Append(MakeBatch(5)));
  EXPECT_FALSE(log_->FlushDue(clock_.NowMs()));
  clock_.AdvanceMs(999);
  EXPECT_FALSE(log_->FlushDue(clock_.NowMs()));
  clock_.AdvanceMs(1);
  EXPECT_TRUE(log_->FlushDue(clock_.NowMs()));  // flush.ms
  ASSERT_OK(log_->Flush());
  EXPECT_FALSE(log_->FlushDue(clock_.NowMs()));
  const uint64_t flushed = log_->Stats().size_bytes;
  while (log_->Stats().size_bytes - flushed < 20'000) {
    EXPECT_FALSE(log_->FlushDue(clock_.NowMs()));
    ASSERT_OK(Append(MakeBatch(50)));
  }
  EXPECT_TRUE(log_->FlushDue(clock_.NowMs()));  // flush.bytes, with no time passing
  ASSERT_OK(log_->Flush());
  // What a flush covered is not scanned again after a crash: recovery has nothing to report.
  const Offset hw = log_->high_watermark();
  log_->AbandonForTesting();
  Open();
  EXPECT_TRUE(reports_.empty());
  EXPECT_EQ(log_->high_watermark(), hw);
}

TEST_F(PartitionLogTest, DiskSpaceIsReservedInStepsNotWholeSegments) {
  config_.segment_bytes = 1ll << 30;
  Open();
  ASSERT_OK(Append(MakeBatch(10)));
  auto size = fs_.FileSize(dir_.Join("t-0/00000000000000000000.log"));
  ASSERT_TRUE(size.has_value());
  EXPECT_LE(*size, (64u << 20) + 4096);  // one preallocation step past the data, not 1 GiB
  EXPECT_GT(*size, log_->Stats().size_bytes);
}

TEST_F(PartitionLogTest, ADamagedRecoveryPointMeansVerifyingTheWholeSegment) {
  for (int i = 0; i < 20; ++i) ASSERT_OK(Append(MakeBatch(10)));
  ASSERT_OK(log_->Flush());
  ASSERT_OK(Append(MakeBatch(10)));
  log_->AbandonForTesting();
  log_.reset();
  for (const std::string& garbage :
       {std::string(), std::string("SLUICERP"), std::string(56, '\xff')}) {
    testing::WriteWholeFile(dir_.Join("t-0/recovery-point"), garbage);
    std::remove(dir_.Join("t-0/00000000000000000000.index").c_str());
    Open();
    ASSERT_EQ(reports_.size(), 1u);
    EXPECT_EQ(reports_[0].scanned_from.value(), 32u);  // from the first frame
    EXPECT_FALSE(reports_[0].truncated);
    EXPECT_EQ(log_->high_watermark(), Offset(210));
    log_->AbandonForTesting();
    log_.reset();
  }
  // The open that verified the segment wrote a good recovery point; with it the next open loses
  // nothing either (it scans again only to rebuild the index removed above).
  Open();
  for (const auto& report : reports_) EXPECT_FALSE(report.truncated) << report.reason;
  EXPECT_EQ(log_->high_watermark(), Offset(210));
  EXPECT_EQ(ReadFrom(0).size(), 210u);
}

TEST_F(PartitionLogTest, ClosedLogRefusesAppends) {
  ASSERT_OK(log_->Close());
  auto r = Append(MakeBatch(1));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kClosed);
}

TEST_F(PartitionLogTest, WaitForDataWakesOnAppend) {
  // The waiter is blocked before the append (it counts itself while holding the log's lock and
  // releases it only by blocking), so only the append's wake-up can end its wait before the
  // timeout, which is far longer than the test allows.
  constexpr int64_t kTimeoutMs = 300'000;
  Offset woke_at;
  std::chrono::steady_clock::duration waited{};
  std::thread waiter([&] {
    const auto start = std::chrono::steady_clock::now();
    woke_at = log_->WaitForData(Offset(0), kTimeoutMs);
    waited = std::chrono::steady_clock::now() - start;
  });
  while (log_->WaitingReadersForTesting() == 0) std::this_thread::yield();
  ASSERT_OK(Append(MakeBatch(4)));
  waiter.join();
  EXPECT_EQ(woke_at, Offset(4));
  EXPECT_LT(waited, std::chrono::milliseconds(kTimeoutMs / 10));
  EXPECT_EQ(log_->WaitingReadersForTesting(), 0);
}

TEST_F(PartitionLogTest, WaitForDataReturnsTheHighWatermarkAtItsTimeout) {
  ASSERT_OK(Append(MakeBatch(4)));
  EXPECT_EQ(log_->WaitForData(Offset(0), 600'000), Offset(4));  // data already there: no wait
  EXPECT_EQ(log_->WaitForData(Offset(4), 0), Offset(4));        // nothing new: the timeout
}

}  // namespace
}  // namespace sluice::engine

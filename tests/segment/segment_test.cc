#include "segment/segment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "segment/base/checksum.h"
#include "segment/base/log.h"
#include "segment/format.h"
#include "segment/io/posix_fs.h"
#include "segment/io/uring_fs.h"
#include "tests/segment/segment_test_helpers.h"
#include "tests/support/test_util.h"

namespace sluice::segment {
namespace {

using base::ErrorCode;
using testing::FramePrefixFor;
using testing::IsError;
using testing::MakeBatch;
using testing::MutableData;
using testing::ReadWholeFile;

constexpr uint64_t kHeader = format::kSegmentHeaderSize;
constexpr int64_t kBase = 1000;
constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;

// A frame a test appended: where it went and what it holds.
struct Written {
  FilePos pos;
  FrameMeta meta;
  std::string batch;  // as written, base offset set
};

// --- editing files behind the segment's back (in place: a live mapping stays valid) ------------

std::string ReadFileRange(const std::string& path, uint64_t pos, size_t len) {
  std::ifstream f(path, std::ios::binary);
  f.seekg(static_cast<std::streamoff>(pos));
  std::string out(len, '\0');
  f.read(out.data(), static_cast<std::streamsize>(len));
  EXPECT_TRUE(f.good()) << path << " at " << pos;
  return out;
}

void PatchFile(const std::string& path, uint64_t pos, const std::string& bytes) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.is_open()) << path;
  f.seekp(static_cast<std::streamoff>(pos));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(f.good()) << path;
}

void FlipFileByte(const std::string& path, uint64_t pos, uint8_t mask = 0x01) {
  std::string byte = ReadFileRange(path, pos, 1);
  testing::FlipByte(byte, 0, mask);
  PatchFile(path, pos, byte);
}

// Rewrites the segment header's version and flags with a valid header checksum.
void RewriteHeader(const std::string& path, uint16_t version, uint16_t flags) {
  std::string h = ReadFileRange(path, 0, kHeader);
  base::StoreLE<uint16_t>(MutableData(h) + 8, version);
  base::StoreLE<uint16_t>(MutableData(h) + 10, flags);
  base::StoreLE<uint64_t>(MutableData(h) + 24, base::Xxh3(base::AsBytes(h).first(24)));
  PatchFile(path, 0, h);
}

bool AllZero(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '\0'; });
}

// ================================================================================================

class SegmentTest : public ::testing::Test {
 protected:
  SegmentTest() : fs_(std::make_unique<io::PosixFs>()) {}

  void SetUp() override {
    base::SetLogSink([this](base::LogLevel, std::string_view m) { log_.emplace_back(m); });
  }
  void TearDown() override { base::SetLogSink(nullptr); }

  static SegmentOptions Options(uint32_t index_interval_bytes = 4096,
                                uint64_t capacity_bytes = 4 * kMiB) {
    SegmentOptions o;
    o.capacity_bytes = capacity_bytes;
    o.index_interval_bytes = index_interval_bytes;
    return o;
  }

  io::FileSystem& fs() { return *fs_; }
  const std::string& dir() const { return tmp_.path(); }
  std::string log_path() const { return Segment::LogPath(dir(), Offset(kBase)); }
  std::string index_path() const { return Segment::IndexPath(dir(), Offset(kBase)); }

  Result<std::unique_ptr<Segment>> Create(const SegmentOptions& o = Options()) {
    return Segment::Create(fs(), dir(), Offset(kBase), o);
  }
  Result<std::unique_ptr<Segment>> OpenSealed(const SegmentOptions& o = Options()) {
    return Segment::OpenSealed(fs(), dir(), Offset(kBase), o);
  }
  Result<std::unique_ptr<Segment>> OpenActive(RecoveryReport* report,
                                              std::optional<SegmentTail> durable = std::nullopt,
                                              const SegmentOptions& o = Options()) {
    return Segment::OpenActive(fs(), dir(), Offset(kBase), o, durable, report);
  }

  // Appends `batch` as a log does: base offset set to the segment's next offset, prefix with the
  // frame checksum, one gathered write. Records the frame in `model`.
  Status AppendBatch(Segment& seg, std::string batch, std::vector<Written>* model = nullptr) {
    if (model == nullptr) model = &written_;
    const SegmentTail t = seg.tail();
    SetBaseOffset({MutableData(batch), batch.size()}, t.next_offset);
    ASSIGN_OR_RETURN(BatchHeader h, ParseBatchHeader(base::AsBytes(batch)));
    const std::string prefix = FramePrefixFor(batch);
    const FrameMeta meta{t.next_offset, Offset(h.last_offset()), h.max_timestamp,
                         prefix.size() + batch.size()};
    const Bytes pieces[] = {base::AsBytes(prefix), base::AsBytes(batch)};
    RETURN_IF_ERROR(seg.Append(pieces, {&meta, 1}));
    model->push_back({t.end, meta, std::move(batch)});
    return {};
  }

  // Appends `n` batches of 1-4 records, the k-th batch of the test with timestamps from
  // 1000 + 10k, and returns their metadata.
  std::vector<FrameMeta> AppendBatches(Segment& seg, int n, Codec codec = Codec::kNone) {
    std::vector<FrameMeta> metas;
    for (int i = 0; i < n; ++i) {
      const int k = static_cast<int>(written_.size());
      Status s =
          AppendBatch(seg, MakeBatch(1 + k % 4, "batch" + std::to_string(k), 1000 + 10 * k, codec));
      if (!s) {
        ADD_FAILURE() << s.error().ToString();
        break;
      }
      metas.push_back(written_.back().meta);
    }
    return metas;
  }

  SegmentTail ExpectedTail() const {
    SegmentTail t{FilePos(kHeader), Offset(kBase), -1};
    for (const Written& w : written_) {
      t.end = w.pos + w.meta.size_bytes;
      t.next_offset = w.meta.last_offset + 1;
      t.max_timestamp = std::max(t.max_timestamp, w.meta.max_timestamp);
    }
    return t;
  }

  // Checks that `seg` holds exactly the frames of written_: tail, every frame by position, every
  // offset, and nothing past the end.
  void ExpectReadsAll(const Segment& seg) {
    SCOPED_TRACE("reading " + seg.log_path());
    const SegmentTail want = ExpectedTail();
    const SegmentTail got = seg.tail();
    EXPECT_EQ(got.end, want.end);
    EXPECT_EQ(got.next_offset, want.next_offset);
    EXPECT_EQ(got.max_timestamp, want.max_timestamp);
    EXPECT_EQ(seg.size_bytes(), want.end.value());
    for (const Written& w : written_) {
      ASSERT_OK_AND_ASSIGN(std::optional<Frame> frame, seg.FrameAt(w.pos));
      ASSERT_TRUE(frame.has_value()) << "no frame at " << w.pos.value();
      EXPECT_TRUE(base::AsString(frame->batch) == w.batch) << "frame at " << w.pos.value();
      for (Offset o = w.meta.base_offset; o <= w.meta.last_offset; o += 1) {
        ASSERT_OK_AND_ASSIGN(std::optional<Frame> found, seg.FindByOffset(o));
        ASSERT_TRUE(found.has_value()) << "offset " << o.value();
        EXPECT_EQ(found->pos, w.pos) << "offset " << o.value();
      }
    }
    ASSERT_OK_AND_ASSIGN(std::optional<Frame> past, seg.FindByOffset(want.next_offset));
    EXPECT_FALSE(past.has_value());
    ASSERT_OK_AND_ASSIGN(std::optional<Frame> at_end, seg.FrameAt(want.end));
    EXPECT_FALSE(at_end.has_value());
  }

  bool LogMentions(std::string_view fragment) const {
    return std::any_of(log_.begin(), log_.end(),
                       [&](const std::string& m) { return m.find(fragment) != std::string::npos; });
  }

  // Writes a sealed segment of `n` batches, its index in place. Leaves written_ describing it.
  void WriteSealedSegment(int n, const SegmentOptions& o = Options(200)) {
    ASSERT_OK_AND_ASSIGN(auto seg, Create(o));
    AppendBatches(*seg, n);
    ASSERT_OK(seg->Seal());
  }

  std::unique_ptr<io::FileSystem> fs_;
  testing::TempDir tmp_;
  std::vector<Written> written_;  // what the segment under test holds, in order
  std::vector<std::string> log_;  // warnings and infos logged during the test
};

// --- names, create, append, find -----------------------------------------------------------------

TEST_F(SegmentTest, NamesFilesAfterTheBaseOffset) {
  EXPECT_EQ(Segment::LogPath("/d", Offset(1234)), "/d/00000000000000001234.log");
  EXPECT_EQ(Segment::IndexPath("/d/", Offset(0)), "/d/00000000000000000000.index");
  EXPECT_EQ(Segment::LogPath("d", Offset(INT64_MAX)), "d/09223372036854775807.log");
  EXPECT_EQ(Segment::ParseLogName("00000000000000001234.log"), Offset(1234));
  EXPECT_EQ(Segment::ParseLogName("09223372036854775807.log"), Offset(INT64_MAX));
  // The two are inverse for every base offset, the largest included.
  for (int64_t base :
       {int64_t{0}, int64_t{1}, int64_t{99999}, INT64_MAX - 10, INT64_MAX - 1, INT64_MAX}) {
    const std::string name = Segment::LogPath("", Offset(base));
    EXPECT_EQ(Segment::ParseLogName(name), Offset(base)) << name;
  }
  for (const char* bad :
       {"", "1234.log", "0000000000000000123.log", "000000000000000001234.log",
        "00000000000000001234.index", "0000000000000000123x.log", "-0000000000000001234.log",
        "00000000000000001234.lo", "99999999999999999999.log", "09223372036854775808.log"}) {
    EXPECT_FALSE(Segment::ParseLogName(bad).has_value()) << bad;
  }
}

TEST_F(SegmentTest, CreateWritesAnEmptySegment) {
  ASSERT_OK_AND_ASSIGN(auto seg, Create(Options(4096, 64 * kKiB)));
  EXPECT_EQ(seg->base_offset(), Offset(kBase));
  EXPECT_EQ(seg->log_path(), log_path());
  EXPECT_FALSE(seg->sealed());
  EXPECT_EQ(seg->index_entries(), 0u);
  ExpectReadsAll(*seg);
  ASSERT_OK_AND_ASSIGN(auto none, seg->FindByTime(INT64_MIN));
  EXPECT_FALSE(none.has_value());
  // Preallocated, header first.
  ASSERT_OK_AND_ASSIGN(uint64_t size, fs().FileSize(log_path()));
  EXPECT_EQ(size, 64 * kKiB);
  const std::string header = ReadFileRange(log_path(), 0, kHeader);
  EXPECT_EQ(header.substr(0, 8), "SLUICELG");
  const auto* h = reinterpret_cast<const std::byte*>(header.data());
  EXPECT_EQ(base::LoadLE<uint16_t>(h + 8), format::kSegmentCurrentVersion);
  EXPECT_EQ(base::LoadLE<int64_t>(h + 16), kBase);
  ASSERT_OK(seg->CloseAbandoned());
}

TEST_F(SegmentTest, ReservationStartsAtOneMebibyteAndDoublesUpToThePreallocationStep) {
  SegmentOptions o;  // 1 GiB segments, 64 MiB steps
  ASSERT_OK_AND_ASSIGN(auto seg, Create(o));
  ASSERT_OK_AND_ASSIGN(uint64_t size, fs().FileSize(log_path()));
  // A new, quiet partition's whole reservation: the header and a 1 MiB step.
  EXPECT_GE(size, kMiB);
  EXPECT_LE(size, kMiB + 4096);
  // Write 40 MiB in 1 MiB batches: the reservation stays ahead of the data, by no more than
  // what is written (doubling) or 64 MiB, and it grows in few steps.
  std::vector<uint64_t> sizes = {size};
  const std::string value(kMiB - 200, 'v');
  for (int i = 0; i < 40; ++i) {
    ASSERT_OK(AppendBatch(*seg, MakeBatch(1, value)));
    ASSERT_OK_AND_ASSIGN(size, fs().FileSize(log_path()));
    const uint64_t end = seg->tail().end.value();
    EXPECT_GE(size, end);
    EXPECT_LE(size, std::max(2 * end, end + o.preallocate_bytes) + kMiB);
    if (size != sizes.back()) sizes.push_back(size);
  }
  EXPECT_LE(sizes.size(), 8u);  // 1, 2, 4, ... 64 MiB: not a fallocate per batch
  ASSERT_OK(seg->CloseAbandoned());
}

TEST_F(SegmentTest, HasRoomForRespectsCapacityAndOffsetRange) {
  ASSERT_OK_AND_ASSIGN(auto seg, Create(Options(4096, 64 * kKiB)));
  AppendBatches(*seg, 1);
  const uint64_t left = 64 * kKiB - seg->size_bytes();
  EXPECT_TRUE(seg->HasRoomFor(left, Offset(kBase + 5)));
  EXPECT_FALSE(seg->HasRoomFor(left + 1, Offset(kBase + 5)));
  // Index entries hold 32-bit relative offsets.
  EXPECT_TRUE(seg->HasRoomFor(100, Offset(kBase + UINT32_MAX)));
  EXPECT_FALSE(seg->HasRoomFor(100, Offset(kBase + UINT32_MAX + 1)));
  ASSERT_OK(seg->CloseAbandoned());
}

TEST_F(SegmentTest, EmptySegmentAcceptsOneOversizedFrame) {
  const SegmentOptions o = Options(4096, 4 * kKiB);
  {
    ASSERT_OK_AND_ASSIGN(auto seg, Create(o));
    EXPECT_TRUE(seg->HasRoomFor(1 * kMiB, Offset(kBase)));
    BatchBuilder b;
    for (int i = 0; i < 3; ++i)
      b.Add("big", std::string(4000, static_cast<char>('a' + i)), 7000 + i);
    ASSERT_OK_AND_ASSIGN(std::string big, b.Build());
    ASSERT_OK(AppendBatch(*seg, big));
    EXPECT_GT(seg->size_bytes(), o.capacity_bytes);
    EXPECT_FALSE(seg->HasRoomFor(1, Offset(kBase + 3)));
    ExpectReadsAll(*seg);
    ASSERT_OK(seg->CloseAbandoned());
  }
  RecoveryReport report;
  {
    ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&report, std::nullopt, o));
    EXPECT_FALSE(report.truncated);
    ExpectReadsAll(*seg);
    ASSERT_OK(seg->Seal());
  }
  ASSERT_OK_AND_ASSIGN(auto seg, OpenSealed(o));
  ExpectReadsAll(*seg);
}

class SegmentCodecTest : public SegmentTest, public ::testing::WithParamInterface<Codec> {};

TEST_P(SegmentCodecTest, FindByOffsetFindsTheContainingBatch) {
  ASSERT_OK_AND_ASSIGN(auto seg, Create(Options(/*index_interval_bytes=*/300)));
  const std::vector<FrameMeta> metas = AppendBatches(*seg, 40, GetParam());
  ASSERT_EQ(metas.size(), 40u);
  EXPECT_EQ(metas.front().base_offset, Offset(kBase));
  for (size_t i = 1; i < metas.size(); ++i) {
    EXPECT_EQ(metas[i].base_offset, metas[i - 1].last_offset + 1);
  }
  EXPECT_GT(seg->index_entries(), 3u);
  // Inside a batch, at its start and at its last offset; then past the end.
  ExpectReadsAll(*seg);
  // Before the segment's first offset: the first frame is the first one after it.
  ASSERT_OK_AND_ASSIGN(auto before, seg->FindByOffset(Offset(0)));
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(before->pos, FilePos(kHeader));
  ASSERT_OK_AND_ASSIGN(auto far, seg->FindByOffset(Offset(INT64_MAX)));
  EXPECT_FALSE(far.has_value());
  // Records decode from what FindByOffset returns.
  const Written& w = written_[17];
  ASSERT_OK_AND_ASSIGN(auto found, seg->FindByOffset(w.meta.last_offset));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(testing::BatchValues(std::string(base::AsString(found->batch))),
            testing::BatchValues(w.batch));
  ASSERT_OK(seg->CloseAbandoned());
}

TEST_P(SegmentCodecTest, SealedSegmentReadsTheSameAfterReopen) {
  WriteSealedSegment(30, Options(250));
  ASSERT_OK_AND_ASSIGN(auto seg, OpenSealed(Options(250)));
  EXPECT_TRUE(seg->sealed());
  ExpectReadsAll(*seg);
}

std::string CodecParamName(const ::testing::TestParamInfo<Codec>& param) {
  return std::string(base::CodecName(param.param));
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, SegmentCodecTest,
                         ::testing::Values(Codec::kNone, Codec::kGzip, Codec::kSnappy, Codec::kLz4,
                                           Codec::kZstd),
                         CodecParamName);

class SegmentFindByTimeTest : public SegmentTest, public ::testing::WithParamInterface<uint32_t> {};

TEST_P(SegmentFindByTimeTest, FindsTheFirstBatchReachingTheTime) {
  // Batch max timestamps go back and forth, as producers with skewed clocks write them.
  const int64_t base_ts[] = {500, 100, 300, 900, 200, 900, 50, 1000, 700, 650, 1200, 20};
  ASSERT_OK_AND_ASSIGN(auto seg, Create(Options(GetParam())));
  for (int round = 0; round < 3; ++round) {
    for (int64_t ts : base_ts) {
      ASSERT_OK(AppendBatch(*seg, MakeBatch(3, "t", ts + round * 2000)));
    }
  }
  for (int64_t t = -10; t <= 6000; t += 7) {
    SCOPED_TRACE("timestamp " + std::to_string(t));
    std::optional<FilePos> want;
    for (const Written& w : written_) {
      if (w.meta.max_timestamp >= t) {
        want = w.pos;
        break;
      }
    }
    ASSERT_OK_AND_ASSIGN(std::optional<Frame> got, seg->FindByTime(t));
    ASSERT_EQ(got.has_value(), want.has_value());
    if (want) {
      EXPECT_EQ(got->pos, *want);
      EXPECT_GE(got->header.max_timestamp, t);
    }
  }
  ASSERT_OK(seg->CloseAbandoned());
}

std::string IntervalName(const ::testing::TestParamInfo<uint32_t>& param) {
  switch (param.param) {
    case 0:
      return "EveryFrame";
    case 1u << 20:
      return "FirstFrameOnly";
    default:
      return "Every" + std::to_string(param.param) + "Bytes";
  }
}

INSTANTIATE_TEST_SUITE_P(IndexIntervals, SegmentFindByTimeTest,
                         ::testing::Values(0u, 300u, 1u << 20), IntervalName);

TEST_F(SegmentTest, FrameAtReadsFrameBoundariesOnly) {
  ASSERT_OK_AND_ASSIGN(auto seg, Create());
  AppendBatches(*seg, 5);
  const Written& w = written_[2];
  ASSERT_OK_AND_ASSIGN(auto frame, seg->FrameAt(w.pos));
  ASSERT_TRUE(frame.has_value());
  EXPECT_EQ(frame->header.base_offset, w.meta.base_offset.value());
  EXPECT_EQ(frame->end(), written_[3].pos);
  // Inside a frame: whatever is there is not a valid frame.
  EXPECT_TRUE(IsError(seg->FrameAt(w.pos + 1), ErrorCode::kCorruption, log_path()));
  EXPECT_TRUE(IsError(seg->FrameAt(w.pos + 16), ErrorCode::kCorruption));
  // Past the published end.
  EXPECT_TRUE(IsError(seg->FrameAt(ExpectedTail().end + 1), ErrorCode::kCorruption));
  ASSERT_OK(seg->CloseAbandoned());
}

TEST_F(SegmentTest, AppendsSeveralFramesInOneWrite) {
  ASSERT_OK_AND_ASSIGN(auto seg, Create(Options(0)));
  std::vector<std::string> prefixes;
  std::vector<std::string> batches;
  std::vector<FrameMeta> metas;
  FilePos pos(kHeader);
  Offset next(kBase);
  for (int i = 0; i < 4; ++i) {
    std::string batch = MakeBatch(i + 1, "multi" + std::to_string(i), 100 * i);
    SetBaseOffset({MutableData(batch), batch.size()}, next);
    const BatchHeader h = *ParseBatchHeader(base::AsBytes(batch));
    metas.push_back({next, Offset(h.last_offset()), h.max_timestamp, 16 + batch.size()});
    written_.push_back({pos, metas.back(), batch});
    pos += metas.back().size_bytes;
    next = Offset(h.last_offset() + 1);
    prefixes.push_back(FramePrefixFor(batch));
    batches.push_back(std::move(batch));
  }
  std::vector<Bytes> pieces;
  for (size_t i = 0; i < batches.size(); ++i) {
    pieces.push_back(base::AsBytes(prefixes[i]));
    pieces.push_back(base::AsBytes(batches[i]));
  }
  ASSERT_OK(seg->Append(pieces, metas));
  EXPECT_EQ(seg->index_entries(), 4u);
  ExpectReadsAll(*seg);
  ASSERT_OK(seg->CloseAbandoned());
}

TEST_F(SegmentTest, RemoveFilesLeavesTheMappingReadable) {
  WriteSealedSegment(6);
  ASSERT_OK_AND_ASSIGN(auto seg, OpenSealed());
  ASSERT_OK(seg->RemoveFiles());
  ASSERT_OK_AND_ASSIGN(bool log_exists, fs().Exists(log_path()));
  ASSERT_OK_AND_ASSIGN(bool index_exists, fs().Exists(index_path()));
  EXPECT_FALSE(log_exists);
  EXPECT_FALSE(index_exists);
  ExpectReadsAll(*seg);
  // Removing again: nothing left to remove is not an error.
  EXPECT_OK(seg->RemoveFiles());
}

TEST_F(SegmentTest, MissingFilesAreNotFound) {
  RecoveryReport report;
  EXPECT_TRUE(IsError(OpenSealed(), ErrorCode::kNotFound));
  EXPECT_TRUE(IsError(OpenActive(&report), ErrorCode::kNotFound));
}

// --- sealed segments ----------------------------------------------------------------------------

TEST_F(SegmentTest, SealTrimsTheFileAndWritesTheIndex) {
  ASSERT_OK_AND_ASSIGN(auto seg, Create(Options(200)));
  AppendBatches(*seg, 12);
  const size_t entries = seg->index_entries();
  ASSERT_OK(seg->Seal());
  EXPECT_TRUE(seg->sealed());
  ASSERT_OK_AND_ASSIGN(uint64_t size, fs().FileSize(log_path()));
  EXPECT_EQ(size, ExpectedTail().end.value());
  // Readers of the segment are unaffected; Sync of a sealed segment has nothing to do.
  ExpectReadsAll(*seg);
  EXPECT_OK(seg->Sync());
  // The index describes the whole log.
  ASSERT_OK_AND_ASSIGN(std::string image, fs().ReadFile(index_path()));
  ASSERT_OK_AND_ASSIGN(auto decoded, SegmentIndex::Decode(base::AsBytes(image), Offset(kBase), 0));
  EXPECT_EQ(decoded.tail.end.value(), size);
  EXPECT_EQ(decoded.tail.next_offset, ExpectedTail().next_offset);
  EXPECT_EQ(decoded.index->size(), entries);
}

TEST_F(SegmentTest, OpenSealedTrustsAMatchingIndexWithoutScanning) {
  WriteSealedSegment(10);
  const Written& damaged = written_[4];
  // Damage a frame behind the index's back: a scan would refuse to open the segment.
  FlipFileByte(log_path(), damaged.pos.value() + 16 + kBatchHeaderSize + 2);
  ASSERT_OK_AND_ASSIGN(auto seg, OpenSealed());
  EXPECT_TRUE(seg->sealed());
  EXPECT_EQ(seg->tail().end, ExpectedTail().end);
  EXPECT_FALSE(LogMentions("rebuilding"));
  // Reads still verify every frame they return.
  const std::string where = log_path() + " at position " + std::to_string(damaged.pos.value());
  EXPECT_TRUE(IsError(seg->FrameAt(damaged.pos), ErrorCode::kCorruption, where));
  EXPECT_TRUE(IsError(seg->FindByOffset(damaged.meta.base_offset), ErrorCode::kCorruption, where));
  ASSERT_OK_AND_ASSIGN(auto before, seg->FrameAt(written_[3].pos));
  EXPECT_TRUE(before.has_value());
}

enum class IndexDamage {
  kMissing,
  kEmpty,
  kTruncated,
  kHeaderOnly,
  kFlippedByte,
  kStale,       // a valid index of a shorter log (an old checkpoint)
  kOtherBase,   // a valid index of another segment
  kNewVersion,  // written by a newer sluice
};

class SegmentIndexRebuildTest : public SegmentTest,
                                public ::testing::WithParamInterface<IndexDamage> {};

TEST_P(SegmentIndexRebuildTest, OpenSealedRebuildsTheIndexFromTheLog) {
  const SegmentOptions o = Options(200);
  WriteSealedSegment(15, o);
  ASSERT_OK_AND_ASSIGN(const std::string original, fs().ReadFile(index_path()));
  std::string damaged = original;
  switch (GetParam()) {
    case IndexDamage::kMissing:
      ASSERT_OK(fs().Remove(index_path()));
      break;
    case IndexDamage::kEmpty:
      damaged.clear();
      break;
    case IndexDamage::kTruncated:
      damaged.pop_back();
      break;
    case IndexDamage::kHeaderOnly:
      damaged.resize(format::kIndexHeaderSize);
      break;
    case IndexDamage::kFlippedByte:
      testing::FlipByte(damaged, testing::SeededRng()() % damaged.size(), 0x20);
      break;
    case IndexDamage::kStale: {
      ASSERT_OK_AND_ASSIGN(auto d, SegmentIndex::Decode(base::AsBytes(original), Offset(kBase), 0));
      damaged = d.index->Encode({written_[7].pos, written_[7].meta.base_offset, 0});
      break;
    }
    case IndexDamage::kOtherBase: {
      SegmentIndex other(Offset(kBase + 1), 1);
      other.Add({0, static_cast<uint32_t>(kHeader), -1});
      damaged = other.Encode(ExpectedTail());
      break;
    }
    case IndexDamage::kNewVersion:
      base::StoreLE<uint16_t>(MutableData(damaged) + 8, format::kIndexCurrentVersion + 1);
      break;
  }
  if (GetParam() != IndexDamage::kMissing) {
    testing::WriteWholeFile(index_path(), damaged);
  }

  ASSERT_OK_AND_ASSIGN(auto seg, OpenSealed(o));
  EXPECT_TRUE(seg->sealed());
  ExpectReadsAll(*seg);
  if (GetParam() != IndexDamage::kMissing) {
    EXPECT_TRUE(LogMentions("rebuilding"));
  }
  // The rebuilt index is the one the writer made, byte for byte, and the next open trusts it.
  ASSERT_OK_AND_ASSIGN(std::string rebuilt, fs().ReadFile(index_path()));
  EXPECT_TRUE(rebuilt == original);
  log_.clear();
  seg.reset();
  ASSERT_OK_AND_ASSIGN(seg, OpenSealed(o));
  EXPECT_FALSE(LogMentions("rebuilding"));
  ExpectReadsAll(*seg);
}

std::string DamageName(IndexDamage damage) {
  switch (damage) {
    case IndexDamage::kMissing:
      return "Missing";
    case IndexDamage::kEmpty:
      return "Empty";
    case IndexDamage::kTruncated:
      return "Truncated";
    case IndexDamage::kHeaderOnly:
      return "HeaderOnly";
    case IndexDamage::kFlippedByte:
      return "FlippedByte";
    case IndexDamage::kStale:
      return "Stale";
    case IndexDamage::kOtherBase:
      return "OtherBase";
    case IndexDamage::kNewVersion:
      return "NewVersion";
  }
  return "Unknown";
}

void PrintTo(IndexDamage damage, std::ostream* os) { *os << DamageName(damage); }

INSTANTIATE_TEST_SUITE_P(Damages, SegmentIndexRebuildTest,
                         ::testing::Values(IndexDamage::kMissing, IndexDamage::kEmpty,
                                           IndexDamage::kTruncated, IndexDamage::kHeaderOnly,
                                           IndexDamage::kFlippedByte, IndexDamage::kStale,
                                           IndexDamage::kOtherBase, IndexDamage::kNewVersion),
                         [](const auto& param) { return DamageName(param.param); });

TEST_F(SegmentTest, OpenSealedRebuildsForEveryFlippedIndexByte) {
  WriteSealedSegment(8, Options(150));
  ASSERT_OK_AND_ASSIGN(const std::string original, fs().ReadFile(index_path()));
  for (size_t pos = 0; pos < original.size(); ++pos) {
    SCOPED_TRACE("index byte " + std::to_string(pos));
    std::string damaged = original;
    testing::FlipByte(damaged, pos, 0x04);
    testing::WriteWholeFile(index_path(), damaged);
    ASSERT_OK_AND_ASSIGN(auto seg, OpenSealed(Options(150)));
    EXPECT_EQ(seg->tail().end, ExpectedTail().end);
    EXPECT_EQ(seg->tail().next_offset, ExpectedTail().next_offset);
    ASSERT_OK_AND_ASSIGN(std::string rebuilt, fs().ReadFile(index_path()));
    EXPECT_TRUE(rebuilt == original);
  }
  ASSERT_OK_AND_ASSIGN(auto seg, OpenSealed(Options(150)));
  ExpectReadsAll(*seg);
}

TEST_F(SegmentTest, OpenSealedReportsAFlippedLogByteWithFileAndPosition) {
  WriteSealedSegment(6);
  ASSERT_OK(fs().Remove(index_path()));
  const Written& w = written_[3];
  for (uint64_t i = 0; i < w.meta.size_bytes; ++i) {
    SCOPED_TRACE("byte " + std::to_string(i) + " of the frame");
    FlipFileByte(log_path(), w.pos.value() + i, 0x40);
    EXPECT_TRUE(IsError(OpenSealed(), ErrorCode::kCorruption,
                        log_path() + " at position " + std::to_string(w.pos.value())));
    FlipFileByte(log_path(), w.pos.value() + i, 0x40);
  }
  // Nothing was truncated or rewritten: the undamaged log opens.
  ASSERT_OK_AND_ASSIGN(auto seg, OpenSealed());
  ExpectReadsAll(*seg);
}

TEST_F(SegmentTest, OpenSealedReportsAZeroedFrame) {
  WriteSealedSegment(6);
  ASSERT_OK(fs().Remove(index_path()));
  const Written& w = written_[2];
  PatchFile(log_path(), w.pos.value(), std::string(w.meta.size_bytes, '\0'));
  EXPECT_TRUE(IsError(OpenSealed(), ErrorCode::kCorruption,
                      "at position " + std::to_string(w.pos.value()) + ": zeroed space"));
}

TEST_F(SegmentTest, OpenSealedReportsACutLog) {
  WriteSealedSegment(6);
  // The index still claims the full length; it must not be trusted for a shorter log.
  const uint64_t end = ExpectedTail().end.value();
  std::filesystem::resize_file(log_path(), end - 5);
  EXPECT_TRUE(IsError(OpenSealed(), ErrorCode::kCorruption,
                      "at position " + std::to_string(written_.back().pos.value())));
  ASSERT_TRUE(LogMentions("does not describe its log"));
}

TEST_F(SegmentTest, OpenSealedReportsNonContiguousOffsets) {
  WriteSealedSegment(6);
  ASSERT_OK(fs().Remove(index_path()));
  // A frame that is valid on its own but skips an offset.
  const Written& w = written_[3];
  std::string batch = w.batch;
  SetBaseOffset({MutableData(batch), batch.size()}, w.meta.base_offset + 1);
  PatchFile(log_path(), w.pos.value(), FramePrefixFor(batch) + batch);
  EXPECT_TRUE(IsError(OpenSealed(), ErrorCode::kCorruption,
                      "at position " + std::to_string(w.pos.value()) + ": frame has base offset"));
}

TEST_F(SegmentTest, OpenSealedRejectsAFileShorterThanItsHeader) {
  testing::WriteWholeFile(log_path(), "SLUICELG");
  EXPECT_TRUE(IsError(OpenSealed(), ErrorCode::kCorruption, "shorter"));
}

// --- segment header -----------------------------------------------------------------------------

class SegmentHeaderTest : public SegmentTest {
 protected:
  // Both ways of opening report the same error for a bad header.
  void ExpectBothOpensFail(ErrorCode code, const std::string& fragment) {
    EXPECT_TRUE(IsError(OpenSealed(), code, fragment)) << "OpenSealed";
    RecoveryReport report;
    EXPECT_TRUE(IsError(OpenActive(&report), code, fragment)) << "OpenActive";
  }
  void SetUp() override {
    SegmentTest::SetUp();
    WriteSealedSegment(3);
  }
};

TEST_F(SegmentHeaderTest, BadMagicIsCorruption) {
  FlipFileByte(log_path(), 3);
  ExpectBothOpensFail(ErrorCode::kCorruption, "bad magic");
}

TEST_F(SegmentHeaderTest, NewerVersionIsUnsupported) {
  RewriteHeader(log_path(), format::kSegmentCurrentVersion + 1, 0);
  ExpectBothOpensFail(ErrorCode::kUnsupportedVersion, "version 2");
}

TEST_F(SegmentHeaderTest, VersionZeroIsUnsupported) {
  RewriteHeader(log_path(), 0, 0);
  ExpectBothOpensFail(ErrorCode::kUnsupportedVersion, "version 0");
}

TEST_F(SegmentHeaderTest, UnknownFlagsAreANewerFormat) {
  // Bit 0 is `compacted` (the log cleaner's); the others a newer sluice's, never damage to cut.
  RewriteHeader(log_path(), format::kSegmentCurrentVersion, 0x10);
  ExpectBothOpensFail(ErrorCode::kUnsupportedVersion, "does not know");
}

TEST_F(SegmentHeaderTest, BadHeaderChecksumIsCorruption) {
  FlipFileByte(log_path(), 20);  // base offset bytes: covered by the header checksum
  ExpectBothOpensFail(ErrorCode::kCorruption, "checksum");
  FlipFileByte(log_path(), 20);
  FlipFileByte(log_path(), 30);  // the checksum itself
  ExpectBothOpensFail(ErrorCode::kCorruption, "checksum");
}

TEST_F(SegmentHeaderTest, BaseOffsetMustMatchTheFileName) {
  const std::string other_log = Segment::LogPath(dir(), Offset(kBase + 7));
  ASSERT_OK(fs().Rename(log_path(), other_log));
  EXPECT_TRUE(IsError(Segment::OpenSealed(fs(), dir(), Offset(kBase + 7), Options()),
                      ErrorCode::kCorruption, "base offset does not match"));
  RecoveryReport report;
  EXPECT_TRUE(
      IsError(Segment::OpenActive(fs(), dir(), Offset(kBase + 7), Options(), std::nullopt, &report),
              ErrorCode::kCorruption, "base offset does not match"));
}

// --- active segments: clean and unclean reopen ---------------------------------------------------

TEST_F(SegmentTest, OpenActiveAfterCleanCloseNeedsNoScan) {
  const SegmentOptions o = Options(200);
  {
    ASSERT_OK_AND_ASSIGN(auto seg, Create(o));
    AppendBatches(*seg, 10);
    ASSERT_OK(seg->CloseClean());
  }
  ASSERT_OK_AND_ASSIGN(uint64_t trimmed, fs().FileSize(log_path()));
  EXPECT_EQ(trimmed, ExpectedTail().end.value());
  {
    RecoveryReport report;
    // A recovery point, even an old one, does not matter after a clean close.
    ASSERT_OK_AND_ASSIGN(
        auto seg,
        OpenActive(&report, SegmentTail{written_[2].pos, written_[2].meta.base_offset, 0}, o));
    EXPECT_EQ(report.path, log_path());
    EXPECT_EQ(report.scanned_bytes, 0u);
    EXPECT_EQ(report.scanned_from, ExpectedTail().end);
    EXPECT_FALSE(report.truncated);
    EXPECT_FALSE(seg->sealed());
    ExpectReadsAll(*seg);
    // It keeps appending, into re-extended space.
    AppendBatches(*seg, 10);
    ExpectReadsAll(*seg);
    ASSERT_OK(seg->CloseClean());
  }
  RecoveryReport report;
  ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&report, std::nullopt, o));
  EXPECT_EQ(report.scanned_bytes, 0u);
  ExpectReadsAll(*seg);
  ASSERT_OK(seg->Seal());

  // The index equals that of a segment written in one go: reopening resumed the index interval.
  testing::TempDir other;
  std::vector<Written> model;
  ASSERT_OK_AND_ASSIGN(auto reference, Segment::Create(fs(), other.path(), Offset(kBase), o));
  for (const Written& w : written_) ASSERT_OK(AppendBatch(*reference, w.batch, &model));
  ASSERT_OK(reference->Seal());
  ASSERT_OK_AND_ASSIGN(std::string a, fs().ReadFile(index_path()));
  ASSERT_OK_AND_ASSIGN(std::string b,
                       fs().ReadFile(Segment::IndexPath(other.path(), Offset(kBase))));
  EXPECT_TRUE(a == b);
}

TEST_F(SegmentTest, OpenActiveAfterUncleanStopScansEverything) {
  const SegmentOptions o = Options(200);
  size_t entries = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto seg, Create(o));
    AppendBatches(*seg, 20);
    entries = seg->index_entries();
    ASSERT_OK(seg->CloseAbandoned());
  }
  ASSERT_OK_AND_ASSIGN(bool has_index, fs().Exists(index_path()));
  EXPECT_FALSE(has_index);
  RecoveryReport report;
  ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&report, std::nullopt, o));
  EXPECT_EQ(report.scanned_from, FilePos(kHeader));
  EXPECT_EQ(report.scanned_bytes, ExpectedTail().end.value() - kHeader);
  EXPECT_FALSE(report.truncated);
  EXPECT_EQ(seg->index_entries(), entries);
  ExpectReadsAll(*seg);
  AppendBatches(*seg, 3);
  ExpectReadsAll(*seg);
  ASSERT_OK(seg->CloseAbandoned());
}

// Found by the segment_open fuzz target: recovery cut the last frame of a trimmed file and kept its
// length, so a shorter frame appended there ended less than a frame prefix before the end of the
// file, and the next open took those few zero bytes for a torn frame.
TEST_F(SegmentTest, AFrameNeverEndsLessThanAFramePrefixBeforeTheEndOfTheFile) {
  const SegmentOptions o = Options(200);
  {
    ASSERT_OK_AND_ASSIGN(auto seg, Create(o));
    AppendBatches(*seg, 3);
    ASSERT_OK(seg->CloseClean());  // trimmed to the data
  }
  ASSERT_OK(fs().Remove(index_path()));
  const Written cut = written_.back();
  written_.pop_back();
  FlipFileByte(log_path(), cut.pos.value() + format::kFramePrefixSize + 30);
  // A batch whose frame is 5 bytes shorter than the one recovery cuts.
  std::string shorter;
  for (int n = 1; n < 80 && shorter.empty(); ++n) {
    std::string b = MakeBatch(1, std::string(static_cast<size_t>(n), 'x'));
    if (b.size() + 5 == cut.batch.size()) shorter = b;
  }
  ASSERT_FALSE(shorter.empty());
  {
    RecoveryReport report;
    ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&report, std::nullopt, o));
    ASSERT_TRUE(report.truncated);
    ASSERT_EQ(report.truncated_at, cut.pos);
    ASSERT_OK(AppendBatch(*seg, shorter));
    ASSERT_OK(seg->Sync());
    ASSERT_OK(seg->CloseAbandoned());
  }
  RecoveryReport report;
  ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&report, std::nullopt, o));
  EXPECT_FALSE(report.truncated) << report.reason;
  ExpectReadsAll(*seg);
  ASSERT_OK(seg->CloseAbandoned());
}

// Found by the segment_open fuzz target: a zeroed frame prefix ended the scan, but bytes written
// after it stayed, behind the frames appended next, for a later scan to run into.
TEST_F(SegmentTest, OpenActiveZeroesWrittenBytesBehindZeroedSpace) {
  const SegmentOptions o = Options(200);
  {
    ASSERT_OK_AND_ASSIGN(auto seg, Create(o));
    AppendBatches(*seg, 3);
    ASSERT_OK(seg->Sync());
    ASSERT_OK(seg->CloseAbandoned());  // preallocated zeros after the data
  }
  const uint64_t end = ExpectedTail().end.value();
  PatchFile(log_path(), end + 100, "stale");  // a later write that reached the disk first
  {
    RecoveryReport report;
    ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&report, std::nullopt, o));
    EXPECT_TRUE(report.truncated);
    EXPECT_EQ(report.truncated_at.value(), end);
    EXPECT_EQ(report.dropped_bytes, 105u);
    EXPECT_EQ(ReadFileRange(log_path(), end + 100, 5), std::string(5, '\0'));
    AppendBatches(*seg, 3);  // over the stale bytes' place
    ASSERT_OK(seg->Sync());
    ASSERT_OK(seg->CloseAbandoned());
  }
  RecoveryReport report;
  ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&report, std::nullopt, o));
  EXPECT_FALSE(report.truncated) << report.reason;
  ExpectReadsAll(*seg);
  ASSERT_OK(seg->CloseAbandoned());
}

TEST_F(SegmentTest, OpenActiveAfterCleanCloseThenCrashScansOnlyTheNewFrames) {
  const SegmentOptions o = Options(200);
  FilePos clean_end;
  {
    ASSERT_OK_AND_ASSIGN(auto seg, Create(o));
    AppendBatches(*seg, 8);
    ASSERT_OK(seg->CloseClean());
    clean_end = ExpectedTail().end;
    RecoveryReport report;
    ASSERT_OK_AND_ASSIGN(seg, OpenActive(&report, std::nullopt, o));
    AppendBatches(*seg, 8);
    ASSERT_OK(seg->CloseAbandoned());
  }
  // The clean-close index now serves as a checkpoint.
  RecoveryReport report;
  ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&report, std::nullopt, o));
  EXPECT_EQ(report.scanned_from, clean_end);
  EXPECT_EQ(report.scanned_bytes, ExpectedTail().end - clean_end);
  EXPECT_FALSE(report.truncated);
  ExpectReadsAll(*seg);
  ASSERT_OK(seg->CloseAbandoned());
}

TEST_F(SegmentTest, OpenActiveStartsAfreshWithoutADurableHeader) {
  for (const std::string& leftover :
       {std::string(), std::string("SLUICE"), std::string(64 * kKiB, '\0')}) {
    SCOPED_TRACE("leftover of " + std::to_string(leftover.size()) + " bytes");
    written_.clear();
    testing::WriteWholeFile(log_path(), leftover);
    RecoveryReport report;
    ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&report));
    EXPECT_FALSE(report.truncated);
    ExpectReadsAll(*seg);
    AppendBatches(*seg, 3);
    ASSERT_OK(seg->CloseAbandoned());
    seg.reset();
    ASSERT_OK_AND_ASSIGN(seg, OpenActive(&report));
    ExpectReadsAll(*seg);
    ASSERT_OK(seg->CloseAbandoned());
  }
}

// --- recovery of the unverified tail -------------------------------------------------------------

class SegmentRecoveryTest : public SegmentTest {
 protected:
  // 10 frames, a checkpoint (index + recovery point) after the first `durable_frames`, 10 more
  // frames, then a crash.
  void WriteCrashedSegment(int durable_frames = 10) {
    ASSERT_OK_AND_ASSIGN(auto seg, Create(options_));
    AppendBatches(*seg, durable_frames);
    ASSERT_OK(seg->Sync());
    durable_ = seg->tail();
    ASSERT_OK(seg->WriteIndexCheckpoint(durable_));
    AppendBatches(*seg, 10);
    entries_ = seg->index_entries();
    ASSERT_OK(seg->CloseAbandoned());
  }

  const SegmentOptions options_ = Options(200, 1 * kMiB);
  SegmentTail durable_;
  size_t entries_ = 0;
};

TEST_F(SegmentRecoveryTest, RecoveryPointBoundsTheScan) {
  WriteCrashedSegment();
  RecoveryReport report;
  ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&report, durable_, options_));
  EXPECT_EQ(report.scanned_from, durable_.end);
  EXPECT_EQ(report.scanned_bytes, ExpectedTail().end - durable_.end);
  EXPECT_FALSE(report.truncated);
  EXPECT_EQ(seg->index_entries(), entries_);
  ExpectReadsAll(*seg);
  ASSERT_OK(seg->CloseAbandoned());
}

TEST_F(SegmentRecoveryTest, ScanStartsAtTheEarlierOfCheckpointAndRecoveryPoint) {
  WriteCrashedSegment();
  const Written& early = written_[4];
  const SegmentTail earlier{early.pos, early.meta.base_offset, 1000 + 10 * 3 + 3};
  {
    // The recovery point is before the index checkpoint.
    RecoveryReport report;
    ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&report, earlier, options_));
    EXPECT_EQ(report.scanned_from, earlier.end);
    EXPECT_EQ(report.scanned_bytes, ExpectedTail().end - earlier.end);
    EXPECT_EQ(seg->index_entries(), entries_);
    ExpectReadsAll(*seg);
    ASSERT_OK(seg->CloseAbandoned());
  }
  // The recovery point is after the index checkpoint.
  const Written& late = written_[15];
  const SegmentTail later{late.pos, late.meta.base_offset, 0};
  RecoveryReport report;
  ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&report, later, options_));
  EXPECT_EQ(report.scanned_from, durable_.end);
  ExpectReadsAll(*seg);
  ASSERT_OK(seg->CloseAbandoned());
}

TEST_F(SegmentRecoveryTest, WithoutACheckpointTheWholeSegmentIsScanned) {
  WriteCrashedSegment();
  ASSERT_OK(fs().Remove(index_path()));
  RecoveryReport report;
  ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&report, durable_, options_));
  EXPECT_EQ(report.scanned_from, FilePos(kHeader));
  EXPECT_EQ(report.scanned_bytes, ExpectedTail().end.value() - kHeader);
  EXPECT_EQ(seg->index_entries(), entries_);
  ExpectReadsAll(*seg);
  ASSERT_OK(seg->CloseAbandoned());
}

TEST_F(SegmentRecoveryTest, FramesBeforeTheRecoveryPointAreNotRescanned) {
  WriteCrashedSegment();
  const Written& old = written_[3];
  FlipFileByte(log_path(), old.pos.value() + old.meta.size_bytes - 1);
  RecoveryReport report;
  ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&report, durable_, options_));
  EXPECT_FALSE(report.truncated);
  EXPECT_EQ(seg->tail().end, ExpectedTail().end);
  // A read still catches it.
  EXPECT_TRUE(IsError(seg->FrameAt(old.pos), ErrorCode::kCorruption,
                      "at position " + std::to_string(old.pos.value())));
  ASSERT_OK(seg->CloseAbandoned());
}

TEST_F(SegmentRecoveryTest, CorruptionInTheUnverifiedTailTruncatesThere) {
  WriteCrashedSegment();
  const Written bad = written_[13];
  const uint64_t data_end = ExpectedTail().end.value();
  const std::string lost = ReadFileRange(log_path(), bad.pos.value(), data_end - bad.pos.value());
  const uint64_t lost_extent = lost.find_last_not_of('\0') + 1;  // frames may end in zero bytes
  FlipFileByte(log_path(), bad.pos.value() + 16 + kBatchHeaderSize);
  RecoveryReport report;
  {
    ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&report, durable_, options_));
    EXPECT_TRUE(report.truncated);
    EXPECT_EQ(report.scanned_from, durable_.end);
    EXPECT_EQ(report.scanned_bytes, bad.pos - durable_.end);
    EXPECT_EQ(report.truncated_at, bad.pos);
    EXPECT_EQ(report.first_lost_offset, bad.meta.base_offset);
    EXPECT_EQ(report.reason, "frame checksum mismatch");
    // Everything from the bad frame on was dropped, not just the bad frame.
    EXPECT_EQ(report.dropped_bytes, lost_extent);
    written_.resize(13);
    ExpectReadsAll(*seg);
    ASSERT_OK_AND_ASSIGN(auto gone, seg->FindByOffset(bad.meta.base_offset));
    EXPECT_FALSE(gone.has_value());
    // The file reads zero from the cut on, so no stale frame can reappear behind new ones.
    EXPECT_TRUE(AllZero(ReadFileRange(log_path(), bad.pos.value(), data_end - bad.pos.value())));
    ASSERT_OK_AND_ASSIGN(uint64_t size, fs().FileSize(log_path()));
    EXPECT_EQ(size, options_.capacity_bytes);
    // Appending goes on from the cut.
    AppendBatches(*seg, 2);
    EXPECT_EQ(written_[13].pos, bad.pos);
    ASSERT_OK(seg->CloseAbandoned());
  }
  RecoveryReport again;
  ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&again, durable_, options_));
  EXPECT_FALSE(again.truncated);
  ExpectReadsAll(*seg);
  ASSERT_OK(seg->CloseAbandoned());
}

TEST_F(SegmentRecoveryTest, NonContiguousOffsetInTheTailTruncatesThere) {
  WriteCrashedSegment();
  const Written w = written_[15];
  std::string batch = w.batch;
  SetBaseOffset({MutableData(batch), batch.size()}, w.meta.base_offset + 3);
  PatchFile(log_path(), w.pos.value(), FramePrefixFor(batch) + batch);
  RecoveryReport report;
  ASSERT_OK_AND_ASSIGN(auto seg, OpenActive(&report, durable_, options_));
  EXPECT_TRUE(report.truncated);
  EXPECT_EQ(report.truncated_at, w.pos);
  EXPECT_EQ(report.first_lost_offset, w.meta.base_offset);
  EXPECT_NE(report.reason.find("base offset"), std::string::npos) << report.reason;
  written_.resize(15);
  ExpectReadsAll(*seg);
  ASSERT_OK(seg->CloseAbandoned());
}

// --- torn last frame ----------------------------------------------------------------------------

enum class Tear { kZeros, kGarbage };

void PrintTo(Tear tear, std::ostream* os) { *os << (tear == Tear::kZeros ? "zeros" : "garbage"); }

class SegmentTornTailTest : public SegmentTest,
                            public ::testing::WithParamInterface<std::tuple<Tear, Codec>> {
 protected:
  Tear tear() const { return std::get<0>(GetParam()); }
  Codec codec() const { return std::get<1>(GetParam()); }

  // A batch whose frame starts and ends with a non-zero byte (the low byte of its length, the last
  // byte of the batch), so that zeroing any suffix of the frame changes it.
  std::string LastBatch() {
    for (int salt = 0;; ++salt) {
      BatchBuilder b;
      b.Add("last", "the last batch " + std::to_string(salt), 5000);
      const RecordHeader headers[] = {{"trace", "end!"}};
      b.Add("k2", std::string(static_cast<size_t>(40 + salt), 'w'), 5001, headers);
      auto batch = b.Build(codec());
      EXPECT_TRUE(batch.has_value());
      if ((batch->size() & 0xff) != 0 && batch->back() != '\0') return *batch;
    }
  }
};

TEST_P(SegmentTornTailTest, TornLastFrameIsTruncatedAtEveryByte) {
  constexpr int kGood = 5;
  const SegmentOptions o = Options(4096, 64 * kKiB);
  // K good frames and a last one, left behind by a crash.
  {
    ASSERT_OK_AND_ASSIGN(auto seg, Create(o));
    AppendBatches(*seg, kGood, codec());
    ASSERT_OK(AppendBatch(*seg, LastBatch()));
    ASSERT_OK(seg->CloseAbandoned());
  }
  const std::string image = ReadWholeFile(log_path());
  ASSERT_EQ(image.size(), o.capacity_bytes);
  const Written last = written_.back();
  written_.pop_back();
  const std::vector<Written> good = written_;
  const uint64_t pos = last.pos.value();
  const uint64_t size = last.meta.size_bytes;
  ASSERT_NE(image[pos], '\0');
  ASSERT_NE(image[pos + size - 1], '\0');
  const std::string after = MakeBatch(1, "after", 6000, codec());
  ASSERT_LT(after.size() + 16, size) << "the new frame must not cover all the torn bytes";

  auto rng = testing::SeededRng(static_cast<uint64_t>(codec()));
  for (uint64_t len = 0; len < size; ++len) {
    SCOPED_TRACE("torn after " + std::to_string(len) + " of " + std::to_string(size) + " bytes");
    std::string torn = image;
    for (uint64_t i = pos + len; i < pos + size; ++i) {
      torn[i] = tear() == Tear::kZeros ? '\0' : static_cast<char>(rng());
    }
    if (tear() == Tear::kGarbage) {
      // A random byte may equal the one it replaces; the last one must differ.
      char& c = torn[pos + size - 1];
      while (c == image[pos + size - 1] || c == '\0') c = static_cast<char>(rng());
    }
    uint64_t last_nonzero = 0;  // within the frame
    for (uint64_t i = 0; i < size; ++i) {
      if (torn[pos + i] != '\0') last_nonzero = i;
    }
    const std::string sub = tmp_.Join("torn-" + std::to_string(len));
    ASSERT_OK(fs().CreateDir(sub));
    testing::WriteWholeFile(Segment::LogPath(sub, Offset(kBase)), torn);
    written_ = good;

    RecoveryReport report;
    {
      ASSERT_OK_AND_ASSIGN(auto seg,
                           Segment::OpenActive(fs(), sub, Offset(kBase), o, std::nullopt, &report));
      const bool expect_truncated = tear() == Tear::kGarbage || len > 0;
      EXPECT_EQ(report.truncated, expect_truncated);
      EXPECT_EQ(report.scanned_from, FilePos(kHeader));
      EXPECT_EQ(report.scanned_bytes, pos - kHeader);
      if (expect_truncated) {
        EXPECT_EQ(report.truncated_at, last.pos);
        EXPECT_EQ(report.first_lost_offset, last.meta.base_offset);
        EXPECT_FALSE(report.reason.empty());
        // Everything up to the last non-zero byte of the torn frame was dropped.
        EXPECT_EQ(report.dropped_bytes, last_nonzero + 1);
      }
      ExpectReadsAll(*seg);
      ASSERT_OK(AppendBatch(*seg, after));
      ExpectReadsAll(*seg);
      ASSERT_OK(seg->CloseAbandoned());
    }
    // Another crash and reopen: the new frame is there and nothing of the torn one follows it.
    RecoveryReport again;
    ASSERT_OK_AND_ASSIGN(auto seg,
                         Segment::OpenActive(fs(), sub, Offset(kBase), o, std::nullopt, &again));
    EXPECT_FALSE(again.truncated) << again.reason;
    EXPECT_EQ(again.scanned_bytes, ExpectedTail().end.value() - kHeader);
    ExpectReadsAll(*seg);
    ASSERT_OK(seg->CloseAbandoned());
    seg.reset();
    ASSERT_OK(fs().RemoveAll(sub));
  }
}

std::string TornTailName(const ::testing::TestParamInfo<std::tuple<Tear, Codec>>& param) {
  std::string codec(base::CodecName(std::get<1>(param.param)));
  codec[0] = static_cast<char>(std::toupper(codec[0]));
  return (std::get<0>(param.param) == Tear::kZeros ? "Zeros" : "Garbage") + codec;
}

INSTANTIATE_TEST_SUITE_P(Tears, SegmentTornTailTest,
                         ::testing::Combine(::testing::Values(Tear::kZeros, Tear::kGarbage),
                                            ::testing::Values(Codec::kNone, Codec::kZstd)),
                         TornTailName);

// --- every FileSystem implementation ------------------------------------------------------------

template <typename Fs>
class SegmentFileSystemTest : public SegmentTest {
 protected:
  SegmentFileSystemTest() { fs_ = std::make_unique<Fs>(); }
};

using FileSystems = ::testing::Types<io::PosixFs, io::UringFs>;

class FileSystemNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, io::UringFs> ? "UringFs" : "PosixFs";
  }
};

TYPED_TEST_SUITE(SegmentFileSystemTest, FileSystems, FileSystemNames);

TYPED_TEST(SegmentFileSystemTest, WritesRecoversSealsAndReopens) {
  if constexpr (std::is_same_v<TypeParam, io::UringFs>) {
    if (!io::UringFs::Available()) GTEST_SKIP() << "io_uring is not available here";
  }
  const SegmentOptions o = this->Options(300, 1 * kMiB);
  {
    ASSERT_OK_AND_ASSIGN(auto seg, this->Create(o));
    this->AppendBatches(*seg, 20, Codec::kLz4);
    ASSERT_OK(seg->Sync());
    ASSERT_OK(seg->CloseAbandoned());
  }
  {
    RecoveryReport report;
    ASSERT_OK_AND_ASSIGN(auto seg, this->OpenActive(&report, std::nullopt, o));
    EXPECT_FALSE(report.truncated);
    this->ExpectReadsAll(*seg);
    this->AppendBatches(*seg, 20);
    ASSERT_OK(seg->Sync());
    ASSERT_OK(seg->Seal());
  }
  ASSERT_OK_AND_ASSIGN(auto seg, this->OpenSealed(o));
  this->ExpectReadsAll(*seg);
}

}  // namespace
}  // namespace sluice::segment

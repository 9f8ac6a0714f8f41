#include "segment/segment_index.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "segment/base/checksum.h"
#include "segment/format.h"
#include "tests/segment/segment_test_helpers.h"
#include "tests/support/test_util.h"

namespace sluice::segment {

// For gtest: argument-dependent lookup finds these only in IndexEntry's own namespace.
static bool operator==(const IndexEntry& a, const IndexEntry& b) {
  return a.relative_offset == b.relative_offset && a.position == b.position &&
         a.max_timestamp_before == b.max_timestamp_before;
}

static void PrintTo(const IndexEntry& e, std::ostream* os) {
  *os << "{+" << e.relative_offset << " @" << e.position << " ts<" << e.max_timestamp_before << "}";
}

namespace {

using base::ErrorCode;
using base::LoadLE;
using base::StoreLE;
using testing::FlipByte;
using testing::IsError;
using testing::MutableData;

constexpr size_t kHeader = format::kIndexHeaderSize;
constexpr size_t kEntry = format::kIndexEntrySize;
constexpr uint32_t kFirstFrame = format::kSegmentHeaderSize;

// Byte positions inside an index file (FORMAT.md, "Sparse index").
constexpr size_t kVersionAt = 8;
constexpr size_t kFlagsAt = 10;
constexpr size_t kCountAt = 12;
constexpr size_t kBaseAt = 16;
constexpr size_t kCoveredAt = 24;
constexpr size_t kNextOffsetAt = 32;
constexpr size_t kChecksumAt = 48;
size_t EntryAt(size_t i) { return kHeader + i * kEntry; }

class SegmentIndexTest : public ::testing::Test {
 protected:
  static constexpr int64_t kBase = 1000;

  // Entries of a segment at base 1000 whose frames hold 10 records and 500 bytes each, with
  // timestamps that go back and forth (max_timestamp_before only ever grows).
  SegmentIndexTest() : index_(Offset(kBase), 16) {
    entries_ = {{0, kFirstFrame, -1},
                {10, kFirstFrame + 500, 100},
                {20, kFirstFrame + 1000, 100},
                {30, kFirstFrame + 1500, 250},
                {40, kFirstFrame + 2000, 400}};
    for (const IndexEntry& e : entries_) index_.Add(e);
    tail_ = {FilePos(kFirstFrame + 2500), Offset(kBase + 50), 420};
  }

  std::string Encoded() const { return index_.Encode(tail_); }

  // Recomputes the checksum of an index image after an edit, so a check past it can be reached.
  static void Reseal(std::string& file) {
    base::Xxh3Stream h;
    h.Update(base::AsBytes(file).first(48));
    if (file.size() > kHeader) h.Update(base::AsBytes(file).subspan(kHeader));
    StoreLE<uint64_t>(MutableData(file) + kChecksumAt, h.Digest());
  }

  template <typename T>
  static std::string Edited(std::string file, size_t at, T value) {
    StoreLE<T>(MutableData(file) + at, value);
    Reseal(file);
    return file;
  }

  static Result<SegmentIndex::Decoded> Decode(const std::string& file, int64_t base = kBase,
                                              size_t extra = 0) {
    return SegmentIndex::Decode(base::AsBytes(file), Offset(base), extra);
  }

  SegmentIndex index_;
  std::vector<IndexEntry> entries_;
  SegmentTail tail_;
};

TEST_F(SegmentIndexTest, FloorByOffsetFindsTheLastEntryAtOrBefore) {
  EXPECT_FALSE(index_.FloorByOffset(Offset(0)).has_value());
  EXPECT_FALSE(index_.FloorByOffset(Offset(kBase - 1)).has_value());
  EXPECT_EQ(index_.FloorByOffset(Offset(kBase)), entries_[0]);
  EXPECT_EQ(index_.FloorByOffset(Offset(kBase + 9)), entries_[0]);
  EXPECT_EQ(index_.FloorByOffset(Offset(kBase + 10)), entries_[1]);
  EXPECT_EQ(index_.FloorByOffset(Offset(kBase + 29)), entries_[2]);
  EXPECT_EQ(index_.FloorByOffset(Offset(kBase + 40)), entries_[4]);
  EXPECT_EQ(index_.FloorByOffset(Offset(kBase + 1'000'000)), entries_[4]);
  EXPECT_EQ(index_.FloorByOffset(Offset(INT64_MAX)), entries_[4]);
}

TEST_F(SegmentIndexTest, FloorByTimeFindsTheLastEntryWithNothingEarlierMatching) {
  // No entry has max_timestamp_before < -1: nothing can be skipped.
  EXPECT_FALSE(index_.FloorByTime(-1).has_value());
  EXPECT_FALSE(index_.FloorByTime(INT64_MIN).has_value());
  EXPECT_EQ(index_.FloorByTime(0), entries_[0]);
  EXPECT_EQ(index_.FloorByTime(100), entries_[0]);  // a record before entry 1 has timestamp 100
  EXPECT_EQ(index_.FloorByTime(101), entries_[2]);  // entries 1 and 2 both follow only <= 100
  EXPECT_EQ(index_.FloorByTime(250), entries_[2]);
  EXPECT_EQ(index_.FloorByTime(251), entries_[3]);
  EXPECT_EQ(index_.FloorByTime(401), entries_[4]);
  EXPECT_EQ(index_.FloorByTime(INT64_MAX), entries_[4]);
}

TEST_F(SegmentIndexTest, EmptyIndexFindsNothing) {
  SegmentIndex empty(Offset(5), 4);
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_FALSE(empty.FloorByOffset(Offset(5)).has_value());
  EXPECT_FALSE(empty.FloorByTime(INT64_MAX).has_value());
}

TEST_F(SegmentIndexTest, TruncateKeepsAPrefix) {
  index_.Truncate(10);  // more than it holds: no-op
  EXPECT_EQ(index_.size(), 5u);
  index_.Truncate(2);
  EXPECT_EQ(index_.size(), 2u);
  EXPECT_EQ(index_.FloorByOffset(Offset(kBase + 45)), entries_[1]);
  index_.Add(entries_[2]);
  EXPECT_EQ(index_.at(2), entries_[2]);
}

TEST_F(SegmentIndexTest, EncodeDecodeRoundTrips) {
  const std::string file = Encoded();
  EXPECT_EQ(file.size(), kHeader + entries_.size() * kEntry);
  EXPECT_EQ(file.substr(0, 8), "SLUICEIX");
  ASSERT_OK_AND_ASSIGN(SegmentIndex::Decoded d, Decode(file, kBase, 7));
  EXPECT_EQ(d.tail.end, tail_.end);
  EXPECT_EQ(d.tail.next_offset, tail_.next_offset);
  EXPECT_EQ(d.tail.max_timestamp, tail_.max_timestamp);
  EXPECT_EQ(d.index->base_offset(), Offset(kBase));
  EXPECT_EQ(d.index->capacity(), entries_.size() + 7);
  ASSERT_EQ(d.index->size(), entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) EXPECT_EQ(d.index->at(i), entries_[i]);
  EXPECT_EQ(d.index->Encode(d.tail), file);
}

TEST_F(SegmentIndexTest, EncodeLeavesOutEntriesPastTheTail) {
  // A checkpoint at the start of the fourth frame.
  const SegmentTail early{FilePos(entries_[3].position), Offset(kBase + 30), 250};
  const std::string file = index_.Encode(early);
  ASSERT_OK_AND_ASSIGN(SegmentIndex::Decoded d, Decode(file));
  EXPECT_EQ(d.index->size(), 3u);
  EXPECT_EQ(d.tail.end, early.end);
}

TEST_F(SegmentIndexTest, EmptySegmentRoundTrips) {
  SegmentIndex empty(Offset(kBase), 1);
  const std::string file = empty.Encode({FilePos(kFirstFrame), Offset(kBase), -1});
  ASSERT_EQ(file.size(), kHeader);
  ASSERT_OK_AND_ASSIGN(SegmentIndex::Decoded d, Decode(file));
  EXPECT_EQ(d.index->size(), 0u);
  EXPECT_EQ(d.tail.end, FilePos(kFirstFrame));
  EXPECT_EQ(d.tail.max_timestamp, -1);
}

TEST_F(SegmentIndexTest, ShortFileIsCorruption) {
  const std::string file = Encoded();
  for (size_t len : {size_t{0}, size_t{8}, kHeader - 1}) {
    EXPECT_TRUE(IsError(Decode(file.substr(0, len)), ErrorCode::kCorruption, "shorter")) << len;
  }
}

TEST_F(SegmentIndexTest, BadMagicIsCorruption) {
  for (size_t pos = 0; pos < 8; ++pos) {
    std::string file = Encoded();
    FlipByte(file, pos);
    Reseal(file);
    EXPECT_TRUE(IsError(Decode(file), ErrorCode::kCorruption, "magic")) << pos;
  }
  EXPECT_TRUE(IsError(Decode(std::string("SLUICELG") + Encoded().substr(8)), ErrorCode::kCorruption,
                      "magic"));
}

TEST_F(SegmentIndexTest, UnsupportedVersionIsReported) {
  for (uint16_t version :
       {uint16_t{0}, uint16_t{format::kIndexCurrentVersion + 1}, uint16_t{0xffff}}) {
    EXPECT_TRUE(IsError(Decode(Edited<uint16_t>(Encoded(), kVersionAt, version)),
                        ErrorCode::kUnsupportedVersion, "version"))
        << version;
  }
}

TEST_F(SegmentIndexTest, UnknownFlagsAreCorruption) {
  EXPECT_TRUE(
      IsError(Decode(Edited<uint16_t>(Encoded(), kFlagsAt, 1)), ErrorCode::kCorruption, "flags"));
}

TEST_F(SegmentIndexTest, SizeAndCountMismatchIsCorruption) {
  const auto count = static_cast<uint32_t>(entries_.size());
  for (uint32_t bad : {count - 1, count + 1, uint32_t{0}, UINT32_MAX}) {
    EXPECT_TRUE(IsError(Decode(Edited<uint32_t>(Encoded(), kCountAt, bad)), ErrorCode::kCorruption,
                        "entry count"))
        << bad;
  }
  std::string longer = Encoded() + "x";
  Reseal(longer);
  EXPECT_TRUE(IsError(Decode(longer), ErrorCode::kCorruption, "entry count"));
  std::string shorter = Encoded();
  shorter.pop_back();
  EXPECT_TRUE(IsError(Decode(shorter), ErrorCode::kCorruption, "entry count"));
}

TEST_F(SegmentIndexTest, AnyFlippedByteIsDetected) {
  const std::string good = Encoded();
  for (size_t pos = 0; pos < good.size(); ++pos) {
    std::string file = good;
    FlipByte(file, pos, 0x10);
    auto d = Decode(file);
    ASSERT_FALSE(d.has_value()) << "byte " << pos;
    EXPECT_TRUE(d.error().code == ErrorCode::kCorruption ||
                d.error().code == ErrorCode::kUnsupportedVersion)
        << d.error().ToString();
  }
}

TEST_F(SegmentIndexTest, BadChecksumIsCorruption) {
  for (size_t pos : {kBaseAt, kCoveredAt, kNextOffsetAt + 3, kChecksumAt, kChecksumAt + 7,
                     EntryAt(0), EntryAt(2) + 5, EntryAt(4) + 15}) {
    std::string file = Encoded();
    FlipByte(file, pos);
    EXPECT_TRUE(IsError(Decode(file), ErrorCode::kCorruption, "checksum")) << "byte " << pos;
  }
}

TEST_F(SegmentIndexTest, BaseMismatchIsCorruption) {
  EXPECT_TRUE(IsError(Decode(Encoded(), kBase + 1), ErrorCode::kCorruption, "base offset"));
  EXPECT_TRUE(IsError(Decode(Encoded(), 0), ErrorCode::kCorruption, "base offset"));
}

TEST_F(SegmentIndexTest, ImpossibleTailIsCorruption) {
  EXPECT_TRUE(IsError(Decode(Edited<int64_t>(Encoded(), kNextOffsetAt, kBase - 1)),
                      ErrorCode::kCorruption, "impossible tail"));
  EXPECT_TRUE(IsError(Decode(Edited<uint64_t>(Encoded(), kCoveredAt, kFirstFrame - 1)),
                      ErrorCode::kCorruption, "impossible tail"));
}

TEST_F(SegmentIndexTest, EntriesOutOfOrderAreCorruption) {
  // Relative offsets not increasing.
  EXPECT_TRUE(IsError(Decode(Edited<uint32_t>(Encoded(), EntryAt(2), 10)), ErrorCode::kCorruption,
                      "out of order"));
  EXPECT_TRUE(IsError(Decode(Edited<uint32_t>(Encoded(), EntryAt(3), 5)), ErrorCode::kCorruption,
                      "out of order"));
  // Positions not increasing.
  EXPECT_TRUE(IsError(Decode(Edited<uint32_t>(Encoded(), EntryAt(2) + 4, kFirstFrame + 500)),
                      ErrorCode::kCorruption, "out of order"));
  EXPECT_TRUE(IsError(Decode(Edited<uint32_t>(Encoded(), EntryAt(4) + 4, kFirstFrame + 1)),
                      ErrorCode::kCorruption, "out of order"));
  // max_timestamp_before decreasing.
  EXPECT_TRUE(IsError(Decode(Edited<int64_t>(Encoded(), EntryAt(3) + 8, 99)),
                      ErrorCode::kCorruption, "out of order"));
  // Equal max_timestamp_before is fine (entries 1 and 2 already are).
  EXPECT_OK(Decode(Edited<int64_t>(Encoded(), EntryAt(3) + 8, 100)));
}

TEST_F(SegmentIndexTest, FirstEntryNotAtTheFirstFrameIsCorruption) {
  // A compacted segment's first frame may start above its base: only its position is fixed.
  EXPECT_TRUE(Decode(Edited<uint32_t>(Encoded(), EntryAt(0), 1)).has_value());
  EXPECT_TRUE(IsError(Decode(Edited<uint32_t>(Encoded(), EntryAt(0) + 4, kFirstFrame + 1)),
                      ErrorCode::kCorruption, "first entry"));
  EXPECT_TRUE(IsError(Decode(Edited<uint32_t>(Encoded(), EntryAt(0) + 4, 0)),
                      ErrorCode::kCorruption, "first entry"));
}

TEST_F(SegmentIndexTest, EntryBeyondTheCoveredRangeIsCorruption) {
  // The last entry's frame starts at 2032: covering fewer bytes leaves it outside.
  EXPECT_TRUE(IsError(Decode(Edited<uint64_t>(Encoded(), kCoveredAt, entries_[4].position)),
                      ErrorCode::kCorruption, "beyond the covered range"));
  // Its offset (1040) is not below next_offset.
  EXPECT_TRUE(IsError(Decode(Edited<int64_t>(Encoded(), kNextOffsetAt, kBase + 40)),
                      ErrorCode::kCorruption, "beyond the covered range"));
  // Just inside both bounds is fine.
  std::string file = Edited<uint64_t>(Encoded(), kCoveredAt, entries_[4].position + 1);
  EXPECT_OK(Decode(Edited<int64_t>(file, kNextOffsetAt, kBase + 41)));
}

TEST_F(SegmentIndexTest, NoEntriesForANonEmptySegmentIsCorruption) {
  SegmentIndex empty(Offset(kBase), 1);
  const std::string file = empty.Encode({FilePos(kFirstFrame + 100), Offset(kBase + 3), 5});
  EXPECT_TRUE(IsError(Decode(file), ErrorCode::kCorruption, "no entries"));
}

TEST_F(SegmentIndexTest, DecodedIndexAcceptsAppends) {
  ASSERT_OK_AND_ASSIGN(SegmentIndex::Decoded d, Decode(Encoded(), kBase, 2));
  d.index->Add({50, kFirstFrame + 2500, 420});
  d.index->Add({60, kFirstFrame + 3000, 420});
  EXPECT_EQ(d.index->size(), entries_.size() + 2);
  EXPECT_EQ(d.index->FloorByOffset(Offset(kBase + 65))->position, kFirstFrame + 3000);
}

}  // namespace
}  // namespace sluice::segment

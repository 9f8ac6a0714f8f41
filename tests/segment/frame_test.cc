#include "segment/frame.h"

#include <gtest/gtest.h>

#include <string>

#include "segment/format.h"
#include "tests/segment/segment_test_helpers.h"
#include "tests/support/test_util.h"

namespace sluice::segment {
namespace {

using base::LoadLE;
using base::StoreLE;
using testing::FlipByte;
using testing::MakeBatch;
using testing::MakeFrame;
using testing::MutableData;
using Kind = FrameRead::Kind;

constexpr size_t kPrefix = format::kFramePrefixSize;

class FrameTest : public ::testing::Test {
 protected:
  FrameRead Read(const std::string& data, uint64_t pos,
                 FrameVerify verify = FrameVerify::kChecksum) {
    return ReadFrame(base::AsBytes(data), FilePos(pos), verify);
  }

  // Expects kBad with an error naming `fragment`, whatever the verification mode.
  void ExpectBad(const std::string& data, uint64_t pos, const std::string& fragment,
                 FrameVerify verify = FrameVerify::kChecksum) {
    FrameRead r = Read(data, pos, verify);
    EXPECT_EQ(r.kind, Kind::kBad);
    EXPECT_NE(r.error.find(fragment), std::string::npos)
        << "error \"" << r.error << "\" lacks \"" << fragment << "\"";
  }

  // A frame whose prefix fields are given explicitly; the checksum is the right one for them.
  static std::string RawFrame(const std::string& payload, uint32_t length, uint16_t type,
                              uint16_t reserved) {
    std::string prefix(kPrefix, '\0');
    StoreLE<uint32_t>(MutableData(prefix), length);
    StoreLE<uint16_t>(MutableData(prefix) + 4, type);
    StoreLE<uint16_t>(MutableData(prefix) + 6, reserved);
    uint64_t seed = LoadLE<uint64_t>(MutableData(prefix));
    StoreLE<uint64_t>(MutableData(prefix) + 8, base::Xxh3(base::AsBytes(payload), seed));
    return prefix + payload;
  }

  const std::string batch_ = MakeBatch(3);
  const std::string frame_ = MakeFrame(batch_, 0);
};

TEST_F(FrameTest, PrefixLayoutFollowsTheFormat) {
  FramePrefix prefix{};
  EncodeFramePrefix(prefix, 1234, 0x0102030405060708ull);
  EXPECT_EQ(LoadLE<uint32_t>(prefix.data()), 1234u);
  EXPECT_EQ(LoadLE<uint16_t>(prefix.data() + 4), format::kFrameTypeRecordBatchV2);
  EXPECT_EQ(LoadLE<uint16_t>(prefix.data() + 6), 0u);
  EXPECT_EQ(LoadLE<uint64_t>(prefix.data() + 8), 0x0102030405060708ull);
  // The checksum seed is prefix bytes 0..8 read as a little-endian u64.
  EXPECT_EQ(FrameSeed(1234, format::kFrameTypeRecordBatchV2), LoadLE<uint64_t>(prefix.data()));
  EXPECT_NE(FrameSeed(1234, 1), FrameSeed(1235, 1));
  EXPECT_NE(FrameSeed(1234, 1), FrameSeed(1234, 2));
}

TEST_F(FrameTest, ReadsValidFrame) {
  for (FrameVerify verify : {FrameVerify::kChecksum, FrameVerify::kHeaderOnly}) {
    FrameRead r = Read(frame_, 0, verify);
    ASSERT_EQ(r.kind, Kind::kFrame) << r.error;
    EXPECT_TRUE(r.error.empty());
    EXPECT_EQ(r.frame.pos, FilePos(0));
    EXPECT_EQ(base::AsString(r.frame.batch), batch_);
    EXPECT_EQ(r.frame.header.record_count, 3);
    EXPECT_EQ(r.frame.size_bytes(), frame_.size());
    EXPECT_EQ(r.frame.end(), FilePos(frame_.size()));
  }
}

TEST_F(FrameTest, ReadsBackToBackFramesThenZeroedSpace) {
  const std::string second = MakeFrame(MakeBatch(5, "second"), 3);
  const std::string data = std::string(32, 'H') + frame_ + second + std::string(4096, '\0');
  FrameRead a = Read(data, 32);
  ASSERT_EQ(a.kind, Kind::kFrame) << a.error;
  EXPECT_EQ(a.frame.pos, FilePos(32));
  EXPECT_EQ(a.frame.header.base_offset, 0);
  FrameRead b = Read(data, a.frame.end().value());
  ASSERT_EQ(b.kind, Kind::kFrame) << b.error;
  EXPECT_EQ(b.frame.header.base_offset, 3);
  EXPECT_EQ(b.frame.header.record_count, 5);
  EXPECT_EQ(Read(data, b.frame.end().value()).kind, Kind::kEnd);
}

TEST_F(FrameTest, ZeroedSpaceIsEnd) {
  EXPECT_EQ(Read(std::string(kPrefix, '\0'), 0).kind, Kind::kEnd);
  EXPECT_EQ(Read(std::string(1 << 20, '\0'), 0).kind, Kind::kEnd);
  EXPECT_EQ(Read(frame_ + std::string(kPrefix, '\0'), frame_.size()).kind, Kind::kEnd);
  EXPECT_EQ(Read(std::string(100, '\0'), 7, FrameVerify::kHeaderOnly).kind, Kind::kEnd);
}

TEST_F(FrameTest, AtTheEndIsEnd) {
  EXPECT_EQ(Read("", 0).kind, Kind::kEnd);
  EXPECT_EQ(Read(frame_, frame_.size()).kind, Kind::kEnd);
  EXPECT_EQ(Read(frame_ + frame_, 2 * frame_.size()).kind, Kind::kEnd);
}

TEST_F(FrameTest, PositionPastTheEndIsBad) {
  ExpectBad(frame_, frame_.size() + 1, "past the end");
  ExpectBad("", 1, "past the end");
  ExpectBad(frame_, UINT64_MAX, "past the end");
}

TEST_F(FrameTest, PrefixPastTheEndIsBad) {
  for (size_t len = 1; len < kPrefix; ++len) {
    SCOPED_TRACE("prefix of " + std::to_string(len) + " bytes");
    ExpectBad(frame_.substr(0, len), 0, "prefix runs past the end");
    // Even zero bytes: a partial prefix is never a clean end.
    ExpectBad(frame_ + std::string(len, '\0'), frame_.size(), "prefix runs past the end");
  }
}

TEST_F(FrameTest, BadChecksumIsBad) {
  for (size_t pos = kPrefix; pos < frame_.size(); ++pos) {
    std::string f = frame_;
    FlipByte(f, pos);
    FrameRead r = Read(f, 0);
    ASSERT_EQ(r.kind, Kind::kBad) << "payload byte " << pos;
    EXPECT_EQ(r.error, "frame checksum mismatch");
  }
  for (size_t pos = 8; pos < kPrefix; ++pos) {
    std::string f = frame_;
    FlipByte(f, pos);
    ExpectBad(f, 0, "checksum");
  }
}

TEST_F(FrameTest, ChecksumIsSeededWithLengthAndType) {
  std::string f = frame_;
  StoreLE<uint64_t>(MutableData(f) + 8, base::Xxh3(base::AsBytes(batch_), 0));
  ExpectBad(f, 0, "checksum");
}

TEST_F(FrameTest, HeaderOnlySkipsTheChecksum) {
  std::string f = frame_;
  FlipByte(f, f.size() - 1);  // inside the last record, past the batch header
  EXPECT_EQ(Read(f, 0, FrameVerify::kHeaderOnly).kind, Kind::kFrame);
  EXPECT_EQ(Read(f, 0, FrameVerify::kChecksum).kind, Kind::kBad);
}

TEST_F(FrameTest, BadLengthIsBad) {
  for (uint32_t length : {uint32_t{0}, uint32_t{1}, static_cast<uint32_t>(kBatchHeaderSize - 1),
                          format::kMaxFramePayload + 1, UINT32_MAX}) {
    SCOPED_TRACE("length " + std::to_string(length));
    std::string f = RawFrame(batch_, length, format::kFrameTypeRecordBatchV2, 0);
    ExpectBad(f, 0, "bad frame length");
    ExpectBad(f, 0, "bad frame length", FrameVerify::kHeaderOnly);
  }
}

TEST_F(FrameTest, UnknownTypeIsBad) {
  for (uint16_t type : {uint16_t{0}, uint16_t{2}, uint16_t{0x7fff}, uint16_t{0xffff}}) {
    SCOPED_TRACE("type " + std::to_string(type));
    std::string f = RawFrame(batch_, static_cast<uint32_t>(batch_.size()), type, 0);
    ExpectBad(f, 0, "unknown frame type");
    ExpectBad(f, 0, "unknown frame type", FrameVerify::kHeaderOnly);
  }
  // Zero length and type but a checksum: not zeroed space.
  std::string f(kPrefix + 64, '\0');
  f[12] = 1;
  ExpectBad(f, 0, "unknown frame type 0");
}

TEST_F(FrameTest, ReservedNonZeroIsBad) {
  for (uint16_t reserved : {uint16_t{1}, uint16_t{0x100}, uint16_t{0x8000}}) {
    SCOPED_TRACE("reserved " + std::to_string(reserved));
    std::string f = RawFrame(batch_, static_cast<uint32_t>(batch_.size()),
                             format::kFrameTypeRecordBatchV2, reserved);
    ExpectBad(f, 0, "frame type");
  }
}

TEST_F(FrameTest, PayloadPastTheEndIsBad) {
  for (size_t cut = 1; cut <= batch_.size(); ++cut) {
    SCOPED_TRACE("cut " + std::to_string(cut));
    const std::string f = frame_.substr(0, frame_.size() - cut);
    ExpectBad(f, 0, "runs past the end of the file");
    ExpectBad(f, 0, "runs past the end of the file", FrameVerify::kHeaderOnly);
  }
  // The largest legal length, with far fewer bytes present.
  ExpectBad(RawFrame(batch_, format::kMaxFramePayload, format::kFrameTypeRecordBatchV2, 0), 0,
            "runs past the end of the file");
}

TEST_F(FrameTest, PayloadWithInvalidBatchHeaderIsBad) {
  std::string bad_magic = batch_;
  bad_magic[batch_field::kMagic] = 1;
  std::string f = MakeFrame(bad_magic);
  ExpectBad(f, 0, "magic");
  ExpectBad(f, 0, "magic", FrameVerify::kHeaderOnly);

  // The batch's own length disagrees with the frame's.
  std::string bad_length = batch_;
  base::StoreBE<int32_t>(MutableData(bad_length) + batch_field::kBatchLength,
                         static_cast<int32_t>(batch_.size() - 12 - 1));
  ExpectBad(MakeFrame(bad_length), 0, "batch length");

  std::string bad_codec = batch_;
  base::StoreBE<int16_t>(MutableData(bad_codec) + batch_field::kAttributes, 6);
  ExpectBad(MakeFrame(bad_codec), 0, "codec");
}

TEST_F(FrameTest, SmallestFrameHoldsAnEmptyBatch) {
  BatchBuilder builder;
  ASSERT_OK_AND_ASSIGN(std::string empty, builder.Build());
  const std::string f = MakeFrame(empty, 10);
  FrameRead r = Read(f, 0);
  ASSERT_EQ(r.kind, Kind::kFrame) << r.error;
  EXPECT_EQ(r.frame.size_bytes(), kPrefix + kBatchHeaderSize);
  EXPECT_EQ(r.frame.header.base_offset, 10);
}

}  // namespace
}  // namespace sluice::segment

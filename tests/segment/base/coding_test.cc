#include "segment/base/coding.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tests/support/test_util.h"

namespace sluice::base {
namespace {

using testing::SeededRng;

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

std::string Varint(int64_t v) {
  std::string s;
  PutVarint(s, v);
  return s;
}

std::vector<int64_t> InterestingValues() {
  std::vector<int64_t> v = {0,
                            1,
                            -1,
                            2,
                            -2,
                            63,
                            -64,
                            64,
                            -65,
                            127,
                            128,
                            300,
                            -300,
                            8191,
                            8192,
                            kInt32Max,
                            kInt32Min,
                            kInt32Max + 1,
                            kInt32Min - 1,
                            kInt64Max,
                            kInt64Min,
                            kInt64Max - 1,
                            kInt64Min + 1};
  for (int shift = 0; shift < 63; ++shift) {
    v.push_back(int64_t{1} << shift);
    v.push_back(-(int64_t{1} << shift));
    v.push_back((int64_t{1} << shift) - 1);
  }
  auto rng = SeededRng();
  for (int i = 0; i < 1000; ++i) v.push_back(static_cast<int64_t>(rng() >> (rng() % 64)));
  return v;
}

TEST(ZigZagTest, MapsKnownValues) {
  EXPECT_EQ(ZigZagEncode(0), 0u);
  EXPECT_EQ(ZigZagEncode(-1), 1u);
  EXPECT_EQ(ZigZagEncode(1), 2u);
  EXPECT_EQ(ZigZagEncode(-2), 3u);
  EXPECT_EQ(ZigZagEncode(kInt64Max), 0xFFFFFFFFFFFFFFFEull);
  EXPECT_EQ(ZigZagEncode(kInt64Min), 0xFFFFFFFFFFFFFFFFull);
  EXPECT_EQ(ZigZagDecode(0xFFFFFFFFFFFFFFFEull), kInt64Max);
  EXPECT_EQ(ZigZagDecode(0xFFFFFFFFFFFFFFFFull), kInt64Min);
}

TEST(ZigZagTest, RoundTrips) {
  for (int64_t v : InterestingValues()) EXPECT_EQ(ZigZagDecode(ZigZagEncode(v)), v) << v;
}

TEST(VarintTest, EncodesKafkaExamples) {
  EXPECT_EQ(Varint(0), std::string(1, '\0'));
  EXPECT_EQ(Varint(-1), "\x01");
  EXPECT_EQ(Varint(1), "\x02");
  EXPECT_EQ(Varint(63), "\x7e");
  EXPECT_EQ(Varint(-64), "\x7f");
  EXPECT_EQ(Varint(64), "\x80\x01");
  EXPECT_EQ(Varint(300), "\xd8\x04");
  EXPECT_EQ(Varint(kInt64Min), std::string(9, '\xff') + "\x01");
  EXPECT_EQ(Varint(kInt64Max), "\xfe" + std::string(8, '\xff') + "\x01");
}

TEST(VarintTest, RoundTripsAndSizeMatches) {
  for (int64_t v : InterestingValues()) {
    const std::string enc = Varint(v);
    EXPECT_EQ(VarintSize(v), enc.size()) << v;
    EXPECT_LE(enc.size(), 10u);
    ByteReader r(AsBytes(enc));
    auto got = r.Varint(64);
    ASSERT_TRUE(got.has_value()) << v;
    EXPECT_EQ(*got, v);
    EXPECT_EQ(r.remaining(), 0u);
    EXPECT_FALSE(r.failed());
  }
}

TEST(VarintTest, ExtremesTakeTenBytes) {
  EXPECT_EQ(VarintSize(kInt64Min), 10u);
  EXPECT_EQ(VarintSize(kInt64Max), 10u);
  EXPECT_EQ(VarintSize(0), 1u);
}

TEST(VarintTest, ConsecutiveValuesDecodeInOrder) {
  const std::vector<int64_t> values = InterestingValues();
  std::string enc;
  for (int64_t v : values) PutVarint(enc, v);
  ByteReader r(AsBytes(enc));
  for (int64_t v : values) {
    auto got = r.Varint();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, v);
  }
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_FALSE(r.Varint().has_value());
  EXPECT_TRUE(r.failed());
}

TEST(VarintTest, ThirtyTwoBitReadRejectsWiderValues) {
  for (int64_t v : {kInt32Min, kInt32Max, int64_t{0}, int64_t{-1}}) {
    std::string enc = Varint(v);
    ByteReader r(AsBytes(enc));
    auto got = r.Varint(32);
    ASSERT_TRUE(got.has_value()) << v;
    EXPECT_EQ(*got, v);
  }
  for (int64_t v : {kInt32Max + 1, kInt32Min - 1, kInt64Max, kInt64Min}) {
    std::string enc = Varint(v);
    ByteReader r(AsBytes(enc));
    EXPECT_FALSE(r.Varint(32).has_value()) << v;
    EXPECT_TRUE(r.failed());
  }
}

TEST(VarintTest, TruncatedVarintFailsWithoutReadingPastTheEnd) {
  for (int64_t v : {int64_t{64}, int64_t{300}, kInt32Max, kInt64Min, kInt64Max}) {
    const std::string enc = Varint(v);
    // The bytes after the span complete the varint: a reader that looked past the end would
    // succeed.
    for (size_t len = 0; len < enc.size(); ++len) {
      ByteReader r(AsBytes(enc).first(len));
      EXPECT_FALSE(r.Varint().has_value()) << v << " cut to " << len;
      EXPECT_TRUE(r.failed());
      EXPECT_LE(r.position(), len);
    }
  }
}

TEST(VarintTest, OverlongVarintFails) {
  // Eleven bytes: more than any 64-bit value needs.
  std::string overlong = std::string(10, '\x80') + std::string(1, '\0');
  ByteReader r(AsBytes(overlong));
  EXPECT_FALSE(r.Varint().has_value());
  EXPECT_TRUE(r.failed());
  EXPECT_LE(r.position(), 10u);
  // Endless continuation bits.
  std::string endless(100, '\xff');
  ByteReader r2(AsBytes(endless));
  EXPECT_FALSE(r2.Varint().has_value());
  EXPECT_TRUE(r2.failed());
  // Ten bytes is still accepted (a non-minimal zero, as Kafka's own reader allows).
  std::string ten = std::string(9, '\x80') + std::string(1, '\0');
  ByteReader r3(AsBytes(ten));
  auto v = r3.Varint();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, 0);
}

TEST(ByteReaderTest, ReadsBigEndianFields) {
  const std::string data("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f", 15);
  ByteReader r(AsBytes(data));
  EXPECT_EQ(r.BE<uint8_t>(), 0x01);
  EXPECT_EQ(r.BE<uint16_t>(), 0x0203);
  EXPECT_EQ(r.BE<uint32_t>(), 0x04050607u);
  EXPECT_EQ(r.BE<uint64_t>(), 0x08090a0b0c0d0e0full);
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(r.position(), 15u);
  EXPECT_FALSE(r.failed());
  ByteReader neg(AsBytes(std::string_view("\xff\xfe", 2)));
  EXPECT_EQ(neg.BE<int16_t>(), -2);
}

TEST(ByteReaderTest, FixedReadPastTheEndFails) {
  const std::string data("\x01\x02\x03\x04\x05\x06\x07\x08", 8);
  for (size_t len = 0; len < 8; ++len) {
    ByteReader r(AsBytes(data).first(len));
    EXPECT_FALSE(r.BE<uint64_t>().has_value()) << len;
    EXPECT_TRUE(r.failed());
    EXPECT_EQ(r.position(), 0u);
  }
}

TEST(ByteReaderTest, TakeIsBoundsChecked) {
  const std::string data = "abcdef";
  ByteReader r(AsBytes(data).first(4));
  auto a = r.Take(3);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(AsString(*a), "abc");
  EXPECT_FALSE(r.Take(2).has_value());  // "de" lies past the span
  EXPECT_TRUE(r.failed());

  ByteReader huge(AsBytes(data));
  ASSERT_TRUE(huge.Take(1).has_value());
  EXPECT_FALSE(huge.Take(std::numeric_limits<size_t>::max()).has_value());  // no wrap-around
  EXPECT_TRUE(huge.failed());

  ByteReader empty(AsBytes(data).first(0));
  auto none = empty.Take(0);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(empty.failed());
}

TEST(ByteReaderTest, StaysFailedAfterAFailure) {
  std::string data = Varint(5) + "xyz";
  ByteReader r(AsBytes(data));
  EXPECT_FALSE(r.Take(100).has_value());
  EXPECT_FALSE(r.Varint().has_value());
  EXPECT_FALSE(r.Take(1).has_value());
  EXPECT_FALSE(r.BE<uint8_t>().has_value());
  EXPECT_TRUE(r.failed());
}

TEST(FixedCodingTest, LittleAndBigEndianLayouts) {
  std::byte buf[8];
  StoreLE<uint32_t>(buf, 0x01020304u);
  EXPECT_EQ(std::to_integer<int>(buf[0]), 0x04);
  EXPECT_EQ(std::to_integer<int>(buf[3]), 0x01);
  EXPECT_EQ(LoadLE<uint32_t>(buf), 0x01020304u);
  StoreBE<uint32_t>(buf, 0x01020304u);
  EXPECT_EQ(std::to_integer<int>(buf[0]), 0x01);
  EXPECT_EQ(std::to_integer<int>(buf[3]), 0x04);
  EXPECT_EQ(LoadBE<uint32_t>(buf), 0x01020304u);
  StoreLE<int64_t>(buf, kInt64Min);
  EXPECT_EQ(LoadLE<int64_t>(buf), kInt64Min);
  StoreBE<int64_t>(buf, -2);
  EXPECT_EQ(LoadBE<int64_t>(buf), -2);
  EXPECT_EQ(std::to_integer<int>(buf[7]), 0xfe);
  StoreBE<int16_t>(buf, -3);
  EXPECT_EQ(LoadBE<int16_t>(buf), -3);
  EXPECT_EQ(ByteSwap<uint16_t>(0x0102), 0x0201);
  EXPECT_EQ(ByteSwap<uint64_t>(0x0102030405060708ull), 0x0807060504030201ull);
  EXPECT_EQ(ByteSwap<uint8_t>(0x7f), 0x7f);
}

}  // namespace
}  // namespace sluice::base

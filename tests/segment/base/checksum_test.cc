#include "segment/base/checksum.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "tests/support/test_util.h"

namespace sluice::base {
namespace {

using testing::SeededRng;

std::string RandomBytes(size_t n, uint64_t salt) {
  auto rng = SeededRng(salt);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Bit-at-a-time CRC-32C: slow, obviously right, independent of the table and SSE4.2 paths.
uint32_t ReferenceCrc32c(std::string_view data) {
  uint32_t crc = 0xffffffffu;
  for (char ch : data) {
    crc ^= static_cast<uint8_t>(ch);
    for (int k = 0; k < 8; ++k) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
  }
  return ~crc;
}

TEST(Crc32cTest, MatchesKnownVectors) {
  EXPECT_EQ(Crc32c(AsBytes("123456789")), 0xE3069283u);
  EXPECT_EQ(Crc32c(AsBytes("a")), 0xC1D04330u);
  EXPECT_EQ(Crc32c({}), 0u);
  // RFC 3720, appendix B.4.
  EXPECT_EQ(Crc32c(AsBytes(std::string(32, '\0'))), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(AsBytes(std::string(32, '\xff'))), 0x62A8AB43u);
  std::string ascending(32, '\0');
  std::string descending(32, '\0');
  for (size_t i = 0; i < 32; ++i) {
    ascending[i] = static_cast<char>(i);
    descending[i] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(Crc32c(AsBytes(ascending)), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(AsBytes(descending)), 0x113FDB5Cu);
}

TEST(Crc32cTest, MatchesReferenceForEveryLengthAndAlignment) {
  const std::string data = RandomBytes(300, 1);
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len = 0; start + len <= data.size(); len += (len < 40 ? 1 : 17)) {
      std::string_view piece = std::string_view(data).substr(start, len);
      ASSERT_EQ(Crc32c(AsBytes(piece)), ReferenceCrc32c(piece))
          << "start " << start << " len " << len;
    }
  }
}

TEST(Crc32cTest, MatchesReferenceOnLongInputs) {
  // Around the sizes where a faster implementation may switch strategies (interleaved streams over
  // blocks of a few hundred bytes or a few KiB).
  const std::string data = RandomBytes(3 * 8192 * 2 + 100, 8);
  for (size_t start : {0, 1, 3, 7}) {
    for (size_t len : {255, 256, 767, 768, 769, 1000, 2304, 8191, 8192, 24575, 24576, 24577,
                       3 * 8192 + 768, 49152 + 7}) {
      std::string_view piece = std::string_view(data).substr(start, len);
      ASSERT_EQ(Crc32c(AsBytes(piece)), ReferenceCrc32c(piece))
          << "start " << start << " len " << len;
    }
  }
  // A running CRC carried into a long input.
  const uint32_t head = Crc32c(AsBytes(std::string_view(data).substr(0, 5)));
  EXPECT_EQ(Crc32c(AsBytes(std::string_view(data).substr(5, 30000)), head),
            ReferenceCrc32c(std::string_view(data).substr(0, 30005)));
}

TEST(Crc32cTest, IncrementalEqualsOneShot) {
  const std::string data = RandomBytes(200, 2);
  const uint32_t whole = Crc32c(AsBytes(data));
  for (size_t split = 0; split <= data.size(); ++split) {
    Bytes all = AsBytes(data);
    uint32_t crc = Crc32c(all.first(split));
    EXPECT_EQ(Crc32c(all.subspan(split), crc), whole) << "split at " << split;
  }
  // Three pieces, and empty pieces in between change nothing.
  uint32_t crc = Crc32c(AsBytes(std::string_view(data).substr(0, 7)));
  crc = Crc32c({}, crc);
  crc = Crc32c(AsBytes(std::string_view(data).substr(7, 100)), crc);
  crc = Crc32c(AsBytes(std::string_view(data).substr(107)), crc);
  EXPECT_EQ(crc, whole);
}

TEST(Crc32cTest, DetectsEverySingleBitFlip) {
  std::string data = RandomBytes(64, 3);
  const uint32_t good = Crc32c(AsBytes(data));
  for (size_t i = 0; i < data.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      data[i] = static_cast<char>(data[i] ^ (1 << bit));
      EXPECT_NE(Crc32c(AsBytes(data)), good) << "byte " << i << " bit " << bit;
      data[i] = static_cast<char>(data[i] ^ (1 << bit));
    }
  }
}

TEST(Xxh3Test, MatchesKnownVectorAndDependsOnSeed) {
  // XXH3_64bits of the empty input, seed 0 (xxHash's published test vector).
  EXPECT_EQ(Xxh3({}), 0x2D06800538D394C2ull);
  const std::string data = RandomBytes(100, 4);
  EXPECT_EQ(Xxh3(AsBytes(data)), Xxh3(AsBytes(data), 0));
  EXPECT_NE(Xxh3(AsBytes(data), 1), Xxh3(AsBytes(data), 2));
  EXPECT_NE(Xxh3(AsBytes(data)), Xxh3(AsBytes(std::string_view(data).substr(1))));
}

TEST(Xxh3Test, StreamOverPiecesEqualsOneShot) {
  auto rng = SeededRng(5);
  // Lengths across XXH3's internal size classes (0-16, 17-128, 129-240, long inputs, > 1 stripe
  // block).
  for (size_t len : {0, 1, 3, 16, 17, 100, 128, 129, 240, 241, 1000, 5000, 70000}) {
    const std::string data = RandomBytes(len, 6 + len);
    for (uint64_t seed : {uint64_t{0}, uint64_t{42}, ~uint64_t{0}}) {
      const uint64_t one_shot = Xxh3(AsBytes(data), seed);
      Xxh3Stream stream(seed);
      size_t pos = 0;
      while (pos < data.size()) {
        size_t n = std::min<size_t>(data.size() - pos, rng() % 300);
        stream.Update(AsBytes(std::string_view(data).substr(pos, n)));
        pos += n;
      }
      EXPECT_EQ(stream.Digest(), one_shot) << "len " << len << " seed " << seed;
    }
  }
}

TEST(Xxh3Test, StreamDigestMidwayEqualsHashOfPrefix) {
  const std::string data = RandomBytes(1000, 7);
  Xxh3Stream stream(9);
  stream.Update(AsBytes(std::string_view(data).substr(0, 300)));
  EXPECT_EQ(stream.Digest(), Xxh3(AsBytes(std::string_view(data).substr(0, 300)), 9));
  stream.Update(AsBytes(std::string_view(data).substr(300)));
  EXPECT_EQ(stream.Digest(), Xxh3(AsBytes(data), 9));
  EXPECT_EQ(stream.Digest(), stream.Digest());
}

}  // namespace
}  // namespace sluice::base

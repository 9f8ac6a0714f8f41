// CRC-32C over every code path of the hardware implementation (three interleaved streams over 8 KiB
// and 256-byte blocks, single stream, byte tail), checked against a bit-at-a-time reference.

#include <gtest/gtest.h>

#include "segment/base/checksum.h"
#include "tests/support/test_util.h"

namespace sluice::base {
namespace {

uint32_t Reference(const std::string& data, uint32_t crc = 0) {
  crc = ~crc;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
  }
  return ~crc;
}

TEST(Crc32cSizesTest, MatchesTheReferenceAtEverySizeAndAlignment) {
  auto rng = testing::SeededRng();
  std::string buf(100'000, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (size_t size :
       {0, 1, 7, 8, 9, 255, 256, 767, 768, 769, 3000, 24575, 24576, 24577, 50000, 99'000}) {
    for (size_t align = 0; align < 8; ++align) {
      const std::string part = buf.substr(align, size);
      EXPECT_EQ(Crc32c(AsBytes(part)), Reference(part)) << size << "+" << align;
    }
  }
  // Continuing from a previous CRC equals one pass over the concatenation.
  const std::string a = buf.substr(0, 30'001);
  const std::string b = buf.substr(30'001, 40'000);
  EXPECT_EQ(Crc32c(AsBytes(b), Crc32c(AsBytes(a))), Reference(a + b));
}

}  // namespace
}  // namespace sluice::base

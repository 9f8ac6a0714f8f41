// CRC-32C over every code path of every implementation this CPU can run (VPCLMULQDQ folding by 256
// and 64 bytes; three interleaved crc32 streams over 8 KiB and 256-byte blocks, single stream, byte
// tail; the table), checked against a bit-at-a-time reference.

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

TEST(Crc32cSizesTest, EveryImplementationMatchesTheReferenceAtEverySizeAndAlignment) {
  auto rng = testing::SeededRng();
  std::string buf(100'000, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  const auto implementations = Crc32cImplementations();
  ASSERT_FALSE(implementations.empty());
  for (const auto& impl : implementations) {
    SCOPED_TRACE(std::string(impl.name));
    for (size_t size : {0,   1,   7,   8,   9,    255,  256,   511,   512,   513,   575,
                        576, 767, 768, 769, 1023, 3000, 24575, 24576, 24577, 50000, 99'000}) {
      for (size_t align = 0; align < 8; ++align) {
        const std::string part = buf.substr(align, size);
        EXPECT_EQ(impl.fn(AsBytes(part), 0), Reference(part)) << size << "+" << align;
      }
    }
    // Continuing from a previous CRC equals one pass over the concatenation.
    const std::string a = buf.substr(0, 30'001);
    const std::string b = buf.substr(30'001, 40'000);
    EXPECT_EQ(impl.fn(AsBytes(b), impl.fn(AsBytes(a), 0)), Reference(a + b));
  }
  // Crc32c is one of them.
  const std::string some = buf.substr(3, 9'999);
  EXPECT_EQ(Crc32c(AsBytes(some)), Reference(some));
}

}  // namespace
}  // namespace sluice::base

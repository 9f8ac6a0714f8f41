// DecompressReusing: the read path's in-place decompression must give exactly what Decompress
// gives, for every codec and for inputs its fast path does not take (several zstd frames, unknown
// sizes).

#include <gtest/gtest.h>

#include "segment/base/codec.h"
#include "tests/support/test_util.h"

namespace sluice::base {
namespace {

std::string Compressed(Codec codec, const std::string& in) {
  std::string out;
  EXPECT_OK(Compress(codec, 0, AsBytes(in), out));
  return out;
}

TEST(DecompressReusingTest, EqualsDecompressForEveryCodecWhileReusingOneBuffer) {
  auto rng = testing::SeededRng();
  std::string buf;
  for (int i = 0; i < 40; ++i) {
    std::string plain(static_cast<size_t>(rng() % 300'000), 'x');
    for (size_t k = 0; k < plain.size(); k += 7) plain[k] = static_cast<char>('a' + rng() % 26);
    for (Codec codec : {Codec::kNone, Codec::kGzip, Codec::kSnappy, Codec::kLz4, Codec::kZstd}) {
      ASSERT_OK_AND_ASSIGN(
          size_t n, DecompressReusing(codec, AsBytes(Compressed(codec, plain)), buf, 1 << 20));
      ASSERT_EQ(n, plain.size()) << CodecName(codec);
      EXPECT_EQ(buf.substr(0, n), plain) << CodecName(codec);
    }
  }
}

TEST(DecompressReusingTest, HandlesConcatenatedZstdFrames) {
  const std::string a(5000, 'a');
  const std::string b(7000, 'b');
  std::string buf(100'000, '?');  // longer than the output: only the returned length counts
  ASSERT_OK_AND_ASSIGN(size_t n, DecompressReusing(Codec::kZstd,
                                                   AsBytes(Compressed(Codec::kZstd, a) +
                                                           Compressed(Codec::kZstd, b)),
                                                   buf, 1 << 20));
  ASSERT_EQ(n, a.size() + b.size());
  EXPECT_EQ(buf.substr(0, n), a + b);
}

TEST(DecompressReusingTest, RejectsGarbageAndBombs) {
  std::string buf;
  auto garbage = DecompressReusing(Codec::kZstd, AsBytes(std::string("\x28\xb5\x2f\xfd garbage")),
                                   buf, 1 << 20);
  ASSERT_FALSE(garbage.has_value());
  EXPECT_EQ(garbage.error().code, ErrorCode::kCorruption);
  auto bomb = DecompressReusing(
      Codec::kZstd, AsBytes(Compressed(Codec::kZstd, std::string(1 << 20, 'z'))), buf, 1000);
  ASSERT_FALSE(bomb.has_value());
  EXPECT_EQ(bomb.error().code, ErrorCode::kTooLarge);
}

}  // namespace
}  // namespace sluice::base

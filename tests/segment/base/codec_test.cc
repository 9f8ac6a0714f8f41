#include "segment/base/codec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/segment/segment_test_helpers.h"
#include "tests/support/test_util.h"

namespace sluice::base {
namespace {

using testing::IsError;
using testing::SeededRng;

constexpr size_t kMiB = 1 << 20;
constexpr size_t kNoLimit = size_t{1} << 40;

const Codec kAllCodecs[] = {Codec::kNone, Codec::kGzip, Codec::kSnappy, Codec::kLz4, Codec::kZstd};

std::string RandomBytes(size_t n, uint64_t salt) {
  auto rng = SeededRng(salt);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Log-like text: compresses well but is not a single repeated byte.
std::string TextBytes(size_t n) {
  std::string s;
  for (int i = 0; s.size() < n; ++i) {
    s += "{\"user\":" + std::to_string(i % 977) +
         ",\"event\":\"click\",\"seq\":" + std::to_string(i) + "}\n";
  }
  s.resize(n);
  return s;
}

std::string CompressOrDie(Codec codec, std::string_view input, int level = 0) {
  std::string out;
  Status s = Compress(codec, level, AsBytes(input), out);
  EXPECT_TRUE(s.has_value()) << s.error().ToString();
  return out;
}

// --- hand-built foreign streams ------------------------------------------------------------------

void PutBE32(std::string& out, uint32_t v) {
  char b[4];
  StoreBE<uint32_t>(reinterpret_cast<std::byte*>(b), v);
  out.append(b, 4);
}

// Snappy with the xerial framing Java clients write: magic, version 1, compatible version 1, then
// [u32 BE length][raw snappy block] per chunk of `chunk_bytes` input bytes.
std::string XerialSnappy(std::string_view input, size_t chunk_bytes) {
  std::string out("\x82SNAPPY\0", 8);
  PutBE32(out, 1);
  PutBE32(out, 1);
  for (size_t pos = 0; pos < input.size(); pos += chunk_bytes) {
    std::string block = CompressOrDie(Codec::kSnappy, input.substr(pos, chunk_bytes));
    PutBE32(out, static_cast<uint32_t>(block.size()));
    out += block;
  }
  return out;
}

// A zstd frame as streaming compressors (zstd-jni's ZstdOutputStream) write it: no content size in
// the header, so the decoder cannot know the output size up front. Blocks are raw (stored) or RLE;
// Window_Log 17, so blocks may be up to 128 KiB. Layout: RFC 8878, section 3.1.1.
constexpr size_t kZstdMaxBlock = 128 * 1024;

std::string ZstdFrameHeaderWithoutSize() {
  // Magic 0xFD2FB528 (LE), descriptor 0 (no content size, no checksum, no dictionary, not
  // single-segment), window descriptor: exponent 7 -> Window_Log 17.
  return std::string("\x28\xb5\x2f\xfd\x00\x38", 6);
}

void PutZstdBlockHeader(std::string& out, bool last, uint32_t type, uint32_t size) {
  uint32_t h = (size << 3) | (type << 1) | (last ? 1u : 0u);
  out.push_back(static_cast<char>(h & 0xff));
  out.push_back(static_cast<char>((h >> 8) & 0xff));
  out.push_back(static_cast<char>((h >> 16) & 0xff));
}

std::string ZstdRawFrameWithoutSize(std::string_view input) {
  std::string out = ZstdFrameHeaderWithoutSize();
  size_t pos = 0;
  do {
    size_t n = std::min(kZstdMaxBlock, input.size() - pos);
    PutZstdBlockHeader(out, pos + n == input.size(), /*type=raw*/ 0, static_cast<uint32_t>(n));
    out.append(input.substr(pos, n));
    pos += n;
  } while (pos < input.size());
  return out;
}

// `blocks` RLE blocks of 128 KiB of 'x' each: a few bytes that expand to blocks * 128 KiB.
std::string ZstdRleBomb(size_t blocks) {
  std::string out = ZstdFrameHeaderWithoutSize();
  for (size_t i = 0; i < blocks; ++i) {
    PutZstdBlockHeader(out, i + 1 == blocks, /*type=RLE*/ 1, kZstdMaxBlock);
    out.push_back('x');
  }
  return out;
}

// Rewrites a zstd frame made by Compress (which records the content size) into the same compressed
// blocks behind a header without a content size, with a 1 MiB window (Window_Log 20).
std::string StripZstdContentSize(const std::string& frame) {
  const auto fhd = static_cast<uint8_t>(frame.at(4));
  const int fcs_flag = fhd >> 6;
  const bool single_segment = (fhd & 0x20) != 0;
  const size_t did_sizes[] = {0, 1, 2, 4};
  const size_t fcs_sizes[] = {single_segment ? 1u : 0u, 2, 4, 8};
  EXPECT_EQ(fhd & 0x3, 0) << "dictionary ids are not expected";
  const size_t header = 5 + (single_segment ? 0 : 1) + did_sizes[fhd & 0x3] + fcs_sizes[fcs_flag];
  std::string out = frame.substr(0, 4);
  out.push_back(static_cast<char>(fhd & 0x04));  // keep only the content checksum flag
  out.push_back(static_cast<char>(10 << 3));     // Window_Log 20
  return out + frame.substr(header);
}

// --- every codec ---------------------------------------------------------------------------------

class CodecTest : public ::testing::TestWithParam<Codec> {
 protected:
  Codec codec() const { return GetParam(); }

  void ExpectRoundTrip(const std::string& input, int level = 0) {
    std::string compressed = CompressOrDie(codec(), input, level);
    std::string out;
    ASSERT_OK(Decompress(codec(), AsBytes(compressed), out, kNoLimit));
    ASSERT_EQ(out.size(), input.size());
    EXPECT_TRUE(out == input);
  }
};

TEST_P(CodecTest, RoundTripsEmptyInput) { ExpectRoundTrip(""); }

TEST_P(CodecTest, RoundTripsSmallInputs) {
  ExpectRoundTrip("a");
  ExpectRoundTrip("hello, sluice");
  ExpectRoundTrip(RandomBytes(100, 1));
  ExpectRoundTrip(std::string(1000, '\0'));
}

TEST_P(CodecTest, RoundTripsOneMebibyte) {
  ExpectRoundTrip(TextBytes(kMiB));
  ExpectRoundTrip(RandomBytes(kMiB, 2));
  ExpectRoundTrip(std::string(kMiB, 'z'));
}

TEST_P(CodecTest, RoundTripsAtExplicitLevels) {
  const std::string input = TextBytes(50000);
  for (int level : {1, 3, 9}) ExpectRoundTrip(input, level);
}

TEST_P(CodecTest, CompressAndDecompressAppendToOutput) {
  const std::string input = TextBytes(10000);
  std::string compressed = "prefix";
  ASSERT_OK(Compress(codec(), 0, AsBytes(input), compressed));
  ASSERT_EQ(compressed.substr(0, 6), "prefix");
  std::string out = "kept";
  ASSERT_OK(Decompress(codec(), AsBytes(compressed).subspan(6), out, kNoLimit));
  EXPECT_TRUE(out == "kept" + input);
}

TEST_P(CodecTest, OutputExactlyAtTheLimitIsAccepted) {
  const std::string input = TextBytes(kMiB);
  std::string compressed = CompressOrDie(codec(), input);
  std::string out;
  ASSERT_OK(Decompress(codec(), AsBytes(compressed), out, input.size()));
  EXPECT_EQ(out.size(), input.size());
}

TEST_P(CodecTest, BombGuardGivesOutOfRange) {
  const std::string input(kMiB, '\0');
  std::string compressed = CompressOrDie(codec(), input);
  for (size_t limit : {size_t{0}, size_t{1000}, kMiB - 1}) {
    std::string out = "kept";
    EXPECT_TRUE(IsError(Decompress(codec(), AsBytes(compressed), out, limit), ErrorCode::kTooLarge))
        << "limit " << limit;
    EXPECT_EQ(out, "kept") << "limit " << limit;
  }
}

// Real codecs only: for kNone every input is valid.
class CompressedCodecTest : public CodecTest {};

TEST_P(CompressedCodecTest, GarbageGivesCorruption) {
  for (std::string garbage : {std::string("definitely not compressed data!!"),
                              std::string(64, '\xff'), std::string(200, '\x01')}) {
    std::string out = "kept";
    EXPECT_TRUE(
        IsError(Decompress(codec(), AsBytes(garbage), out, kNoLimit), ErrorCode::kCorruption))
        << "garbage of " << garbage.size() << " bytes";
    EXPECT_EQ(out, "kept");
  }
}

TEST_P(CodecTest, EmptyInputIsCorruptionForRealCodecs) {
  std::string out;
  Status s = Decompress(codec(), {}, out, kNoLimit);
  if (codec() == Codec::kNone) {
    EXPECT_OK(s);
  } else {
    EXPECT_TRUE(IsError(s, ErrorCode::kCorruption));
  }
  EXPECT_TRUE(out.empty());
}

TEST_P(CompressedCodecTest, EveryTruncationGivesCorruption) {
  const std::string compressed = CompressOrDie(codec(), TextBytes(3000));
  for (size_t len = 0; len < compressed.size(); ++len) {
    std::string out;
    ASSERT_TRUE(IsError(Decompress(codec(), AsBytes(compressed).first(len), out, kNoLimit),
                        ErrorCode::kCorruption))
        << "prefix of " << len << " of " << compressed.size() << " bytes";
  }
}

TEST_P(CodecTest, RandomGarbageNeverCrashes) {
  auto rng = SeededRng(static_cast<uint64_t>(codec()));
  for (int i = 0; i < 300; ++i) {
    std::string garbage = RandomBytes(rng() % 512, rng());
    std::string out;
    Status s = Decompress(codec(), AsBytes(garbage), out, kMiB);
    if (!s) {
      // A garbage length header may also claim more than the limit.
      EXPECT_TRUE(s.error().code == ErrorCode::kCorruption ||
                  s.error().code == ErrorCode::kTooLarge)
          << s.error().ToString();
    }
    EXPECT_LE(out.size(), kMiB);
  }
}

TEST_P(CompressedCodecTest, DamagedStreamNeverCrashes) {
  auto rng = SeededRng(100 + static_cast<uint64_t>(codec()));
  const std::string input = TextBytes(20000);
  const std::string good = CompressOrDie(codec(), input);
  for (int i = 0; i < 200; ++i) {
    std::string damaged = good;
    testing::FlipByte(damaged, rng() % damaged.size(), static_cast<uint8_t>(1 + rng() % 255));
    std::string out;
    Status s = Decompress(codec(), AsBytes(damaged), out, kMiB);
    if (!s) {
      EXPECT_TRUE(s.error().code == ErrorCode::kCorruption ||
                  s.error().code == ErrorCode::kTooLarge)
          << s.error().ToString();
    }
  }
}

std::string CodecParamName(const ::testing::TestParamInfo<Codec>& param) {
  return std::string(CodecName(param.param));
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, CodecTest, ::testing::ValuesIn(kAllCodecs), CodecParamName);
INSTANTIATE_TEST_SUITE_P(CompressedCodecs, CompressedCodecTest,
                         ::testing::Values(Codec::kGzip, Codec::kSnappy, Codec::kLz4, Codec::kZstd),
                         CodecParamName);

// --- names ---------------------------------------------------------------------------------------

TEST(CodecNameTest, ParseCodecInvertsCodecName) {
  for (Codec c : kAllCodecs) {
    auto parsed = ParseCodec(CodecName(c));
    ASSERT_TRUE(parsed.has_value()) << CodecName(c);
    EXPECT_EQ(*parsed, c);
  }
  EXPECT_EQ(CodecName(Codec::kNone), "none");
  EXPECT_EQ(CodecName(Codec::kGzip), "gzip");
  EXPECT_EQ(CodecName(Codec::kSnappy), "snappy");
  EXPECT_EQ(CodecName(Codec::kLz4), "lz4");
  EXPECT_EQ(CodecName(Codec::kZstd), "zstd");
}

TEST(CodecNameTest, ParseCodecRejectsUnknownNames) {
  for (std::string_view name : {"", "ZSTD", "Gzip", "lz4 ", " none", "brotli", "unknown"}) {
    EXPECT_FALSE(ParseCodec(name).has_value()) << "\"" << name << "\"";
  }
  EXPECT_FALSE(ParseCodec(std::string_view("zstd\0", 5)).has_value());
}

TEST(CodecNameTest, UnknownCodecValueIsNamedAndRejected) {
  const auto bad = static_cast<Codec>(7);
  EXPECT_EQ(CodecName(bad), "unknown");
  std::string out;
  EXPECT_TRUE(IsError(Compress(bad, 0, AsBytes("x"), out), ErrorCode::kInvalidArgument));
  EXPECT_TRUE(IsError(Decompress(bad, AsBytes("x"), out, kNoLimit), ErrorCode::kInvalidArgument));
}

// --- snappy: xerial framing ----------------------------------------------------------------------

TEST(SnappyXerialTest, DecodesHandBuiltStream) {
  const std::string input = TextBytes(100000);
  for (size_t chunk : {size_t{1000}, size_t{32768}, input.size()}) {
    std::string out;
    ASSERT_OK(Decompress(Codec::kSnappy, AsBytes(XerialSnappy(input, chunk)), out, kNoLimit));
    EXPECT_TRUE(out == input) << "chunks of " << chunk;
  }
}

TEST(SnappyXerialTest, DecodesStreamWithoutChunks) {
  std::string out;
  ASSERT_OK(Decompress(Codec::kSnappy, AsBytes(XerialSnappy("", 1)), out, kNoLimit));
  EXPECT_TRUE(out.empty());
}

TEST(SnappyXerialTest, TruncatedChunkLengthIsCorruption) {
  std::string stream = XerialSnappy(TextBytes(5000), 1000);
  stream += std::string("\0\0", 2);  // half a length field
  std::string out = "kept";
  EXPECT_TRUE(IsError(Decompress(Codec::kSnappy, AsBytes(stream), out, kNoLimit),
                      ErrorCode::kCorruption, "length"));
  EXPECT_EQ(out, "kept");
}

TEST(SnappyXerialTest, ChunkPastTheEndIsCorruption) {
  std::string stream = XerialSnappy(TextBytes(5000), 1000);
  stream.pop_back();
  std::string out = "kept";
  EXPECT_TRUE(IsError(Decompress(Codec::kSnappy, AsBytes(stream), out, kNoLimit),
                      ErrorCode::kCorruption, "past the end"));
  EXPECT_EQ(out, "kept");
}

TEST(SnappyXerialTest, BadChunkIsCorruption) {
  std::string stream = XerialSnappy(TextBytes(5000), 1000);
  // Claims 16 bytes of output, then copies from before the start of the output.
  const std::string bad_block = "\x10garbage";
  PutBE32(stream, static_cast<uint32_t>(bad_block.size()));
  stream += bad_block;
  std::string out = "kept";
  EXPECT_TRUE(
      IsError(Decompress(Codec::kSnappy, AsBytes(stream), out, kNoLimit), ErrorCode::kCorruption));
  EXPECT_EQ(out, "kept");
}

TEST(SnappyXerialTest, BombGuardCountsEveryChunk) {
  const std::string input(kMiB, '\0');
  std::string stream = XerialSnappy(input, 64 * 1024);
  std::string out;
  ASSERT_OK(Decompress(Codec::kSnappy, AsBytes(stream), out, kMiB));
  out = "kept";
  EXPECT_TRUE(
      IsError(Decompress(Codec::kSnappy, AsBytes(stream), out, kMiB - 1), ErrorCode::kTooLarge));
  EXPECT_EQ(out, "kept");
}

// --- zstd: streams without a content size, concatenated frames
// ------------------------------------

TEST(ZstdStreamTest, DecodesFrameWithoutContentSize) {
  for (size_t n :
       {size_t{0}, size_t{1}, size_t{1000}, kZstdMaxBlock, kZstdMaxBlock + 1, kMiB, kMiB + 12345}) {
    SCOPED_TRACE(std::to_string(n) + " bytes");
    const std::string input = RandomBytes(n, n);
    std::string out;
    ASSERT_OK(Decompress(Codec::kZstd, AsBytes(ZstdRawFrameWithoutSize(input)), out, kNoLimit));
    EXPECT_TRUE(out == input);
  }
}

TEST(ZstdStreamTest, DecodesCompressedFrameWithoutContentSize) {
  for (size_t n : {size_t{1}, size_t{5000}, size_t{200000}, kMiB}) {
    SCOPED_TRACE(std::to_string(n) + " bytes");
    for (const std::string& input : {TextBytes(n), RandomBytes(n, n)}) {
      const std::string frame = StripZstdContentSize(CompressOrDie(Codec::kZstd, input));
      std::string out;
      ASSERT_OK(Decompress(Codec::kZstd, AsBytes(frame), out, kNoLimit));
      EXPECT_TRUE(out == input);
      // And the bomb guard, one byte short.
      out.clear();
      EXPECT_TRUE(
          IsError(Decompress(Codec::kZstd, AsBytes(frame), out, n - 1), ErrorCode::kTooLarge));
    }
  }
}

TEST(ZstdStreamTest, TruncatedFrameWithoutContentSizeIsCorruption) {
  const std::string frame = ZstdRawFrameWithoutSize(RandomBytes(300000, 3));
  for (size_t len :
       {size_t{0}, size_t{3}, size_t{6}, size_t{100}, size_t{131081}, frame.size() - 1}) {
    std::string out = "kept";
    EXPECT_TRUE(IsError(Decompress(Codec::kZstd, AsBytes(frame).first(len), out, kNoLimit),
                        ErrorCode::kCorruption))
        << "prefix of " << len;
    EXPECT_EQ(out, "kept");
  }
}

TEST(ZstdStreamTest, BombGuardStopsFrameWithoutContentSize) {
  // 64 KiB that expand to 2 GiB.
  const std::string bomb = ZstdRleBomb(16384);
  std::string out = "kept";
  EXPECT_TRUE(IsError(Decompress(Codec::kZstd, AsBytes(bomb), out, kMiB), ErrorCode::kTooLarge));
  EXPECT_EQ(out, "kept");
  std::string small = ZstdRleBomb(8);
  out.clear();
  ASSERT_OK(Decompress(Codec::kZstd, AsBytes(small), out, kMiB));
  EXPECT_EQ(out, std::string(kMiB, 'x'));
}

TEST(ZstdStreamTest, DecodesConcatenatedFrames) {
  const std::string a = TextBytes(70000);
  const std::string b = RandomBytes(5000, 4);
  const std::string c = TextBytes(300);
  const std::string with_sizes = CompressOrDie(Codec::kZstd, a) + CompressOrDie(Codec::kZstd, b);
  std::string out;
  ASSERT_OK(Decompress(Codec::kZstd, AsBytes(with_sizes), out, kNoLimit));
  EXPECT_TRUE(out == a + b);

  const std::string mixed =
      CompressOrDie(Codec::kZstd, c) + ZstdRawFrameWithoutSize(b) + CompressOrDie(Codec::kZstd, a);
  out.clear();
  ASSERT_OK(Decompress(Codec::kZstd, AsBytes(mixed), out, kNoLimit));
  EXPECT_TRUE(out == c + b + a);
}

TEST(ZstdStreamTest, BombGuardCountsEveryConcatenatedFrame) {
  const std::string half(kMiB / 2, 'q');
  const std::string two = CompressOrDie(Codec::kZstd, half) + CompressOrDie(Codec::kZstd, half);
  std::string out;
  ASSERT_OK(Decompress(Codec::kZstd, AsBytes(two), out, kMiB));
  out.clear();
  EXPECT_TRUE(IsError(Decompress(Codec::kZstd, AsBytes(two), out, kMiB - 1), ErrorCode::kTooLarge));
}

// A frame header may claim any content size; one that its blocks cannot hold (at most 128 KiB per
// block of 4 bytes or more) is refused before anything is allocated for it, even under the
// engine's 1 GiB limit.
TEST(ZstdStreamTest, ContentSizeBeyondWhatTheBlocksHoldIsCorruption) {
  std::string frame("\x28\xb5\x2f\xfd\xa0", 5);  // single segment, 4-byte content size
  std::string size(4, '\0');
  StoreLE<uint32_t>(reinterpret_cast<std::byte*>(size.data()), 512u << 20);
  frame += size + std::string("\x19\x00\x00", 3) + "abc";  // one raw block of 3 bytes
  std::string out;
  EXPECT_TRUE(
      IsError(Decompress(Codec::kZstd, AsBytes(frame), out, 1u << 30), ErrorCode::kCorruption));
  std::string buf;
  EXPECT_TRUE(IsError(DecompressReusing(Codec::kZstd, AsBytes(frame), buf, 1u << 30),
                      ErrorCode::kCorruption));
  EXPECT_LT(buf.capacity(), 1u << 20);
}

// Many tiny frames, each with its content size: decoded one after another (a recursion per frame
// overflowed the stack).
TEST(ZstdStreamTest, DecodesAHundredThousandEmptyFrames) {
  const std::string empty("\x28\xb5\x2f\xfd\x20\x00\x01\x00\x00", 9);  // size 0, one empty block
  std::string frames;
  for (int i = 0; i < 100'000; ++i) frames += empty;
  frames += std::string("\x28\xb5\x2f\xfd\x20\x02\x11\x00\x00xy", 11);  // and one of 2 bytes
  std::string out;
  ASSERT_OK(Decompress(Codec::kZstd, AsBytes(frames), out, 1u << 30));
  EXPECT_EQ(out, "xy");
}

TEST(SnappyBlockTest, LengthBeyondWhatTheBytesHoldIsCorruption) {
  const std::string block(std::string("\x80\x80\x80\x80\x02\x08", 6) + "abc");  // claims 512 MiB
  std::string out;
  EXPECT_TRUE(
      IsError(Decompress(Codec::kSnappy, AsBytes(block), out, 1u << 30), ErrorCode::kCorruption));
  EXPECT_LT(out.capacity(), 1u << 20);
}

}  // namespace
}  // namespace sluice::base

#include "segment/base/checksum.h"

#include <xxhash.h>
#if defined(__x86_64__)
// libxxhash's run-time dispatch: the widest vector unit the CPU has (AVX2, AVX-512). The plain
// entry points are built for baseline x86-64 (SSE2): 3x slower on a 100 KiB frame here (11.5
// against 37 GB/s), and the frame checksum is the largest CPU cost of an uncompressed append.
#include <xxh_x86dispatch.h>
#define SLUICE_XXH3_64_SEEDED XXH3_64bits_withSeed_dispatch
#define SLUICE_XXH3_64_UPDATE XXH3_64bits_update_dispatch
#else
#define SLUICE_XXH3_64_SEEDED XXH3_64bits_withSeed
#define SLUICE_XXH3_64_UPDATE XXH3_64bits_update
#endif

#include <array>

namespace sluice::base {

uint64_t Xxh3(Bytes data, uint64_t seed) {
  return SLUICE_XXH3_64_SEEDED(data.data(), data.size(), seed);
}

Hash128 Xxh3_128(Bytes data) {
  const XXH128_hash_t h = XXH3_128bits(data.data(), data.size());
  return {h.low64, h.high64};
}

Xxh3Stream::Xxh3Stream(uint64_t seed) : state_(XXH3_createState()) {
  SLUICE_CHECK(state_ != nullptr, "out of memory for XXH3 state");
  XXH3_64bits_reset_withSeed(static_cast<XXH3_state_t*>(state_), seed);
}
Xxh3Stream::~Xxh3Stream() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }
void Xxh3Stream::Update(Bytes data) {
  SLUICE_XXH3_64_UPDATE(static_cast<XXH3_state_t*>(state_), data.data(), data.size());
}
uint64_t Xxh3Stream::Digest() const {
  return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(state_));
}

namespace {

constexpr uint32_t kCastagnoliReflected = 0x82f63b78u;

constexpr std::array<std::array<uint32_t, 256>, 8> MakeTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kCastagnoliReflected : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (size_t k = 1; k < 8; ++k) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
  }
  return t;
}
constexpr auto kTables = MakeTables();

uint32_t Crc32cSoftware(const uint8_t* p, size_t n, uint32_t crc) {
  while (n >= 8) {
    uint64_t v;
    __builtin_memcpy(&v, p, 8);
    v ^= crc;
    crc = kTables[7][v & 0xff] ^ kTables[6][(v >> 8) & 0xff] ^ kTables[5][(v >> 16) & 0xff] ^
          kTables[4][(v >> 24) & 0xff] ^ kTables[3][(v >> 32) & 0xff] ^
          kTables[2][(v >> 40) & 0xff] ^ kTables[1][(v >> 48) & 0xff] ^ kTables[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xff];
  return crc;
}

#if defined(__x86_64__)
// The crc32 instruction has a latency of 3 cycles and a throughput of 1 per cycle, so three
// independent streams over three blocks run about three times faster than one chain (Mark Adler's
// method). The streams' CRCs are combined by "shifting" a CRC over a block of zeros, done with
// tables built at compile time from the GF(2) matrix for appending zero bytes.
constexpr uint32_t Gf2Times(const std::array<uint32_t, 32>& mat, uint32_t vec) {
  uint32_t sum = 0;
  for (size_t i = 0; vec != 0; vec >>= 1, ++i) {
    if (vec & 1) sum ^= mat[i];
  }
  return sum;
}

constexpr std::array<uint32_t, 32> Gf2Square(const std::array<uint32_t, 32>& mat) {
  std::array<uint32_t, 32> sq{};
  for (size_t n = 0; n < 32; ++n) sq[n] = Gf2Times(mat, mat[n]);
  return sq;
}

// The operator that appends `len` zero bytes (a power of two) to a CRC.
constexpr std::array<uint32_t, 32> ZerosOperator(size_t len) {
  std::array<uint32_t, 32> odd{};
  odd[0] = kCastagnoliReflected;  // one zero bit
  for (size_t n = 1; n < 32; ++n) odd[n] = 1u << (n - 1);
  std::array<uint32_t, 32> even = Gf2Square(odd);  // two zero bits
  odd = Gf2Square(even);                           // four zero bits
  for (;;) {
    even = Gf2Square(odd);  // one zero byte, then four, sixteen, ...
    len >>= 1;
    if (len == 0) return even;
    odd = Gf2Square(even);
    len >>= 1;
    if (len == 0) return odd;
  }
}

using ZerosTable = std::array<std::array<uint32_t, 256>, 4>;

constexpr ZerosTable MakeZerosTable(size_t len) {
  const auto op = ZerosOperator(len);
  ZerosTable t{};
  for (uint32_t n = 0; n < 256; ++n) {
    t[0][n] = Gf2Times(op, n);
    t[1][n] = Gf2Times(op, n << 8);
    t[2][n] = Gf2Times(op, n << 16);
    t[3][n] = Gf2Times(op, n << 24);
  }
  return t;
}

constexpr size_t kLongBlock = 8192;
constexpr size_t kShortBlock = 256;
constexpr ZerosTable kLongZeros = MakeZerosTable(kLongBlock);
constexpr ZerosTable kShortZeros = MakeZerosTable(kShortBlock);

inline uint32_t Shift(const ZerosTable& z, uint32_t crc) {
  return z[0][crc & 0xff] ^ z[1][(crc >> 8) & 0xff] ^ z[2][(crc >> 16) & 0xff] ^ z[3][crc >> 24];
}

__attribute__((target("sse4.2"))) inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  __builtin_memcpy(&v, p, 8);
  return v;
}

template <size_t kBlock>
__attribute__((target("sse4.2"))) uint64_t Crc3Way(const uint8_t*& p, size_t& n, uint64_t c0,
                                                   const ZerosTable& zeros) {
  while (n >= kBlock * 3) {
    uint64_t c1 = 0;
    uint64_t c2 = 0;
    const uint8_t* end = p + kBlock;
    do {
      c0 = __builtin_ia32_crc32di(c0, Load64(p));
      c1 = __builtin_ia32_crc32di(c1, Load64(p + kBlock));
      c2 = __builtin_ia32_crc32di(c2, Load64(p + 2 * kBlock));
      p += 8;
    } while (p < end);
    c0 = Shift(zeros, static_cast<uint32_t>(c0)) ^ c1;
    c0 = Shift(zeros, static_cast<uint32_t>(c0)) ^ c2;
    p += 2 * kBlock;
    n -= 3 * kBlock;
  }
  return c0;
}

__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(const uint8_t* p, size_t n,
                                                          uint32_t crc) {
  uint64_t c = crc;
  c = Crc3Way<kLongBlock>(p, n, c, kLongZeros);
  c = Crc3Way<kShortBlock>(p, n, c, kShortZeros);
  while (n >= 8) {
    c = __builtin_ia32_crc32di(c, Load64(p));
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}
#endif

using CrcFn = uint32_t (*)(const uint8_t*, size_t, uint32_t);

CrcFn PickCrc() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2")) return Crc32cHardware;
#endif
  return Crc32cSoftware;
}

const CrcFn kCrcImpl = PickCrc();

}  // namespace

uint32_t Crc32c(Bytes data, uint32_t crc) {
  return ~kCrcImpl(reinterpret_cast<const uint8_t*>(data.data()), data.size(), ~crc);
}

}  // namespace sluice::base

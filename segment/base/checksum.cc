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

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

// Carry-less multiplication folding (Intel's "Fast CRC Computation Using PCLMULQDQ", 2009), four
// 512-bit lanes at a time with VPCLMULQDQ: 256 bytes per step, no dependency on the crc32
// instruction's latency; 3.6x the 3-way crc32 above on a 111 KB batch here (bench/RESULTS.md).
//
// The algebra, in the bit-reflected order of CRC-32C. A 64-bit word w read from memory is the
// polynomial W of degree < 64 whose highest coefficient is bit 0; `crc32q(c, w)` is
// (c x^64 + W x^32) mod P; a carry-less product of two such words is x A B (one degree "lost" to
// the reflection). A 16-byte block at memory order [lo | hi] is LO x^64 + HI. Moving it D bytes
// later in the message multiplies it by x^8D, so the fold of a block is
//   clmul(lo, x^(8D+31) mod P) ^ clmul(hi, x^(8D-33) mod P),
// a 128-bit value congruent to the block times x^8D, xored into the block that sits there (the
// 32-bit constants sit in the low half of each 64-bit lane: one more x^32). A 16-byte remainder
// LO x^64 + HI becomes a CRC with two crc32q: crc32q(crc32q(0, lo), hi).

// x^n mod P, bit-reflected (bit 0 is x^31).
constexpr uint32_t XPowModP(uint32_t n) {
  uint32_t v = 0x80000000u;  // x^0
  for (; n > 0; --n) v = (v & 1) ? (v >> 1) ^ kCastagnoliReflected : v >> 1;
  return v;
}

// The two constants that fold a 16-byte block `bytes` bytes forward: (for lo, for hi).
constexpr std::array<uint32_t, 2> FoldConstants(uint32_t bytes) {
  return {XPowModP(8 * bytes + 31), XPowModP(8 * bytes - 33)};
}

__attribute__((target("avx512f,vpclmulqdq"))) inline __m512i Broadcast(std::array<uint32_t, 2> k) {
  return _mm512_set4_epi64(k[1], k[0], k[1], k[0]);
}

__attribute__((target("avx512f"))) inline __m512i Load(const uint8_t* at) {
  return _mm512_loadu_si512(at);
}

// Each 16-byte lane of `x` folded by the lane's constants, xored into `into`.
__attribute__((target("avx512f,vpclmulqdq"))) inline __m512i Fold(__m512i x, __m512i k,
                                                                  __m512i into) {
  return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
                                   _mm512_clmulepi64_epi128(x, k, 0x11), into, 0x96);
}

__attribute__((target("avx512f,vpclmulqdq,sse4.2"))) uint32_t Crc32cFolding(const uint8_t* p,
                                                                            size_t n,
                                                                            uint32_t crc) {
  constexpr size_t kStep = 256;
  if (n < 2 * kStep) return Crc32cHardware(p, n, crc);
  __m512i x0 =
      _mm512_xor_si512(Load(p), _mm512_zextsi128_si512(_mm_cvtsi32_si128(static_cast<int>(crc))));
  __m512i x1 = Load(p + 64);
  __m512i x2 = Load(p + 128);
  __m512i x3 = Load(p + 192);
  p += kStep;
  n -= kStep;
  static constexpr auto k256 = FoldConstants(256);
  static constexpr auto k64 = FoldConstants(64);
  const __m512i by256 = Broadcast(k256);
  for (; n >= kStep; p += kStep, n -= kStep) {
    x0 = Fold(x0, by256, Load(p));
    x1 = Fold(x1, by256, Load(p + 64));
    x2 = Fold(x2, by256, Load(p + 128));
    x3 = Fold(x3, by256, Load(p + 192));
  }
  const __m512i by64 = Broadcast(k64);
  x3 = Fold(Fold(Fold(x0, by64, x1), by64, x2), by64, x3);
  for (; n >= 64; p += 64, n -= 64) x3 = Fold(x3, by64, Load(p));
  // The four lanes of x3 onto its last: lanes 0, 1, 2 move 48, 32, 16 bytes; lane 3 stays.
  static constexpr auto k48 = FoldConstants(48);
  static constexpr auto k32 = FoldConstants(32);
  static constexpr auto k16 = FoldConstants(16);
  const __m512i to_last = _mm512_set_epi64(0, 0, k16[1], k16[0], k32[1], k32[0], k48[1], k48[0]);
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, Fold(x3, to_last, _mm512_maskz_mov_epi64(0xc0, x3)));
  const uint64_t lo = lanes[0] ^ lanes[2] ^ lanes[4] ^ lanes[6];
  const uint64_t hi = lanes[1] ^ lanes[3] ^ lanes[5] ^ lanes[7];
  const uint64_t c = __builtin_ia32_crc32di(__builtin_ia32_crc32di(0, lo), hi);
  return Crc32cHardware(p, n, static_cast<uint32_t>(c));
}
#endif

using CrcFn = uint32_t (*)(const uint8_t*, size_t, uint32_t);

CrcFn PickCrc() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("vpclmulqdq")) {
    return Crc32cFolding;
  }
  if (__builtin_cpu_supports("sse4.2")) return Crc32cHardware;
#endif
  return Crc32cSoftware;
}

const CrcFn kCrcImpl = PickCrc();

uint32_t Run(CrcFn fn, Bytes data, uint32_t crc) {
  return ~fn(reinterpret_cast<const uint8_t*>(data.data()), data.size(), ~crc);
}

}  // namespace

uint32_t Crc32c(Bytes data, uint32_t crc) { return Run(kCrcImpl, data, crc); }

std::vector<Crc32cImplementation> Crc32cImplementations() {
  std::vector<Crc32cImplementation> out;
  out.push_back({"table", [](Bytes d, uint32_t c) { return Run(Crc32cSoftware, d, c); }});
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2")) {
    out.push_back({"crc32_3way", [](Bytes d, uint32_t c) { return Run(Crc32cHardware, d, c); }});
  }
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("vpclmulqdq")) {
    out.push_back({"vpclmulqdq", [](Bytes d, uint32_t c) { return Run(Crc32cFolding, d, c); }});
  }
#endif
  return out;
}

}  // namespace sluice::base

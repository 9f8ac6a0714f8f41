#pragma once

// Checksums: xxHash3-64 for sluice's own frames and files, CRC-32C (Castagnoli) for Kafka record
// batches. CRC-32C folds with VPCLMULQDQ where the CPU has it (AVX-512), else runs three streams
// of the SSE4.2 crc32 instruction, else a table.

#include <cstdint>
#include <string_view>
#include <vector>

#include "segment/base/check.h"
#include "segment/base/coding.h"

namespace sluice::base {

uint64_t Xxh3(Bytes data, uint64_t seed = 0);

// XXH3-128 of `data`, as its low and high 64 bits (an identity for keys: the log cleaner's map).
struct Hash128 {
  uint64_t low = 0;
  uint64_t high = 0;
};
Hash128 Xxh3_128(Bytes data);

// Incremental XXH3-64 (for data assembled from several pieces). Equal to Xxh3 of the concatenation.
class Xxh3Stream {
 public:
  explicit Xxh3Stream(uint64_t seed = 0);
  ~Xxh3Stream();
  Xxh3Stream(const Xxh3Stream&) = delete;
  Xxh3Stream& operator=(const Xxh3Stream&) = delete;
  void Update(Bytes data);
  uint64_t Digest() const;

 private:
  void* state_;
};

// CRC-32C of `data`, continuing from `crc` (0 to start).
uint32_t Crc32c(Bytes data, uint32_t crc = 0);

// Every CRC-32C implementation this CPU can run, Crc32c's choice last (for tests and benchmarks).
struct Crc32cImplementation {
  std::string_view name;
  uint32_t (*fn)(Bytes data, uint32_t crc);
};
std::vector<Crc32cImplementation> Crc32cImplementations();

}  // namespace sluice::base

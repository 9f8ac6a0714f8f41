#pragma once

// Compression codecs of Kafka record batches. The numbering is Kafka's (attributes bits 0-2).
// Compressors use a per-thread context, so calls from many threads run in parallel.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "segment/base/coding.h"
#include "segment/base/result.h"

namespace sluice::base {

enum class Codec : uint8_t { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

std::string_view CodecName(Codec codec);
std::optional<Codec> ParseCodec(std::string_view name);  // "none", "gzip", "snappy", "lz4", "zstd"

// Appends `input` compressed with `codec` to `out`. `level` is the codec's own scale (zstd 1..19,
// gzip 1..9); 0 picks the codec's default. kNone appends `input` unchanged.
Status Compress(Codec codec, int level, Bytes input, std::string& out);

// Appends `input` decompressed to `out`. Fails with kCorruption on malformed input and with
// kOutOfRange if the output would exceed `max_output_bytes` (a decompression bomb guard).
// Snappy accepts both raw blocks (librdkafka) and xerial framing (Java clients).
Status Decompress(Codec codec, Bytes input, std::string& out, size_t max_output_bytes);

// Decompresses `input` into `buf` from position 0 and returns the decompressed length; `buf` may be
// left longer. A buffer reused across calls is grown but never re-zeroed, which matters on the read
// path (a zstd frame that records its size is written in place).
Result<size_t> DecompressReusing(Codec codec, Bytes input, std::string& buf,
                                 size_t max_output_bytes);

}  // namespace sluice::base

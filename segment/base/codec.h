#pragma once

// Compression codecs of Kafka record batches. The numbering is Kafka's (attributes bits 0-2).
// Compressors use a per-thread context, so calls from many threads run in parallel.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "segment/base/coding.h"
#include "segment/base/result.h"

namespace sluice::base {

enum class Codec : uint8_t { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

// A trained zstd dictionary (zstd's own format, with its dictionary id), prepared once for
// decompressing and for compressing at one level: the per-batch cost of a dictionary is then a
// table reference, not a rebuild. Immutable after Load; thread-safe.
class ZstdDictionary {
 public:
  // `content` must be a zstd dictionary with a non-zero id (ZDICT's output); anything else is
  // kCorruption. `level` is the zstd level Compress with it uses (0: 3).
  static Result<std::shared_ptr<const ZstdDictionary>> Load(Bytes content, int level);
  ~ZstdDictionary();
  ZstdDictionary(const ZstdDictionary&) = delete;
  ZstdDictionary& operator=(const ZstdDictionary&) = delete;

  uint32_t id() const { return id_; }
  int level() const { return level_; }
  Bytes content() const { return AsBytes(content_); }

  // Appends `input` compressed with this dictionary as one zstd frame (content size and
  // dictionary id recorded in its header) to `out`.
  Status Compress(Bytes input, std::string& out) const;

 private:
  friend struct ZstdDictionaryAccess;
  ZstdDictionary() = default;
  std::string content_;
  uint32_t id_ = 0;
  int level_ = 3;
  void* cdict_ = nullptr;  // ZSTD_CDict*, owned
  void* ddict_ = nullptr;  // ZSTD_DDict*, owned
};

// Where decompression finds the dictionary a zstd frame names (its header's dictionary id).
// Implementations are thread-safe.
class ZstdDictionaries {
 public:
  virtual ~ZstdDictionaries() = default;
  // The dictionary `id`, or an error saying why it cannot be had (naming its file and the repair).
  virtual Result<std::shared_ptr<const ZstdDictionary>> Find(uint32_t id) const = 0;
};

// The dictionary id the zstd frame starting `input` names in its header; 0 when it names none or
// `input` does not start with a zstd frame header.
uint32_t ZstdFrameDictionaryId(Bytes input);

// Trains a zstd dictionary of at most `capacity_bytes` from `samples` (ZDICT, fastCover), with
// dictionary id `id` (non-zero) and entropy tables tuned for `level`. kInvalidArgument when the
// samples are too few or too small for ZDICT to learn from.
Result<std::string> TrainZstdDictionary(std::span<const std::string> samples, size_t capacity_bytes,
                                        uint32_t id, int level);

std::string_view CodecName(Codec codec);
std::optional<Codec> ParseCodec(std::string_view name);  // "none", "gzip", "snappy", "lz4", "zstd"

// Appends `input` compressed with `codec` to `out`. `level` is the codec's own scale (zstd 1..19,
// gzip 1..9); 0 picks the codec's default. kNone appends `input` unchanged.
Status Compress(Codec codec, int level, Bytes input, std::string& out);

// Appends `input` decompressed to `out`. Fails with kCorruption on malformed input and with
// kOutOfRange if the output would exceed `max_output_bytes` (a decompression bomb guard).
// Snappy accepts both raw blocks (librdkafka) and xerial framing (Java clients).
// A zstd frame that names a dictionary is decompressed with `dictionaries`' one; without
// `dictionaries`, or when it cannot find it, the call fails with its error (never a guess).
Status Decompress(Codec codec, Bytes input, std::string& out, size_t max_output_bytes,
                  const ZstdDictionaries* dictionaries = nullptr);

// Decompresses `input` into `buf` from position 0 and returns the decompressed length; `buf` may be
// left longer. A buffer reused across calls is grown but never re-zeroed, which matters on the read
// path (a zstd frame that records its size is written in place).
Result<size_t> DecompressReusing(Codec codec, Bytes input, std::string& buf,
                                 size_t max_output_bytes,
                                 const ZstdDictionaries* dictionaries = nullptr);

}  // namespace sluice::base

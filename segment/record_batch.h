#pragma once

// Kafka RecordBatch v2 (magic 2): parse and validate its header, build batches, decode records,
// and (re)compress the records section. The layout is Kafka's, big-endian; see FORMAT.md.
// Everything here is pure computation on caller-owned bytes and is thread-safe.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "segment/base/codec.h"
#include "segment/base/coding.h"
#include "segment/base/result.h"
#include "segment/base/strong_int.h"

namespace sluice::segment {

using base::Bytes;
using base::Codec;
using base::Error;
using base::Offset;
using base::Result;
using base::Status;

// Byte positions of the header fields inside a batch.
namespace batch_field {
inline constexpr size_t kBaseOffset = 0;
inline constexpr size_t kBatchLength = 8;
inline constexpr size_t kLeaderEpoch = 12;
inline constexpr size_t kMagic = 16;
inline constexpr size_t kCrc = 17;
inline constexpr size_t kAttributes = 21;  // the CRC covers from here to the end
inline constexpr size_t kLastOffsetDelta = 23;
inline constexpr size_t kBaseTimestamp = 27;
inline constexpr size_t kMaxTimestamp = 35;
inline constexpr size_t kProducerId = 43;
inline constexpr size_t kProducerEpoch = 51;
inline constexpr size_t kBaseSequence = 53;
inline constexpr size_t kRecordCount = 57;
inline constexpr size_t kRecords = 61;
}  // namespace batch_field

inline constexpr size_t kBatchHeaderSize = batch_field::kRecords;
inline constexpr int64_t kNoTimestamp = -1;

// The decoded 61-byte header of a batch.
struct BatchHeader {
  int64_t base_offset = 0;
  int32_t batch_length = 0;  // bytes after the batch_length field
  int32_t partition_leader_epoch = 0;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = 0;
  int64_t max_timestamp = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int32_t record_count = 0;

  Codec codec() const { return static_cast<Codec>(attributes & 0x7); }
  bool log_append_time() const { return (attributes & 0x8) != 0; }
  bool transactional() const { return (attributes & 0x10) != 0; }
  bool control() const { return (attributes & 0x20) != 0; }
  int64_t last_offset() const { return base_offset + last_offset_delta; }
  size_t size_bytes() const { return static_cast<size_t>(batch_length) + 12; }
};

// Parses the header of the batch that `batch` holds exactly, checking the magic, that
// batch_length matches the span's size, that the codec is known and the counts are sane.
// Does not verify the CRC.
Result<BatchHeader> ParseBatchHeader(Bytes batch);

// Verifies the batch's CRC-32C (over attributes..end).
Status VerifyBatchCrc(Bytes batch, const BatchHeader& header);

// Recomputes and stores the CRC-32C of a batch whose bytes were changed.
void UpdateBatchCrc(std::span<std::byte> batch);

// Writes `offset` into the batch's base offset field (not covered by the CRC).
void SetBaseOffset(std::span<std::byte> batch, Offset offset);

struct RecordHeader {
  std::string_view key;
  std::optional<std::string_view> value;  // nullopt = null
};

// One decoded record. Views point into the batch or the caller's decompression scratch buffer.
struct RecordView {
  int64_t offset = 0;
  int64_t timestamp = 0;
  std::optional<std::string_view> key;    // nullopt = null
  std::optional<std::string_view> value;  // nullopt = null
  std::span<const RecordHeader> headers;
};

// Decodes the records of a batch one by one. Reuse one decoder across batches to reuse buffers.
class RecordDecoder {
 public:
  // Limit on a batch's decompressed records section (a decompression bomb guard).
  static constexpr size_t kMaxDecompressedBytes = 1ull << 30;

  // `max_decompressed_bytes` lowers the limit (the fuzz targets keep memory small with it).
  explicit RecordDecoder(size_t max_decompressed_bytes = kMaxDecompressedBytes)
      : max_decompressed_bytes_(max_decompressed_bytes) {}

  // Prepares `batch` (decompressing it if needed). The views it yields stay valid until the next
  // Reset or until `batch`'s bytes go away.
  Status Reset(Bytes batch);
  Status Reset(Bytes batch, const BatchHeader& header);

  // Fills `record` with the next record and returns true; false after the last one; kCorruption
  // if the records are malformed or fewer/more than the header's record count.
  Result<bool> Next(RecordView& record);
  // The same, as an optional (nullopt after the last record).
  Result<std::optional<RecordView>> Next();

  const BatchHeader& header() const { return header_; }
  // The encoded bytes (length prefix included) of the record the last Next returned: valid as
  // its views are. A batch rebuilt from some of its records, at the same base offset and base
  // timestamp, may copy them as they are.
  Bytes record_bytes() const { return records_.subspan(record_start_, pos_ - record_start_); }
  // Where zstd frames that name a dictionary find it, for the batches Reset from now on (nullptr:
  // such a batch is an error). Borrowed: it must outlive those Resets.
  void set_dictionaries(const base::ZstdDictionaries* dictionaries) {
    dictionaries_ = dictionaries;
  }
  // Changes the limit for the batches Reset from now on.
  void set_max_decompressed_bytes(size_t max) {
    max_decompressed_bytes_ = std::min(max, kMaxDecompressedBytes);
  }
  // Bytes the decoder holds for decompressed records (what it costs in memory).
  size_t buffer_bytes() const { return scratch_.capacity(); }

 private:
  size_t max_decompressed_bytes_;
  const base::ZstdDictionaries* dictionaries_ = nullptr;
  BatchHeader header_;
  std::string scratch_;
  Bytes records_;
  size_t pos_ = 0;
  size_t record_start_ = 0;
  int32_t index_ = 0;
  std::vector<RecordHeader> headers_;
};

// Calls fn(const RecordView&) for every record of `batch`; stops at fn's first error.
template <typename Fn>
Status ForEachRecord(Bytes batch, RecordDecoder& decoder, Fn&& fn) {
  RETURN_IF_ERROR(decoder.Reset(batch));
  RecordView rec;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, decoder.Next(rec));
    if (!more) return {};
    RETURN_IF_ERROR(fn(rec));
  }
}

// Producer-side fields of a batch (idempotence); -1 when not used.
struct ProducerInfo {
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
};

// Builds a RecordBatch v2 with base offset 0 (the log assigns the real one on append).
// Not thread-safe; reusable after Build.
class BatchBuilder {
 public:
  void Add(std::optional<std::string_view> key, std::optional<std::string_view> value,
           int64_t timestamp_ms, std::span<const RecordHeader> headers = {});

  int32_t record_count() const { return count_; }
  // Uncompressed size of the records added so far.
  size_t records_bytes() const { return records_.size(); }
  bool empty() const { return count_ == 0; }

  // Returns the encoded batch and clears the builder.
  Result<std::string> Build(Codec codec = Codec::kNone, int level = 0, ProducerInfo producer = {});

 private:
  std::string records_;
  std::string scratch_;
  int32_t count_ = 0;
  int64_t base_timestamp_ = 0;
  int64_t max_timestamp_ = kNoTimestamp;
};

// Returns a copy of an uncompressed `batch` with its records compressed by `codec` (attributes and
// CRC updated). Fails with kInvalidArgument if the batch is already compressed.
Result<std::string> CompressBatch(Bytes batch, const BatchHeader& header, Codec codec, int level);
// The same with zstd and `dictionary` (at the dictionary's level): the records section is one zstd
// frame that names the dictionary's id.
Result<std::string> CompressBatch(Bytes batch, const BatchHeader& header,
                                  const base::ZstdDictionary& dictionary);

// The dictionary id the zstd frame of a zstd batch names (0: none, or not a zstd batch).
uint32_t BatchDictionaryId(Bytes batch, const BatchHeader& header);

// Returns a copy of `batch` with its records section decompressed: the attributes' codec bits set
// to none, batch length and CRC-32C recomputed, every other field (base offset, leader epoch,
// timestamps, producer fields, record count, the other attribute bits) unchanged. For serving a
// stored compressed batch to a client that cannot read its codec. An uncompressed `batch` is
// returned unchanged. Malformed compressed data is kCorruption; a records section that would
// decompress to more than `max_decompressed_bytes` is kOutOfRange. The records themselves are not
// decoded, and `batch`'s own CRC-32C is not checked. A zstd batch that names a dictionary needs
// `dictionaries` (base::Decompress).
Result<std::string> DecompressBatch(
    Bytes batch, const BatchHeader& header,
    size_t max_decompressed_bytes = RecordDecoder::kMaxDecompressedBytes,
    const base::ZstdDictionaries* dictionaries = nullptr);

// Largest record timestamp in the batch, read from the records themselves (for producers that
// leave the header's maxTimestamp at -1).
Result<int64_t> ComputeMaxTimestamp(Bytes batch, const BatchHeader& header);

}  // namespace sluice::segment

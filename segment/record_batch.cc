#include "segment/record_batch.h"

#include <algorithm>

#include "segment/base/checksum.h"

namespace sluice::segment {
namespace {

using base::ErrorCode;
using base::LoadBE;
using base::MakeError;
using base::StoreBE;

Error Corrupt(std::string detail) {
  return MakeError(ErrorCode::kCorruption, "record batch: " + std::move(detail));
}

void PutNullable(std::string& out, std::optional<std::string_view> v) {
  if (!v) {
    base::PutVarint(out, -1);
    return;
  }
  base::PutVarint(out, static_cast<int64_t>(v->size()));
  out.append(*v);
}

}  // namespace

Result<BatchHeader> ParseBatchHeader(Bytes batch) {
  if (batch.size() < kBatchHeaderSize) {
    return Corrupt("batch of " + std::to_string(batch.size()) +
                   " bytes is shorter than its header");
  }
  const std::byte* p = batch.data();
  BatchHeader h;
  h.base_offset = LoadBE<int64_t>(p + batch_field::kBaseOffset);
  h.batch_length = LoadBE<int32_t>(p + batch_field::kBatchLength);
  h.partition_leader_epoch = LoadBE<int32_t>(p + batch_field::kLeaderEpoch);
  auto magic = static_cast<int8_t>(p[batch_field::kMagic]);
  h.crc = LoadBE<uint32_t>(p + batch_field::kCrc);
  h.attributes = LoadBE<int16_t>(p + batch_field::kAttributes);
  h.last_offset_delta = LoadBE<int32_t>(p + batch_field::kLastOffsetDelta);
  h.base_timestamp = LoadBE<int64_t>(p + batch_field::kBaseTimestamp);
  h.max_timestamp = LoadBE<int64_t>(p + batch_field::kMaxTimestamp);
  h.producer_id = LoadBE<int64_t>(p + batch_field::kProducerId);
  h.producer_epoch = LoadBE<int16_t>(p + batch_field::kProducerEpoch);
  h.base_sequence = LoadBE<int32_t>(p + batch_field::kBaseSequence);
  h.record_count = LoadBE<int32_t>(p + batch_field::kRecordCount);
  if (magic != 2) return Corrupt("magic " + std::to_string(magic) + ", expected 2");
  if (h.batch_length < 0 || h.size_bytes() != batch.size()) {
    return Corrupt("batch length " + std::to_string(h.batch_length) + " does not match its " +
                   std::to_string(batch.size()) + " bytes");
  }
  if (h.record_count < 0) return Corrupt("negative record count");
  if (h.last_offset_delta < 0) return Corrupt("negative last offset delta");
  if (h.record_count > 0 && h.last_offset_delta < h.record_count - 1) {
    return Corrupt("last offset delta " + std::to_string(h.last_offset_delta) + " is below " +
                   std::to_string(h.record_count) + " records");
  }
  if ((h.attributes & 0x7) > 4) {
    return Corrupt("unknown compression codec " + std::to_string(h.attributes & 0x7));
  }
  return h;
}

Status VerifyBatchCrc(Bytes batch, const BatchHeader& header) {
  uint32_t crc = base::Crc32c(batch.subspan(batch_field::kAttributes));
  if (crc != header.crc) return Corrupt("CRC-32C mismatch");
  return {};
}

void UpdateBatchCrc(std::span<std::byte> batch) {
  uint32_t crc = base::Crc32c(Bytes(batch).subspan(batch_field::kAttributes));
  StoreBE<uint32_t>(batch.data() + batch_field::kCrc, crc);
}

void SetBaseOffset(std::span<std::byte> batch, Offset offset) {
  StoreBE<int64_t>(batch.data() + batch_field::kBaseOffset, offset.value());
}

Status RecordDecoder::Reset(Bytes batch) {
  ASSIGN_OR_RETURN(BatchHeader h, ParseBatchHeader(batch));
  return Reset(batch, h);
}

Status RecordDecoder::Reset(Bytes batch, const BatchHeader& header) {
  header_ = header;
  pos_ = 0;
  record_start_ = 0;
  index_ = 0;
  Bytes body = batch.subspan(kBatchHeaderSize);
  if (header.codec() == Codec::kNone) {
    records_ = body;
    return {};
  }
  ASSIGN_OR_RETURN(size_t n, base::DecompressReusing(header.codec(), body, scratch_,
                                                     max_decompressed_bytes_, dictionaries_));
  records_ = base::AsBytes(scratch_).first(n);
  return {};
}

namespace {

// A bounds-checked cursor over one record's bytes. A read past `end` or a malformed varint clears
// `ok` (and returns a harmless value); callers check `ok` once per field group.
struct RecordCursor {
  const std::byte* p;
  const std::byte* end;
  bool ok = true;

  size_t remaining() const { return static_cast<size_t>(end - p); }

  int64_t Varint(bool is32) {
    // One and two bytes (values below 8192: lengths of records up to 4 KiB, offset deltas within a
    // batch) are most varints; they skip the loop.
    if (end - p >= 2) {
      const auto b0 = static_cast<uint8_t>(p[0]);
      if (b0 < 0x80) {
        ++p;
        return base::ZigZagDecode(b0);
      }
      const auto b1 = static_cast<uint8_t>(p[1]);
      if (b1 < 0x80) {
        p += 2;
        return base::ZigZagDecode(static_cast<uint64_t>(b0 & 0x7f) |
                                  (static_cast<uint64_t>(b1) << 7));
      }
    } else if (p < end && static_cast<uint8_t>(*p) < 0x80) {
      return base::ZigZagDecode(static_cast<uint8_t>(*p++));
    }
    uint64_t u = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p >= end) break;
      const auto b = static_cast<uint8_t>(*p++);
      u |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        const int64_t v = base::ZigZagDecode(u);
        if (is32 && (v < INT32_MIN || v > INT32_MAX)) break;
        return v;
      }
    }
    ok = false;
    return 0;
  }

  std::optional<std::string_view> Nullable() {
    const int64_t len = Varint(true);
    if (!ok || len < -1) {
      ok = false;
      return std::nullopt;
    }
    if (len == -1) return std::nullopt;
    if (static_cast<uint64_t>(len) > remaining()) {
      ok = false;
      return std::nullopt;
    }
    std::string_view s(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
    p += len;
    return s;
  }
};

}  // namespace

Result<bool> RecordDecoder::Next(RecordView& v) {
  if (index_ >= header_.record_count) {
    if (pos_ != records_.size()) {
      return Corrupt(std::to_string(records_.size() - pos_) + " bytes after the last record");
    }
    return false;
  }
  RecordCursor outer{records_.data() + pos_, records_.data() + records_.size()};
  const int64_t len = outer.Varint(true);
  if (!outer.ok || len < 0 || static_cast<uint64_t>(len) > outer.remaining()) {
    return Corrupt("record " + std::to_string(index_) + " has a bad length");
  }
  RecordCursor rec{outer.p, outer.p + len};
  rec.ok = rec.p < rec.end;
  if (rec.ok) ++rec.p;  // attributes: unused
  const int64_t ts_delta = rec.ok ? rec.Varint(false) : 0;
  const int64_t offset_delta = rec.ok ? rec.Varint(true) : 0;
  if (rec.ok) v.key = rec.Nullable();
  if (rec.ok) v.value = rec.Nullable();
  const int64_t header_count = rec.ok ? rec.Varint(true) : 0;
  if (!rec.ok || header_count < 0 || static_cast<uint64_t>(header_count) > rec.remaining()) {
    return Corrupt("record " + std::to_string(index_) + " is malformed");
  }
  headers_.clear();
  for (int64_t i = 0; i < header_count; ++i) {
    const int64_t klen = rec.Varint(true);
    if (!rec.ok || klen < 0) return Corrupt("record header key is malformed");
    if (static_cast<uint64_t>(klen) > rec.remaining()) {
      return Corrupt("record header key is truncated");
    }
    RecordHeader h;
    h.key = std::string_view(reinterpret_cast<const char*>(rec.p), static_cast<size_t>(klen));
    rec.p += klen;
    h.value = rec.Nullable();
    if (!rec.ok) return Corrupt("record header value is malformed");
    headers_.push_back(h);
  }
  if (rec.p != rec.end) return Corrupt("record " + std::to_string(index_) + " has extra bytes");
  if (offset_delta < 0 || offset_delta > header_.last_offset_delta) {
    return Corrupt("record offset delta " + std::to_string(offset_delta) + " out of range");
  }
  // The deltas come from disk or the network: a sum that overflows is corruption, not UB.
  if (__builtin_add_overflow(header_.base_offset, offset_delta, &v.offset)) {
    return Corrupt("record " + std::to_string(index_) + " offset overflows");
  }
  if (header_.log_append_time()) {
    v.timestamp = header_.max_timestamp;
  } else if (__builtin_add_overflow(header_.base_timestamp, ts_delta, &v.timestamp)) {
    return Corrupt("record " + std::to_string(index_) + " timestamp overflows");
  }
  v.headers = headers_;
  record_start_ = pos_;
  pos_ = static_cast<size_t>(rec.end - records_.data());
  ++index_;
  return true;
}

Result<std::optional<RecordView>> RecordDecoder::Next() {
  RecordView v;
  ASSIGN_OR_RETURN(bool more, Next(v));
  if (!more) return std::optional<RecordView>();
  return std::optional<RecordView>(v);
}

void BatchBuilder::Add(std::optional<std::string_view> key, std::optional<std::string_view> value,
                       int64_t timestamp_ms, std::span<const RecordHeader> headers) {
  if (count_ == 0) base_timestamp_ = timestamp_ms;
  max_timestamp_ = std::max(max_timestamp_, timestamp_ms);
  scratch_.clear();
  scratch_.push_back('\0');  // attributes
  base::PutVarint(scratch_, timestamp_ms - base_timestamp_);
  base::PutVarint(scratch_, count_);
  PutNullable(scratch_, key);
  PutNullable(scratch_, value);
  base::PutVarint(scratch_, static_cast<int64_t>(headers.size()));
  for (const RecordHeader& h : headers) {
    base::PutVarint(scratch_, static_cast<int64_t>(h.key.size()));
    scratch_.append(h.key);
    PutNullable(scratch_, h.value);
  }
  base::PutVarint(records_, static_cast<int64_t>(scratch_.size()));
  records_ += scratch_;
  ++count_;
}

Result<std::string> BatchBuilder::Build(Codec codec, int level, ProducerInfo producer) {
  std::string out(kBatchHeaderSize, '\0');
  RETURN_IF_ERROR(base::Compress(codec, level, base::AsBytes(records_), out));
  auto* p = reinterpret_cast<std::byte*>(out.data());
  StoreBE<int64_t>(p + batch_field::kBaseOffset, 0);
  StoreBE<int32_t>(p + batch_field::kBatchLength, static_cast<int32_t>(out.size() - 12));
  StoreBE<int32_t>(p + batch_field::kLeaderEpoch, -1);
  p[batch_field::kMagic] = std::byte{2};
  StoreBE<int16_t>(p + batch_field::kAttributes, static_cast<int16_t>(codec));
  StoreBE<int32_t>(p + batch_field::kLastOffsetDelta, count_ == 0 ? 0 : count_ - 1);
  StoreBE<int64_t>(p + batch_field::kBaseTimestamp, base_timestamp_);
  StoreBE<int64_t>(p + batch_field::kMaxTimestamp, max_timestamp_);
  StoreBE<int64_t>(p + batch_field::kProducerId, producer.producer_id);
  StoreBE<int16_t>(p + batch_field::kProducerEpoch, producer.producer_epoch);
  StoreBE<int32_t>(p + batch_field::kBaseSequence, producer.base_sequence);
  StoreBE<int32_t>(p + batch_field::kRecordCount, count_);
  UpdateBatchCrc({p, out.size()});
  records_.clear();
  count_ = 0;
  max_timestamp_ = kNoTimestamp;
  return out;
}

namespace {

// Sets the length, codec and CRC of a batch whose records section `out` now holds compressed.
void FinishCompressedBatch(std::string& out, const BatchHeader& header, Codec codec) {
  auto* p = reinterpret_cast<std::byte*>(out.data());
  StoreBE<int32_t>(p + batch_field::kBatchLength, static_cast<int32_t>(out.size() - 12));
  auto attrs = static_cast<int16_t>((header.attributes & ~0x7) | static_cast<int16_t>(codec));
  StoreBE<int16_t>(p + batch_field::kAttributes, attrs);
  UpdateBatchCrc({p, out.size()});
}

}  // namespace

Result<std::string> CompressBatch(Bytes batch, const BatchHeader& header,
                                  const base::ZstdDictionary& dictionary) {
  if (header.codec() != Codec::kNone) {
    return MakeError(ErrorCode::kInvalidArgument, "batch is already compressed");
  }
  std::string out(base::AsString(batch.first(kBatchHeaderSize)));
  RETURN_IF_ERROR(dictionary.Compress(batch.subspan(kBatchHeaderSize), out));
  FinishCompressedBatch(out, header, Codec::kZstd);
  return out;
}

uint32_t BatchDictionaryId(Bytes batch, const BatchHeader& header) {
  if (header.codec() != Codec::kZstd || batch.size() <= kBatchHeaderSize) return 0;
  return base::ZstdFrameDictionaryId(batch.subspan(kBatchHeaderSize));
}

Result<std::string> CompressBatch(Bytes batch, const BatchHeader& header, Codec codec, int level) {
  if (header.codec() != Codec::kNone) {
    return MakeError(ErrorCode::kInvalidArgument, "batch is already compressed");
  }
  std::string out(base::AsString(batch.first(kBatchHeaderSize)));
  RETURN_IF_ERROR(base::Compress(codec, level, batch.subspan(kBatchHeaderSize), out));
  auto* p = reinterpret_cast<std::byte*>(out.data());
  StoreBE<int32_t>(p + batch_field::kBatchLength, static_cast<int32_t>(out.size() - 12));
  auto attrs = static_cast<int16_t>((header.attributes & ~0x7) | static_cast<int16_t>(codec));
  StoreBE<int16_t>(p + batch_field::kAttributes, attrs);
  UpdateBatchCrc({p, out.size()});
  return out;
}

Result<std::string> DecompressBatch(Bytes batch, const BatchHeader& header,
                                    size_t max_decompressed_bytes,
                                    const base::ZstdDictionaries* dictionaries) {
  SLUICE_CHECK(batch.size() >= kBatchHeaderSize, "DecompressBatch of an unparsed batch");
  if (header.codec() == Codec::kNone) return std::string(base::AsString(batch));
  std::string out(base::AsString(batch.first(kBatchHeaderSize)));
  max_decompressed_bytes = std::min(max_decompressed_bytes, RecordDecoder::kMaxDecompressedBytes);
  RETURN_IF_ERROR(base::Decompress(header.codec(), batch.subspan(kBatchHeaderSize), out,
                                   max_decompressed_bytes, dictionaries));
  // kMaxDecompressedBytes keeps the length within the i32 batch length field.
  auto* p = reinterpret_cast<std::byte*>(out.data());
  StoreBE<int32_t>(p + batch_field::kBatchLength, static_cast<int32_t>(out.size() - 12));
  StoreBE<int16_t>(p + batch_field::kAttributes, static_cast<int16_t>(header.attributes & ~0x7));
  UpdateBatchCrc({p, out.size()});
  return out;
}

Result<int64_t> ComputeMaxTimestamp(Bytes batch, const BatchHeader& header) {
  RecordDecoder decoder;
  RETURN_IF_ERROR(decoder.Reset(batch, header));
  int64_t max_ts = kNoTimestamp;
  for (;;) {
    ASSIGN_OR_RETURN(auto rec, decoder.Next());
    if (!rec) return max_ts;
    max_ts = std::max(max_ts, rec->timestamp);
  }
}

}  // namespace sluice::segment

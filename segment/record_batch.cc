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

std::optional<std::string_view> ReadNullableBytes(base::ByteReader& r, bool& ok) {
  auto len = r.Varint(32);
  if (!len || *len < -1) {
    ok = false;
    return std::nullopt;
  }
  if (*len == -1) return std::nullopt;
  auto bytes = r.Take(static_cast<size_t>(*len));
  if (!bytes) {
    ok = false;
    return std::nullopt;
  }
  return base::AsString(*bytes);
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
    return Corrupt("batch of " + std::to_string(batch.size()) + " bytes is shorter than its header");
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
  index_ = 0;
  Bytes body = batch.subspan(kBatchHeaderSize);
  if (header.codec() == Codec::kNone) {
    records_ = body;
    return {};
  }
  scratch_.clear();
  RETURN_IF_ERROR(base::Decompress(header.codec(), body, scratch_, kMaxDecompressedBytes));
  records_ = base::AsBytes(scratch_);
  return {};
}

Result<std::optional<RecordView>> RecordDecoder::Next() {
  if (index_ >= header_.record_count) {
    if (pos_ != records_.size()) {
      return Corrupt(std::to_string(records_.size() - pos_) + " bytes after the last record");
    }
    return std::optional<RecordView>();
  }
  base::ByteReader r(records_.subspan(pos_));
  auto len = r.Varint(32);
  if (!len || *len < 0 || static_cast<size_t>(*len) > r.remaining()) {
    return Corrupt("record " + std::to_string(index_) + " has a bad length");
  }
  const size_t end = r.position() + static_cast<size_t>(*len);
  base::ByteReader rec(records_.subspan(pos_ + r.position(), static_cast<size_t>(*len)));
  bool ok = rec.Take(1).has_value();  // attributes: unused
  auto ts_delta = rec.Varint(64);
  auto offset_delta = rec.Varint(32);
  ok = ok && ts_delta && offset_delta;
  RecordView v;
  if (ok) {
    v.key = ReadNullableBytes(rec, ok);
  }
  if (ok) v.value = ReadNullableBytes(rec, ok);
  auto header_count = ok ? rec.Varint(32) : std::nullopt;
  if (!ok || !header_count || *header_count < 0 ||
      static_cast<size_t>(*header_count) > rec.remaining()) {
    return Corrupt("record " + std::to_string(index_) + " is malformed");
  }
  headers_.clear();
  for (int64_t i = 0; i < *header_count; ++i) {
    auto klen = rec.Varint(32);
    if (!klen || *klen < 0) return Corrupt("record header key is malformed");
    auto key = rec.Take(static_cast<size_t>(*klen));
    if (!key) return Corrupt("record header key is truncated");
    RecordHeader h;
    h.key = base::AsString(*key);
    h.value = ReadNullableBytes(rec, ok);
    if (!ok) return Corrupt("record header value is malformed");
    headers_.push_back(h);
  }
  if (rec.remaining() != 0) return Corrupt("record " + std::to_string(index_) + " has extra bytes");
  if (*offset_delta < 0 || *offset_delta > header_.last_offset_delta) {
    return Corrupt("record offset delta " + std::to_string(*offset_delta) + " out of range");
  }
  v.offset = header_.base_offset + *offset_delta;
  v.timestamp = header_.log_append_time() ? header_.max_timestamp
                                          : header_.base_timestamp + *ts_delta;
  v.headers = headers_;
  pos_ += end;
  ++index_;
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

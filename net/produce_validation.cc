#include "net/produce_validation.h"

namespace sluice::net {

using base::ErrorCode;

base::Status ValidateProducedBatch(Bytes batch, segment::RecordDecoder& decoder) {
  ASSIGN_OR_RETURN(const segment::BatchHeader header, segment::ParseBatchHeader(batch));
  RETURN_IF_ERROR(segment::VerifyBatchCrc(batch, header));
  if (header.record_count <= 0 || header.last_offset_delta != header.record_count - 1) {
    return base::MakeError(ErrorCode::kCorruption, "record count " +
                                                       std::to_string(header.record_count) +
                                                       " does not match last offset delta " +
                                                       std::to_string(header.last_offset_delta));
  }
  RETURN_IF_ERROR(decoder.Reset(batch, header));
  segment::RecordView record;
  for (int64_t expected = header.base_offset;; ++expected) {
    ASSIGN_OR_RETURN(const bool more, decoder.Next(record));
    if (!more) return {};
    if (record.offset != expected) {
      return base::MakeError(ErrorCode::kCorruption,
                             "record offset delta " +
                                 std::to_string(record.offset - header.base_offset) + " where " +
                                 std::to_string(expected - header.base_offset) + " belongs");
    }
  }
}

base::Result<std::vector<Bytes>> SplitBatches(Bytes records, segment::RecordDecoder& decoder) {
  std::vector<Bytes> batches;
  size_t pos = 0;
  while (pos < records.size()) {
    if (records.size() - pos < segment::kBatchHeaderSize) {
      return base::MakeError(ErrorCode::kInvalidArgument,
                             "a record batch is cut short at byte " + std::to_string(pos));
    }
    const int32_t length =
        base::LoadBE<int32_t>(records.data() + pos + segment::batch_field::kBatchLength);
    const auto magic = static_cast<int8_t>(records[pos + segment::batch_field::kMagic]);
    if (magic != 2) {
      return base::MakeError(ErrorCode::kInvalidArgument,
                             "record batch magic " + std::to_string(magic) + " (only 2 is served)");
    }
    if (length < 0 || static_cast<size_t>(length) + 12 > records.size() - pos ||
        static_cast<size_t>(length) + 12 < segment::kBatchHeaderSize) {
      return base::MakeError(ErrorCode::kInvalidArgument,
                             "record batch length " + std::to_string(length) + " at byte " +
                                 std::to_string(pos) + " does not fit the request");
    }
    batches.push_back(records.subspan(pos, static_cast<size_t>(length) + 12));
    pos += static_cast<size_t>(length) + 12;
  }
  if (batches.empty()) return base::MakeError(ErrorCode::kInvalidArgument, "no record batch");
  // Kafka stores a partition's batches all or none: every batch is checked before the first is
  // appended, so a bad batch after a good one does not leave the good one stored under an error
  // answer (the client would retry it: duplicates).
  for (Bytes batch : batches) RETURN_IF_ERROR(ValidateProducedBatch(batch, decoder));
  return batches;
}

}  // namespace sluice::net

#include "segment/frame.h"

#include "segment/base/checksum.h"

namespace sluice::segment {

uint64_t FrameSeed(uint32_t payload_length, uint16_t type) {
  return static_cast<uint64_t>(payload_length) | (static_cast<uint64_t>(type) << 32);
}

void EncodeFramePrefix(FramePrefix& prefix, uint32_t payload_length, uint64_t checksum) {
  base::StoreLE<uint32_t>(prefix.data(), payload_length);
  base::StoreLE<uint16_t>(prefix.data() + 4, format::kFrameTypeRecordBatchV2);
  base::StoreLE<uint16_t>(prefix.data() + 6, 0);
  base::StoreLE<uint64_t>(prefix.data() + 8, checksum);
}

FrameRead ReadFrame(Bytes data, FilePos pos, FrameVerify verify) {
  FrameRead out;
  const uint64_t at = pos.value();
  if (at == data.size()) {
    out.kind = FrameRead::Kind::kEnd;
    return out;
  }
  if (at > data.size() || data.size() - at < format::kFramePrefixSize) {
    out.error = "frame prefix runs past the end of the file";
    return out;
  }
  const std::byte* p = data.data() + at;
  auto length = base::LoadLE<uint32_t>(p);
  auto type = base::LoadLE<uint16_t>(p + 4);
  auto reserved = base::LoadLE<uint16_t>(p + 6);
  auto checksum = base::LoadLE<uint64_t>(p + 8);
  if (length == 0 && type == format::kFrameTypeUnused && reserved == 0 && checksum == 0) {
    out.kind = FrameRead::Kind::kEnd;
    return out;
  }
  if (type != format::kFrameTypeRecordBatchV2 || reserved != 0) {
    out.error = "unknown frame type " + std::to_string(type);
    return out;
  }
  if (length < kBatchHeaderSize || length > format::kMaxFramePayload) {
    out.error = "bad frame length " + std::to_string(length);
    return out;
  }
  if (length > data.size() - at - format::kFramePrefixSize) {
    out.error = "frame of " + std::to_string(length) + " bytes runs past the end of the file";
    return out;
  }
  Bytes payload = data.subspan(at + format::kFramePrefixSize, length);
  if (verify == FrameVerify::kChecksum &&
      base::Xxh3(payload, FrameSeed(length, type)) != checksum) {
    out.error = "frame checksum mismatch";
    return out;
  }
  auto header = ParseBatchHeader(payload);
  if (!header) {
    out.error = header.error().context;
    return out;
  }
  out.kind = FrameRead::Kind::kFrame;
  out.frame = Frame{pos, payload, *header};
  return out;
}

}  // namespace sluice::segment

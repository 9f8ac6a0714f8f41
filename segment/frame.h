#pragma once

// A frame: the unit sluice writes, checksums and indexes. One frame = a 16-byte prefix (payload
// length, type, XXH3-64) + one Kafka RecordBatch v2. Layout: segment/FORMAT.md, "Frames".

#include <array>
#include <cstdint>
#include <string>

#include "segment/base/coding.h"
#include "segment/base/result.h"
#include "segment/format.h"
#include "segment/record_batch.h"

namespace sluice::segment {

using base::FilePos;
using FramePrefix = std::array<std::byte, format::kFramePrefixSize>;

// The checksum seed: prefix bytes 0..8 (length, type, reserved) as a little-endian u64.
uint64_t FrameSeed(uint32_t payload_length, uint16_t type);

// Fills `prefix` for a record-batch payload whose XXH3-64 (with FrameSeed) is `checksum`.
void EncodeFramePrefix(FramePrefix& prefix, uint32_t payload_length, uint64_t checksum);

// A validated frame inside a mapping. `batch` points into the mapping.
struct Frame {
  FilePos pos;  // position of the prefix
  Bytes batch;  // the payload: one Kafka RecordBatch v2
  BatchHeader header;
  uint64_t size_bytes() const { return format::kFramePrefixSize + batch.size(); }
  FilePos end() const { return pos + size_bytes(); }
};

enum class FrameVerify : uint8_t {
  kHeaderOnly,  // bounds, length, type, batch header; no checksum (index rebuild of trusted data)
  kChecksum,    // also the XXH3-64 of the payload
};

// Outcome of reading the frame at a position.
struct FrameRead {
  enum class Kind : uint8_t {
    kFrame,  // `frame` is valid
    kEnd,    // zeroed space (type 0, length 0) or exactly the end of `data`: no frame here
    kBad,    // `error` says what is wrong (torn, corrupt, out of bounds)
  };
  Kind kind = Kind::kBad;
  Frame frame;
  std::string error;
};

// Reads the frame at `pos` of `data` (the bytes of a segment file up to the end known to be
// written). Never reads outside `data`.
FrameRead ReadFrame(Bytes data, FilePos pos, FrameVerify verify);

}  // namespace sluice::segment

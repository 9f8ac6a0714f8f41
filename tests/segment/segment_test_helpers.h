#pragma once

// Helpers shared by the segment-layer tests (tests/segment/**): error assertions and building
// frames exactly as a log writes them.

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>

#include "segment/base/checksum.h"
#include "segment/base/codec.h"
#include "segment/base/coding.h"
#include "segment/base/result.h"
#include "segment/base/strong_int.h"
#include "segment/frame.h"
#include "segment/record_batch.h"

namespace sluice::base {

// Names codecs in gtest output ("zstd", not "1-byte object <04>").
inline void PrintTo(Codec codec, std::ostream* os) { *os << CodecName(codec); }

// Prints offsets and positions as numbers.
template <typename Tag, typename Rep>
void PrintTo(StrongInt<Tag, Rep> v, std::ostream* os) {
  *os << v.value();
}

}  // namespace sluice::base

namespace sluice::testing {

// Succeeds if `r` failed with `code` and its context contains `fragment` (any context if empty).
template <typename R>
::testing::AssertionResult IsError(const R& r, base::ErrorCode code,
                                   std::string_view fragment = {}) {
  if (r.has_value()) return ::testing::AssertionFailure() << "succeeded, expected an error";
  const base::Error& e = r.error();
  if (e.code != code) {
    return ::testing::AssertionFailure()
           << "error code is " << base::ErrorCodeName(e.code) << ", expected "
           << base::ErrorCodeName(code) << " (" << e.ToString() << ")";
  }
  if (!fragment.empty() && e.context.find(fragment) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "context \"" << e.context << "\" lacks \"" << fragment << "\"";
  }
  return ::testing::AssertionSuccess();
}

inline std::byte* MutableData(std::string& s) { return reinterpret_cast<std::byte*>(s.data()); }

// XORs byte `pos` of `s` with `mask`.
inline void FlipByte(std::string& s, size_t pos, uint8_t mask = 0x01) {
  s[pos] = static_cast<char>(static_cast<uint8_t>(s[pos]) ^ mask);
}

// The frame checksum a writer computes for `batch`.
inline uint64_t FrameChecksum(std::string_view batch) {
  return base::Xxh3(base::AsBytes(batch),
                    segment::FrameSeed(static_cast<uint32_t>(batch.size()),
                                       segment::format::kFrameTypeRecordBatchV2));
}

inline std::string FramePrefixFor(std::string_view batch) {
  segment::FramePrefix prefix{};
  segment::EncodeFramePrefix(prefix, static_cast<uint32_t>(batch.size()), FrameChecksum(batch));
  return std::string(reinterpret_cast<const char*>(prefix.data()), prefix.size());
}

// Prefix + `batch` with its base offset set to `base_offset`, as the log appends it.
inline std::string MakeFrame(std::string batch, int64_t base_offset = 0) {
  segment::SetBaseOffset({MutableData(batch), batch.size()}, base::Offset(base_offset));
  return FramePrefixFor(batch) + batch;
}

}  // namespace sluice::testing

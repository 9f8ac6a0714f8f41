#pragma once

// Kafka wire primitives (https://kafka.apache.org/protocol#protocol_types): big-endian integers,
// int16-length strings, int32-length bytes and int32-count arrays, for non-flexible versions; and
// for flexible versions (KIP-482) unsigned varints, COMPACT_ strings, bytes and arrays (length or
// count + 1 as an unsigned varint, 0 = null) and tagged-field sections (a varint count of
// (varint tag, varint size, bytes)). We send no tagged fields and skip the ones we receive.
//
// WireReader never reads past its span and never trusts a length: a short or malformed field sets
// a sticky error (the first one wins) and every later read returns a zero value. Decoders read
// a whole message and check ok() once at the end. Array counts are bounded by the bytes left, so
// a hostile count cannot make a decoder allocate more than the request's own size.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "segment/base/coding.h"
#include "segment/base/result.h"

namespace sluice::net {

using base::Bytes;
using base::Result;
using base::Status;

class WireReader {
 public:
  explicit WireReader(Bytes data) : data_(data) {}

  int8_t Int8() { return Fixed<int8_t>(); }
  int16_t Int16() { return Fixed<int16_t>(); }
  int32_t Int32() { return Fixed<int32_t>(); }
  int64_t Int64() { return Fixed<int64_t>(); }
  uint32_t Uint32() { return Fixed<uint32_t>(); }
  bool Bool() { return Int8() != 0; }

  // STRING (int16 length; -1 is an error here) and NULLABLE_STRING (-1 = nullopt).
  std::string String() { return NullableString().value_or(std::string()); }
  std::optional<std::string> NullableString();
  // BYTES / NULLABLE_BYTES (int32 length); the view points into the reader's span.
  std::optional<Bytes> NullableBytes();
  Bytes BytesField() { return NullableBytes().value_or(Bytes()); }

  // An ARRAY's count: -1 (null) reads as 0. A count that could not fit in the bytes left, given
  // at least `min_element_bytes` per element, is an error.
  int32_t ArrayCount(size_t min_element_bytes = 1);

  // --- flexible versions ---
  uint32_t UnsignedVarint();  // at most 5 bytes, 32 bits
  // COMPACT_STRING (null is an error here) and COMPACT_NULLABLE_STRING.
  std::string CompactString() { return CompactNullableString().value_or(std::string()); }
  std::optional<std::string> CompactNullableString();
  // COMPACT_BYTES / COMPACT_NULLABLE_BYTES; the view points into the reader's span.
  std::optional<Bytes> CompactNullableBytes();
  Bytes CompactBytes() { return CompactNullableBytes().value_or(Bytes()); }
  // A COMPACT_ARRAY's count (null reads as 0), bounded as ArrayCount bounds it.
  int32_t CompactArrayCount(size_t min_element_bytes = 1) {
    return CompactNullableArrayCount(min_element_bytes).value_or(0);
  }
  // Likewise, nullopt for the null array.
  std::optional<int32_t> CompactNullableArrayCount(size_t min_element_bytes = 1);
  // Reads a tagged-field section and drops it (no tag is known to us).
  void SkipTaggedFields();

  // Skips `n` bytes (tagged fields of a flexible header are not needed: see DecodeRequestHeader).
  void Skip(size_t n);

  bool ok() const { return !error_.has_value(); }
  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  Bytes rest() const { return data_.subspan(pos_); }
  // The first error, naming `what` (the message being decoded) and the byte position.
  Status status(std::string_view what) const;
  void Fail(std::string message);

 private:
  template <typename T>
  T Fixed() {
    if (!Need(sizeof(T))) return T{};
    T v = base::LoadBE<T>(data_.data() + pos_);
    pos_ += sizeof(T);
    return v;
  }
  bool Need(size_t n);

  Bytes data_;
  size_t pos_ = 0;
  std::optional<std::string> error_;
};

class WireWriter {
 public:
  explicit WireWriter(std::string& out) : out_(out) {}

  void Int8(int8_t v) { Fixed(v); }
  void Int16(int16_t v) { Fixed(v); }
  void Int32(int32_t v) { Fixed(v); }
  void Int64(int64_t v) { Fixed(v); }
  void Uint32(uint32_t v) { Fixed(v); }
  void Bool(bool v) { Int8(v ? 1 : 0); }
  void String(std::string_view s);
  void NullableString(const std::optional<std::string>& s);
  void BytesField(Bytes b);
  void NullableBytes(const std::optional<std::string>& b);
  void ArrayCount(size_t n) { Int32(static_cast<int32_t>(n)); }
  // --- flexible versions ---
  void UnsignedVarint(uint32_t v);
  void CompactString(std::string_view s);
  void CompactNullableString(const std::optional<std::string>& s);
  void CompactBytes(Bytes b);
  void CompactArrayCount(size_t n) { UnsignedVarint(static_cast<uint32_t>(n + 1)); }
  void EmptyTaggedFields() { UnsignedVarint(0); }
  void Raw(std::string_view s) { out_.append(s); }

  size_t size() const { return out_.size(); }
  // Overwrites an int32 written earlier at `pos` (a length prefix filled in afterwards).
  void PatchInt32(size_t pos, int32_t v);

 private:
  template <typename T>
  void Fixed(T v) {
    char buf[sizeof(T)];
    base::StoreBE<T>(reinterpret_cast<std::byte*>(buf), v);
    out_.append(buf, sizeof(T));
  }
  std::string& out_;
};

}  // namespace sluice::net

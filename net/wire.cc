#include "net/wire.h"

namespace sluice::net {

bool WireReader::Need(size_t n) {
  if (error_) return false;
  if (remaining() < n) {
    Fail("needs " + std::to_string(n) + " bytes, " + std::to_string(remaining()) + " left");
    return false;
  }
  return true;
}

void WireReader::Fail(std::string message) {
  if (!error_) error_ = "at byte " + std::to_string(pos_) + ": " + std::move(message);
}

void WireReader::Skip(size_t n) {
  if (Need(n)) pos_ += n;
}

std::optional<std::string> WireReader::NullableString() {
  const int16_t len = Int16();
  if (!ok() || len < 0) {
    if (len < -1) Fail("string length " + std::to_string(len));
    return std::nullopt;
  }
  const auto n = static_cast<size_t>(len);
  if (!Need(n)) return std::nullopt;
  std::string s(reinterpret_cast<const char*>(data_.data() + pos_), n);
  pos_ += n;
  return s;
}

std::optional<Bytes> WireReader::NullableBytes() {
  const int32_t len = Int32();
  if (!ok() || len < 0) {
    if (len < -1) Fail("bytes length " + std::to_string(len));
    return std::nullopt;
  }
  const auto n = static_cast<size_t>(len);
  if (!Need(n)) return std::nullopt;
  Bytes b = data_.subspan(pos_, n);
  pos_ += n;
  return b;
}

int32_t WireReader::ArrayCount(size_t min_element_bytes) {
  const int32_t n = Int32();
  if (!ok() || n < 0) {
    if (n < -1) Fail("array count " + std::to_string(n));
    return 0;
  }
  if (static_cast<size_t>(n) > remaining() / (min_element_bytes == 0 ? 1 : min_element_bytes)) {
    Fail("array count " + std::to_string(n) + " exceeds the " + std::to_string(remaining()) +
         " bytes left");
    return 0;
  }
  return n;
}

uint32_t WireReader::UnsignedVarint() {
  uint32_t v = 0;
  for (int shift = 0; shift <= 28; shift += 7) {
    if (!Need(1)) return 0;
    const auto b = static_cast<uint8_t>(data_[pos_++]);
    if (shift == 28 && (b & 0xf0) != 0) {
      Fail("an unsigned varint longer than 32 bits");
      return 0;
    }
    v |= static_cast<uint32_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  return 0;  // unreachable: the fifth byte either ends the varint or fails
}

std::optional<std::string> WireReader::CompactNullableString() {
  std::optional<Bytes> b = CompactNullableBytes();
  if (!b) return std::nullopt;
  return std::string(base::AsString(*b));
}

std::optional<Bytes> WireReader::CompactNullableBytes() {
  const uint32_t len_plus_one = UnsignedVarint();
  if (!ok() || len_plus_one == 0) return std::nullopt;
  const size_t n = len_plus_one - 1;
  if (!Need(n)) return std::nullopt;
  Bytes b = data_.subspan(pos_, n);
  pos_ += n;
  return b;
}

std::optional<int32_t> WireReader::CompactNullableArrayCount(size_t min_element_bytes) {
  const uint32_t n_plus_one = UnsignedVarint();
  if (!ok()) return 0;
  if (n_plus_one == 0) return std::nullopt;
  const size_t n = n_plus_one - 1;
  if (n > remaining() / (min_element_bytes == 0 ? 1 : min_element_bytes)) {
    Fail("compact array count " + std::to_string(n) + " exceeds the " +
         std::to_string(remaining()) + " bytes left");
    return 0;
  }
  return static_cast<int32_t>(n);
}

void WireReader::SkipTaggedFields() {
  const uint32_t count = UnsignedVarint();
  for (uint32_t i = 0; i < count && ok(); ++i) {
    UnsignedVarint();  // tag
    const uint32_t size = UnsignedVarint();
    if (ok()) Skip(size);
  }
}

Status WireReader::status(std::string_view what) const {
  if (!error_) return {};
  return base::MakeError(base::ErrorCode::kInvalidArgument,
                         "malformed " + std::string(what) + " " + *error_);
}

void WireWriter::String(std::string_view s) {
  Int16(static_cast<int16_t>(s.size()));
  out_.append(s);
}

void WireWriter::NullableString(const std::optional<std::string>& s) {
  if (!s) {
    Int16(-1);
  } else {
    String(*s);
  }
}

void WireWriter::BytesField(Bytes b) {
  Int32(static_cast<int32_t>(b.size()));
  out_.append(base::AsString(b));
}

void WireWriter::NullableBytes(const std::optional<std::string>& b) {
  if (!b) {
    Int32(-1);
  } else {
    BytesField(base::AsBytes(*b));
  }
}

void WireWriter::UnsignedVarint(uint32_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void WireWriter::CompactString(std::string_view s) {
  UnsignedVarint(static_cast<uint32_t>(s.size() + 1));
  out_.append(s);
}

void WireWriter::CompactNullableString(const std::optional<std::string>& s) {
  if (!s) {
    UnsignedVarint(0);
  } else {
    CompactString(*s);
  }
}

void WireWriter::CompactBytes(Bytes b) {
  UnsignedVarint(static_cast<uint32_t>(b.size() + 1));
  out_.append(base::AsString(b));
}

void WireWriter::PatchInt32(size_t pos, int32_t v) {
  base::StoreBE<int32_t>(reinterpret_cast<std::byte*>(out_.data() + pos), v);
}

}  // namespace sluice::net

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

void WireWriter::PatchInt32(size_t pos, int32_t v) {
  base::StoreBE<int32_t>(reinterpret_cast<std::byte*>(out_.data() + pos), v);
}

}  // namespace sluice::net

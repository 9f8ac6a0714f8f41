#pragma once

// Fixed-width integer coding (little-endian for sluice's own files, big-endian for Kafka's wire and
// batch layout) and Kafka's zigzag varints. Decoders never read past the span they are given.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <type_traits>

namespace sluice::base {

using Bytes = std::span<const std::byte>;
using MutableBytes = std::span<std::byte>;

inline Bytes AsBytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}
inline std::string_view AsString(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

template <typename T>
constexpr T ByteSwap(T v) {
  static_assert(std::is_integral_v<T>);
  if constexpr (sizeof(T) == 1) {
    return v;
  } else if constexpr (sizeof(T) == 2) {
    return static_cast<T>(__builtin_bswap16(static_cast<uint16_t>(v)));
  } else if constexpr (sizeof(T) == 4) {
    return static_cast<T>(__builtin_bswap32(static_cast<uint32_t>(v)));
  } else {
    return static_cast<T>(__builtin_bswap64(static_cast<uint64_t>(v)));
  }
}

template <typename T>
inline T LoadLE(const std::byte* p) {
  static_assert(std::is_integral_v<T>);
  T v;
  std::memcpy(&v, p, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) v = ByteSwap(v);
  return v;
}
template <typename T>
inline void StoreLE(std::byte* p, T v) {
  static_assert(std::is_integral_v<T>);
  std::memcpy(p, &v, sizeof(T));
}

template <typename T>
inline T LoadBE(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return ByteSwap(v);
}
template <typename T>
inline void StoreBE(std::byte* p, T v) {
  v = ByteSwap(v);
  std::memcpy(p, &v, sizeof(T));
}

inline uint64_t ZigZagEncode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t ZigZagDecode(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// Appends a zigzag varint (Kafka's varint/varlong) to `out`.
inline void PutVarint(std::string& out, int64_t v) {
  uint64_t u = ZigZagEncode(v);
  while (u >= 0x80) {
    out.push_back(static_cast<char>((u & 0x7f) | 0x80));
    u >>= 7;
  }
  out.push_back(static_cast<char>(u));
}

inline size_t VarintSize(int64_t v) {
  uint64_t u = ZigZagEncode(v);
  size_t n = 1;
  while (u >= 0x80) {
    u >>= 7;
    ++n;
  }
  return n;
}

// The one bounds-checked cursor over bytes from disk or the network: big-endian (Kafka),
// little-endian (sluice's own files) and varint fields. Every getter returns nullopt instead of
// reading past the end; once a read fails the reader stays failed.
class ByteReader {
 public:
  explicit ByteReader(Bytes data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  bool failed() const { return failed_; }

  template <typename T>
  std::optional<T> BE() {
    if (!Need(sizeof(T))) return std::nullopt;
    T v = LoadBE<T>(data_.data() + pos_);
    pos_ += sizeof(T);
    return v;
  }
  template <typename T>
  std::optional<T> LE() {
    if (!Need(sizeof(T))) return std::nullopt;
    T v = LoadLE<T>(data_.data() + pos_);
    pos_ += sizeof(T);
    return v;
  }

  // Kafka varint (zigzag), at most 10 bytes; `max_bits` 32 for varint, 64 for varlong.
  std::optional<int64_t> Varint(int max_bits = 64) {
    uint64_t u = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (!Need(1)) return std::nullopt;
      auto b = static_cast<uint8_t>(data_[pos_++]);
      u |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        int64_t v = ZigZagDecode(u);
        if (max_bits == 32 && (v < INT32_MIN || v > INT32_MAX)) return Fail<int64_t>();
        return v;
      }
    }
    return Fail<int64_t>();
  }

  std::optional<Bytes> Take(size_t n) {
    if (!Need(n)) return std::nullopt;
    Bytes out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

 private:
  bool Need(size_t n) {
    if (failed_ || n > data_.size() - pos_) {
      failed_ = true;
      return false;
    }
    return true;
  }
  template <typename T>
  std::optional<T> Fail() {
    failed_ = true;
    return std::nullopt;
  }

  Bytes data_;
  size_t pos_ = 0;
  bool failed_ = false;
};

}  // namespace sluice::base

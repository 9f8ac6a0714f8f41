#pragma once

// Distinct integer types for logical offsets and file positions, so that one is never passed where
// the other is expected. Arithmetic that mixes them does not compile; `.value()` is the way out.

#include <compare>
#include <cstdint>
#include <functional>

namespace sluice::base {

template <typename Tag, typename Rep>
class StrongInt {
 public:
  using rep = Rep;
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(Rep v) : v_(v) {}
  constexpr Rep value() const { return v_; }

  constexpr auto operator<=>(const StrongInt&) const = default;

  constexpr StrongInt operator+(Rep d) const { return StrongInt(v_ + d); }
  constexpr StrongInt operator-(Rep d) const { return StrongInt(v_ - d); }
  constexpr StrongInt& operator+=(Rep d) {
    v_ += d;
    return *this;
  }
  // Distance between two values of the same kind.
  constexpr Rep operator-(StrongInt o) const { return v_ - o.v_; }

 private:
  Rep v_ = 0;
};

// A record's logical position in a partition: 0, 1, 2, ... Never reused.
using Offset = StrongInt<struct OffsetTag, int64_t>;
// A byte position inside one file.
using FilePos = StrongInt<struct FilePosTag, uint64_t>;

}  // namespace sluice::base

template <typename Tag, typename Rep>
struct std::hash<sluice::base::StrongInt<Tag, Rep>> {
  size_t operator()(sluice::base::StrongInt<Tag, Rep> v) const noexcept {
    return std::hash<Rep>()(v.value());
  }
};

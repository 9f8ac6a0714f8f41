#pragma once

// Result<T> and Status: how every fallible call in segment/, engine/ and net/ reports failure.
// Names follow std::expected (has_value, value, error, and_then, or_else) so that moving to C++23
// touches this file only. Both types are [[nodiscard]]: dropping an error on purpose is spelled
// `.IgnoreError()`.

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "segment/base/check.h"

namespace sluice::base {

enum class ErrorCode : uint8_t {
  kOk = 0,
  kIoError,
  kNoSpace,  // ENOSPC, EDQUOT, EFBIG: no room for the data (may succeed later)
  kCorruption,
  kNotFound,
  kAlreadyExists,
  kInvalidArgument,
  kOutOfRange,
  kClosed,
  kUnsupportedVersion,
  kPoisoned,  // an earlier write or fsync failed; the partition must be reopened
  kTimeout,
  kBusy,  // held by someone else (a locked data directory)
  kInternal,
  // Idempotent producer (Kafka semantics; see engine/producer_state.h).
  kProducerFenced,      // the batch's producer epoch is older than the partition's (Kafka 47)
  kOutOfOrderSequence,  // the batch's sequence does not follow the producer's last (Kafka 45)
  kTooLarge,            // a batch or request breaks a size limit (max.message.bytes, segment.bytes)
  kOffline,  // the partition's data is damaged below its recovery point; it is kept untouched
             // and refuses reads and writes until `sluice repair` (Kafka: KAFKA_STORAGE_ERROR)
  kRefused,  // the operation is not allowed on this object (e.g. deleting an internal topic)
  kInvalidRecord,  // a record the topic does not accept (a record without a key on a compacted
                   // topic: Kafka INVALID_RECORD, 87)
};

std::string_view ErrorCodeName(ErrorCode code);

// An error code plus a human-readable context naming the file, position or argument at fault.
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string context;

  // "corruption: 00000000000000000000.log at position 4096: bad frame checksum"
  std::string ToString() const;
};

// Builds an Error with the message `context`.
inline Error MakeError(ErrorCode code, std::string context) {
  return Error{code, std::move(context)};
}

// Builds an Error from errno for an operation on `what` (a path, usually).
Error ErrnoError(int err, std::string_view op, std::string_view what);

template <typename T>
class [[nodiscard]] Result {
 public:
  using value_type = T;

  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    SLUICE_CHECK(has_value(), "Result::value() on an error: " + std::get<1>(v_).ToString());
    return std::get<0>(v_);
  }
  const T& value() const& {
    SLUICE_CHECK(has_value(), "Result::value() on an error: " + std::get<1>(v_).ToString());
    return std::get<0>(v_);
  }
  T&& value() && {
    SLUICE_CHECK(has_value(), "Result::value() on an error: " + std::get<1>(v_).ToString());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    SLUICE_CHECK(!has_value(), "Result::error() on a value");
    return std::get<1>(v_);
  }
  Error&& error() && {
    SLUICE_CHECK(!has_value(), "Result::error() on a value");
    return std::get<1>(std::move(v_));
  }

  template <typename F>
  auto and_then(F&& f) && -> std::invoke_result_t<F, T&&> {
    if (!has_value()) return std::move(*this).error();
    return std::forward<F>(f)(std::move(*this).value());
  }
  template <typename F>
  Result or_else(F&& f) && {
    if (has_value()) return std::move(*this);
    return std::forward<F>(f)(std::move(*this).error());
  }

  void IgnoreError() const {}

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  using value_type = void;

  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const { SLUICE_CHECK(ok_, "Status::value() on an error: " + error_.ToString()); }

  const Error& error() const& {
    SLUICE_CHECK(!ok_, "Status::error() on success");
    return error_;
  }
  Error&& error() && {
    SLUICE_CHECK(!ok_, "Status::error() on success");
    return std::move(error_);
  }

  template <typename F>
  auto and_then(F&& f) && -> std::invoke_result_t<F> {
    if (!ok_) return std::move(error_);
    return std::forward<F>(f)();
  }
  template <typename F>
  Result or_else(F&& f) && {
    if (ok_) return {};
    return std::forward<F>(f)(std::move(error_));
  }

  void IgnoreError() const {}

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status OkStatus() { return {}; }

}  // namespace sluice::base

#define SLUICE_CONCAT_INNER_(a, b) a##b
#define SLUICE_CONCAT_(a, b) SLUICE_CONCAT_INNER_(a, b)

// Returns the error of `expr` (a Status or Result) from the enclosing function.
#define RETURN_IF_ERROR(expr)                                                  \
  do {                                                                         \
    auto&& sluice_status_ = (expr);                                            \
    if (!sluice_status_.has_value()) return std::move(sluice_status_).error(); \
  } while (false)

#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)         \
  auto tmp = (expr);                                   \
  if (!tmp.has_value()) return std::move(tmp).error(); \
  lhs = std::move(tmp).value()

// `ASSIGN_OR_RETURN(auto x, F());` declares x from F()'s value or returns F()'s error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(SLUICE_CONCAT_(sluice_result_, __LINE__), lhs, expr)

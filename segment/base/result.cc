#include "segment/base/result.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sluice::base {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kIoError:
      return "I/O error";
    case ErrorCode::kNoSpace:
      return "no space left on device";
    case ErrorCode::kCorruption:
      return "corruption";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kAlreadyExists:
      return "already exists";
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kOutOfRange:
      return "out of range";
    case ErrorCode::kClosed:
      return "closed";
    case ErrorCode::kUnsupportedVersion:
      return "unsupported version";
    case ErrorCode::kPoisoned:
      return "refusing writes after an earlier I/O failure";
    case ErrorCode::kTimeout:
      return "timed out";
    case ErrorCode::kBusy:
      return "busy";
    case ErrorCode::kInternal:
      return "internal error";
    case ErrorCode::kProducerFenced:
      return "producer fenced by a newer epoch";
    case ErrorCode::kOutOfOrderSequence:
      return "out-of-order sequence number";
    case ErrorCode::kTooLarge:
      return "too large";
    case ErrorCode::kOffline:
      return "partition offline";
    case ErrorCode::kRefused:
      return "refused";
    case ErrorCode::kInvalidRecord:
      return "invalid record";
  }
  return "unknown error";
}

std::string Error::ToString() const {
  std::string out(ErrorCodeName(code));
  if (!context.empty()) {
    out += ": ";
    out += context;
  }
  return out;
}

Error ErrnoError(int err, std::string_view op, std::string_view what) {
  ErrorCode code = ErrorCode::kIoError;
  // No room for the data: the disk, the quota, or the file-size limit (RLIMIT_FSIZE). Nothing
  // past the failed write was stored, and the same write may succeed once there is room again.
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) code = ErrorCode::kNoSpace;
  if (err == ENOENT) code = ErrorCode::kNotFound;
  if (err == EEXIST) code = ErrorCode::kAlreadyExists;
  std::string context(op);
  context += " ";
  context += what;
  context += ": ";
  context += std::strerror(err);
  return Error{code, std::move(context)};
}

void CheckFailed(const char* file, int line, const char* cond, std::string_view msg) {
  std::fprintf(stderr, "sluice: invariant violated at %s:%d: %s: %.*s\n", file, line, cond,
               static_cast<int>(msg.size()), msg.data());
  std::abort();
}

}  // namespace sluice::base

#pragma once

// Invariant checks. A failed SLUICE_CHECK means a bug in sluice, never bad input: bytes from disk
// or the network are validated and reported as Errors. SLUICE_CHECK stays on in release builds;
// SLUICE_DCHECK is for checks too costly for the hot path and is compiled out with NDEBUG.

#include <string_view>

namespace sluice::base {

[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, std::string_view msg);

}  // namespace sluice::base

#define SLUICE_CHECK(cond, msg)                                      \
  do {                                                               \
    if (__builtin_expect(!(cond), 0)) {                              \
      ::sluice::base::CheckFailed(__FILE__, __LINE__, #cond, (msg)); \
    }                                                                \
  } while (false)

#ifdef NDEBUG
#define SLUICE_DCHECK(cond, msg) \
  do {                           \
  } while (false && (cond))
#else
#define SLUICE_DCHECK(cond, msg) SLUICE_CHECK(cond, msg)
#endif

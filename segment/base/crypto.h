#pragma once

// Cryptographic primitives for SASL/SCRAM (RFC 5802, RFC 7677): hashes, HMAC, PBKDF2 (SCRAM's
// Hi()), secure random bytes and a constant-time comparison, over OpenSSL's libcrypto (the one
// file that includes it). Also the text encodings SCRAM and the users file need: base64 (RFC 4648,
// padded, strict) and lowercase hex.
//
// Thread-safety: every function may be called from any thread.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "segment/base/result.h"

namespace sluice::base {

enum class HashAlgorithm : uint8_t { kSha256, kSha512 };

// 32 for SHA-256, 64 for SHA-512.
size_t DigestBytes(HashAlgorithm algorithm);

std::string Hash(HashAlgorithm algorithm, std::string_view data);
std::string Hmac(HashAlgorithm algorithm, std::string_view key, std::string_view data);
// PBKDF2-HMAC with one output block (DigestBytes long): SCRAM's Hi(password, salt, iterations).
// `iterations` must be positive.
std::string Pbkdf2(HashAlgorithm algorithm, std::string_view password, std::string_view salt,
                   int iterations);

// `n` bytes from the operating system's secure random source (kInternal if it fails).
Result<std::string> SecureRandomBytes(size_t n);

// Whether `a` equals `b`, in time that depends only on their lengths.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

std::string Base64Encode(std::string_view data);
// Strict: padded, no whitespace, no characters outside the alphabet (kInvalidArgument).
Result<std::string> Base64Decode(std::string_view text);

std::string HexEncode(std::string_view data);
// Lower- or uppercase digits, an even count (kInvalidArgument otherwise).
Result<std::string> HexDecode(std::string_view text);

}  // namespace sluice::base

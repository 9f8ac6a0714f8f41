#include "segment/base/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "segment/base/check.h"

namespace sluice::base {
namespace {

const EVP_MD* Md(HashAlgorithm algorithm) {
  return algorithm == HashAlgorithm::kSha256 ? EVP_sha256() : EVP_sha512();
}

const unsigned char* Uchars(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

size_t DigestBytes(HashAlgorithm algorithm) {
  return algorithm == HashAlgorithm::kSha256 ? 32 : 64;
}

std::string Hash(HashAlgorithm algorithm, std::string_view data) {
  std::string out(DigestBytes(algorithm), '\0');
  unsigned int n = 0;
  const int ok = EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()),
                            &n, Md(algorithm), nullptr);
  SLUICE_CHECK(ok == 1 && n == out.size(), "EVP_Digest failed");
  return out;
}

std::string Hmac(HashAlgorithm algorithm, std::string_view key, std::string_view data) {
  std::string out(DigestBytes(algorithm), '\0');
  unsigned int n = 0;
  const unsigned char* ok =
      HMAC(Md(algorithm), key.data(), static_cast<int>(key.size()), Uchars(data), data.size(),
           reinterpret_cast<unsigned char*>(out.data()), &n);
  SLUICE_CHECK(ok != nullptr && n == out.size(), "HMAC failed");
  return out;
}

std::string Pbkdf2(HashAlgorithm algorithm, std::string_view password, std::string_view salt,
                   int iterations) {
  SLUICE_CHECK(iterations > 0, "PBKDF2 needs a positive iteration count");
  std::string out(DigestBytes(algorithm), '\0');
  const int ok =
      PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), Uchars(salt),
                        static_cast<int>(salt.size()), iterations, Md(algorithm),
                        static_cast<int>(out.size()), reinterpret_cast<unsigned char*>(out.data()));
  SLUICE_CHECK(ok == 1, "PKCS5_PBKDF2_HMAC failed");
  return out;
}

Result<std::string> SecureRandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return MakeError(ErrorCode::kInternal, "the secure random source failed (RAND_bytes)");
  }
  return out;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Base64Encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<unsigned char>(data[i])} << 16) |
                       (uint32_t{static_cast<unsigned char>(data[i + 1])} << 8) |
                       uint32_t{static_cast<unsigned char>(data[i + 2])};
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += kBase64Alphabet[v & 63];
  }
  const size_t left = data.size() - i;
  if (left > 0) {
    uint32_t v = uint32_t{static_cast<unsigned char>(data[i])} << 16;
    if (left == 2) v |= uint32_t{static_cast<unsigned char>(data[i + 1])} << 8;
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += left == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "base64 text of " + std::to_string(text.size()) + " characters");
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    size_t pad = 0;
    if (last && text[i + 3] == '=') pad = text[i + 2] == '=' ? 2 : 1;
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      int d = 0;
      if (k < 4 - pad) {
        d = Base64Value(text[i + k]);
        if (d < 0) {
          return MakeError(ErrorCode::kInvalidArgument,
                           "a character outside base64 at position " + std::to_string(i + k));
        }
      }
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out += static_cast<char>((v >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(v & 0xff);
  }
  return out;
}

std::string HexEncode(std::string_view data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (char c : data) {
    const auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

Result<std::string> HexDecode(std::string_view text) {
  if (text.size() % 2 != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "an odd number of hex digits");
  }
  std::string out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = HexValue(text[i]);
    const int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "a character outside hex at position " + std::to_string(i));
    }
    out += static_cast<char>((hi << 4) | lo);
  }
  return out;
}

}  // namespace sluice::base

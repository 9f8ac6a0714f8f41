#pragma once

// SCRAM users: the credentials SASL clients authenticate with (RFC 5802, RFC 7677; Kafka's
// SCRAM-SHA-256 and SCRAM-SHA-512), one per user and mechanism. A credential is what RFC 5802 has
// a server keep: the salt, the iteration count, StoredKey = H(HMAC(SaltedPassword, "Client Key"))
// and ServerKey = HMAC(SaltedPassword, "Server Key"). Neither the password nor SaltedPassword is
// ever stored; a stolen file allows no login without a dictionary attack on every user.
//
// Persisted as <data>/scram-users, a small file (segment/small_file.h; FORMAT.md "SCRAM users"),
// replaced atomically and durably before a change returns. A file that cannot be read (damaged, or
// of a newer version) is never overwritten: the store keeps the error, every lookup and change
// returns it (logins are refused with it), and the bytes stay for the operator.
//
// Thread-safety: ScramUserStore is internally locked; every method may be called from any thread.
// A change is visible to lookups once it is durable (the method returned).

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "segment/base/crypto.h"
#include "segment/base/result.h"
#include "segment/io/file_system.h"

namespace sluice::engine {

using base::Result;
using base::Status;

// Kafka's ScramMechanism codes (DescribeUserScramCredentials, AlterUserScramCredentials).
enum class ScramMechanism : int8_t { kSha256 = 1, kSha512 = 2 };
inline constexpr ScramMechanism kScramMechanisms[] = {ScramMechanism::kSha256,
                                                      ScramMechanism::kSha512};

// "SCRAM-SHA-256", "SCRAM-SHA-512".
std::string_view ScramMechanismName(ScramMechanism mechanism);
std::optional<ScramMechanism> ParseScramMechanism(std::string_view name);
// From Kafka's int8 code; nullopt for 0 (UNKNOWN) and anything else.
std::optional<ScramMechanism> ScramMechanismFromCode(int8_t code);
base::HashAlgorithm ScramHash(ScramMechanism mechanism);

// Kafka's bounds on iterations (ScramMechanism.minIterations; AlterUserScramCredentials refuses
// more than 16384).
inline constexpr int32_t kMinScramIterations = 4096;
inline constexpr int32_t kMaxScramIterations = 16384;
inline constexpr int32_t kDefaultScramIterations = 4096;
inline constexpr size_t kScramSaltBytes = 32;  // of a salt we generate
inline constexpr size_t kMaxScramUserNameBytes = 1024;

struct ScramCredential {
  std::string salt;        // raw bytes, non-empty
  std::string stored_key;  // raw, DigestBytes of the mechanism's hash
  std::string server_key;  // raw, likewise
  int32_t iterations = kDefaultScramIterations;
  bool operator==(const ScramCredential&) const = default;
};

// The credential for SaltedPassword = Hi(password, salt, iterations) (what Kafka's
// AlterUserScramCredentials carries).
ScramCredential ScramCredentialFromSaltedPassword(ScramMechanism mechanism,
                                                  std::string_view salted_password,
                                                  std::string_view salt, int32_t iterations);
// The credential for `password` with a new random salt.
Result<ScramCredential> NewScramCredential(ScramMechanism mechanism, std::string_view password,
                                           int32_t iterations = kDefaultScramIterations);
// Whether `password` is the one `credential` was made from (derives with its salt and iterations
// and compares both keys in constant time): how PLAIN logins are checked against the SCRAM store.
bool ScramPasswordMatches(ScramMechanism mechanism, const ScramCredential& credential,
                          std::string_view password);

// A user name the store accepts: non-empty, at most kMaxScramUserNameBytes, no NUL byte
// (kInvalidArgument naming the problem).
Status ValidateScramUserName(std::string_view name);
// kInvalidArgument unless kMinScramIterations <= iterations <= kMaxScramIterations.
Status ValidateScramIterations(int32_t iterations);

// user -> mechanism -> credential.
using ScramUserMap = std::map<std::string, std::map<ScramMechanism, ScramCredential>>;

inline constexpr char kScramUsersFile[] = "scram-users";

// The file's payload codec (FORMAT.md), for tests and the fuzzer: kCorruption naming `path` for
// anything malformed.
std::string EncodeScramUsersPayload(const ScramUserMap& users);
Result<ScramUserMap> DecodeScramUsersPayload(std::string_view payload, const std::string& path);

class ScramUserStore {
 public:
  // Reads <dir>/scram-users (absent = no users). An I/O error fails; a damaged or newer file does
  // not: the store opens holding that error (status()).
  static Result<std::unique_ptr<ScramUserStore>> Open(io::FileSystem& fs, std::string dir);

  // The load error of a damaged file, else ok.
  Status status() const;
  // The user's credential for `mechanism`; nullopt when there is none.
  Result<std::optional<ScramCredential>> Find(const std::string& user,
                                              ScramMechanism mechanism) const;
  Result<ScramUserMap> List() const;
  // Adds or replaces a credential; durable on return.
  Status Upsert(const std::string& user, ScramMechanism mechanism,
                const ScramCredential& credential);
  // Removes a credential (and the user with its last one); kNotFound when absent.
  Status Delete(const std::string& user, ScramMechanism mechanism);

 private:
  ScramUserStore(io::FileSystem& fs, std::string dir) : fs_(fs), dir_(std::move(dir)) {}
  Status SaveLocked(const ScramUserMap& users);

  io::FileSystem& fs_;  // borrowed; outlives the store
  const std::string dir_;
  mutable std::mutex mu_;  // guards the fields below; held across a change's write
  ScramUserMap users_;
  std::optional<base::Error> damage_;  // set at Open when the file could not be read
};

}  // namespace sluice::engine

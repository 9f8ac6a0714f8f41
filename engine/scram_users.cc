#include "engine/scram_users.h"

#include <nlohmann/json.hpp>

#include "segment/format.h"
#include "segment/small_file.h"

namespace sluice::engine {
namespace {

using base::ErrorCode;
using base::MakeError;
using nlohmann::json;

segment::SmallFileKind ScramUsersKind() {
  return {segment::format::kScramUsersMagic, segment::format::kScramUsersMinReadableVersion,
          segment::format::kScramUsersCurrentVersion};
}

}  // namespace

std::string_view ScramMechanismName(ScramMechanism mechanism) {
  return mechanism == ScramMechanism::kSha256 ? "SCRAM-SHA-256" : "SCRAM-SHA-512";
}

std::optional<ScramMechanism> ParseScramMechanism(std::string_view name) {
  if (name == "SCRAM-SHA-256") return ScramMechanism::kSha256;
  if (name == "SCRAM-SHA-512") return ScramMechanism::kSha512;
  return std::nullopt;
}

std::optional<ScramMechanism> ScramMechanismFromCode(int8_t code) {
  if (code == 1) return ScramMechanism::kSha256;
  if (code == 2) return ScramMechanism::kSha512;
  return std::nullopt;
}

base::HashAlgorithm ScramHash(ScramMechanism mechanism) {
  return mechanism == ScramMechanism::kSha256 ? base::HashAlgorithm::kSha256
                                              : base::HashAlgorithm::kSha512;
}

ScramCredential ScramCredentialFromSaltedPassword(ScramMechanism mechanism,
                                                  std::string_view salted_password,
                                                  std::string_view salt, int32_t iterations) {
  const base::HashAlgorithm h = ScramHash(mechanism);
  ScramCredential c;
  c.salt = std::string(salt);
  c.iterations = iterations;
  c.stored_key = base::Hash(h, base::Hmac(h, salted_password, "Client Key"));
  c.server_key = base::Hmac(h, salted_password, "Server Key");
  return c;
}

Result<ScramCredential> NewScramCredential(ScramMechanism mechanism, std::string_view password,
                                           int32_t iterations) {
  RETURN_IF_ERROR(ValidateScramIterations(iterations));
  ASSIGN_OR_RETURN(std::string salt, base::SecureRandomBytes(kScramSaltBytes));
  const std::string salted = base::Pbkdf2(ScramHash(mechanism), password, salt, iterations);
  return ScramCredentialFromSaltedPassword(mechanism, salted, salt, iterations);
}

bool ScramPasswordMatches(ScramMechanism mechanism, const ScramCredential& credential,
                          std::string_view password) {
  if (credential.iterations <= 0) return false;
  const std::string salted =
      base::Pbkdf2(ScramHash(mechanism), password, credential.salt, credential.iterations);
  const ScramCredential derived =
      ScramCredentialFromSaltedPassword(mechanism, salted, credential.salt, credential.iterations);
  // Both compared whatever the first gives, so the time does not say which differed.
  const bool stored_ok = base::ConstantTimeEqual(derived.stored_key, credential.stored_key);
  const bool server_ok = base::ConstantTimeEqual(derived.server_key, credential.server_key);
  return stored_ok && server_ok;
}

Status ValidateScramUserName(std::string_view name) {
  if (name.empty()) return MakeError(ErrorCode::kInvalidArgument, "the user name is empty");
  if (name.size() > kMaxScramUserNameBytes) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "the user name is longer than " + std::to_string(kMaxScramUserNameBytes) + " bytes");
  }
  if (name.find('\0') != std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument, "the user name holds a NUL byte");
  }
  return {};
}

Status ValidateScramIterations(int32_t iterations) {
  if (iterations < kMinScramIterations || iterations > kMaxScramIterations) {
    return MakeError(ErrorCode::kInvalidArgument, "iterations " + std::to_string(iterations) +
                                                      " outside [" +
                                                      std::to_string(kMinScramIterations) + ", " +
                                                      std::to_string(kMaxScramIterations) + "]");
  }
  return {};
}

std::string EncodeScramUsersPayload(const ScramUserMap& users) {
  json list = json::array();
  for (const auto& [name, creds] : users) {
    json c = json::array();
    for (const auto& [mechanism, cred] : creds) {
      c.push_back({{"mechanism", std::string(ScramMechanismName(mechanism))},
                   {"iterations", cred.iterations},
                   {"salt", base::HexEncode(cred.salt)},
                   {"stored_key", base::HexEncode(cred.stored_key)},
                   {"server_key", base::HexEncode(cred.server_key)}});
    }
    list.push_back({{"name", name}, {"credentials", std::move(c)}});
  }
  return json{{"users", std::move(list)}}.dump();
}

Result<ScramUserMap> DecodeScramUsersPayload(std::string_view payload, const std::string& path) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kCorruption, path + ": " + why);
  };
  const json doc = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("users") || !doc["users"].is_array()) {
    return bad("not a JSON object with a \"users\" array");
  }
  ScramUserMap users;
  for (const json& u : doc["users"]) {
    if (!u.is_object() || !u.contains("name") || !u["name"].is_string() ||
        !u.contains("credentials") || !u["credentials"].is_array()) {
      return bad("a user entry is malformed");
    }
    const std::string name = u["name"].get<std::string>();
    if (Status s = ValidateScramUserName(name); !s) return bad(s.error().context);
    if (users.count(name) != 0) return bad("user '" + name + "' appears twice");
    auto& creds = users[name];
    for (const json& c : u["credentials"]) {
      const auto field = [&](const char* key) {
        return c.is_object() && c.contains(key) && c[key].is_string();
      };
      if (!field("mechanism") || !field("salt") || !field("stored_key") || !field("server_key") ||
          !c.contains("iterations") || !c["iterations"].is_number_integer()) {
        return bad("a credential of user '" + name + "' is malformed");
      }
      const auto mechanism = ParseScramMechanism(c["mechanism"].get<std::string>());
      if (!mechanism) return bad("user '" + name + "': unknown mechanism");
      if (creds.count(*mechanism) != 0) return bad("user '" + name + "': a mechanism twice");
      const auto iterations = c["iterations"].get<int64_t>();
      if (iterations < kMinScramIterations || iterations > kMaxScramIterations) {
        return bad("user '" + name + "': iterations " + std::to_string(iterations));
      }
      ScramCredential cred;
      cred.iterations = static_cast<int32_t>(iterations);
      auto salt = base::HexDecode(c["salt"].get<std::string>());
      auto stored = base::HexDecode(c["stored_key"].get<std::string>());
      auto server = base::HexDecode(c["server_key"].get<std::string>());
      const size_t digest = base::DigestBytes(ScramHash(*mechanism));
      if (!salt || salt->empty() || !stored || stored->size() != digest || !server ||
          server->size() != digest) {
        return bad("user '" + name + "': a bad salt or key");
      }
      cred.salt = std::move(*salt);
      cred.stored_key = std::move(*stored);
      cred.server_key = std::move(*server);
      creds.emplace(*mechanism, std::move(cred));
    }
    if (creds.empty()) return bad("user '" + name + "' has no credential");
  }
  return users;
}

Result<std::unique_ptr<ScramUserStore>> ScramUserStore::Open(io::FileSystem& fs, std::string dir) {
  std::unique_ptr<ScramUserStore> store(new ScramUserStore(fs, std::move(dir)));
  const std::string path = io::JoinPath(store->dir_, kScramUsersFile);
  auto file = segment::ReadSmallFile(fs, path, ScramUsersKind());
  if (!file) {
    const ErrorCode code = file.error().code;
    if (code == ErrorCode::kNotFound) return store;
    if (code != ErrorCode::kCorruption && code != ErrorCode::kUnsupportedVersion) {
      return std::move(file).error();
    }
    store->damage_ = file.error();
    return store;
  }
  auto users = DecodeScramUsersPayload(file->payload, path);
  if (!users) {
    store->damage_ = users.error();
  } else {
    store->users_ = std::move(*users);
  }
  return store;
}

Status ScramUserStore::status() const {
  std::lock_guard lock(mu_);
  if (damage_) return *damage_;
  return {};
}

Result<std::optional<ScramCredential>> ScramUserStore::Find(const std::string& user,
                                                            ScramMechanism mechanism) const {
  std::lock_guard lock(mu_);
  if (damage_) return *damage_;
  const auto u = users_.find(user);
  if (u == users_.end()) return std::optional<ScramCredential>();
  const auto c = u->second.find(mechanism);
  if (c == u->second.end()) return std::optional<ScramCredential>();
  return std::optional<ScramCredential>(c->second);
}

Result<ScramUserMap> ScramUserStore::List() const {
  std::lock_guard lock(mu_);
  if (damage_) return *damage_;
  return users_;
}

Status ScramUserStore::Upsert(const std::string& user, ScramMechanism mechanism,
                              const ScramCredential& credential) {
  RETURN_IF_ERROR(ValidateScramUserName(user));
  RETURN_IF_ERROR(ValidateScramIterations(credential.iterations));
  const size_t digest = base::DigestBytes(ScramHash(mechanism));
  if (credential.salt.empty() || credential.stored_key.size() != digest ||
      credential.server_key.size() != digest) {
    return MakeError(ErrorCode::kInvalidArgument, "a credential with an empty salt or bad keys");
  }
  std::lock_guard lock(mu_);
  if (damage_) return *damage_;
  ScramUserMap next = users_;
  next[user][mechanism] = credential;
  RETURN_IF_ERROR(SaveLocked(next));
  users_ = std::move(next);
  return {};
}

Status ScramUserStore::Delete(const std::string& user, ScramMechanism mechanism) {
  std::lock_guard lock(mu_);
  if (damage_) return *damage_;
  auto u = users_.find(user);
  if (u == users_.end() || u->second.count(mechanism) == 0) {
    return MakeError(
        ErrorCode::kNotFound,
        "user '" + user + "' has no " + std::string(ScramMechanismName(mechanism)) + " credential");
  }
  ScramUserMap next = users_;
  next[user].erase(mechanism);
  if (next[user].empty()) next.erase(user);
  RETURN_IF_ERROR(SaveLocked(next));
  users_ = std::move(next);
  return {};
}

Status ScramUserStore::SaveLocked(const ScramUserMap& users) {
  const std::string payload = EncodeScramUsersPayload(users);
  return segment::WriteSmallFile(fs_, io::JoinPath(dir_, kScramUsersFile), ScramUsersKind(),
                                 base::AsBytes(payload));
}

}  // namespace sluice::engine

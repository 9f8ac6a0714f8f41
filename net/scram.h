#pragma once

// SASL mechanisms' messages and the server side of their exchanges: PLAIN (RFC 4616) and SCRAM
// (RFC 5802; SCRAM-SHA-256 and SCRAM-SHA-512 of RFC 7677) as Kafka speaks them: no channel
// binding (gs2 flag "n" or "y"), a client-final nonce that ends with the server's nonce (Kafka
// accepts librdkafka's client nonce + server nonce), an authorization id only if it equals the
// user, the `tokenauth`
// extension (delegation tokens) refused, other extensions ignored. Users and their credentials come
// from the engine's store (engine/scram_users.h); PLAIN passwords are checked against the same
// SCRAM credentials.
//
// Parsers never trust their input: anything malformed is kInvalidArgument naming the problem.
// The ScramClient is the other side, for tests and the CLI.
//
// Thread-safety: a ScramServer or ScramClient is used by one thread at a time (a connection's
// requests are serial; net/session.h).

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "engine/scram_users.h"
#include "segment/base/result.h"

namespace sluice::net {

using base::Result;
using base::Status;

// --- PLAIN -------------------------------------------------------------------------------------

struct PlainToken {
  std::string authzid;  // empty when not given
  std::string user;
  std::string password;
};
// `[authzid] NUL authcid NUL passwd`; an empty user or password is malformed.
Result<PlainToken> ParsePlainToken(std::string_view token);

// --- SCRAM messages ----------------------------------------------------------------------------

struct ScramClientFirst {
  std::string gs2_header;  // "n,," or "y,,", or with "a=<authzid>" between the commas
  std::string authzid;     // decoded saslname; empty when not given
  std::string user;        // decoded saslname
  std::string nonce;
  bool token_auth = false;  // the tokenauth=true extension (Kafka delegation tokens)
  std::string bare;         // client-first-message-bare, for the AuthMessage
};
Result<ScramClientFirst> ParseScramClientFirst(std::string_view message);

struct ScramClientFinal {
  std::string channel_binding;  // decoded c= (the gs2 header, without channel binding)
  std::string nonce;
  std::string proof;          // decoded p=
  std::string without_proof;  // client-final-message-without-proof, for the AuthMessage
};
Result<ScramClientFinal> ParseScramClientFinal(std::string_view message);

// RFC 5802's saslname escaping: "," as "=2C" and "=" as "=3D".
std::string EncodeSaslName(std::string_view name);
Result<std::string> DecodeSaslName(std::string_view name);

// --- SCRAM server ------------------------------------------------------------------------------

// The user's credential for the mechanism, nullopt for an unknown user; an error when the store
// cannot answer (a damaged users file).
using ScramCredentialLookup =
    std::function<Result<std::optional<engine::ScramCredential>>(const std::string& user)>;

class ScramServer {
 public:
  // `nonce_suffix`: the server's part of the nonce; empty = random (tests pass RFC 7677's).
  ScramServer(engine::ScramMechanism mechanism, ScramCredentialLookup lookup,
              std::string nonce_suffix = {});

  // Answers the client's next message: client-first -> server-first, client-final -> server-final
  // (then done()). Errors end the exchange:
  //   kInvalidArgument - a malformed message, or one the exchange does not expect now;
  //   kNotFound        - an unknown user (or no credential for this mechanism);
  //   kRefused         - a wrong proof (password), a nonce or channel binding that does not
  //                      match, an authorization id other than the user, a delegation token;
  //   anything else    - the lookup's error (the users file is damaged).
  // The error's context is what the client may be told.
  Result<std::string> Step(std::string_view client_message);

  bool done() const { return state_ == State::kDone; }
  const std::string& user() const { return user_; }  // set by client-first

 private:
  enum class State { kFirst, kFinal, kDone, kFailed };
  Result<std::string> First(std::string_view message);
  Result<std::string> Final(std::string_view message);

  engine::ScramMechanism mechanism_;
  ScramCredentialLookup lookup_;
  std::string nonce_suffix_;
  State state_ = State::kFirst;
  std::string user_;
  engine::ScramCredential credential_;
  std::string client_first_bare_;
  std::string gs2_header_;
  std::string server_first_;
  std::string nonce_;  // client + server
};

// --- SCRAM client ------------------------------------------------------------------------------

class ScramClient {
 public:
  // `nonce`: the client nonce; empty = random.
  ScramClient(engine::ScramMechanism mechanism, std::string user, std::string password,
              std::string nonce = {});
  std::string First();
  // The client-final message for the server-first message (kInvalidArgument if it is malformed or
  // its nonce does not extend ours).
  Result<std::string> Final(std::string_view server_first);
  // Checks the server's signature in server-final (kRefused if wrong; the server's e= error is
  // kRefused naming it).
  Status Verify(std::string_view server_final);

 private:
  engine::ScramMechanism mechanism_;
  std::string user_;
  std::string password_;
  std::string nonce_;
  std::string client_first_bare_;
  std::string server_signature_;
};

}  // namespace sluice::net
